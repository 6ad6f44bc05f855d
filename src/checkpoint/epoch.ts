import { ErrorCode, TributaryError } from '../core/errors.js';

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
  /**
   * Ends the sessions that hold what the takeover waits for now (the engine's own lock-wait view
   * and kill), reporting each; never throws for one it cannot end (another user's, without the
   * privilege: that one is waited for).
   */
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

/** The warning a breaker logs for a session it ended. */
export function endedBlocker(syncId: string, session: string, afterMs: number): string {
  return `taking sync ${syncId} over: ${session} held its fence record longer than ${afterMs} ms (an older leadership's commit in flight, paused or cut off): ended it; its transaction rolls back and this leadership redoes it from the checkpoint`;
}
