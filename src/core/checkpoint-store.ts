import type { TableSchema } from './schema.js';
import type { CopyOrder } from './snapshot.js';
import type { Value } from './values.js';

/** Per-table copy progress saved with the data it covers. */
export interface TableCheckpoint {
  /**
   * Where the copy goes on from: in `order` asc every row with a key ≤ watermark has been copied,
   * in desc every row with a key > watermark; null when nothing has been (or, with `done`, all).
   */
  readonly watermark: Value[] | null;
  readonly done: boolean;
  readonly rowsCopied: number;
  /**
   * The direction the table's copy walks its keys (SnapshotReader.chunkBoundary); absent: 'asc'
   * (checkpoints written before `copyOrder` existed). A resumed copy with a watermark goes on in
   * this direction, whatever `copyOrder` says now.
   */
  readonly order?: CopyOrder;
}

/** The stream-level checkpoint. */
export interface StreamCheckpoint {
  readonly version: number;
  /** Opaque source position to resume the stream from. */
  readonly position: string;
  /** Printable source identity the checkpoint was taken from. */
  readonly sourceId: string;
  readonly phase: 'copy' | 'stream';
  readonly updatedAt?: string;
  /**
   * Coordinator mode (docs/standby.md): the epoch of the leadership that wrote it. Informational
   * (the fence record decides who may write); it lets an audit of the target's commits see that no
   * older leadership committed after a newer one.
   */
  readonly epoch?: string;
}

export interface Checkpoint {
  readonly stream: StreamCheckpoint | null;
  readonly tables: ReadonlyMap<string, TableCheckpoint>;
  /**
   * The versioned schema: each synced table's definition at the stream checkpoint's position, as
   * the source described it when the stream started and as each schema change the stream applied
   * left it (issue 12). A resumed stream decodes with these, not with the source's definitions of
   * now, which may be later than the position. Absent or without a table: a checkpoint written
   * before tributary stored them; the source's definition of now is used.
   */
  readonly schemas?: ReadonlyMap<string, TableSchema>;
}

/**
 * The checkpoint store of a target (part of Target): this sync's checkpoint, kept on the target.
 * A checkpoint advances only at a source transaction boundary and only after the target committed
 * the data it covers, in the same transaction: table checkpoints through `writeChunk` (ChunkCommit),
 * stream checkpoints through `TargetTransaction.commit` (both in core/target-writer.ts); this
 * interface loads, clears and saves the start position on its own.
 */
export interface CheckpointStore {
  /** This sync's checkpoint; empty (never an error, never a write) on a target no sync has used. */
  loadCheckpoint(): Promise<Checkpoint>;
  /** Removes this sync's checkpoint (used by --force when nothing can resume). */
  clearCheckpoint(): Promise<void>;
  /** Saves the stream checkpoint on its own, outside any batch (the start position P0). */
  saveStreamCheckpoint(checkpoint: StreamCheckpoint): Promise<void>;
  /**
   * Saves the tables' definitions as the versioned schema at the stream checkpoint, replacing what
   * was stored for them (called when a stream starts from a position no schema change has passed
   * yet: a fresh sync's P0). Schema changes save theirs through `applySchemaChange`.
   */
  saveSchemas(tables: readonly TableSchema[]): Promise<void>;
}
