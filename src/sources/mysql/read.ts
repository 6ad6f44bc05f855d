import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { TableSchema } from '../../core/schema.js';
import type { KeyRange } from '../../core/source.js';
import type { Row, Value } from '../../core/values.js';
import { keysWhere, rangeWhere, type ChunkSql } from '../../engines/mysql/chunks.js';
import type { ColumnCodec } from '../../engines/mysql/values.js';

/**
 * Reading rows of a table as canonical values, beyond the copier's chunk reads: by key list, key
 * pages and whole-table scans. Shared by the source and by the MySQL target reading its own copy
 * back for checksums (targets/mysql/read.ts), so both decode exactly as the copy path does.
 */

/** Most keys per `IN (…)` statement. */
export const KEYS_PER_STATEMENT = 1000;
/** Rows handed to a scan's consumer at a time. */
export const SCAN_BATCH_ROWS = 2000;

type RawRow = (Buffer | null)[];

/** The subset of mysql2's callback connection that streams a result set. */
interface StreamingConnection {
  query(opts: { sql: string; rowsAsArray: boolean; typeCast: boolean }): { stream(opts: { highWaterMark: number }): AsyncIterable<unknown> };
}

export function decodeRows(codecs: readonly ColumnCodec[], raw: readonly unknown[]): Row[] {
  const n = codecs.length;
  const out: Row[] = new Array(raw.length);
  for (let r = 0; r < raw.length; r++) {
    const cells = raw[r] as RawRow;
    const row: Value[] = new Array(n);
    for (let i = 0; i < n; i++) row[i] = (codecs[i] as ColumnCodec).fromText(cells[i] ?? null);
    out[r] = row;
  }
  return out;
}

async function query(pool: Pool, sql: string, values: Value[]): Promise<RowDataPacket[]> {
  const [rows] = await pool.query<RowDataPacket[]>({ sql, values, rowsAsArray: true, typeCast: false });
  return rows;
}

/** Rows in `range` (key values as the table's own engine reads them), in key order. */
export async function readRange(pool: Pool, s: ChunkSql, table: TableSchema, range: KeyRange): Promise<Row[]> {
  const where = rangeWhere(table, range);
  return decodeRows(s.codecs, await query(pool, `SELECT ${s.selectList} FROM ${s.from} ${where.sql} ORDER BY ${s.keyList}`, where.params));
}

/** The rows with the given keys, in batches of KEYS_PER_STATEMENT keys. */
export async function readByKeys(pool: Pool, s: ChunkSql, table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]> {
  const out: Row[] = [];
  for (let i = 0; i < keys.length; i += KEYS_PER_STATEMENT) {
    const where = keysWhere(table, keys.slice(i, i + KEYS_PER_STATEMENT));
    for (const row of decodeRows(s.codecs, await query(pool, `SELECT ${s.selectList} FROM ${s.from} ${where.sql}`, where.params))) out.push(row);
  }
  return out;
}

/** Up to `limit` keys after `after`, in key order. */
export async function readKeys(pool: Pool, s: ChunkSql, table: TableSchema, after: readonly Value[] | null, limit: number): Promise<Value[][]> {
  const where = rangeWhere(table, { after: after ? [...after] : null, upTo: null });
  const keySelect = s.keyCodecs.map((c) => c.select).join(', ');
  const rows = await query(pool, `SELECT ${keySelect} FROM ${s.from} ${where.sql} ORDER BY ${s.keyList} LIMIT ${Math.max(1, Math.floor(limit))}`, where.params);
  return decodeRows(s.keyCodecs, rows);
}

/**
 * Every row of the table in one statement (InnoDB: one consistent read, no locks), streamed from
 * the server and handed over SCAN_BATCH_ROWS at a time: the socket is paused while `onRows` runs.
 */
export async function scanRows(pool: Pool, s: ChunkSql, onRows: (rows: Row[]) => void | Promise<void>): Promise<void> {
  const conn = await pool.getConnection();
  let ok = false;
  try {
    // The promise wrapper's `connection` is the callback connection underneath (typed as the
    // promise one): only it streams.
    const core = conn.connection as unknown as StreamingConnection;
    const stream = core.query({ sql: `SELECT ${s.selectList} FROM ${s.from}`, rowsAsArray: true, typeCast: false }).stream({ highWaterMark: SCAN_BATCH_ROWS });
    let batch: unknown[] = [];
    for await (const raw of stream) {
      batch.push(raw);
      if (batch.length >= SCAN_BATCH_ROWS) {
        await onRows(decodeRows(s.codecs, batch));
        batch = [];
      }
    }
    if (batch.length) await onRows(decodeRows(s.codecs, batch));
    ok = true;
  } finally {
    // A scan left half read would hand the pool a connection still receiving rows.
    if (ok) conn.release();
    else conn.destroy();
  }
}
