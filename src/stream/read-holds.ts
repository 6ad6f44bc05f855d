/**
 * A replication reader paused for several reasons at once: the bounded queue above its bound, a
 * statement whose tables are being described while the events after it wait. Each reason holds it
 * and releases it on its own; it reads again only once no reason holds it (a queue drained while a
 * description is under way must not let events be parsed before their definitions are known, and a
 * description done while the queue is full must not read past the queue's bound).
 */
export class ReadHolds<R extends string> {
  private readonly held = new Set<R>();

  /** `pause`/`resume` act on the reader (either may find no reader yet, and do nothing then). */
  constructor(private readonly reader: { pause(): void; resume(): void }) {}

  /** Pauses the reader for `reason` (again, if it is held already: a reader may have been replaced). */
  hold(reason: R): void {
    this.held.add(reason);
    this.reader.pause();
  }

  /** Drops `reason`'s hold; the reader resumes when that was the last one. Releasing a reason that does not hold it does nothing. */
  release(reason: R): void {
    if (!this.held.delete(reason)) return;
    if (this.held.size === 0) this.reader.resume();
  }

  /** Whether any reason holds the reader. */
  get holding(): boolean {
    return this.held.size > 0;
  }
}
