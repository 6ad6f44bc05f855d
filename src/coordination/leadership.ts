import type { TributaryError } from '../core/errors.js';
import type { Fence } from '../core/target-writer.js';

/** An instance of a sync that campaigns (coordinator mode), as `/status` and `members()` list it. */
export interface Member {
  /** Its campaign key's id in the coordinator (unique per campaign). */
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  /** Its HTTP API's address (--http), when it serves one. */
  readonly http?: string;
  /** When it began campaigning (ISO 8601). */
  readonly since: string;
  /** It leads the sync: its campaign is the oldest. */
  readonly leader: boolean;
  /** The epoch it has (or will have) as leader: its campaign key's create revision. */
  readonly epoch: string;
}

/**
 * This instance's leadership of a sync, once its campaign won, and its fence (core/target-writer.ts
 * Fence: the epoch every target write compares, and the self-fencing `check()`).
 *
 * Contract: `epoch` is greater than the epoch of every earlier leadership of the sync. The
 * leadership ends when its lease is lost or may have expired by this process's monotonic clock
 * (then `ended` resolves with TRIB_LOCK_LOST, retryable, and `check()` throws it), or on
 * `resign()`; from then on `check()` throws. `resign()` lets a standby win at once (it deletes the
 * campaign and revokes the lease), never throws, and may be called more than once.
 */
export interface Leadership extends Fence {
  /** Resolves (never rejects) once the leadership ended: with why when it was lost, undefined after resign(). */
  readonly ended: Promise<TributaryError | undefined>;
  /** True once it ended. */
  readonly over: boolean;
  resign(): Promise<void>;
}

/**
 * The election of one sync's instances in a coordination service (etcd: engines/etcd/election.ts).
 *
 * Contract: `campaign()` resolves once this instance leads (it stands by until then), with a
 * Leadership whose epoch is greater than any before it; it rejects with AbortedError when `signal`
 * aborts, and with a TributaryError naming the coordinator when it cannot be reached after bounded
 * retries. At most one Leadership of a sync is not over at any time, as the coordinator sees it;
 * an instance that still believes it leads after its lease expired unseen is stopped by the fence.
 */
export interface Coordinator {
  /** 'coordinator etcd://h1:2379/prefix', for messages (never a password). */
  readonly where: string;
  /** The lease's time to live, in seconds: how long a leader that stopped renewing keeps its leadership. */
  readonly ttlSeconds: number;
  campaign(signal: AbortSignal): Promise<Leadership>;
  /** Every instance campaigning for the sync now, the leader first. */
  members(): Promise<Member[]>;
  /** Ends any campaign and the connection; never throws. */
  close(): Promise<void>;
}
