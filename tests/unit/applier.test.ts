/**
 * The stream applier (src/stream/applier.ts) on the in-memory fakes of the seams: changes coalesced
 * per key into batches, a checkpoint that advances only at a source transaction boundary and in the
 * same target transaction as its data, a crash mid-batch followed by a restart from the stored
 * checkpoint that neither loses nor doubles a change, acknowledgements only of committed positions,
 * and a checkpoint that never passes a change the copy holds.
 */
import { describe, expect, it } from 'vitest';
import { Convergence, opBytes } from '../../src/copier/convergence.js';
import { rowOf, type StreamEvent } from '../../src/core/change.js';
import type { TableSchema } from '../../src/core/schema.js';
import type { Row } from '../../src/core/values.js';
import { applierOf } from '../helpers/copier.js';
import { FakeSource, FakeTarget, prng, TABLE, until, type CommitRecord, type SourceWrite } from '../helpers/fakes.js';

const U: TableSchema = { ...TABLE, name: 'u' };
const OP = opBytes({ kind: 'upsert', table: 't', key: [1n], row: [1n, 'v00001'] });


const up = (id: number, v: string): SourceWrite => ({ kind: 'upsert', table: 't', row: [BigInt(id), v] });
const del = (id: number): SourceWrite => ({ kind: 'delete', table: 't', key: [BigInt(id)] });

/**
 * A source with a random workload on keys 1..keys of table t: each value written is unique
 * (`v<n>`), so a change applied twice could be told from one applied once. Records the table's
 * rows after every transaction, by position.
 */
function workload(seed: number, txns: number, keys = 20): { source: FakeSource; states: Map<string, Row[]>; head: string } {
  const random = prng(seed);
  const source = new FakeSource();
  const states = new Map<string, Row[]>([['0', []]]);
  let version = 0;
  let head = '0';
  for (let i = 0; i < txns; i++) {
    const writes: SourceWrite[] = [];
    const n = 1 + Math.floor(random() * 12);
    for (let j = 0; j < n; j++) {
      const id = 1 + Math.floor(random() * keys);
      writes.push(random() < 0.2 ? del(id) : up(id, `v${String(++version).padStart(5, '0')}`));
    }
    head = source.transaction(writes);
    states.set(head, source.table('t').all());
  }
  return { source, states, head };
}

/** Upserts that appear in more than one committed target transaction (a change applied twice). */
function doubled(log: readonly CommitRecord[]): string[] {
  const seen = new Set<string>();
  const twice: string[] = [];
  for (const rec of log) {
    for (const c of rec.changes) {
      if (c.kind !== 'upsert') continue;
      const id = `${c.table}/${String(c.key[0])}=${String(rowOf(c)[1])}`;
      if (seen.has(id)) twice.push(id);
      seen.add(id);
    }
  }
  return twice;
}

describe('StreamApplier on the fakes', () => {
  it('coalesces changes per key and commits a batch once it is due, at a transaction boundary', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    const applier = applierOf(source, target, { batchSize: 5 });
    const running = applier.run();
    source.transaction([up(1, 'a'), up(2, 'a')]);
    source.transaction([up(1, 'b'), del(2)]);
    const p3 = source.transaction([up(3, 'c')]);
    await until('the first batch', () => target.commits === 1);
    // Five changes in, three writes out: key 1's last image, key 2's delete, key 3.
    expect(target.commitLog[0]?.changes).toEqual([
      { kind: 'upsert', table: 't', key: [1n], row: [1n, 'b'] },
      { kind: 'delete', table: 't', key: [2n] },
      { kind: 'upsert', table: 't', key: [3n], row: [3n, 'c'] },
    ]);
    expect(target.commitLog[0]?.checkpoint).toMatchObject({ position: p3, sourceId: 'fake-source', phase: 'copy' });
    expect(target.table('t').all()).toEqual([
      [1n, 'b'],
      [3n, 'c'],
    ]);
    // One change is not a batch, but the stream is caught up after it: it commits at once, long
    // before the flush interval (10 s), and the stop has nothing left to commit.
    const p4 = source.transaction([up(4, 'd')]);
    await until('the caught-up commit', () => target.commits === 2, 2000);
    expect(target.lastCheckpoint?.position).toBe(p4);
    applier.stop();
    await running;
    expect(target.commits).toBe(2);
    expect(target.lastCheckpoint?.position).toBe(p4);
    expect(applier.snapshot()).toMatchObject({ appliedPosition: p4, transactionsApplied: 4, commits: 2 });
  });

  it('commits pending changes once the flush interval has passed', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    const applier = applierOf(source, target, { flushIntervalMs: 30 });
    const running = applier.run();
    const p = source.transaction([up(1, 'a')]);
    await until('the flush', () => target.lastCheckpoint?.position === p, 2000);
    expect(target.table('t').all()).toEqual([[1n, 'a']]);
    applier.stop();
    await running;
  });

  it.each([
    [1, 1],
    [2, 1],
    [3, 1],
    [1, 9],
    [2, 40],
  ])('commits data and checkpoint together, at source transaction boundaries only, spilling big transactions (seed %i, runs of up to %i events)', async (seed, runs) => {
    const { source, states, head } = workload(seed, 60);
    source.runs = runs;
    const target = new FakeTarget();
    let writes = 0;
    target.onStreamWrite = () => writes++;
    const problems: string[] = [];
    let last = 0;
    target.onCommit = (rec) => {
      const pos = rec.checkpoint?.position ?? '';
      const expected = states.get(pos);
      if (!expected) problems.push(`checkpoint ${pos} is not a source transaction boundary`);
      else if (JSON.stringify(target.table('t').all(), (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) !== JSON.stringify(expected, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))) {
        problems.push(`at checkpoint ${pos} the target does not hold the source's rows as of that position`);
      }
      if (Number(pos) < last) problems.push(`checkpoint went back from ${last} to ${pos}`);
      last = Number(pos);
    };
    // A buffer of four changes: a transaction of up to 12 is written in pieces into one open target transaction.
    const applier = applierOf(source, target, { batchSize: 1 + (seed % 7), flushIntervalMs: 5, bufferBytes: 4 * OP });
    const running = applier.run();
    await until('the stream to apply everything', () => applier.snapshot().appliedPosition === head);
    applier.stop();
    await running;
    expect(problems).toEqual([]);
    expect(writes).toBeGreaterThan(target.commits);
    expect(target.table('t').all()).toEqual(source.table('t').all());
    expect(doubled(target.commitLog)).toEqual([]);
  });

  it.each([
    ['write', 3, 1],
    ['write', 11, 1],
    ['commit', 2, 1],
    ['commit', 7, 1],
    ['write', 11, 25],
    ['commit', 7, 25],
  ] as const)('after a failure at %s #%i and a restart from the stored checkpoint, no change is lost or applied twice (runs of up to %i events)', async (point, n, runs) => {
    const { source, states, head } = workload(100 + n, 50);
    source.runs = runs;
    const target = new FakeTarget();
    target.failAt(point, n);
    const committed = new Set<string>(['0']);
    target.onCommit = (rec) => committed.add(rec.checkpoint?.position ?? '');
    const badAcks: string[] = [];
    source.onAcknowledge = (p) => {
      if (!committed.has(p) || target.lastCheckpoint?.position !== p) badAcks.push(p);
    };
    await target.saveStreamCheckpoint({ version: 1, position: '0', sourceId: 'fake-source', phase: 'stream' });
    const options = { batchSize: 3, flushIntervalMs: 5, bufferBytes: 4 * OP };
    await expect(applierOf(source, target, options).run()).rejects.toThrow(`injected failure at ${point} #${n}`);
    // The crash left the target exactly at its checkpoint: nothing of the failed batch.
    const stored = (await target.loadCheckpoint()).stream;
    expect(stored).not.toBeNull();
    expect(target.table('t').all()).toEqual(states.get(stored!.position));
    expect(Number(stored!.position)).toBeLessThan(Number(head));
    const acksBefore = source.acks.length;
    expect(source.acks.every((p) => Number(p) <= Number(stored!.position))).toBe(true);
    // A restart streams from the stored checkpoint.
    const again = applierOf(source, target, { ...options, from: stored!.position });
    const running = again.run();
    await until('the restarted stream to apply everything', () => again.snapshot().appliedPosition === head);
    again.stop();
    await running;
    expect(target.table('t').all()).toEqual(source.table('t').all());
    expect(doubled(target.commitLog)).toEqual([]);
    expect(badAcks).toEqual([]);
    expect(source.acks.length).toBeGreaterThan(acksBefore);
    expect(source.acks.at(-1)).toBe(head);
  });

  it('refuses a source whose stream yields single events instead of runs (the former contract), naming the fix', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    source.transaction([up(1, 'a')]);
    const runs = source.stream.bind(source);
    source.stream = async function* (from, tables, signal) {
      for await (const run of runs(from, tables, signal)) for (const ev of run) yield ev as unknown as readonly StreamEvent[];
    };
    await expect(applierOf(source, target).run()).rejects.toThrow("the fake source's stream yielded a single 'begin' event, not a run of events; fix: ChangeLog.stream yields arrays of events");
    expect(target.table('t').all()).toEqual([]);
  });

  it('acknowledges only positions whose commit succeeded', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    target.failAt('commit', 2);
    const applier = applierOf(source, target, { batchSize: 1 });
    const running = applier.run();
    const p1 = source.transaction([up(1, 'a')]);
    source.transaction([up(2, 'b')]);
    await expect(running).rejects.toThrow('injected failure at commit #2');
    expect(source.acks).toEqual([p1]);
    expect(target.table('t').all()).toEqual([[1n, 'a']]);
  });

  it('never moves the checkpoint past a change the copy holds, and applies it once released', async () => {
    const source = new FakeSource([TABLE, U]);
    const target = new FakeTarget({ tables: [TABLE, U] });
    const convergence = new Convergence();
    const gate = convergence.gate('t');
    const seq = gate.startChunk();
    const applier = applierOf(source, target, { tables: [TABLE, U], convergence, batchSize: 1 });
    const running = applier.run();
    source.transaction([up(1, 'held')]);
    const p2 = source.transaction([{ kind: 'upsert', table: 'u', row: [1n, 'free'] }]);
    await until('the other table\'s change', () => target.table('u').size === 1);
    // t's change is held for the chunk in flight: its transaction (position 1) is not covered.
    expect(convergence.heldCount).toBe(1);
    expect(target.table('t').size).toBe(0);
    expect(target.commitLog.every((r) => r.checkpoint?.position === '0')).toBe(true);
    expect(source.acks.every((p) => p === '0')).toBe(true);
    applier.release(gate.finishChunk(seq));
    const p3 = source.transaction([up(2, 'later')]);
    await until('the released change', () => target.lastCheckpoint?.position === p3);
    expect(Number(p3)).toBeGreaterThan(Number(p2));
    expect(target.table('t').all()).toEqual([
      [1n, 'held'],
      [2n, 'later'],
    ]);
    applier.stop();
    await running;
  });
});

describe('StreamApplier under a target commit limit (TargetCapabilities.commitLimit, the etcd target)', () => {
  it('keeps every source transaction that fits in one commit, never over the limit, and a larger one alone', async () => {
    const LIMIT = 10;
    const random = prng(13);
    const source = new FakeSource();
    const target = new FakeTarget();
    target.capabilities = { ...target.capabilities, commitLimit: LIMIT };
    const applier = applierOf(source, target, { flushIntervalMs: 50 });
    const running = applier.run();
    // Values are unique, so each value names the source transaction that wrote it.
    const txnOf = new Map<string, number>();
    const sizes: number[] = [];
    let version = 0;
    let head = '0';
    for (let t = 0; t < 120; t++) {
      const size = t % 25 === 7 ? LIMIT + 5 + Math.floor(random() * 20) : 1 + Math.floor(random() * LIMIT);
      const writes: SourceWrite[] = [];
      // Distinct keys within a transaction: nothing coalesces inside one, so its size is its writes.
      const keys = new Set<number>();
      while (keys.size < size) keys.add(1 + Math.floor(random() * 200));
      for (const k of keys) {
        const v = `v${String(++version).padStart(5, '0')}`;
        txnOf.set(v, t);
        writes.push(up(k, v));
      }
      sizes.push(size);
      head = source.transaction(writes);
    }
    await until('caught up', () => target.commitLog.at(-1)?.checkpoint?.position === head);
    applier.stop();
    await running;
    const recordsOf = new Map<number, Set<number>>();
    target.commitLog.forEach((rec, i) => {
      const txns = new Set<number>();
      for (const c of rec.changes) if (c.kind === 'upsert') txns.add(txnOf.get(String(rowOf(c)[1])) as number);
      for (const t of txns) {
        if (!recordsOf.has(t)) recordsOf.set(t, new Set());
        recordsOf.get(t)?.add(i);
      }
      const big = [...txns].filter((t) => (sizes[t] as number) > LIMIT);
      // A commit over the limit holds one transaction larger than the limit, and nothing else.
      if (rec.changes.length > LIMIT) expect({ i, txns: [...txns] }).toEqual({ i, txns: big });
      if (big.length) expect({ i, txns: [...txns] }).toEqual({ i, txns: big });
    });
    for (const [t, recs] of recordsOf) if ((sizes[t] as number) <= LIMIT) expect({ t, commits: recs.size }).toEqual({ t, commits: 1 });
    expect(target.table('t').all()).toEqual(source.table('t').all());
    expect(target.commitLog.length).toBeLessThan(120);
  });

  it('while streaming, lets transactions too large for one commit that come one after another share one commit and its checkpoint; one that fits still commits alone and whole', async () => {
    const LIMIT = 10;
    const source = new FakeSource();
    const target = new FakeTarget();
    target.capabilities = { ...target.capabilities, commitLimit: LIMIT };
    const applier = applierOf(source, target, { flushIntervalMs: 60_000 });
    applier.setPhase('stream');
    const txnOf = new Map<string, number>();
    let version = 0;
    // Sizes: three over the limit in a row, one that fits, two over it, one that fits.
    const sizes = [25, 14, 31, 4, 12, 18, 3];
    const heads: string[] = [];
    sizes.forEach((size, t) => {
      const writes: SourceWrite[] = [];
      for (let k = 1; k <= size; k++) {
        const v = `v${String(++version).padStart(5, '0')}`;
        txnOf.set(v, t);
        writes.push(up(t * 100 + k, v));
      }
      heads.push(source.transaction(writes));
    });
    const running = applier.run();
    await until('caught up', () => target.commitLog.some((r) => r.checkpoint?.position === heads[5]));
    applier.stop();
    await running;
    const commits = target.commitLog.map((rec) => ({ txns: [...new Set(rec.changes.map((c) => (c.kind === 'upsert' ? txnOf.get(String(rowOf(c)[1])) : -1)))].sort(), position: rec.checkpoint?.position }));
    // The three in parts share one commit, checkpointed after the third; the one that fits is alone;
    // the next two share one; the last fits and commits at the end of the run.
    expect(commits.filter((c) => c.txns.length)).toEqual([
      { txns: [0, 1, 2], position: heads[2] },
      { txns: [3], position: heads[3] },
      { txns: [4, 5], position: heads[5] },
      { txns: [6], position: heads[6] },
    ]);
    expect(target.table('t').all()).toEqual(source.table('t').all());
  });
});
