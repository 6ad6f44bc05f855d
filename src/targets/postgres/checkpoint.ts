import type pg from 'pg';
import { CHECKPOINT_TABLE, decodeRows, STREAM_ROW, streamBody, tableBody, tableRowName } from '../../checkpoint/rows.js';
import type { Checkpoint, StreamCheckpoint, TableCheckpoint } from '../../core/target.js';
import { qualified } from './sql.js';

type Conn = pg.Client | pg.PoolClient;

export { CHECKPOINT_TABLE };

/**
 * The checkpoint rows (src/checkpoint/rows.ts) in a PostgreSQL table. Every write happens inside
 * the caller's transaction, together with the data it covers.
 */
export async function ensureCheckpointTable(conn: Conn, schema: string): Promise<void> {
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ${qualified(schema, CHECKPOINT_TABLE)} (
       sync_id varchar(64) NOT NULL,
       name varchar(300) NOT NULL,
       body text NOT NULL,
       updated_at timestamptz(6) NOT NULL DEFAULT now(),
       PRIMARY KEY (sync_id, name)
     )`,
  );
}

async function put(conn: Conn, schema: string, syncId: string, name: string, body: string): Promise<void> {
  await conn.query(
    `INSERT INTO ${qualified(schema, CHECKPOINT_TABLE)} (sync_id, name, body, updated_at) VALUES ($1, $2, $3, now())
     ON CONFLICT (sync_id, name) DO UPDATE SET body = EXCLUDED.body, updated_at = EXCLUDED.updated_at`,
    [syncId, name, body],
  );
}

export function saveStream(conn: Conn, schema: string, syncId: string, cp: StreamCheckpoint): Promise<void> {
  return put(conn, schema, syncId, STREAM_ROW, streamBody(cp));
}

export function saveTable(conn: Conn, schema: string, syncId: string, table: string, cp: TableCheckpoint): Promise<void> {
  return put(conn, schema, syncId, tableRowName(table), tableBody(cp));
}

/** The checkpoint table is created by the first write (ensureSchema); until then no sync has run here. */
async function exists(conn: Conn, schema: string): Promise<boolean> {
  const r = await conn.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [qualified(schema, CHECKPOINT_TABLE)]);
  return r.rows[0]?.t != null;
}

export async function clear(conn: Conn, schema: string, syncId: string): Promise<void> {
  if (!(await exists(conn, schema))) return;
  await conn.query(`DELETE FROM ${qualified(schema, CHECKPOINT_TABLE)} WHERE sync_id = $1`, [syncId]);
}

export async function load(conn: Conn, schema: string, syncId: string): Promise<Checkpoint> {
  if (!(await exists(conn, schema))) return { stream: null, tables: new Map() };
  const res = await conn.query<{ name: string; body: string; updated_at: string }>(
    `SELECT name, body, updated_at FROM ${qualified(schema, CHECKPOINT_TABLE)} WHERE sync_id = $1`,
    [syncId],
  );
  return decodeRows(
    syncId,
    res.rows.map((r) => ({ name: String(r.name), body: String(r.body), updatedAt: String(r.updated_at) })),
  );
}
