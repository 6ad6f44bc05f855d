import type pg from 'pg';
import { CHECKPOINT_TABLE, decodeRows, schemaBody, schemaRowName, STREAM_ROW, streamBody, tableBody, tableRowName, type SchemaChangeRows } from '../../checkpoint/rows.js';
import type { TableSchema } from '../../core/schema.js';
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

/** Saves each table's definition as its versioned schema row ('s:<table>'), in the caller's transaction. */
export async function saveSchemas(conn: Conn, schema: string, syncId: string, tables: readonly TableSchema[]): Promise<void> {
  for (const t of tables) await put(conn, schema, syncId, schemaRowName(t.name), schemaBody(t));
}

/** The row edits of a schema change (checkpoint/rows.ts schemaChangeRows), in the caller's transaction. */
export async function applySchemaRows(conn: Conn, schema: string, syncId: string, rows: SchemaChangeRows): Promise<void> {
  const table = qualified(schema, CHECKPOINT_TABLE);
  for (const m of rows.moves) {
    await conn.query(`DELETE FROM ${table} WHERE sync_id = $1 AND name = $2`, [syncId, m.to]);
    await conn.query(`UPDATE ${table} SET name = $3, updated_at = now() WHERE sync_id = $1 AND name = $2`, [syncId, m.from, m.to]);
  }
  if (rows.remove.length) await conn.query(`DELETE FROM ${table} WHERE sync_id = $1 AND name = ANY($2::text[])`, [syncId, rows.remove]);
  for (const r of rows.put) await put(conn, schema, syncId, r.name, r.body);
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

/**
 * Waits until no transaction is writing the checkpoint table: a lock holder that took the sync's
 * lock over calls it before reading the checkpoint. Every writer takes ROW EXCLUSIVE on the table
 * (writing a checkpoint row, or lockForWriter) before it verifies the lock and commits, which SHARE
 * waits for: a writer of the previous holder that verified just before the loss has committed once
 * this returns. Bounded: a writer stuck for a minute makes it fail (TRIB_TARGET_WRITE_FAILED).
 */
export async function waitForWriters(conn: Conn, schema: string): Promise<void> {
  if (!(await exists(conn, schema))) return;
  await conn.query('BEGIN');
  try {
    await conn.query("SET LOCAL lock_timeout = '60s'");
    await conn.query(`LOCK TABLE ${qualified(schema, CHECKPOINT_TABLE)} IN SHARE MODE`);
    await conn.query('COMMIT');
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
    // A user who may not lock the table (a repair run by another role) may not write it either.
    if ((err as { code?: string }).code === '42501') return;
    throw err;
  }
}

/** For a writer that saves no checkpoint (a repair): the table lock a checkpoint write takes, which waitForWriters waits for. */
export async function lockForWriter(conn: Conn, schema: string): Promise<void> {
  if (!(await exists(conn, schema))) return;
  await conn.query(`LOCK TABLE ${qualified(schema, CHECKPOINT_TABLE)} IN ROW EXCLUSIVE MODE`);
}
