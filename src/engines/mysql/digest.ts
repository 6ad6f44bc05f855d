import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Column, TableSchema } from '../../core/schema.js';
import type { ChunkDigest, KeyRange } from '../../core/source.js';
import { filtered, rangeWhere, type ChunkSql } from './chunks.js';
import type { ColumnCodec } from './values.js';

/**
 * A chunk's digest computed by the server (ChangeSource.chunkDigest, Target.chunkDigest): shared
 * by the source and by the MySQL target digesting its own copy, as read.ts is.
 *
 * Each row is rendered as the bytes the text protocol sends for readChunk's select list (the
 * codecs' expressions, so a FLOAT is read widened to DOUBLE as readChunk reads it), character
 * columns converted to utf8mb4 as the connection receives them (a latin1 'Ã©' and a utf8mb4 'é'
 * share their stored bytes but not their text). Every value is cast to a binary string before
 * it is joined, so no charset or collation meets another. A value is `length:bytes`, NULL is
 * `N`, values are joined by `,`: the length prefix makes the rendering unambiguous ('' is `0:`,
 * the text 'N' is `1:N`). The first 64 bits of the row's MD5 are summed as an exact DECIMAL (SUM of
 * integers), so the digest does not depend on row order; with the row count, two chunks that
 * differ digest alike with a chance of about 2^-64.
 */
export const MYSQL_DIGEST = 'mysql-md5-v2';

const BINARY_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'bit']);

/** The bytes the connection receives for one column, as an expression of binary string type. */
function rendered(col: Column, codec: ColumnCodec): string {
  const text = col.charset !== undefined && col.charset !== 'binary' && !BINARY_TYPES.has(col.dataType);
  return text ? `CAST(CONVERT(${codec.select} USING utf8mb4) AS BINARY)` : `CAST(${codec.select} AS BINARY)`;
}

/** The statement for one chunk's digest: count, the two sums, and the session's time zone (part of the format). */
export function digestSql(s: ChunkSql, table: TableSchema, range: KeyRange): { sql: string; params: unknown[] } {
  const pieces = table.columns.map((c, i) => {
    const x = rendered(c, s.codecs[i] as ColumnCodec);
    return `IFNULL(CONCAT(LENGTH(${x}), _binary':', ${x}), _binary'N')`;
  });
  const where = rangeWhere(table, range);
  // One 64-bit piece of each row's MD5, summed exactly: MariaDB merges a derived table into the
  // outer query and would compute the MD5 once per expression that uses it.
  const sql =
    `SELECT COUNT(*), SUM(CAST(CONV(SUBSTRING(MD5(CONCAT_WS(_binary',', ${pieces.join(', ')})), 1, 16), 16, 10) AS UNSIGNED)), @@session.time_zone ` +
    `FROM ${s.from} ${filtered(where.sql, s)}`;
  return { sql, params: where.params };
}

const text = (v: unknown): string => (v === null || v === undefined ? '0' : Buffer.isBuffer(v) ? v.toString('latin1') : String(v as string));

/** Runs digestSql on `pool` (the connection settings readChunk reads with). */
export async function digestRange(pool: Pool, s: ChunkSql, table: TableSchema, range: KeyRange): Promise<ChunkDigest> {
  const q = digestSql(s, table, range);
  const [rows] = await pool.query<RowDataPacket[]>({ sql: q.sql, values: q.params, rowsAsArray: true, typeCast: false });
  const r = rows[0] as unknown as unknown[];
  return { rows: Number(text(r[0])), digest: text(r[1]), format: `${MYSQL_DIGEST} time_zone=${text(r[2])}` };
}
