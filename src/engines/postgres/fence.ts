import type pg from 'pg';
import { breakingBlockers, EpochFenceBase, fencedAtCommit, fencedAtTakeover, parseEpoch, refusesTakeover, sessionBreaker, type BlockerBreaker, type SessionEnder, type SqlEpochFenceOptions } from '../../checkpoint/epoch.js';
import type { CommitGuard as SqlCommitGuard } from '../../coordination/commit-guard.js';
import * as checkpoint from './checkpoint.js';

type Queryable = Pick<pg.Client, 'query'>;

/** The PostgreSQL target's guard: its lock or a leadership's fence (coordination/commit-guard.ts). */
export type CommitGuard = SqlCommitGuard<Queryable>;

/** The fence's options (checkpoint/epoch.ts) and the target's schema; its sessions are ended with pg_terminate_backend. */
export interface PostgresEpochFenceOptions extends SqlEpochFenceOptions<Queryable> {
  /** The target's schema (?schema=), where the checkpoint table is. */
  readonly schema: string;
}

/** Takeover attempts lost to a deadlock with another takeover (two leaderships meeting) before giving up. */
const TAKEOVER_ATTEMPTS = 3;

/**
 * A leadership's fence on a PostgreSQL target (core/target-writer.ts Fence): the sync's fence
 * record, the checkpoint row EPOCH_ROW (checkpoint/rows.ts) holding the epoch as decimal text.
 *
 * - `takeOver()` (or `takeOverIn()` inside ensureSchema's transaction): reads the record FOR
 *   UPDATE (waiting for every transaction of an older leadership that read it FOR SHARE and has
 *   not ended: one past its compare), refuses with TRIB_FENCED when it holds a higher epoch, and
 *   writes ours (the same epoch is the same leadership taking it again after a reconnect).
 * - `verify()`: reads the record FOR SHARE inside the writer's transaction, right before COMMIT.
 *   Under READ COMMITTED the read waits for a takeover in flight and then reads the row it
 *   committed, so a writer either committed before a takeover read the record, or finds the newer
 *   epoch and rolls back.
 *
 * Until the takeover is done (`pending`: the database or the checkpoint table did not exist at
 * lock()), verify refuses only a higher epoch another leadership wrote meanwhile;
 * PostgresTarget.ensureSchema takes the sync over in the transaction that creates the table,
 * before anything else is written there.
 */
export class PostgresEpochFence extends EpochFenceBase implements CommitGuard {
  private readonly opts: PostgresEpochFenceOptions;

  constructor(opts: PostgresEpochFenceOptions) {
    super(opts.fence, opts.syncId, opts.where);
    this.opts = opts;
  }

  /**
   * Takes the sync over in a transaction of its own on `conn` (see the class comment), waiting at
   * most a minute for an older leadership's transaction. Returns false, having written nothing,
   * when the checkpoint table does not exist.
   */
  async takeOver(conn: Queryable): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      await conn.query('BEGIN');
      try {
        const done = await this.takeOverIn(conn);
        await conn.query(done ? 'COMMIT' : 'ROLLBACK');
        if (done) this.taken = true;
        return done;
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => undefined);
        if ((err as { code?: string }).code === '40P01' && attempt < TAKEOVER_ATTEMPTS) continue;
        throw err;
      }
    }
  }

  /**
   * The takeover's statements in the caller's transaction; false, having written nothing, when
   * the checkpoint table does not exist. The caller calls `confirm()` once it committed.
   */
  async takeOverIn(conn: Queryable): Promise<boolean> {
    const { syncId, schema } = this.opts;
    if (!(await checkpoint.exists(conn, schema))) return false;
    // Bounded: an older leadership's transaction stuck past its compare holds the row a minute at most.
    const prev = (await conn.query<{ lock_timeout: string }>('SHOW lock_timeout')).rows[0]?.lock_timeout ?? '0';
    await conn.query("SET LOCAL lock_timeout = '60s'");
    // The row first (epoch 0 where there is none): a second takeover waits on this insert, then finds the row.
    await checkpoint.ensureEpochRow(conn, schema, syncId);
    const pid = Number((await conn.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid);
    const { body } = await breakingBlockers(checkpoint.lockedEpoch(conn, schema, syncId, 'update', true), this.breaker(pid));
    const stored = body === undefined ? undefined : parseEpoch(body, this.site);
    if (refusesTakeover(stored, this.ours)) throw fencedAtTakeover(this.site, stored as bigint, this.opts.fence.epoch);
    await checkpoint.saveEpoch(conn, schema, syncId, this.opts.fence.epoch);
    await conn.query("SELECT set_config('lock_timeout', $1, true)", [prev]);
    return true;
  }

  /** Ends the sessions the takeover of backend `waiting` waits for (checkpoint/epoch.ts sessionBreaker). */
  private breaker(waiting: number): BlockerBreaker | undefined {
    const side = this.opts.side;
    const ender: SessionEnder<Queryable> | undefined = side && {
      side,
      blockers: async (conn, pid) => (await conn.query<{ pid: number }>('SELECT pid FROM unnest(pg_blocking_pids($1)) AS pid', [pid])).rows.map((r) => Number(r.pid)),
      end: async (conn, pid) => void (await conn.query('SELECT pg_terminate_backend($1)', [pid])),
      name: (pid) => `backend ${pid}`,
    };
    return sessionBreaker(ender, waiting, { syncId: this.opts.syncId, ...(this.opts.breakAfterMs !== undefined ? { afterMs: this.opts.breakAfterMs } : {}), ...(this.opts.logger ? { logger: this.opts.logger } : {}) });
  }

  /** The caller's transaction with `takeOverIn()` committed. */
  confirm(): void {
    this.taken = true;
  }

  async verify(conn: Queryable): Promise<void> {
    this.opts.fence.check();
    const { body } = await checkpoint.lockedEpoch(conn, this.opts.schema, this.opts.syncId, 'share', this.taken);
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
