import { describe, expect, it } from 'vitest';
import { Convergence, TableGate } from '../../src/copier/gate.js';
import type { Change } from '../../src/core/change.js';

const up = (id: number): Change => ({ kind: 'upsert', table: 't', key: [BigInt(id)], row: [BigInt(id)] });

describe('TableGate (the convergence rule)', () => {
  it('applies at once when no chunk is in flight', () => {
    const g = new TableGate();
    expect(g.offer(up(1), 0)).toBe(false);
  });

  it('holds while a chunk is in flight and releases after it is written', () => {
    const g = new TableGate();
    const c1 = g.startChunk();
    expect(g.offer(up(1), 3)).toBe(true);
    expect(g.oldestBoundary()).toBe(3);
    expect(g.finishChunk(c1)).toEqual([up(1)]);
    expect(g.oldestBoundary()).toBeUndefined();
  });

  it('releases a change only once every chunk that was in flight when it arrived is written', () => {
    const g = new TableGate();
    const c1 = g.startChunk();
    const c2 = g.startChunk();
    g.offer(up(1), 0);
    const c3 = g.startChunk();
    g.offer(up(2), 1);
    expect(g.finishChunk(c2)).toEqual([]);
    expect(g.finishChunk(c1)).toEqual([up(1)]);
    expect(g.finishChunk(c3)).toEqual([up(2)]);
  });

  it('keeps stream order: a later change queues behind a held one even with no chunk in flight', () => {
    const g = new TableGate();
    const c1 = g.startChunk();
    const c2 = g.startChunk();
    g.offer(up(1), 0);
    g.finishChunk(c2);
    // chunk 1 still in flight, so a later change is held behind the first
    expect(g.offer(up(2), 1)).toBe(true);
    expect(g.finishChunk(c1)).toEqual([up(1), up(2)]);
    expect(g.offer(up(3), 2)).toBe(false);
  });

  it('Convergence reports the oldest held boundary across tables', () => {
    const c = new Convergence();
    c.gate('a').startChunk();
    c.gate('b').startChunk();
    c.offer({ kind: 'delete', table: 'b', key: [1n] }, 7);
    c.offer({ kind: 'delete', table: 'a', key: [1n] }, 9);
    expect(c.oldestBoundary()).toBe(7);
    expect(c.heldCount).toBe(2);
    expect(c.offer({ kind: 'delete', table: 'untracked', key: [1n] }, 10)).toBe(false);
  });
});
