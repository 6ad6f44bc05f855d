import { describeDsn } from '../config/dsn.js';
import { parseConfig } from '../config/parse.js';
import type { SyncConfig, SyncConfigInput } from '../config/schema.js';
import { alignTable } from '../core/aligned.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/logger.js';
import type { ChangeSource } from '../core/source.js';
import type { Target } from '../core/target.js';
import { targetLock } from '../coordination/lock.js';
import { createSession } from './session.js';
import type { PredicatePair } from '../transform/transform.js';
import { DEFAULT_RECHECK, type ChunkContext, type RecheckPolicy } from '../checksum/chunk.js';
import { planTable } from '../checksum/plan.js';
import { totalsOf, type TableReport, type VerifyResult } from '../checksum/report.js';
import { walkTable } from '../checksum/walk.js';

/**
 * `tributary verify` as a library function: a one-shot chunked checksum of every synced table,
 * source against target, with `repair` recopying what differs. Reads the source without locks and
 * without replication rights (no preflight, no slot: plain reads of the tables).
 *
 * A repair writes through the target's own write paths while the source may take writes, so it
 * takes the sync's lock on the target first (the sync id derived from source and target, or
 * `config.id`): a running sync would apply newer changes that a repair, writing rows read a moment
 * earlier, could overwrite. Repairing beside a running sync is the continuous checker's job (it
 * knows the stream position); verify refuses it with ALREADY_RUNNING.
 */
export interface VerifyOptions {
  /** Recopy what differs (upserts of the source's rows, deletes of rows only the target has). */
  readonly repair?: boolean;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  /** A change source to read instead of one built from `config.source` (connected by verify). */
  readonly source?: ChangeSource;
  /** A target to read instead of one built from `config.target` (connected by verify). */
  readonly target?: Target;
  /** How a differing chunk is re-read before it is called a difference (chunk.ts). */
  readonly recheck?: Partial<RecheckPolicy>;
  /** Called as each table is done, in order. */
  readonly onTable?: (report: TableReport) => void;
  /** The sync's row filters given as predicate pairs, by source table (transform/rules.ts), so verify compares the rows the sync keeps. */
  readonly predicates?: Readonly<Record<string, PredicatePair>>;
}

function failedTable(name: string, err: unknown): TableReport {
  const e = err instanceof TributaryError ? err : new TributaryError(ErrorCode.INTERNAL, (err as Error)?.message ?? String(err), { cause: err });
  return {
    table: name,
    mode: 'range',
    reason: '',
    rowsChecked: 0,
    targetRows: 0,
    chunks: 0,
    chunksDiffering: 0,
    rechecks: 0,
    missing: 0,
    extra: 0,
    changed: 0,
    repaired: 0,
    remaining: 0,
    ranges: [],
    rangesTruncated: false,
    notes: [],
    error: { code: e.code, message: e.message },
    equal: false,
  };
}

/**
 * Rows per chunk when the configuration names none: smaller than the copier's start (5,000). A
 * chunk's rows wait in memory for the other side's read, and what lives that long is what the
 * garbage collector pays for: on 1M rows × 10 columns (bench/checksum.ts, MariaDB → MariaDB, the
 * same run alternating), 1,000-row chunks took 12.1–12.6 s of CPU and 172–181 MB against
 * 13.7–14.9 s and 241–266 MB for 5,000, at the same wall time.
 */
export const VERIFY_CHUNK_SIZE = 1000;

/** Rows per chunk when both databases digest it (a chunk whose digests differ is then read as rows). */
const VERIFY_DIGEST_CHUNK_SIZE = 20_000;

function chunkSizeOf(input: SyncConfigInput | SyncConfig, cfg: SyncConfig): number {
  return (input as { chunkSize?: number }).chunkSize === undefined ? VERIFY_CHUNK_SIZE : cfg.chunkSize;
}

/** Compares (and with `repair`, repairs) the configured tables; see VerifyOptions. */
export async function verify(config: SyncConfigInput | SyncConfig, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const cfg = parseConfig(config);
  const started = Date.now();
  const logger = opts.logger ?? createLogger({ level: cfg.logLevel });
  const repair = opts.repair ?? false;
  const tables: TableReport[] = [];
  // A table that cannot be described is reported, and the others are still compared; any other
  // failure (a lost connection) ends the run.
  const undescribed = new Map<string, unknown>();
  const session = await createSession(cfg, {
    logger,
    source: opts.source,
    target: opts.target,
    ...(opts.predicates ? { predicates: opts.predicates } : {}),
    requirements: 'skip',
    parallel: false,
    checkpoint: 'skip',
    onStepError: (step, err, { table }) => {
      if (step !== 'describe' || table === undefined || !(err instanceof TributaryError) || err.code !== ErrorCode.TABLE_UNSUPPORTED) throw err;
      undescribed.set(table, err);
    },
  });
  const { source, target, srcDsn, dstDsn, syncId } = session;
  try {
    await session.open();
    if (repair) {
      try {
        await targetLock(target).acquire();
      } catch (err) {
        if (!(err instanceof TributaryError) || err.code !== ErrorCode.ALREADY_RUNNING) throw err;
        throw new TributaryError(
          ErrorCode.ALREADY_RUNNING,
          `a sync of this source is running against target ${describeDsn(dstDsn)} (it holds sync '${syncId}''s lock): a repair beside it could overwrite changes it applies; stop the sync and repair, or verify without --repair`,
          { cause: err },
        );
      }
    }
    const ctx: ChunkContext = { source, target, recheck: { ...DEFAULT_RECHECK, ...opts.recheck }, signal: opts.signal };
    const walk = {
      threads: cfg.threads,
      chunkSize: chunkSizeOf(config, cfg),
      // Chunks the databases digest move no rows: larger ones, unless the user chose a size.
      digestChunkSize: (config as { chunkSize?: number }).chunkSize === undefined ? VERIFY_DIGEST_CHUNK_SIZE : cfg.chunkSize,
      // As the copier bounds a chunk: the stream buffer's budget shared among the workers.
      chunkBytes: Math.max(1024 * 1024, Math.floor((cfg.bufferMb * 1024 * 1024) / (2 * cfg.threads))),
      repair,
      logger: logger.child({ component: 'verify' }),
    };
    const described = new Map(session.tables.map((t) => [t.name, t]));
    for (const name of session.names) {
      let report: TableReport;
      try {
        const schema = described.get(name);
        if (!schema) throw undescribed.get(name);
        const onTarget = await target.describe(name);
        if (!onTarget) {
          throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `table ${name} does not exist on target ${describeDsn(dstDsn)}; run tributary sync to create and copy it`);
        }
        alignTable(schema, onTarget, `target ${describeDsn(dstDsn)}`);
        // A table without a key is never repaired (walk.ts), so it needs no writes.
        if (repair && schema.primaryKey.length) await target.prepareWrites([schema]);
        report = await walkTable(ctx, planTable(schema, onTarget, { zeroDates: cfg.zeroDates, keyRanges: target.capabilities.keyRanges }), walk);
      } catch (err) {
        // A table that cannot be compared is reported, and the others are still compared; a
        // lost connection or an abort ends the run.
        if (!(err instanceof TributaryError) || err.code !== ErrorCode.TABLE_UNSUPPORTED) throw err;
        report = failedTable(name, err);
      }
      tables.push(report);
      opts.onTable?.(report);
    }
  } finally {
    await session.close();
  }
  return {
    equal: tables.every((t) => t.equal),
    repair,
    source: describeDsn(srcDsn),
    target: describeDsn(dstDsn),
    tables,
    totals: totalsOf(tables),
    durationMs: Date.now() - started,
  };
}
