import { createHash } from 'node:crypto';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { LockWatch } from '../../core/target.js';
import { openConnection } from '../../sources/mysql/connection.js';

type Queryable = Pick<Connection, 'query'>;

/**
 * Seconds of idleness the server allows the lock's connection: the most MySQL and MariaDB accept
 * on Linux. A target whose global wait_timeout is short would otherwise end the idle connection,
 * and the lock with it; the pings below keep it busy anyway.
 */
export const LONG_WAIT_TIMEOUT_S = 31_536_000;
const PING_MS = 5_000;
/** A ping unanswered this long counts as a lost connection (a half-open TCP connection, a partition). */
const PING_TIMEOUT_MS = 30_000;
/** Uptime is whole seconds: server start times that differ by more than this are two runs of the server. */
const RESTART_SLACK_MS = 2_500;

/** The GET_LOCK name of a sync on a target database (at most 64 characters, as the server requires). */
export function lockName(database: string, syncId: string): string {
  return 'tributary:' + createHash('sha256').update(`${database}/${syncId}`).digest('hex').slice(0, 40);
}

export interface MysqlSyncLockOptions {
  readonly dsn: Dsn;
  readonly syncId: string;
  readonly logger: Logger;
  readonly pingMs?: number;
}

/**
 * The sync's exclusive lock on a MySQL/MariaDB target: a GET_LOCK held by a connection of its own
 * that runs nothing but pings, so no query, pool recycling or failed transaction can drop it.
 *
 * What must hold: once the lock is lost, nothing commits. The connection can end without a word
 * (KILL, wait_timeout, a network failure), so the lock is watched three ways: the connection's
 * 'error' and 'end' events, a periodic `IS_USED_LOCK` ping, and `verify()`, which every commit runs
 * inside its own transaction after writing its checkpoint row. The last one is the guarantee; the
 * other two only notice a loss sooner when nothing is being written.
 *
 * A loss is judged once: when the server restarted or cannot be reached, every session ended with
 * it and a new attempt (which takes the lock again, waits for writers and reloads the checkpoint)
 * is as safe as a restart, so the error is retryable; when the server kept running, the connection
 * alone was ended and another instance may hold the lock by now, so the error is fatal.
 */
export class MysqlSyncLock {
  readonly name: string;
  private readonly opts: MysqlSyncLockOptions;
  private conn: Connection | undefined;
  private connId = 0;
  /** When the server started (ms since epoch, from its Uptime), to tell a restart from a killed connection. */
  private serverStart = 0;
  private timer: NodeJS.Timeout | undefined;
  private pinging = false;
  private closing = false;
  private verdict: Promise<TributaryError> | undefined;
  private watch: LockWatch = {};

  constructor(opts: MysqlSyncLockOptions) {
    this.opts = opts;
    this.name = lockName(opts.dsn.database, opts.syncId);
  }

  private get where(): string {
    return `target ${describeDsn(this.opts.dsn)}`;
  }

  /** Takes the lock (ALREADY_RUNNING when another session holds it) and starts watching it. */
  async acquire(watch: LockWatch = {}): Promise<void> {
    // No database: the lock is the server's, and the database may not exist yet.
    const conn = await openConnection(this.opts.dsn, 'target', { database: undefined });
    try {
      await conn.query(`SET SESSION wait_timeout = ${LONG_WAIT_TIMEOUT_S}`);
      const [rows] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS got, CONNECTION_ID() AS id', [this.name]);
      if (Number(rows[0]?.got) !== 1) {
        throw new TributaryError(
          ErrorCode.ALREADY_RUNNING,
          `another tributary instance is running sync '${this.opts.syncId}' against ${this.where} (it holds lock ${this.name}); stop it first, or give this one a different --id`,
        );
      }
      this.connId = Number(rows[0]?.id);
      this.serverStart = await serverStart(conn);
    } catch (err) {
      await conn.end().catch(() => conn.destroy());
      throw err;
    }
    this.conn = conn;
    this.watch = watch;
    conn.on('error', (err: Error) => this.lose(`its connection failed (${err.message})`));
    conn.on('end', () => this.lose('its connection was closed by the server or the network'));
    this.timer = setInterval(() => void this.ping(), this.opts.pingMs ?? PING_MS);
    this.timer.unref();
  }

  /** Throws the loss once one was noticed (awaiting its judgement); resolves while the lock is held as far as known. */
  async check(): Promise<void> {
    if (this.verdict) throw await this.verdict;
  }

  /**
   * Run by every writer inside its transaction, after its checkpoint row is written and right
   * before COMMIT: throws TRIB_LOCK_LOST unless this lock's connection still holds the lock. A new
   * holder waits for the row lock the writer holds (see waitForWriters in checkpoint.ts), so a
   * writer that passed this check commits before the new holder reads the checkpoint.
   */
  async verify(conn: Queryable): Promise<void> {
    await this.check();
    const [rows] = await conn.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS holder', [this.name]);
    const holder = rows[0]?.holder as unknown;
    if (holder !== null && holder !== undefined && Number(holder) === this.connId) return;
    this.lose(holder === null || holder === undefined ? 'a commit found it free' : `a commit found connection ${String(holder)} holding it`);
    throw (await this.verdict) ?? this.lostError('the lock was being released', true);
  }

  /** Releases the lock and ends its connection; a loss noticed from now on is not reported. */
  async release(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    const conn = this.conn;
    this.conn = undefined;
    if (!conn) return;
    await conn.query('DO RELEASE_LOCK(?)', [this.name]).catch(() => undefined);
    await conn.end().catch(() => conn.destroy());
  }

  private async ping(): Promise<void> {
    const conn = this.conn;
    if (!conn || this.pinging || this.verdict) return;
    this.pinging = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), PING_TIMEOUT_MS)));
      const answer = await Promise.race([conn.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS holder', [this.name]), late]);
      if (answer === 'late') {
        this.lose(`its connection did not answer a ping for ${PING_TIMEOUT_MS / 1000} s`);
        return;
      }
      const holder = answer[0][0]?.holder as unknown;
      if (holder === null || holder === undefined) this.lose('the server says it is free');
      else if (Number(holder) !== this.connId) this.lose(`the server says connection ${String(holder)} holds it`);
    } catch (err) {
      this.lose(`a ping failed (${(err as Error).message})`);
    } finally {
      clearTimeout(timer);
      this.pinging = false;
    }
  }

  /** Notes the loss once: stops watching, drops the connection, judges, then tells the watcher. */
  private lose(reason: string): void {
    if (this.closing || this.verdict) return;
    clearInterval(this.timer);
    const conn = this.conn;
    this.conn = undefined;
    conn?.destroy();
    this.opts.logger.warn({ lock: this.name, connection: this.connId, reason }, 'the sync lock on the target is lost; nothing more is written');
    this.verdict = this.judge(reason);
    void this.verdict.then((err) => this.watch.onLost?.(err));
  }

  private lostError(detail: string, fatal: boolean): TributaryError {
    const what = `sync '${this.opts.syncId}' lost its lock ${this.name} (held by connection ${this.connId})`;
    return new TributaryError(
      ErrorCode.LOCK_LOST,
      fatal
        ? `${this.where}: ${what}: ${detail}. Nothing was written after the loss; another instance may be writing to this target: make sure no other instance of this sync runs, then start it again (it resumes from the checkpoint)`
        : `${this.where}: ${what}: ${detail}. Nothing was written after the loss; resuming from the checkpoint once the lock is taken again`,
      { fatal },
    );
  }

  /** Retryable when the server restarted or cannot be reached; fatal when it kept running. */
  private async judge(reason: string): Promise<TributaryError> {
    let probe: Connection;
    try {
      probe = await openConnection(this.opts.dsn, 'target', { database: undefined, connectTimeout: 5_000 });
    } catch (err) {
      return this.lostError(`${reason}, and the server cannot be reached (${(err as Error).message})`, false);
    }
    try {
      const start = await serverStart(probe);
      if (start - this.serverStart > RESTART_SLACK_MS) return this.lostError(`${reason}: the server restarted`, false);
      const [rows] = await probe.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS holder', [this.name]);
      const holder = rows[0]?.holder as unknown;
      const now = holder === null || holder === undefined ? 'free' : `held by connection ${String(holder)}`;
      return this.lostError(`${reason}; the server kept running (the connection was killed or timed out) and the lock is now ${now}`, true);
    } catch (err) {
      return this.lostError(`${reason}, and the server cannot be read (${(err as Error).message})`, false);
    } finally {
      await probe.end().catch(() => probe.destroy());
    }
  }
}

/** When the server started, in ms since the epoch (by this machine's clock, whole seconds of Uptime). */
async function serverStart(conn: Queryable): Promise<number> {
  const [rows] = await conn.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Uptime'");
  const uptime = Number((rows[0] as Record<string, unknown> | undefined)?.Value ?? 0);
  return Date.now() - uptime * 1000;
}
