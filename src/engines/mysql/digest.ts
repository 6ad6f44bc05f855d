import type { Pool, RowDataPacket } from 'mysql2/promise';
import { COMPARABLE_DIGEST, type ComparableForm } from '../../core/comparable.js';
import type { Column, TableSchema } from '../../core/schema.js';
import type { ChunkDigest, KeyRange } from '../../core/source.js';
import { filtered, rangeWhere, type ChunkSql } from './chunks.js';
import type { ColumnCodec } from './values.js';

/**
 * A chunk's digest computed by the server (ChangeSource.chunkDigest, Target.chunkDigest): shared
 * by the source and by the MySQL target digesting its own copy, as read.ts is.
 *
 * Each row is rendered from readChunk's select list (the codecs' expressions, so a FLOAT is read
 * widened to DOUBLE as readChunk reads it), one field per column, fields joined by `,`:
 * - a number, DECIMAL, YEAR, DATE, DATETIME, TIMESTAMP or TIME as its text (which never holds a
 *   `,` and is never `N`), rendered by the server's own conversion, the one behind the text
 *   protocol's values;
 * - any other value as `length:bytes` (the length prefix makes it unambiguous: '' is `0:`, the
 *   text 'N' is `1:N`): a character column in a UTF-8 charset (or ASCII) as its stored bytes, which
 *   are the utf8mb4 bytes the connection receives (as they are when the table's UTF-8 columns share
 *   one collation, else cast to binary, so that no two collations meet); in any other charset
 *   converted to utf8mb4 and cast (a latin1 'Ã©' and a utf8mb4 'é' share their stored bytes but
 *   not their text); binary values as they are;
 * - NULL as `N`.
 * Read against the column types, the rendering parses back one way only, so two rows render alike
 * only when their values are alike. The first 64 bits of the row's SHA-1 are summed as an exact
 * DECIMAL (SUM of integers), so the digest does not depend on row order; with the row count, two
 * chunks that differ digest alike with a chance of about 2^-64.
 *
 * v2 rendered every value length-prefixed and cast: the same guarantee for ~1.5x the server's time
 * (bench/README.md "Cheaper chunk digests"). v3 summed 64 bits of the row's MD5: the same
 * guarantee, but MariaDB's MD5 costs ~0.7 s more than its SHA-1 per 1M rows of the bench's table,
 * a quarter of the digest's time (bench/README.md "A stream's start, and SHA-1 for MariaDB's chunk
 * digests"). A digest of one format never compares equal to one of another (ChunkDigest.format).
 */
export const MYSQL_DIGEST = 'mysql-sha1-v4';

/** Types whose text never holds the separator and is never `N`: rendered bare. */
const BARE = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'float', 'double', 'year', 'date', 'datetime', 'timestamp', 'time']);
const BINARY_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'bit']);
/** Character types whose stored bytes, in a UTF-8 compatible charset, are the bytes the connection receives. */
const CHARACTER_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set']);
const UTF8_BYTES = new Set(['utf8mb4', 'utf8mb3', 'utf8', 'ascii']);

/** A character column whose stored bytes, in a UTF-8 compatible charset, are the bytes the connection receives. */
function utf8Text(col: Column): boolean {
  return CHARACTER_TYPES.has(col.dataType) && col.columnType !== 'json' && col.charset !== undefined && UTF8_BYTES.has(col.charset);
}

/**
 * The bytes the connection receives for one column. `bareText`: the table's UTF-8 character
 * columns share one collation, so they may meet in CONCAT_WS as they are (their bytes are the
 * same either way, ~10 % of the digest's time saved); otherwise they are cast to binary strings, as
 * a server may refuse two collations meeting there as an illegal mix (MariaDB 10.11 does not).
 */
function bytes(col: Column, codec: ColumnCodec, bareText: boolean): string {
  const isText = col.charset !== undefined && col.charset !== 'binary' && !BINARY_TYPES.has(col.dataType);
  if (utf8Text(col)) return bareText ? codec.select : `CAST(${codec.select} AS BINARY)`;
  if (!isText) return `CAST(${codec.select} AS BINARY)`;
  return `CAST(CONVERT(${codec.select} USING utf8mb4) AS BINARY)`;
}

/** One column's field of the row's rendering (see MYSQL_DIGEST). */
export function digestField(col: Column, codec: ColumnCodec, bareText = false): string {
  if (BARE.has(col.dataType)) return `IFNULL(${codec.select}, 'N')`;
  const b = bytes(col, codec, bareText);
  return `IFNULL(CONCAT(LENGTH(${b}), ':', ${b}), 'N')`;
}

/** Whether the table's UTF-8 character columns share one collation, so they meet in CONCAT_WS bare (see `bytes`). */
function bareTextOf(table: TableSchema): boolean {
  return new Set(table.columns.filter(utf8Text).map((c) => c.collation ?? '')).size <= 1;
}

/** The statement for one chunk's digest: count, the sum, and the session's time zone (part of the format). */
export function digestSql(s: ChunkSql, table: TableSchema, range: KeyRange): { sql: string; params: unknown[] } {
  const bareText = bareTextOf(table);
  const fields = table.columns.map((c, i) => digestField(c, s.codecs[i] as ColumnCodec, bareText));
  const where = rangeWhere(table, range);
  // One 64-bit piece of each row's SHA-1, summed exactly: MariaDB merges a derived table into the
  // outer query and would compute the hash once per expression that uses it. (SHA1 is in every
  // build; SHA2 returns NULL in a server built without TLS, and NULLs would sum alike.)
  const sql =
    `SELECT COUNT(*), SUM(CAST(CONV(SUBSTRING(SHA1(CONCAT_WS(',', ${fields.join(', ')})), 1, 16), 16, 10) AS UNSIGNED)), @@session.time_zone ` +
    `FROM ${s.from} ${filtered(where.sql, s)}`;
  return { sql, params: where.params };
}

const text = (v: unknown): string => (v === null || v === undefined ? '0' : Buffer.isBuffer(v) ? v.toString('latin1') : String(v as string));

/** The one row of a digest statement (count, sum, time zone), as the server's text. */
async function digestRow(pool: Pool, q: { sql: string; params: unknown[] }): Promise<unknown[]> {
  const [rows] = await pool.query<RowDataPacket[]>({ sql: q.sql, values: q.params, rowsAsArray: true, typeCast: false });
  return rows[0] as unknown as unknown[];
}

/** Runs digestSql on `pool` (the connection settings readChunk reads with). */
export async function digestRange(pool: Pool, s: ChunkSql, table: TableSchema, range: KeyRange): Promise<ChunkDigest> {
  const r = await digestRow(pool, digestSql(s, table, range));
  return { rows: Number(text(r[0])), digest: text(r[1]), format: `${MYSQL_DIGEST} time_zone=${text(r[2])}` };
}

/**
 * A number's decimal text, as CONCAT_WS converts it (the server's own conversion, as CAST(… AS
 * CHAR) gives it): a YEAR as its number ('0000' is 0).
 */
function integerText(col: Column, x: string): string | undefined {
  const k = col.logical?.kind;
  if (k === 'integer') return x;
  if (k === 'year') return `${x} + 0`;
  return undefined;
}

/** Trailing fraction zeros, then a '.' left bare, dropped: for a text that holds a '.' (a scale or fsp above 0). */
const trimFraction = (x: string): string => `TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM ${x}))`;

/**
 * One column's field in comparable form `form` (core/comparable.ts), from readChunk's select
 * expression; undefined when this column cannot be rendered so. Numbers and temporal values go
 * into CONCAT_WS as they are (its conversion to text is CAST(… AS CHAR)'s: ~30 % of the server's
 * time saved against casting each, bench/README.md "Cross-engine chunk digests"); text as its
 * UTF-8 bytes, as the native digest takes them (`bytes`, `bareText`).
 */
export function comparableField(col: Column, codec: ColumnCodec, form: ComparableForm, bareText = false): string | undefined {
  const t = col.logical;
  const x = codec.select;
  const bare = (e: string | undefined) => (e === undefined ? undefined : `IFNULL(${e}, 'N')`);
  switch (form) {
    case 'int':
      return bare(integerText(col, x));
    case 'decimal':
      if (t?.kind === 'decimal') return bare((t.scale ?? 0) > 0 ? `IF(${x} = 0, '0', ${trimFraction(x)})` : x);
      return bare(integerText(col, x));
    case 'float':
      // The server prints a DOUBLE's shortest round-trip digits (measured: every one of 20,000
      // values, random bit patterns among them, parsed back to itself), 'e' before an exponent.
      return t?.kind === 'float' && t.bits === 64 ? bare(x) : undefined;
    case 'text':
    case 'char': {
      if (t?.kind !== 'text' && t?.kind !== 'enum' && t?.kind !== 'set' && t?.kind !== 'uuid') return undefined;
      const v = form === 'char' ? `TRIM(TRAILING ' ' FROM ${x})` : x;
      // A UUID column's text, whatever its storage; a character column's UTF-8 bytes.
      const b = t.kind === 'uuid' ? `CAST(CONVERT(${v} USING utf8mb4) AS BINARY)` : bytes(col, { ...codec, select: v }, bareText);
      return `IFNULL(CONCAT(LENGTH(${b}), ':', ${b}), 'N')`;
    }
    case 'bytes':
      return t?.kind === 'binary' ? bare(`LOWER(HEX(${x}))`) : undefined;
    case 'date':
      return t?.kind === 'date' ? bare(x) : undefined;
    case 'datetime':
    case 'instant':
      if (t?.kind !== 'timestamp') return undefined;
      return bare(t.fsp > 0 ? trimFraction(x) : x);
  }
}

/**
 * The statement for one chunk's digest in comparable forms: count, the sum, the session's time
 * zone (a TIMESTAMP's text is UTC only in '+00:00'); undefined when a column has no such field.
 */
export function comparableDigestSql(s: ChunkSql, table: TableSchema, range: KeyRange, forms: readonly ComparableForm[]): { sql: string; params: unknown[] } | undefined {
  if (forms.length !== table.columns.length) return undefined;
  const bareText = bareTextOf(table);
  const fields: string[] = [];
  for (let i = 0; i < forms.length; i++) {
    const f = comparableField(table.columns[i] as Column, s.codecs[i] as ColumnCodec, forms[i] as ComparableForm, bareText);
    if (f === undefined) return undefined;
    fields.push(f);
  }
  const where = rangeWhere(table, range);
  const sql =
    `SELECT COUNT(*), SUM(CAST(CONV(SUBSTRING(MD5(CONCAT_WS(',', ${fields.join(', ')})), 1, 15), 16, 10) AS UNSIGNED)), @@session.time_zone ` +
    `FROM ${s.from} ${filtered(where.sql, s)}`;
  return { sql, params: where.params };
}

/**
 * Runs comparableDigestSql on `pool`: format COMPARABLE_DIGEST, or undefined when a column cannot
 * be rendered in its form, or a TIMESTAMP column's text would not be UTC (the session's time zone).
 */
export async function comparableDigestRange(pool: Pool, s: ChunkSql, table: TableSchema, range: KeyRange, forms: readonly ComparableForm[]): Promise<ChunkDigest | undefined> {
  const q = comparableDigestSql(s, table, range, forms);
  if (!q) return undefined;
  const r = await digestRow(pool, q);
  const zoned = table.columns.some((c) => c.logical?.kind === 'timestamp' && c.logical.zone);
  if (zoned && text(r[2]) !== '+00:00') return undefined;
  return { rows: Number(text(r[0])), digest: text(r[1]), format: COMPARABLE_DIGEST };
}
