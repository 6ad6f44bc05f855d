/**
 * The initial copy (src/copier/copier.ts) on the in-memory fakes of the seams: every row copied
 * once, keyset chunks in key order (composite keys too), a table watermark that advances with each
 * committed chunk and never past a row the target lacks, a resume that copies only what is left,
 * and failed writes that surface or are retried without losing a row.
 */
import { describe, expect, it } from 'vitest';
import { AbortedError, TributaryError } from '../../src/core/errors.js';
import type { TableSchema } from '../../src/core/schema.js';
import type { KeyRange } from '../../src/core/source.js';
import type { ChunkCommit, TableCheckpoint } from '../../src/core/target.js';
import type { Row, Value } from '../../src/core/values.js';
import { copierOf } from '../helpers/copier.js';
import { RowRateLimiter } from '../../src/copier/rate-limit.js';
import { compareKeys, FakeSource, FakeTarget, prng, TABLE, until } from '../helpers/fakes.js';


/** A composite key (tenant, name): an integer then a string in binary order, multi-byte names included. */
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

/** Every row of the source that lies at or below `watermark` is on the target. */
function coveredBy(source: FakeSource, target: FakeTarget, table: string, watermark: Value[] | null): boolean {
  const rows = source.table(table).range({ after: null, upTo: watermark });
  return rows.every((r) => target.table(table).get(source.table(table).schema.primaryKey.map((i) => r[i] ?? null)) !== undefined);
}

describe('Copier on the fakes', () => {
  it('copies every row exactly once, in chunks of at most the planned size, across threads', async () => {
    const source = seeded(1000);
    const target = new FakeTarget({ chunkDelayMs: 0 });
    const copier = copierOf(source, target, { threads: 3, initialChunkSize: 37 });
    await copier.run();
    expect(target.table('t').all()).toEqual(source.table('t').all());
    // The chunks' rows add up to the table: no row was written by two chunks.
    expect(target.chunkLog.reduce((n, c) => n + c.rows, 0)).toBe(1000);
    expect(target.chunkLog.length).toBeGreaterThan(3);
    expect(copier.progress()).toEqual([{ table: 't', rowsCopied: 1000, rowsTotal: 1000, done: true }]);
    const last = (await target.loadCheckpoint()).tables.get('t');
    expect(last).toEqual({ watermark: null, done: true, rowsCopied: 1000 });
  });

  it('chunks a composite key in key order, splitting inside a group of the first column', async () => {
    const source = new FakeSource([COMPOSITE]);
    const names = ['a', 'B', 'b', 'é', 'z', 'ä', 'aa', '😀', 'Z', ''];
    const rows: Row[] = [];
    for (let tenant = 1; tenant <= 7; tenant++) for (const [i, name] of names.entries()) rows.push([BigInt(tenant), name, BigInt(tenant * 100 + i)]);
    source.seed('c', rows);
    const target = new FakeTarget({ chunkDelayMs: 0, tables: [COMPOSITE] });
    const ranges: KeyRange[] = [];
    const read = source.readChunk.bind(source);
    source.readChunk = (t, range) => {
      ranges.push(range);
      return read(t, range);
    };
    // Chunks of 7 rows never line up with groups of 10: boundaries fall inside a tenant.
    await copierOf(source, target, { tables: [COMPOSITE], initialChunkSize: 7, chunkTimeMs: 1 }).run();
    expect(target.table('c').all()).toEqual(source.table('c').all());
    expect(target.chunkLog.reduce((n, c) => n + c.rows, 0)).toBe(70);
    // Ranges follow each other without gap or overlap, in key order, and end open.
    expect(ranges[0]?.after).toBeNull();
    for (let i = 1; i < ranges.length; i++) {
      expect(ranges[i]?.after).toEqual(ranges[i - 1]?.upTo);
      expect(compareKeys(ranges[i]!.after!, ranges[i - 1]!.after ?? [0n, ''])).toBeGreaterThan(0);
    }
    expect(ranges.at(-1)?.upTo).toBeNull();
    expect(ranges.some((r) => r.upTo !== null && r.upTo[1] !== '😀')).toBe(true);
    // The source's binary order: '' < 'B' < 'Z' < 'a' < 'aa' < 'b' < 'z' < 'ä' < 'é' < '😀'.
    expect(source.table('c').all().slice(0, 10).map((r) => r[1])).toEqual(['', 'B', 'Z', 'a', 'aa', 'b', 'z', 'ä', 'é', '😀']);
  });

  it('advances the table checkpoint with each committed chunk, never past a row the target lacks', async () => {
    const source = seeded(600);
    const target = new FakeTarget({ chunkDelayMs: 0 });
    const random = prng(7);
    const write = target.writeChunk.bind(target);
    const seen: TableCheckpoint[] = [];
    let violations = 0;
    // Chunks commit out of order: each waits a random moment first.
    target.writeChunk = async (table: TableSchema, rows: readonly Row[], commit: ChunkCommit) => {
      await new Promise((r) => setTimeout(r, Math.floor(random() * 4)));
      await write(table, rows, commit);
      const cp = (await target.loadCheckpoint()).tables.get('t') as TableCheckpoint;
      seen.push(cp);
      if (!coveredBy(source, target, 't', cp.watermark)) violations++;
    };
    await copierOf(source, target, { threads: 4, initialChunkSize: 25 }).run();
    expect(violations).toBe(0);
    expect(seen.length).toBe(target.chunkLog.length);
    // The watermark only moves forward, and the row count is that of the rows at or below it.
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1]!, seen[i]!];
      if (a.watermark && b.watermark) expect(compareKeys(b.watermark, a.watermark)).toBeGreaterThanOrEqual(0);
      expect(b.rowsCopied).toBeGreaterThanOrEqual(a.rowsCopied);
      const below = b.watermark ? source.table('t').all().filter((r) => compareKeys([r[0]!], b.watermark!) <= 0).length : b.done ? 600 : 0;
      expect(b.rowsCopied).toBe(below);
    }
    expect(seen.filter((c) => c.done)).toHaveLength(1);
    expect(seen.at(-1)).toEqual({ watermark: null, done: true, rowsCopied: 600 });
  });

  it('with one thread, each chunk checkpoints its own upper bound', async () => {
    const source = seeded(95);
    const target = new FakeTarget({ chunkDelayMs: 0 });
    await copierOf(source, target, { initialChunkSize: 20, chunkTimeMs: 1_000_000 }).run();
    // Sizes double up to the time target: 20, 40, then the rest (35 < 80: the open-ended last chunk).
    expect(target.chunkLog.map((c) => c.rows)).toEqual([20, 40, 35]);
    expect(target.chunkLog.map((c) => c.checkpoint)).toEqual([
      { watermark: [20n], done: false, rowsCopied: 20 },
      { watermark: [60n], done: false, rowsCopied: 60 },
      { watermark: null, done: true, rowsCopied: 95 },
    ]);
  });

  it('resumes from a stored watermark and copies only the rows after it', async () => {
    const source = seeded(500);
    const target = new FakeTarget({ chunkDelayMs: 0 });
    const stop = new AbortController();
    const write = target.writeChunk.bind(target);
    target.writeChunk = async (table, rows, commit) => {
      await write(table, rows, commit);
      if (target.chunkLog.length === 4) stop.abort();
    };
    await expect(copierOf(source, target, { threads: 2, initialChunkSize: 30, signal: stop.signal }).run()).rejects.toBeInstanceOf(AbortedError);
    target.writeChunk = write;
    const saved = (await target.loadCheckpoint()).tables.get('t') as TableCheckpoint;
    expect(saved.done).toBe(false);
    expect(saved.watermark).not.toBeNull();
    const firstRun = target.chunkLog.length;
    const reads: KeyRange[] = [];
    const read = source.readChunk.bind(source);
    source.readChunk = (t, range) => {
      reads.push(range);
      return read(t, range);
    };
    const again = copierOf(source, target, { threads: 2, initialChunkSize: 30, resume: new Map([['t', saved]]) });
    await again.run();
    expect(target.table('t').all()).toEqual(source.table('t').all());
    // The second run read nothing at or below the watermark, and wrote only what was left.
    expect(reads.every((r) => r.after !== null && compareKeys(r.after, saved.watermark!) >= 0)).toBe(true);
    const resumedRows = target.chunkLog.slice(firstRun).reduce((n, c) => n + c.rows, 0);
    expect(resumedRows).toBe(500 - Number(saved.watermark![0]));
    expect(again.progress()[0]).toMatchObject({ done: true, rowsCopied: saved.rowsCopied + resumedRows });
  });

  it('skips a table whose checkpoint says done', async () => {
    const source = seeded(50);
    const target = new FakeTarget({ chunkDelayMs: 0 });
    const copier = copierOf(source, target, { resume: new Map([['t', { watermark: null, done: true, rowsCopied: 50 }]]) });
    await copier.run();
    expect(target.chunkLog).toHaveLength(0);
    expect(copier.progress()[0]).toMatchObject({ done: true, rowsCopied: 50 });
    // Copied in an earlier run: the target readied it then.
    expect(target.tablesCopied).toEqual([]);
  });

  it('tells the target once per table that its copy ended, after its last chunk committed, across threads', async () => {
    const u: TableSchema = { ...TABLE, name: 'u' };
    const source = new FakeSource([TABLE, u]);
    source.seed('t', Array.from({ length: 300 }, (_, i): Row => [BigInt(i + 1), `v${i + 1}`]));
    source.seed('u', Array.from({ length: 5 }, (_, i): Row => [BigInt(i + 1), `w${i + 1}`]));
    const target = new FakeTarget({ chunkDelayMs: 1, tables: [TABLE, u] });
    const seen: { table: string; rows: number }[] = [];
    const told = target.tableCopied.bind(target);
    target.tableCopied = async (table) => {
      seen.push({ table: table.name, rows: target.table(table.name).all().length });
      await told(table);
    };
    await copierOf(source, target, { tables: [TABLE, u], threads: 3, initialChunkSize: 7 }).run();
    expect([...target.tablesCopied].sort()).toEqual(['t', 'u']);
    // Each table whole on the target when told.
    expect(seen.find((s) => s.table === 't')?.rows).toBe(300);
    expect(seen.find((s) => s.table === 'u')?.rows).toBe(5);
  });

  it('goes on when the target cannot ready a copied table: the copy is done all the same', async () => {
    const source = seeded(40);
    const target = new FakeTarget({ chunkDelayMs: 0 });
    target.tableCopied = () => Promise.reject(new Error('permission denied for table t'));
    const copier = copierOf(source, target, { threads: 2, initialChunkSize: 10 });
    await copier.run();
    expect(target.table('t').all()).toEqual(source.table('t').all());
    expect(copier.progress()[0]).toMatchObject({ done: true, rowsCopied: 40 });
  });

  it.each(['chunk', 'chunkCommit'] as const)('retries a chunk whose write failed (%s) and loses nothing', async (point) => {
    const source = seeded(200);
    const target = new FakeTarget({ chunkDelayMs: 0 });
    target.failAt(point, 3);
    await copierOf(source, target, { threads: 2, initialChunkSize: 25 }).run();
    expect(target.table('t').all()).toEqual(source.table('t').all());
    expect(target.chunkLog.reduce((n, c) => n + c.rows, 0)).toBe(200);
    expect((await target.loadCheckpoint()).tables.get('t')).toEqual({ watermark: null, done: true, rowsCopied: 200 });
  });

  it('surfaces a fatal write error, keeps a checkpoint that covers only what committed, and a rerun completes the copy', async () => {
    const source = seeded(300);
    const target = new FakeTarget({ chunkDelayMs: 0 });
    target.failAt('chunkCommit', 4, { fatal: true });
    const failed = copierOf(source, target, { threads: 2, initialChunkSize: 20 }).run();
    await expect(failed).rejects.toThrow(/injected failure at chunkCommit #4/);
    await expect(failed).rejects.toBeInstanceOf(TributaryError);
    const saved = (await target.loadCheckpoint()).tables.get('t') as TableCheckpoint;
    expect(saved.done).toBe(false);
    expect(coveredBy(source, target, 't', saved.watermark)).toBe(true);
    expect(target.table('t').size).toBeLessThan(300);
    await copierOf(source, target, { threads: 2, initialChunkSize: 20, resume: new Map([['t', saved]]) }).run();
    expect(target.table('t').all()).toEqual(source.table('t').all());
    expect((await target.loadCheckpoint()).tables.get('t')).toMatchObject({ done: true });
  });

  // A table checkpoint's rowsCopied counts only the chunks at or below its watermark: a resume
  // copies every chunk beyond it again, which would otherwise be counted twice (progress showing
  // more rows copied than the table has).
  it('after a resume, counts each row once in rowsCopied even when chunks had committed out of order', async () => {
    const source = seeded(30);
    const target = new FakeTarget({ chunkDelayMs: 0 });
    const write = target.writeChunk.bind(target);
    target.writeChunk = async (table, rows, commit) => {
      // The first chunk waits until another has committed, then fails: the watermark stays null.
      if (rows[0]?.[0] === 1n) {
        await until('another chunk', () => target.chunkLog.length >= 1);
        target.failAt('chunk', 1, { fatal: true });
      }
      await write(table, rows, commit);
    };
    await expect(copierOf(source, target, { threads: 2, initialChunkSize: 10 }).run()).rejects.toThrow(/injected/);
    const saved = (await target.loadCheckpoint()).tables.get('t') as TableCheckpoint;
    // Nothing at or below the watermark: the chunk that committed is copied again, counted once.
    expect(saved.watermark).toBeNull();
    expect(saved.rowsCopied).toBe(0);
    target.writeChunk = write;
    const again = copierOf(source, target, { threads: 2, initialChunkSize: 10, resume: new Map([['t', saved]]) });
    await again.run();
    expect(target.table('t').all()).toEqual(source.table('t').all());
    expect(again.progress()[0]).toMatchObject({ done: true, rowsCopied: 30 });
  });

  describe('a table added while the stream runs (Copier.add)', () => {
    const U2: TableSchema = { ...TABLE, name: 'u2' };
    const twoTables = (n: number, m: number): FakeSource => {
      const source = new FakeSource([TABLE, U2]);
      source.seed('t', Array.from({ length: n }, (_, i): Row => [BigInt(i + 1), `v${i + 1}`]));
      source.seed('u2', Array.from({ length: m }, (_, i): Row => [BigInt(i + 1), `u${i + 1}`]));
      return source;
    };

    it('a running copy takes it and copies it whole before run() returns', async () => {
      const source = twoTables(300, 250);
      const target = new FakeTarget({ chunkDelayMs: 2, tables: [TABLE, U2] });
      const copier = copierOf(source, target, { tables: [TABLE], threads: 2, initialChunkSize: 20 });
      const running = copier.run();
      await until('some chunks copied', () => target.chunkLog.length >= 3);
      expect(copier.unfinished).toBe(true);
      copier.add(U2);
      await running;
      expect(target.table('u2').all()).toEqual(source.table('u2').all());
      expect(target.table('t').all()).toEqual(source.table('t').all());
      expect(copier.progress().map((p) => [p.table, p.rowsCopied, p.done])).toEqual([['t', 300, true], ['u2', 250, true]]);
      expect((await target.loadCheckpoint()).tables.get('u2')).toEqual({ watermark: null, done: true, rowsCopied: 250 });
      expect(copier.unfinished).toBe(false);
    });

    it('after run() returned: waitForTables resolves on add(), and run() again copies only the new table', async () => {
      const source = twoTables(100, 180);
      const target = new FakeTarget({ tables: [TABLE, U2] });
      const copier = copierOf(source, target, { tables: [TABLE], initialChunkSize: 30 });
      await copier.run();
      const copiedT = target.chunkLog.length;
      let woke = false;
      const ac = new AbortController();
      const waiting = copier.waitForTables(ac.signal).then(() => (woke = true));
      await new Promise((r) => setTimeout(r, 20));
      expect(woke).toBe(false);
      copier.add(U2);
      await waiting;
      expect(woke).toBe(true);
      await copier.run();
      expect(target.table('u2').all()).toEqual(source.table('u2').all());
      expect(target.chunkLog.slice(copiedT).every((c) => c.table === 'u2')).toBe(true);
      expect(copier.progress().find((p) => p.table === 'u2')).toEqual({ table: 'u2', rowsCopied: 180, rowsTotal: 180, done: true });
    });

    it('waitForTables ends when its signal aborts, with nothing added', async () => {
      const source = twoTables(10, 0);
      const target = new FakeTarget({ tables: [TABLE, U2] });
      const copier = copierOf(source, target, { tables: [TABLE] });
      await copier.run();
      const ac = new AbortController();
      const waiting = copier.waitForTables(ac.signal);
      ac.abort();
      await waiting;
      expect(copier.unfinished).toBe(false);
    });
  });

  describe('a schema change of a table being copied (quiesce, then restart)', () => {
    it('stops new chunks, waits for those in flight, and copies the table again from the start', async () => {
      const source = seeded(400);
      const target = new FakeTarget({ chunkDelayMs: 3 });
      const ranges: KeyRange[] = [];
      const read = source.readChunk.bind(source);
      source.readChunk = (t, range) => {
        ranges.push(range);
        return read(t, range);
      };
      const copier = copierOf(source, target, { threads: 2 });
      const running = copier.run();
      await until('some chunks copied', () => target.chunkLog.length >= 5);
      expect(await copier.quiesce(['t', 'not-copied'])).toEqual(['t']);
      // None in flight, none starts while quiesced: the log stands still, and run() waits.
      const frozen = target.chunkLog.length;
      let settled = false;
      void running.finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 40));
      expect(target.chunkLog.length).toBe(frozen);
      expect(settled).toBe(false);
      expect(copier.progress()[0]?.done).toBe(false);
      // Rows the source changed meanwhile are copied again, as the definition after the change reads them.
      source.seed('t', Array.from({ length: 400 }, (_, i): Row => [BigInt(i + 1), `w${i + 1}`]));
      const before = ranges.length;
      copier.restart('t', source.table('t').schema);
      await running;
      expect(ranges[before]?.after).toBeNull();
      expect(target.table('t').all()).toEqual(source.table('t').all());
      expect(copier.progress()).toEqual([{ table: 't', rowsCopied: 400, rowsTotal: 400, done: true }]);
      expect((await target.loadCheckpoint()).tables.get('t')).toEqual({ watermark: null, done: true, rowsCopied: 400 });
    });

    it('a worker that waited under the rate limit across the restart reads nothing with the definition of before', async () => {
      const source = seeded(120);
      const target = new FakeTarget({ chunkDelayMs: 1 });
      const seen: TableSchema[] = [];
      const read = source.readChunk.bind(source);
      source.readChunk = (t, range) => {
        seen.push(t);
        return read(t, range);
      };
      const copier = copierOf(source, target, { threads: 2, rateLimit: new RowRateLimiter(200) });
      const running = copier.run();
      await until('a chunk copied', () => target.chunkLog.length >= 1);
      expect(await copier.quiesce(['t'])).toEqual(['t']);
      const renewed: TableSchema = { ...source.table('t').schema };
      const before = seen.length;
      copier.restart('t', renewed);
      await running;
      expect(seen.slice(before).every((t) => t === renewed)).toBe(true);
      expect(target.table('t').all()).toEqual(source.table('t').all());
    });

    it('a claim that was awaiting its chunk boundary when the table was quiesced starts no chunk with the definition of before', async () => {
      const source = seeded(120);
      const target = new FakeTarget({ chunkDelayMs: 1 });
      const seen: TableSchema[] = [];
      const read = source.readChunk.bind(source);
      source.readChunk = (t, range) => {
        seen.push(t);
        return read(t, range);
      };
      // The first boundary is slow: the schema change quiesces the table while the claim awaits it.
      const boundary = source.chunkBoundary.bind(source);
      let slow = true;
      let asked!: () => void;
      const askedOnce = new Promise<void>((r) => (asked = r));
      source.chunkBoundary = async (...args) => {
        if (slow) {
          slow = false;
          asked();
          await new Promise((r) => setTimeout(r, 50));
        }
        return boundary(...args);
      };
      const copier = copierOf(source, target, { threads: 1 });
      const running = copier.run();
      await askedOnce;
      // No chunk in flight yet: quiesce returns at once, as it did before the fix.
      expect(await copier.quiesce(['t'])).toEqual(['t']);
      const renewed: TableSchema = { ...source.table('t').schema };
      copier.restart('t', renewed);
      await running;
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((t) => t === renewed)).toBe(true);
      expect(target.table('t').all()).toEqual(source.table('t').all());
    });

    it('a chunk that fails for good because the source is ahead waits for the schema change to quiesce the table, then is copied again; without one it fails', async () => {
      const source = seeded(200);
      const target = new FakeTarget({ chunkDelayMs: 1 });
      let reads = 0;
      const read = source.readChunk.bind(source);
      source.readChunk = async (t, range) => {
        if (++reads === 3) throw new TributaryError('TRIB_TARGET_WRITE_FAILED' as never, "Out of range value for column 'v'", { fatal: true });
        return read(t, range);
      };
      const copier = copierOf(source, target, { schemaChangeWaitMs: 5000 });
      const running = copier.run();
      await until('the failed read', () => reads >= 3);
      // The stream reaches the statement a moment later.
      await new Promise((r) => setTimeout(r, 200));
      expect(await copier.quiesce(['t'])).toEqual(['t']);
      copier.restart('t', source.table('t').schema);
      await running;
      expect(target.table('t').all()).toEqual(source.table('t').all());

      const alone = seeded(50);
      alone.readChunk = async () => {
        throw new TributaryError('TRIB_TARGET_WRITE_FAILED' as never, 'broken for good', { fatal: true });
      };
      await expect(copierOf(alone, new FakeTarget({ chunkDelayMs: 0 }), { schemaChangeWaitMs: 300 }).run()).rejects.toThrow(/broken for good/);
    });

    it('ends the copy of a table dropped while it was copied, and finishes the others', async () => {
      const source = new FakeSource([TABLE, COMPOSITE]);
      source.seed('t', Array.from({ length: 300 }, (_, i): Row => [BigInt(i + 1), `v${i + 1}`]));
      source.seed('c', [[1n, 'a', 1n]]);
      const target = new FakeTarget({ chunkDelayMs: 3, tables: [TABLE, COMPOSITE] });
      const copier = copierOf(source, target, { tables: [TABLE, COMPOSITE] });
      const running = copier.run();
      await until('some chunks of t copied', () => target.chunkLog.filter((c) => c.table === 't').length >= 2);
      expect(await copier.quiesce(['t'])).toEqual(['t']);
      copier.restart('t', undefined);
      await running;
      expect(copier.progress().map((p) => p.table)).toEqual(['c']);
      expect(target.table('c').all()).toEqual(source.table('c').all());
    });

    it('quiesces nothing of a table whose copy is done, and a chunk that fails while quiesced is abandoned, not retried', async () => {
      const source = seeded(200);
      const target = new FakeTarget({ chunkDelayMs: 0 });
      const done = copierOf(source, target);
      await done.run();
      expect(await done.quiesce(['t'])).toEqual([]);

      const again = seeded(200);
      const into = new FakeTarget({ chunkDelayMs: 2 });
      const copier = copierOf(again, into);
      let reads = 0;
      let release: (() => void) | undefined;
      const read = again.readChunk.bind(again);
      again.readChunk = async (t, range) => {
        if (++reads === 3) {
          // The read that fails is in flight when the schema change quiesces the table.
          await new Promise<void>((r) => (release = r));
          throw new TributaryError('TRIB_CONNECT_FAILED' as never, "Unknown column 'v' in 'field list'", { fatal: false });
        }
        return read(t, range);
      };
      const running = copier.run();
      await until('the third read in flight', () => release !== undefined);
      const quiescing = copier.quiesce(['t']);
      release?.();
      expect(await quiescing).toEqual(['t']);
      expect(reads).toBe(3);
      copier.restart('t', again.table('t').schema);
      await running;
      expect(into.table('t').all()).toEqual(again.table('t').all());
    });
  });
});
