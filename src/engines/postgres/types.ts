import { columnTypesHint } from '../../config/hints.js';
import { columnTypeOf } from '../../core/column-types.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { LogicalType, TextForm } from '../../core/logical.js';
import type { Column, TableSchema } from '../../core/schema.js';
import type { TypeRef } from '../../core/user-types.js';
import { quoteIdent, quoteLiteral } from './sql.js';
import { typeRefSql } from './user-type-ddl.js';

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
 * | geometry(Subtype[,srid]) (PostGIS) | spatial, values in EWKB |
 * | anything else (timetz, money, inet, cidr, macaddr, xml, citext, name, "char", ranges, geography, …) | other, format_type(), with the type name and either what it is (refused elsewhere) or its text form |
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

/**
 * Types with no logical counterpart whose values another engine cannot keep even as text: what
 * each is, for the refusal (core/logical.ts OtherType.what).
 */
const WHAT: Readonly<Record<string, string>> = {
  money: "a currency type whose text depends on lc_monetary ('$1,000.00'),",
  point: 'a geometric type',
  line: 'a geometric type',
  lseg: 'a geometric type',
  box: 'a geometric type',
  path: 'a geometric type',
  polygon: 'a geometric type',
  circle: 'a geometric type',
  pg_lsn: 'a PostgreSQL-internal type',
  pg_snapshot: 'a PostgreSQL-internal type',
  txid_snapshot: 'a PostgreSQL-internal type',
  xid: 'a PostgreSQL-internal type',
  xid8: 'a PostgreSQL-internal type',
  cid: 'a PostgreSQL-internal type',
  tid: 'a PostgreSQL-internal type',
  regclass: 'a PostgreSQL-internal type',
  regtype: 'a PostgreSQL-internal type',
  regproc: 'a PostgreSQL-internal type',
  int2vector: 'a PostgreSQL-internal type',
  oidvector: 'a PostgreSQL-internal type',
  ltree: 'an extension type',
  geometry: 'an extension type (PostGIS)',
  geography: 'an extension type (PostGIS)',
  vector: 'an extension type (pgvector)',
};

/** A range's text: '[lower,upper)', 'empty'; bounds quoted where they need it. */
const RANGE_TEXT: TextForm = { fixed: false, ascii: false, elastic: false, form: '[lower,upper)' };

/**
 * Types with no logical counterpart whose text another engine may keep (OtherType.text): the
 * longest text each prints. citext and xml are unbounded.
 */
const TEXT_FORM: Readonly<Record<string, TextForm>> = {
  citext: { fixed: false, ascii: false, elastic: true },
  xml: { fixed: false, ascii: false, elastic: true },
  // The one-byte "char"; a non-ASCII byte prints as \ooo.
  char: { length: 4, fixed: false, ascii: false, elastic: false },
  name: { length: 63, fixed: false, ascii: false, elastic: false },
  timetz: { length: 32, fixed: false, ascii: true, elastic: false },
  inet: { length: 50, fixed: false, ascii: true, elastic: false },
  cidr: { length: 50, fixed: false, ascii: true, elastic: false },
  macaddr: { length: 17, fixed: true, ascii: true, elastic: false },
  macaddr8: { length: 23, fixed: true, ascii: true, elastic: false },
  // Types whose output PostgreSQL's input reads back to the same value: kept as that text (issue 12).
  tsvector: { fixed: false, ascii: false, elastic: false, form: "'lexeme':position …" },
  tsquery: { fixed: false, ascii: false, elastic: false, form: "'a' & 'b'" },
  hstore: { fixed: false, ascii: false, elastic: false, form: '"key"=>"value", …' },
  ...Object.fromEntries(
    ['int4', 'int8', 'num', 'ts', 'tstz', 'date'].flatMap((s) => [
      [`${s}range`, RANGE_TEXT],
      [`${s}multirange`, { ...RANGE_TEXT, form: '{[lower,upper), …}' }],
    ]),
  ),
};

/**
 * Any other user type (an enum whose labels were not read, a composite, an extension's type): its
 * text, taken as an enum label's at most 63 characters (NAMEDATALEN - 1), widened when a row would
 * overflow.
 */
const USER_TYPE_TEXT: TextForm = { length: 63, fixed: false, ascii: false, elastic: true };

/** A user composite's and range's text ('(a,b)', '[1,5)'): unbounded, read back to the same value. */
const USER_TYPE_FORMS: Readonly<Record<string, TextForm>> = {
  composite: { fixed: false, ascii: false, elastic: false, form: '(attribute,…)' },
  range: RANGE_TEXT,
};

/** A type with no logical counterpart: its name, and either what it is (refused) or its text form. */
function other(dataType: string, columnType: string, c?: Column): LogicalType {
  const what = WHAT[dataType];
  const user = c?.userType?.user;
  const form = TEXT_FORM[dataType] ?? (user ? USER_TYPE_FORMS[user.kind] : undefined) ?? USER_TYPE_TEXT;
  return {
    kind: 'other',
    native: columnType,
    typeName: dataType,
    ...(what !== undefined ? { what } : { text: form }),
  };
}

/** PostGIS's geometry subtypes, in core/logical.ts's words. */
const SPATIAL_SUBTYPES = new Set(['geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection']);

/** 'geometry', 'geometry(Point)', 'geometry(Point,4326)' → spatial; a Z/M or unknown subtype → other. */
function spatial(c: Column): LogicalType {
  const m = /^(?:[^(]*\.)?"?geometry"?(?:\(([A-Za-z]+)(?:,\s*(\d+))?\))?$/.exec(c.columnType);
  const subtype = (m?.[1] ?? 'geometry').toLowerCase();
  if (!m || !SPATIAL_SUBTYPES.has(subtype)) return other('geometry', c.columnType);
  const srid = m[2] !== undefined ? Number(m[2]) : 0;
  return { kind: 'spatial', subtype, ...(srid > 0 ? { srid } : {}), ewkb: true };
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
  return other(dataType, columnType, c);
}

/**
 * The type a domain column's values obey: the domain's base ('character varying(20)' for a domain
 * over it), through domains over domains; undefined for a column that is not of a domain.
 */
function valueType(c: Column): TypeRef | undefined {
  let ref = c.userType;
  while (ref?.user?.kind === 'domain' && !ref.array) ref = ref.user.base;
  return ref !== c.userType ? ref : undefined;
}

/** The logical type of a column as describeTable reads it (a domain's: its base type's). */
export function toLogical(c: Column): LogicalType {
  const base = valueType(c);
  if (base) {
    const { userType: _domain, ...rest } = c;
    return toLogical({ ...rest, columnType: base.sql, ...(base.user ? { userType: base } : {}) });
  }
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

/** Options of fromLogical: what the target database and the sync's policies decide. */
export interface FromLogicalOptions {
  /** 'null' creates date and timestamp columns nullable, so a MySQL zero date can be written as NULL. */
  readonly zeroDates: 'error' | 'null';
  /**
   * The schema holding the target database's PostGIS extension, when it has one: spatial columns
   * become PostGIS geometry there, else bytea holding the EWKB.
   */
  readonly postgis?: string | undefined;
  /** The schema a named enum type is created in (default 'public'). */
  readonly schema?: string;
}

/** A PostgreSQL column type for a logical type. */
export interface PostgresType {
  /** The type as written in CREATE TABLE. */
  readonly sql: string;
  /** A CHECK expression over the quoted column name, or undefined. */
  readonly check?: (quotedColumn: string) => string;
  /** Whether the column must be created nullable whatever the source says (zero dates → NULL). */
  readonly forceNullable: boolean;
}

const SIGNED: Readonly<Record<number, string>> = { 1: 'smallint', 2: 'smallint', 3: 'integer', 4: 'integer', 8: 'bigint' };
/** An unsigned integer takes the next wider signed type; BIGINT UNSIGNED's 18446744073709551615 fits only numeric(20,0). */
const UNSIGNED: Readonly<Record<number, string>> = { 1: 'smallint', 2: 'integer', 3: 'integer', 4: 'bigint', 8: 'numeric(20,0)' };

/** PostGIS's names of the geometry subtypes that constrain a column to one geometry type. */
const POSTGIS_SUBTYPE: Readonly<Record<string, string>> = {
  point: 'Point',
  linestring: 'LineString',
  polygon: 'Polygon',
  multipoint: 'MultiPoint',
  multilinestring: 'MultiLineString',
  multipolygon: 'MultiPolygon',
};

/**
 * The PostgreSQL type of a logical type from another engine's column, or undefined when
 * PostgreSQL has none (`other`: postgresColumnType refuses the column by name, or takes an
 * override). A PostgreSQL source keeps its own declaration instead (postgresColumnType); this is
 * the mapping for the other engines, and every rule keeps every value the logical type can hold:
 *
 * | logical | PostgreSQL | why |
 * |---|---|---|
 * | integer 1–2 bytes, 3–4, 8 (unsigned: 1, 2–3, 4, 8) | smallint, integer, bigint (unsigned: smallint, integer, bigint, numeric(20,0)) | the next type holding the whole range |
 * | decimal p, s | numeric(p,s) (s default 0); numeric when unconstrained | |
 * | float 32, 64 | real, double precision | |
 * | bit n (fixed) | bit(n) | |
 * | year | smallint | YEAR 0000 is 0 |
 * | date | date | zero dates by policy |
 * | timestamp without / with zone, fsp n | timestamp(n) / timestamptz(n) | zero dates by policy |
 * | time ±838:59:59 | interval | PostgreSQL time cannot be negative or pass 24h |
 * | text n fixed / n / unbounded | char(n) / varchar(n) / text | both count characters |
 * | binary | bytea | |
 * | json | json | json keeps the exact text; jsonb would rewrite it |
 * | enum (inline labels) | text + CHECK (member list, and '') | MySQL stores '' for an invalid member outside strict mode |
 * | enum of a named type | that type in the target schema | |
 * | set | text | |
 * | uuid, inet | uuid, inet | |
 * | spatial | PostGIS geometry(Subtype[,srid]) with PostGIS, else bytea (EWKB) | |
 */
export function fromLogical(logical: LogicalType, opts: FromLogicalOptions): PostgresType | undefined {
  const plain = (sql: string, forceNullable = false): PostgresType => ({ sql, forceNullable });
  switch (logical.kind) {
    case 'integer':
      return plain((logical.signed ? SIGNED : UNSIGNED)[logical.bytes] as string);
    case 'decimal':
      // Unconstrained (no precision): numeric itself, which holds every such value.
      if (logical.precision === undefined) return plain('numeric');
      return plain(`numeric(${logical.precision},${logical.scale ?? 0})`);
    case 'float':
      return plain(logical.bits === 32 ? 'real' : 'double precision');
    case 'boolean':
      return plain('boolean');
    case 'bit':
      if (logical.varying && logical.length === undefined) return plain('bit varying');
      return plain(`${logical.varying ? 'bit varying' : 'bit'}(${logical.length ?? 1})`);
    case 'year':
      return plain('smallint');
    case 'date':
      return plain('date', opts.zeroDates === 'null');
    case 'timestamp':
      return plain(`${logical.zone ? 'timestamptz' : 'timestamp'}(${logical.fsp})`, opts.zeroDates === 'null');
    case 'time':
      return plain(logical.range === 'hours838' ? 'interval' : `time(${logical.fsp})`);
    case 'interval':
      return plain('interval');
    case 'text':
      if (logical.length === undefined) return plain('text');
      return plain(`${logical.fixed ? 'char' : 'varchar'}(${logical.length})`);
    case 'binary':
      return plain('bytea');
    case 'json':
      return plain('json');
    case 'enum': {
      if (logical.typeName !== undefined) return plain(`${quoteIdent(opts.schema ?? 'public')}.${quoteIdent(logical.typeName)}`);
      const members = ['', ...logical.labels];
      return { sql: 'text', forceNullable: false, check: (q) => `${q} IN (${members.map(quoteLiteral).join(', ')})` };
    }
    case 'set':
      return plain('text');
    case 'uuid':
      return plain('uuid');
    case 'inet':
      return plain('inet');
    case 'spatial':
      return plain(spatialType(logical.subtype, logical.srid, opts.postgis));
    case 'array': {
      const of = fromLogical(logical.of, opts);
      return of && !of.check ? plain(`${of.sql}[]`, of.forceNullable) : undefined;
    }
    case 'other':
      return undefined;
  }
}

/**
 * A spatial column's PostgreSQL type. With PostGIS: geometry constrained as the source constrains
 * its values (point → geometry(Point)), with the SRID the column declares (a geometry(Point) takes
 * any SRID, as a MySQL POINT without one does); 'geometry' and 'geometrycollection' stay plain
 * geometry, since a MySQL GEOMETRYCOLLECTION column also holds MULTIPOINTs and the like. Without
 * PostGIS: bytea holding each value's EWKB.
 */
function spatialType(subtype: string, srid: number | undefined, postgis: string | undefined): string {
  if (postgis === undefined) return 'bytea';
  const type = `${quoteIdent(postgis)}.geometry`;
  const sub = POSTGIS_SUBTYPE[subtype];
  if (srid !== undefined && srid > 0) return `${type}(${sub ?? 'Geometry'},${srid})`;
  return sub ? `${type}(${sub})` : type;
}

/** What the target's type choices depend on: the sync's policies and the target database. */
export interface PostgresTypeOptions {
  /** 'null' creates temporal columns nullable, so a zero date can be written as NULL. */
  readonly zeroDates: 'error' | 'null';
  /** Target type overrides by 'table.column'. */
  readonly columnTypes: Readonly<Record<string, string>>;
  /**
   * The schema holding the target database's PostGIS extension, when it has one: spatial columns
   * become PostGIS geometry there, else bytea holding the EWKB (the spatial policy, SPATIAL_POLICY).
   */
  readonly postgis?: string;
}

/** The names `tributary check` gives the two ways spatial columns are written. */
export const SPATIAL_POLICY = { postgis: 'spatial as PostGIS geometry', bytea: 'spatial as bytea (EWKB)' } as const;

/** A target column's type as CREATE TABLE declares it. */
export interface PostgresColumnType extends PostgresType {
  /** True when the type comes from a `columnTypes` override. */
  readonly overridden: boolean;
}

/** How the refusal names a source engine's types ('MySQL type vector(3)'). */
const ENGINE_NAMES: Readonly<Record<string, string>> = { mysql: 'MySQL' };

/**
 * The PostgreSQL type of a source column, whatever the source engine: the one function the target
 * declares its columns with (ddl.ts planTypes, check.ts mappingRequirements).
 *
 * - A PostgreSQL source keeps its own declaration (format_type), so PostgreSQL → PostgreSQL is the
 *   identity, except for a column of a user type (Column.userType: a domain, enum, composite or
 *   range; Column.enumType for an enum a caller described by hand), whose type the target creates
 *   in its own `schema`: the column is declared with that type ("schema"."type", with [] for an
 *   array of it). An extension's type keeps the source's declaration. An override
 *   (--column-types) wins.
 * - Any other engine's column: a non-empty override, else fromLogical of the column's logical type
 *   (the engine's describe fills it). A type PostgreSQL has none for is refused (TABLE_UNSUPPORTED)
 *   naming the column, its type and the override that fixes it; a column without a logical type
 *   (built by hand, not described) is refused as a bug (INTERNAL), never mapped by guesswork.
 */
export function postgresColumnType(table: TableSchema, col: Column, opts: PostgresTypeOptions, schema = 'public'): PostgresColumnType {
  const override = columnTypeOf(opts.columnTypes, table.name, col.name);
  if (table.engine === 'postgres') {
    if (override !== undefined) return { sql: override, forceNullable: false, overridden: true };
    if (col.userType?.user && col.userType.user.kind !== 'extension') return { sql: typeRefSql(schema, col.userType), forceNullable: false, overridden: false };
    if (col.enumType !== undefined) return { sql: enumColumnType(schema, col.enumType, col), forceNullable: false, overridden: false };
    return { sql: col.columnType, forceNullable: false, overridden: false };
  }
  // An empty override is no override here, as it was for a MySQL source before logical types.
  if (override) return { sql: override, forceNullable: false, overridden: true };
  if (col.logical === undefined) {
    throw new TributaryError(
      ErrorCode.INTERNAL,
      `column ${table.name}.${col.name}: no logical type (Column.logical) to choose its PostgreSQL type from; the ${table.engine} engine's describe fills it (engines/<engine>/types.ts withLogical), so describe the table through the engine, or give the column a type with ${columnTypesHint(table.name, col.name, 'TYPE')}`,
    );
  }
  const t = fromLogical(col.logical, { zeroDates: opts.zeroDates, postgis: opts.postgis, schema });
  if (t) return { ...t, overridden: false };
  throw new TributaryError(
    ErrorCode.TABLE_UNSUPPORTED,
    `column ${table.name}.${col.name}: ${ENGINE_NAMES[table.engine] ?? table.engine} type ${col.columnType} has no PostgreSQL mapping; choose one with ${columnTypesHint(table.name, col.name, 'TYPE')}, or leave the table out with --tables`,
  );
}

/** A PostgreSQL source's enum column declared with its type in the target schema ([] for an array of it). */
function enumColumnType(schema: string, enumType: string, col: Column): string {
  const array = col.dataType.startsWith('_') || /\[\]$/.test(col.columnType);
  return `${quoteIdent(schema)}.${quoteIdent(enumType)}${array ? '[]' : ''}`;
}
