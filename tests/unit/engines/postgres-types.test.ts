/**
 * PostgreSQL native → logical types (engines/postgres/types.ts, issue 11 plan step 6b): every
 * PostgreSQL column of the type corpus (tests/helpers/types-corpus.ts: the integration corpora as
 * describeTable reads them, domains and enum arrays included, and the unit tests' hand-written
 * columns) maps to the logical type written out here.
 */
import { describe, expect, it } from 'vitest';
import type { LogicalType } from '../../../src/core/logical.js';
import type { Column } from '../../../src/core/schema.js';
import { toLogical, withLogical } from '../../../src/engines/postgres/types.js';
import { corpusTables } from '../../helpers/types-corpus.js';

const MOOD = ["it's", 'a,b', 'é', 'with space', 'back\\slash', 'say "hi"', 'plain'];

/** By 'dataType | format_type()'. */
const EXPECTED = new Map<string, LogicalType>([
  ["_int4 | integer[]", { kind: 'array', of: { kind: 'integer', bytes: 4, signed: true } }],
  ["_mood | mood[]", { kind: 'array', of: { kind: 'enum', labels: MOOD, typeName: 'mood' } }],
  ["_numeric | numeric[]", { kind: 'array', of: { kind: 'decimal' } }],
  ["_text | text[]", { kind: 'array', of: { kind: 'text', fixed: false } }],
  ["bit | bit(10)", { kind: 'bit', length: 10, varying: false }],
  ["bit | bit(3)", { kind: 'bit', length: 3, varying: false }],
  ["bit | bit(5)", { kind: 'bit', length: 5, varying: false }],
  ["bit | bit(65)", { kind: 'bit', length: 65, varying: false }],
  ["bit | bit", { kind: 'bit', varying: false }],
  ["bool | boolean", { kind: 'boolean' }],
  ["box | box", { kind: 'other', native: 'box' }],
  ["bpchar | character(300)", { kind: 'text', length: 300, fixed: true }],
  ["bpchar | character(5)", { kind: 'text', length: 5, fixed: true }],
  ["bpchar | character", { kind: 'text', fixed: true }],
  ["bytea | bytea", { kind: 'binary', fixed: false }],
  ["char | \"char\"", { kind: 'other', native: '"char"' }],
  ["cid | cid", { kind: 'other', native: 'cid' }],
  ["cidr | cidr", { kind: 'other', native: 'cidr' }],
  ["circle | circle", { kind: 'other', native: 'circle' }],
  ["citext | citext", { kind: 'other', native: 'citext' }],
  ["date | date", { kind: 'date' }],
  ["datemultirange | datemultirange", { kind: 'other', native: 'datemultirange' }],
  ["daterange | daterange", { kind: 'other', native: 'daterange' }],
  ["float4 | real", { kind: 'float', bits: 32 }],
  ["float8 | double precision", { kind: 'float', bits: 64 }],
  ["geography | geography", { kind: 'other', native: 'geography' }],
  ["geometry | geometry(Point,4326)", { kind: 'spatial', subtype: 'point', srid: 4326 }],
  ["hstore | hstore", { kind: 'other', native: 'hstore' }],
  ["inet | inet", { kind: 'other', native: 'inet' }],
  ["int2 | smallint", { kind: 'integer', bytes: 2, signed: true }],
  ["int2vector | int2vector", { kind: 'other', native: 'int2vector' }],
  ["int4 | integer", { kind: 'integer', bytes: 4, signed: true }],
  ["int4 | posint", { kind: 'integer', bytes: 4, signed: true }],
  ["int4multirange | int4multirange", { kind: 'other', native: 'int4multirange' }],
  ["int4range | int4range", { kind: 'other', native: 'int4range' }],
  ["int8 | bigint", { kind: 'integer', bytes: 8, signed: true }],
  ["int8multirange | int8multirange", { kind: 'other', native: 'int8multirange' }],
  ["int8range | int8range", { kind: 'other', native: 'int8range' }],
  ["interval | interval", { kind: 'interval' }],
  ["json | json", { kind: 'json', binary: false }],
  ["jsonb | jsonb", { kind: 'json', binary: true }],
  ["line | line", { kind: 'other', native: 'line' }],
  ["longl | longl", { kind: 'enum', labels: ['x'.repeat(256), 'y'], typeName: 'longl' }],
  ["lseg | lseg", { kind: 'other', native: 'lseg' }],
  ["ltree | ltree", { kind: 'other', native: 'ltree' }],
  ["macaddr | macaddr", { kind: 'other', native: 'macaddr' }],
  ["macaddr8 | macaddr8", { kind: 'other', native: 'macaddr8' }],
  ["money | money", { kind: 'other', native: 'money' }],
  ["mood | mood", { kind: 'enum', labels: MOOD, typeName: 'mood' }],
  ["mood | mood_d", { kind: 'enum', labels: MOOD, typeName: 'mood' }],
  ["name | name", { kind: 'other', native: 'name' }],
  ["numeric | numeric(10,2)", { kind: 'decimal', precision: 10, scale: 2 }],
  ["numeric | numeric(2,5)", { kind: 'decimal', precision: 2, scale: 5 }],
  ["numeric | numeric(3,-2)", { kind: 'decimal', precision: 3, scale: -2 }],
  ["numeric | numeric(30,10)", { kind: 'decimal', precision: 30, scale: 10 }],
  ["numeric | numeric(40,31)", { kind: 'decimal', precision: 40, scale: 31 }],
  ["numeric | numeric(45,5)", { kind: 'decimal', precision: 45, scale: 5 }],
  ["numeric | numeric(70,2)", { kind: 'decimal', precision: 70, scale: 2 }],
  ["numeric | numeric", { kind: 'decimal' }],
  ["nummultirange | nummultirange", { kind: 'other', native: 'nummultirange' }],
  ["numrange | numrange", { kind: 'other', native: 'numrange' }],
  ["oid | oid", { kind: 'integer', bytes: 4, signed: false }],
  ["oidvector | oidvector", { kind: 'other', native: 'oidvector' }],
  ["path | path", { kind: 'other', native: 'path' }],
  ["pg_lsn | pg_lsn", { kind: 'other', native: 'pg_lsn' }],
  ["pg_snapshot | pg_snapshot", { kind: 'other', native: 'pg_snapshot' }],
  ["point | point", { kind: 'other', native: 'point' }],
  ["polygon | polygon", { kind: 'other', native: 'polygon' }],
  ["regclass | regclass", { kind: 'other', native: 'regclass' }],
  ["regproc | regproc", { kind: 'other', native: 'regproc' }],
  ["regtype | regtype", { kind: 'other', native: 'regtype' }],
  ["text | text", { kind: 'text', fixed: false }],
  ["tid | tid", { kind: 'other', native: 'tid' }],
  ["time | time without time zone", { kind: 'time', fsp: 6, range: 'day' }],
  ["time | time(2) without time zone", { kind: 'time', fsp: 2, range: 'day' }],
  ["time | time(6) without time zone", { kind: 'time', fsp: 6, range: 'day' }],
  ["timestamp | timestamp without time zone", { kind: 'timestamp', zone: false, fsp: 6 }],
  ["timestamp | timestamp(0) without time zone", { kind: 'timestamp', zone: false, fsp: 0 }],
  ["timestamp | timestamp(3) without time zone", { kind: 'timestamp', zone: false, fsp: 3 }],
  ["timestamp | timestamp(6) without time zone", { kind: 'timestamp', zone: false, fsp: 6 }],
  ["timestamptz | timestamp with time zone", { kind: 'timestamp', zone: true, fsp: 6 }],
  ["timestamptz | timestamp(0) with time zone", { kind: 'timestamp', zone: true, fsp: 0 }],
  ["timestamptz | timestamp(6) with time zone", { kind: 'timestamp', zone: true, fsp: 6 }],
  ["timetz | time with time zone", { kind: 'other', native: 'time with time zone' }],
  ["timetz | time(3) with time zone", { kind: 'other', native: 'time(3) with time zone' }],
  ["trail | trail", { kind: 'enum', labels: ['a ', 'b'], typeName: 'trail' }],
  ["tsmultirange | tsmultirange", { kind: 'other', native: 'tsmultirange' }],
  ["tsquery | tsquery", { kind: 'other', native: 'tsquery' }],
  ["tsrange | tsrange", { kind: 'other', native: 'tsrange' }],
  ["tstzmultirange | tstzmultirange", { kind: 'other', native: 'tstzmultirange' }],
  ["tstzrange | tstzrange", { kind: 'other', native: 'tstzrange' }],
  ["tsvector | tsvector", { kind: 'other', native: 'tsvector' }],
  ["txid_snapshot | txid_snapshot", { kind: 'other', native: 'txid_snapshot' }],
  ["uuid | uuid", { kind: 'uuid' }],
  ["varbit | bit varying(10)", { kind: 'bit', length: 10, varying: true }],
  ["varbit | bit varying", { kind: 'bit', varying: true }],
  ["varchar | character varying(20)", { kind: 'text', length: 20, fixed: false }],
  ["varchar | character varying(20000)", { kind: 'text', length: 20000, fixed: false }],
  ["varchar | character varying(4000)", { kind: 'text', length: 4000, fixed: false }],
  ["varchar | character varying(5)", { kind: 'text', length: 5, fixed: false }],
  ["varchar | character varying", { kind: 'text', fixed: false }],
  ["varchar | short_text", { kind: 'text', fixed: false }],
  ["vector | vector(3)", { kind: 'other', native: 'vector(3)' }],
  ["xid | xid", { kind: 'other', native: 'xid' }],
  ["xid8 | xid8", { kind: 'other', native: 'xid8' }],
  ["xml | xml", { kind: 'other', native: 'xml' }],
]);

/** Columns whose type the declaration alone does not tell: by 'table.column'. */
const BY_COLUMN = new Map<string, LogicalType>([
  // A user type without known labels (the unit tests' 'mood' built by hand) is only its name.
  ['pg_unit.mood', { kind: 'other', native: 'mood' }],
  // A non-default collation.
  ['misc.cs', { kind: 'text', fixed: false, collation: 'C' }],
]);

function expected(table: string, c: Column): LogicalType | undefined {
  return BY_COLUMN.get(`${table}.${c.name}`) ?? EXPECTED.get(`${c.dataType} | ${c.columnType}`);
}

const tables = corpusTables().filter((t) => t.table.engine === 'postgres');

describe('PostgreSQL native → logical types', () => {
  it.each(tables.map((t) => [t.table.name, t] as const))('every column of %s', (_, { table }) => {
    for (const c of table.columns) {
      const want = expected(table.name, c);
      expect(want, `${table.name}.${c.name} (${c.columnType}) has an expectation here`).toBeDefined();
      expect(toLogical(c), `${table.name}.${c.name} (${c.columnType})`).toEqual(want);
    }
  });

  it('covers every native type of the corpus and expects nothing the corpus lacks', () => {
    const used = new Set(tables.flatMap((t) => t.table.columns.map((c) => `${c.dataType} | ${c.columnType}`)));
    expect([...EXPECTED.keys()].filter((k) => !used.has(k))).toEqual([]);
  });

  it('reads PostGIS subtypes and SRIDs, and an array element’s typmod', () => {
    const c = (dataType: string, columnType: string, extra: Partial<Column> = {}): Column => ({ name: 'c', dataType, columnType, nullable: true, unsigned: false, ...extra });
    expect(toLogical(c('geometry', 'geometry'))).toEqual({ kind: 'spatial', subtype: 'geometry' });
    expect(toLogical(c('geometry', 'geometry(MultiPolygon)'))).toEqual({ kind: 'spatial', subtype: 'multipolygon' });
    expect(toLogical(c('geometry', 'geometry(GeometryCollection,3857)'))).toEqual({ kind: 'spatial', subtype: 'geometrycollection', srid: 3857 });
    expect(toLogical(c('geometry', 'geometry(PointZ,4326)'))).toEqual({ kind: 'other', native: 'geometry(PointZ,4326)' });
    expect(toLogical(c('_varchar', 'character varying(5)[]'))).toEqual({ kind: 'array', of: { kind: 'text', length: 5, fixed: false } });
    expect(toLogical(c('_timestamptz', 'timestamp(3) with time zone[]'))).toEqual({ kind: 'array', of: { kind: 'timestamp', zone: true, fsp: 3 } });
    const t = withLogical({ name: 'x', engine: 'postgres', primaryKey: [0], generated: [], columns: [c('int8', 'bigint'), c('_int4', 'integer[]')] });
    expect(t.columns.map((x) => x.logical)).toEqual([
      { kind: 'integer', bytes: 8, signed: true },
      { kind: 'array', of: { kind: 'integer', bytes: 4, signed: true } },
    ]);
  });
});
