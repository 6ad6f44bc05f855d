import type { Logger } from 'pino';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { Fence } from '../core/target-writer.js';

/**
 * The fence record's value and the two refusals of coordinator mode (core/target-writer.ts Fence),
 * the same on every target: a target stores the epoch (a reserved checkpoint row, EPOCH_ROW in
 * rows.ts; an etcd key), and compares it with its leadership's inside each commit. Epochs are
 * decimal integers compared as integers, never as text ('10' is after '9').
 */

/** What a target says about where the record is, for messages: 'target mysql://…/db' (no password). */
export interface FenceSite {
  readonly syncId: string;
  readonly where: string;
}

/** The epoch as an integer; a record that is not one is CHECKPOINT_INVALID, naming it and the fix. */
export function parseEpoch(text: string, site: FenceSite): bigint {
  const t = text.trim();
  if (!/^\d{1,20}$/.test(t)) {
    throw new TributaryError(
      ErrorCode.CHECKPOINT_INVALID,
      `${site.where}: the fence record of sync '${site.syncId}' holds '${t.slice(0, 40)}', not an epoch (a decimal integer); delete the record and let the leader take the sync over again`,
    );
  }
  return BigInt(t);
}

/** Whether a stored epoch (undefined: no record) refuses a takeover for `ours`: only a higher one does. */
export function refusesTakeover(stored: bigint | undefined, ours: bigint): boolean {
  return stored !== undefined && stored > ours;
}

/** The takeover refused: a newer leadership took the sync over first. Retryable: the instance stands by. */
export function fencedAtTakeover(site: FenceSite, stored: bigint, ours: string): TributaryError {
  return new TributaryError(
    ErrorCode.FENCED,
    `${site.where}: sync '${site.syncId}' was taken over by a newer leader (epoch ${stored}) than this instance (epoch ${ours}); this instance writes nothing and stands by`,
    { fatal: false },
  );
}

/**
 * A commit that found another epoch in the record (or none: it was deleted): nothing of it
 * committed. Retryable: the instance stands by and campaigns again.
 */
export function fencedAtCommit(site: FenceSite, stored: bigint | undefined, ours: string, what: string): TributaryError {
  const found = stored === undefined ? 'no fence record (it was deleted)' : `epoch ${stored}`;
  return new TributaryError(
    ErrorCode.FENCED,
    `${site.where}: ${what} of sync '${site.syncId}' was refused: the target holds ${found} and this instance has epoch ${ours}, so a newer leader writes this target now; nothing of this write was committed; this instance stands by`,
    { fatal: false },
  );
}

/** The default wait of a takeover for an older leadership's transaction before it ends that session. */
export const BREAK_AFTER_MS = 2_000;

/**
 * What a takeover may do about the sessions that hold the fence record it waits for: only writers
 * of the sync (a compare holds the record in share mode) and other takeovers of it can, and each
 * is an older leadership's (one paused past its compare: SIGSTOP, a long GC, a partition), whose
 * rolled-back work the new leader redoes from the checkpoint.
 */
export interface BlockerBreaker {
  /** How long to wait before the first attempt (later ones come every second). */
  readonly afterMs: number;
  /** Ends the sessions that hold what the takeover waits for now; never throws. */
  breakOnce(): Promise<void>;
}

/**
 * Waits for `locked` (a takeover's locking read of the fence record); past `breaker.afterMs`, and
 * again every second while it still waits, calls `breaker.breakOnce()`. So a takeover is bounded
 * by about that rather than by the server's lock wait timeout. Without a breaker, just `locked`.
 */
export async function breakingBlockers<T>(locked: Promise<T>, breaker: BlockerBreaker | undefined): Promise<T> {
  if (!breaker) return locked;
  let settled = false;
  const result = locked.finally(() => (settled = true));
  const loop = (async () => {
    let wait = breaker.afterMs;
    while (!settled) {
      await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, wait))]);
      wait = 1_000;
      if (!settled) await breaker.breakOnce();
    }
  })().catch(() => undefined);
  try {
    return await result;
  } finally {
    settled = true;
    await loop;
  }
}

/** How an engine finds and ends the sessions a takeover waits for, on a session of its own. */
export interface SessionEnder<Q> {
  /** A session apart from the waiting one; `done` gives it back. */
  readonly side: () => Promise<{ readonly conn: Q; done(): void }>;
  /** The sessions holding what session `waiting` waits for now (the engine's lock-wait view). */
  blockers(conn: Q, waiting: number): Promise<readonly number[]>;
  /** Ends one session (its transaction rolls back). */
  end(conn: Q, session: number): Promise<void>;
  /** 'connection 12', 'backend 4711': for messages. */
  name(session: number): string;
}

/** What a SQL target's epoch fence is given (engines/<engine>/fence.ts); `Q` is the engine's connection. */
export interface SqlEpochFenceOptions<Q> {
  readonly syncId: string;
  readonly fence: Fence;
  /** 'target mysql://…/db', for messages (no password). */
  readonly where: string;
  /**
   * How long a takeover waits for transactions of an older leadership that hold the fence record
   * (one paused past its compare: SIGSTOP, a long GC) before it ends their sessions, so that a
   * takeover is bounded by this rather than by the server's lock wait timeout. Default
   * BREAK_AFTER_MS.
   */
  readonly breakAfterMs?: number;
  /** A session of its own for ending such sessions (the takeover's waits); given back by `done`. */
  readonly side?: () => Promise<{ readonly conn: Q; done(): void }>;
  readonly logger?: Logger;
}

export interface BreakerOptions {
  readonly syncId: string;
  readonly afterMs?: number;
  readonly logger?: Logger;
}

/**
 * A BlockerBreaker over an engine's SessionEnder: ends every session blocking `waiting`, warning
 * for each; one that cannot be ended (another user's, without the privilege) is waited for.
 */
export function sessionBreaker<Q>(ender: SessionEnder<Q> | undefined, waiting: number, opts: BreakerOptions): BlockerBreaker | undefined {
  if (!ender) return undefined;
  const afterMs = opts.afterMs ?? BREAK_AFTER_MS;
  const log = opts.logger;
  return {
    afterMs,
    breakOnce: async () => {
      const { conn, done } = await ender.side();
      try {
        for (const id of await ender.blockers(conn, waiting)) {
          if (id === waiting) continue;
          try {
            await ender.end(conn, id);
            log?.warn({ session: ender.name(id), syncId: opts.syncId }, `taking sync ${opts.syncId} over: ${ender.name(id)} held its fence record longer than ${afterMs} ms (an older leadership's commit in flight, paused or cut off): ended it; its transaction rolls back and this leadership redoes it from the checkpoint`);
          } catch (err) {
            log?.warn({ session: ender.name(id), err: (err as Error).message }, 'taking over: could not end the session holding the fence record; waiting for it');
          }
        }
      } finally {
        done();
      }
    },
  };
}

/**
 * What the three targets' epoch fences share (engines/<engine>/fence.ts): the leadership's epoch,
 * checked once as a decimal integer of at most 19 digits, where it is for messages, whether the
 * takeover is done, and self-fencing (Fence.check) as a guard's `check()`.
 */
export abstract class EpochFenceBase {
  protected readonly ours: bigint;
  protected readonly site: FenceSite;
  protected taken = false;

  protected constructor(protected readonly leadership: Fence, syncId: string, where: string) {
    if (!/^\d{1,19}$/.test(leadership.epoch)) {
      throw new TributaryError(ErrorCode.INTERNAL, `fence epoch '${leadership.epoch}' of sync '${syncId}' is not a decimal integer of at most 19 digits`);
    }
    this.ours = BigInt(leadership.epoch);
    this.site = { syncId, where };
  }

  /** The takeover waits for ensureSchema: nothing of this sync was on the target at lock(). */
  get pending(): boolean {
    return !this.taken;
  }

  /** Self-fencing (Fence.check): rejects once the leadership may have ended by this process's clock. */
  check(): Promise<void> {
    try {
      this.leadership.check();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }
}

/**
 * Why a plain instance (without --coordinator) is refused on a sync whose target holds a fence
 * record (`record`, its text; undefined or epoch 0: none, and no refusal):
 * standby instances run it, and a plain one would write beside their leader (it takes the target's
 * own lock, which a leader does not hold). `remove` is how the record is deleted on this target,
 * for an operator who stopped every coordinated instance and runs the sync alone from now on.
 */
export function coordinatedRefusal(site: FenceSite, record: string | undefined, remove: string): TributaryError | undefined {
  const stored = record === undefined ? 0n : parseEpoch(record, site);
  if (stored === 0n) return undefined;
  return new TributaryError(
    ErrorCode.ALREADY_RUNNING,
    `${site.where}: sync '${site.syncId}' is run by standby instances (--coordinator; its fence record holds epoch ${stored}), and an instance without --coordinator would write beside their leader; start this one with the same --coordinator, or, to run the sync without coordination from now on, stop every coordinated instance and delete the record: ${remove}`,
  );
}

/**
 * A takeover refused while an instance without --coordinator holds the target's own lock of the
 * sync (a plain `sync`, a `verify --repair`): it would write beside the leader. Retryable: the
 * leader tries again (with backoff) and takes over once that instance is gone.
 */
export function plainHolderRefusal(site: FenceSite, holder: string): TributaryError {
  return new TributaryError(
    ErrorCode.ALREADY_RUNNING,
    `${site.where}: sync '${site.syncId}' is held by an instance without --coordinator (${holder} holds its lock on the target); this leader takes it over once that instance stops: stop it, or start it with the same --coordinator`,
    { fatal: false },
  );
}
