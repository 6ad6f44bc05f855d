/**
 * The bounded hand-off between a replication client that pushes events (zongji, pgoutput) and the
 * async iterator the applier pulls from. Above `maxBytes` of queued events it calls `pause()` (stop
 * reading the socket); once the consumer has drained it to half, `resume()`. A producer may also
 * have its reads paced, one per turn of the event loop (paceRead). The first failure is
 * kept and thrown once the events queued before it have been taken.
 *
 * A failure ends delivery at the failed event: whatever a producer pushes after `fail()` is dropped,
 * never handed out. A replication client goes on emitting events after one of them failed to decode;
 * handing those out would let a later commit be applied and checkpointed past the failed change,
 * which a restart from that checkpoint would then skip.
 */
export class EventQueue<T> {
  private items: ({ value: T; bytes: number } | undefined)[] = [];
  private head = 0;
  private queued = 0;
  private paused = false;
  /** Paused by paceRead until the next turn of the event loop. */
  private pacing = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly opts: { readonly maxBytes: number; pause(): boolean; resume(): void }) {}

  push(value: T, bytes: number): void {
    if (this.failure) return;
    this.items.push({ value, bytes });
    this.queued += bytes;
    if (!this.paused && this.queued > this.opts.maxBytes) this.paused = this.opts.pause();
    this.notify();
  }

  /**
   * The producer handled one read of its socket: it stops reading until the next turn of the event
   * loop (pause(), then resume() from setImmediate unless the queue is above its bound by then).
   * For a producer on the consumer's thread: a turn of the event loop otherwise handles every read
   * the socket has at hand (libuv takes up to 32 of 64 KiB at once), milliseconds in which
   * nothing else on the thread runs, such as the replies of the target to the batch the consumer
   * is landing (bench/README.md). Producers that never call it are never paced.
   */
  paceRead(): void {
    if (this.pacing || this.failure) return;
    this.pacing = this.opts.pause();
    if (!this.pacing) return;
    setImmediate(() => {
      this.pacing = false;
      if (!this.paused) this.opts.resume();
    });
  }

  /** Records a failure (the first one wins) and wakes the consumer. */
  fail(err: Error): void {
    this.failure ??= err;
    this.notify();
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Wakes a waiting consumer (e.g. on abort). */
  notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /**
   * The events queued now, in order, at least one and at most `max` (waiting for one); undefined
   * once `stop()` says so; throws a recorded failure once the events queued before it are taken.
   */
  async takeRun(stop: () => boolean, max = RUN_EVENTS): Promise<T[] | undefined> {
    for (;;) {
      if (stop()) return undefined;
      if (this.head < this.items.length) {
        const out: T[] = [];
        while (out.length < max && this.head < this.items.length) {
          const item = this.items[this.head] as { value: T; bytes: number };
          // A moving head: Array.shift() copies the whole array and made a backlog replay quadratic.
          this.items[this.head++] = undefined;
          this.queued -= item.bytes;
          out.push(item.value);
        }
        if (this.head > 4096 && this.head * 2 > this.items.length) {
          this.items = this.items.slice(this.head);
          this.head = 0;
        }
        if (this.paused && this.queued < this.opts.maxBytes / 2) {
          this.paused = false;
          if (!this.pacing) this.opts.resume();
        }
        return out;
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

/**
 * The most events a producer hands its consumer in one run (ChangeLog.stream): enough to spare the
 * consumer an asynchronous step per event, few enough that a run's decoded events stay small.
 */
export const RUN_EVENTS = 512;
