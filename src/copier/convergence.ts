import type { Change } from '../core/change.js';
import { keyString, rowBytes } from '../core/values.js';
import { wakeAll, waitFor } from './waiters.js';

/** A stream operation held back by the copy: a row change, or a table truncation. */
export type StreamOp = Change | { readonly kind: 'truncate'; readonly table: string };

/**
 * Approximate bytes a stream op takes in memory (its values, plus the object and map entry around
 * them), as the gates and the applier's batch count it against `--buffer-mb`.
 */
export function opBytes(op: StreamOp): number {
  if (op.kind === 'upsert') return 64 + (op.doc ? op.doc.length + rowBytes(op.key) : rowBytes(op.row));
  if (op.kind === 'delete') return 64 + rowBytes(op.key);
  return 64;
}

interface Held {
  readonly op: StreamOp;
  /** The last chunk issued when the op arrived: it may overlap any chunk up to this one. */
  readonly tag: number;
  /** Index of the last source transaction boundary before the op (its resume point). */
  readonly boundary: number;
  readonly bytes: number;
}

/** What a gate tells the Convergence it belongs to. */
interface GateOwner {
  heldBytesChanged(delta: number): void;
  chunkEnded(): void;
}

/**
 * The convergence rule of DESIGN.md for one table. While any chunk of the table is being read or
 * written, a stream change is *held* and applied only after every chunk that was in flight when
 * it arrived has been written; otherwise it is *applied* at once. Once a change is held, later
 * changes of the table queue behind it, so stream order per key is kept. Holding is always safe
 * whatever the key type and collation, because chunks are written with REPLACE semantics; this
 * gate never drops (dropping is only an optimisation).
 *
 * The gate also keeps the stream's open target transaction and the table's chunks from waiting on
 * each other's row locks (see Convergence): a chunk starts only when `mayStartChunk()`, and the
 * stream writes the table inside a transaction it keeps open (a spilled source transaction) only
 * when `claimForStream()` said yes.
 */
export class TableGate {
  private issued = 0;
  private completedUpTo = 0;
  private readonly completed = new Set<number>();
  private readonly held: Held[] = [];
  private inFlight = 0;
  private bytes = 0;
  /** The stream's open target transaction has written rows of this table (not committed yet). */
  private written = false;
  /** The stream must write this table to stay within its buffer: no new chunk may start. */
  private wanted = false;
  /** holdUntilCopied(): every op is held, chunk in flight or not, until a chunk is written. */
  private waitingForCopy = false;
  private readonly owner: GateOwner | undefined;

  constructor(owner?: GateOwner) {
    this.owner = owner;
  }

  /**
   * Holds every change of the table from now on, even before a chunk starts, until its next chunk
   * is written (finishChunk), then releases them all in stream order. For a table without a key:
   * it is copied whole, in one chunk read at the stream's start position, and any change of it
   * reaching the target before that chunk would be applied twice (an insert the chunk brings
   * again) or to a row not there yet (a delete that finds nothing). Call it before the stream runs.
   */
  holdUntilCopied(): void {
    this.waitingForCopy = true;
  }

  /** Marks a chunk as started. Must be called before the chunk's rows are read. */
  startChunk(): number {
    this.inFlight++;
    return ++this.issued;
  }

  /** Marks a chunk as written (committed) and returns the ops it releases, in stream order. */
  finishChunk(seq: number): StreamOp[] {
    this.inFlight--;
    this.waitingForCopy = false;
    this.completed.add(seq);
    while (this.completed.has(this.completedUpTo + 1)) {
      this.completed.delete(this.completedUpTo + 1);
      this.completedUpTo++;
    }
    const released = this.release();
    this.owner?.chunkEnded();
    return released;
  }

  /** A chunk that will not be written (its copy failed); it no longer holds anything back. */
  abandonChunk(seq: number): StreamOp[] {
    return this.finishChunk(seq);
  }

  /** True when the op must wait; the gate keeps it. False means: apply it now. */
  offer(op: StreamOp, boundary: number): boolean {
    if (this.held.length === 0 && this.inFlight === 0 && !this.waitingForCopy) return false;
    const bytes = opBytes(op);
    this.held.push({ op, tag: this.issued, boundary, bytes });
    this.bytes += bytes;
    this.owner?.heldBytesChanged(bytes);
    return true;
  }

  private release(): StreamOp[] {
    let n = 0;
    let bytes = 0;
    while (n < this.held.length && (this.held[n] as Held).tag <= this.completedUpTo) bytes += (this.held[n++] as Held).bytes;
    if (n === 0) return [];
    this.bytes -= bytes;
    this.owner?.heldBytesChanged(-bytes);
    return this.held.splice(0, n).map((h) => h.op);
  }

  /**
   * Whether a chunk of this table may start now: not while the stream's open transaction has
   * written rows of the table (the chunk's write would wait on their row locks until that
   * transaction commits) nor while the stream waits to write them. Check it in the same turn of
   * the event loop as startChunk(), with no await between.
   */
  mayStartChunk(): boolean {
    return !this.written && !this.wanted;
  }

  /**
   * The stream asks to write this table inside a transaction it keeps open. Yes (true) when no
   * chunk is in flight: from then on no chunk starts until the stream's transaction ends. No
   * (false) while a chunk is in flight; with `insist`, no new chunk starts either, so the stream
   * may ask again once the chunks in flight are written (Convergence.nextChunkEnd).
   */
  claimForStream(insist = true): boolean {
    if (this.inFlight > 0) {
      if (insist) this.wanted = true;
      return false;
    }
    this.written = true;
    this.wanted = false;
    return true;
  }

  /** True while the stream's open transaction has written rows of this table (claimForStream said yes). */
  get claimedByStream(): boolean {
    return this.written;
  }

  /** The stream's open transaction ended (committed or rolled back): chunks may start again. */
  streamEnded(): void {
    this.written = false;
    this.wanted = false;
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

  /** Bytes of the ops held now (opBytes). */
  get heldBytes(): number {
    return this.bytes;
  }

  /** Chunks started and not yet written or abandoned. */
  get chunksInFlight(): number {
    return this.inFlight;
  }
}

/**
 * The gates of all tables being copied, and the stream's view of them.
 *
 * Held changes count against the stream's buffer like pending ones (`heldBytes`): when the two
 * together reach its bound the applier stops taking events from the source (whose bounded queue
 * then pauses the connection) until chunks are written and their held changes can be applied.
 * That wait must end, so the stream and the copy must never wait on each other's target row
 * locks. A chunk is short and commits on its own; the danger is the stream's transaction, which
 * stays open across events while a big source transaction is written in pieces (a spill) and only
 * commits at the source transaction's end, which a stalled stream never reads. Hence two rules,
 * per table, both kept here:
 * - the stream writes a table inside an open transaction only while no chunk of it is in flight
 *   (`claimForStream`); its changes that arrive while a chunk is in flight are held anyway;
 * - no chunk of a table starts while the stream's open transaction has written it, or waits to
 *   (`mayStartChunk`, `streamEnded`): the copier waits for that transaction to end, which a stream
 *   that holds no change of the table reaches without any help from the copy.
 * The stream's final write before a commit needs no claim: it commits at once, so a chunk it
 * makes wait is not kept waiting on anything that waits for the chunk.
 */
export class Convergence {
  private readonly gates = new Map<string, TableGate>();
  private bytes = 0;
  private chunkWaiters: (() => void)[] = [];
  private streamWaiters: (() => void)[] = [];
  private readonly owner: GateOwner = {
    heldBytesChanged: (delta) => (this.bytes += delta),
    chunkEnded: () => wakeAll(this.chunkWaiters.splice(0)),
  };

  gate(table: string): TableGate {
    let g = this.gates.get(table);
    if (!g) this.gates.set(table, (g = new TableGate(this.owner)));
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

  /** Bytes of every op held now, all tables together. */
  get heldBytes(): number {
    return this.bytes;
  }

  /**
   * See TableGate.claimForStream. A table no chunk has touched yet gets its gate now, so that a
   * copy that reaches it later waits for the stream's transaction too.
   */
  claimForStream(table: string, insist = true): boolean {
    return this.gate(table).claimForStream(insist);
  }

  /** True while the stream's open transaction has written rows of `table`. */
  claimedByStream(table: string): boolean {
    return this.gates.get(table)?.claimedByStream ?? false;
  }

  /** The stream's open transaction ended (committed or rolled back): chunks may start again. */
  streamEnded(): void {
    for (const g of this.gates.values()) g.streamEnded();
    wakeAll(this.streamWaiters.splice(0));
  }

  /**
   * Resolves once a chunk of `table` may start (TableGate.mayStartChunk), or `signal` aborted;
   * the caller checks mayStartChunk() again right before startChunk().
   */
  async chunkMayStart(table: string, signal: AbortSignal): Promise<void> {
    const g = this.gate(table);
    while (!g.mayStartChunk() && !signal.aborted) await waitFor(this.streamWaiters, signal);
  }

  /** Resolves at the next end of a chunk of any table (written or abandoned), or when `signal` aborts. */
  nextChunkEnd(signal?: AbortSignal): Promise<void> {
    return waitFor(this.chunkWaiters, signal);
  }
}
