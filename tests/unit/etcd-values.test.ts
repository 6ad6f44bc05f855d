/**
 * The etcd target's value and key formats (src/core/json-row.ts, src/engines/etcd/keys.ts), without a server:
 * each logical type's JSON form as documented, and every canonical value read back exactly for
 * the conventions of the engine that produced it.
 */
import { describe, expect, it } from 'vitest';
import type { LogicalType } from '../../src/core/logical.js';
import type { Column, TableSchema } from '../../src/core/schema.js';
import type { Value } from '../../src/core/values.js';
import { valueConventions } from '../../src/engines/registry.js';
import { decodePart, encodePart, KeyLayout, prefixEnd } from '../../src/engines/etcd/keys.js';
import { canonicalTimestamp, isoTimestamp, members, parseRow, renderRow, writeRow } from '../../src/core/json-row.js';
import { rowJson } from '../../src/core/slab.js';
import { planDocuments } from '../../src/engines/etcd/ddl.js';
import type { SchemaChange, SchemaOperation } from '../../src/core/schema-change.js';

const col = (name: string, logical: LogicalType): Column => ({ name, dataType: logical.kind, columnType: logical.kind, nullable: true, unsigned: false, logical });

/** Columns of every logical kind, each with canonical values and the JSON text of the first. */
const CASES: { engine: string; column: Column; values: Value[]; json: string }[] = [
  { engine: 'mysql', column: col('i', { kind: 'integer', bytes: 8, signed: false }), values: [18446744073709551615n, 9007199254740991n, -9007199254740991n, 0n], json: '"18446744073709551615"' },
  { engine: 'mysql', column: col('small', { kind: 'integer', bytes: 4, signed: true }), values: [-5n], json: '-5' },
  { engine: 'mysql', column: col('y', { kind: 'year' }), values: [2155n, 0n], json: '2155' },
  { engine: 'mysql', column: col('d', { kind: 'decimal', precision: 65, scale: 30 }), values: ['-12345678901234567890123456789012345.123456789012345678901234567890', '1.50'], json: '"-12345678901234567890123456789012345.123456789012345678901234567890"' },
  { engine: 'postgres', column: col('n', { kind: 'decimal' }), values: ['NaN', 'Infinity', '-0.000'], json: '"NaN"' },
  { engine: 'postgres', column: col('f', { kind: 'float', bits: 64 }), values: [0.1, NaN, Infinity, -Infinity, -0, 5e-324, 1.7976931348623157e308], json: '0.1' },
  { engine: 'postgres', column: col('b', { kind: 'boolean' }), values: [true, false], json: 'true' },
  { engine: 'mysql', column: col('s', { kind: 'text', fixed: false }), values: ['emoji😀 "q" \\ \n\t\u0000', ''], json: '"emoji😀 \\"q\\" \\\\ \\n\\t\\u0000"' },
  { engine: 'mysql', column: col('set', { kind: 'set', labels: ['x', 'y', 'z'] }), values: ['x,z', ''], json: '["x","z"]' },
  { engine: 'mysql', column: col('bin', { kind: 'binary', fixed: false }), values: [Buffer.from([0, 255, 128]), Buffer.alloc(0)], json: '"AP+A"' },
  { engine: 'mysql', column: col('dt', { kind: 'date' }), values: ['2024-02-29', '0000-00-00'], json: '"2024-02-29"' },
  { engine: 'mysql', column: col('dtm', { kind: 'timestamp', zone: false, fsp: 6 }), values: ['2024-01-02 03:04:05.123456', '0000-00-00 00:00:00.000000'], json: '"2024-01-02T03:04:05.123456"' },
  { engine: 'mysql', column: col('ts', { kind: 'timestamp', zone: true, fsp: 3 }), values: ['2024-01-02 03:04:05.500'], json: '"2024-01-02T03:04:05.500Z"' },
  { engine: 'postgres', column: col('tz', { kind: 'timestamp', zone: true, fsp: 6 }), values: ['2024-01-02 03:04:05.5+00', 'infinity', '0044-03-15 12:00:00+00 BC'], json: '"2024-01-02T03:04:05.5Z"' },
  { engine: 'mysql', column: col('tm', { kind: 'time', fsp: 6, range: 'hours838' }), values: ['-838:59:59.000000'], json: '"-838:59:59.000000"' },
  { engine: 'postgres', column: col('iv', { kind: 'interval' }), values: ['1 year 2 mons -3 days 04:05:06.5'], json: '"1 year 2 mons -3 days 04:05:06.5"' },
  { engine: 'mysql', column: col('js', { kind: 'json', binary: false }), values: ['{"a": [1, 2.0],  "big": 12345678901234567890}', '  [ ]  ', 'null', '"s"'], json: '{"a": [1, 2.0],  "big": 12345678901234567890}' },
  { engine: 'mysql', column: col('bits', { kind: 'bit', length: 5, varying: false }), values: [5n, 0n, 31n], json: '"00101"' },
  { engine: 'mysql', column: col('b64', { kind: 'bit', length: 64, varying: false }), values: [18446744073709551615n], json: '"1111111111111111111111111111111111111111111111111111111111111111"' },
  { engine: 'postgres', column: col('pbit', { kind: 'bit', length: 4, varying: false }), values: ['0101'], json: '"0101"' },
  { engine: 'postgres', column: col('vbit', { kind: 'bit', length: 8, varying: true }), values: ['101'], json: '"101"' },
  { engine: 'postgres', column: col('arr', { kind: 'array', of: { kind: 'integer', bytes: 4, signed: true } }), values: ['{1,2,NULL}'], json: '"{1,2,NULL}"' },
  { engine: 'mysql', column: col('geo', { kind: 'spatial', subtype: 'point' }), values: [Buffer.from('e61000000101000000000000000000f03f0000000000000040', 'hex')], json: '"e61000000101000000000000000000f03f0000000000000040"' },
  { engine: 'postgres', column: col('pgeo', { kind: 'spatial', subtype: 'point', ewkb: true }), values: ['0101000020e6100000000000000000f03f0000000000000040'], json: '"0101000020e6100000000000000000f03f0000000000000040"' },
  { engine: 'mysql', column: col('e', { kind: 'enum', labels: ['a', 'b,c'] }), values: ['b,c'], json: '"b,c"' },
  { engine: 'postgres', column: col('u', { kind: 'uuid' }), values: ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'], json: '"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"' },
  { engine: 'postgres', column: col('o', { kind: 'other', native: 'int4range' }), values: ['[1,5)'], json: '"[1,5)"' },
];

const idCol = col('id', { kind: 'integer', bytes: 4, signed: true });

/** A row's JSON as writeRow writes it into the slab, and as renderRow's text encodes. */
const both = (table: TableSchema, row: Value[], engine: string) => {
  const conv = valueConventions(engine);
  return { written: rowJson((out) => writeRow(table, row, conv, out)), text: Buffer.from(renderRow(table, row, conv)) };
};

describe('etcd rows written straight into bytes (writeRow) are renderRow\u2019s text, byte for byte', () => {
  it.each(CASES.map((c) => [`${c.engine} ${c.column.logical?.kind} (${c.column.name})`, c] as const))('%s', (_, c) => {
    const table: TableSchema = { name: 't', engine: c.engine, columns: [idCol, c.column], primaryKey: [0], generated: [] };
    for (const v of [...c.values, null]) {
      const { written, text } = both(table, [1n, v], c.engine);
      expect(written.toString()).toBe(text.toString());
      expect(written.equals(text)).toBe(true);
    }
  });

  it('integers at the edge of the safe range, strings JSON escapes or that go beyond ASCII, timestamps of every shape, and no columns', () => {
    const table: TableSchema = {
      name: 't',
      engine: 'mysql',
      columns: [col('i', { kind: 'integer', bytes: 8, signed: true }), col('s', { kind: 'text', fixed: false }), col('ts', { kind: 'timestamp', zone: false, fsp: 6 }), col('d', { kind: 'decimal', precision: 12, scale: 2 })],
      primaryKey: [0],
      generated: [],
    };
    const ints = [0n, -0n, 7n, -7n, 10n, 99n, 100n, 9007199254740991n, -9007199254740991n, 9007199254740992n, -9007199254740992n, 18446744073709551615n];
    const strings = ['', 'plain ASCII 0123', 'q"uote', 'back\\slash', 'tab\tnew\nline', '\u0000\u001f\u007f', 'caf\u00e9', 'emoji \u{1F600}', 'lone \ud800 surrogate', '\u2028\u2029', 'x'.repeat(300)];
    const stamps = ['2024-01-02 03:04:05', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.1', '0000-00-00 00:00:00', '0044-03-15 12:00:00 BC', 'infinity', '-infinity', '12345-01-02 03:04:05', '2024-01-02 03:04:05"x'];
    for (const i of ints) for (const str of strings) for (const ts of stamps) {
      const { written, text } = both(table, [i, str, ts, str === '' ? null : '-12.50'], 'mysql');
      expect(written.toString()).toBe(text.toString());
    }
    expect(both({ name: 'e', engine: 'mysql', columns: [], primaryKey: [], generated: [] }, [], 'mysql').written.toString()).toBe('{}');
    // Floats: a finite number as its own text, the others through the renderer.
    const floats: TableSchema = { name: 'f', engine: 'postgres', columns: [idCol, col('f', { kind: 'float', bits: 64 }), col('r', { kind: 'float', bits: 32 })], primaryKey: [0], generated: [] };
    for (const f of [0, 0.1, -2.5, 123.456, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, -0, NaN, Infinity, -Infinity, null]) {
      const { written, text } = both(floats, [1n, f, f === null ? 1.5 : Math.fround(f)], 'postgres');
      expect(written.toString()).toBe(text.toString());
    }
  });

  it('keeps every row it wrote intact while the slab fills and a new one is taken, a row larger than a slab included', () => {
    const table: TableSchema = { name: 't', engine: 'mysql', columns: [idCol, col('s', { kind: 'text', fixed: false })], primaryKey: [0], generated: [] };
    const rows = Array.from({ length: 5000 }, (_, i) => [BigInt(i), i === 2500 ? 'y'.repeat(600_000) : `row ${i} ${'z'.repeat(i % 300)}`] as Value[]);
    const written = rows.map((r) => both(table, r, 'mysql').written);
    rows.forEach((r, i) => expect(written[i]?.toString()).toBe(renderRow(table, r, valueConventions('mysql'))));
  });
});

describe('etcd values', () => {
  it.each(CASES.map((c) => [`${c.engine} ${c.column.logical?.kind} (${c.column.name})`, c] as const))('%s: the documented JSON form, and every value back exactly', (_, c) => {
    const table: TableSchema = { name: 't', engine: c.engine, columns: [idCol, c.column], primaryKey: [0], generated: [] };
    const conv = valueConventions(c.engine);
    expect(renderRow(table, [1n, c.values[0] ?? null], conv)).toBe(`{"id":1,"${c.column.name}":${c.json}}`);
    for (const v of [...c.values, null]) {
      const text = renderRow(table, [1n, v], conv);
      if (c.column.logical?.kind !== 'json') expect(() => JSON.parse(text) as unknown).not.toThrow();
      const back = parseRow(table, text, conv);
      expect(back[1]).toEqual(v);
      if (typeof v === 'number') expect(Object.is(back[1], v)).toBe(true);
    }
  });

  it('writes a local timestamp with a T, whatever follows its seconds, and reads it back', () => {
    const conv = valueConventions('postgres');
    for (const [v, iso] of [
      ['2024-01-02 03:04:05', '2024-01-02T03:04:05'],
      ['2024-01-02 03:04:05.123456', '2024-01-02T03:04:05.123456'],
      ['0044-03-15 12:00:00 BC', '0044-03-15T12:00:00 BC'],
      ['12024-01-02 03:04:05', '12024-01-02T03:04:05'],
      ['infinity', 'infinity'],
    ] as const) {
      expect(isoTimestamp(v, false, conv)).toBe(iso);
      expect(canonicalTimestamp(iso, conv)).toBe(v);
    }
    for (const part of ['123', 'a/b%c', '%2F', 'plain']) expect(decodePart(encodePart(part))).toBe(part);
    expect(encodePart('a/b%c')).toBe('a%2Fb%25c');
  });

  it('refuses a JSON column value that is not a document, naming the table, column and fix', () => {
    const table: TableSchema = { name: 'docs', engine: 'mysql', columns: [idCol, col('js', { kind: 'json', binary: false })], primaryKey: [0], generated: [] };
    expect(() => renderRow(table, [1n, '{broken'], valueConventions('mysql'))).toThrow(/table docs column js: value \{broken is not a JSON document.*exclude the column/);
  });

  it('reads members with their raw text: nested values, escaped quotes, spacing; a missing member is NULL', () => {
    const text = '{ "a" : {"x": "}\\"", "y": [1, {"z": "]"}]} , "b":"q\\\\" ,"c": -1.5e3 }';
    expect([...members(text)]).toEqual([
      ['a', ' {"x": "}\\"", "y": [1, {"z": "]"}]} '],
      ['b', '"q\\\\" '],
      ['c', ' -1.5e3 '],
    ]);
    const table: TableSchema = { name: 't', engine: 'mysql', columns: [idCol, col('later', { kind: 'text', fixed: false })], primaryKey: [0], generated: [] };
    expect(parseRow(table, '{"id":1}', valueConventions('mysql'))).toEqual([1n, null]);
  });
});

describe('etcd keys', () => {
  const conventions = valueConventions;
  it('puts rows under <root>/<table>/<key>, percent-encoding % and /, composite parts joined by /', () => {
    const layout = new KeyLayout({ prefix: 'shop/', layout: 'tributary', conventions });
    const table: TableSchema = {
      name: 'a/b%c',
      engine: 'mysql',
      columns: [idCol, col('s', { kind: 'text', fixed: false }), col('bin', { kind: 'binary', fixed: false }), col('at', { kind: 'timestamp', zone: true, fsp: 0 })],
      primaryKey: [0, 1, 2, 3],
      generated: [],
    };
    const key: Value[] = [42n, 'x/y%z', Buffer.from([0xab, 0x01]), '2024-01-01 00:00:00'];
    const k = layout.rowKey(table, key);
    expect(k).toBe('/shop/a%2Fb%25c/42/x%2Fy%25z/ab01/2024-01-01T00:00:00Z');
    expect(layout.keyValues(table, k)).toEqual(key);
    expect(layout.meta('sync-1')).toBe('/shop/%tributary/sync-1/');
    // No encoded table name starts with the reserved segment.
    expect(layout.tablePrefix('%tributary')).toBe('/shop/%25tributary/');
  });

  it("keys as contrail's sync did: the resource type with '-' for '_', one key column", () => {
    const layout = new KeyLayout({ prefix: 'contrail', layout: 'contrail', conventions });
    const vn: TableSchema = { name: 'virtual_network', engine: 'postgres', columns: [col('uuid', { kind: 'uuid' })], primaryKey: [0], generated: [] };
    expect(layout.rowKey(vn, ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'])).toBe('/contrail/virtual-network/a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(layout.refusal({ ...vn, columns: [...vn.columns, idCol], primaryKey: [0, 1] })).toMatch(/--etcd-layout contrail keys a row by one column/);
    expect(layout.refusal({ ...vn, primaryKey: [] })).toMatch(/has no primary key/);
    const twin = { ...vn, name: 'virtual-network' };
    expect(layout.refusal(vn, [vn, twin])).toMatch(/would share \/contrail\/virtual-network\/ with table virtual-network's/);
    expect(new KeyLayout({ prefix: 'c', layout: 'tributary', conventions }).refusal(vn, [vn, twin])).toBeUndefined();
  });

  it('ends a prefix range where the prefix ends', () => {
    expect(prefixEnd(Buffer.from('/a/')).toString()).toBe('/a0');
    expect([...prefixEnd(Buffer.from([0x61, 0xff]))]).toEqual([0x62]);
  });
});

describe('etcd schema changes (ddl.ts planDocuments)', () => {
  const layout = new KeyLayout({ prefix: 'p', layout: 'tributary', conventions: valueConventions });
  const t = (name: string, cols = ['id', 'v']): TableSchema => ({ name, engine: 'mysql', columns: cols.map((c) => col(c, { kind: 'integer', bytes: 4, signed: true })), primaryKey: [0], generated: [] });
  const change = (operations: SchemaOperation[], before: TableSchema[], after: TableSchema[]): SchemaChange => ({
    statement: 'x',
    sourceEngine: 'mysql',
    operations,
    before: new Map(before.map((x) => [x.name, x])),
    after: new Map(after.map((x) => [x.name, x])),
  });

  it('runs the pairs of a RENAME TABLE in order: a swap through a temporary name, and a chain', () => {
    const swap = planDocuments(change([{ op: 'rename-tables', pairs: [{ from: 'a', to: 'tmp' }, { from: 'b', to: 'a' }, { from: 'tmp', to: 'b' }] }], [t('a'), t('b')], [t('a'), t('b')]), layout);
    expect(new Set(swap.clear)).toEqual(new Set(['a', 'b']));
    expect(swap.rewrites.map((r) => [r.from, r.to])).toEqual(expect.arrayContaining([['a', 'b'], ['b', 'a']]));
    const chain = planDocuments(change([{ op: 'rename-tables', pairs: [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }] }], [t('a')], [t('c')]), layout);
    expect(chain).toEqual({ clear: ['a'], rewrites: [{ from: 'a', to: 'c', members: new Map([['id', 'id'], ['v', 'v']]), reshape: false }], recopy: [] });
  });

  it('renames and drops members with a column rename in the same statement as a table rename', () => {
    const plan = planDocuments(
      change([{ op: 'rename-tables', pairs: [{ from: 'a', to: 'b' }] }, { op: 'rename-column', table: 'b', from: 'v', to: 'w' }, { op: 'drop-column', table: 'b', column: 'x' }], [t('a', ['id', 'v', 'x'])], [t('b', ['id', 'w'])]),
      layout,
    );
    expect(plan).toEqual({ clear: ['a'], rewrites: [{ from: 'a', to: 'b', members: new Map([['id', 'id'], ['w', 'v']]), reshape: true }], recopy: [] });
  });

  const int = (name: string, bytes: 1 | 2 | 4 | 8 = 4, nullable = true): Column => ({ ...col(name, { kind: 'integer', bytes, signed: true }), nullable });
  const text = (name: string, length: number, charset = 'utf8mb4'): Column => col(name, { kind: 'text', length, fixed: false, charset });
  const table = (name: string, columns: readonly Column[], primaryKey = [0]): TableSchema => ({ name, engine: 'mysql', columns, primaryKey, generated: [] });

  it('adds a nullable column without a default as null in place; one with a default, NOT NULL or generated is copied again', () => {
    const before = table('a', [int('id', 4, false), int('v')]);
    const nullable = planDocuments(change([{ op: 'add-column', table: 'a', column: int('n') }], [before], [table('a', [...before.columns, int('n')])]), layout);
    expect(nullable).toEqual({ clear: [], rewrites: [{ from: 'a', to: 'a', members: new Map([['id', 'id'], ['v', 'v'], ['n', null]]), reshape: true }], recopy: [] });
    const nullDefault = planDocuments(change([{ op: 'add-column', table: 'a', column: int('n'), default: { kind: 'null' } }], [before], [table('a', [...before.columns, int('n')])]), layout);
    expect(nullDefault.recopy).toEqual([]);
    for (const [op, after] of [
      [{ op: 'add-column', table: 'a', column: int('n'), default: { kind: 'literal', value: '5' } }, table('a', [...before.columns, int('n')])],
      [{ op: 'add-column', table: 'a', column: int('n', 4, false) }, table('a', [...before.columns, int('n', 4, false)])],
      [{ op: 'add-column', table: 'a', column: int('n') }, { ...table('a', [...before.columns, int('n')]), generated: ['n'] }],
    ] as [SchemaOperation, TableSchema][]) {
      const plan = planDocuments(change([op], [before], [after]), layout);
      expect(plan.recopy, JSON.stringify(op)).toEqual(['a']);
      // The objects keep their members until the copy reaches them (nothing to rewrite).
      expect(plan.rewrites).toEqual([]);
    }
  });

  it('keeps the objects when a column is widened, and copies the table again when a column is narrowed, converted or made NOT NULL', () => {
    const before = table('a', [int('id', 4, false), int('v'), text('s', 20)]);
    const modify = (c: Column) => planDocuments(change([{ op: 'modify-column', table: 'a', column: c }], [before], [table('a', before.columns.map((x) => (x.name === c.name ? c : x)))]), layout);
    expect(modify(int('v', 8))).toEqual({ clear: [], rewrites: [], recopy: [] });
    expect(modify(text('s', 200))).toEqual({ clear: [], rewrites: [], recopy: [] });
    expect(modify(int('v', 2)).recopy).toEqual(['a']);
    expect(modify(int('v', 4, false)).recopy).toEqual(['a']);
    expect(modify(text('s', 10)).recopy).toEqual(['a']);
    expect(modify(text('s', 20, 'latin1')).recopy).toEqual(['a']);
    expect(modify(col('v', { kind: 'decimal', precision: 10, scale: 0 })).recopy).toEqual(['a']);
  });

  it('copies again what the logical types alone would call kept: a TEXT made smaller, a float\'s declared scale, a sign; and a key column retyped clears the range', () => {
    const long: Column = { ...col('s', { kind: 'text', fixed: false, charset: 'utf8mb4' }), dataType: 'longtext', columnType: 'longtext' };
    const tiny: Column = { ...long, dataType: 'tinytext', columnType: 'tinytext' };
    const f4: Column = { ...col('f', { kind: 'float', bits: 32 }), columnType: 'float(10,4)' };
    const dec: Column = col('d', { kind: 'decimal', precision: 10, scale: 2 });
    const before = table('a', [int('id', 4, false), long, f4, dec]);
    const modify = (c: Column, sourceText?: string) =>
      planDocuments(change([{ op: 'modify-column', table: 'a', column: c, ...(sourceText ? { sourceText } : {}) }], [before], [table('a', before.columns.map((x) => (x.name === c.name ? c : x)))]), layout);
    expect(modify(tiny).recopy).toEqual(['a']);
    expect(modify({ ...tiny, dataType: 'longtext', columnType: 'longtext' }).recopy).toEqual([]);
    expect(modify({ ...f4, columnType: 'float(10,2)' }).recopy).toEqual(['a']);
    expect(modify({ ...dec, unsigned: true, columnType: 'decimal(10,2) unsigned' }).recopy).toEqual(['a']);
    // An AUTO_INCREMENT id widened (as ORMs re-declare it) keeps every value: nothing to write.
    expect(modify(int('id', 8, false), 'MODIFY id BIGINT NOT NULL AUTO_INCREMENT')).toEqual({ clear: [], rewrites: [], recopy: [] });
    // The key column's values may change with its type: the old keys are deleted, the table copied again.
    expect(modify({ ...col('id', { kind: 'decimal', precision: 12, scale: 2 }), nullable: false })).toEqual({ clear: ['a'], rewrites: [], recopy: ['a'] });
  });

  it('moves every object to the key its members give when the key columns change, and copies the table again when they cannot give it', () => {
    const before = table('a', [int('id', 4, false), int('v', 4, false), int('w')]);
    const rekeyed = table('a', before.columns, [1]);
    const plan = planDocuments(change([{ op: 'drop-index', table: 'a', name: 'PRIMARY', primary: true }, { op: 'add-index', table: 'a', name: 'PRIMARY', columns: ['v'], unique: true, primary: true }], [before], [rekeyed]), layout);
    expect(plan).toEqual({ clear: ['a'], rewrites: [{ from: 'a', to: 'a', members: new Map([['id', 'id'], ['v', 'v'], ['w', 'w']]), reshape: false, rekey: rekeyed }], recopy: [] });
    expect(layout.objectKey(rekeyed, '{"id":1,"v":"9007199254740993","w":null}')).toBe('/p/a/9007199254740993');
    // A new key column the objects do not hold: the range is cleared and the table copied again.
    const added = table('a', [...before.columns, int('k', 8, false)], [3]);
    const fresh = planDocuments(change([{ op: 'add-column', table: 'a', column: int('k', 8, false) }, { op: 'drop-index', table: 'a', name: 'PRIMARY', primary: true }, { op: 'add-index', table: 'a', name: 'PRIMARY', columns: ['k'], unique: true, primary: true }], [before], [added]), layout);
    expect(fresh).toEqual({ clear: ['a'], rewrites: [], recopy: ['a'] });
    // A table being copied again (an earlier ADD COLUMN with a default): objects not reached yet lack
    // the new key's members, so nothing is moved; the range is cleared and the copy writes the new keys.
    const copying = { ...change([{ op: 'drop-index', table: 'a', name: 'PRIMARY', primary: true }, { op: 'add-index', table: 'a', name: 'PRIMARY', columns: ['v'], unique: true, primary: true }], [before], [rekeyed]), recopy: ['a'] };
    expect(planDocuments(copying, layout)).toEqual({ clear: ['a'], rewrites: [], recopy: ['a'] });
    // No key left: etcd cannot name a row; refused before anything runs.
    expect(() => planDocuments(change([{ op: 'drop-index', table: 'a', name: 'PRIMARY', primary: true }], [before], [table('a', before.columns, [])]), layout)).toThrow(/changes table a's primary key \(id → none\), and then it has no primary key/);
  });

  it('writes nothing for a change without operations (--skip-ddl, a shadow table): only its definitions are stored', () => {
    const before = table('a', [int('id', 4, false), int('v'), int('x')]);
    expect(planDocuments(change([], [before], [table('a', [int('id', 4, false), int('v', 2)], [1])]), layout)).toEqual({ clear: [], rewrites: [], recopy: [] });
  });
});
