/**
 * A token bucket of rows per second shared by every copy worker (`copyRateLimit`). A worker takes
 * a chunk's planned row count before it claims the chunk and gives back what the chunk did not
 * use, so the copy stays under the limit on average however many threads run.
 *
 * The bucket starts empty and holds at most one second of tokens: a copy never bursts beyond one
 * second's worth, not even after a pause. A take may run the bucket into debt; the taker then
 * waits until the debt is paid, and later takers queue behind it, each waiting for its own share.
 */
export class RowRateLimiter {
  /** Rows per second. */
  readonly rate: number;
  private tokens = 0;
  private last: number;

  constructor(rate: number, private readonly now: () => number = Date.now) {
    if (!(rate > 0)) throw new RangeError(`rate must be positive, got ${rate}`);
    this.rate = rate;
    this.last = now();
  }

  /** The most rows one chunk may plan for: about one second of the limit. */
  get maxChunk(): number {
    return Math.max(1, Math.floor(this.rate));
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.rate, this.tokens + ((t - this.last) * this.rate) / 1000);
    this.last = t;
  }

  /** Takes `rows` tokens, resolving once they are paid for (at once when the bucket holds them) or `signal` aborts. */
  async take(rows: number, signal?: AbortSignal): Promise<void> {
    this.refill();
    this.tokens -= rows;
    if (this.tokens >= 0) return;
    await delay((-this.tokens * 1000) / this.rate, signal);
  }

  /** Gives back tokens taken for rows a chunk did not hold (its last chunk, a chunk that failed). */
  refund(rows: number): void {
    if (rows <= 0) return;
    this.refill();
    this.tokens = Math.min(this.rate, this.tokens + rows);
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
