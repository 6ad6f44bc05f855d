import type { Connection, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { Checkpoint, StreamCheckpoint, TableCheckpoint } from '../../core/target.js';
import { decodeValues, encodeValues } from '../../core/values.js';
import { quoteId } from './sql.js';

type Conn = Connection | PoolConnection;

export const CHECKPOINT_TABLE = '_tributary_checkpoint';
export const CHECKPOINT_VERSION = 1;
const STREAM_ROW = '';

/**
 * One row per sync for the stream position (name '') and one per table for its copy watermark
 * (name 't:<table>'), so the copier and the stream never contend for one row. Every write happens
 * inside the caller's transaction, together with the data it covers.
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

export async function saveStream(conn: Conn, syncId: string, cp: StreamCheckpoint): Promise<void> {
  const body = JSON.stringify({ version: cp.version, position: cp.position, sourceId: cp.sourceId, phase: cp.phase });
  await conn.query(`REPLACE INTO ${quoteId(CHECKPOINT_TABLE)} (sync_id, name, body) VALUES (?, ?, ?)`, [syncId, STREAM_ROW, body]);
}

export async function saveTable(conn: Conn, syncId: string, table: string, cp: TableCheckpoint): Promise<void> {
  const body = JSON.stringify({ watermark: cp.watermark ? encodeValues(cp.watermark) : null, done: cp.done, rowsCopied: cp.rowsCopied });
  await conn.query(`REPLACE INTO ${quoteId(CHECKPOINT_TABLE)} (sync_id, name, body) VALUES (?, ?, ?)`, [syncId, `t:${table}`, body]);
}

/** The checkpoint table is created by the first write (ensureSchema); until then no sync has run here. */
function isMissingTable(err: unknown): boolean {
  return (err as { code?: string }).code === 'ER_NO_SUCH_TABLE';
}

export async function clear(conn: Conn, syncId: string): Promise<void> {
  try {
    await conn.query(`DELETE FROM ${quoteId(CHECKPOINT_TABLE)} WHERE sync_id = ?`, [syncId]);
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
  let stream: StreamCheckpoint | null = null;
  const tables = new Map<string, TableCheckpoint>();
  for (const r of rows) {
    const name = String(r.name);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(String(r.body)) as Record<string, unknown>;
    } catch (err) {
      throw new TributaryError(ErrorCode.CHECKPOINT_INVALID, `checkpoint row ${syncId}/${name} in ${CHECKPOINT_TABLE} is not JSON; delete it or use --force`, { cause: err });
    }
    if (name === STREAM_ROW) {
      if (body.version !== CHECKPOINT_VERSION) {
        throw new TributaryError(ErrorCode.CHECKPOINT_INVALID, `checkpoint of sync ${syncId} has format version ${String(body.version)}, this tributary reads version ${CHECKPOINT_VERSION}; upgrade tributary or start over with --force`);
      }
      stream = {
        version: CHECKPOINT_VERSION,
        position: String(body.position),
        sourceId: String(body.sourceId),
        phase: body.phase === 'stream' ? 'stream' : 'copy',
        updatedAt: String(r.updated_at),
      };
    } else if (name.startsWith('t:')) {
      tables.set(name.slice(2), {
        watermark: typeof body.watermark === 'string' ? decodeValues(body.watermark) : null,
        done: body.done === true,
        rowsCopied: Number(body.rowsCopied ?? 0),
      });
    }
  }
  return { stream, tables };
}
