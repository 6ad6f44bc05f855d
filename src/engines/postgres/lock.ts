import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { WatchedLock, type LockProbe } from '../../coordination/watched-lock.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { LockWatch } from '../../core/target.js';
import { openClient } from './connection.js';

type Queryable = Pick<pg.Client, 'query'>;

/** The advisory lock key of a sync: a signed 64-bit integer, as pg_advisory_lock(bigint) takes it. */
export function lockKey(database: string, schema: string, syncId: string): bigint {
  const digest = createHash('sha256').update(`${database}/${schema}/${syncId}`).digest();
  return BigInt.asIntN(64, digest.readBigUInt64BE(0));
}

export interface PostgresSyncLockOptions {
  /** Where the lock is taken: advisory locks belong to one database. */
  readonly dsn: Dsn;
  /** The target URL, for messages (the lock may live in the maintenance database while the target one is created). */
  readonly target: Dsn;
  readonly key: bigint;
  readonly syncId: string;
  readonly logger: Logger;
  readonly pingMs?: number;
}

/**
 * The held-lock test: pg_locks lists a session-level advisory lock on a bigint key as classid (the
 * high 32 bits), objid (the low 32 bits) and objsubid 1. It reads the lock manager, not a snapshot,
 * so inside a writer's transaction it sees the lock as it is now.
 */
const HELD_SQL = `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = $1
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                     AND classid = $2::oid AND objid = $3::oid AND objsubid = 1) AS held`;

/**
 * The sync's exclusive lock on a PostgreSQL target: a session-level advisory lock held by a session
 * of its own that runs nothing but pings, so no pool recycling or failed transaction can drop it.
 * Watched, and a loss judged, as WatchedLock says; here: the advisory lock, the pg_locks tests, and
 * pg_postmaster_start_time, which tells a restart from a terminated session.
 */
export class PostgresSyncLock extends WatchedLock {
  private readonly opts: PostgresSyncLockOptions;
  private client: pg.Client | undefined;
  private pid = 0;
  private serverStart = '';
  private readonly hi: string;
  private readonly lo: string;

  constructor(opts: PostgresSyncLockOptions) {
    super({ where: `target ${describeDsn(opts.target)}`, syncId: opts.syncId, logger: opts.logger, ...(opts.pingMs !== undefined ? { pingMs: opts.pingMs } : {}) });
    this.opts = opts;
    const u = BigInt.asUintN(64, opts.key);
    this.hi = (u >> 32n).toString();
    this.lo = (u & 0xffffffffn).toString();
  }

  /** Takes the lock (ALREADY_RUNNING when another session holds it) and starts watching it. */
  async acquire(watch: LockWatch = {}): Promise<void> {
    const client = await openClient(this.opts.dsn, 'target');
    try {
      // PostgreSQL 14+ ends idle sessions after idle_session_timeout: never this one.
      await client.query('SET idle_session_timeout = 0').catch(() => undefined);
      const r = await client.query<{ got: string; pid: string; started: string }>(
        'SELECT pg_try_advisory_lock($1::bigint) AS got, pg_backend_pid() AS pid, pg_postmaster_start_time()::text AS started',
        [this.opts.key.toString()],
      );
      const row = r.rows[0];
      if (row?.got !== 't') {
        throw new TributaryError(
          ErrorCode.ALREADY_RUNNING,
          `another tributary instance is running sync '${this.opts.syncId}' against target ${describeDsn(this.opts.target)} (it holds advisory lock ${this.opts.key}); stop it first, or give this one a different --id`,
        );
      }
      this.pid = Number(row.pid);
      this.serverStart = row.started;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    this.watchSession(client, watch);
  }

  /**
   * Run by every writer inside its transaction, after its checkpoint row is written (or the
   * checkpoint table locked) and right before COMMIT: throws TRIB_LOCK_LOST unless this lock's
   * session still holds the lock. A new holder waits for that table lock (waitForWriters).
   */
  async verify(conn: Queryable): Promise<void> {
    await this.check();
    const r = await conn.query<{ held: string }>(HELD_SQL, [this.pid, this.hi, this.lo]);
    if (r.rows[0]?.held === 't') return;
    await this.lostAtCommit(`a commit found that session ${this.pid} no longer holds it`);
  }

  protected describeLock(): string {
    return `advisory lock ${this.opts.key} (held by session ${this.pid})`;
  }

  protected async pingHolder(): Promise<string | undefined> {
    const client = this.client;
    if (!client) return undefined;
    const r = await client.query<{ held: string }>(HELD_SQL, [this.pid, this.hi, this.lo]);
    return r.rows[0]?.held === 't' ? undefined : 'the server says its session no longer holds it';
  }

  protected dropSession(): void {
    const client = this.client;
    this.client = undefined;
    // Not awaited: on a half-open connection end() waits for a reply that never comes.
    void client?.end().catch(() => undefined);
  }

  /** Ending the session releases a session-level advisory lock. */
  protected async endSession(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  protected async probe(): Promise<LockProbe> {
    const probe = await openClient(this.opts.dsn, 'target', { connectionTimeoutMillis: 5_000 });
    try {
      const r = await probe.query<{ started: string }>('SELECT pg_postmaster_start_time()::text AS started');
      const holder = await lockHolder(probe, this.opts.key);
      return { restarted: r.rows[0]?.started !== this.serverStart, holder: holder === undefined ? 'free' : `held by session ${holder}` };
    } finally {
      await probe.end().catch(() => undefined);
    }
  }
}

/** The session (backend pid) holding the advisory lock `key` in the connection's database now, or undefined when none does. */
export async function lockHolder(conn: Pick<pg.Client, 'query'>, key: bigint): Promise<number | undefined> {
  const u = BigInt.asUintN(64, key);
  const r = await conn.query<{ holder: string | null }>(
    `SELECT (SELECT pid::text FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::oid AND objid = $2::oid AND objsubid = 1
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1) AS holder`,
    [(u >> 32n).toString(), (u & 0xffffffffn).toString()],
  );
  const h = r.rows[0]?.holder;
  return h == null ? undefined : Number(h);
}
