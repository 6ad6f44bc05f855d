/**
 * Every failure tributary reports is a TributaryError with a stable code. The message names the
 * thing, its value and the fix; `fatal` errors end the run, the others may be retried.
 */
export const ErrorCode = {
  /** A configuration key or value is invalid. */
  CONFIG_INVALID: 'TRIB_CONFIG_INVALID',
  /** A connection URL cannot be parsed or names an unsupported engine. */
  DSN_INVALID: 'TRIB_DSN_INVALID',
  /** The host cannot be reached (refused, unknown host, timeout). */
  CONNECT_FAILED: 'TRIB_CONNECT_FAILED',
  /** The server rejected the credentials. */
  AUTH_FAILED: 'TRIB_AUTH_FAILED',
  /** The user lacks a privilege tributary needs. */
  PRIVILEGE_MISSING: 'TRIB_PRIVILEGE_MISSING',
  /** A server setting does not meet a requirement (binlog_format, …). */
  SOURCE_SETTING: 'TRIB_SOURCE_SETTING',
  /** The database named in the URL does not exist. */
  DATABASE_MISSING: 'TRIB_DATABASE_MISSING',
  /** A table cannot be synced (no primary key, not found, …). */
  TABLE_UNSUPPORTED: 'TRIB_TABLE_UNSUPPORTED',
  /** No source table matched --tables, or a --tables pattern matched none (a usage error: exit 2). */
  NO_TABLES: 'TRIB_NO_TABLES',
  /** A target table holds rows and no checkpoint explains them. */
  TARGET_NOT_EMPTY: 'TRIB_TARGET_NOT_EMPTY',
  /** Another instance holds this sync's lock on the target. */
  ALREADY_RUNNING: 'TRIB_ALREADY_RUNNING',
  /**
   * The sync's lock on the target was lost while it ran (its connection was killed or timed out):
   * nothing is written after the loss. Fatal while the target server stayed up (another instance
   * may be writing); retried, taking the lock anew, when the server restarted or cannot be reached.
   */
  LOCK_LOST: 'TRIB_LOCK_LOST',
  /**
   * Coordinator mode (--coordinator): a newer leadership of this sync (a higher epoch) took the
   * target over, or took it over first. Nothing of this instance commits from then on; it stops
   * writing and stands by again. Retryable: the instance campaigns anew.
   */
  FENCED: 'TRIB_FENCED',
  /** The checkpoint's resume position is no longer on the source (purged binlog, lost slot). */
  POSITION_LOST: 'TRIB_POSITION_LOST',
  /** The source is not the server the checkpoint was taken from. */
  SOURCE_CHANGED: 'TRIB_SOURCE_CHANGED',
  /**
   * In GTID mode, the source lacks transactions the checkpoint (the target) has: a replica
   * promoted before it caught up, or one of another lineage.
   */
  SOURCE_BEHIND: 'TRIB_SOURCE_BEHIND',
  /**
   * In GTID mode, the source reached the checkpoint's sequence number in a domain with other
   * transactions than the checkpoint's: each side has writes the other lacks.
   */
  SOURCE_DIVERGED: 'TRIB_SOURCE_DIVERGED',
  /**
   * In GTID mode, the source logged a GTID domain the checkpoint does not know (resumed on another
   * server): refused unless --gtid-adopt-domains.
   */
  GTID_DOMAIN_UNKNOWN: 'TRIB_GTID_DOMAIN_UNKNOWN',
  /** The checkpoint on the target cannot be read or is of an unknown format. */
  CHECKPOINT_INVALID: 'TRIB_CHECKPOINT_INVALID',
  /** A DDL statement touched a synced table. */
  DDL_UNSUPPORTED: 'TRIB_DDL_UNSUPPORTED',
  /** The change stream broke and retries were exhausted. */
  STREAM_FAILED: 'TRIB_STREAM_FAILED',
  /** Writing to the target failed. */
  TARGET_WRITE_FAILED: 'TRIB_TARGET_WRITE_FAILED',
  /** `tributary verify` found rows that differ between source and target (and did not repair them all). */
  VERIFY_MISMATCH: 'TRIB_VERIFY_MISMATCH',
  /** `tributary check` found at least one unmet requirement (each printed with its value and fix). */
  CHECK_FAILED: 'TRIB_CHECK_FAILED',
  /** `tributary move` aborted its cutover (a step failed); what it set on the source was lifted. */
  CUTOVER_ABORTED: 'TRIB_CUTOVER_ABORTED',
  /**
   * A relay segment (src/relay/) fails its checksum or framing where the relay had made it durable
   * (not a torn tail, which the writer cuts on open): the message names the file and byte offset.
   */
  RELAY_CORRUPT: 'TRIB_RELAY_CORRUPT',
  /**
   * A relay reader cannot continue: it was marked lost by the relay's space limit, a segment it
   * needs was deleted, or its position is older than the relay's oldest record.
   */
  RELAY_READER_LOST: 'TRIB_RELAY_READER_LOST',
  /** The run was cancelled (signal or caller). Not a failure. */
  ABORTED: 'TRIB_ABORTED',
  /** A bug: an invariant did not hold. */
  INTERNAL: 'TRIB_INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Codes that mean the command line or configuration is wrong, not the servers: the CLI exits 2 for
 * them (as for commander's own usage errors), and 1 for every other failure.
 */
export const USAGE_CODES: ReadonlySet<ErrorCode> = new Set([ErrorCode.CONFIG_INVALID, ErrorCode.DSN_INVALID, ErrorCode.NO_TABLES]);

/** The process exit code of a failure: 2 for usage and configuration errors, 1 for runtime ones. */
export function exitCodeOf(err: unknown): 1 | 2 {
  return err instanceof TributaryError && USAGE_CODES.has(err.code) ? 2 : 1;
}

export interface TributaryErrorOptions {
  readonly cause?: unknown;
  /** Fatal errors end the run; others may be retried with backoff. Default true. */
  readonly fatal?: boolean;
}

export class TributaryError extends Error {
  readonly code: ErrorCode;
  readonly fatal: boolean;
  constructor(code: ErrorCode, message: string, opts: TributaryErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TributaryError';
    this.code = code;
    this.fatal = opts.fatal ?? true;
  }
}

/** Thrown when a job's AbortSignal fires; callers treat it as a clean stop. */
export class AbortedError extends TributaryError {
  constructor(reason = 'cancelled') {
    super(ErrorCode.ABORTED, `stopped: ${reason}`);
    this.name = 'AbortedError';
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError();
}

export function isAborted(err: unknown): boolean {
  return err instanceof AbortedError;
}
