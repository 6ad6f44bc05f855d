/**
 * `copyOrder: desc` (issue 14, Ghostferry's descending iteration) on the in-memory fakes: the
 * snapshot reader's descending chunk boundary (composite keys too), a copy that walks each table
 * from its highest key down with every row copied once, a watermark that moves down and records
 * the direction, a resume that goes on downward (and keeps a table's direction whatever copyOrder
 * says now), the checkpoint's stored form, and the config key. Convergence with the stream under
 * desc is in convergence.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { decodeRows, tableBody } from '../../src/checkpoint/rows.js';
import { loadConfig } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/parse.js';
import { planSync } from '../../src/runner/plan.js';
import pino from 'pino';
import { AbortedError } from '../../src/core/errors.js';
import type { TableSchema } from '../../src/core/schema.js';
import type { KeyRange } from '../../src/core/source.js';
import type { TableCheckpoint } from '../../src/core/target.js';
import type { Row, Value } from '../../src/core/values.js';
import { copierOf } from '../helpers/copier.js';
import { compareKeys, FakeSource, FakeTarget, prng } from '../helpers/fakes.js';

/** A composite key (tenant, name): an integer then a string in binary order. */
const COMPOSITE: TableSchema = {
  name: 'c',
  engine: 'fake',
  generated: [],
  primaryKey: [0, 1],
  columns: [
    { name: 'tenant', dataType: 'bigint', columnType: 'bigint', nullable: false, unsigned: false },
    { name: 'name', dataType: 'varchar', columnType: 'varchar(20)', nullable: false, unsigned: false, collation: 'utf8mb4_bin' },
    { name: 'n', dataType: 'int', columnType: 'int', nullable: true, unsigned: false },
  ],
};

function seeded(n: number): FakeSource {
  const source = new FakeSource();
  source.seed('t', Array.from({ length: n }, (_, i): Row => [BigInt(i + 1), `v${i + 1}`]));
  return source;
}

function compositeSource(): FakeSource {
  const source = new FakeSource([COMPOSITE]);
  const names = ['a', 'B', 'b', 'é', 'z', 'ä', 'aa', '😀', 'Z', ''];
  const rows: Row[] = [];
  for (let tenant = 1; tenant <= 7; tenant++) for (const [i, name] of names.entries()) rows.push([BigInt(tenant), name, BigInt(tenant * 100 + i)]);
  source.seed('c', rows);
  return source;
}

/** Every range read, in the order read. */
function recordReads(source: FakeSource): KeyRange[] {
  const ranges: KeyRange[] = [];
  const read = source.readChunk.bind(source);
  source.readChunk = (t, range) => {
    ranges.push(range);
    return read(t, range);
  };
  return ranges;
}

/** Every source row with a key above `watermark` (null: every row) is on the target. */
function coveredAbove(source: FakeSource, target: FakeTarget, table: string, watermark: Value[] | null): boolean {
  const rows = source.table(table).range({ after: watermark, upTo: null });
  return rows.every((r) => target.table(table).get(source.table(table).schema.primaryKey.map((i) => r[i] ?? null)) !== undefined);
}

describe('SnapshotReader.chunkBoundary going down (the fake, as the engines)', () => {
  it('returns the key just below the `size` highest at or below `from`, and null once the rest fits', async () => {
    const source = seeded(25);
    const t = source.table('t').schema;
    expect(await source.chunkBoundary(t, null, 10, 'desc')).toEqual([15n]);
    expect(await source.chunkBoundary(t, [15n], 10, 'desc')).toEqual([5n]);
    expect(await source.chunkBoundary(t, [5n], 10, 'desc')).toBeNull();
    // Exactly `size` rows left: the chunk runs from the start.
    expect(await source.chunkBoundary(t, [10n], 10, 'desc')).toBeNull();
    // Ascending is unchanged, and the default.
    expect(await source.chunkBoundary(t, null, 10)).toEqual([10n]);
    expect(await source.chunkBoundary(t, [10n], 10, 'asc')).toEqual([20n]);
  });

  it('walks a composite key down inside a group of the first column, covering every key once', async () => {
    const source = compositeSource();
    const keys: Value[][] = [];
    let from: Value[] | null = null;
    for (;;) {
      const next = await source.chunkBoundary(COMPOSITE, from, 7, 'desc');
      const rows = source.table('c').range({ after: next, upTo: from });
      // 70 keys in chunks of 7: every chunk is full, the last one (from the start) too.
      expect(rows.length).toBe(7);
      keys.push(...rows.map((r) => [r[0]!, r[1]!]));
      if (next === null) break;
      from = next;
    }
    expect(keys.length).toBe(70);
    expect(new Set(keys.map((k) => JSON.stringify(k, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)))).size).toBe(70);
  });
});

describe('Copier with copyOrder desc', () => {
  it('reads chunks from the highest key down, without gap or overlap, and copies every row once', async () => {
    const source = compositeSource();
    const target = new FakeTarget({ chunkDelayMs: 0, tables: [COMPOSITE] });
    const ranges = recordReads(source);
    await copierOf(source, target, { tables: [COMPOSITE], initialChunkSize: 7, chunkTimeMs: 1, copyOrder: 'desc' }).run();
    expect(target.table('c').all()).toEqual(source.table('c').all());
    expect(target.chunkLog.reduce((n, c) => n + c.rows, 0)).toBe(70);
    // The first chunk runs to the end of the table, the last from its start; each ends where the next began.
    expect(ranges[0]?.upTo).toBeNull();
    expect(ranges.at(-1)?.after).toBeNull();
    for (let i = 1; i < ranges.length; i++) {
      expect(ranges[i]?.upTo).toEqual(ranges[i - 1]?.after);
      if (ranges[i]!.after) expect(compareKeys(ranges[i]!.after!, ranges[i]!.upTo!)).toBeLessThan(0);
    }
    expect(ranges.length).toBeGreaterThan(3);
  });

  it('with one thread, each chunk checkpoints its lower bound as the watermark, moving down, with the order', async () => {
    const source = seeded(95);
    const target = new FakeTarget({ chunkDelayMs: 0 });
    const copier = copierOf(source, target, { initialChunkSize: 20, chunkTimeMs: 1_000_000, copyOrder: 'desc' });
    await copier.run();
    // The first rows written are the highest keys.
    expect(target.chunkLog.map((c) => c.rows)).toEqual([20, 40, 35]);
    expect(target.chunkLog.map((c) => c.checkpoint)).toEqual([
      { watermark: [75n], done: false, rowsCopied: 20, order: 'desc' },
      { watermark: [35n], done: false, rowsCopied: 60, order: 'desc' },
      { watermark: null, done: true, rowsCopied: 95, order: 'desc' },
    ]);
    expect(copier.progress()).toEqual([{ table: 't', rowsCopied: 95, rowsTotal: 95, done: true }]);
  });

  it('never checkpoints a watermark above a row the target lacks, with chunks committing out of order', async () => {
    const source = seeded(600);
    const target = new FakeTarget({ chunkDelayMs: 0 });
    const random = prng(11);
    const write = target.writeChunk.bind(target);
    const seen: TableCheckpoint[] = [];
    let violations = 0;
    target.writeChunk = async (table, rows, commit) => {
      await new Promise((r) => setTimeout(r, Math.floor(random() * 4)));
      await write(table, rows, commit);
      const cp = (await target.loadCheckpoint()).tables.get('t') as TableCheckpoint;
      seen.push(cp);
      if (!cp.done && cp.watermark && !coveredAbove(source, target, 't', cp.watermark)) violations++;
    };
    await copierOf(source, target, { threads: 4, initialChunkSize: 25, copyOrder: 'desc' }).run();
    expect(violations).toBe(0);
    // The watermark only moves down, and the row count is that of the rows above it.
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1]!, seen[i]!];
      if (a.watermark && b.watermark) expect(compareKeys(b.watermark, a.watermark)).toBeLessThanOrEqual(0);
      const above = b.watermark ? source.table('t').all().filter((r) => compareKeys([r[0]!], b.watermark!) > 0).length : b.done ? 600 : 0;
      expect(b.rowsCopied).toBe(above);
    }
    expect(seen.at(-1)).toEqual({ watermark: null, done: true, rowsCopied: 600, order: 'desc' });
  });

  it('resumes downward from a stored watermark and copies only the rows below it', async () => {
    const source = seeded(500);
    const target = new FakeTarget({ chunkDelayMs: 0 });
    const stop = new AbortController();
    const write = target.writeChunk.bind(target);
    target.writeChunk = async (table, rows, commit) => {
      await write(table, rows, commit);
      if (target.chunkLog.length === 4) stop.abort();
    };
    await expect(copierOf(source, target, { threads: 2, initialChunkSize: 30, signal: stop.signal, copyOrder: 'desc' }).run()).rejects.toBeInstanceOf(AbortedError);
    target.writeChunk = write;
    const saved = (await target.loadCheckpoint()).tables.get('t') as TableCheckpoint;
    expect(saved).toMatchObject({ done: false, order: 'desc' });
    expect(saved.watermark).not.toBeNull();
    const firstRun = target.chunkLog.length;
    const reads = recordReads(source);
    // Resumed with copyOrder asc (the default): the table goes on downward as its checkpoint began it.
    const again = copierOf(source, target, { threads: 2, initialChunkSize: 30, resume: new Map([['t', saved]]) });
    await again.run();
    expect(target.table('t').all()).toEqual(source.table('t').all());
    expect(reads[0]?.upTo).toEqual(saved.watermark);
    expect(reads.every((r) => r.upTo !== null && compareKeys(r.upTo, saved.watermark!) <= 0)).toBe(true);
    const resumedRows = target.chunkLog.slice(firstRun).reduce((n, c) => n + c.rows, 0);
    expect(resumedRows).toBe(Number(saved.watermark![0]));
    expect(again.progress()[0]).toMatchObject({ done: true, rowsCopied: 500 });
    expect(target.chunkLog.slice(firstRun).every((c) => c.checkpoint.order === 'desc')).toBe(true);
  });

  it('goes on upward from an ascending watermark under copyOrder desc, and takes copyOrder for a table with none', async () => {
    const source = seeded(100);
    const target = new FakeTarget({ chunkDelayMs: 0 });
    const reads = recordReads(source);
    await copierOf(source, target, { initialChunkSize: 30, copyOrder: 'desc', resume: new Map([['t', { watermark: [40n], done: false, rowsCopied: 40 }]]) }).run();
    expect(reads).toEqual([{ after: [40n], upTo: [70n] }, { after: [70n], upTo: null }]);
    expect(target.table('t').size).toBe(60);
    // Nothing known copied (a first chunk that did not commit in order): copyOrder decides.
    const fresh = new FakeTarget({ chunkDelayMs: 0 });
    const source2 = seeded(100);
    const ranges = recordReads(source2);
    await copierOf(source2, fresh, { initialChunkSize: 30, copyOrder: 'desc', resume: new Map([['t', { watermark: null, done: false, rowsCopied: 0 }]]) }).run();
    expect(ranges[0]).toEqual({ after: [70n], upTo: null });
    expect(fresh.table('t').all()).toEqual(source2.table('t').all());
  });
});

describe('--dry-run and the copy order', () => {
  it('notes desc, and names a table whose resumed copy keeps the direction its checkpoint began', async () => {
    const source = seeded(200);
    const target = new FakeTarget({ chunkDelayMs: 0 });
    const stop = new AbortController();
    const write = target.writeChunk.bind(target);
    target.writeChunk = async (table, rows, commit) => {
      await write(table, rows, commit);
      stop.abort();
    };
    await expect(copierOf(source, target, { initialChunkSize: 30, signal: stop.signal, copyOrder: 'desc' }).run()).rejects.toBeInstanceOf(AbortedError);
    await target.saveStreamCheckpoint({ version: 1, position: '0', sourceId: 'fake-source', phase: 'copy' });
    const logger = pino({ level: 'silent' });
    const urls = { source: 'mysql://u@127.0.0.1/db', target: 'mysql://u@127.0.0.1/db2' };
    const asc = await planSync(parseConfig(urls), { logger, source, target });
    expect(asc.mode).toBe('resume');
    expect(asc.notes).toContain('a copy resumed mid-table goes on in the direction its checkpoint began, not --copy-order asc: t (desc)');
    const desc = await planSync(parseConfig({ ...urls, copyOrder: 'desc' }), { logger, source, target });
    expect(desc.notes).toContain('--copy-order desc: each table is copied from its highest key down');
    expect(desc.notes.some((n) => n.includes('goes on in the direction'))).toBe(false);
  });
});

describe('the checkpoint of a descending copy, stored', () => {
  it('round-trips the order and its watermark, keeps the ascending body as it was, and hides a descending watermark from older readers', () => {
    const desc: TableCheckpoint = { watermark: [42n, 'x'], done: false, rowsCopied: 7, order: 'desc' };
    const asc: TableCheckpoint = { watermark: [42n, 'x'], done: false, rowsCopied: 7 };
    const bodies = [tableBody(desc), tableBody(asc)];
    const cp = decodeRows('s', [
      { name: 't:d', body: bodies[0]! },
      { name: 't:a', body: bodies[1]! },
    ]);
    expect(cp.tables.get('d')).toEqual(desc);
    expect(cp.tables.get('a')).toEqual(asc);
    expect(Object.keys(JSON.parse(bodies[1]!) as object)).toEqual(['watermark', 'done', 'rowsCopied']);
    // A reader that knows only `watermark` sees none: it copies the table again from the start.
    expect((JSON.parse(bodies[0]!) as { watermark: unknown }).watermark).toBeNull();
  });
});

describe('config copyOrder', () => {
  it('defaults to asc and takes desc from a flag, the environment or a file; anything else is refused by name', () => {
    const base = { source: 'mysql://u@h/a', target: 'mysql://u@h/b' };
    expect(loadConfig({ flags: base, env: {} }).copyOrder).toBe('asc');
    expect(loadConfig({ flags: { ...base, copyOrder: 'desc' }, env: {} }).copyOrder).toBe('desc');
    expect(loadConfig({ flags: base, env: { TRIBUTARY_COPY_ORDER: 'desc' } }).copyOrder).toBe('desc');
    expect(() => loadConfig({ flags: { ...base, copyOrder: 'down' }, env: {} })).toThrow(/copy-order/);
  });
});
