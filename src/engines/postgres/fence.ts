import type pg from 'pg';
import type { Logger } from 'pino';
import { BREAK_AFTER_MS, breakingBlockers, endedBlocker, fencedAtCommit, fencedAtTakeover, parseEpoch, refusesTakeover, type BlockerBreaker, type FenceSite } from '../../checkpoint/epoch.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { Fence } from '../../core/target.js';
import * as checkpoint from './checkpoint.js';

type Queryable = Pick<pg.Client, 'query'>;

/**
 * What every commit of the PostgreSQL target consults, whichever way the sync was taken: the
 * sync's lock (lock.ts PostgresSyncLock) or a leadership's fence (PostgresEpochFence, coordinator
 * mode).
 */
export interface CommitGuard {
  /** Throws once the right to write is known to be lost; runs no query. */
  check(): Promise<void>;
  /**
   * Run by every writer inside its transaction, after its checkpoint row is written and right
   * before COMMIT: throws, so that the writer rolls back, unless this instance may still commit.
   */
  verify(conn: Queryable): Promise<void>;
  /** Gives up what the guard holds; never throws. */
  release(): Promise<void>;
}

export interface PostgresEpochFenceOptions {
  readonly syncId: string;
  /** The target's schema (?schema=), where the checkpoint table is. */
  readonly schema: string;
  readonly fence: Fence;
  /** 'target postgres://…/db', for messages (no password). */
  readonly where: string;
  /**
   * How long a takeover waits for transactions of an older leadership that hold the fence record
   * (one paused past its compare) before it ends their sessions (pg_terminate_backend), so that a
   * takeover is bounded by this rather than by its lock_timeout. Default 2000 ms.
   */
  readonly breakAfterMs?: number;
  /** A session of its own for ending such sessions (the takeover's waits); released by `done`. */
  readonly side?: () => Promise<{ readonly conn: Queryable; done(): void }>;
  readonly logger?: Logger;
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
export class PostgresEpochFence implements CommitGuard {
  private readonly opts: PostgresEpochFenceOptions;
  private readonly ours: bigint;
  private readonly site: FenceSite;
  private taken = false;

  constructor(opts: PostgresEpochFenceOptions) {
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

  /** Ends the sessions the takeover of backend `waiting` waits for (checkpoint/epoch.ts BlockerBreaker). */
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
          const blockers = await conn.query<{ pid: number }>('SELECT pid FROM unnest(pg_blocking_pids($1)) AS pid', [waiting]);
          for (const { pid } of blockers.rows) {
            try {
              await conn.query('SELECT pg_terminate_backend($1)', [pid]);
              log?.warn({ backend: pid, syncId: this.opts.syncId }, endedBlocker(this.opts.syncId, `backend ${pid}`, afterMs));
            } catch (err) {
              log?.warn({ backend: pid, err: (err as Error).message }, 'taking over: could not end the session holding the fence record; waiting for it');
            }
          }
        } finally {
          done();
        }
      },
    };
  }

  /** The caller's transaction with `takeOverIn()` committed. */
  confirm(): void {
    this.taken = true;
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
