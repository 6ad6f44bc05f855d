import { ErrorCode, TributaryError } from '../core/errors.js';
import type { TableSchema } from '../core/schema.js';
import type { Checkpoint, StreamCheckpoint, TableCheckpoint } from '../core/target.js';
import { decodeValues, encodeValues } from '../core/values.js';
import { CHECKPOINT_VERSION } from './checkpoint.js';

/**
 * The checkpoint's stored form, the same on every target: one row (or key) per sync for the stream
 * position, named '', one per table for its copy watermark, named 't:<table>', so the copier and
 * the stream never contend for one row, and one per table for its definition at the stream position
 * (the versioned schema, issue 12), named 's:<table>', written when the stream starts and with each
 * schema change the stream applies. Each holds a JSON body. Targets store and load the rows;
 * this module alone knows what is in them.
 */
export const CHECKPOINT_TABLE = '_tributary_checkpoint';
export const STREAM_ROW = '';

export function tableRowName(table: string): string {
  return `t:${table}`;
}

/** The row of a table's definition at the stream checkpoint's position. */
export function schemaRowName(table: string): string {
  return `s:${table}`;
}

/** A table's definition as stored (TableSchema is plain data: JSON keeps it whole). */
export function schemaBody(table: TableSchema): string {
  return JSON.stringify(table);
}

export function streamBody(cp: StreamCheckpoint): string {
  return JSON.stringify({ version: cp.version, position: cp.position, sourceId: cp.sourceId, phase: cp.phase });
}

export function tableBody(cp: TableCheckpoint): string {
  return JSON.stringify({ watermark: cp.watermark ? encodeValues(cp.watermark) : null, done: cp.done, rowsCopied: cp.rowsCopied });
}

export interface StoredRow {
  readonly name: string;
  readonly body: string;
  readonly updatedAt?: string;
}

/** Rebuilds a checkpoint from its stored rows; a row that cannot be read is CHECKPOINT_INVALID. */
export function decodeRows(syncId: string, rows: readonly StoredRow[]): Checkpoint {
  let stream: StreamCheckpoint | null = null;
  const tables = new Map<string, TableCheckpoint>();
  const schemas = new Map<string, TableSchema>();
  for (const r of rows) {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(r.body) as Record<string, unknown>;
    } catch (err) {
      throw new TributaryError(ErrorCode.CHECKPOINT_INVALID, `checkpoint row ${syncId}/${r.name} in ${CHECKPOINT_TABLE} is not JSON; delete it or use --force`, { cause: err });
    }
    if (r.name === STREAM_ROW) {
      if (body.version !== CHECKPOINT_VERSION) {
        throw new TributaryError(
          ErrorCode.CHECKPOINT_INVALID,
          `checkpoint of sync ${syncId} has format version ${String(body.version)}, this tributary reads version ${CHECKPOINT_VERSION}; upgrade tributary or start over with --force`,
        );
      }
      stream = {
        version: CHECKPOINT_VERSION,
        position: String(body.position),
        sourceId: String(body.sourceId),
        phase: body.phase === 'stream' ? 'stream' : 'copy',
        ...(r.updatedAt !== undefined ? { updatedAt: r.updatedAt } : {}),
      };
    } else if (r.name.startsWith('t:')) {
      tables.set(r.name.slice(2), {
        watermark: typeof body.watermark === 'string' ? decodeValues(body.watermark) : null,
        done: body.done === true,
        rowsCopied: Number(body.rowsCopied ?? 0),
      });
    } else if (r.name.startsWith('s:')) {
      if (typeof body.name !== 'string' || !Array.isArray(body.columns) || !Array.isArray(body.primaryKey)) {
        throw new TributaryError(ErrorCode.CHECKPOINT_INVALID, `checkpoint row ${syncId}/${r.name} in ${CHECKPOINT_TABLE} is not a table definition; delete it or use --force`);
      }
      schemas.set(r.name.slice(2), body as unknown as TableSchema);
    }
  }
  return { stream, tables, schemas };
}
