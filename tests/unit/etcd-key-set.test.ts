import { describe, expect, it } from 'vitest';
import { KeySet } from '../../src/engines/etcd/key-set.js';

describe('etcd KeySet (the key hashes an OpBuffer gathers for a transaction)', () => {
  it('agrees with a Set under random adds and clears, through collisions, wrap-around and growth', () => {
    // A small table and hashes crowded onto few slots: long probe runs, wrapping past the end.
    const set = new KeySet(8);
    let model = new Set<number>();
    let seed = 4242;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed % n;
    };
    const hashes = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? (i << 10) | 7 : (i * 2654435761) >>> 1));
    hashes.push(0, 0x7fffffff);
    for (let step = 0; step < 30_000; step++) {
      const h = hashes[rand(hashes.length)] as number;
      // Transactions of a few keys mostly, now and then one of hundreds (the table grows).
      if (rand(rand(2) === 0 ? 6 : 400) === 0) {
        expect([...set.hashes()]).toEqual([...model]);
        set.clear();
        model = new Set();
      } else {
        set.add(h);
        model.add(h);
      }
      expect(set.size).toBe(model.size);
      if (step % 53 === 0) for (const k of hashes) expect(set.has(k)).toBe(model.has(k));
    }
    expect([...set.hashes()]).toEqual([...model]);
  });

  it('gives each transaction its own copy of the hashes', () => {
    const set = new KeySet();
    set.add(5);
    set.add(9);
    const first = set.hashes();
    set.clear();
    set.add(11);
    expect([...first]).toEqual([5, 9]);
    expect([...set.hashes()]).toEqual([11]);
    expect(set.has(5)).toBe(false);
  });

  it('forgets every hash when its generation counter wraps', () => {
    const set = new KeySet(8);
    set.add(3);
    // The counter at its last value: the next clear() wraps it, and must clear the stamps.
    (set as unknown as { generation: number }).generation = 0xffffffff;
    set.add(4);
    set.clear();
    set.add(6);
    expect(set.has(3)).toBe(false);
    expect(set.has(4)).toBe(false);
    expect(set.has(6)).toBe(true);
    expect([...set.hashes()]).toEqual([6]);
  });
});
