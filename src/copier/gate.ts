import type { Change } from '../core/change.js';
import { keyString } from '../core/values.js';

/** A stream operation held back by the copy: a row change, or a table truncation. */
export type StreamOp = Change | { readonly kind: 'truncate'; readonly table: string };

interface Held {
  readonly op: StreamOp;
  /** The last chunk issued when the op arrived: it may overlap any chunk up to this one. */
  readonly tag: number;
  /** Index of the last source transaction boundary before the op (its resume point). */
  readonly boundary: number;
}

/**
 * The convergence rule of DESIGN.md for one table. While any chunk of the table is being read or
 * written, a stream change is *held* and applied only after every chunk that was in flight when
 * it arrived has been written; otherwise it is *applied* at once. Once a change is held, later
 * changes of the table queue behind it, so stream order per key is kept. Holding is always safe
 * whatever the key type and collation, because chunks are written with REPLACE semantics; this
 * gate never drops (dropping is only an optimisation).
 */
export class TableGate {
  private issued = 0;
  private completedUpTo = 0;
  private readonly completed = new Set<number>();
  private readonly held: Held[] = [];
  private inFlight = 0;

  /** Marks a chunk as started. Must be called before the chunk's rows are read. */
  startChunk(): number {
    this.inFlight++;
    return ++this.issued;
  }

  /** Marks a chunk as written (committed) and returns the ops it releases, in stream order. */
  finishChunk(seq: number): StreamOp[] {
    this.inFlight--;
    this.completed.add(seq);
    while (this.completed.has(this.completedUpTo + 1)) {
      this.completed.delete(this.completedUpTo + 1);
      this.completedUpTo++;
    }
    return this.release();
  }

  /** A chunk that will not be written (its copy failed); it no longer holds anything back. */
  abandonChunk(seq: number): StreamOp[] {
    return this.finishChunk(seq);
  }

  /** True when the op must wait; the gate keeps it. False means: apply it now. */
  offer(op: StreamOp, boundary: number): boolean {
    if (this.held.length === 0 && this.inFlight === 0) return false;
    this.held.push({ op, tag: this.issued, boundary });
    return true;
  }

  private release(): StreamOp[] {
    let n = 0;
    while (n < this.held.length && (this.held[n] as Held).tag <= this.completedUpTo) n++;
    return n === 0 ? [] : this.held.splice(0, n).map((h) => h.op);
  }

  /**
   * Keys (keyString of the source's key values) of the row changes held now, and whether a
   * truncation is among them: rows the stream is about to change, which a comparison made while
   * they are held must not call different.
   */
  heldKeys(): { keys: Set<string>; truncate: boolean } {
    const keys = new Set<string>();
    let truncate = false;
    for (const h of this.held) {
      if (h.op.kind === 'truncate') truncate = true;
      else keys.add(keyString(h.op.key));
    }
    return { keys, truncate };
  }

  /** Boundary index of the oldest held op, or undefined when nothing is held. */
  oldestBoundary(): number | undefined {
    return this.held[0]?.boundary;
  }

  get heldCount(): number {
    return this.held.length;
  }
}

/** The gates of all tables being copied, and the stream's view of them. */
export class Convergence {
  private readonly gates = new Map<string, TableGate>();

  gate(table: string): TableGate {
    let g = this.gates.get(table);
    if (!g) this.gates.set(table, (g = new TableGate()));
    return g;
  }

  /** True when the op is held by its table's gate. */
  offer(op: StreamOp, boundary: number): boolean {
    const g = this.gates.get(op.table);
    return g ? g.offer(op, boundary) : false;
  }

  oldestBoundary(): number | undefined {
    let min: number | undefined;
    for (const g of this.gates.values()) {
      const b = g.oldestBoundary();
      if (b !== undefined && (min === undefined || b < min)) min = b;
    }
    return min;
  }

  get heldCount(): number {
    let n = 0;
    for (const g of this.gates.values()) n += g.heldCount;
    return n;
  }
}
