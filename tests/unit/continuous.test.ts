/**
 * The continuous checksum (src/checksum/continuous.ts) beside a running applier, on the in-memory
 * fakes of the seams, in both of its modes: `range` (an integer key: both sides read by key range,
 * equal chunks settled by digests) and `keys` (a character key without a named collation: the
 * target read by the source's keys, then walked for rows only it has). It finds a changed row, a
 * row only the target has and a row the target lacks, repairs them, and reports a clean pass when
 * the sides are equal; a row the stream changes while the checker looks is not a difference.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { applierHooks, ContinuousChecker, type RepairEvent } from '../../src/checksum/continuous.js';
import { planTable } from '../../src/checksum/plan.js';
import { Convergence } from '../../src/copier/convergence.js';
import { PauseGate } from '../../src/core/pause.js';
import type { TableSchema } from '../../src/core/schema.js';
import type { Row } from '../../src/core/values.js';
import { StreamApplier } from '../../src/stream/applier.js';
import { FakeSource, FakeTarget, TABLE, until } from '../helpers/fakes.js';

const logger = pino({ level: 'silent' });

/** A character key with no named collation: compared in keys mode (plan.ts). */
const NAMED: TableSchema = {
  name: 'n',
  engine: 'fake',
  generated: [],
  primaryKey: [0],
  columns: [
    { name: 'name', dataType: 'varchar', columnType: 'varchar(20)', nullable: false, unsigned: false, logical: { kind: 'text', length: 20, fixed: false } },
    { name: 'v', dataType: 'varchar', columnType: 'varchar(20)', nullable: true, unsigned: false, logical: { kind: 'text', length: 20, fixed: false } },
  ],
};

const rowsOf = (table: TableSchema, n: number): Row[] =>
  Array.from({ length: n }, (_, i): Row => (table === TABLE ? [BigInt(i + 1), 'a'] : [`k${String(i + 1).padStart(3, '0')}`, 'a']));

interface Harness {
  readonly source: FakeSource;
  readonly target: FakeTarget;
  readonly applier: StreamApplier;
  readonly checker: ContinuousChecker;
  readonly repairs: RepairEvent[];
  readonly passes: { pass: number; repairs: number }[];
  /** Starts the checker's passes. */
  start(): void;
  /** Stops the checker and the applier and waits for both. */
  stop(): Promise<void>;
}

/** Source and target holding the same rows, a running applier and a checker (not yet running). */
async function harness(table: TableSchema, rows: number, applierPause?: PauseGate, planAs: TableSchema = table, sizes: { chunkSize?: number; chunkBytes?: number } = {}): Promise<Harness> {
  const late: { checker?: ContinuousChecker } = {};
  const source = new FakeSource([table]);
  source.seed(table.name, rowsOf(table, rows));
  const target = new FakeTarget({ chunkDelayMs: 0, tables: [table] });
  for (const r of rowsOf(table, rows)) target.table(table.name).put(r);
  const convergence = new Convergence();
  const applier = new StreamApplier({
    source,
    target,
    tables: [table],
    from: '0',
    sourceId: 'fake-source',
    convergence,
    batchSize: 1,
    flushIntervalMs: 5,
    bufferBytes: 1 << 20,
    logger,
    ...(applierPause ? { pause: applierPause } : {}),
    // As the runner wires it: a schema change about to be applied voids the tables' checks.
    onSchemaChangeStart: (tables) => late.checker?.schemaChanging(tables),
  });
  applier.setPhase('stream');
  const streaming = applier.run();
  const plan = planTable(planAs, (await target.describe(table.name))!, { zeroDates: 'error' });
  const checker = new ContinuousChecker({
    source,
    target,
    plans: [plan],
    convergence,
    ...applierHooks(applier),
    chunkSize: sizes.chunkSize ?? 10,
    chunkBytes: sizes.chunkBytes ?? 1 << 20,
    // Passes start only when asked (checkNow) after the first.
    intervalMs: 600_000,
    streamWaitMs: 5000,
    logger,
  });
  late.checker = checker;
  const repairs: RepairEvent[] = [];
  const passes: { pass: number; repairs: number }[] = [];
  checker.on('repair', (e: RepairEvent) => repairs.push(e));
  checker.on('pass', (pass: number, n: number) => passes.push({ pass, repairs: n }));
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  return {
    source,
    target,
    applier,
    checker,
    repairs,
    passes,
    start: () => void (running = checker.run(abort.signal)),
    stop: async () => {
      abort.abort();
      applier.stop();
      await Promise.all([running, streaming]);
    },
  };
}

describe.each([
  ['range', TABLE, (i: number) => [BigInt(i)], (i: number, v: string): Row => [BigInt(i), v]],
  ['keys', NAMED, (i: number) => [`k${String(i).padStart(3, '0')}`], (i: number, v: string): Row => [`k${String(i).padStart(3, '0')}`, v]],
] as const)('ContinuousChecker on the fakes (%s mode)', (mode, table, key, row) => {
  it('reports a clean pass when source and target are equal', async () => {
    const h = await harness(table, 45);
    h.start();
    await h.checker.firstCleanPass;
    const s = h.checker.status();
    expect(s).toMatchObject({ passesCompleted: 1, mismatches: 0, repairs: 0, chunksDiffering: 0 });
    expect(s.firstCleanPassAt).not.toBeNull();
    // Every row was looked at: by digest in range mode (no rows read), by rows in keys mode.
    expect(s.rowsChecked).toBe(45);
    if (mode === 'range') expect(s.chunksByDigest).toBe(s.chunksChecked);
    else expect(s.chunksByDigest).toBe(0);
    expect(h.repairs).toEqual([]);
    await h.stop();
  });

  it('sizes chunks by the average row before any is read (a chunk settled by digest reports no size)', async () => {
    const probe = new FakeSource([table]);
    probe.seed(table.name, rowsOf(table, 450));
    const { avgRowBytes } = await probe.tableStats(table.name);
    // A budget of 150 average rows: chunks of at most 150 rows, though --chunk-size is 1000.
    const h = await harness(table, 450, undefined, table, { chunkSize: 1000, chunkBytes: 150 * avgRowBytes });
    const sizes: number[] = [];
    const boundary = h.source.chunkBoundary.bind(h.source);
    h.source.chunkBoundary = (t, from, size, order) => (sizes.push(size), boundary(t, from, size, order));
    h.start();
    await h.checker.firstCleanPass;
    expect(h.checker.status().rowsChecked).toBe(450);
    expect(sizes.length).toBeGreaterThan(2);
    expect(Math.max(...sizes)).toBe(150);
    await h.stop();
  });

  it('finds a changed row, a row only the target has and a row it lacks, repairs them, then passes clean', async () => {
    const h = await harness(table, 45);
    const t = h.target.table(table.name);
    t.put(row(12, 'drift'));
    t.delete(key(30));
    t.put(row(500, 'extra'));
    h.start();
    await until('the first pass', () => h.passes.length === 1);
    expect(h.passes[0]).toEqual({ pass: 1, repairs: 3 });
    expect(t.all()).toEqual(h.source.table(table.name).all());
    const found = h.repairs.flatMap((e) => e.keys.map((k) => k.kind)).sort();
    expect(found).toEqual(['changed', 'extra', 'missing']);
    expect(h.checker.status()).toMatchObject({ mismatches: 3, repairs: 3, firstCleanPassAt: null });
    // Repairs go through the target's transactions and leave the stream checkpoint as it was.
    expect(h.target.commitLog.filter((r) => r.checkpoint === null).length).toBeGreaterThan(0);
    h.checker.checkNow();
    await h.checker.firstCleanPass;
    expect(h.passes[1]).toEqual({ pass: 2, repairs: 0 });
    await h.stop();
  });

  it('starts its first pass once the stream has committed the backlog it found, not once it has only read it', async () => {
    const h = await harness(table, 25);
    // The target's commits wait until released: the stream reads the backlog and cannot commit it.
    let release = () => undefined as void;
    const released = new Promise<void>((r) => (release = r));
    const begin = h.target.begin.bind(h.target);
    h.target.begin = async () => {
      const tx = await begin();
      return { ...tx, commit: async (cp) => (await released, tx.commit(cp)) };
    };
    h.source.transaction([{ kind: 'upsert', table: table.name, row: row(3, 'backlog') }]);
    const head = await h.source.headPosition();
    await until('the stream read the backlog', () => h.applier.receivedPosition() === head);
    h.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(h.checker.status()).toMatchObject({ state: 'waiting', chunksChecked: 0, pass: 0 });
    release();
    await h.checker.firstCleanPass;
    // Nothing differed: the pass began on a target that held the backlog.
    expect(h.checker.status()).toMatchObject({ passesCompleted: 1, chunksDiffering: 0, mismatches: 0, repairs: 0 });
    expect(h.target.table(table.name).get(key(3))).toEqual(row(3, 'backlog'));
    await h.stop();
  });

  it('does not call a row the stream changes while the chunk is read a difference: it re-reads once the stream has passed it', async () => {
    const pause = new PauseGate();
    pause.pause();
    const h = await harness(table, 25, pause);
    // The source changes row 5 right before the checker's first look at the chunk holding it,
    // and the stream is behind: the first read differs.
    let changed = false;
    const hook = () => {
      if (changed) return;
      changed = true;
      h.source.transaction([{ kind: 'upsert', table: table.name, row: row(5, 'new') }]);
      setTimeout(() => pause.resume(), 150);
    };
    const digest = h.source.chunkDigest.bind(h.source);
    h.source.chunkDigest = (tb, range) => (hook(), digest(tb, range));
    const read = h.source.readChunk.bind(h.source);
    h.source.readChunk = (tb, range) => (hook(), read(tb, range));
    h.start();
    await h.checker.firstCleanPass;
    const s = h.checker.status();
    expect(s.chunksDiffering).toBe(1);
    expect(s).toMatchObject({ passesCompleted: 1, mismatches: 0, repairs: 0 });
    expect(h.repairs).toEqual([]);
    expect(h.target.table(table.name).get(key(5))).toEqual(row(5, 'new'));
    await h.stop();
  });

  it('leaves a differing row alone while a stream change of it is held under the gate, and the change lands', async () => {
    const h = await harness(table, 25);
    h.target.table(table.name).put(row(7, 'drift'));
    // The exact check holds the table's changes from its source read on; a change of row 7 comes
    // in then (before the checker reads the source's head position, so it waits for it).
    let heads = 0;
    const head = h.source.headPosition.bind(h.source);
    h.source.headPosition = () => {
      // 1: before the first pass, 2: after the differing chunk's read, 3: under the gate.
      if (++heads === 3) h.source.transaction([{ kind: 'upsert', table: table.name, row: row(7, 'newer') }]);
      return head();
    };
    h.start();
    await until('the first pass', () => h.passes.length === 1);
    expect(heads).toBeGreaterThanOrEqual(3);
    expect(h.checker.status()).toMatchObject({ mismatches: 0, repairs: 0, chunksDiffering: 1 });
    expect(h.repairs).toEqual([]);
    await until('the released change', () => h.applier.snapshot().appliedPosition === '1');
    expect(h.target.table(table.name).all()).toEqual(h.source.table(table.name).all());
    await h.stop();
  });

  it('lets go of a table at once when a schema change of it waits for the changes its repair holds', async () => {
    const h = await harness(table, 25);
    h.target.table(table.name).put(row(7, 'drift'));
    // Under the gate (the third head read) a change of the table and then a schema change of it
    // arrive: the applier must wait for the held change before the statement, and the repair waits
    // for the stream. Told of the statement first, the repair gives up rather than time out.
    let heads = 0;
    let pushedAt = 0;
    const head = h.source.headPosition.bind(h.source);
    h.source.headPosition = () => {
      if (++heads === 3) {
        const p = h.source.transaction([{ kind: 'upsert', table: table.name, row: row(8, 'newer') }]);
        h.source.push({ type: 'ddl', tables: [table.name], statement: `ALTER TABLE ${table.name} COMMENT 'x'`, position: `${p}.5`, operations: [{ op: 'table-options', table: table.name, sourceText: "COMMENT 'x'" }], before: new Map([[table.name, table]]), after: new Map([[table.name, table]]) });
        pushedAt = Date.now();
      }
      return head();
    };
    h.start();
    await until('the schema change applied', () => h.target.schemaChanges.length === 1, 10_000);
    // Well under the 5 s a gated repair may wait for the stream.
    expect(Date.now() - pushedAt).toBeLessThan(2500);
    expect(h.target.table(table.name).get(key(8))).toEqual(row(8, 'newer'));
    // Nothing read before the statement was repaired.
    expect(h.target.table(table.name).get(key(7))).toEqual(row(7, 'drift'));
    await h.stop();
  });

  it('writes nothing it read before a schema change of the table, and checks the table again once its new plan comes', async () => {
    const h = await harness(table, 25);
    h.target.table(table.name).put(row(7, 'drift'));
    // The exact check of the differing chunk reads the source, then waits for the stream: a
    // schema change of the table is applied meanwhile (its new plan is still being made).
    let heads = 0;
    const head = h.source.headPosition.bind(h.source);
    h.source.headPosition = () => {
      if (++heads === 3) h.checker.schemaChanging([table.name]);
      return head();
    };
    h.start();
    await until('the first pass', () => h.passes.length === 1);
    expect(heads).toBeGreaterThanOrEqual(3);
    // Nothing read under the old plan was written, and the table was left to the next pass.
    expect(h.passes[0]).toEqual({ pass: 1, repairs: 0 });
    expect(h.target.table(table.name).get(key(7))).toEqual(row(7, 'drift'));
    // The new plan comes (the same definition here): the next pass checks the table and repairs it.
    h.checker.replacePlans([planTable(table, (await h.target.describe(table.name))!, { zeroDates: 'error' })]);
    h.checker.checkNow();
    await until('the second pass', () => h.passes.length === 2);
    expect(h.passes[1]).toEqual({ pass: 2, repairs: 1 });
    expect(h.target.table(table.name).all()).toEqual(h.source.table(table.name).all());
    await h.stop();
  });
});

describe('ContinuousChecker on the fakes (multiset mode: a table without a key)', () => {
  // The fakes store rows by TABLE's key; the checker is given the table without one, so it reads
  // both sides whole and compares them as multisets of rows.
  const KEYLESS: TableSchema = { ...TABLE, primaryKey: [] };

  it('compares the table whole each pass and passes clean when the sides hold the same rows', async () => {
    const h = await harness(TABLE, 250, undefined, KEYLESS);
    h.start();
    await h.checker.firstCleanPass;
    expect(h.checker.status()).toMatchObject({ passesCompleted: 1, mismatches: 0, repairs: 0, chunksDiffering: 0, chunksChecked: 1, rowsChecked: 250 });
    await h.stop();
  });

  it('counts drift on the target once the stream has passed the read and nothing is held, and repairs nothing', async () => {
    const h = await harness(TABLE, 250, undefined, KEYLESS);
    h.target.table(TABLE.name).put([12n, 'drift']);
    h.start();
    await until('the first pass', () => h.passes.length === 1);
    expect(h.checker.status()).toMatchObject({ mismatches: 1, repairs: 0, chunksDiffering: 1, firstCleanPassAt: null });
    expect(h.repairs).toEqual([]);
    expect(h.target.table(TABLE.name).get([12n])).toEqual([12n, 'drift']);
    // Made equal again: the next pass is clean.
    h.target.table(TABLE.name).put([12n, 'a']);
    h.checker.checkNow();
    await h.checker.firstCleanPass;
    expect(h.checker.status().mismatches).toBe(1);
    await h.stop();
  });
});
