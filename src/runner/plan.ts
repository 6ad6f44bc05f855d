import type { Logger } from 'pino';
import { describeDsn, redactUrl } from '../config/dsn.js';
import { connectionDsn } from '../config/connection.js';
import { toMs, type SyncConfig } from '../config/schema.js';
import { TributaryError } from '../core/errors.js';
import { isKeyless } from '../core/schema.js';
import type { ChangeSource } from '../core/source.js';
import type { Target } from '../core/target.js';
import { createSession } from './session.js';

export interface PlannedTable {
  /** The table's name on the target. */
  readonly table: string;
  /** Its name on the source, when --table-rewrites gives it another. */
  readonly sourceTable?: string;
  /** The source's estimate of its rows (catalogue statistics, not a count). */
  readonly rowsEstimate: number;
  /** Rows a checkpoint says are copied already (resuming), else 0. */
  readonly rowsCopied: number;
  /** The checkpoint says the table's copy is finished. */
  readonly copied: boolean;
}

/** What `tributary sync --dry-run` prints: what a sync would do, found by reading only. */
export interface SyncPlan {
  readonly source: string;
  readonly target: string;
  readonly syncId: string;
  /** 'resume' from the target's checkpoint, or 'start' a new sync (copy, then stream). */
  readonly mode: 'resume' | 'start';
  readonly tables: readonly PlannedTable[];
  /** Statements the target would run before the copy (lines starting with `--` are notes). */
  readonly ddl: readonly string[];
  /**
   * Where the stream would begin, described for people: the checkpoint's position when resuming,
   * else the source's head now (the real start is taken when the sync starts); null when the
   * source cannot say without side effects.
   */
  readonly startPosition: string | null;
  readonly streaming: boolean;
  readonly throttle: { readonly copyRateLimit: number; readonly replica: string | null; readonly replicaMaxLagSeconds: number };
  /** Why the sync would refuse to start (empty: it would start). */
  readonly problems: readonly string[];
  /** What else the sync would do or find, for the reader. */
  readonly notes: readonly string[];
  /** The transform stage's rules (rewrites, excluded columns, row filters), one line each (docs/filters.md). */
  readonly selective: readonly string[];
}

export interface PlanOptions {
  readonly logger: Logger;
  readonly source?: ChangeSource;
  readonly target?: Target;
}

/**
 * The plan of a sync without running it: tables with their row estimates, the target DDL, the
 * start position. Changes nothing on either side: no slot, no publication, no table, no
 * checkpoint, and the sync's lock is not taken (a running sync of the same id is not disturbed).
 * What would make the sync refuse to start is collected in `problems`, not thrown.
 */
export async function planSync(config: SyncConfig, opts: PlanOptions): Promise<SyncPlan> {
  const problems: string[] = [];
  const notes: string[] = [];
  const problem = (err: unknown) => problems.push(redactUrl(err instanceof Error ? err.message : String(err)));
  const tables: PlannedTable[] = [];
  let ddl: string[] = [];
  let startPosition: string | null = null;
  let mode: SyncPlan['mode'] = 'start';
  const session = await createSession(config, {
    logger: opts.logger,
    source: opts.source,
    target: opts.target,
    requirements: 'enforce',
    parallel: false,
    checkpoint: 'inspect',
    // An unmet requirement (or unreadable database defaults) is a problem and the plan goes on;
    // any other failure ends it.
    onStepError: (step, err) => {
      if (step !== 'requirements' && step !== 'database') throw err;
      problem(err);
    },
  });
  const { source, target, srcDsn, dstDsn, syncId } = session;
  try {
    await session.open();
    const schemas = session.tables;
    const noKey = schemas.filter(isKeyless).map((s) => s.name);
    if (noKey.length) notes.push(`tables without a primary key nor unique NOT NULL key are copied whole in one snapshot and their changes applied by full row image: ${noKey.join(', ')}`);

    const cp = session.checkpoint;
    const resume = session.resume;
    if (cp?.stream && resume.kind === 'resume') {
      mode = 'resume';
      startPosition = source.describePosition(cp.stream.position);
      notes.push(`a checkpoint (phase ${cp.stream.phase}, updated ${cp.stream.updatedAt ?? '?'}) is found: the sync resumes from it`);
    } else if (resume.kind === 'refused') {
      if (!config.force) problem(resume.error);
      else notes.push(`--force: the checkpoint cannot resume (${redactUrl((resume.error as Error).message)}); the sync would clear it and start over`);
    }
    const turned: string[] = [];
    for (const s of schemas) {
      const saved = mode === 'resume' ? cp?.tables.get(s.name) : undefined;
      const stats = await source.tableStats(s.name);
      const from = session.rules.sourceName(s.name);
      tables.push({ table: s.name, ...(from !== s.name ? { sourceTable: from } : {}), rowsEstimate: stats.rows, rowsCopied: saved?.rowsCopied ?? 0, copied: saved?.done ?? false });
      // As the copier decides (copier.ts TableCopy): a watermark keeps the direction that wrote it.
      if (saved?.watermark && !saved.done && (saved.order ?? 'asc') !== config.copyOrder) turned.push(`${s.name} (${saved.order ?? 'asc'})`);
    }
    if (config.copyOrder === 'desc') notes.push('--copy-order desc: each table is copied from its highest key down');
    if (turned.length) notes.push(`a copy resumed mid-table goes on in the direction its checkpoint began, not --copy-order ${config.copyOrder}: ${turned.join(', ')}`);
    if (mode === 'start') {
      const nonEmpty = await target.nonEmptyTables(schemas);
      if (nonEmpty.length && !config.force) {
        problems.push(`target tables ${nonEmpty.join(', ')} in ${describeDsn(dstDsn)} already hold rows and there is no checkpoint to resume; empty them, pick another target database, or pass --force to drop and recreate ${session.recreateScope()}`);
      } else if (nonEmpty.length) {
        notes.push(`--force: target tables ${nonEmpty.join(', ')} hold rows; ${session.recreateScope()} would be dropped and recreated`);
      } else if (config.force) {
        notes.push(`--force: ${session.recreateScope()} would be dropped and recreated`);
      }
      if (source.capabilities.valueStats && target.capabilities.checkValues) {
        for (const s of schemas) {
          try {
            target.checkValues(s, await source.valueStats(s));
          } catch (err) {
            problem(err);
          }
        }
      }
      if (source.capabilities.reportsHead) {
        startPosition = source.describePosition(await source.headPosition());
        notes.push('the start position is the source\'s head now; a sync takes its own when it starts');
      }
    }
    if (target.capabilities.plannedDdl) {
      try {
        ddl = await target.plannedDdl(schemas, { recreate: mode === 'start' && config.force, database: session.database, ...(session.namespaces ? { namespaces: session.namespaces } : {}) });
      } catch (err) {
        problem(err);
      }
    } else {
      notes.push(`the ${target.engine} target cannot render its DDL without running it`);
    }
  } catch (err) {
    if (!(err instanceof TributaryError)) throw err;
    problem(err);
  } finally {
    await session.close();
  }
  return {
    source: describeDsn(srcDsn),
    target: describeDsn(dstDsn),
    syncId,
    mode,
    tables,
    ddl,
    startPosition,
    streaming: !config.copyOnly,
    throttle: {
      copyRateLimit: config.copyRateLimit,
      replica: config.replica !== undefined ? describeDsn(connectionDsn(config, 'replica')) : null,
      replicaMaxLagSeconds: toMs(config.replicaMaxLag) / 1000,
    },
    problems,
    notes,
    selective: session.rules.describe(),
  };
}

/** The plan as text for a terminal. */
export function formatPlan(p: SyncPlan): string {
  const out = [`tributary sync --dry-run ${p.source} → ${p.target} (sync id ${p.syncId})`, ''];
  out.push(p.mode === 'resume' ? 'would resume from the checkpoint' : `would start a new sync: copy${p.streaming ? ', then stream changes' : ' only (--copy-only)'}`);
  out.push('', `tables (${p.tables.length}):`);
  for (const t of p.tables) {
    const state = t.copied ? ' (copied)' : t.rowsCopied ? ` (${t.rowsCopied} copied)` : '';
    out.push(`  ${t.sourceTable ? `${t.sourceTable} → ` : ''}${t.table}: ~${t.rowsEstimate} rows${t.sourceTable || p.selective.length ? ' (source estimate)' : ''}${state}`);
  }
  if (p.selective.length) {
    out.push('', 'selective sync:');
    for (const rule of p.selective) out.push(`  ${rule}`);
  }
  out.push('', 'target DDL:');
  out.push(...(p.ddl.length ? p.ddl.map((s) => s.split('\n').map((l) => '  ' + l).join('\n') + (s.startsWith('--') ? '' : ';')) : ['  (none)']));
  out.push('', `stream start position: ${p.startPosition ?? 'unknown until the sync starts'}`);
  const { copyRateLimit, replica, replicaMaxLagSeconds } = p.throttle;
  out.push(`copy throttle: ${copyRateLimit ? `${copyRateLimit} rows/s` : 'no rate limit'}${replica ? `, waits while ${replica} lags over ${replicaMaxLagSeconds}s` : ''}`);
  for (const n of p.notes) out.push(`note: ${n}`);
  if (p.problems.length) {
    out.push('', 'the sync would refuse to start:');
    for (const x of p.problems) out.push(`  ✘ ${x}`);
  }
  out.push('', 'nothing was changed (dry run)');
  return out.join('\n') + '\n';
}
