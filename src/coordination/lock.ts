import type { LockWatch, TargetWriter } from '../core/target-writer.js';
import type { Leadership } from './leadership.js';

export type { LockWatch };

/**
 * A sync's exclusive right to write its target: one instance per sync id at a time. Whoever holds
 * it may write; an instance that loses it must commit nothing more (fencing). Today's only
 * implementation is the target's own lock (`targetLock`: MySQL GET_LOCK, a PostgreSQL advisory
 * lock, verified inside every commit's transaction); an etcd lease with an epoch checked by each
 * write is the next, for standbys and a cluster of workers.
 *
 * Contract: `acquire()` throws ALREADY_RUNNING when another holder has it, and returns once no
 * write of a previous holder can still commit. From then until `release()`, a loss is reported once
 * to `watch.onLost` (TRIB_LOCK_LOST; fatal unless every session of the previous holder is known to
 * have ended), and writes fenced by the lock fail. `release()` never throws.
 */
export interface SyncLock {
  acquire(watch?: LockWatch): Promise<void>;
  release(): Promise<void>;
}

/**
 * The target's own lock as a SyncLock: held by a session of the target's, checked inside each of
 * its commits, released when the target closes (so `release()` leaves that to `close()`).
 */
export function targetLock(target: Pick<TargetWriter, 'lock'>): SyncLock {
  return {
    acquire: (watch) => target.lock(watch),
    release: async () => undefined,
  };
}

/**
 * A leadership (coordinator mode) as the sync's SyncLock: the target is taken over for the
 * leadership's epoch (TargetWriter.lock with a fence) instead of its own lock, and the end of the
 * leadership (a lost or expired lease) is reported to `watch.onLost` as the loss of the lock.
 * `release()` leaves the leadership to its owner (the runner resigns it).
 */
export function fencedLock(target: Pick<TargetWriter, 'lock'>, leadership: Leadership): SyncLock {
  return {
    async acquire(watch) {
      await target.lock(watch, leadership);
      void leadership.ended.then((err) => {
        if (err) watch?.onLost?.(err);
      });
    },
    release: async () => undefined,
  };
}
