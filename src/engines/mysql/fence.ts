import type { Connection, RowDataPacket } from 'mysql2/promise';
import { breakingBlockers, EpochFenceBase, fencedAtCommit, fencedAtTakeover, parseEpoch, refusesTakeover, sessionBreaker, type BlockerBreaker, type SessionEnder, type SqlEpochFenceOptions } from '../../checkpoint/epoch.js';
import type { CommitGuard as SqlCommitGuard } from '../../coordination/commit-guard.js';
import * as checkpoint from './checkpoint.js';

type Queryable = Pick<Connection, 'query'>;

/** The MySQL target's guard: its lock or a leadership's fence (coordination/commit-guard.ts). */
export type CommitGuard = SqlCommitGuard<Queryable>;

/** The fence's options (checkpoint/epoch.ts); its sessions are ended with KILL. */
export type MysqlEpochFenceOptions = SqlEpochFenceOptions<Queryable>;

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
export class MysqlEpochFence extends EpochFenceBase implements CommitGuard {
  private readonly opts: MysqlEpochFenceOptions;

  constructor(opts: MysqlEpochFenceOptions) {
    super(opts.fence, opts.syncId, opts.where);
    this.opts = opts;
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

  /** Ends the sessions the takeover on connection `waiting` waits for (checkpoint/epoch.ts sessionBreaker). */
  private breaker(waiting: number): BlockerBreaker | undefined {
    const side = this.opts.side;
    const ender: SessionEnder<Queryable> | undefined = side && {
      side,
      blockers: (conn, id) => checkpoint.lockBlockers(conn, id),
      end: async (conn, id) => void (await conn.query(`KILL ${Number(id)}`)),
      name: (id) => `connection ${id}`,
    };
    return sessionBreaker(ender, waiting, { syncId: this.opts.syncId, ...(this.opts.breakAfterMs !== undefined ? { afterMs: this.opts.breakAfterMs } : {}), ...(this.opts.logger ? { logger: this.opts.logger } : {}) });
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
