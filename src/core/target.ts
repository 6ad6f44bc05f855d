import type { CheckpointStore } from './checkpoint-store.js';
import type { TargetReader } from './target-reader.js';
import type { TargetWriter } from './target-writer.js';

export type { Checkpoint, CheckpointStore, StreamCheckpoint, TableCheckpoint } from './checkpoint-store.js';
export type { TargetReader } from './target-reader.js';
export type {
  ChunkCommit,
  Fence,
  LockWatch,
  SchemaOptions,
  TargetCapabilities,
  TargetTransaction,
  TargetWriter,
} from './target-writer.js';

/**
 * A database that receives the copy and the stream: its writer (TargetWriter,
 * core/target-writer.ts), its checkpoint store (CheckpointStore, core/checkpoint-store.ts) and its
 * reader for checksums (TargetReader, core/target-reader.ts), one object. Each role's file states
 * its members' contracts.
 *
 * Lifecycle: `connect()`, `lock()`, then the rest, then `close()` (which releases the lock).
 * Everything before `ensureSchema()` only reads: a run refused by a preflight check (settings,
 * privileges, tables, a non-empty target) must leave the target exactly as it was.
 */
export interface Target extends TargetWriter, CheckpointStore, TargetReader {}
