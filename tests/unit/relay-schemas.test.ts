import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { StreamEvent } from '../../src/core/change.js';
import { createLogger } from '../../src/core/logger.js';
import type { TableSchema } from '../../src/core/schema.js';
import { foldSchemas, RelayWriter, streamSchemas } from '../../src/relay/index.js';
import { decodeHeader, encodeHeader, frame, FORMAT_VERSION } from '../../src/relay/record.js';
import { DURABLE_FILE, encodeMark, readMark } from '../../src/relay/meta.js';
import { indexFile, parseHeader, readHeader, segmentFile } from '../../src/relay/segment.js';
import { Relay } from '../../src/runner/relay.js';
import { FakeSource, TABLE } from '../helpers/fakes.js';
import { compare, p, txn } from './relay-fixtures.js';

/**
 * The relay's own schema history (issue 16): a relay resuming from its last durable record decodes
 * with the definitions of then — its segment header's, folded with its records' schema changes —
 * not with the source's catalogue of now, which an ALTER made while the relay was down changed.
 */

const logger = createLogger({ level: 'silent' });
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay-schemas-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const col = (name: string) => ({ name, dataType: 'int', columnType: 'int', nullable: true, unsigned: false, logical: { kind: 'integer' as const, bytes: 4 as const, signed: true } });
/** Table `name` with columns id and `cols`. */
const table = (name: string, ...cols: string[]): TableSchema => ({ ...TABLE, name, columns: [TABLE.columns[0]!, ...cols.map(col)] });
const names = (t: TableSchema | undefined) => t?.columns.map((c) => c.name).join(',');

/** A schema change as the MySQL source streams it: before and after of the touched tables. */
function ddl(position: string, before: readonly TableSchema[], after: readonly TableSchema[]): StreamEvent {
  return {
    type: 'ddl',
    tables: [...new Set([...before, ...after].map((t) => t.name))],
    statement: 'ALTER …',
    position,
    operations: [],
    before: new Map(before.map((t) => [t.name, t])),
    after: new Map(after.map((t) => [t.name, t])),
  };
}

describe('foldSchemas', () => {
  it('sets what a change leaves, removes what it drops or renames away, and ignores a statement it could not parse', () => {
    const m = new Map([['a', table('a', 'x')], ['b', table('b')]]);
    expect(foldSchemas(m, [{ type: 'begin' }, { type: 'commit', position: '1', timestamp: 0 }])).toBe(false);
    expect(foldSchemas(m, [ddl('2', [table('a', 'x')], [table('a', 'x', 'y')])])).toBe(true);
    expect(names(m.get('a'))).toBe('id,x,y');
    // RENAME TABLE b TO c; then DROP TABLE a, in one record.
    foldSchemas(m, [ddl('3', [table('b')], [table('c')]), ddl('4', [table('a', 'x', 'y')], [])]);
    expect([...m.keys()]).toEqual(['c']);
    expect(foldSchemas(m, [{ type: 'ddl', tables: ['c'], statement: 'ALTER TABLE c FROB', position: '5' }])).toBe(false);
    expect([...m.keys()]).toEqual(['c']);
  });

  it('streamSchemas: the stored definition of a table the catalogue lists, the catalogue\'s for a new one, and a stored one the catalogue lost while selected', () => {
    const stored = new Map([['a', table('a', 'x')], ['gone', table('gone')], ['other', table('other')]]);
    const out = streamSchemas(stored, [table('a', 'x', 'later'), table('new', 'n')], (n) => n !== 'other');
    expect(out.map((t) => `${t.name}:${names(t)}`)).toEqual(['a:id,x', 'new:id,n', 'gone:id']);
  });
});

describe('segment headers', () => {
  it('hold the definitions (format 2); a format 1 header still reads, without them; a later format is refused', () => {
    const h = { version: FORMAT_VERSION, seq: 3, firstOrdinal: 7, startPosition: p(6), sourceId: 's', createdAt: 1, tables: [table('a', 'x')] };
    expect(decodeHeader(encodeHeader(h))).toStrictEqual(h);
    const v1 = { version: 1, seq: 3, firstOrdinal: 7, startPosition: p(6), sourceId: 's', createdAt: 1 };
    expect(decodeHeader(encodeHeader({ ...v1, tables: [table('a')] }))).toStrictEqual(v1);
    expect(parseHeader('f', frame(encodeHeader(v1)), 1 << 20, 3).header).toStrictEqual(v1);
    expect(() => parseHeader('f', frame(encodeHeader({ ...v1, version: FORMAT_VERSION + 1 })), 1 << 20, 3)).toThrow(/format version 3, this tributary reads 1 to 2/);
  });
});

describe('RelayWriter definitions', () => {
  const open = (tables: readonly TableSchema[], segmentBytes?: number) =>
    RelayWriter.open(dir, { sourceId: 's', startPosition: p(0), compare, tables, ...(segmentBytes ? { segmentBytes } : {}) });

  it('are the given ones for a new relay, then each record\'s schema changes, kept across a roll and a reopen whatever the catalogue says then', async () => {
    const w = await open([table('t', 'v')], 4096);
    expect(w.definitions().stored).toBe(false);
    for (let n = 1; n <= 5; n++) w.append(txn(n));
    w.append({ position: p(6), events: [ddl(p(6), [table('t', 'v')], [table('t', 'v', 'w')])] });
    expect(names(w.definitions().tables.get('t'))).toBe('id,v,w');
    // Enough rows to roll: the next segment's header holds the definitions after the change.
    for (let n = 7; n <= 40; n++) w.append(txn(n, 3));
    await w.flush();
    const segs = w.meta().segments;
    expect(segs.length).toBeGreaterThan(1);
    expect((await readHeader(dir, segs[0]!.seq)).header.tables?.map(names)).toEqual(['id,v']);
    expect((await readHeader(dir, segs[1]!.seq)).header.tables?.map(names)).toEqual(['id,v,w']);
    w.append({ position: p(41), events: [ddl(p(41), [table('t', 'v', 'w')], [table('t', 'w')])] });
    await w.close();

    // Reopened with the catalogue of a later time: the directory's definitions win (the last
    // segment's header folded with the DROP COLUMN v record in it).
    const again = await open([table('t', 'w', 'later')]);
    expect(again.definitions().stored).toBe(true);
    expect(names(again.definitions().tables.get('t'))).toBe('id,w');
    await again.close();
  });

  it('of a relay with a single segment are its header\'s folded with each of its records', async () => {
    const w = await open([table('t', 'v')]);
    w.append(txn(1));
    w.append({ position: p(2), events: [ddl(p(2), [table('t', 'v')], [table('t', 'v', 'w')])] });
    w.append(txn(3));
    await w.close();
    const again = await open([table('t', 'x')]);
    expect(names(again.definitions().tables.get('t'))).toBe('id,v,w');
    again.define([table('t', 'v', 'w'), table('u')]);
    expect([...again.definitions().tables.keys()]).toEqual(['t', 'u']);
    await again.close();
  });
});

describe('a directory of format 1 (written before the relay kept definitions)', () => {
  it('opens with the caller\'s definitions, not stored, and keeps its own from the next segment on', async () => {
    const w = await RelayWriter.open(dir, { sourceId: 's', startPosition: p(0), compare, tables: [table('t', 'v')] });
    w.append(txn(1));
    w.append({ position: p(2), events: [ddl(p(2), [table('t', 'v')], [table('t', 'v', 'w')])] });
    await w.close();
    // Rewrite segment 0 as a format 1 tributary wrote it: its header without definitions (the
    // durable mark's offset moves by the difference; the index is rebuilt on open).
    const file = segmentFile(dir, 0);
    const buf = await readFile(file);
    const { header, dataStart } = parseHeader(file, buf, buf.length, 0);
    const { tables: _dropped, ...rest } = header;
    const head = frame(encodeHeader({ ...rest, version: 1 }));
    await writeFile(file, Buffer.concat([head, buf.subarray(dataStart)]));
    const mark = (await readMark(dir))!;
    await writeFile(join(dir, DURABLE_FILE), encodeMark({ ...mark, offset: mark.offset - dataStart + head.length }));
    await rm(indexFile(dir, 0), { force: true });

    const again = await RelayWriter.open(dir, { sourceId: 's', startPosition: p(0), compare, tables: [table('t', 'now')], segmentBytes: 4096 });
    expect(again.durablePosition().ordinal).toBe(1);
    // Its records are not folded onto the catalogue's definitions: those stand as given.
    expect(again.definitions().stored).toBe(false);
    expect(names(again.definitions().tables.get('t'))).toBe('id,now');
    for (let n = 3; n <= 30; n++) again.append(txn(n, 3));
    await again.flush();
    const segs = again.meta().segments;
    expect((await readHeader(dir, segs.at(-1)!.seq)).header).toMatchObject({ version: FORMAT_VERSION, tables: [expect.objectContaining({ name: 't' })] });
    await again.close();
  });
});

describe('Relay', () => {
  it('resumes decoding with its own definitions at its last record, not with the catalogue\'s of now', async () => {
    const v1 = table('t', 'v');
    const v2 = table('t', 'v', 'w');
    const fake = new FakeSource([v1]);
    const seen: string[][] = [];
    const stream = fake.stream.bind(fake);
    fake.stream = (from, tables, signal) => {
      seen.push(tables.map((t) => `${t.name}:${names(t)}`));
      return stream(from, tables, signal);
    };
    const config = validateConfig({ source: 'mysql://u@db.invalid:3306/shop', target: 'mysql://u@none.invalid/none', relayDir: dir, relayMinAge: 0 });
    const relayOf = () => new Relay({ ...config, relayDir: dir }, { logger, source: fake });

    const relay = relayOf();
    const run = relay.run();
    await until(async () => (await relay.status()).state === 'streaming');
    fake.transaction([{ kind: 'upsert', table: 't', row: [1n, 1n] }]);
    fake.push(ddl('2', [v1], [v2]));
    await until(async () => (await relay.status()).durableOrdinal === 1);
    relay.cancel();
    await run;
    expect(seen).toEqual([['t:id,v']]);

    // While the relay is down the table changes twice more: the catalogue now has a third definition.
    fake.describe = async () => table('t', 'v', 'w', 'x');
    const again = relayOf();
    const run2 = again.run();
    await until(async () => (await again.status()).state === 'streaming');
    again.cancel();
    await run2;
    expect(seen[1]).toEqual(['t:id,v,w']);
  });
});

async function until(pred: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
