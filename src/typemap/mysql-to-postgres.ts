import { columnTypesHint } from '../config/hints.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { Column, TableSchema } from '../core/schema.js';
import { isMysqlSpatial } from '../core/spatial.js';

/**
 * MySQL/MariaDB → PostgreSQL column types, one rule per MySQL type (docs/type-mapping.md is the
 * user-facing form of this table; keep the two in step). Every rule keeps every value the MySQL
 * type can hold, exactly:
 *
 * | MySQL | PostgreSQL | why |
 * |---|---|---|
 * | TINYINT (incl. TINYINT(1)/BOOL), SMALLINT | smallint | TINYINT(1) is a number in MySQL: a 9 stays 9 |
 * | TINYINT UNSIGNED | smallint | the next wider signed type |
 * | SMALLINT UNSIGNED, MEDIUMINT [UNSIGNED], INT | integer | |
 * | INT UNSIGNED, BIGINT | bigint | |
 * | BIGINT UNSIGNED | numeric(20,0) | 18446744073709551615 does not fit bigint |
 * | DECIMAL(p,s) | numeric(p,s) | |
 * | FLOAT | real | float32 both sides |
 * | DOUBLE | double precision | |
 * | BIT(n) | bit(n) | |
 * | YEAR | smallint | YEAR 0000 is 0 |
 * | DATE | date | zero dates by policy |
 * | DATETIME(n) | timestamp(n) | zero dates by policy |
 * | TIMESTAMP(n) | timestamptz(n) | the value is UTC; zero dates by policy |
 * | TIME(n) | interval | TIME spans ±838:59:59; PostgreSQL time cannot be negative or pass 24h |
 * | CHAR(n), VARCHAR(n) | char(n), varchar(n) | both count characters |
 * | TINYTEXT … LONGTEXT | text | |
 * | BINARY, VARBINARY, TINYBLOB … LONGBLOB | bytea | |
 * | JSON (MariaDB: LONGTEXT CHECK json_valid) | json | json keeps the exact text; jsonb would rewrite it |
 * | ENUM | text + CHECK (member list) | |
 * | SET | text | |
 * | UUID, INET4, INET6 (MariaDB) | uuid, inet, inet | |
 * | GEOMETRY, POINT, …, GEOMETRYCOLLECTION | PostGIS geometry(Point[,srid]) …, or bytea | by the target: see spatialType |
 *
 * Anything else is refused by name unless `columnTypes` overrides it.
 */

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

/** PostGIS's names of the MySQL spatial types that constrain a column to one geometry type. */
const POSTGIS_SUBTYPE: Record<string, string> = {
  point: 'Point',
  linestring: 'LineString',
  polygon: 'Polygon',
  multipoint: 'MultiPoint',
  multilinestring: 'MultiLineString',
  multipolygon: 'MultiPolygon',
};

export interface PostgresColumnType {
  /** The type as written in CREATE TABLE. */
  readonly sql: string;
  /** A CHECK expression over the quoted column name, or undefined. */
  readonly check?: (quotedColumn: string) => string;
  /** Whether the column must be created nullable whatever the source says (zero dates → NULL). */
  readonly forceNullable: boolean;
  /** True when the type comes from a `columnTypes` override. */
  readonly overridden: boolean;
}

const INT_SIGNED: Record<string, string> = { tinyint: 'smallint', smallint: 'smallint', mediumint: 'integer', int: 'integer', integer: 'integer', bigint: 'bigint' };
const INT_UNSIGNED: Record<string, string> = { tinyint: 'smallint', smallint: 'integer', mediumint: 'integer', int: 'bigint', integer: 'bigint', bigint: 'numeric(20,0)' };
const TEXT = new Set(['tinytext', 'text', 'mediumtext', 'longtext']);
const BINARY = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob']);
const DATES = new Set(['date', 'datetime', 'timestamp']);

/** A PostgreSQL string literal (standard_conforming_strings on, the default since 9.1). */
export function pgStringLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** The members of `enum('a','b,c')` / `set(…)` as MySQL prints them in COLUMN_TYPE. */
export function enumMembers(columnType: string): string[] {
  const m = /^(?:enum|set)\((.*)\)$/is.exec(columnType.trim());
  if (!m) return [];
  const out: string[] = [];
  const re = /'((?:[^']|'')*)'/g;
  let x: RegExpExecArray | null;
  while ((x = re.exec(m[1] as string))) out.push((x[1] as string).replace(/''/g, "'").replace(/\\\\/g, '\\'));
  return out;
}

function lengthOf(columnType: string): number | undefined {
  const m = /\((\d+)\)/.exec(columnType);
  return m ? Number(m[1]) : undefined;
}

/** MariaDB stores JSON as LONGTEXT with CHECK (json_valid(`col`)); MySQL reports DATA_TYPE 'json'. */
export function isJsonColumn(table: TableSchema, col: Column): boolean {
  if (col.dataType === 'json') return true;
  if (col.dataType !== 'longtext' || !table.createStatement) return false;
  const q = '`' + col.name.replace(/`/g, '``') + '`';
  return table.createStatement.includes(`json_valid(${q})`);
}

/**
 * The PostgreSQL type for a MySQL column, or a TABLE_UNSUPPORTED error naming the column and the
 * override that fixes it.
 */
export function mysqlToPostgresType(table: TableSchema, col: Column, opts: PostgresTypeOptions): PostgresColumnType {
  const override = opts.columnTypes[`${table.name}.${col.name}`];
  if (override) return { sql: override, forceNullable: false, overridden: true };
  const t = col.dataType;
  const plain = (sql: string, forceNullable = false): PostgresColumnType => ({ sql, forceNullable, overridden: false });
  if (t in INT_SIGNED) return plain((col.unsigned ? INT_UNSIGNED : INT_SIGNED)[t] as string);
  if (t === 'decimal' || t === 'numeric') {
    const p = col.precision ?? 10;
    const s = col.scale ?? 0;
    return plain(`numeric(${p},${s})`);
  }
  if (t === 'float') return plain('real');
  if (t === 'double' || t === 'real' || t === 'double precision') return plain('double precision');
  if (t === 'bit') return plain(`bit(${lengthOf(col.columnType) ?? 1})`);
  if (t === 'year') return plain('smallint');
  if (DATES.has(t)) {
    const fsp = col.scale ?? 0;
    const sql = t === 'date' ? 'date' : t === 'datetime' ? `timestamp(${fsp})` : `timestamptz(${fsp})`;
    return plain(sql, opts.zeroDates === 'null');
  }
  if (t === 'time') return plain('interval');
  if (t === 'char') return plain(`char(${lengthOf(col.columnType) ?? 1})`);
  if (t === 'varchar') return plain(`varchar(${lengthOf(col.columnType) ?? 1})`);
  if (isJsonColumn(table, col)) return plain('json');
  if (TEXT.has(t)) return plain('text');
  if (BINARY.has(t)) return plain('bytea');
  if (t === 'enum') {
    // '' is in the list because MySQL stores it for an invalid member outside strict mode.
    const members = ['', ...enumMembers(col.columnType)];
    return { sql: 'text', forceNullable: false, overridden: false, check: (q) => `${q} IN (${members.map(pgStringLiteral).join(', ')})` };
  }
  if (t === 'set') return plain('text');
  if (t === 'uuid') return plain('uuid');
  if (t === 'inet4' || t === 'inet6') return plain('inet');
  if (isMysqlSpatial(t)) return plain(spatialType(col, opts.postgis));
  throw new TributaryError(
    ErrorCode.TABLE_UNSUPPORTED,
    `column ${table.name}.${col.name}: MySQL type ${col.columnType} has no PostgreSQL mapping; choose one with ${columnTypesHint(table.name, col.name, 'TYPE')}, or leave the table out with --tables`,
  );
}

/**
 * A MySQL spatial column's PostgreSQL type. With PostGIS: geometry constrained as the MySQL type
 * constrains its values (POINT → geometry(Point)), with the SRID the column declares (a
 * geometry(Point) takes any SRID, as a MySQL POINT without one does); GEOMETRY and
 * GEOMETRYCOLLECTION stay plain geometry, since a MySQL GEOMETRYCOLLECTION column also holds
 * MULTIPOINTs and the like. Without PostGIS: bytea holding each value's EWKB.
 */
function spatialType(col: Column, postgis: string | undefined): string {
  if (postgis === undefined) return 'bytea';
  const type = `${pgQuoteIdent(postgis)}.geometry`;
  const sub = POSTGIS_SUBTYPE[col.dataType];
  if (col.srid !== undefined && col.srid > 0) return `${type}(${sub ?? 'Geometry'},${col.srid})`;
  return sub ? `${type}(${sub})` : type;
}

function pgQuoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}
