import { createHash } from 'node:crypto';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { WatchedLock, type LockProbe } from '../../coordination/watched-lock.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { LockWatch } from '../../core/target.js';
import { openConnection } from './connection.js';

type Queryable = Pick<Connection, 'query'>;

/**
 * Seconds of idleness the server allows the lock's connection: the most MySQL and MariaDB accept
 * on Linux. A target whose global wait_timeout is short would otherwise end the idle connection,
 * and the lock with it; the pings below keep it busy anyway.
 */
export const LONG_WAIT_TIMEOUT_S = 31_536_000;
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
 * Watched, and a loss judged, as WatchedLock says; here: the GET_LOCK, the IS_USED_LOCK tests and
 * the server's start time (from Uptime) that tells a restart from a killed connection.
 */
export class MysqlSyncLock extends WatchedLock {
  readonly name: string;
  private readonly opts: MysqlSyncLockOptions;
  private conn: Connection | undefined;
  private connId = 0;
  /** When the server started (ms since epoch, from its Uptime), to tell a restart from a killed connection. */
  private serverStart = 0;

  constructor(opts: MysqlSyncLockOptions) {
    super({ where: `target ${describeDsn(opts.dsn)}`, syncId: opts.syncId, logger: opts.logger, ...(opts.pingMs !== undefined ? { pingMs: opts.pingMs } : {}) });
    this.opts = opts;
    this.name = lockName(opts.dsn.database, opts.syncId);
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
          `another tributary instance is running sync '${this.opts.syncId}' against target ${describeDsn(this.opts.dsn)} (it holds lock ${this.name}); stop it first, or give this one a different --id`,
        );
      }
      this.connId = Number(rows[0]?.id);
      this.serverStart = await serverStart(conn);
    } catch (err) {
      await conn.end().catch(() => conn.destroy());
      throw err;
    }
    this.conn = conn;
    this.watchSession(conn, watch);
  }

  /**
   * Run by every writer inside its transaction, after its checkpoint row is written and right
   * before COMMIT: throws TRIB_LOCK_LOST unless this lock's connection still holds the lock. A new
   * holder waits for the row lock the writer holds (see waitForWriters in checkpoint.ts), so a
   * writer that passed this check commits before the new holder reads the checkpoint.
   */
  async verify(conn: Queryable): Promise<void> {
    await this.check();
    const holder = await usedBy(conn, this.name);
    if (holder !== undefined && holder === this.connId) return;
    await this.lostAtCommit(holder === undefined ? 'a commit found it free' : `a commit found connection ${holder} holding it`);
  }

  protected describeLock(): string {
    return `lock ${this.name} (held by connection ${this.connId})`;
  }

  protected async pingHolder(): Promise<string | undefined> {
    const conn = this.conn;
    if (!conn) return undefined;
    const holder = await usedBy(conn, this.name);
    if (holder === undefined) return 'the server says it is free';
    return holder === this.connId ? undefined : `the server says connection ${holder} holds it`;
  }

  protected dropSession(): void {
    const conn = this.conn;
    this.conn = undefined;
    conn?.destroy();
  }

  protected async endSession(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    if (!conn) return;
    await conn.query('DO RELEASE_LOCK(?)', [this.name]).catch(() => undefined);
    await conn.end().catch(() => conn.destroy());
  }

  protected async probe(): Promise<LockProbe> {
    const probe = await openConnection(this.opts.dsn, 'target', { database: undefined, connectTimeout: 5_000 });
    try {
      const restarted = (await serverStart(probe)) - this.serverStart > RESTART_SLACK_MS;
      const holder = await usedBy(probe, this.name);
      return { restarted, holder: holder === undefined ? 'free' : `held by connection ${holder}` };
    } finally {
      await probe.end().catch(() => probe.destroy());
    }
  }
}

/** The connection holding a named lock now, or undefined when it is free. */
export async function usedBy(conn: Queryable, name: string): Promise<number | undefined> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS holder', [name]);
  const holder = rows[0]?.holder as unknown;
  return holder === null || holder === undefined ? undefined : Number(holder);
}

/** When the server started, in ms since the epoch (by this machine's clock, whole seconds of Uptime). */
async function serverStart(conn: Queryable): Promise<number> {
  const [rows] = await conn.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Uptime'");
  const uptime = Number((rows[0] as Record<string, unknown> | undefined)?.Value ?? 0);
  return Date.now() - uptime * 1000;
}
