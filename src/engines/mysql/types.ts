import type { LogicalType } from '../../core/logical.js';
import { columnTypesHint } from '../../config/hints.js';
import { columnTypeOf, overriddenColumns } from '../../core/column-types.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { Column, TableSchema } from '../../core/schema.js';
import { enumMembers } from './chunks.js';

/**
 * MySQL/MariaDB native types → logical types (core/logical.ts), for every type describeTable
 * (schema.ts) reads from information_schema.COLUMNS: DATA_TYPE in `dataType`, COLUMN_TYPE in
 * `columnType`, lower case.
 *
 * | native | logical |
 * |---|---|
 * | TINYINT, SMALLINT, MEDIUMINT, INT, BIGINT [UNSIGNED] | integer 1, 2, 3, 4, 8 bytes, signed unless UNSIGNED (TINYINT(1)/BOOL too: a number) |
 * | DECIMAL(p,s), NUMERIC | decimal p, s (DECIMAL alone is (10,0)) |
 * | FLOAT, DOUBLE (REAL, DOUBLE PRECISION) | float 32, 64 |
 * | BIT(n) | bit n, fixed |
 * | YEAR | year |
 * | DATE | date |
 * | DATETIME(n), TIMESTAMP(n) | timestamp without zone, with zone (stored in UTC), fsp n |
 * | TIME(n) | time, range ±838:59:59, fsp n |
 * | CHAR(n), VARCHAR(n), TINYTEXT … LONGTEXT | text (length n; fixed for CHAR), with charset and collation |
 * | BINARY(n), VARBINARY(n), TINYBLOB … LONGBLOB | binary (length n; fixed for BINARY) |
 * | JSON (MySQL 8: binary), LONGTEXT CHECK (json_valid(col)) (MariaDB: text kept) | json |
 * | ENUM(…), SET(…) | enum, set with their labels |
 * | UUID, INET4, INET6 (MariaDB) | uuid, inet version 4, 6 |
 * | GEOMETRY, POINT, …, GEOMETRYCOLLECTION | spatial, subtype = the type, with the declared SRID |
 * | anything else (VECTOR, …) | other, the COLUMN_TYPE |
 */

/** The MySQL/MariaDB data types whose values are spatial values. */
const MYSQL_SPATIAL_TYPES: ReadonlySet<string> = new Set([
  'geometry',
  'point',
  'linestring',
  'polygon',
  'multipoint',
  'multilinestring',
  'multipolygon',
  'geometrycollection',
]);

/** Whether a DATA_TYPE is one of them. */
export function isMysqlSpatial(dataType: string): boolean {
  return MYSQL_SPATIAL_TYPES.has(dataType);
}

const INTEGER_BYTES: Readonly<Record<string, 1 | 2 | 3 | 4 | 8>> = { tinyint: 1, smallint: 2, mediumint: 3, int: 4, integer: 4, bigint: 8 };
const TEXT = new Set(['tinytext', 'text', 'mediumtext', 'longtext']);
const BLOB = new Set(['tinyblob', 'blob', 'mediumblob', 'longblob']);

/** The first number in the declaration's parentheses: CHAR(10) → 10. */
function declaredLength(columnType: string): number | undefined {
  const m = /^[a-z ]+\((\d+)/.exec(columnType);
  return m ? Number(m[1]) : undefined;
}

/** Fractional seconds digits: the describe path's DATETIME_PRECISION, else the declaration, else 0. */
function fsp(c: Column): number {
  return c.scale ?? declaredLength(c.columnType) ?? 0;
}

/**
 * MariaDB stores JSON as LONGTEXT with CHECK (json_valid(`col`)), which only the table's CREATE
 * statement shows.
 */
function isMariadbJson(c: Column, table?: Pick<TableSchema, 'createStatement'>): boolean {
  if (c.dataType !== 'longtext' || !table?.createStatement) return false;
  return table.createStatement.includes(`json_valid(${'`' + c.name.replace(/`/g, '``') + '`'})`);
}

/**
 * The logical type of a column as describeTable reads it. `table` gives the CREATE statement, which
 * alone tells MariaDB's JSON from a LONGTEXT.
 */
export function toLogical(c: Column, table?: Pick<TableSchema, 'createStatement'>): LogicalType {
  const t = c.dataType;
  const bytes = INTEGER_BYTES[t];
  if (bytes !== undefined) return { kind: 'integer', bytes, signed: !c.unsigned };
  switch (t) {
    case 'decimal':
    case 'numeric': {
      const m = /\((\d+)(?:,(\d+))?\)/.exec(c.columnType);
      const precision = c.precision ?? (m ? Number(m[1]) : 10);
      const scale = c.scale ?? (m?.[2] !== undefined ? Number(m[2]) : 0);
      return { kind: 'decimal', precision, scale };
    }
    case 'float':
      return { kind: 'float', bits: 32 };
    case 'double':
    case 'real':
    case 'double precision':
      return { kind: 'float', bits: 64 };
    case 'bit':
      return { kind: 'bit', length: c.precision ?? declaredLength(c.columnType) ?? 1, varying: false };
    case 'year':
      return { kind: 'year' };
    case 'date':
      return { kind: 'date' };
    case 'datetime':
      return { kind: 'timestamp', zone: false, fsp: fsp(c) };
    case 'timestamp':
      return { kind: 'timestamp', zone: true, fsp: fsp(c) };
    case 'time':
      return { kind: 'time', fsp: fsp(c), range: 'hours838' };
    case 'json':
      return { kind: 'json', binary: true };
    case 'enum':
      return { kind: 'enum', labels: enumMembers(c.columnType) };
    case 'set':
      return { kind: 'set', labels: enumMembers(c.columnType) };
    case 'uuid':
      return { kind: 'uuid' };
    case 'inet4':
      return { kind: 'inet', version: 4 };
    case 'inet6':
      return { kind: 'inet', version: 6 };
    case 'binary':
      return { kind: 'binary', length: declaredLength(c.columnType) ?? 1, fixed: true };
    case 'varbinary': {
      const length = declaredLength(c.columnType);
      return { kind: 'binary', ...(length !== undefined ? { length } : {}), fixed: false };
    }
  }
  if (BLOB.has(t)) return { kind: 'binary', fixed: false };
  if (isMariadbJson(c, table)) return { kind: 'json', binary: false };
  if (t === 'char' || t === 'varchar' || TEXT.has(t)) {
    const fixed = t === 'char';
    // CHAR(n) CHARACTER SET binary is BINARY(n) in both servers' catalogues; kept here in case one reports it as CHAR.
    if (c.charset === 'binary') return { kind: 'binary', ...(TEXT.has(t) ? {} : { length: declaredLength(c.columnType) ?? 1 }), fixed };
    const length = TEXT.has(t) ? undefined : (declaredLength(c.columnType) ?? 1);
    return {
      kind: 'text',
      ...(length !== undefined ? { length } : {}),
      fixed,
      ...(c.charset !== undefined ? { charset: c.charset } : {}),
      ...(c.collation !== undefined ? { collation: c.collation } : {}),
    };
  }
  if (isMysqlSpatial(t)) return { kind: 'spatial', subtype: t, ...(c.srid !== undefined && c.srid > 0 ? { srid: c.srid } : {}) };
  return { kind: 'other', native: c.columnType };
}

/** The table with each column's logical type filled in (describeTable's last step). */
export function withLogical(table: TableSchema): TableSchema {
  return { ...table, columns: table.columns.map((c) => ({ ...c, logical: toLogical(c, table) })) };
}

// ---------------------------------------------------------------------------------------------
// Logical types → MySQL/MariaDB (issue 11, plan step 6d)

/** The two server families differ in JSON storage, in the binary NO PAD collation and in INET4/INET6. */
export type MysqlFlavour = 'mariadb' | 'mysql';

/** Options of fromLogical: what the target server and the sync's settings decide. */
export interface FromLogicalOptions {
  /** Default 'mariadb'. */
  readonly flavour?: MysqlFlavour;
  /** Labels of user enum types by type name (OtherType.typeName), in sort order, when the source read them apart from the columns. */
  readonly enumLabels?: ReadonlyMap<string, readonly string[]>;
}

/** The column fromLogical's type is for: its name (MySQL's JSON check names it) and its declaration as its engine prints it (refusals quote it). */
export interface SourceColumn {
  readonly name: string;
  readonly declared: string;
}

/** A MySQL column type for a logical type, before a table's key and row-size limits are applied (mapLogicalTable). */
export interface MysqlType {
  /** The type as written in CREATE TABLE: 'DECIMAL(10,2)', 'CHAR(36) CHARACTER SET ascii COLLATE ascii_bin'; LONGTEXT when refused. */
  readonly sql: string;
  /** A character/byte string type whose length adapts to key and row limits: VARCHAR/VARBINARY in a key, a TEXT type when a row would overflow. */
  readonly string?: { readonly binary: boolean; readonly ascii?: boolean; readonly length?: number; readonly collation?: string };
  /** Why MySQL cannot hold the column, and an example type for the override that fixes it. */
  readonly refusal?: { readonly reason: string; readonly example: string };
}

/** MySQL's limits that shape the map. */
export const LIMITS = {
  /** DECIMAL(65,30). */
  decimalPrecision: 65,
  decimalScale: 30,
  /** InnoDB: bytes of one index key (all its columns), DYNAMIC row format. */
  keyBytes: 3072,
  /** Bytes of a row's declared columns (TEXT/BLOB count a pointer only). */
  rowBytes: 65535,
  /** CHAR(n) holds at most 255 characters. */
  charLength: 255,
  /** BIT(n) holds at most 64 bits. */
  bitLength: 64,
  /** An ENUM has at most 65535 members, each at most 255 characters. */
  enumMembers: 65535,
  enumMemberLength: 255,
} as const;

/** Binary, NO PAD: equal exactly when PostgreSQL's deterministic collations say equal (bytes). */
export function binaryCollation(flavour: MysqlFlavour): string {
  return flavour === 'mariadb' ? 'utf8mb4_nopad_bin' : 'utf8mb4_0900_bin';
}

const ASCII = 'CHARACTER SET ascii COLLATE ascii_bin';

/**
 * PostgreSQL citext's comparisons: case-insensitive, accent-sensitive ('é' <> 'e'), trailing spaces
 * significant (NO PAD), so a citext key unique on the source stays unique on the target.
 * MariaDB's UCA 14.0 collations came in 10.10; MySQL's 0900 ones in 8.0.
 */
export function caseInsensitiveCollation(flavour: MysqlFlavour): string {
  return flavour === 'mariadb' ? 'utf8mb4_uca1400_nopad_as_ci' : 'utf8mb4_0900_as_ci';
}
const LONGTEXT: MysqlType = { sql: 'LONGTEXT', string: { binary: false } };
const INTEGER_TYPE: Readonly<Record<number, string>> = { 1: 'TINYINT', 2: 'SMALLINT', 3: 'MEDIUMINT', 4: 'INT', 8: 'BIGINT' };
const SPATIAL_TYPE: Readonly<Record<string, string>> = {
  geometry: 'GEOMETRY',
  point: 'POINT',
  linestring: 'LINESTRING',
  polygon: 'POLYGON',
  multipoint: 'MULTIPOINT',
  multilinestring: 'MULTILINESTRING',
  multipolygon: 'MULTIPOLYGON',
  geometrycollection: 'GEOMETRYCOLLECTION',
};

/** An enum label of a type whose labels are not known holds at most this many characters (PostgreSQL's, the only engine with named enums). */
const UNKNOWN_LABEL_CHARS = 63;

/** A MySQL string literal for the target session's sql_mode, which keeps backslash escapes. */
function mysqlStringLiteral(s: string): string {
  return "'" + s.replace(/\\/g, '\\\\').replace(/'/g, "''") + "'";
}

/**
 * An enum as MySQL ENUM('l1','l2',…) in the enum's sort order, so values and ORDER BY agree with
 * the source, in the binary collation so members compare by bytes. Kept as text instead —
 * VARCHAR(n), n the longest label in characters, at least 63 so a label added to the type later
 * fits too — when MySQL cannot hold the labels as members: a label longer than 255 characters,
 * more than 65535 labels, or a label with trailing spaces (MySQL strips them from ENUM members,
 * which would change the value). No labels at all: the text of any label.
 */
function enumType(labels: readonly string[], flavour: MysqlFlavour): MysqlType {
  if (labels.length === 0) return { sql: `VARCHAR(${UNKNOWN_LABEL_CHARS})`, string: { binary: false, length: UNKNOWN_LABEL_CHARS } };
  const chars = labels.map((l) => [...l].length);
  const fits = labels.length <= LIMITS.enumMembers && chars.every((n) => n <= LIMITS.enumMemberLength) && labels.every((l) => !/ $/.test(l));
  if (fits) return { sql: `ENUM(${labels.map(mysqlStringLiteral).join(',')}) COLLATE ${binaryCollation(flavour)}` };
  const length = chars.reduce((a, n) => Math.max(a, n), UNKNOWN_LABEL_CHARS);
  return { sql: `VARCHAR(${length})`, string: { binary: false, length } };
}

/**
 * JSON. MariaDB's is LONGTEXT with a json_valid check: the text is kept byte for byte. MySQL's JSON
 * type re-serialises documents (key order, spacing, numbers as doubles), so there the text is kept
 * in LONGTEXT with the same check.
 */
function jsonType(name: string, flavour: MysqlFlavour): string {
  if (flavour === 'mariadb') return 'JSON';
  return `LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin CHECK (JSON_VALID(\`${name.replace(/`/g, '``')}\`))`;
}

/** An exact decimal: numeric(3,-2) holds 99900 (integer digits p - s), numeric(2,5) holds 0.00099 (scale > precision). */
function decimalType(precision: number | undefined, scale: number | undefined, declared: string): MysqlType {
  if (precision === undefined) {
    return {
      sql: 'LONGTEXT',
      refusal: {
        reason: 'numeric without precision holds up to 131072 integer digits, NaN and ±Infinity, beyond DECIMAL(65,30)',
        example: 'DECIMAL(65,30)',
      },
    };
  }
  const s = scale ?? 0;
  const [p, sc] = s < 0 ? [precision - s, 0] : [Math.max(precision, s), s];
  if (p > LIMITS.decimalPrecision || sc > LIMITS.decimalScale) {
    return { sql: 'LONGTEXT', refusal: { reason: `${declared} is beyond DECIMAL(65,30)`, example: 'DECIMAL(65,30)' } };
  }
  return { sql: `DECIMAL(${p},${sc})` };
}

/**
 * The MySQL/MariaDB type of a logical type from another engine's column, before the table's key
 * and row-size limits (mapLogicalTable), or LONGTEXT with a refusal when MySQL cannot hold the
 * values. A MySQL source keeps its own declaration instead (the target's same-engine path); this is
 * the mapping for the other engines, and every rule keeps every value the logical type can hold:
 *
 * | logical | MySQL | why |
 * |---|---|---|
 * | integer n bytes, signed or not | TINYINT … BIGINT [UNSIGNED] | the same range |
 * | decimal p, s | DECIMAL(max(p, s), s); DECIMAL(p - s, 0) for s < 0 | refused when unconstrained or beyond DECIMAL(65,30) |
 * | float 32, 64 | FLOAT, DOUBLE | |
 * | boolean | TINYINT(1) | |
 * | text n fixed (n ≤ 255) / n / unbounded | CHAR(n) / VARCHAR(n) / LONGTEXT | the target database's character set |
 * | binary n fixed / n / unbounded | BINARY(n) / VARBINARY(n) / LONGBLOB | |
 * | date, year | DATE, YEAR | |
 * | time fsp n (either range) | TIME(n) | |
 * | timestamp with or without zone, fsp n | DATETIME(n) | DATETIME holds every value of TIMESTAMP (zone-aware values written in UTC) |
 * | interval | VARCHAR(100) ascii | its text |
 * | json | MariaDB JSON; MySQL LONGTEXT with a JSON_VALID check | the text kept as written |
 * | uuid | CHAR(36) ascii | its text |
 * | inet 4/6 | MariaDB INET4/INET6; MySQL VARCHAR(45) ascii | |
 * | enum | ENUM(labels) in the binary collation, or VARCHAR when MySQL cannot hold the labels | |
 * | set | SET(labels) | |
 * | bit n ≤ 64 / n > 64 / varying | BIT(n) / VARCHAR(n) ascii / VARCHAR(n) ascii (LONGTEXT unbounded) | |
 * | array | LONGTEXT | its text |
 * | spatial (MySQL values) | GEOMETRY, POINT, … | refused for PostGIS values (EWKB): no writer converts them |
 * | other: citext | LONGTEXT (VARCHAR in a key) in a case-insensitive, accent-sensitive NO PAD collation | citext compares that way |
 * | other with a text form | CHAR(n) / VARCHAR(n) [ascii] / LONGTEXT; an enum's labels from opts.enumLabels by type name | refused without one |
 */
export function fromLogical(logical: LogicalType, opts: FromLogicalOptions, column: SourceColumn): MysqlType {
  const flavour = opts.flavour ?? 'mariadb';
  switch (logical.kind) {
    case 'integer':
      return { sql: `${INTEGER_TYPE[logical.bytes] as string}${logical.signed ? '' : ' UNSIGNED'}` };
    case 'decimal':
      return decimalType(logical.precision, logical.scale, column.declared);
    case 'float':
      return { sql: logical.bits === 32 ? 'FLOAT' : 'DOUBLE' };
    case 'boolean':
      return { sql: 'TINYINT(1)' };
    case 'text': {
      const n = logical.length;
      if (!n) return LONGTEXT;
      if (logical.fixed && n <= LIMITS.charLength) return { sql: `CHAR(${n})` };
      return { sql: `VARCHAR(${n})`, string: { binary: false, length: n } };
    }
    case 'binary': {
      const n = logical.length;
      if (!n) return { sql: 'LONGBLOB', string: { binary: true } };
      if (logical.fixed && n <= LIMITS.charLength) return { sql: `BINARY(${n})` };
      return { sql: `VARBINARY(${n})`, string: { binary: true, length: n } };
    }
    case 'date':
      return { sql: 'DATE' };
    case 'year':
      return { sql: 'YEAR' };
    case 'time':
      return { sql: `TIME(${Math.min(6, Math.max(0, logical.fsp))})` };
    case 'timestamp':
      return { sql: `DATETIME(${Math.min(6, Math.max(0, logical.fsp))})` };
    case 'interval':
      return { sql: `VARCHAR(100) ${ASCII}` };
    case 'json':
      return { sql: jsonType(column.name, flavour), string: { binary: false } };
    case 'uuid':
      return { sql: `CHAR(36) ${ASCII}` };
    case 'inet':
      return { sql: flavour === 'mariadb' ? `INET${logical.version}` : `VARCHAR(45) ${ASCII}` };
    case 'enum':
      return enumType(logical.labels, flavour);
    case 'set':
      return { sql: `SET(${logical.labels.map(mysqlStringLiteral).join(',')})` };
    case 'bit': {
      const n = logical.length;
      if (logical.varying) return n ? { sql: `VARCHAR(${n}) ${ASCII}`, string: { binary: false, ascii: true, length: n } } : LONGTEXT;
      if ((n ?? 1) <= LIMITS.bitLength) return { sql: `BIT(${n ?? 1})` };
      return { sql: `VARCHAR(${n}) ${ASCII}`, string: { binary: false, ascii: true, length: n } };
    }
    case 'array':
      return LONGTEXT;
    case 'spatial': {
      if (logical.ewkb) return refused(column.declared, 'an extension type (PostGIS)');
      const type = SPATIAL_TYPE[logical.subtype] ?? 'GEOMETRY';
      if (logical.srid === undefined) return { sql: type };
      return { sql: flavour === 'mariadb' ? `${type} REF_SYSTEM_ID=${logical.srid}` : `${type} SRID ${logical.srid}` };
    }
    case 'other': {
      const labels = logical.typeName !== undefined ? opts.enumLabels?.get(logical.typeName) : undefined;
      if (labels && labels.length > 0) return enumType(labels, flavour);
      if (logical.typeName === 'citext') {
        const collation = caseInsensitiveCollation(flavour);
        return { sql: `LONGTEXT CHARACTER SET utf8mb4 COLLATE ${collation}`, string: { binary: false, collation } };
      }
      const t = logical.text;
      if (!t) return refused(column.declared, logical.what ?? 'a type');
      const ascii = t.ascii ? ` ${ASCII}` : '';
      const string = t.elastic ? { string: { binary: false, ...(t.ascii ? { ascii: true } : {}), ...(t.length !== undefined ? { length: t.length } : {}) } } : {};
      if (t.length === undefined) return { sql: `LONGTEXT${ascii}`, ...string };
      return { sql: `${t.fixed && t.length <= LIMITS.charLength ? 'CHAR' : 'VARCHAR'}(${t.length})${ascii}`, ...string };
    }
  }
}

function refused(declared: string, what: string): MysqlType {
  return { sql: 'LONGTEXT', refusal: { reason: `${declared} is ${what} with no MySQL counterpart`, example: 'LONGTEXT' } };
}

/**
 * How a canonical value becomes the MySQL value of a column (values.ts mysqlValue), chosen from the
 * target type (so an override changes it) and the source column's logical type.
 */
export type ValueKind =
  /** integers, booleans (1/0), bit strings as numbers: bare digits */
  | 'int'
  /** exact decimals, checked against DECIMAL(p,s); NaN/±Infinity refused */
  | 'decimal'
  /** FLOAT/DOUBLE; NaN/±Infinity refused */
  | 'float'
  /** BIT(n): a '0101' string sent as its unsigned integer */
  | 'bits'
  /** bytes: hex in LOAD DATA (UNHEX), X'…' literals */
  | 'bytes'
  /** DATETIME from a zone-aware timestamp: converted to UTC, zone dropped */
  | 'timestamptz'
  /** DATETIME/DATE from a timestamp without zone or a date: infinity, BC and years past 9999 refused */
  | 'timestamp'
  | 'date'
  /** TIME: the text as the source prints it, fractions beyond the column refused */
  | 'time'
  /** everything else: the canonical value as text */
  | 'text';

/** One column of a table from another engine, mapped to MySQL. */
export interface MysqlColumnType {
  readonly column: Column;
  /** The column's type in CREATE TABLE, e.g. 'DECIMAL(10,2)', 'VARCHAR(20)', 'CHAR(36) CHARACTER SET ascii COLLATE ascii_bin'. */
  readonly sql: string;
  readonly kind: ValueKind;
  /** Precision and scale when the target is DECIMAL. */
  readonly decimal?: { readonly precision: number; readonly scale: number };
  /** True when the type came from `columnTypes`. */
  readonly overridden: boolean;
}

/** A column that cannot be mapped: the source's declaration, why, and the fix. */
export interface MappingProblem {
  readonly table: string;
  readonly column: string;
  /** The source column's declaration as its engine prints it (Column.columnType; '-' for an override naming no column). */
  readonly pgType: string;
  readonly reason: string;
  readonly fix: string;
}

/** A table from another engine mapped to MySQL (mapLogicalTable). */
export interface TableMapping {
  readonly table: TableSchema;
  /** Aligned with `table.columns`; a refused column still has an entry (type LONGTEXT), see `problems`. */
  readonly columns: readonly MysqlColumnType[];
  readonly problems: readonly MappingProblem[];
}

export interface MapTableOptions extends FromLogicalOptions {
  /** Per-column overrides, {"table.column": "MySQL type"}; the type is used verbatim in CREATE TABLE. */
  readonly columnTypes?: Readonly<Record<string, string>>;
}

/** The fix that sets a column's MySQL type: the --column-types entry (and its config-file form). */
export function overrideFix(table: string, column: string, example: string): string {
  return `set its type with ${columnTypesHint(table, column, example)}`;
}

/** Approximate bytes a type takes in MySQL's 65535-byte row limit and in an index key. */
function typeBytes(sql: string): number {
  const s = sql.toUpperCase();
  const len = Number(/\((\d+)/.exec(s)?.[1] ?? 1);
  const ascii = /ASCII/.test(s);
  if (/^(TINY|MEDIUM|LONG)?(TEXT|BLOB)\b|^JSON\b/.test(s) || /^LONGTEXT/.test(s)) return 12;
  if (/^VARCHAR/.test(s)) return len * (ascii ? 1 : 4) + 2;
  if (/^VARBINARY/.test(s)) return len + 2;
  if (/^CHAR/.test(s)) return len * (ascii ? 1 : 4);
  if (/^BINARY/.test(s)) return len;
  if (/^DECIMAL|^NUMERIC/.test(s)) return 30;
  if (/^ENUM|^SET/.test(s)) return 2;
  return 8;
}

function isLob(sql: string): boolean {
  return /^\s*((TINY|MEDIUM|LONG)?(TEXT|BLOB)|JSON)\b/i.test(sql) || /\bLONGTEXT\b/i.test(sql);
}

/** The smallest TEXT (or BLOB) type holding `chars` characters of `bytesPerChar` bytes. */
function textFor(chars: number, bytesPerChar: number, binary = false): string {
  const bytes = chars * bytesPerChar;
  const size = bytes <= 65535 ? '' : bytes <= 16777215 ? 'MEDIUM' : 'LONG';
  return size + (binary ? 'BLOB' : 'TEXT');
}

/** The value kind a target type takes, given the source column's logical type. */
export function valueKind(logical: LogicalType, sql: string): ValueKind {
  const head = /^\s*([A-Za-z]+)/.exec(sql)?.[1]?.toUpperCase() ?? '';
  switch (head) {
    case 'DECIMAL':
    case 'DEC':
    case 'NUMERIC':
    case 'FIXED':
      return 'decimal';
    case 'FLOAT':
    case 'DOUBLE':
    case 'REAL':
      return 'float';
    case 'TINYINT':
    case 'SMALLINT':
    case 'MEDIUMINT':
    case 'INT':
    case 'INTEGER':
    case 'BIGINT':
    case 'BOOL':
    case 'BOOLEAN':
    case 'SERIAL':
    case 'BIT':
      return logical.kind === 'bit' ? 'bits' : 'int';
    case 'BINARY':
    case 'VARBINARY':
    case 'TINYBLOB':
    case 'BLOB':
    case 'MEDIUMBLOB':
    case 'LONGBLOB':
      return 'bytes';
    case 'DATETIME':
    case 'TIMESTAMP':
      return logical.kind === 'timestamp' && logical.zone ? 'timestamptz' : 'timestamp';
    case 'DATE':
      return 'date';
    case 'TIME':
      return 'time';
  }
  return 'text';
}

function decimalOf(sql: string): { precision: number; scale: number } | undefined {
  const m = /^\s*(?:DECIMAL|DEC|NUMERIC|FIXED)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?/i.exec(sql);
  if (!m) return undefined;
  return { precision: m[1] ? Number(m[1]) : 10, scale: m[2] ? Number(m[2]) : 0 };
}

/**
 * Maps every column of another engine's table by its logical type (Column.logical, filled at
 * describe): fromLogical per column, the `columnTypes` overrides, then MySQL's limits. Key columns
 * of unbounded string types (text, bytea, json, arrays, …) become VARCHAR/VARBINARY sized to share
 * InnoDB's 3072-byte key limit (a single text primary key: VARCHAR(767)); character columns that
 * would overflow the 65535-byte row limit as VARCHAR become TEXT types of the same capacity.
 * Problems (refused columns, keys beyond the limit, unusable overrides) are listed, not thrown:
 * the column keeps a LONGTEXT entry (check.ts assertMappable throws them). A column without its
 * logical type throws (logicalTypeOf).
 */
export function mapLogicalTable(table: TableSchema, opts: MapTableOptions = {}): TableMapping {
  const overrides = opts.columnTypes ?? {};
  const problems: MappingProblem[] = [];
  const problem = (c: Column, reason: string, example: string) =>
    problems.push({ table: table.name, column: c.name, pgType: c.columnType, reason, fix: overrideFix(table.name, c.name, example) });
  const logicalOf = (c: Column): LogicalType => logicalTypeOf(table, c);

  for (const column of overriddenColumns(overrides, table.name)) {
    if (!table.columns.some((c) => c.name === column)) {
      problems.push({ table: table.name, column, pgType: '-', reason: `--column-types names ${table.name}.${column}, which ${table.name} does not have`, fix: 'correct or remove the entry' });
    }
  }

  const keys: (readonly number[])[] = [table.primaryKey, ...(table.uniqueKeys ?? [])].filter((k) => k.length > 0);
  const inKey = new Set(keys.flat());
  const base = table.columns.map((c) => fromLogical(logicalOf(c), opts, { name: c.name, declared: c.columnType }));
  const sql: string[] = base.map((b) => b.sql);
  const override = (i: number): string | undefined => columnTypeOf(overrides, table.name, (table.columns[i] as Column).name);

  // Key columns: unbounded strings get a VARCHAR/VARBINARY length from what the key leaves free.
  const keyLength = new Map<number, number>();
  for (const k of keys) {
    let fixed = 0;
    const open: number[] = [];
    for (const i of k) {
      const b = base[i] as MysqlType;
      const o = override(i);
      if (o !== undefined) fixed += typeBytes(o);
      else if (b.string && b.string.length === undefined) open.push(i);
      else fixed += typeBytes(b.sql);
    }
    const perChar = (i: number) => ((base[i] as MysqlType).string?.binary || (base[i] as MysqlType).string?.ascii ? 1 : 4);
    const free = LIMITS.keyBytes - fixed;
    const cols = k.map((i) => (table.columns[i] as Column).name).join(', ');
    if (free < 0 || (open.length > 0 && free < open.length * 8)) {
      problem(table.columns[k[0] as number] as Column, `the key (${cols}) needs more than MySQL's ${LIMITS.keyBytes}-byte index key limit`, 'VARCHAR(255)');
      continue;
    }
    for (const i of open) {
      // Equal shares of the free bytes, less the two length bytes of each VARCHAR.
      const n = Math.floor((free / open.length - 2) / perChar(i));
      keyLength.set(i, Math.min(keyLength.get(i) ?? Infinity, n));
    }
  }
  for (const [i, n] of keyLength) {
    const b = base[i] as MysqlType;
    const collation = b.string?.collation !== undefined ? ` CHARACTER SET utf8mb4 COLLATE ${b.string.collation}` : '';
    sql[i] = b.string?.binary ? `VARBINARY(${n})` : b.string?.ascii ? `VARCHAR(${n}) ${ASCII}` : `VARCHAR(${n})${collation}`;
  }

  // Row size: key columns first (they cannot become TEXT), then the rest in column order.
  let rowBytes = table.columns.length; // NULL flags and length bytes, roughly
  const order = [...table.columns.keys()].sort((a, b) => Number(inKey.has(b)) - Number(inKey.has(a)));
  for (const i of order) {
    const b = base[i] as MysqlType;
    const o = override(i);
    if (o !== undefined) {
      rowBytes += typeBytes(o);
      continue;
    }
    const bytes = typeBytes(sql[i] as string);
    if (!inKey.has(i) && b.string?.length !== undefined && rowBytes + bytes > LIMITS.rowBytes - 1024) {
      sql[i] = b.string.ascii ? `${textFor(b.string.length, 1)} ${ASCII}` : textFor(b.string.length, b.string.binary ? 1 : 4, b.string.binary);
      rowBytes += 12;
    } else rowBytes += bytes;
  }

  const columns = table.columns.map((c, i): MysqlColumnType => {
    const b = base[i] as MysqlType;
    const o = override(i);
    const s = o ?? (sql[i] as string);
    if (o !== undefined) {
      if (/;|--|\/\*|`/.test(o)) problem(c, `the override '${o}' is not a plain column type`, 'DECIMAL(65,30)');
      if (inKey.has(i) && isLob(o)) problem(c, `the override '${o}' cannot be part of a key in MySQL (TEXT/BLOB/JSON need a prefix length)`, 'VARCHAR(255)');
    } else if (b.refusal) problem(c, b.refusal.reason, b.refusal.example);
    const kind = valueKind(logicalOf(c), s);
    const decimal = kind === 'decimal' ? decimalOf(s) : undefined;
    return { column: c, sql: s, kind, overridden: o !== undefined, ...(decimal ? { decimal } : {}) };
  });
  return { table, columns, problems };
}

/**
 * A column's logical type, which a MySQL target maps another engine's columns by. Every engine's
 * describe fills it (its types.ts toLogical); a column without one (a TableSchema built by hand, an
 * injected source that left it out) cannot be mapped, and is refused before anything is written:
 * TABLE_UNSUPPORTED naming table.column.
 */
export function logicalTypeOf(table: Pick<TableSchema, 'name'>, c: Column): LogicalType {
  if (c.logical) return c.logical;
  throw new TributaryError(
    ErrorCode.TABLE_UNSUPPORTED,
    `${table.name}.${c.name} has no logical type (Column.logical), by which a MySQL target maps another engine's column (${c.columnType}); ` +
      "the source's describe fills it (each engine's toLogical): an injected source must fill it too",
  );
}
