import type { Phase, Progress } from '../runner/progress.js';

/** One sample of the figures the dashboard charts (GET /history). */
export interface HistorySample {
  /** When it was taken, in milliseconds since the epoch (the server's clock). */
  readonly at: number;
  readonly phase: Phase;
  readonly lagSeconds: number;
  readonly changesPerSecond: number;
  readonly copyRowsPerSecond: number;
}

/** The JSON of GET /history: the samples oldest first, and the server's clock when answered. */
export interface HistoryJson {
  readonly now: number;
  readonly intervalSeconds: number;
  readonly samples: readonly HistorySample[];
}

/**
 * A fixed-size ring of samples, so that a dashboard opened late still shows the last minutes.
 * Memory is bounded by `capacity` whatever the run's length; the oldest sample is dropped first.
 */
export class History {
  private readonly ring: (HistorySample | undefined)[];
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`history capacity ${capacity} is not a positive integer`);
    this.ring = new Array<HistorySample | undefined>(capacity);
  }

  add(p: Pick<Progress, 'phase' | 'lagSeconds' | 'changesPerSecond' | 'copyRowsPerSecond'>, at = Date.now()): void {
    this.ring[this.next] = { at, phase: p.phase, lagSeconds: round(p.lagSeconds), changesPerSecond: round(p.changesPerSecond), copyRowsPerSecond: round(p.copyRowsPerSecond) };
    this.next = (this.next + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
  }

  /** The samples, oldest first. */
  list(): HistorySample[] {
    const out: HistorySample[] = [];
    for (let i = 0; i < this.size; i++) {
      const s = this.ring[(this.next - this.size + i + this.capacity) % this.capacity];
      if (s) out.push(s);
    }
    return out;
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
