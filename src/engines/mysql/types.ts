import type { LogicalType } from '../../core/logical.js';
import type { Column, TableSchema } from '../../core/schema.js';
import { isMysqlSpatial } from '../../core/spatial.js';
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
 * statement shows (the same test as typemap's isJsonColumn).
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
