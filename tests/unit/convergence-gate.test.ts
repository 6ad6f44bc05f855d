import { describe, expect, it } from 'vitest';
import { Convergence, opBytes, TableGate } from '../../src/copier/convergence.js';
import type { Change } from '../../src/core/change.js';

const up = (id: number): Change => ({ kind: 'upsert', table: 't', key: [BigInt(id)], row: [BigInt(id)] });

describe('TableGate (the convergence rule)', () => {
  it('applies at once when no chunk is in flight', () => {
    const g = new TableGate();
    expect(g.offer(up(1), 0)).toBe(false);
  });

  it('holdUntilCopied: holds every change before and while the (whole-table) chunk is in flight, releases them in order once it is written, then applies at once', () => {
    const g = new TableGate();
    g.holdUntilCopied();
    // Before the chunk starts: held (a keyless table's change must not reach the target before its copy).
    expect(g.offer(up(1), 1)).toBe(true);
    expect(g.offer(up(1), 2)).toBe(true);
    const c = g.startChunk();
    expect(g.offer(up(2), 3)).toBe(true);
    expect(g.heldCount).toBe(3);
    expect(g.oldestBoundary()).toBe(1);
    expect(g.finishChunk(c)).toEqual([up(1), up(1), up(2)]);
    expect(g.offer(up(3), 4)).toBe(false);
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

  it('counts held bytes per gate and in total, and gives them back on release', () => {
    const c = new Convergence();
    const a = c.gate('a');
    const b = c.gate('b');
    const ca = a.startChunk();
    const cb = b.startChunk();
    const ua: Change = { kind: 'upsert', table: 'a', key: [1n], row: [1n, 'x'.repeat(100)] };
    const db: Change = { kind: 'delete', table: 'b', key: [2n] };
    c.offer(ua, 0);
    c.offer(db, 0);
    c.offer(ua, 1);
    expect(a.heldBytes).toBe(2 * opBytes(ua));
    expect(c.heldBytes).toBe(2 * opBytes(ua) + opBytes(db));
    expect(a.finishChunk(ca)).toHaveLength(2);
    expect(c.heldBytes).toBe(opBytes(db));
    b.abandonChunk(cb);
    expect(c.heldBytes).toBe(0);
  });

  it('keeps chunks and the stream\'s open transaction apart', async () => {
    const c = new Convergence();
    const g = c.gate('t');
    // No chunk in flight: the stream may write; then no chunk may start until its transaction ends.
    expect(c.claimForStream('t')).toBe(true);
    expect(g.mayStartChunk()).toBe(false);
    let started = false;
    const waiting = c.chunkMayStart('t', new AbortController().signal).then(() => (started = true));
    await Promise.resolve();
    expect(started).toBe(false);
    c.streamEnded();
    await waiting;
    expect(g.mayStartChunk()).toBe(true);
    // A chunk in flight: the stream may not write; insisting stops new chunks until it has.
    const seq = g.startChunk();
    expect(c.claimForStream('t', false)).toBe(false);
    expect(g.mayStartChunk()).toBe(true);
    expect(c.claimForStream('t')).toBe(false);
    expect(g.mayStartChunk()).toBe(false);
    const ended = c.nextChunkEnd();
    g.finishChunk(seq);
    await ended;
    expect(c.claimForStream('t')).toBe(true);
    expect(g.claimedByStream).toBe(true);
    c.streamEnded();
    expect(g.mayStartChunk()).toBe(true);
    // A table no chunk has touched gets its gate from the claim, so its copy waits too.
    expect(c.claimForStream('later')).toBe(true);
    expect(c.gate('later').mayStartChunk()).toBe(false);
  });

  it('ends a wait for the stream when the signal aborts', async () => {
    const c = new Convergence();
    c.claimForStream('t');
    const stop = new AbortController();
    const waiting = c.chunkMayStart('t', stop.signal);
    stop.abort();
    await waiting;
    expect(c.gate('t').mayStartChunk()).toBe(false);
  });
});
