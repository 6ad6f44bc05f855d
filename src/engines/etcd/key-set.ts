/**
 * The keys an OpBuffer gathers for its next transaction, by their hash (apply.ts keyHash, 31
 * bits, never negative): an open-addressing table (linear probing) whose slots are stamped with a
 * generation, so that clear() is one increment, beside the list of the hashes in the order added.
 * Both are allocated once and grown (doubled) only while the table is more than half full.
 *
 * Why not a Set: a Set cleared for every transaction is given a new table and grows it again as
 * the transaction's keys are added, and those tables were what the applying thread promoted most
 * after the pipeline's (bench/README.md, 2026-12-07: a heap sampling that keeps what survives a
 * scavenge).
 *
 * What must hold: has(h) is whether h was added since the last clear(); hashes() is each hash added
 * since then once, in the order first added, as an array of its own.
 */
export class KeySet {
  private slots: Int32Array;
  /** The generation each slot was filled in; a slot is full only while it holds the current one. */
  private stamps: Uint32Array;
  private list: Int32Array;
  private count = 0;
  private mask: number;
  private generation = 1;

  constructor(capacity = 256) {
    const size = 1 << Math.ceil(Math.log2(Math.max(8, capacity)));
    this.slots = new Int32Array(size);
    this.stamps = new Uint32Array(size);
    this.list = new Int32Array(size >>> 1);
    this.mask = size - 1;
  }

  /** Hashes added since the last clear(). */
  get size(): number {
    return this.count;
  }

  has(hash: number): boolean {
    const { slots, stamps, mask, generation } = this;
    for (let i = hash & mask; stamps[i] === generation; i = (i + 1) & mask) if (slots[i] === hash) return true;
    return false;
  }

  add(hash: number): void {
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    const { slots, stamps, mask, generation } = this;
    let i = hash & mask;
    for (; stamps[i] === generation; i = (i + 1) & mask) if (slots[i] === hash) return;
    slots[i] = hash;
    stamps[i] = generation;
    this.list[this.count++] = hash;
  }

  /** The hashes added since the last clear(), in the order first added: a copy, the set's own to reuse. */
  hashes(): Int32Array {
    return this.list.slice(0, this.count);
  }

  clear(): void {
    this.count = 0;
    if (++this.generation > 0xffffffff) {
      this.stamps.fill(0);
      this.generation = 1;
    }
  }

  private grow(): void {
    const had = this.list.subarray(0, this.count);
    const size = this.slots.length * 2;
    this.slots = new Int32Array(size);
    this.stamps = new Uint32Array(size);
    this.list = new Int32Array(size >>> 1);
    this.mask = size - 1;
    this.generation = 1;
    this.count = 0;
    for (const h of had) this.add(h);
  }
}
