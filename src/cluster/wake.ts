/**
 * A loop's doorbell: `ring()` (a watch saw a write) ends the current `wait()` early; a ring while
 * nothing waits is kept for the next wait, so no change is missed between two reads.
 */
export class Wake {
  private rung = false;
  private resolve: (() => void) | undefined;

  ring(): void {
    this.rung = true;
    this.resolve?.();
  }

  /** Waits `ms`, or until a ring, the signal aborts, or `also` settles; at least `minMs` (rings coalesce). */
  async wait(ms: number, signal: AbortSignal, also?: Promise<unknown>, minMs = 200): Promise<void> {
    await new Promise<void>((r) => setTimeout(r, minMs));
    if (this.rung || signal.aborted) {
      this.rung = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.resolve = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms - minMs));
      signal.addEventListener('abort', done, { once: true });
      this.resolve = done;
      void also?.then(done, done);
    });
    this.rung = false;
  }
}
