import type { Logger } from 'pino';
import { describeDsn, redactUrl } from '../config/dsn.js';
import type { SyncConfig } from '../config/schema.js';
import type { Requirement } from '../core/check.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import { isKeyless } from '../core/schema.js';
import type { ChangeSource } from '../core/source.js';
import type { Target } from '../core/target.js';
import { createSession, FORCE_RESTARTS, type Session } from './session.js';

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
  const lines: CheckLine[] = [];
  const add = (group: CheckGroup, reqs: readonly Requirement[]) => {
    for (const r of reqs) lines.push({ ...r, group: r.mapping ? 'types' : r.table !== undefined ? 'tables' : group });
  };
  // Every failed step becomes a ✘ line, in the order a sync meets them: each side's connection
  // first, then the source's requirements, then the tables; the checkpoint's after the target's
  // requirements.
  const connections: CheckLine[] = [];
  const tableFailures: CheckLine[] = [];
  let requirementsError: CheckLine | undefined;
  let checkpointError: unknown;
  const session = await createSession(config, {
    logger: opts.logger,
    source: opts.source,
    target: opts.target,
    requirements: 'report',
    parallel: false,
    checkpoint: 'inspect',
    onStepError: (step, err, { side, table }) => {
      if (step === 'connect') connections.push(failedStep(side ?? 'source', 'connection', err));
      else if (step === 'requirements') requirementsError = failedStep('source', 'requirements', err);
      else if (step === 'tables') tableFailures.push(failedStep('tables', 'tables', err));
      else if (step === 'describe') tableFailures.push(failedStep('tables', `table ${table ?? '?'}`, err, table));
      else if (step === 'checkpoint') checkpointError = err;
      // 'database': a target database the sync creates then takes the server's defaults.
    },
  });
  const { source, target, srcDsn, dstDsn } = session;
  try {
    await session.open();
    const { sourceUp, targetUp } = session;
    if (sourceUp) lines.push(connectedLine('source', describeDsn(srcDsn), source.engine));
    if (targetUp) lines.push(connectedLine('target', describeDsn(dstDsn), target.engine));
    lines.push(...connections);
    if (requirementsError) lines.push(requirementsError);
    add('source', session.requirements);
    lines.push(...tableFailures);
    const schemas = session.tables;
    for (const { table, foreignKey: fk } of session.foreignKeysLeftOut) {
      lines.push({ group: 'tables', name: `table ${table} foreign key ${fk.name}`, ok: false, value: `references ${fk.referencedTable}, which is not synced`, fix: `it is not created on the target; add ${fk.referencedTable} to --tables to keep it`, severity: 'warning', code: ErrorCode.TABLE_UNSUPPORTED, table });
    }

    if (targetUp) {
      try {
        add('target', await target.check(schemas, session.database, session.namespaces));
      } catch (err) {
        lines.push(failedStep('target', 'requirements', err));
      }
      if (checkpointError !== undefined) lines.push(failedStep('target', 'checkpoint', checkpointError));
      else await targetState(config, session, lines);
    }

    // Values a target of another engine cannot hold: a scan of each table whose columns all map.
    if (sourceUp && targetUp && source.capabilities.valueStats && target.capabilities.checkValues) {
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
      const how = isKeyless(s)
        ? 'no primary key nor unique NOT NULL key: copied whole in one snapshot, changes applied by full row image'
        : `${s.keyFromUnique ? 'keyed by its unique NOT NULL key' : 'primary key'} ${key}`;
      const from = session.rules.sourceName(s.name);
      const renamed = from !== s.name ? ` from source table ${from}` : '';
      lines.push({ group: 'tables', name: `table ${s.name}`, ok: true, value: `can be synced${renamed} (${how}, ${s.columns.length} columns)`, fix: '', severity: 'error', code: ErrorCode.TABLE_UNSUPPORTED, table: s.name });
    }
    // The transform stage's rules as the sync would apply them (docs/filters.md).
    for (const rule of session.rules.describe()) {
      lines.push({ group: 'tables', name: 'selective sync', ok: true, value: rule, fix: '', severity: 'info', code: ErrorCode.CONFIG_INVALID });
    }
  } finally {
    await session.close();
  }
  const names = session.names;
  const order: CheckGroup[] = ['source', 'target', 'tables', 'types'];
  const sorted = order.flatMap((g) => lines.filter((l) => l.group === g));
  const errors = sorted.filter((l) => !l.ok && l.severity === 'error').length;
  const warnings = sorted.filter((l) => !l.ok && l.severity === 'warning').length;
  return { source: describeDsn(srcDsn), target: describeDsn(dstDsn), tables: names, lines: sorted, errors, warnings, ok: errors === 0 };
}

/** A side that connected, as its group's first line. */
function connectedLine(group: CheckGroup, where: string, engine: string): CheckLine {
  return { group, name: 'connection', ok: true, value: `${where} (${engine})`, fix: '', severity: 'error', code: ErrorCode.CONNECT_FAILED };
}

/**
 * What the sync finds on the target: a checkpoint it resumes from (and whether the source can
 * still serve it: the same server, its position not purged or its slot not lost, as
 * assertResumable decides for the sync), or target tables that already hold rows without one
 * (refused unless --force, which drops them). Reads only.
 */
async function targetState(config: SyncConfig, session: Session, lines: CheckLine[]): Promise<void> {
  const { target, checkpoint: cp, resume } = session;
  try {
    if (cp?.stream) {
      const found = `found (phase ${cp.stream.phase}, updated ${cp.stream.updatedAt ?? '?'})`;
      if (resume.kind === 'refused') {
        const err = resume.error;
        const line = failedStep('target', 'checkpoint', err);
        // --force starts over from such a checkpoint (runner.ts): the sync runs, so a warning.
        const forced = config.force && err instanceof TributaryError && FORCE_RESTARTS.has(err.code);
        lines.push(forced ? { ...line, severity: 'warning', fix: '--force starts over: the target tables are dropped and copied again' } : line);
      } else {
        const value = resume.kind === 'resume' ? `${found}, its position is still on the source` : found;
        lines.push({ group: 'target', name: 'checkpoint', ok: true, value, fix: 'the sync resumes from it', severity: 'info', code: ErrorCode.CHECKPOINT_INVALID });
      }
      return;
    }
    const nonEmpty = await target.nonEmptyTables(session.tables);
    lines.push({
      group: 'target',
      name: 'target tables',
      ok: nonEmpty.length === 0,
      value: nonEmpty.length === 0 ? 'absent or empty (no checkpoint: the sync starts fresh)' : `${nonEmpty.join(', ')} already hold rows and there is no checkpoint`,
      fix: config.force ? `--force drops and recreates ${session.recreateScope()}` : `empty them, pick another target database, or pass --force to drop and recreate ${session.recreateScope()}`,
      severity: config.force ? 'warning' : 'error',
      code: ErrorCode.TARGET_NOT_EMPTY,
    });
  } catch (err) {
    lines.push(failedStep('target', 'checkpoint', err));
  }
}
