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
  ["box | box", { kind: 'other', native: 'box', typeName: 'box', what: 'a geometric type' }],
  ["bpchar | character(300)", { kind: 'text', length: 300, fixed: true }],
  ["bpchar | character(5)", { kind: 'text', length: 5, fixed: true }],
  ["bpchar | character", { kind: 'text', fixed: true }],
  ["bytea | bytea", { kind: 'binary', fixed: false }],
  ["char | \"char\"", { kind: 'other', native: '"char"', typeName: 'char', text: { length: 4, fixed: false, ascii: false, elastic: false } }],
  ["cid | cid", { kind: 'other', native: 'cid', typeName: 'cid', what: 'a PostgreSQL-internal type' }],
  ["cidr | cidr", { kind: 'other', native: 'cidr', typeName: 'cidr', text: { length: 50, fixed: false, ascii: true, elastic: false } }],
  ["circle | circle", { kind: 'other', native: 'circle', typeName: 'circle', what: 'a geometric type' }],
  ["citext | citext", { kind: 'other', native: 'citext', typeName: 'citext', text: { fixed: false, ascii: false, elastic: true } }],
  ["date | date", { kind: 'date' }],
  ["datemultirange | datemultirange", { kind: 'other', native: 'datemultirange', typeName: 'datemultirange', text: { fixed: false, ascii: false, elastic: false, form: '{[lower,upper), …}' } }],
  ["daterange | daterange", { kind: 'other', native: 'daterange', typeName: 'daterange', text: { fixed: false, ascii: false, elastic: false, form: '[lower,upper)' } }],
  ["float4 | real", { kind: 'float', bits: 32 }],
  ["float8 | double precision", { kind: 'float', bits: 64 }],
  ["geography | geography", { kind: 'other', native: 'geography', typeName: 'geography', what: 'an extension type (PostGIS)' }],
  ["geometry | geometry(Point,4326)", { kind: 'spatial', subtype: 'point', srid: 4326, ewkb: true }],
  ["hstore | hstore", { kind: 'other', native: 'hstore', typeName: 'hstore', text: { fixed: false, ascii: false, elastic: false, form: '"key"=>"value", …' } }],
  ["inet | inet", { kind: 'other', native: 'inet', typeName: 'inet', text: { length: 50, fixed: false, ascii: true, elastic: false } }],
  ["int2 | smallint", { kind: 'integer', bytes: 2, signed: true }],
  ["int2vector | int2vector", { kind: 'other', native: 'int2vector', typeName: 'int2vector', what: 'a PostgreSQL-internal type' }],
  ["int4 | integer", { kind: 'integer', bytes: 4, signed: true }],
  ["int4 | posint", { kind: 'integer', bytes: 4, signed: true }],
  ["int4multirange | int4multirange", { kind: 'other', native: 'int4multirange', typeName: 'int4multirange', text: { fixed: false, ascii: false, elastic: false, form: '{[lower,upper), …}' } }],
  ["int4range | int4range", { kind: 'other', native: 'int4range', typeName: 'int4range', text: { fixed: false, ascii: false, elastic: false, form: '[lower,upper)' } }],
  ["int8 | bigint", { kind: 'integer', bytes: 8, signed: true }],
  ["int8multirange | int8multirange", { kind: 'other', native: 'int8multirange', typeName: 'int8multirange', text: { fixed: false, ascii: false, elastic: false, form: '{[lower,upper), …}' } }],
  ["int8range | int8range", { kind: 'other', native: 'int8range', typeName: 'int8range', text: { fixed: false, ascii: false, elastic: false, form: '[lower,upper)' } }],
  ["interval | interval", { kind: 'interval' }],
  ["json | json", { kind: 'json', binary: false }],
  ["jsonb | jsonb", { kind: 'json', binary: true }],
  ["line | line", { kind: 'other', native: 'line', typeName: 'line', what: 'a geometric type' }],
  ["longl | longl", { kind: 'enum', labels: ['x'.repeat(256), 'y'], typeName: 'longl' }],
  ["lseg | lseg", { kind: 'other', native: 'lseg', typeName: 'lseg', what: 'a geometric type' }],
  ["ltree | ltree", { kind: 'other', native: 'ltree', typeName: 'ltree', what: 'an extension type' }],
  ["macaddr | macaddr", { kind: 'other', native: 'macaddr', typeName: 'macaddr', text: { length: 17, fixed: true, ascii: true, elastic: false } }],
  ["macaddr8 | macaddr8", { kind: 'other', native: 'macaddr8', typeName: 'macaddr8', text: { length: 23, fixed: true, ascii: true, elastic: false } }],
  ["money | money", { kind: 'other', native: 'money', typeName: 'money', what: "a currency type whose text depends on lc_monetary ('$1,000.00')," }],
  ["mood | mood", { kind: 'enum', labels: MOOD, typeName: 'mood' }],
  ["mood | mood_d", { kind: 'enum', labels: MOOD, typeName: 'mood' }],
  ["name | name", { kind: 'other', native: 'name', typeName: 'name', text: { length: 63, fixed: false, ascii: false, elastic: false } }],
  ["numeric | numeric(10,2)", { kind: 'decimal', precision: 10, scale: 2 }],
  ["numeric | numeric(2,5)", { kind: 'decimal', precision: 2, scale: 5 }],
  ["numeric | numeric(3,-2)", { kind: 'decimal', precision: 3, scale: -2 }],
  ["numeric | numeric(30,10)", { kind: 'decimal', precision: 30, scale: 10 }],
  ["numeric | numeric(40,31)", { kind: 'decimal', precision: 40, scale: 31 }],
  ["numeric | numeric(45,5)", { kind: 'decimal', precision: 45, scale: 5 }],
  ["numeric | numeric(70,2)", { kind: 'decimal', precision: 70, scale: 2 }],
  ["numeric | numeric", { kind: 'decimal' }],
  ["nummultirange | nummultirange", { kind: 'other', native: 'nummultirange', typeName: 'nummultirange', text: { fixed: false, ascii: false, elastic: false, form: '{[lower,upper), …}' } }],
  ["numrange | numrange", { kind: 'other', native: 'numrange', typeName: 'numrange', text: { fixed: false, ascii: false, elastic: false, form: '[lower,upper)' } }],
  ["oid | oid", { kind: 'integer', bytes: 4, signed: false }],
  ["oidvector | oidvector", { kind: 'other', native: 'oidvector', typeName: 'oidvector', what: 'a PostgreSQL-internal type' }],
  ["path | path", { kind: 'other', native: 'path', typeName: 'path', what: 'a geometric type' }],
  ["pg_lsn | pg_lsn", { kind: 'other', native: 'pg_lsn', typeName: 'pg_lsn', what: 'a PostgreSQL-internal type' }],
  ["pg_snapshot | pg_snapshot", { kind: 'other', native: 'pg_snapshot', typeName: 'pg_snapshot', what: 'a PostgreSQL-internal type' }],
  ["point | point", { kind: 'other', native: 'point', typeName: 'point', what: 'a geometric type' }],
  ["polygon | polygon", { kind: 'other', native: 'polygon', typeName: 'polygon', what: 'a geometric type' }],
  ["regclass | regclass", { kind: 'other', native: 'regclass', typeName: 'regclass', what: 'a PostgreSQL-internal type' }],
  ["regproc | regproc", { kind: 'other', native: 'regproc', typeName: 'regproc', what: 'a PostgreSQL-internal type' }],
  ["regtype | regtype", { kind: 'other', native: 'regtype', typeName: 'regtype', what: 'a PostgreSQL-internal type' }],
  ["text | text", { kind: 'text', fixed: false }],
  ["tid | tid", { kind: 'other', native: 'tid', typeName: 'tid', what: 'a PostgreSQL-internal type' }],
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
  ["timetz | time with time zone", { kind: 'other', native: 'time with time zone', typeName: 'timetz', text: { length: 32, fixed: false, ascii: true, elastic: false } }],
  ["timetz | time(3) with time zone", { kind: 'other', native: 'time(3) with time zone', typeName: 'timetz', text: { length: 32, fixed: false, ascii: true, elastic: false } }],
  ["trail | trail", { kind: 'enum', labels: ['a ', 'b'], typeName: 'trail' }],
  ["tsmultirange | tsmultirange", { kind: 'other', native: 'tsmultirange', typeName: 'tsmultirange', text: { fixed: false, ascii: false, elastic: false, form: '{[lower,upper), …}' } }],
  ["tsquery | tsquery", { kind: 'other', native: 'tsquery', typeName: 'tsquery', text: { fixed: false, ascii: false, elastic: false, form: "'a' & 'b'" } }],
  ["tsrange | tsrange", { kind: 'other', native: 'tsrange', typeName: 'tsrange', text: { fixed: false, ascii: false, elastic: false, form: '[lower,upper)' } }],
  ["tstzmultirange | tstzmultirange", { kind: 'other', native: 'tstzmultirange', typeName: 'tstzmultirange', text: { fixed: false, ascii: false, elastic: false, form: '{[lower,upper), …}' } }],
  ["tstzrange | tstzrange", { kind: 'other', native: 'tstzrange', typeName: 'tstzrange', text: { fixed: false, ascii: false, elastic: false, form: '[lower,upper)' } }],
  ["tsvector | tsvector", { kind: 'other', native: 'tsvector', typeName: 'tsvector', text: { fixed: false, ascii: false, elastic: false, form: "'lexeme':position …" } }],
  ["txid_snapshot | txid_snapshot", { kind: 'other', native: 'txid_snapshot', typeName: 'txid_snapshot', what: 'a PostgreSQL-internal type' }],
  ["uuid | uuid", { kind: 'uuid' }],
  ["varbit | bit varying(10)", { kind: 'bit', length: 10, varying: true }],
  ["varbit | bit varying", { kind: 'bit', varying: true }],
  ["varchar | character varying(20)", { kind: 'text', length: 20, fixed: false }],
  ["varchar | character varying(20000)", { kind: 'text', length: 20000, fixed: false }],
  ["varchar | character varying(4000)", { kind: 'text', length: 4000, fixed: false }],
  ["varchar | character varying(5)", { kind: 'text', length: 5, fixed: false }],
  ["varchar | character varying", { kind: 'text', fixed: false }],
  ["varchar | short_text", { kind: 'text', fixed: false }],
  ["vector | vector(3)", { kind: 'other', native: 'vector(3)', typeName: 'vector', what: 'an extension type (pgvector)' }],
  ["xid | xid", { kind: 'other', native: 'xid', typeName: 'xid', what: 'a PostgreSQL-internal type' }],
  ["xid8 | xid8", { kind: 'other', native: 'xid8', typeName: 'xid8', what: 'a PostgreSQL-internal type' }],
  ["xml | xml", { kind: 'other', native: 'xml', typeName: 'xml', text: { fixed: false, ascii: false, elastic: true } }],
]);

/** Columns whose type the declaration alone does not tell: by 'table.column'. */
const BY_COLUMN = new Map<string, LogicalType>([
  // A user type without known labels (the unit tests' 'mood' built by hand) is its name and its text (an enum label's 63 characters).
  ['pg_unit.mood', { kind: 'other', native: 'mood', typeName: 'mood', text: { length: 63, fixed: false, ascii: false, elastic: true } }],
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
    expect(toLogical(c('geometry', 'geometry'))).toEqual({ kind: 'spatial', subtype: 'geometry', ewkb: true });
    expect(toLogical(c('geometry', 'geometry(MultiPolygon)'))).toEqual({ kind: 'spatial', subtype: 'multipolygon', ewkb: true });
    expect(toLogical(c('geometry', 'geometry(GeometryCollection,3857)'))).toEqual({ kind: 'spatial', subtype: 'geometrycollection', srid: 3857, ewkb: true });
    expect(toLogical(c('geometry', 'geometry(PointZ,4326)'))).toEqual({ kind: 'other', native: 'geometry(PointZ,4326)', typeName: 'geometry', what: 'an extension type (PostGIS)' });
    expect(toLogical(c('_varchar', 'character varying(5)[]'))).toEqual({ kind: 'array', of: { kind: 'text', length: 5, fixed: false } });
    expect(toLogical(c('_timestamptz', 'timestamp(3) with time zone[]'))).toEqual({ kind: 'array', of: { kind: 'timestamp', zone: true, fsp: 3 } });
    const t = withLogical({ name: 'x', engine: 'postgres', primaryKey: [0], generated: [], columns: [c('int8', 'bigint'), c('_int4', 'integer[]')] });
    expect(t.columns.map((x) => x.logical)).toEqual([
      { kind: 'integer', bytes: 8, signed: true },
      { kind: 'array', of: { kind: 'integer', bytes: 4, signed: true } },
    ]);
  });
});
