import type pg from 'pg';
import { CHECKPOINT_TABLE, decodeRows, EPOCH_ROW, schemaBody, schemaRowName, STREAM_ROW, streamBody, tableBody, tableRowName, type SchemaChangeRows } from '../../checkpoint/rows.js';
import type { TableSchema } from '../../core/schema.js';
import type { Checkpoint, StreamCheckpoint, TableCheckpoint } from '../../core/target.js';
import { qualified } from './sql.js';

type Conn = pg.Client | pg.PoolClient;
type Queryable = Pick<pg.Client, 'query'>;

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
export async function exists(conn: Queryable, schema: string): Promise<boolean> {
  const r = await conn.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [qualified(schema, CHECKPOINT_TABLE)]);
  return r.rows[0]?.t != null;
}

/** Removes the sync's checkpoint rows; its fence record (EPOCH_ROW) stays, so no older leadership gets in. */
export async function clear(conn: Conn, schema: string, syncId: string): Promise<void> {
  if (!(await exists(conn, schema))) return;
  await conn.query(`DELETE FROM ${qualified(schema, CHECKPOINT_TABLE)} WHERE sync_id = $1 AND name <> $2`, [syncId, EPOCH_ROW]);
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

/**
 * The fence record (checkpoint/rows.ts EPOCH_ROW), read with a row lock in the caller's
 * transaction: `update` (a takeover: waits for every transaction that read it FOR SHARE and has
 * not ended) or `share` (a commit's compare: waits for a takeover in flight, then reads the row it
 * committed, READ COMMITTED re-reading an updated row). `table: false` when the checkpoint table
 * does not exist yet (not asked when `tableKnown`: a commit of a leadership that took the sync over).
 */
export async function lockedEpoch(conn: Queryable, schema: string, syncId: string, mode: 'update' | 'share', tableKnown = false): Promise<{ table: boolean; body?: string }> {
  if (!tableKnown && !(await exists(conn, schema))) return { table: false };
  const r = await conn.query<{ body: string }>(
    `SELECT body FROM ${qualified(schema, CHECKPOINT_TABLE)} WHERE sync_id = $1 AND name = $2 ${mode === 'update' ? 'FOR UPDATE' : 'FOR SHARE'}`,
    [syncId, EPOCH_ROW],
  );
  return r.rows[0] ? { table: true, body: String(r.rows[0].body) } : { table: true };
}

/**
 * Makes sure the fence record exists (epoch 0 where there was none, in the caller's transaction):
 * a second takeover of a target without one waits on the first one's insert, then finds its row,
 * rather than both inserting.
 */
export async function ensureEpochRow(conn: Queryable, schema: string, syncId: string): Promise<void> {
  await conn.query(`INSERT INTO ${qualified(schema, CHECKPOINT_TABLE)} (sync_id, name, body) VALUES ($1, $2, '0') ON CONFLICT (sync_id, name) DO NOTHING`, [syncId, EPOCH_ROW]);
}

/** Writes the fence record, in the caller's transaction (after lockedEpoch 'update'). */
export async function saveEpoch(conn: Queryable, schema: string, syncId: string, epoch: string): Promise<void> {
  await conn.query(
    `INSERT INTO ${qualified(schema, CHECKPOINT_TABLE)} (sync_id, name, body, updated_at) VALUES ($1, $2, $3, now())
     ON CONFLICT (sync_id, name) DO UPDATE SET body = EXCLUDED.body, updated_at = EXCLUDED.updated_at`,
    [syncId, EPOCH_ROW, epoch],
  );
}
