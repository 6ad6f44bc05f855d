/**
 * The stream's buffer bound with the copy's gates (issue 9, item 7), on in-memory fakes of the
 * seams: held and pending changes together stay under `bufferBytes`; the applier stops taking
 * events rather than hold more; the copy and the stream's open (spilled) transaction never wait
 * on each other's locks, so a big source transaction landing on a table being copied converges.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Change, StreamEvent } from '../../src/core/change.js';
import { Copier } from '../../src/copier/copier.js';
import { Convergence, opBytes } from '../../src/copier/convergence.js';
import { StreamApplier } from '../../src/stream/applier.js';
import { FakeSource, FakeTarget, TABLE, until } from '../helpers/fakes.js';

const logger = pino({ level: 'silent' });
const up = (id: number, v: string): Change => ({ kind: 'upsert', table: 't', key: [BigInt(id)], row: [BigInt(id), v] });
const OP = opBytes(up(1, 'b'));

function transaction(ids: readonly number[], v: string, position: number): StreamEvent[] {
  return [{ type: 'begin' }, ...ids.map((id): StreamEvent => ({ type: 'change', change: up(id, v) })), { type: 'commit', position: String(position), timestamp: Date.now() }];
}

function applierOf(source: FakeSource, target: FakeTarget, convergence: Convergence, bufferBytes: number): StreamApplier {
  return new StreamApplier({
    source: source.asSource(),
    target: target.asTarget(),
    tables: [TABLE],
    from: '0',
    sourceId: 'fake',
    convergence,
    batchSize: 1_000_000,
    flushIntervalMs: 20,
    bufferBytes,
    logger,
  });
}


const settle = () => new Promise((r) => setTimeout(r, 50));

describe('StreamApplier buffer bound with held changes', () => {
  it('takes no event while held and pending changes fill the buffer, and goes on once the chunk is written', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    const convergence = new Convergence();
    const budget = 20 * OP;
    const applier = applierOf(source, target, convergence, budget);
    let maxBuffered = 0;
    source.onTake = () => (maxBuffered = Math.max(maxBuffered, applier.snapshot().bufferBytes));
    const gate = convergence.gate('t');
    const seq = gate.startChunk();
    const ids = Array.from({ length: 200 }, (_, i) => i + 1);
    source.push(...transaction(ids, 'b', 1));
    const running = applier.run();
    await until('the held changes to fill the buffer', () => convergence.heldBytes >= budget);
    await settle();
    // Held changes alone reached the bound: the applier stopped taking events, wrote nothing.
    expect(source.taken).toBeLessThanOrEqual(22);
    expect(convergence.heldBytes).toBeGreaterThanOrEqual(budget);
    expect(applier.snapshot().bufferBytes).toBeLessThan(budget + OP);
    expect(target.streamWrites).toBe(0);
    // The chunk is written: the held changes are released, then the stream goes on to the commit.
    applier.release(gate.finishChunk(seq));
    await until('the transaction to commit', () => target.commits > 0 && applier.snapshot().appliedPosition === '1');
    expect(target.table('t').size).toBe(200);
    expect(maxBuffered).toBeLessThan(budget + OP);
    applier.stop();
    await running;
  });

  it('writes a table inside an open transaction only with no chunk in flight, and the copy waits for that transaction to end', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    const convergence = new Convergence();
    const budget = 20 * OP;
    const applier = applierOf(source, target, convergence, budget);
    const gate = convergence.gate('t');
    let writesDuringChunk = 0;
    target.onStreamWrite = () => (writesDuringChunk += gate.chunksInFlight > 0 ? 1 : 0);
    // A transaction opens and pends 10 changes of t (under the bound), then a chunk of t starts.
    source.push({ type: 'begin' }, ...Array.from({ length: 10 }, (_, i): StreamEvent => ({ type: 'change', change: up(i + 1, 'b') })));
    const running = applier.run();
    await until('the first changes', () => source.taken === 11);
    const seq = gate.startChunk();
    // More changes of t: held behind the chunk, over the bound. The pending ones may not be
    // written while the chunk is in flight, and no new chunk of t may start.
    source.push(...Array.from({ length: 100 }, (_, i): StreamEvent => ({ type: 'change', change: up(i + 11, 'b') })));
    await until('the stream to ask for t', () => !gate.mayStartChunk());
    await settle();
    expect(target.streamWrites).toBe(0);
    expect(source.taken).toBeLessThan(111);
    // The chunk is written: the stream writes t into its open transaction, and t stays closed to
    // chunks until that transaction commits.
    applier.release(gate.finishChunk(seq));
    await until('the stream to write t', () => target.streamWrites > 0);
    expect(gate.claimedByStream).toBe(true);
    expect(gate.mayStartChunk()).toBe(false);
    let opened = false;
    const chunkMayStart = convergence.chunkMayStart('t', new AbortController().signal).then(() => (opened = true));
    await settle();
    expect(opened).toBe(false);
    source.push({ type: 'commit', position: '1', timestamp: Date.now() });
    await chunkMayStart;
    expect(target.commits).toBeGreaterThan(0);
    expect(gate.mayStartChunk()).toBe(true);
    expect(target.table('t').size).toBe(110);
    expect(writesDuringChunk).toBe(0);
    applier.stop();
    await running;
  });
});

describe('copy and stream together (fakes with per-table locks)', () => {
  it.each([1, 2])('a big source transaction on the table being copied converges, within the buffer, without a lock wait cycle (%i threads)', async (threads) => {
    const source = new FakeSource();
    const target = new FakeTarget({ chunkDelayMs: 5 });
    const convergence = new Convergence();
    const budget = 25 * OP;
    const N = 5000;
    for (let id = 1; id <= N; id++) source.table('t').put([BigInt(id), 'a']);
    const applier = applierOf(source, target, convergence, budget);
    let maxBuffered = 0;
    source.onTake = () => (maxBuffered = Math.max(maxBuffered, applier.snapshot().bufferBytes));
    const job = new AbortController();
    const copier = new Copier({
      source: source.asSource(),
      target: target.asTarget(),
      tables: [TABLE],
      resume: new Map(),
      threads,
      chunkTimeMs: 1,
      initialChunkSize: 40,
      chunkBytes: 1024 * 1024,
      convergence,
      release: (ops) => applier.release(ops),
      logger,
      signal: job.signal,
    });
    const streaming = applier.run();
    const copying = copier.run();
    // The transaction lands mid-copy: the source's rows change, then its events arrive.
    await until('copy progress', () => target.table('t').size >= 300);
    const ids = Array.from({ length: N }, (_, i) => i + 1);
    for (const id of ids) source.table('t').put([BigInt(id), 'b']);
    source.push(...transaction(ids, 'b', 1));
    await Promise.race([copying, new Promise((_, reject) => setTimeout(() => reject(new Error('the copy hung (lock wait cycle with the stream)')), 20_000))]);
    await until('the stream to commit the transaction', () => applier.snapshot().appliedPosition === '1', 20_000);
    applier.stop();
    await streaming;
    expect(target.table('t').size).toBe(N);
    expect(target.table('t').all().every((r) => r[1] === 'b')).toBe(true);
    expect(maxBuffered).toBeLessThan(budget + OP);
    expect(convergence.heldCount).toBe(0);
    // The rule the run relies on: no chunk ever waited on the stream's open transaction.
    expect(target.chunkWaitsOnStream).toBe(0);
  }, 60_000);
});
