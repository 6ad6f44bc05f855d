import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { LockWatch } from '../../core/target.js';
import { openClient } from './connection.js';

type Queryable = Pick<pg.Client, 'query'>;

const PING_MS = 5_000;
/** A ping unanswered this long counts as a lost connection (a half-open TCP connection, a partition). */
const PING_TIMEOUT_MS = 30_000;

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
 * It is watched as the MySQL target's lock is (see targets/mysql/lock.ts for the reasoning): the
 * session's 'error' and 'end' events (pg_terminate_backend, a restart), a periodic ping, and
 * verify(), which every commit runs inside its transaction, after its checkpoint row, so that no
 * commit lands once the lock is gone. A loss is retryable when the server restarted
 * (pg_postmaster_start_time changed) or cannot be reached, fatal when it kept running.
 */
export class PostgresSyncLock {
  private readonly opts: PostgresSyncLockOptions;
  private client: pg.Client | undefined;
  private pid = 0;
  private serverStart = '';
  private timer: NodeJS.Timeout | undefined;
  private pinging = false;
  private closing = false;
  private verdict: Promise<TributaryError> | undefined;
  private watch: LockWatch = {};
  private readonly hi: string;
  private readonly lo: string;

  constructor(opts: PostgresSyncLockOptions) {
    this.opts = opts;
    const u = BigInt.asUintN(64, opts.key);
    this.hi = (u >> 32n).toString();
    this.lo = (u & 0xffffffffn).toString();
  }

  private get where(): string {
    return `target ${describeDsn(this.opts.target)}`;
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
          `another tributary instance is running sync '${this.opts.syncId}' against ${this.where} (it holds advisory lock ${this.opts.key}); stop it first, or give this one a different --id`,
        );
      }
      this.pid = Number(row.pid);
      this.serverStart = row.started;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    this.watch = watch;
    client.on('error', (err: Error) => this.lose(`its session failed (${err.message})`));
    client.on('end', () => this.lose('its session was closed by the server or the network'));
    this.timer = setInterval(() => void this.ping(), this.opts.pingMs ?? PING_MS);
    this.timer.unref();
  }

  /** Throws the loss once one was noticed (awaiting its judgement). */
  async check(): Promise<void> {
    if (this.verdict) throw await this.verdict;
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
    this.lose(`a commit found that session ${this.pid} no longer holds it`);
    throw (await this.verdict) ?? this.lostError('the lock was being released', true);
  }

  /** Releases the lock by ending its session; a loss noticed from now on is not reported. */
  async release(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async ping(): Promise<void> {
    const client = this.client;
    if (!client || this.pinging || this.verdict) return;
    this.pinging = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), PING_TIMEOUT_MS)));
      const answer = await Promise.race([client.query<{ held: string }>(HELD_SQL, [this.pid, this.hi, this.lo]), late]);
      if (answer === 'late') this.lose(`its session did not answer a ping for ${PING_TIMEOUT_MS / 1000} s`);
      else if (answer.rows[0]?.held !== 't') this.lose('the server says its session no longer holds it');
    } catch (err) {
      this.lose(`a ping failed (${(err as Error).message})`);
    } finally {
      clearTimeout(timer);
      this.pinging = false;
    }
  }

  private lose(reason: string): void {
    if (this.closing || this.verdict) return;
    clearInterval(this.timer);
    const client = this.client;
    this.client = undefined;
    // Not awaited: on a half-open connection end() waits for a reply that never comes.
    void client?.end().catch(() => undefined);
    this.opts.logger.warn({ lock: this.opts.key.toString(), pid: this.pid, reason }, 'the sync lock on the target is lost; nothing more is written');
    this.verdict = this.judge(reason);
    void this.verdict.then((err) => this.watch.onLost?.(err));
  }

  private lostError(detail: string, fatal: boolean): TributaryError {
    const what = `sync '${this.opts.syncId}' lost its advisory lock ${this.opts.key} (held by session ${this.pid})`;
    return new TributaryError(
      ErrorCode.LOCK_LOST,
      fatal
        ? `${this.where}: ${what}: ${detail}. Nothing was written after the loss; another instance may be writing to this target: make sure no other instance of this sync runs, then start it again (it resumes from the checkpoint)`
        : `${this.where}: ${what}: ${detail}. Nothing was written after the loss; resuming from the checkpoint once the lock is taken again`,
      { fatal },
    );
  }

  private async judge(reason: string): Promise<TributaryError> {
    let probe: pg.Client;
    try {
      probe = await openClient(this.opts.dsn, 'target', { connectionTimeoutMillis: 5_000 });
    } catch (err) {
      return this.lostError(`${reason}, and the server cannot be reached (${(err as Error).message})`, false);
    }
    try {
      const r = await probe.query<{ started: string; holder: string | null }>(
        `SELECT pg_postmaster_start_time()::text AS started,
                (SELECT pid::text FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::oid AND objid = $2::oid AND objsubid = 1
                    AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1) AS holder`,
        [this.hi, this.lo],
      );
      const row = r.rows[0];
      if (row?.started !== this.serverStart) return this.lostError(`${reason}: the server restarted`, false);
      const now = row.holder === null ? 'free' : `held by session ${row.holder}`;
      return this.lostError(`${reason}; the server kept running (the session was terminated or timed out) and the lock is now ${now}`, true);
    } catch (err) {
      return this.lostError(`${reason}, and the server cannot be read (${(err as Error).message})`, false);
    } finally {
      await probe.end().catch(() => undefined);
    }
  }
}
