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
