/**
 * Copy and stream converge (DESIGN.md, the core algorithm; src/copier/convergence.ts with the copier and
 * the applier) on the in-memory fakes of the seams. While a table copies, a change for a key in a
 * chunk being read or written is held and applied once the chunk is written; with no chunk in
 * flight it is applied at once. The gate never drops (dropping is only an optimisation): a change
 * above every started chunk is held while a chunk is in flight, else applied, and the chunk that
 * reads its key later overwrites it with the same or a newer image. Then, for randomized
 * interleavings of source transactions with chunk reads and writes, the target ends equal to the
 * source; a failing run prints its seed.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Copier } from '../../src/copier/copier.js';
import { Convergence } from '../../src/copier/convergence.js';
import { PauseGate } from '../../src/core/pause.js';
import type { TableSchema } from '../../src/core/schema.js';
import type { CopyOrder } from '../../src/core/source.js';
import type { TableCheckpoint } from '../../src/core/target.js';
import type { Row, Value } from '../../src/core/values.js';
import { StreamApplier } from '../../src/stream/applier.js';
import { compareKeys, FakeSource, FakeTarget, keyOfRow, prng, TABLE, until, type SourceWrite } from '../helpers/fakes.js';

const logger = pino({ level: 'silent' });

/** A composite key (tenant, name). */
const COMPOSITE: TableSchema = {
  name: 'c',
  engine: 'fake',
  generated: [],
  primaryKey: [0, 1],
  columns: [
    { name: 'tenant', dataType: 'bigint', columnType: 'bigint', nullable: false, unsigned: false },
    { name: 'name', dataType: 'varchar', columnType: 'varchar(20)', nullable: false, unsigned: false, collation: 'utf8mb4_bin' },
    { name: 'v', dataType: 'varchar', columnType: 'varchar(20)', nullable: true, unsigned: false },
  ],
};

const up = (id: number, v: string): SourceWrite => ({ kind: 'upsert', table: 't', row: [BigInt(id), v] });
const del = (id: number): SourceWrite => ({ kind: 'delete', table: 't', key: [BigInt(id)] });
const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

interface Sync {
  readonly convergence: Convergence;
  readonly applier: StreamApplier;
  readonly copier: Copier;
  readonly streaming: Promise<void>;
  readonly copying: Promise<void>;
}

interface StartOptions {
  threads?: number;
  chunk?: number;
  chunkTimeMs?: number;
  batchSize?: number;
  bufferBytes?: number;
  pause?: PauseGate;
  /** A restart: the stored stream position and table checkpoints. */
  from?: string;
  resume?: ReadonlyMap<string, TableCheckpoint>;
  signal?: AbortSignal;
  /** The copy's direction (copyOrder); default asc. */
  order?: CopyOrder;
}

function start(source: FakeSource, target: FakeTarget, tables: readonly TableSchema[], opts: StartOptions = {}): Sync {
  const convergence = new Convergence();
  const applier = new StreamApplier({
    source,
    target,
    tables,
    from: opts.from ?? '0',
    sourceId: 'fake-source',
    convergence,
    batchSize: opts.batchSize ?? 1,
    flushIntervalMs: 1,
    bufferBytes: opts.bufferBytes ?? 1 << 20,
    logger,
  });
  const copier = new Copier({
    source,
    target,
    tables,
    resume: opts.resume ?? new Map(),
    threads: opts.threads ?? 1,
    chunkTimeMs: opts.chunkTimeMs ?? 1_000_000,
    initialChunkSize: opts.chunk ?? 10,
    chunkBytes: 1 << 20,
    convergence,
    release: (ops) => applier.release(ops),
    logger,
    signal: opts.signal ?? new AbortController().signal,
    ...(opts.pause ? { pause: opts.pause } : {}),
    ...(opts.order ? { copyOrder: opts.order } : {}),
    // No schema change comes in these runs: a failed chunk fails the copy at once.
    schemaChangeWaitMs: 0,
  });
  return { convergence, applier, copier, streaming: applier.run(), copying: copier.run() };
}

/** Ends the copy phase, waits for the stream to apply everything the source logged, stops it. */
async function finish(sync: Sync, source: FakeSource): Promise<void> {
  await sync.copying;
  sync.applier.setPhase('stream');
  const head = await source.headPosition();
  await until('the stream to apply everything', () => sync.applier.snapshot().appliedPosition === head && sync.convergence.heldCount === 0);
  sync.applier.stop();
  await sync.streaming;
}

describe('copy and stream converge: each rule', () => {
  it('holds changes for keys of a chunk being read (and above it) until the chunk is written, then applies them after its image', async () => {
    const source = new FakeSource();
    source.seed('t', Array.from({ length: 30 }, (_, i): Row => [BigInt(i + 1), 'old']));
    const target = new FakeTarget({ chunkDelayMs: 0 });
    // The first chunk's read returns the rows as they were, then waits: the changes below come
    // while it is in flight, after its read.
    const readDone = deferred();
    const letWrite = deferred();
    const read = source.readChunk.bind(source);
    source.readChunk = async (t, range) => {
      const rows = await read(t, range);
      if (range.after === null) {
        readDone.resolve();
        await letWrite.promise;
      }
      return rows;
    };
    const sync = start(source, target, [TABLE]);
    await readDone.promise;
    // In the chunk (1..10]: an update, a delete, a primary-key update 8 → 108 (108 lies above every
    // started chunk); and an update above, in the part not copied yet.
    source.transaction([up(5, 'new'), del(7)]);
    source.transaction([del(8), up(108, 'moved')]);
    const p = source.transaction([up(25, 'new')]);
    await until('the stream to read them', () => sync.applier.receivedPosition() === p);
    expect(sync.convergence.heldCount).toBe(5);
    expect(target.table('t').size).toBe(0);
    // The checkpoint stays before the held changes.
    expect(target.commitLog.every((r) => r.checkpoint?.position === '0')).toBe(true);
    letWrite.resolve();
    await finish(sync, source);
    expect(target.table('t').get([5n])).toEqual([5n, 'new']);
    expect(target.table('t').get([7n])).toBeUndefined();
    expect(target.table('t').get([8n])).toBeUndefined();
    expect(target.table('t').get([108n])).toEqual([108n, 'moved']);
    expect(target.table('t').all()).toEqual(source.table('t').all());
  });

  it('applies changes at once when no chunk is in flight, below and above the copied part', async () => {
    const source = new FakeSource();
    source.seed('t', Array.from({ length: 30 }, (_, i): Row => [BigInt(i + 1), 'old']));
    const target = new FakeTarget({ chunkDelayMs: 0 });
    const pause = new PauseGate();
    const write = target.writeChunk.bind(target);
    target.writeChunk = async (t, rows, commit) => {
      await write(t, rows, commit);
      // After the first chunk no new chunk starts until resume().
      if (target.chunkLog.length === 1) pause.pause();
    };
    const sync = start(source, target, [TABLE], { pause });
    await until('the first chunk', () => target.chunkLog.length === 1);
    const p = source.transaction([up(3, 'new'), up(25, 'new'), up(40, 'inserted'), del(9), del(20)]);
    await until('the changes to commit', () => target.lastCheckpoint?.position === p);
    expect(sync.convergence.heldCount).toBe(0);
    expect(target.table('t').get([3n])).toEqual([3n, 'new']);
    expect(target.table('t').get([25n])).toEqual([25n, 'new']);
    expect(target.table('t').get([40n])).toEqual([40n, 'inserted']);
    expect(target.table('t').get([9n])).toBeUndefined();
    expect(target.table('t').size).toBe(11);
    pause.resume();
    await finish(sync, source);
    expect(target.table('t').all()).toEqual(source.table('t').all());
  });

  it('copying desc: holds changes below the chunk being read (keys the copy has not reached) and inside it, then applies them after its image', async () => {
    const source = new FakeSource();
    source.seed('t', Array.from({ length: 30 }, (_, i): Row => [BigInt(i + 1), 'old']));
    const target = new FakeTarget({ chunkDelayMs: 0 });
    const readDone = deferred();
    const letWrite = deferred();
    const read = source.readChunk.bind(source);
    const ranges: { after: Value[] | null; upTo: Value[] | null }[] = [];
    source.readChunk = async (t, range) => {
      ranges.push(range);
      const rows = await read(t, range);
      if (range.upTo === null) {
        readDone.resolve();
        await letWrite.promise;
      }
      return rows;
    };
    const sync = start(source, target, [TABLE], { order: 'desc' });
    await readDone.promise;
    // The first chunk is the top one, (20, end].
    expect(ranges).toEqual([{ after: [20n], upTo: null }]);
    // In it: an update and a delete; a primary-key update 25 → 3 (3 lies below every started chunk);
    // an insert above the table's last key (inside the open-ended chunk); an update below.
    source.transaction([up(25, 'new'), del(27)]);
    source.transaction([del(24), up(3, 'moved')]);
    const p = source.transaction([up(40, 'inserted'), up(10, 'new')]);
    await until('the stream to read them', () => sync.applier.receivedPosition() === p);
    expect(sync.convergence.heldCount).toBe(6);
    expect(target.table('t').size).toBe(0);
    letWrite.resolve();
    await finish(sync, source);
    expect(target.table('t').get([25n])).toEqual([25n, 'new']);
    expect(target.table('t').get([27n])).toBeUndefined();
    expect(target.table('t').get([24n])).toBeUndefined();
    expect(target.table('t').get([3n])).toEqual([3n, 'moved']);
    expect(target.table('t').get([40n])).toEqual([40n, 'inserted']);
    expect(target.table('t').get([10n])).toEqual([10n, 'new']);
    expect(target.table('t').all()).toEqual(source.table('t').all());
    // The copy went down: every later chunk lies below the first.
    expect(ranges.slice(1).every((r) => r.upTo !== null && compareKeys(r.upTo, [20n]) <= 0)).toBe(true);
  });

  it('copying desc: applies changes at once when no chunk is in flight, above (copied) and below (not yet copied)', async () => {
    const source = new FakeSource();
    source.seed('t', Array.from({ length: 30 }, (_, i): Row => [BigInt(i + 1), 'old']));
    const target = new FakeTarget({ chunkDelayMs: 0 });
    const pause = new PauseGate();
    const write = target.writeChunk.bind(target);
    target.writeChunk = async (t, rows, commit) => {
      await write(t, rows, commit);
      if (target.chunkLog.length === 1) pause.pause();
    };
    const sync = start(source, target, [TABLE], { pause, order: 'desc' });
    await until('the first chunk', () => target.chunkLog.length === 1);
    // Copied so far: (20, 30].
    expect(target.table('t').all().map((r) => r[0])).toEqual([21n, 22n, 23n, 24n, 25n, 26n, 27n, 28n, 29n, 30n]);
    const p = source.transaction([up(28, 'new'), up(5, 'new'), up(40, 'inserted'), del(29), del(12)]);
    await until('the changes to commit', () => target.lastCheckpoint?.position === p);
    expect(sync.convergence.heldCount).toBe(0);
    expect(target.table('t').get([28n])).toEqual([28n, 'new']);
    expect(target.table('t').get([5n])).toEqual([5n, 'new']);
    expect(target.table('t').get([40n])).toEqual([40n, 'inserted']);
    expect(target.table('t').get([29n])).toBeUndefined();
    pause.resume();
    await finish(sync, source);
    expect(target.table('t').all()).toEqual(source.table('t').all());
  });

  it('a change that is neither held nor applied would be lost: nothing offered is dropped', async () => {
    const c = new Convergence();
    const g = c.gate('t');
    const seqs = [g.startChunk(), g.startChunk()];
    const offered = Array.from({ length: 6 }, (_, i) => ({ kind: 'delete' as const, table: 't', key: [BigInt(i)] }));
    const applied = offered.filter((op, i) => !c.offer(op, i));
    expect(applied).toEqual([]);
    const released = [...g.finishChunk(seqs[1]!), ...g.finishChunk(seqs[0]!)];
    expect(released).toEqual(offered);
    expect(c.heldCount).toBe(0);
  });
});

/** Random source transactions on t (integer key) and c (composite key), with unique values, and now and then a TRUNCATE. */
function randomWorkload(source: FakeSource, random: () => number): () => void {
  let version = 0;
  const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(random() * xs.length)];
  return () => {
    const writes: SourceWrite[] = [];
    const touched = new Set<string>();
    const n = 1 + Math.floor(random() * 4);
    for (let i = 0; i < n; i++) {
      const table = random() < 0.5 ? TABLE : COMPOSITE;
      const rows = source.table(table.name).all();
      const v = `v${++version}`;
      const fresh = (): Row => (table === TABLE ? [BigInt(1 + Math.floor(random() * 120)), v] : [BigInt(1 + Math.floor(random() * 6)), pick(['a', 'b', 'B', 'é', 'zz', '😀', 'x1', 'x2'])!, v]);
      const existing = pick(rows);
      const r = random();
      let w: SourceWrite[];
      if (r < 0.3 || !existing) w = [{ kind: 'upsert', table: table.name, row: fresh() }];
      else if (r < 0.65) w = [{ kind: 'upsert', table: table.name, row: [...existing.slice(0, -1), v] }];
      else if (r < 0.85) w = [{ kind: 'delete', table: table.name, key: keyOfRow(table, existing) }];
      // A primary-key update: a delete of the old key plus an upsert of the new.
      else w = [{ kind: 'delete', table: table.name, key: keyOfRow(table, existing) }, { kind: 'upsert', table: table.name, row: fresh() }];
      // One change per key per transaction, as a source's row events after its own coalescing would not promise.
      for (const x of w) {
        const id = `${x.table}:${JSON.stringify(x.kind === 'upsert' ? keyOfRow(table, x.row) : x.key, (_, val: unknown) => (typeof val === 'bigint' ? `${val}n` : val))}`;
        if (touched.has(id)) continue;
        touched.add(id);
        writes.push(x);
      }
    }
    if (writes.length) source.transaction(writes);
    if (random() < 0.02) source.truncate(random() < 0.5 ? 't' : 'c');
  };
}

/** Two tables of random rows, and a source whose chunk reads and target whose chunk writes run random transactions around them. */
function randomSetup(seed: number): { random: () => number; source: FakeSource; target: FakeTarget; step: () => void } {
  const random = prng(seed);
  const source = new FakeSource([TABLE, COMPOSITE]);
  // Runs of 1, 6, 11 or 16 events (ChangeLog.stream): the rule holds however the source groups them.
  source.runs = 1 + (seed % 4) * 5;
  const t: Row[] = [];
  for (let id = 1; id <= 80; id++) if (random() < 0.6) t.push([BigInt(id), 'seed']);
  const c: Row[] = [];
  for (let tenant = 1n; tenant <= 5n; tenant++) for (const name of ['a', 'B', 'é', 'zz', '😀']) if (random() < 0.7) c.push([tenant, name, 'seed']);
  source.seed('t', t);
  source.seed('c', c);
  const target = new FakeTarget({ chunkDelayMs: 0, tables: [TABLE, COMPOSITE] });
  const step = randomWorkload(source, random);
  /** At a point of the copy: maybe some source transactions, maybe a turn of the event loop. */
  const interleave = async () => {
    const n = random() < 0.5 ? 0 : Math.floor(random() * 3) + 1;
    for (let i = 0; i < n; i++) step();
    if (random() < 0.5) await new Promise((r) => setImmediate(r));
  };
  const read = source.readChunk.bind(source);
  source.readChunk = async (table, range) => {
    await interleave();
    const rows = await read(table, range);
    await interleave();
    return rows;
  };
  const boundary = source.chunkBoundary.bind(source);
  source.chunkBoundary = async (table, from, size, order) => {
    await interleave();
    return boundary(table, from, size, order);
  };
  const write = target.writeChunk.bind(target);
  target.writeChunk = async (table, rows, commit) => {
    await interleave();
    await write(table, rows, commit);
  };
  return { random, source, target, step };
}

function randomOptions(random: () => number): StartOptions {
  return {
    threads: 1 + Math.floor(random() * 3),
    chunk: 1 + Math.floor(random() * 12),
    chunkTimeMs: random() < 0.5 ? 1 : 1_000_000,
    batchSize: 1 + Math.floor(random() * 8),
    // From a few changes (spills, and a stream that waits for chunks in flight) to a few dozen.
    bufferBytes: (4 + Math.floor(random() * 30)) * 100,
  };
}

function assertEqual(seed: number, source: FakeSource, target: FakeTarget): void {
  const show = (rows: Row[]) => JSON.stringify(rows, (_, v: Value | unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  for (const name of ['t', 'c']) {
    const [got, want] = [show(target.table(name).all()), show(source.table(name).all())];
    if (got !== want) throw new Error(`seed ${seed}: table ${name} differs after the sync\n target ${got}\n source ${want}`);
  }
}

async function convergeOnce(seed: number, order: CopyOrder = 'asc'): Promise<void> {
  const { random, source, target, step } = randomSetup(seed);
  const sync = start(source, target, [TABLE, COMPOSITE], { ...randomOptions(random), order });
  // Some transactions before the first chunk, some after the copy.
  for (let i = 0; i < 3; i++) step();
  await sync.copying;
  for (let i = 0; i < 3; i++) step();
  await finish(sync, source);
  assertEqual(seed, source, target);
}

/**
 * A sync that fails at a random chunk or stream write or commit (copy or stream phase), stops as
 * the runner stops it (the copy's job aborts, the stream stops at a boundary), and restarts from
 * the checkpoint stored on the target: the stream from its position, the copy from each table's
 * watermark.
 */
async function crashAndResumeOnce(seed: number, order: CopyOrder = 'asc'): Promise<boolean> {
  const { random, source, target, step } = randomSetup(seed);
  await target.saveStreamCheckpoint({ version: 1, position: '0', sourceId: 'fake-source', phase: 'copy' });
  const points = ['chunk', 'chunkCommit', 'write', 'commit'] as const;
  target.failAt(points[Math.floor(random() * points.length)]!, 1 + Math.floor(random() * 6), { fatal: true });
  const job = new AbortController();
  const opts = { ...randomOptions(random), order };
  const first = start(source, target, [TABLE, COMPOSITE], { ...opts, signal: job.signal });
  let failed = false;
  const streaming = first.streaming.catch(() => {
    failed = true;
    job.abort();
  });
  for (let i = 0; i < 3; i++) step();
  try {
    await first.copying;
    first.applier.setPhase('stream');
    for (let i = 0; i < 3; i++) step();
    const head = await source.headPosition();
    await until('the stream to apply everything or fail', () => failed || (first.applier.snapshot().appliedPosition === head && first.convergence.heldCount === 0));
  } catch {
    failed = true;
  }
  first.applier.stop();
  await streaming;
  // The restart runs without injected failures: one the first run did not reach (its writes ended
  // first, or another failure stopped it) must not fire in the second, which has to finish.
  target.clearFailures();
  const cp = await target.loadCheckpoint();
  const again = start(source, target, [TABLE, COMPOSITE], { ...opts, from: cp.stream!.position, resume: cp.tables });
  for (let i = 0; i < 3; i++) step();
  await finish(again, source);
  assertEqual(seed, source, target);
  return failed;
}

describe('copy and stream converge: randomized interleavings', () => {
  // 300 seeds in three blocks; a failure names its seed: rerun it with convergeOnce(seed).
  it.each([0, 100, 200])('the target equals the source for seeds %i..+99', async (base) => {
    for (let seed = base + 1; seed <= base + 100; seed++) {
      try {
        await convergeOnce(seed);
      } catch (err) {
        throw new Error(`convergence failed for seed ${seed} (rerun: convergeOnce(${seed})): ${(err as Error).message}`, { cause: err });
      }
    }
  }, 60_000);

  it('after a failure at a random write or commit and a restart from the stored checkpoint, for 150 seeds', async () => {
    let crashed = 0;
    for (let seed = 1001; seed <= 1150; seed++) {
      try {
        if (await crashAndResumeOnce(seed)) crashed++;
      } catch (err) {
        throw new Error(`convergence after a restart failed for seed ${seed} (rerun: crashAndResumeOnce(${seed})): ${(err as Error).message}`, { cause: err });
      }
    }
    // Most runs did fail before their restart (a failure point beyond the run's writes is not reached).
    expect(crashed).toBeGreaterThan(100);
  }, 60_000);

  // copyOrder desc: chunks walk each table from its highest key down; the same rule converges.
  it.each([2000, 2100])('copying desc, the target equals the source for seeds %i..+99', async (base) => {
    for (let seed = base + 1; seed <= base + 100; seed++) {
      try {
        await convergeOnce(seed, 'desc');
      } catch (err) {
        throw new Error(`convergence (desc) failed for seed ${seed} (rerun: convergeOnce(${seed}, 'desc')): ${(err as Error).message}`, { cause: err });
      }
    }
  }, 60_000);

  it('copying desc, after a failure at a random write or commit and a restart from the stored checkpoint, for 150 seeds', async () => {
    let crashed = 0;
    for (let seed = 3001; seed <= 3150; seed++) {
      try {
        if (await crashAndResumeOnce(seed, 'desc')) crashed++;
      } catch (err) {
        throw new Error(`convergence (desc) after a restart failed for seed ${seed} (rerun: crashAndResumeOnce(${seed}, 'desc')): ${(err as Error).message}`, { cause: err });
      }
    }
    expect(crashed).toBeGreaterThan(100);
  }, 60_000);
});
