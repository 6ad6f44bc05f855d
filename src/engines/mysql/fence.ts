import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import { BREAK_AFTER_MS, breakingBlockers, endedBlocker, fencedAtCommit, fencedAtTakeover, parseEpoch, refusesTakeover, type BlockerBreaker, type FenceSite } from '../../checkpoint/epoch.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { Fence } from '../../core/target.js';
import * as checkpoint from './checkpoint.js';

type Queryable = Pick<Connection, 'query'>;

/**
 * What every commit of the MySQL target consults, whichever way the sync was taken: the sync's
 * lock (lock.ts MysqlSyncLock) or a leadership's fence (MysqlEpochFence, coordinator mode).
 */
export interface CommitGuard {
  /** Throws once the right to write is known to be lost; runs no query. */
  check(): Promise<void>;
  /**
   * Run by every writer inside its transaction, after its checkpoint row is written and right
   * before COMMIT (and before each statement of DDL that commits on its own): throws, so that the
   * writer rolls back, unless this instance may still commit.
   */
  verify(conn: Queryable): Promise<void>;
  /** Gives up what the guard holds; never throws. */
  release(): Promise<void>;
}

export interface MysqlEpochFenceOptions {
  readonly syncId: string;
  readonly fence: Fence;
  /** 'target mysql://…/db', for messages (no password). */
  readonly where: string;
  /**
   * How long a takeover waits for transactions of an older leadership that hold the fence record
   * (one paused past its compare: SIGSTOP, a long GC) before it ends their sessions (KILL), so that
   * a takeover is bounded by this rather than by innodb_lock_wait_timeout. Default 2000 ms.
   */
  readonly breakAfterMs?: number;
  /** A connection of its own for ending such sessions (the control connection waits); released by the caller's `done`. */
  readonly side?: () => Promise<{ readonly conn: Queryable; done(): void }>;
  readonly logger?: Logger;
}


/** Takeover attempts lost to a deadlock with another takeover (two leaderships meeting) before giving up. */
const TAKEOVER_ATTEMPTS = 3;

/**
 * A leadership's fence on a MySQL/MariaDB target (core/target-writer.ts Fence): the sync's fence
 * record, the checkpoint row EPOCH_ROW (checkpoint/rows.ts) holding the epoch as decimal text.
 *
 * - `takeOver()`: one transaction that reads the record FOR UPDATE (waiting for every transaction
 *   of an older leadership that read it in share mode and has not ended: one past its compare),
 *   refuses with TRIB_FENCED when it holds a higher epoch, and writes ours (the same epoch is the
 *   same leadership taking it again after a reconnect).
 * - `verify()`: reads the record LOCK IN SHARE MODE inside the writer's transaction, right before
 *   COMMIT; a locking read sees the latest committed row (not the transaction's snapshot) and
 *   waits for a takeover in flight, so a writer either committed before a takeover read the
 *   record, or finds the newer epoch and rolls back.
 *
 * Until the takeover is done (`pending`: the checkpoint table did not exist at lock()), verify
 * refuses only a higher epoch another leadership wrote meanwhile; MysqlTarget.ensureSchema takes
 * the sync over right after it creates the table, before anything else is written there.
 */
export class MysqlEpochFence implements CommitGuard {
  private readonly opts: MysqlEpochFenceOptions;
  private readonly ours: bigint;
  private readonly site: FenceSite;
  private taken = false;

  constructor(opts: MysqlEpochFenceOptions) {
    if (!/^\d{1,19}$/.test(opts.fence.epoch)) {
      throw new TributaryError(ErrorCode.INTERNAL, `fence epoch '${opts.fence.epoch}' of sync '${opts.syncId}' is not a decimal integer of at most 19 digits`);
    }
    this.opts = opts;
    this.ours = BigInt(opts.fence.epoch);
    this.site = { syncId: opts.syncId, where: opts.where };
  }

  /** The takeover waits for the checkpoint table, which ensureSchema creates. */
  get pending(): boolean {
    return !this.taken;
  }

  /**
   * Takes the sync over in a transaction of its own on `conn` (see the class comment). Returns
   * false, having written nothing, when the checkpoint table (or the database) does not exist.
   */
  async takeOver(conn: Queryable): Promise<boolean> {
    const { syncId } = this.opts;
    const [ids] = await conn.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id');
    const me = Number(ids[0]?.id);
    for (let attempt = 1; ; attempt++) {
      await conn.query('START TRANSACTION');
      try {
        // The row first (epoch 0 where there is none): two takeovers then meet on its lock.
        if (!(await checkpoint.ensureEpochRow(conn, syncId))) {
          await conn.query('ROLLBACK');
          return false;
        }
        const { body } = await breakingBlockers(checkpoint.lockedEpoch(conn, syncId, 'update'), this.breaker(me));
        const stored = body === undefined ? undefined : parseEpoch(body, this.site);
        if (refusesTakeover(stored, this.ours)) throw fencedAtTakeover(this.site, stored as bigint, this.opts.fence.epoch);
        await checkpoint.saveEpoch(conn, syncId, this.opts.fence.epoch);
        await conn.query('COMMIT');
        this.taken = true;
        return true;
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => undefined);
        if ((err as { code?: string }).code === 'ER_LOCK_DEADLOCK' && attempt < TAKEOVER_ATTEMPTS) continue;
        throw err;
      }
    }
  }

  /** Ends the sessions the takeover on connection `waiting` waits for (checkpoint/epoch.ts BlockerBreaker). */
  private breaker(waiting: number): BlockerBreaker | undefined {
    const side = this.opts.side;
    if (!side) return undefined;
    const afterMs = this.opts.breakAfterMs ?? BREAK_AFTER_MS;
    const log = this.opts.logger;
    return {
      afterMs,
      breakOnce: async () => {
        const { conn, done } = await side();
        try {
          for (const id of await checkpoint.lockBlockers(conn, waiting)) {
            try {
              await conn.query(`KILL ${Number(id)}`);
              log?.warn({ connection: id, syncId: this.opts.syncId }, endedBlocker(this.opts.syncId, `connection ${id}`, afterMs));
            } catch (err) {
              log?.warn({ connection: id, err: (err as Error).message }, 'taking over: could not end the session holding the fence record; waiting for it');
            }
          }
        } finally {
          done();
        }
      },
    };
  }

  /** Self-fencing (Fence.check): throws once the leadership may have ended by this process's clock. */
  check(): Promise<void> {
    try {
      this.opts.fence.check();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  async verify(conn: Queryable): Promise<void> {
    this.opts.fence.check();
    const { body } = await checkpoint.lockedEpoch(conn, this.opts.syncId, 'share');
    const stored = body === undefined ? undefined : parseEpoch(body, this.site);
    if (stored === this.ours) return;
    // Not taken yet: nothing of this sync was there to take; only a newer leadership's record refuses.
    if (!this.taken && !refusesTakeover(stored, this.ours)) return;
    throw fencedAtCommit(this.site, stored, this.opts.fence.epoch, 'a write');
  }

  /** Nothing is held: the record stays for the next leadership to overwrite. */
  release(): Promise<void> {
    return Promise.resolve();
  }
}
