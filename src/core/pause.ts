/**
 * A pause switch shared by the parts of a sync that do work in steps (the copier between chunks,
 * the applier between events). Pausing never interrupts a step: each part checks the gate at its
 * own safe point, so a paused sync holds no lock and leaves nothing half-written. Resuming wakes
 * every waiter at once.
 */
export class PauseGate {
  private resumed: Promise<void> | undefined;
  private release: (() => void) | undefined;

  get paused(): boolean {
    return this.resumed !== undefined;
  }

  /** Returns false when already paused. */
  pause(): boolean {
    if (this.resumed) return false;
    this.resumed = new Promise((r) => (this.release = r));
    return true;
  }

  /** Returns false when not paused. */
  resume(): boolean {
    if (!this.resumed) return false;
    const release = this.release;
    this.resumed = undefined;
    this.release = undefined;
    release?.();
    return true;
  }

  /** Resolves at once when not paused, else on resume() or when `signal` aborts. Never rejects. */
  wait(signal?: AbortSignal): Promise<void> {
    const resumed = this.resumed;
    if (!resumed || signal?.aborted) return Promise.resolve();
    if (!signal) return resumed;
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      void resumed.then(done);
    });
  }
}
