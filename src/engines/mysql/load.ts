import { columnTypesHint } from '../../config/hints.js';
import { Readable } from 'node:stream';
import type { Connection, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { Column, TableSchema } from '../../core/schema.js';
import { isMysqlSpatial } from './types.js';
import type { LogicalType } from '../../core/logical.js';
import type { Row, Value } from '../../core/values.js';
import { quoteId, quoteTable } from './sql.js';
import { toLogical, type MysqlColumnType, type TableMapping } from './types.js';
import { mysqlValue } from './values.js';

/**
 * Bulk loading with LOAD DATA LOCAL INFILE … REPLACE, in the MYSQL_TSV format (core/formats.ts): the fastest way into MySQL/MariaDB measured
 * here (about 2× multi-row INSERT), and REPLACE makes a re-copied chunk overwrite what the stream
 * or an earlier attempt wrote. Binary columns travel as hex and BIT as numbers, so the file is
 * plain utf8mb4 text whatever the bytes.
 */
export interface LoadPlan {
  readonly sql: string;
  readonly kinds: TsvKind[];
  /**
   * For a table from another engine: the mapped columns (types.ts mapLogicalTable), whose values
   * are converted and checked (values.ts mysqlValue) before they are written.
   */
  readonly mapping?: TableMapping;
}

/** The LOAD DATA kind of a column mapped from another engine: bytes as hex, BIT as a number, the rest text. */
function mappedKind(m: MysqlColumnType): TsvKind {
  return m.kind === 'bytes' ? 'hex' : m.kind === 'bits' ? 'num' : 'text';
}

export function loadPlan(table: TableSchema, mapping?: TableMapping): LoadPlan {
  const kinds = mapping ? mapping.columns.map(mappedKind) : table.columns.map(tsvKind);
  const targets: string[] = [];
  const sets: string[] = [];
  table.columns.forEach((c, i) => {
    const k = kinds[i];
    if (k === 'text' || k === 'year') targets.push(quoteId(c.name));
    else {
      targets.push(`@v${i}`);
      sets.push(k === 'hex' ? `${quoteId(c.name)} = UNHEX(@v${i})` : `${quoteId(c.name)} = CAST(@v${i} AS UNSIGNED)`);
    }
  });
  const sql =
    `LOAD DATA LOCAL INFILE 'tributary.tsv' REPLACE INTO TABLE ${quoteTable(table.name)} CHARACTER SET utf8mb4 ` +
    `FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${targets.join(', ')})` +
    (sets.length ? ` SET ${sets.join(', ')}` : '');
  return mapping ? { sql, kinds, mapping } : { sql, kinds };
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };

function field(v: Value, kind: TsvKind): string {
  if (v === null) return '\\N';
  if (kind === 'year') return v === 0n || v === 0 ? '0000' : String(v);
  if (kind === 'hex') return Buffer.isBuffer(v) ? v.toString('hex') : Buffer.from(String(v)).toString('hex');
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (Buffer.isBuffer(v)) return v.toString('hex');
  return /[\\\t\n\r\0]/.test(v) ? v.replace(/[\\\t\n\r\0]/g, (c) => ESCAPES[c] as string) : v;
}

/** A field of a column mapped from another engine; throws naming the column for a value it cannot hold. */
function mappedField(table: string, m: MysqlColumnType, v: Value): string {
  const r = mysqlValue(table, m, v);
  if (r === null) return '\\N';
  if (Buffer.isBuffer(r)) return r.toString('hex');
  return /[\\\t\n\r\0]/.test(r) ? r.replace(/[\\\t\n\r\0]/g, (c) => ESCAPES[c] as string) : r;
}

export function serialise(rows: readonly Row[], plan: LoadPlan): Buffer {
  if (plan.mapping) return serialiseMapped(rows, plan.mapping);
  const lines: string[] = new Array(rows.length);
  const kinds = plan.kinds;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as Row;
    let line = '';
    for (let i = 0; i < kinds.length; i++) {
      if (i) line += '\t';
      line += field(row[i] ?? null, kinds[i] as TsvKind);
    }
    lines[r] = line;
  }
  return Buffer.from(lines.join('\n') + '\n', 'utf8');
}

function serialiseMapped(rows: readonly Row[], mapping: TableMapping): Buffer {
  const cols = mapping.columns;
  const name = mapping.table.name;
  const lines: string[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as Row;
    let line = '';
    for (let i = 0; i < cols.length; i++) {
      if (i) line += '\t';
      line += mappedField(name, cols[i] as MysqlColumnType, row[i] ?? null);
    }
    lines[r] = line;
  }
  return Buffer.from(lines.join('\n') + '\n', 'utf8');
}

export async function loadRows(conn: Connection | PoolConnection, plan: LoadPlan, rows: readonly Row[]): Promise<void> {
  if (rows.length === 0) return;
  await loadText(conn, plan, serialise(rows, plan));
}

/** Loads lines already in the MYSQL_TSV format. */
export async function loadText(conn: Connection | PoolConnection, plan: LoadPlan, data: Buffer): Promise<void> {
  if (data.length === 0) return;
  const [res] = await conn.query<ResultSetHeader>({ sql: plan.sql, infileStreamFactory: () => Readable.from([data]) });
  if (plan.mapping && res.warningStatus > 0) await refuseWarnings(conn, plan.mapping.table.name);
}

/**
 * LOAD DATA LOCAL reports data errors as warnings and goes on (the server cannot stop the client's
 * file half way), so a value the type map let through and the server still changed (a string
 * longer than a key column's VARCHAR, say) would land altered. For tables from another engine,
 * any warning fails the chunk, naming what the server said.
 */
async function refuseWarnings(conn: Connection | PoolConnection, table: string): Promise<never> {
  const [warnings] = await conn.query<RowDataPacket[]>('SHOW WARNINGS LIMIT 5');
  const what = warnings.map((w) => `${String(w.Level)} ${String(w.Code)}: ${String(w.Message)}`).join('; ');
  throw new TributaryError(
    ErrorCode.TARGET_WRITE_FAILED,
    `table ${table}: the server changed values while loading them (${what}); nothing was written. Widen the column with ${columnTypesHint(table, 'COLUMN', 'TYPE')}, or fix the rows on the source`,
  );
}

/** How a column's value is written in a MYSQL_TSV line (core/formats.ts), as the server renders it. */
export type TsvKind = 'text' | 'hex' | 'num' | 'year';

export function tsvKind(c: Column): TsvKind {
  // Spatial values travel as their stored bytes (SRID + WKB), which both servers take back as the
  // column's value (UNHEX gives a binary string in that format).
  if (c.charset === 'binary' || /binary|blob/.test(c.dataType) || isMysqlSpatial(c.dataType)) return 'hex';
  if (c.dataType === 'bit') return 'num';
  if (c.dataType === 'year') return 'year';
  return 'text';
}

/**
 * Whether a column's value is text whose LOAD DATA escapes the select must write. MySQL 8's JSON
 * has no charset in the catalogue (MariaDB's JSON is a utf8mb4 LONGTEXT), yet its text holds
 * backslashes (every escape inside a JSON string), tabs and newlines like any other text.
 */
function isCharacter(c: Column): boolean {
  return (c.charset !== undefined && c.charset !== 'binary') || c.dataType === 'json';
}

/**
 * A select expression that renders one row as its LOAD DATA line on the source server, so a
 * MySQL → MySQL copy moves each row as one string, without decoding and re-encoding ten values
 * in JavaScript. The values are the ones the canonical path produces: FLOAT as its exact double,
 * TIMESTAMP in the session's UTC, YEAR 0000 as '0000'.
 */
export function tsvSelect(table: TableSchema): string {
  const fields = table.columns.map((c) => {
    const q = quoteId(c.name);
    let e: string;
    switch (tsvKind(c)) {
      case 'hex':
        e = `HEX(${q})`;
        break;
      case 'num':
        e = `CAST(${q} AS UNSIGNED)`;
        break;
      case 'year':
        e = `LPAD(${q} + 0, 4, '0')`;
        break;
      default:
        if (c.dataType === 'float') e = `CAST(${q} AS DOUBLE)`;
        else if (isCharacter(c)) {
          e = `REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(CONVERT(${q} USING utf8mb4), '\\\\', '\\\\\\\\'), '\\t', '\\\\t'), '\\n', '\\\\n'), '\\r', '\\\\r'), CHAR(0 USING utf8mb4), '\\\\0')`;
        } else e = q;
    }
    return `IFNULL(${e}, '\\\\N')`;
  });
  return fields.length === 1 ? `CONCAT(${fields[0]})` : `CONCAT_WS('\\t', ${fields.join(', ')})`;
}

/**
 * The MySQL → PostgreSQL copy fast path: a select expression that renders each row, on the source
 * server, as its line of PostgreSQL's COPY text format (PG_COPY_TEXT, core/formats.ts). A row then
 * crosses Node as one string instead of ten canonical values rendered again in JavaScript.
 *
 * The contract with the PostgreSQL target, in logical types: each column is rendered by its logical
 * type (Column.logical) as the input syntax of the PostgreSQL type that engine gives that logical
 * type (its fromLogical), which is also what the canonical path (readChunk, then the target's
 * pgText and copyField) writes. The target takes these chunks only for a table whose columns are of
 * those types' kinds, with no --column-types override (postgres/target.ts mappedKinds); any other
 * table takes the canonical path. By logical type:
 * - integer (any width, signed or not; a PostgreSQL smallint, integer, bigint or numeric(20,0)) and
 *   decimal (numeric) as MySQL prints them;
 * - float 32 (real) widened to DOUBLE and printed exactly: real reads it back as the same float32 as
 *   the canonical shortest form; float 64 (double precision) as printed (1e38, 5e-324);
 * - bit n, fixed (bit(n)): n binary digits;
 * - year (smallint): a number, 0000 → 0;
 * - date, timestamp without zone (date, timestamp(n)) as printed; timestamp with zone
 *   (timestamptz(n), a MySQL TIMESTAMP read in the session's UTC) as printed + '+00';
 * - time, MySQL's ±838:59:59 range (interval): as printed;
 * - binary (bytea): hex, `\\x…` (the backslash escaped for COPY);
 * - text, enum, set and json (char(n)/varchar(n)/text, text + CHECK, text, json): the utf8mb4 text
 *   with COPY's escapes for \ tab newline CR;
 * - uuid, inet (uuid, inet): as printed, nothing to escape;
 * - NULL as \N.
 * Spatial values (stored as SRID + WKB, which the canonical path converts for the PostgreSQL
 * column), `other` types and any kind not listed have no rendering here: the table takes the
 * canonical path.
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
/** The byte-string types: their bytes are the value. */
const BYTES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob']);
/**
 * The DATA_TYPEs information_schema reports that the expressions below are written for. An alias
 * only a table built by hand carries (numeric, real, double precision) is left to the canonical path.
 */
const REPORTED = new Set([
  'tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'float', 'double', 'bit', 'year', 'date', 'datetime', 'timestamp', 'time',
  ...BYTES, 'char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set', 'json', 'uuid', 'inet4', 'inet6',
]);

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

/** The rendering of one column by its logical type, or undefined when this path has none. */
function pgCopyField(c: Column, logical: LogicalType): string | undefined {
  if (!REPORTED.has(c.dataType)) return undefined;
  const q = quoteId(c.name);
  switch (logical.kind) {
    case 'integer':
    case 'decimal':
      return q;
    case 'float':
      return logical.bits === 32 ? `CAST(${q} AS DOUBLE)` : q;
    case 'bit':
      return logical.varying ? undefined : `LPAD(BIN(${q}), ${logical.length ?? 1}, '0')`;
    case 'year':
      return `(${q} + 0)`;
    case 'date':
      return unlessZeroDate(q, q);
    case 'timestamp':
      return unlessZeroDate(q, logical.zone ? `CONCAT(${q}, '+00')` : q);
    case 'time':
      return logical.range === 'hours838' ? q : undefined;
    case 'binary':
      // A character type reported with the binary charset (neither server's catalogue does: both say
      // BINARY, VARBINARY or BLOB) is left to the canonical path, which reads it as bytes.
      return BYTES.has(c.dataType) ? `CONCAT(${lit('\\\\x')}, HEX(${q}))` : undefined;
    case 'text':
    case 'enum':
    case 'set':
    case 'json':
      return escapedText(q);
    case 'uuid':
    case 'inet':
      // As text: IFNULL(uuid, '\N') would take the column's type and turn the marker into NULL.
      return `CAST(${q} AS CHAR)`;
    default:
      return undefined;
  }
}

/**
 * The select expression rendering a row of `table` as its COPY text line (without the newline),
 * or undefined when some column has no exact rendering here (see above): the copier then reads
 * canonical rows. A column describe left without its logical type (a table built by hand) gets it
 * here from its MySQL declaration.
 */
export function pgCopySelect(table: TableSchema): string | undefined {
  const fields: string[] = [];
  for (const c of table.columns) {
    const e = pgCopyField(c, c.logical ?? toLogical(c, table));
    if (e === undefined) return undefined;
    fields.push(`IFNULL(${e}, ${lit('\\N')})`);
  }
  if (fields.length === 0) return undefined;
  return fields.length === 1 ? `CONCAT(${fields[0]})` : `CONCAT_WS(${lit('\t')}, ${fields.join(', ')})`;
}
