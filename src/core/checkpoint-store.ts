import type { Value } from './values.js';

/** Per-table copy progress saved with the data it covers. */
export interface TableCheckpoint {
  /** Every row with a key ≤ watermark has been copied; null when nothing has been. */
  readonly watermark: Value[] | null;
  readonly done: boolean;
  readonly rowsCopied: number;
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
}

export interface Checkpoint {
  readonly stream: StreamCheckpoint | null;
  readonly tables: ReadonlyMap<string, TableCheckpoint>;
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
}
