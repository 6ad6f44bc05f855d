import type { LogicalType } from '../../core/logical.js';
import type { Column, TableSchema } from '../../core/schema.js';

/**
 * PostgreSQL native types → logical types (core/logical.ts), for every column describeTable
 * (schema.ts) reads: `dataType` is the type's name (pg_type.typname; a domain's base type; '_x'
 * for an array of x), `columnType` is format_type() ('numeric(10,2)', 'integer[]', a domain's own
 * name), with the typmods describeTable decodes (precision/scale, fsp in `scale`, bit lengths in
 * `precision`) and an enum's labels.
 *
 * | native | logical |
 * |---|---|
 * | smallint, integer, bigint | integer 2, 4, 8 bytes, signed |
 * | oid | integer 4 bytes, unsigned |
 * | numeric(p,s), numeric | decimal p, s; unconstrained when undeclared |
 * | real, double precision | float 32, 64 |
 * | boolean | boolean |
 * | text, varchar(n), character(n) | text (length n; fixed for character), collation when not the default |
 * | bytea | binary |
 * | date | date |
 * | time(n) | time, range one day, fsp n |
 * | timestamp(n), timestamptz(n) | timestamp without, with zone, fsp n |
 * | interval | interval |
 * | json, jsonb | json (jsonb: binary) |
 * | uuid | uuid |
 * | bit(n), bit varying(n) | bit n, fixed / varying |
 * | a user enum (directly, through a domain) | enum with its labels and type name |
 * | x[] | array of x's logical type |
 * | geometry(Subtype[,srid]) (PostGIS) | spatial |
 * | anything else (timetz, money, inet, cidr, macaddr, xml, citext, name, "char", ranges, geography, …) | other, format_type() |
 */

const SIMPLE: Readonly<Record<string, LogicalType>> = {
  int2: { kind: 'integer', bytes: 2, signed: true },
  int4: { kind: 'integer', bytes: 4, signed: true },
  int8: { kind: 'integer', bytes: 8, signed: true },
  oid: { kind: 'integer', bytes: 4, signed: false },
  float4: { kind: 'float', bits: 32 },
  float8: { kind: 'float', bits: 64 },
  bool: { kind: 'boolean' },
  bytea: { kind: 'binary', fixed: false },
  date: { kind: 'date' },
  interval: { kind: 'interval' },
  json: { kind: 'json', binary: false },
  jsonb: { kind: 'json', binary: true },
  uuid: { kind: 'uuid' },
};

/** The typmod numbers in format_type()'s parentheses: 'numeric(10,2)' → [10, 2]. */
function typmod(columnType: string): number[] {
  const m = /\(([-\d,\s]+)\)/.exec(columnType);
  return m ? (m[1] as string).split(',').map((s) => Number(s.trim())) : [];
}

/** Fractional seconds digits: describeTable's (6 when undeclared), else the declaration, else PostgreSQL's 6. */
function fsp(c: Column): number {
  return c.scale ?? typmod(c.columnType)[0] ?? 6;
}

/** PostGIS's geometry subtypes, in core/logical.ts's words. */
const SPATIAL_SUBTYPES = new Set(['geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection']);

/** 'geometry', 'geometry(Point)', 'geometry(Point,4326)' → spatial; a Z/M or unknown subtype → other. */
function spatial(c: Column): LogicalType {
  const m = /^(?:[^(]*\.)?"?geometry"?(?:\(([A-Za-z]+)(?:,\s*(\d+))?\))?$/.exec(c.columnType);
  const subtype = (m?.[1] ?? 'geometry').toLowerCase();
  if (!m || !SPATIAL_SUBTYPES.has(subtype)) return { kind: 'other', native: c.columnType };
  const srid = m[2] !== undefined ? Number(m[2]) : 0;
  return { kind: 'spatial', subtype, ...(srid > 0 ? { srid } : {}) };
}

function scalar(c: Column, dataType: string, columnType: string): LogicalType {
  const simple = SIMPLE[dataType];
  if (simple) return simple;
  const declared = typmod(columnType);
  const collation = c.collation !== undefined ? { collation: c.collation } : {};
  switch (dataType) {
    case 'numeric': {
      const precision = c.precision ?? declared[0];
      const scale = c.scale ?? (precision !== undefined ? (declared[1] ?? 0) : undefined);
      return { kind: 'decimal', ...(precision !== undefined ? { precision } : {}), ...(scale !== undefined ? { scale } : {}) };
    }
    case 'text':
      return { kind: 'text', fixed: false, ...collation };
    case 'varchar': {
      const length = declared[0];
      return { kind: 'text', ...(length !== undefined ? { length } : {}), fixed: false, ...collation };
    }
    case 'bpchar': {
      const length = declared[0];
      return { kind: 'text', ...(length !== undefined ? { length } : {}), fixed: true, ...collation };
    }
    case 'time':
      return { kind: 'time', fsp: fsp(c), range: 'day' };
    case 'timestamp':
      return { kind: 'timestamp', zone: false, fsp: fsp(c) };
    case 'timestamptz':
      return { kind: 'timestamp', zone: true, fsp: fsp(c) };
    case 'bit':
    case 'varbit': {
      const length = c.precision ?? declared[0];
      return { kind: 'bit', ...(length !== undefined ? { length } : {}), varying: dataType === 'varbit' };
    }
    case 'geometry':
      return spatial(c);
  }
  if (c.enumLabels !== undefined && c.enumType !== undefined) return { kind: 'enum', labels: c.enumLabels, typeName: c.enumType };
  return { kind: 'other', native: columnType };
}

/** The logical type of a column as describeTable reads it. */
export function toLogical(c: Column): LogicalType {
  if (c.dataType.startsWith('_')) {
    // An array: its element's logical type. format_type prints 'integer[]' (never the dimensions);
    // a typmod belongs to the element ('character varying(5)[]').
    const element = c.columnType.replace(/\[\]$/, '');
    return { kind: 'array', of: scalar(c, c.dataType.slice(1), element) };
  }
  return scalar(c, c.dataType, c.columnType);
}

/** The table with each column's logical type filled in (describeTable's last step). */
export function withLogical(table: TableSchema): TableSchema {
  return { ...table, columns: table.columns.map((c) => ({ ...c, logical: toLogical(c) })) };
}
