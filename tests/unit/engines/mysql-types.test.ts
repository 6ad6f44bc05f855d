/**
 * MySQL/MariaDB native → logical types (engines/mysql/types.ts, issue 11 plan step 6b): every MySQL
 * column of the type corpus (tests/helpers/types-corpus.ts: the integration corpora as MariaDB
 * describes them, and the unit tests' hand-written columns) maps to the logical type written out
 * here, and describeTable's columns carry it.
 */
import { describe, expect, it } from 'vitest';
import type { LogicalType } from '../../../src/core/logical.js';
import type { Column, TableSchema } from '../../../src/core/schema.js';
import { fromLogical, mapLogicalTable, toLogical, valueKind, withLogical, type FromLogicalOptions } from '../../../src/engines/mysql/types.js';
import { corpusTables } from '../../helpers/types-corpus.js';

/** By 'DATA_TYPE | COLUMN_TYPE'; a character type also carries the column's charset and collation (see below). */
const EXPECTED = new Map<string, LogicalType>([
  ["bigint | bigint(20) unsigned", { kind: 'integer', bytes: 8, signed: false }],
  ["bigint | bigint(20)", { kind: 'integer', bytes: 8, signed: true }],
  ["binary | binary(3)", { kind: 'binary', length: 3, fixed: true }],
  ["binary | binary(4)", { kind: 'binary', length: 4, fixed: true }],
  ["bit | bit(1)", { kind: 'bit', length: 1, varying: false }],
  ["bit | bit(10)", { kind: 'bit', length: 10, varying: false }],
  ["bit | bit(64)", { kind: 'bit', length: 64, varying: false }],
  ["bit | bit(8)", { kind: 'bit', length: 8, varying: false }],
  ["bit | bit", { kind: 'bit', length: 1, varying: false }],
  ["blob | blob", { kind: 'binary', fixed: false }],
  ["char | char(1)", { kind: 'text', length: 1, fixed: true }],
  ["char | char(10)", { kind: 'text', length: 10, fixed: true }],
  ["char | char", { kind: 'text', length: 1, fixed: true }],
  ["date | date", { kind: 'date' }],
  ["datetime | datetime(3)", { kind: 'timestamp', zone: false, fsp: 3 }],
  ["datetime | datetime(6)", { kind: 'timestamp', zone: false, fsp: 6 }],
  ["datetime | datetime", { kind: 'timestamp', zone: false, fsp: 0 }],
  ["decimal | decimal(10,0)", { kind: 'decimal', precision: 10, scale: 0 }],
  ["decimal | decimal(12,4)", { kind: 'decimal', precision: 12, scale: 4 }],
  ["decimal | decimal(30,10)", { kind: 'decimal', precision: 30, scale: 10 }],
  ["decimal | decimal(5,2)", { kind: 'decimal', precision: 5, scale: 2 }],
  ["decimal | decimal(65,30)", { kind: 'decimal', precision: 65, scale: 30 }],
  ["decimal | decimal", { kind: 'decimal', precision: 10, scale: 0 }],
  ["double precision | double precision", { kind: 'float', bits: 64 }],
  ["double | double", { kind: 'float', bits: 64 }],
  ["enum | enum('a','b','c')", { kind: 'enum', labels: ['a', 'b', 'c'] }],
  ["enum | enum('a','b,c','d')", { kind: 'enum', labels: ['a', 'b,c', 'd'] }],
  ["enum | enum('a','b,c','it''s')", { kind: 'enum', labels: ['a', 'b,c', "it's"] }],
  ["enum | enum('z','b','a')", { kind: 'enum', labels: ['z', 'b', 'a'] }],
  ["float | float(10,2)", { kind: 'float', bits: 32 }],
  ["float | float", { kind: 'float', bits: 32 }],
  ["geometry | geometry", { kind: 'spatial', subtype: 'geometry' }],
  ["geometrycollection | geometrycollection", { kind: 'spatial', subtype: 'geometrycollection' }],
  ["inet4 | inet4", { kind: 'inet', version: 4 }],
  ["inet6 | inet6", { kind: 'inet', version: 6 }],
  ["int | int(10) unsigned", { kind: 'integer', bytes: 4, signed: false }],
  ["int | int(11)", { kind: 'integer', bytes: 4, signed: true }],
  ["integer | integer", { kind: 'integer', bytes: 4, signed: true }],
  ["json | json", { kind: 'json', binary: true }],
  ["linestring | linestring", { kind: 'spatial', subtype: 'linestring' }],
  ["longblob | longblob", { kind: 'binary', fixed: false }],
  ["longtext | longtext", { kind: 'text', fixed: false }],
  ["mediumblob | mediumblob", { kind: 'binary', fixed: false }],
  ["mediumint | mediumint(8) unsigned zerofill", { kind: 'integer', bytes: 3, signed: false }],
  ["mediumint | mediumint(8) unsigned", { kind: 'integer', bytes: 3, signed: false }],
  ["mediumint | mediumint(9)", { kind: 'integer', bytes: 3, signed: true }],
  ["mediumtext | mediumtext", { kind: 'text', fixed: false }],
  ["multilinestring | multilinestring", { kind: 'spatial', subtype: 'multilinestring' }],
  ["multipoint | multipoint", { kind: 'spatial', subtype: 'multipoint' }],
  ["multipolygon | multipolygon", { kind: 'spatial', subtype: 'multipolygon' }],
  ["numeric | numeric(8,3)", { kind: 'decimal', precision: 8, scale: 3 }],
  ["point | point", { kind: 'spatial', subtype: 'point' }],
  ["polygon | polygon", { kind: 'spatial', subtype: 'polygon' }],
  ["real | real", { kind: 'float', bits: 64 }],
  ["set | set('x','y','z')", { kind: 'set', labels: ['x', 'y', 'z'] }],
  ["set | set('z','b','a')", { kind: 'set', labels: ['z', 'b', 'a'] }],
  ["smallint | smallint(5) unsigned", { kind: 'integer', bytes: 2, signed: false }],
  ["smallint | smallint(6)", { kind: 'integer', bytes: 2, signed: true }],
  ["text | text", { kind: 'text', fixed: false }],
  ["time | time(3)", { kind: 'time', fsp: 3, range: 'hours838' }],
  ["time | time(6)", { kind: 'time', fsp: 6, range: 'hours838' }],
  ["time | time", { kind: 'time', fsp: 0, range: 'hours838' }],
  ["timestamp | timestamp(3)", { kind: 'timestamp', zone: true, fsp: 3 }],
  ["timestamp | timestamp(6)", { kind: 'timestamp', zone: true, fsp: 6 }],
  ["timestamp | timestamp", { kind: 'timestamp', zone: true, fsp: 0 }],
  ["tinyblob | tinyblob", { kind: 'binary', fixed: false }],
  ["tinyint | tinyint(1)", { kind: 'integer', bytes: 1, signed: true }],
  ["tinyint | tinyint(3) unsigned", { kind: 'integer', bytes: 1, signed: false }],
  ["tinyint | tinyint(4)", { kind: 'integer', bytes: 1, signed: true }],
  ["tinytext | tinytext", { kind: 'text', fixed: false }],
  ["uuid | uuid", { kind: 'uuid' }],
  ["varbinary | varbinary(16)", { kind: 'binary', length: 16, fixed: false }],
  ["varbinary | varbinary(20)", { kind: 'binary', length: 20, fixed: false }],
  ["varchar | varchar(10)", { kind: 'text', length: 10, fixed: false }],
  ["varchar | varchar(100)", { kind: 'text', length: 100, fixed: false }],
  ["varchar | varchar(20)", { kind: 'text', length: 20, fixed: false }],
  ["varchar | varchar(30)", { kind: 'text', length: 30, fixed: false }],
  ["varchar | varchar(50)", { kind: 'text', length: 50, fixed: false }],
  ["vector | vector(3)", { kind: 'other', native: 'vector(3)' }],
  ["year | year(4)", { kind: 'year' }],
]);

/** Columns whose type the declaration alone does not tell: by 'table.column'. */
const BY_COLUMN = new Map<string, LogicalType>([
  // MariaDB's JSON: LONGTEXT with CHECK (json_valid(…)) in the CREATE statement; a plain LONGTEXT stays text.
  ['t.js', { kind: 'json', binary: false }],
  ['wide.js', { kind: 'json', binary: false }],
  ['my_mariadb_json.js', { kind: 'json', binary: false }],
  ['t.lt', { kind: 'text', fixed: false, charset: 'utf8mb4', collation: 'utf8mb4_general_ci' }],
  // A declared SRID (MariaDB REF_SYSTEM_ID, MySQL 8 SRID).
  ['geo.p4326', { kind: 'spatial', subtype: 'point', srid: 4326 }],
  ['my_unit.mp', { kind: 'spatial', subtype: 'multipolygon', srid: 4326 }],
  ['my_unit.gc', { kind: 'spatial', subtype: 'geometrycollection', srid: 3857 }],
  // Character sets and collations as declared.
  ['t.vlat', { kind: 'text', length: 50, fixed: false, charset: 'latin1', collation: 'latin1_swedish_ci' }],
  ['misc.ch', { kind: 'text', length: 1, fixed: true, charset: 'ascii', collation: 'ascii_bin' }],
  ['misc.vci', { kind: 'text', length: 30, fixed: false, charset: 'utf8mb4', collation: 'utf8mb4_unicode_ci' }],
  ['k_ci.k', { kind: 'text', length: 20, fixed: false, charset: 'utf8mb4', collation: 'utf8mb4_bin' }],
  ['k_str.k', { kind: 'text', length: 20, fixed: false, charset: 'utf8mb4', collation: 'utf8mb4_general_ci' }],
  ['misc.tt', { kind: 'text', fixed: false, charset: 'utf8mb4', collation: 'utf8mb4_general_ci' }],
]);

function expected(table: string, c: Column): LogicalType | undefined {
  const named = BY_COLUMN.get(`${table}.${c.name}`);
  if (named) return named;
  const e = EXPECTED.get(`${c.dataType} | ${c.columnType}`);
  if (e?.kind !== 'text') return e;
  return { ...e, ...(c.charset !== undefined ? { charset: c.charset } : {}), ...(c.collation !== undefined ? { collation: c.collation } : {}) };
}

const tables = corpusTables().filter((t) => t.table.engine === 'mysql');

describe('MySQL native → logical types', () => {
  it.each(tables.map((t) => [t.table.name, t] as const))('every column of %s', (_, { table }) => {
    for (const c of table.columns) {
      const want = expected(table.name, c);
      expect(want, `${table.name}.${c.name} (${c.columnType}) has an expectation here`).toBeDefined();
      expect(toLogical(c, table), `${table.name}.${c.name} (${c.columnType})`).toEqual(want);
    }
  });

  it('covers every native type of the corpus and expects nothing the corpus lacks', () => {
    const used = new Set(tables.flatMap((t) => t.table.columns.map((c) => `${c.dataType} | ${c.columnType}`)));
    expect([...EXPECTED.keys()].filter((k) => !used.has(k))).toEqual([]);
  });

  it('tells MariaDB JSON only from the CREATE statement, and fills in every column of a table', () => {
    const js: Column = { name: 'd`q', dataType: 'longtext', columnType: 'longtext', nullable: true, unsigned: false, charset: 'utf8mb4', collation: 'utf8mb4_bin' };
    expect(toLogical(js)).toEqual({ kind: 'text', fixed: false, charset: 'utf8mb4', collation: 'utf8mb4_bin' });
    expect(toLogical(js, { createStatement: 'CREATE TABLE `x` (`d``q` longtext CHECK (json_valid(`d``q`)))' })).toEqual({ kind: 'json', binary: false });
    const t = withLogical({ name: 'x', engine: 'mysql', primaryKey: [0], generated: [], columns: [{ ...js, name: 'id', dataType: 'int', columnType: 'int(11)', charset: undefined, collation: undefined } as Column, js] });
    expect(t.columns.map((c) => c.logical?.kind)).toEqual(['integer', 'text']);
  });
});

describe('logical → MySQL types (fromLogical)', () => {
  const col = { name: 'c', declared: 'x' };
  const sql = (l: LogicalType, opts: FromLogicalOptions = {}) => fromLogical(l, opts, col).sql;

  it('gives each kind the MySQL type that holds all its values', () => {
    expect(sql({ kind: 'integer', bytes: 3, signed: true })).toBe('MEDIUMINT');
    expect(sql({ kind: 'integer', bytes: 8, signed: false })).toBe('BIGINT UNSIGNED');
    expect(sql({ kind: 'decimal', precision: 10, scale: 2 })).toBe('DECIMAL(10,2)');
    expect(sql({ kind: 'decimal', precision: 3, scale: -2 })).toBe('DECIMAL(5,0)');
    expect(sql({ kind: 'decimal', precision: 2, scale: 5 })).toBe('DECIMAL(5,5)');
    expect(sql({ kind: 'float', bits: 32 })).toBe('FLOAT');
    expect(sql({ kind: 'boolean' })).toBe('TINYINT(1)');
    expect(sql({ kind: 'text', length: 255, fixed: true })).toBe('CHAR(255)');
    expect(sql({ kind: 'text', length: 256, fixed: true })).toBe('VARCHAR(256)');
    expect(sql({ kind: 'text', fixed: false, collation: 'C' })).toBe('LONGTEXT');
    expect(sql({ kind: 'binary', length: 4, fixed: true })).toBe('BINARY(4)');
    expect(sql({ kind: 'binary', fixed: false })).toBe('LONGBLOB');
    expect(sql({ kind: 'time', fsp: 6, range: 'day' })).toBe('TIME(6)');
    expect(sql({ kind: 'timestamp', zone: true, fsp: 3 })).toBe('DATETIME(3)');
    expect(sql({ kind: 'interval' })).toBe('VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin');
    expect(sql({ kind: 'uuid' })).toBe('CHAR(36) CHARACTER SET ascii COLLATE ascii_bin');
    expect(sql({ kind: 'bit', length: 64, varying: false })).toBe('BIT(64)');
    expect(sql({ kind: 'bit', length: 65, varying: false })).toBe('VARCHAR(65) CHARACTER SET ascii COLLATE ascii_bin');
    expect(sql({ kind: 'bit', varying: true })).toBe('LONGTEXT');
    expect(sql({ kind: 'array', of: { kind: 'integer', bytes: 4, signed: true } })).toBe('LONGTEXT');
    expect(sql({ kind: 'set', labels: ['a', "b'c"] })).toBe("SET('a','b''c')");
  });

  it('follows the flavour: JSON, enum collation, INET, SRID', () => {
    expect(sql({ kind: 'json', binary: true })).toBe('JSON');
    expect(fromLogical({ kind: 'json', binary: false }, { flavour: 'mysql' }, { name: 'd`q', declared: 'json' }).sql).toBe(
      'LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin CHECK (JSON_VALID(`d``q`))',
    );
    expect(sql({ kind: 'enum', labels: ['a', 'b\\c'] })).toBe("ENUM('a','b\\\\c') COLLATE utf8mb4_nopad_bin");
    expect(sql({ kind: 'enum', labels: ['a'] }, { flavour: 'mysql' })).toBe("ENUM('a') COLLATE utf8mb4_0900_bin");
    expect(sql({ kind: 'inet', version: 6 })).toBe('INET6');
    expect(sql({ kind: 'inet', version: 4 }, { flavour: 'mysql' })).toBe('VARCHAR(45) CHARACTER SET ascii COLLATE ascii_bin');
    expect(sql({ kind: 'spatial', subtype: 'point', srid: 4326 })).toBe('POINT REF_SYSTEM_ID=4326');
    expect(sql({ kind: 'spatial', subtype: 'multipolygon', srid: 3857 }, { flavour: 'mysql' })).toBe('MULTIPOLYGON SRID 3857');
  });

  it('keeps an enum as text when MySQL cannot hold its labels, and takes labels by type name', () => {
    expect(fromLogical({ kind: 'enum', labels: ['a ', 'b'] }, {}, col)).toEqual({ sql: 'VARCHAR(63)', string: { binary: false, length: 63 } });
    expect(sql({ kind: 'enum', labels: ['x'.repeat(300)] })).toBe('VARCHAR(300)');
    expect(sql({ kind: 'enum', labels: [] })).toBe('VARCHAR(63)');
    const mood: LogicalType = { kind: 'other', native: 'mood', typeName: 'mood', text: { length: 63, fixed: false, ascii: false, elastic: true } };
    expect(fromLogical(mood, {}, col)).toEqual({ sql: 'VARCHAR(63)', string: { binary: false, length: 63 } });
    expect(sql(mood, { enumLabels: new Map([['mood', ['sad', 'happy']]]) })).toBe("ENUM('sad','happy') COLLATE utf8mb4_nopad_bin");
  });

  it('keeps another type’s text form, or refuses it in today’s words', () => {
    const other = (text: LogicalType & { kind: 'other' }) => fromLogical(text, {}, { name: 'c', declared: text.native });
    expect(other({ kind: 'other', native: 'macaddr', text: { length: 17, fixed: true, ascii: true, elastic: false } })).toEqual({ sql: 'CHAR(17) CHARACTER SET ascii COLLATE ascii_bin' });
    expect(other({ kind: 'other', native: 'name', text: { length: 63, fixed: false, ascii: false, elastic: false } })).toEqual({ sql: 'VARCHAR(63)' });
    expect(other({ kind: 'other', native: 'xml', text: { fixed: false, ascii: false, elastic: true } })).toEqual({ sql: 'LONGTEXT', string: { binary: false } });
    expect(other({ kind: 'other', native: 'int4range', what: 'a range type' })).toEqual({
      sql: 'LONGTEXT',
      refusal: { reason: 'int4range is a range type with no MySQL counterpart', example: 'LONGTEXT' },
    });
    expect(fromLogical({ kind: 'spatial', subtype: 'point', srid: 4326, ewkb: true }, {}, { name: 'g', declared: 'geometry(Point,4326)' }).refusal?.reason).toBe(
      'geometry(Point,4326) is an extension type (PostGIS) with no MySQL counterpart',
    );
    expect(fromLogical({ kind: 'decimal' }, {}, col).refusal?.example).toBe('DECIMAL(65,30)');
    expect(fromLogical({ kind: 'decimal', precision: 70, scale: 2 }, {}, { name: 'n', declared: 'numeric(70,2)' }).refusal?.reason).toBe('numeric(70,2) is beyond DECIMAL(65,30)');
  });

  it('chooses the value kind from the target type and the logical type', () => {
    expect(valueKind({ kind: 'bit', length: 3, varying: false }, 'BIT(3)')).toBe('bits');
    expect(valueKind({ kind: 'bit', length: 3, varying: true }, 'BIGINT')).toBe('bits');
    expect(valueKind({ kind: 'integer', bytes: 4, signed: true }, 'BIT(3)')).toBe('int');
    expect(valueKind({ kind: 'timestamp', zone: true, fsp: 6 }, 'DATETIME(6)')).toBe('timestamptz');
    expect(valueKind({ kind: 'timestamp', zone: false, fsp: 6 }, 'DATETIME(6)')).toBe('timestamp');
    expect(valueKind({ kind: 'binary', fixed: false }, 'VARBINARY(10)')).toBe('bytes');
    expect(valueKind({ kind: 'uuid' }, 'CHAR(36)')).toBe('text');
  });
});

describe('a table mapped by logical types (mapLogicalTable)', () => {
  const c = (name: string, logical: LogicalType, columnType = 'x'): Column => ({ name, dataType: 'x', columnType, nullable: true, unsigned: false, logical });
  const text: LogicalType = { kind: 'text', fixed: false };
  const t = (columns: Column[], extra: Partial<TableSchema> = {}): TableSchema => ({ name: 't', engine: 'postgres', columns, primaryKey: [0], generated: [], ...extra });

  it('sizes unbounded key strings to share the 3072-byte key limit', () => {
    expect(mapLogicalTable(t([c('k', text)])).columns.map((m) => m.sql)).toEqual(['VARCHAR(767)']);
    expect(mapLogicalTable(t([c('a', text), c('b', { kind: 'binary', fixed: false })], { primaryKey: [0, 1] })).columns.map((m) => m.sql)).toEqual(['VARCHAR(383)', 'VARBINARY(1534)']);
  });

  it('turns character columns that would overflow the row into TEXT types', () => {
    const wide = Array.from({ length: 5 }, (_, i) => c(`v${i}`, { kind: 'text', length: 4000, fixed: false }));
    const sqls = mapLogicalTable(t([c('id', { kind: 'integer', bytes: 8, signed: true }), ...wide])).columns.map((m) => m.sql);
    // 16002 bytes each: the fifth passes 65535 less 1024 for the row's other bytes.
    expect(sqls).toEqual(['BIGINT', 'VARCHAR(4000)', 'VARCHAR(4000)', 'VARCHAR(4000)', 'VARCHAR(4000)', 'TEXT']);
  });

  it('takes overrides, lists refusals and bad overrides, and needs the logical types', () => {
    const m = mapLogicalTable(t([c('id', { kind: 'integer', bytes: 4, signed: true }), c('r', { kind: 'other', native: 'int4range', what: 'a range type' }, 'int4range'), c('n', { kind: 'decimal' }, 'numeric')]), {
      columnTypes: { 't.r': 'VARCHAR(100)', 't.n': 'DECIMAL(20,2); DROP', 't.gone': 'INT' },
    });
    expect(m.columns.map((x) => [x.sql, x.kind, x.overridden])).toEqual([
      ['INT', 'int', false],
      ['VARCHAR(100)', 'text', true],
      ['DECIMAL(20,2); DROP', 'decimal', true],
    ]);
    expect(m.columns[2]?.decimal).toEqual({ precision: 20, scale: 2 });
    expect(m.problems.map((p) => `${p.column}: ${p.reason}`)).toEqual(['gone: --column-types names t.gone, which t does not have', "n: the override 'DECIMAL(20,2); DROP' is not a plain column type"]);
    expect(mapLogicalTable(t([c('r', { kind: 'other', native: 'int4range', what: 'a range type' }, 'int4range')])).problems[0]?.fix).toMatch(/^set its type with --column-types t\.r=LONGTEXT/);
    expect(() => mapLogicalTable(t([{ name: 'x', dataType: 'int4', columnType: 'integer', nullable: true, unsigned: false }]))).toThrow(/t\.x has no logical type/);
  });
});
