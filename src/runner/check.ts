import type { Logger } from 'pino';
import { describeDsn, redactUrl } from '../config/dsn.js';
import { connectionDsn } from '../config/connection.js';
import type { SyncConfig } from '../config/schema.js';
import type { Requirement } from '../core/check.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { TableSchema } from '../core/schema.js';
import type { ChangeSource, DatabaseDefaults } from '../core/source.js';
import type { Target } from '../core/target.js';
import { openSource, openTarget } from '../engines/registry.js';
import { deriveSyncId } from '../config/sync-id.js';
import { selectTables } from '../config/tables.js';
import { assertResumable } from '../checkpoint/checkpoint.js';

/** Checkpoint refusals that --force answers by starting over (runner.ts runOnce). */
const FORCE_RESTARTS: ReadonlySet<string> = new Set([ErrorCode.POSITION_LOST, ErrorCode.SOURCE_CHANGED, ErrorCode.DDL_UNSUPPORTED]);

/** Where a line is printed: the source, the target, the tables, the type mapping. */
export type CheckGroup = 'source' | 'target' | 'tables' | 'types';

export interface CheckLine extends Requirement {
  readonly group: CheckGroup;
}

export interface CheckReport {
  /** Source and target without their passwords. */
  readonly source: string;
  readonly target: string;
  readonly tables: readonly string[];
  readonly lines: readonly CheckLine[];
  /** Failing errors (✘): a sync would refuse to start. */
  readonly errors: number;
  readonly warnings: number;
  readonly ok: boolean;
}

export interface CheckOptions {
  readonly logger: Logger;
  /** Injected engines (tests, embedding programs); built from the URLs otherwise. */
  readonly source?: ChangeSource;
  readonly target?: Target;
}

/** A failed step as one ✘ line: the error's message is the value, the text after its first '; ' the fix. */
function failedStep(group: CheckGroup, name: string, err: unknown, table?: string): CheckLine {
  const message = redactUrl(err instanceof Error ? err.message : String(err));
  const cut = message.indexOf('; ');
  return {
    group,
    name,
    ok: false,
    value: cut < 0 ? message : message.slice(0, cut),
    fix: cut < 0 ? '' : message.slice(cut + 2),
    severity: 'error',
    code: err instanceof TributaryError ? err.code : ErrorCode.INTERNAL,
    ...(table !== undefined ? { table } : {}),
  };
}

/**
 * `tributary check`: every requirement a sync checks before it starts, on source and target, met
 * or not, without stopping at the first failure. Reads only: no slot, no publication, no
 * checkpoint table, no target table is created, and the sync's lock is not taken. A step that
 * cannot run (a server that refuses the connection) becomes a ✘ line and skips what depends on it.
 */
export async function check(config: SyncConfig, opts: CheckOptions): Promise<CheckReport> {
  const srcDsn = connectionDsn(config, 'source');
  const dstDsn = connectionDsn(config, 'target');
  const syncId = config.id ?? deriveSyncId(srcDsn, dstDsn);
  const lines: CheckLine[] = [];
  const add = (group: CheckGroup, reqs: readonly Requirement[]) => {
    for (const r of reqs) lines.push({ ...r, group: r.mapping ? 'types' : r.table !== undefined ? 'tables' : group });
  };
  const source = opts.source ?? (await openSource(config, srcDsn, syncId, opts.logger.child({ component: 'source' })));
  const target = opts.target ?? (await openTarget(config, dstDsn, syncId, opts.logger.child({ component: 'target' })));
  let names: string[] = [];
  try {
    const [srcUp, dstUp] = await Promise.all([connected(source, 'source', describeDsn(srcDsn), lines), connected(target, 'target', describeDsn(dstDsn), lines)]);

    const schemas: TableSchema[] = [];
    let database: DatabaseDefaults | undefined;
    if (srcUp) {
      try {
        add('source', source.check ? await source.check() : []);
        if (!source.check) await source.preflight();
      } catch (err) {
        lines.push(failedStep('source', 'requirements', err));
      }
      try {
        names = selectTables(await source.listTables(), config.tables, srcDsn.database);
      } catch (err) {
        lines.push(failedStep('tables', 'tables', err));
      }
      for (const n of names) {
        try {
          schemas.push(await source.describe(n));
        } catch (err) {
          lines.push(failedStep('tables', `table ${n}`, err, n));
        }
      }
      // What a target database the sync creates would take from the source (charset, collation).
      database = await source.databaseDefaults?.().catch(() => undefined);
    }
    for (const s of schemas) {
      const reported = lines.some((l) => l.table === s.name && !l.ok && l.severity === 'error');
      if (s.primaryKey.length === 0 && !reported) {
        lines.push({ group: 'tables', name: `table ${s.name} primary key`, ok: false, value: 'none', fix: 'add a primary key, or leave the table out with --tables', severity: 'error', code: ErrorCode.TABLE_UNSUPPORTED, table: s.name });
      }
    }

    if (dstUp) {
      try {
        add('target', target.check ? await target.check(schemas, database) : []);
      } catch (err) {
        lines.push(failedStep('target', 'requirements', err));
      }
      await targetState(config, target, srcUp ? source : undefined, schemas, lines);
    }

    // Values a target of another engine cannot hold: a scan of each table whose columns all map.
    if (srcUp && dstUp && source.valueStats && target.checkValues) {
      for (const s of schemas) {
        if (lines.some((l) => l.table === s.name && !l.ok && l.severity === 'error')) continue;
        try {
          target.checkValues(s, await source.valueStats(s));
        } catch (err) {
          lines.push(failedStep('tables', `table ${s.name} values`, err, s.name));
        }
      }
    }

    for (const s of schemas) {
      if (lines.some((l) => l.table === s.name && !l.ok && l.severity === 'error')) continue;
      const key = s.primaryKey.map((i) => s.columns[i]?.name ?? '?').join(', ');
      lines.push({ group: 'tables', name: `table ${s.name}`, ok: true, value: `can be synced (primary key ${key}, ${s.columns.length} columns)`, fix: '', severity: 'error', code: ErrorCode.TABLE_UNSUPPORTED, table: s.name });
    }
  } finally {
    await Promise.all([source.close().catch(() => undefined), target.close().catch(() => undefined)]);
  }
  const order: CheckGroup[] = ['source', 'target', 'tables', 'types'];
  const sorted = order.flatMap((g) => lines.filter((l) => l.group === g));
  const errors = sorted.filter((l) => !l.ok && l.severity === 'error').length;
  const warnings = sorted.filter((l) => !l.ok && l.severity === 'warning').length;
  return { source: describeDsn(srcDsn), target: describeDsn(dstDsn), tables: names, lines: sorted, errors, warnings, ok: errors === 0 };
}

/** Connects, reporting the outcome as the group's first line. */
async function connected(engine: ChangeSource | Target, group: CheckGroup, where: string, lines: CheckLine[]): Promise<boolean> {
  try {
    await engine.connect();
    lines.push({ group, name: 'connection', ok: true, value: `${where} (${engine.engine})`, fix: '', severity: 'error', code: ErrorCode.CONNECT_FAILED });
    return true;
  } catch (err) {
    lines.push(failedStep(group, 'connection', err));
    return false;
  }
}

/**
 * What the sync finds on the target: a checkpoint it resumes from (and whether the source can
 * still serve it: the same server, its position not purged or its slot not lost, as
 * assertResumable decides for the sync), or target tables that already hold rows without one
 * (refused unless --force, which drops them). Reads only.
 */
async function targetState(config: SyncConfig, target: Target, source: ChangeSource | undefined, schemas: readonly TableSchema[], lines: CheckLine[]): Promise<void> {
  try {
    const cp = await target.loadCheckpoint();
    if (cp.stream) {
      const found = `found (phase ${cp.stream.phase}, updated ${cp.stream.updatedAt ?? '?'})`;
      if (!source) {
        lines.push({ group: 'target', name: 'checkpoint', ok: true, value: found, fix: 'the sync resumes from it', severity: 'info', code: ErrorCode.CHECKPOINT_INVALID });
        return;
      }
      try {
        await assertResumable(cp, source, await source.identity(), { readOnly: true });
        lines.push({ group: 'target', name: 'checkpoint', ok: true, value: `${found}, its position is still on the source`, fix: 'the sync resumes from it', severity: 'info', code: ErrorCode.CHECKPOINT_INVALID });
      } catch (err) {
        const line = failedStep('target', 'checkpoint', err);
        // --force starts over from such a checkpoint (runner.ts): the sync runs, so a warning.
        const forced = config.force && err instanceof TributaryError && FORCE_RESTARTS.has(err.code);
        lines.push(forced ? { ...line, severity: 'warning', fix: '--force starts over: the target tables are dropped and copied again' } : line);
      }
      return;
    }
    const nonEmpty = await target.nonEmptyTables(schemas);
    lines.push({
      group: 'target',
      name: 'target tables',
      ok: nonEmpty.length === 0,
      value: nonEmpty.length === 0 ? 'absent or empty (no checkpoint: the sync starts fresh)' : `${nonEmpty.join(', ')} already hold rows and there is no checkpoint`,
      fix: config.force ? `--force drops and recreates ${target.recreateScope()}` : `empty them, pick another target database, or pass --force to drop and recreate ${target.recreateScope()}`,
      severity: config.force ? 'warning' : 'error',
      code: ErrorCode.TARGET_NOT_EMPTY,
    });
  } catch (err) {
    lines.push(failedStep('target', 'checkpoint', err));
  }
}
