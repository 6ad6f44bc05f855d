import type pg from 'pg';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { Checkpoint, StreamCheckpoint, TableCheckpoint } from '../../core/target.js';
import { decodeValues, encodeValues } from '../../core/values.js';
import { qualified } from './sql.js';

type Conn = pg.Client | pg.PoolClient;

export const CHECKPOINT_TABLE = '_tributary_checkpoint';
export const CHECKPOINT_VERSION = 1;
const STREAM_ROW = '';

/**
 * The same rows as the MySQL target's checkpoint table (targets/mysql/checkpoint.ts): one row per
 * sync for the stream position (name '') and one per table for its copy watermark ('t:<table>'),
 * so the copier and the stream never contend for one row. Every write happens inside the caller's
 * transaction, together with the data it covers.
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
  const body = JSON.stringify({ version: cp.version, position: cp.position, sourceId: cp.sourceId, phase: cp.phase });
  return put(conn, schema, syncId, STREAM_ROW, body);
}

export function saveTable(conn: Conn, schema: string, syncId: string, table: string, cp: TableCheckpoint): Promise<void> {
  const body = JSON.stringify({ watermark: cp.watermark ? encodeValues(cp.watermark) : null, done: cp.done, rowsCopied: cp.rowsCopied });
  return put(conn, schema, syncId, `t:${table}`, body);
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
  let stream: StreamCheckpoint | null = null;
  const tables = new Map<string, TableCheckpoint>();
  for (const r of res.rows) {
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
