/**
 * Each key's last writer among the transactions of a Pipeline in flight, by the key's hash
 * (apply.ts keyHash, 31 bits, never negative): an open-addressing table (linear probing,
 * deletion by backward shift) in a typed array of hashes beside an array of writers, allocated
 * once and grown (doubled) only while more than half full.
 *
 * Why not a Map: a Map that gains a key and loses one for every change streamed reallocates its
 * table as it grows and shrinks, and a table that lives as long as the pipeline is promoted out of
 * the young generation each time; those tables were the largest share of what the applying thread
 * promoted (bench/README.md, 2026-12-07: a heap sampling that keeps what survives a scavenge).
 *
 * What must hold: get(h) is the writer last set for h and not deleted since; deleteIf(h, w)
 * removes h only while its writer is w (a later writer of the key keeps it).
 */
export class KeyWriters<W extends object> {
  private hashes: Int32Array;
  private writers: (W | undefined)[];
  private mask: number;
  private count = 0;

  constructor(capacity = 1 << 12) {
    const size = 1 << Math.ceil(Math.log2(Math.max(8, capacity)));
    this.hashes = new Int32Array(size).fill(-1);
    this.writers = new Array<W | undefined>(size).fill(undefined);
    this.mask = size - 1;
  }

  /** Keys with a writer. */
  get size(): number {
    return this.count;
  }

  get(hash: number): W | undefined {
    const { hashes, mask } = this;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const h = hashes[i] as number;
      if (h === hash) return this.writers[i];
      if (h === -1) return undefined;
    }
  }

  set(hash: number, writer: W): void {
    if ((this.count + 1) * 2 > this.hashes.length) this.grow();
    const { hashes, mask } = this;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const h = hashes[i] as number;
      if (h === hash) {
        this.writers[i] = writer;
        return;
      }
      if (h === -1) {
        hashes[i] = hash;
        this.writers[i] = writer;
        this.count++;
        return;
      }
    }
  }

  /** Removes `hash` if its writer is `writer`. */
  deleteIf(hash: number, writer: W): void {
    const { hashes, mask } = this;
    let i = hash & mask;
    for (; ; i = (i + 1) & mask) {
      const h = hashes[i] as number;
      if (h === -1) return;
      if (h === hash) break;
    }
    if (this.writers[i] !== writer) return;
    // Backward shift: each entry after the hole that may sit in it (its home at or before the hole,
    // cyclically) moves into it, until an empty slot.
    let hole = i;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const h = hashes[j] as number;
      if (h === -1) break;
      const home = h & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        hashes[hole] = h;
        this.writers[hole] = this.writers[j];
        hole = j;
      }
    }
    hashes[hole] = -1;
    this.writers[hole] = undefined;
    this.count--;
  }

  clear(): void {
    this.hashes.fill(-1);
    this.writers.fill(undefined);
    this.count = 0;
  }

  private grow(): void {
    const { hashes, writers } = this;
    this.hashes = new Int32Array(hashes.length * 2).fill(-1);
    this.writers = new Array<W | undefined>(hashes.length * 2).fill(undefined);
    this.mask = this.hashes.length - 1;
    this.count = 0;
    for (let i = 0; i < hashes.length; i++) if ((hashes[i] as number) !== -1) this.set(hashes[i] as number, writers[i] as W);
  }
}
