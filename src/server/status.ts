import { describeDsn, parseDsn, redactConnectionUrl, redactUrl } from '../config/dsn.js';
import type { CheckerStatus } from '../checksum/continuous.js';
import type { ThrottleStatus } from '../copier/throttle.js';
import { ErrorCode } from '../core/errors.js';
import type { Runner } from '../runner/runner.js';
import type { Phase, Progress, RunnerHealth } from '../runner/progress.js';

/** What the status and metrics read from a running sync (a Runner has all of it). */
export type StatusSource = Pick<Runner, 'syncId' | 'config' | 'progress' | 'health' | 'sourceHead' | 'sourceRetainedBytes' | 'members'>;

/** Whether the sync does its job now, and if not, why (GET /readyz). */
export interface Readiness {
  readonly ready: boolean;
  /** Why not ready; null when ready. */
  readonly reason: string | null;
}

/** The JSON of GET /status. Positions are the source's own descriptions; no field holds a password. */
export interface StatusJson {
  readonly syncId: string;
  readonly source: string;
  /** The source host:port in use when the source URL names several (docs/failover.md), else null. */
  readonly sourceHost: string | null;
  readonly target: string;
  readonly phase: Phase;
  readonly summary: string;
  readonly paused: boolean;
  readonly readiness: Readiness;
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  readonly copy: {
    readonly rowsCopied: number;
    readonly rowsTotal: number;
    readonly rowsPerSecond: number;
    readonly etaSeconds: number | null;
    /** Percent of the copy done over all tables: 100 once every table is done. */
    readonly percent: number;
    /**
     * Per table. `rowsTotal` is the catalogue's estimate while the table copies and its final count
     * (= rowsCopied) once done; `percent` is 100 once done and below 100 until then.
     */
    readonly tables: readonly TableStatus[];
  };
  readonly stream: {
    /** The source's head (the latest change it has logged), when the source can tell. */
    readonly sourcePosition: string | null;
    /** The position the target has committed. */
    readonly appliedPosition: string | null;
    /** Seconds behind the source's commit time; 0 when idle and caught up. */
    readonly lagSeconds: number;
    readonly changesApplied: number;
    readonly changesPerSecond: number;
    readonly changesByTable: RunnerHealth['changesByTable'];
    readonly bufferBytes: number;
    /** Log the source retains for this sync (PostgreSQL slot WAL), when it can tell. */
    readonly retainedBytes: number | null;
    readonly reconnects: number;
    readonly retrying: boolean;
    /** Schema changes applied to the target since the run began, and the last one. */
    readonly schemaChanges: number;
    readonly lastSchemaChange: RunnerHealth['lastSchemaChange'];
  };
  readonly checksum: CheckerStatus | null;
  /** Copy throttling: the rate limit, the watched replica's lag, and whether the copy waits for it. */
  readonly throttle: ThrottleStatus;
  readonly lastError: RunnerHealth['lastError'];
  /** Coordinator mode (docs/standby.md): this instance's role and epoch, and every instance campaigning; null otherwise. */
  readonly coordination: RunnerHealth['coordination'];
  /**
   * Set once the run has ended with an error and the process only lingers to show it
   * (--http-linger): when it exits, and the error. null while the sync runs.
   */
  readonly exit: ExitStatus | null;
}

/** One table's copy in GET /status. */
export interface TableStatus {
  readonly table: string;
  readonly rowsCopied: number;
  readonly rowsTotal: number;
  readonly percent: number;
  readonly state: 'pending' | 'copying' | 'done';
}

/** The end of a run that failed, while the HTTP API lingers to show it. */
export interface ExitStatus {
  /** When the process exits (ISO time). */
  readonly at: string;
  readonly code: string;
  /** Redacted: never a password. */
  readonly message: string;
}

/** Percent done: 100 only when done; a copy under way shows at most 99.9 (estimates are estimates). */
export function percentDone(rowsCopied: number, rowsTotal: number, done: boolean): number {
  if (done) return 100;
  return rowsTotal > 0 ? Math.min(99.9, Math.round((1000 * rowsCopied) / rowsTotal) / 10) : 0;
}

/** A printable form of a URL setting: the DSN without its password (or the URL redacted when it does not parse). */
function describeUrl(url: string, what: string): string {
  try {
    return describeDsn(parseDsn(url, what));
  } catch {
    return redactConnectionUrl(url);
  }
}

/**
 * Readiness: not ready when the run failed or is stopping, when it is retrying after a lost
 * connection, when the checkpoint's position is gone from the source, or when the stream's lag
 * exceeds `maxLagSeconds`. Ready during the copy (the stream runs beside it) and while streaming.
 */
export function readiness(phase: Phase, progress: Pick<Progress, 'lagSeconds'>, health: Pick<RunnerHealth, 'retrying' | 'lastError'>, maxLagSeconds: number): Readiness {
  const err = health.lastError;
  if (phase === 'failed') {
    if (err?.code === ErrorCode.POSITION_LOST) return { ready: false, reason: `the stream's position is lost on the source (${err.code}): ${err.message}` };
    return { ready: false, reason: `the sync failed${err ? ` (${err.code}): ${err.message}` : ''}` };
  }
  if (health.retrying) return { ready: false, reason: `retrying after a failure${err ? ` (${err.code}): ${err.message}` : ''}` };
  if (phase === 'starting') return { ready: false, reason: 'starting: connecting and checking the source and target' };
  if (phase === 'standby') return { ready: false, reason: 'standing by: another instance leads the sync (coordinator mode)' };
  if (phase === 'stopping' || phase === 'stopped') return { ready: false, reason: `the sync is ${phase}` };
  if (progress.lagSeconds > maxLagSeconds) {
    return { ready: false, reason: `the stream is ${progress.lagSeconds.toFixed(1)} s behind the source, over the ${maxLagSeconds} s bound (ready-max-lag)` };
  }
  return { ready: true, reason: null };
}

/** Builds the status of a running sync; asks the source for its head position (bounded wait). */
export async function buildStatus(runner: StatusSource, maxLagSeconds: number, exit: ExitStatus | null = null): Promise<StatusJson> {
  const [head, retained] = await Promise.all([runner.sourceHead(), runner.sourceRetainedBytes(), runner.members()]);
  const p = runner.progress();
  const h = runner.health();
  return {
    syncId: runner.syncId,
    source: describeUrl(runner.config.source, 'source'),
    sourceHost: h.sourceHost ?? null,
    target: describeUrl(runner.config.target, 'target'),
    phase: p.phase,
    summary: redactUrl(p.summary),
    paused: h.paused,
    readiness: readiness(p.phase, p, h, maxLagSeconds),
    startedAt: h.startedAt,
    uptimeSeconds: round(h.uptimeSeconds),
    copy: {
      rowsCopied: p.rowsCopied,
      rowsTotal: p.rowsTotal,
      rowsPerSecond: round(p.copyRowsPerSecond),
      etaSeconds: p.etaSeconds === undefined ? null : round(p.etaSeconds),
      percent: percentDone(p.rowsCopied, p.rowsTotal, p.tables.length > 0 && p.tables.every((t) => t.done)),
      tables: p.tables.map((t) => ({
        table: t.table,
        rowsCopied: t.rowsCopied,
        rowsTotal: t.rowsTotal,
        percent: percentDone(t.rowsCopied, t.rowsTotal, t.done),
        state: t.done ? 'done' : t.rowsCopied > 0 ? 'copying' : 'pending',
      })),
    },
    stream: {
      sourcePosition: head ?? null,
      appliedPosition: p.appliedPosition || null,
      lagSeconds: round(p.lagSeconds),
      changesApplied: p.changesApplied,
      changesPerSecond: round(p.changesPerSecond),
      changesByTable: h.changesByTable,
      bufferBytes: h.bufferBytes,
      retainedBytes: retained ?? null,
      reconnects: h.reconnects,
      retrying: h.retrying,
      schemaChanges: h.schemaChanges,
      lastSchemaChange: h.lastSchemaChange,
    },
    checksum: p.checksum ? { ...p.checksum, lastError: p.checksum.lastError === null ? null : redactUrl(p.checksum.lastError) } : null,
    throttle: { ...p.throttle, reason: p.throttle.reason === null ? null : redactUrl(p.throttle.reason) },
    lastError: h.lastError,
    coordination: h.coordination,
    exit: exit ? { ...exit, message: redactUrl(exit.message) } : null,
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
