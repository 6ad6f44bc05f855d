import { performance } from 'node:perf_hooks';
import type { Lease } from 'etcd3';

/**
 * How long an etcd lease surely holds, by this process's monotonic clock: from when each answered
 * keepalive was *sent* (the server extends the lease from when it receives it, never earlier) plus
 * the TTL, less a margin (a tenth of the TTL, at least 200 ms). Past it the lease may have expired
 * on the server, whether or not etcd answered: `onExpired` is called once (checked every 100 ms),
 * and `expired()` says so. A keepalive stream that hangs (a partition that drops packets) answers
 * nothing and never errors, so the lease's own 'lost' event may never come; this does.
 */
export class LeaseClock {
  private validUntil: number;
  /** When each keepalive not answered yet was sent, oldest first (the stream answers them in order). */
  private fired: number[] = [];
  private readonly timer: NodeJS.Timeout;
  private done = false;

  /** `sentAt`: when the lease's grant was sent (performance.now()). */
  constructor(
    lease: Lease,
    private readonly ttlMs: number,
    sentAt: number,
    private readonly onExpired: () => void,
  ) {
    this.validUntil = this.deadlineFrom(sentAt);
    // An answer extends the lease from when *its* keepalive was sent, not a later one still unanswered.
    lease.on('keepaliveFired', () => this.fired.push(performance.now()));
    lease.on('keepaliveSucceeded', () => {
      const sent = this.fired.shift();
      if (sent !== undefined) this.validUntil = Math.max(this.validUntil, this.deadlineFrom(sent));
    });
    // A failed keepalive stream is torn down: what it had sent is never answered.
    lease.on('keepaliveFailed', () => (this.fired = []));
    this.timer = setInterval(() => {
      if (this.expired()) this.stop(true);
    }, 100);
    this.timer.unref();
  }

  /** The margin kept before the lease's earliest possible expiry. */
  get marginMs(): number {
    return Math.max(200, this.ttlMs / 10);
  }

  /** Whether the lease may have expired by now. */
  expired(): boolean {
    return performance.now() > this.validUntil;
  }

  /** Stops watching; `onExpired` is not called after this. */
  stop(expired = false): void {
    if (this.done) return;
    this.done = true;
    clearInterval(this.timer);
    if (expired) this.onExpired();
  }

  private deadlineFrom(sent: number): number {
    return sent + this.ttlMs - this.marginMs;
  }
}
