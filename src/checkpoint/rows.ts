import { ErrorCode, TributaryError } from '../core/errors.js';
import type { SchemaChange } from '../core/schema-change.js';
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

/**
 * The row a target whose DDL is not transactional (TargetCapabilities.transactionalDdl false) keeps
 * about the last schema change it applied that needs it: written before its DDL runs, so that a
 * replay after a crash between the DDL and the checkpoint can tell what the DDL already did, and
 * kept until the next such change replaces it, so that applying the same change again is a no-op
 * too. Its body is that target's own (engines/mysql/replay.ts); decodeRows leaves it out of the
 * checkpoint.
 */
export const PENDING_DDL_ROW = 'd:';

/**
 * The fence record of coordinator mode (core/target-writer.ts Fence, checkpoint/epoch.ts): the
 * epoch of the leadership that writes this sync's target, as decimal text (not JSON). Written by
 * a leadership's takeover, compared by each of its commits; never removed with the checkpoint
 * (clearing it would let an older leadership in). decodeRows leaves it out of the checkpoint.
 */
export const EPOCH_ROW = '~epoch';

/**
 * What the checkpoint rows become with a schema change (TargetWriter.applySchemaChange), in the
 * order a target applies them, inside the transaction that saves the stream checkpoint:
 * - `moves`: each table rename, in the statement's order, of the copy row ('t:'), so a renamed
 *   table keeps its copy progress under its new name (a swap through a temporary name moves through
 *   it too). A move first removes any row of the new name, then renames the old one.
 * - `remove`: the schema rows of tables in `before` and not in `after` (dropped or renamed away), and
 *   the copy rows of tables dropped (not renamed): a table created again later is copied afresh;
 *   and the copy rows of the tables in `change.recopy`, whose copy starts again from the beginning.
 * - `put`: the schema row of every table in `after`; and the copy row, marked done, of every table
 *   the change creates (in `after`, not in `before` nor renamed there) and does not copy (not in
 *   `change.recopy`): all its rows come from the stream, so a restart neither copies it nor takes it
 *   for a copy interrupted.
 */
export interface SchemaChangeRows {
  readonly moves: readonly { readonly from: string; readonly to: string }[];
  readonly remove: readonly string[];
  readonly put: readonly StoredRow[];
}

/** The checkpoint row edits of a schema change (see SchemaChangeRows). */
export function schemaChangeRows(change: SchemaChange): SchemaChangeRows {
  const moves: { from: string; to: string }[] = [];
  // Where each table of `before` is once the renames ran: its name in `after`, if it is still there.
  const where = new Map<string, string>([...change.before.keys()].map((n) => [n, n]));
  for (const op of change.operations) {
    if (op.op === 'rename-tables') {
      for (const { from, to } of op.pairs) {
        moves.push({ from: tableRowName(from), to: tableRowName(to) });
        for (const [orig, now] of where) if (now === from) where.set(orig, to);
      }
    } else if (op.op === 'drop-table') {
      for (const [orig, now] of where) if (now === op.table) where.delete(orig);
    }
  }
  const remove: string[] = [];
  for (const name of change.before.keys()) {
    if (!change.after.has(name)) remove.push(schemaRowName(name));
    const now = where.get(name);
    if (now === undefined || !change.after.has(now)) remove.push(tableRowName(now ?? name));
  }
  for (const name of change.recopy ?? []) remove.push(tableRowName(name));
  const put = [...change.after.values()].map((t) => ({ name: schemaRowName(t.name), body: schemaBody(t) }));
  // Created: in `after`, not in `before` nor renamed there from it (also when the change applies
  // nothing: --skip-ddl, a target that had it already).
  const copied = new Set(change.recopy ?? []);
  const renamedTo = new Set(change.operations.flatMap((op) => (op.op === 'rename-tables' ? op.pairs.map((p) => p.to) : [])));
  for (const name of change.after.keys()) {
    if (change.before.has(name) || renamedTo.has(name) || copied.has(name) || change.after.get(name)?.shadowOf !== undefined) continue;
    put.push({ name: tableRowName(name), body: tableBody({ watermark: null, done: true, rowsCopied: 0 }) });
  }
  return { moves, remove, put };
}

export function streamBody(cp: StreamCheckpoint): string {
  return JSON.stringify({ version: cp.version, position: cp.position, sourceId: cp.sourceId, phase: cp.phase, ...(cp.epoch !== undefined ? { epoch: cp.epoch } : {}) });
}

export function tableBody(cp: TableCheckpoint): string {
  const watermark = cp.watermark ? encodeValues(cp.watermark) : null;
  // An ascending copy's body is written as before `order` existed. A descending copy's watermark
  // goes under `below`, never `watermark`: a release without copyOrder reads no watermark there and
  // copies the table again from the start, where reading it as ascending would skip the rows under it.
  if (cp.order === 'desc') return JSON.stringify({ watermark: null, below: watermark, done: cp.done, rowsCopied: cp.rowsCopied, order: 'desc' });
  return JSON.stringify({ watermark, done: cp.done, rowsCopied: cp.rowsCopied });
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
    if (r.name === EPOCH_ROW) continue;
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
        ...(typeof body.epoch === 'string' ? { epoch: body.epoch } : {}),
      };
    } else if (r.name.startsWith('t:')) {
      const desc = body.order === 'desc';
      const watermark = desc ? body.below : body.watermark;
      tables.set(r.name.slice(2), {
        watermark: typeof watermark === 'string' ? decodeValues(watermark) : null,
        done: body.done === true,
        rowsCopied: Number(body.rowsCopied ?? 0),
        ...(desc ? { order: 'desc' as const } : {}),
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
