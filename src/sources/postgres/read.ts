import type pg from 'pg';
import type { Column, TableSchema } from '../../core/schema.js';
import type { KeyRange } from '../../core/source.js';
import type { Row, Value } from '../../core/values.js';
import { rangeWhere, type ChunkSql } from './chunks.js';
import { quoteIdent } from './connection.js';
import type { TextCodec } from './values.js';

/**
 * Reading rows of a table as canonical values, beyond the copier's chunk reads: by key list, key
 * pages and whole-table scans. Shared by the source and by the PostgreSQL target reading its own
 * copy back for checksums (targets/postgres/read.ts), so both decode exactly as the copy path
 * does (raw text through values.ts, in the session settings of connection.ts).
 */

/** Most keys per `IN (…)` statement (PostgreSQL takes at most 65535 parameters). */
export const KEYS_PER_STATEMENT = 1000;
/** Rows fetched from a scan's cursor, and handed to its consumer, at a time. */
export const SCAN_BATCH_ROWS = 2000;

type Queryable = Pick<pg.Pool | pg.ClientBase, 'query'>;

export function decodeRows(codecs: readonly TextCodec[], raw: readonly (readonly (string | null)[])[]): Row[] {
  const n = codecs.length;
  const out: Row[] = new Array(raw.length);
  for (let r = 0; r < raw.length; r++) {
    const cells = raw[r] as readonly (string | null)[];
    const row: Value[] = new Array(n);
    for (let i = 0; i < n; i++) row[i] = (codecs[i] as TextCodec)(cells[i] ?? null);
    out[r] = row;
  }
  return out;
}

async function query(db: Queryable, text: string, values: Value[]): Promise<(string | null)[][]> {
  return (await db.query<(string | null)[]>({ text, values, rowMode: 'array' })).rows;
}

/**
 * `k IN ($1, …)` / `(k1, k2) IN (($1, $2), …)` for a list of primary keys. Parameters are untyped,
 * so the server reads each as its key column's type, as in chunks.ts rangeWhere.
 */
export function keysWhere(table: TableSchema, keys: readonly (readonly Value[])[], firstParam = 1): { sql: string; params: Value[] } {
  const names = table.primaryKey.map((i) => quoteIdent((table.columns[i] as Column).name));
  const params: Value[] = [];
  const tuples = keys.map((key) => {
    const ps = names.map((_, j) => {
      params.push(key[j] ?? null);
      return `$${firstParam + params.length - 1}`;
    });
    return ps.length === 1 ? (ps[0] as string) : `(${ps.join(', ')})`;
  });
  const lhs = names.length === 1 ? (names[0] as string) : `(${names.join(', ')})`;
  return { sql: tuples.length ? `WHERE ${lhs} IN (${tuples.join(', ')})` : 'WHERE false', params };
}

/** Rows in `range` (key values as the table's own engine reads them), in key order. */
export async function readRange(db: Queryable, s: ChunkSql, table: TableSchema, range: KeyRange): Promise<Row[]> {
  const where = rangeWhere(table, range);
  return decodeRows(s.codecs, await query(db, `SELECT ${s.selectList} FROM ${s.from} ${where.sql} ORDER BY ${s.keyList}`, where.params));
}

/** The rows with the given keys, in batches of KEYS_PER_STATEMENT keys. */
export async function readByKeys(db: Queryable, s: ChunkSql, table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]> {
  const out: Row[] = [];
  for (let i = 0; i < keys.length; i += KEYS_PER_STATEMENT) {
    const where = keysWhere(table, keys.slice(i, i + KEYS_PER_STATEMENT));
    for (const row of decodeRows(s.codecs, await query(db, `SELECT ${s.selectList} FROM ${s.from} ${where.sql}`, where.params))) out.push(row);
  }
  return out;
}

/** Up to `limit` keys after `after`, in key order. */
export async function readKeys(db: Queryable, s: ChunkSql, table: TableSchema, after: readonly Value[] | null, limit: number): Promise<Value[][]> {
  const where = rangeWhere(table, { after: after ? [...after] : null, upTo: null });
  const rows = await query(db, `SELECT ${s.keyList} FROM ${s.from} ${where.sql} ORDER BY ${s.keyList} LIMIT ${Math.max(1, Math.floor(limit))}`, where.params);
  return decodeRows(s.keyCodecs, rows);
}

/**
 * Every row of the table through a cursor in one REPEATABLE READ READ ONLY transaction (one
 * snapshot, no locks beyond ACCESS SHARE), SCAN_BATCH_ROWS fetched and handed over at a time.
 */
export async function scanRows(pool: pg.Pool, s: ChunkSql, onRows: (rows: Row[]) => void | Promise<void>): Promise<void> {
  const client = await pool.connect();
  let ok = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`DECLARE tributary_scan NO SCROLL CURSOR FOR SELECT ${s.selectList} FROM ${s.from}`);
    for (;;) {
      const rows = await query(client, `FETCH FORWARD ${SCAN_BATCH_ROWS} FROM tributary_scan`, []);
      if (rows.length === 0) break;
      await onRows(decodeRows(s.codecs, rows));
    }
    await client.query('COMMIT');
    ok = true;
  } finally {
    if (!ok) await client.query('ROLLBACK').catch(() => undefined);
    client.release(ok ? undefined : true);
  }
}
