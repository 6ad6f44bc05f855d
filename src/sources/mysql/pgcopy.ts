import type { Column, TableSchema } from '../../core/schema.js';
import { declaredKind, type ValueKind } from '../../typemap/postgres-kinds.js';
import { mysqlToPostgresType } from '../../typemap/index.js';
import { quoteId } from '../../engines/mysql/connection.js';
import { isIntegerType } from '../../engines/mysql/values.js';

/**
 * The MySQL → PostgreSQL copy fast path: a select expression that renders each row, on the source
 * server, as its line of PostgreSQL's COPY text format (PG_COPY_TEXT) for the column types the
 * type map gives (typemap/mysql-to-postgres.ts, without overrides). A row then crosses Node as one
 * string instead of ten canonical values rendered again in JavaScript.
 *
 * Each value is what the canonical path (readChunk, then the PostgreSQL target's pgText and
 * copyField) writes, as PostgreSQL reads it:
 * - integers, DECIMAL, DATETIME, DATE and TIME as MySQL prints them; YEAR as a number (0000 → 0);
 * - FLOAT widened to DOUBLE, printed exactly: real reads it back as the same float32 as the
 *   canonical shortest form; DOUBLE as printed (1e38, 5e-324: float8in reads the same double);
 * - TIMESTAMP + '+00' (the session is UTC); BIT(n) as n binary digits; BIGINT UNSIGNED as digits;
 * - binary as bytea hex, `\\x…` (the backslash escaped for COPY);
 * - text, ENUM, SET and JSON as their utf8mb4 text with COPY's escapes for \ tab newline CR;
 * - NULL as \N.
 *
 * Values the canonical path refuses or rewrites are not rendered: a zero date ('0000-00-00',
 * a zero month or day, year 0) is replaced by a NUL byte, and text keeps its own NUL bytes. NUL can
 * appear nowhere else in a line, so the reader finds both with one scan, and hands such a chunk to
 * the canonical path (readChunk), which applies the zero-date policy (NULL, or an error naming
 * the table, column and row) and refuses NUL in text by name. COPY never sees them.
 */

/** A MySQL string literal (the session's sql_mode keeps backslash escapes). */
function lit(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}'`;
}

const NUL = 'CHAR(0 USING utf8mb4)';
const TEXT = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set', 'json']);
const BINARY = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob']);
/** MariaDB types whose printed form is the PostgreSQL input of the mapped type, with nothing to escape. */
const PRINTED = new Set(['uuid', 'inet4', 'inet6']);

/** COPY text escapes of a character value, converted to utf8mb4 first (the result's charset). */
function escapedText(q: string): string {
  let e = `CONVERT(${q} USING utf8mb4)`;
  for (const [from, to] of [
    ['\\', '\\\\'],
    ['\t', '\\t'],
    ['\n', '\\n'],
    ['\r', '\\r'],
  ] as const) {
    e = `REPLACE(${e}, ${lit(from)}, ${lit(to)})`;
  }
  return e;
}

/** A zero date (as core/calendar.ts isZeroDate reads the printed value) becomes the NUL marker. */
function unlessZeroDate(q: string, rendered: string): string {
  return `IF(LEAST(YEAR(${q}), MONTH(${q}), DAYOFMONTH(${q})) = 0, ${NUL}, ${rendered})`;
}

/** The rendering of one column for a target column of `kind`, or undefined when this path has none. */
function field(c: Column, kind: ValueKind, bits: number | undefined): string | undefined {
  const q = quoteId(c.name);
  const t = c.dataType;
  if (isIntegerType(t)) return kind === 'int' || kind === 'numeric' ? q : undefined;
  if (t === 'decimal') return kind === 'numeric' ? q : undefined;
  if (t === 'float') return kind === 'float4' ? `CAST(${q} AS DOUBLE)` : undefined;
  if (t === 'double') return kind === 'float8' ? q : undefined;
  if (t === 'bit') return kind === 'bit' && bits !== undefined ? `LPAD(BIN(${q}), ${bits}, '0')` : undefined;
  if (t === 'year') return kind === 'int' ? `(${q} + 0)` : undefined;
  if (t === 'date') return kind === 'date' ? unlessZeroDate(q, q) : undefined;
  if (t === 'datetime') return kind === 'timestamp' ? unlessZeroDate(q, q) : undefined;
  if (t === 'timestamp') return kind === 'timestamptz' ? unlessZeroDate(q, `CONCAT(${q}, '+00')`) : undefined;
  if (t === 'time') return kind === 'text' ? q : undefined;
  if (BINARY.has(t) || c.charset === 'binary') return kind === 'bytea' ? `CONCAT(${lit('\\\\x')}, HEX(${q}))` : undefined;
  if (TEXT.has(t)) return kind === 'text' ? escapedText(q) : undefined;
  // As text: IFNULL(uuid, '\N') would take the column's type and turn the marker into NULL.
  if (PRINTED.has(t)) return kind === 'text' ? `CAST(${q} AS CHAR)` : undefined;
  return undefined;
}

/**
 * The select expression rendering a row of `table` as its COPY text line (without the newline),
 * or undefined when some column has no exact rendering here (a type the map refuses, or a
 * mapping this file does not know): the copier then reads canonical rows.
 */
export function pgCopySelect(table: TableSchema): string | undefined {
  const fields: string[] = [];
  for (const c of table.columns) {
    let sql: string;
    try {
      sql = mysqlToPostgresType(table, c, { zeroDates: 'error', columnTypes: {} }).sql;
    } catch {
      return undefined;
    }
    const { kind, bits } = declaredKind(sql);
    const e = field(c, kind, bits);
    if (e === undefined) return undefined;
    fields.push(`IFNULL(${e}, ${lit('\\N')})`);
  }
  if (fields.length === 0) return undefined;
  return fields.length === 1 ? `CONCAT(${fields[0]})` : `CONCAT_WS(${lit('\t')}, ${fields.join(', ')})`;
}
