import { describe, expect, it } from 'vitest';
import { KeyWriters } from '../../src/engines/etcd/key-writers.js';

describe('etcd KeyWriters (a pipeline\u2019s last writer of each key hash)', () => {
  it('agrees with a Map under random sets and conditional deletes, through collisions, wrap-around and growth', () => {
    // A small table and hashes crowded onto few slots: long probe runs, wrapping past the end.
    const table = new KeyWriters<{ id: number }>(8);
    const model = new Map<number, { id: number }>();
    const writers = Array.from({ length: 50 }, (_, id) => ({ id }));
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed % n;
    };
    // Hashes that share their low bits (one home slot in a small table) and others spread.
    const hashes = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? (i << 10) | 7 : (i * 2654435761) >>> 1));
    for (let step = 0; step < 20_000; step++) {
      const h = hashes[rand(hashes.length)] as number;
      const w = writers[rand(writers.length)] as { id: number };
      if (rand(3) === 0) {
        table.set(h, w);
        model.set(h, w);
      } else {
        // Deletes only when the writer matches, as a settled transaction does.
        const current = model.get(h);
        const by = rand(2) === 0 && current ? current : w;
        table.deleteIf(h, by);
        if (model.get(h) === by) model.delete(h);
      }
      if (step % 97 === 0) for (const k of hashes) expect(table.get(k)).toBe(model.get(k));
      expect(table.size).toBe(model.size);
    }
    for (const k of hashes) expect(table.get(k)).toBe(model.get(k));
    table.clear();
    expect(table.size).toBe(0);
    expect(table.get(hashes[0] as number)).toBeUndefined();
  });

  it('keeps a key whose writer changed when the earlier writer settles', () => {
    const table = new KeyWriters<{ id: number }>();
    const [a, b] = [{ id: 1 }, { id: 2 }];
    table.set(42, a);
    table.set(42, b);
    table.deleteIf(42, a);
    expect(table.get(42)).toBe(b);
    table.deleteIf(42, b);
    expect(table.get(42)).toBeUndefined();
    expect(table.size).toBe(0);
  });
});
