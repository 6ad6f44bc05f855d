import type { Connection, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { CHECKPOINT_TABLE, decodeRows, EPOCH_ROW, PENDING_DDL_ROW, schemaBody, schemaRowName, STREAM_ROW, streamBody, tableBody, tableRowName, type SchemaChangeRows } from '../../checkpoint/rows.js';
import type { TableSchema } from '../../core/schema.js';
import type { Checkpoint, StreamCheckpoint, TableCheckpoint } from '../../core/target.js';
import { quoteId } from './sql.js';
import type { StatementSink } from './statements.js';

type Conn = Connection | PoolConnection;
type Queryable = Pick<Connection, 'query'>;

export { CHECKPOINT_TABLE };

/**
 * The checkpoint rows (src/checkpoint/rows.ts) in a MySQL table. Every write happens inside the
 * caller's transaction, together with the data it covers.
 */
export async function ensureCheckpointTable(conn: Conn): Promise<void> {
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ${quoteId(CHECKPOINT_TABLE)} (
       sync_id VARCHAR(64) NOT NULL,
       name VARCHAR(300) NOT NULL,
       body LONGTEXT NOT NULL,
       updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
       PRIMARY KEY (sync_id, name)
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
  );
}

async function put(conn: StatementSink, syncId: string, name: string, body: string): Promise<void> {
  await conn.query(`REPLACE INTO ${quoteId(CHECKPOINT_TABLE)} (sync_id, name, body) VALUES (?, ?, ?)`, [syncId, name, body]);
}

export function saveStream(conn: StatementSink, syncId: string, cp: StreamCheckpoint): Promise<void> {
  return put(conn, syncId, STREAM_ROW, streamBody(cp));
}

export function saveTable(conn: Conn, syncId: string, table: string, cp: TableCheckpoint): Promise<void> {
  return put(conn, syncId, tableRowName(table), tableBody(cp));
}

/** Saves each table's definition as its versioned schema row ('s:<table>'), in the caller's transaction. */
export async function saveSchemas(conn: Conn, syncId: string, tables: readonly TableSchema[]): Promise<void> {
  for (const t of tables) await put(conn, syncId, schemaRowName(t.name), schemaBody(t));
}

/** The row edits of a schema change (checkpoint/rows.ts schemaChangeRows), in the caller's transaction. */
export async function applySchemaRows(conn: Conn, syncId: string, rows: SchemaChangeRows): Promise<void> {
  const table = quoteId(CHECKPOINT_TABLE);
  for (const m of rows.moves) {
    await conn.query(`DELETE FROM ${table} WHERE sync_id = ? AND name = ?`, [syncId, m.to]);
    await conn.query(`UPDATE ${table} SET name = ? WHERE sync_id = ? AND name = ?`, [m.to, syncId, m.from]);
  }
  if (rows.remove.length) await conn.query(`DELETE FROM ${table} WHERE sync_id = ? AND name IN (?)`, [syncId, rows.remove]);
  for (const r of rows.put) await put(conn, syncId, r.name, r.body);
}

/** The saved stream position, read with a lock on its row in the caller's transaction; undefined when none is saved. */
export async function lockedStreamPosition(conn: Conn, syncId: string): Promise<string | undefined> {
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT name, body FROM ${quoteId(CHECKPOINT_TABLE)} WHERE sync_id = ? AND name = ? FOR UPDATE`, [syncId, STREAM_ROW]);
  return decodeRows(syncId, rows.map((r) => ({ name: String(r.name), body: String(r.body) }))).stream?.position;
}

/** Saves the pending schema change's row (checkpoint/rows.ts PENDING_DDL_ROW), in the caller's transaction. */
export function savePendingDdl(conn: Conn, syncId: string, body: string): Promise<void> {
  return put(conn, syncId, PENDING_DDL_ROW, body);
}

/** The pending schema change's row body, or undefined when there is none. */
export async function loadPendingDdl(conn: Conn, syncId: string): Promise<string | undefined> {
  try {
    const [rows] = await conn.query<RowDataPacket[]>(`SELECT body FROM ${quoteId(CHECKPOINT_TABLE)} WHERE sync_id = ? AND name = ?`, [syncId, PENDING_DDL_ROW]);
    return rows[0] ? String(rows[0].body) : undefined;
  } catch (err) {
    if (isMissingTable(err)) return undefined;
    throw err;
  }
}

/** The checkpoint table is created by the first write (ensureSchema); until then no sync has run here. */
function isMissingTable(err: unknown): boolean {
  return (err as { code?: string }).code === 'ER_NO_SUCH_TABLE';
}

/** Removes the sync's checkpoint rows; its fence record (EPOCH_ROW) stays, so no older leadership gets in. */
export async function clear(conn: Conn, syncId: string): Promise<void> {
  try {
    await conn.query(`DELETE FROM ${quoteId(CHECKPOINT_TABLE)} WHERE sync_id = ? AND name <> ?`, [syncId, EPOCH_ROW]);
  } catch (err) {
    if (!isMissingTable(err)) throw err;
  }
}

export async function load(conn: Conn, syncId: string): Promise<Checkpoint> {
  let rows: RowDataPacket[];
  try {
    [rows] = await conn.query<RowDataPacket[]>(
      `SELECT name, body, updated_at FROM ${quoteId(CHECKPOINT_TABLE)} WHERE sync_id = ?`,
      [syncId],
    );
  } catch (err) {
    if (isMissingTable(err)) return { stream: null, tables: new Map() };
    throw err;
  }
  return decodeRows(
    syncId,
    rows.map((r) => ({ name: String(r.name), body: String(r.body), updatedAt: String(r.updated_at) })),
  );
}

/**
 * Waits until no transaction holds a lock on this sync's checkpoint rows: a lock holder that took
 * the sync's lock over calls it before reading the checkpoint. Every writer locks a checkpoint row
 * (writes it, or reads it LOCK IN SHARE MODE) before it verifies the lock and commits, so a writer
 * of the previous holder that verified just before the loss has committed once this returns.
 */
export async function waitForWriters(conn: Conn, syncId: string): Promise<void> {
  await conn.query('START TRANSACTION');
  try {
    await conn.query(`SELECT COUNT(*) AS n FROM ${quoteId(CHECKPOINT_TABLE)} WHERE sync_id = ? FOR UPDATE`, [syncId]);
  } catch (err) {
    if (!isMissingTable(err)) throw err;
  } finally {
    await conn.query('COMMIT').catch(() => undefined);
  }
}

/**
 * For a writer that saves no checkpoint (a repair): a shared lock on the stream row, in the
 * writer's transaction, which waitForWriters waits for as it waits for a checkpoint write.
 */
export async function lockStreamRow(conn: Conn, syncId: string): Promise<void> {
  try {
    await conn.query(`SELECT 1 FROM ${quoteId(CHECKPOINT_TABLE)} WHERE sync_id = ? AND name = ? LOCK IN SHARE MODE`, [syncId, STREAM_ROW]);
  } catch (err) {
    if (!isMissingTable(err)) throw err;
  }
}

/**
 * The fence record (checkpoint/rows.ts EPOCH_ROW), read with a lock in the caller's transaction:
 * `update` (a takeover: waits for every transaction that read it in share mode and has not ended)
 * or `share` (a commit's compare: waits for a takeover in flight, then reads what it wrote: a
 * locking read sees the latest committed row, whatever the transaction's snapshot). `table: false`
 * when the checkpoint table (or the database) does not exist yet.
 */
export async function lockedEpoch(conn: Queryable, syncId: string, mode: 'update' | 'share'): Promise<{ table: boolean; body?: string }> {
  try {
    const [rows] = await conn.query<RowDataPacket[]>(
      `SELECT body FROM ${quoteId(CHECKPOINT_TABLE)} WHERE sync_id = ? AND name = ? ${mode === 'update' ? 'FOR UPDATE' : 'LOCK IN SHARE MODE'}`,
      [syncId, EPOCH_ROW],
    );
    return rows[0] ? { table: true, body: String(rows[0].body) } : { table: true };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ER_NO_SUCH_TABLE' || code === 'ER_NO_DB_ERROR' || code === 'ER_BAD_DB_ERROR') return { table: false };
    throw err;
  }
}

/**
 * Makes sure the fence record exists (epoch 0 where there was none, in the caller's transaction),
 * so that two takeovers of a target without one meet on its row lock rather than both inserting.
 * False when the checkpoint table (or the database) does not exist yet.
 */
export async function ensureEpochRow(conn: Queryable, syncId: string): Promise<boolean> {
  try {
    await conn.query(`INSERT IGNORE INTO ${quoteId(CHECKPOINT_TABLE)} (sync_id, name, body) VALUES (?, ?, '0')`, [syncId, EPOCH_ROW]);
    return true;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ER_NO_SUCH_TABLE' || code === 'ER_NO_DB_ERROR' || code === 'ER_BAD_DB_ERROR') return false;
    throw err;
  }
}

/**
 * The connections whose transactions hold a lock that connection `waiting` waits for now (InnoDB's
 * lock waits: information_schema on MariaDB and MySQL 5.7, performance_schema on MySQL 8).
 */
export async function lockBlockers(conn: Queryable, waiting: number): Promise<number[]> {
  try {
    const [rows] = await conn.query<RowDataPacket[]>(
      `SELECT DISTINCT b.trx_mysql_thread_id AS id FROM information_schema.INNODB_LOCK_WAITS w
         JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id
         JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id
        WHERE r.trx_mysql_thread_id = ?`,
      [waiting],
    );
    return rows.map((r) => Number(r.id)).filter((id) => id !== waiting);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ER_UNKNOWN_TABLE') throw err;
    const [rows] = await conn.query<RowDataPacket[]>(
      `SELECT DISTINCT bt.PROCESSLIST_ID AS id FROM performance_schema.data_lock_waits w
         JOIN performance_schema.threads bt ON bt.THREAD_ID = w.BLOCKING_THREAD_ID
         JOIN performance_schema.threads rt ON rt.THREAD_ID = w.REQUESTING_THREAD_ID
        WHERE rt.PROCESSLIST_ID = ?`,
      [waiting],
    );
    return rows.map((r) => Number(r.id)).filter((id) => id !== waiting);
  }
}

/** Writes the fence record, in the caller's transaction (after lockedEpoch 'update'). */
export async function saveEpoch(conn: Queryable, syncId: string, epoch: string): Promise<void> {
  await conn.query(`REPLACE INTO ${quoteId(CHECKPOINT_TABLE)} (sync_id, name, body) VALUES (?, ?, ?)`, [syncId, EPOCH_ROW, epoch]);
}
