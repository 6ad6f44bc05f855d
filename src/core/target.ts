import type { Change } from './change.js';
import type { Requirement } from './check.js';
import type { TributaryError } from './errors.js';
import type { TableSchema } from './schema.js';
import type { ChunkDigest, ColumnValueStats, DatabaseDefaults, EncodedChunk, KeyRange } from './source.js';
import type { Row, Value } from './values.js';

/** What a target can do; callers branch on these, never on engine names. */
export interface TargetCapabilities {
  /** Data and checkpoint commit atomically together. */
  readonly transactions: boolean;
  readonly upsert: boolean;
  readonly bulkLoad: boolean;
  /**
   * The encoded chunk formats `writeEncodedChunk` accepts, most preferred first (the cheapest to
   * load); the copier uses the first one the target accepts for a table and the source renders.
   */
  readonly chunkFormats?: readonly string[];
}

/** Per-table copy progress saved with the data it covers. */
export interface TableCheckpoint {
  /** Every row with a key ≤ watermark has been copied; null when nothing has been. */
  readonly watermark: Value[] | null;
  readonly done: boolean;
  readonly rowsCopied: number;
}

/**
 * The copier's side of a chunk commit. The target calls `checkpoint()` right before it saves the
 * table checkpoint, then `committed()` once the transaction holding data and checkpoint committed,
 * or `failed()` if it did not. The copier serialises these per table so a watermark never counts
 * a chunk that has not committed.
 */
export interface ChunkCommit {
  checkpoint(): Promise<TableCheckpoint>;
  committed(): void;
  failed(): void;
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
 * An open unit of work on the target. Changes may be written in several calls (a large source
 * transaction is spilled this way, bounding memory); nothing is visible until `commit`, which
 * saves `checkpoint` in the same transaction as the data. A checkpoint therefore advances only
 * after the target has applied the data it covers, and only at a source transaction boundary.
 */
export interface TargetTransaction {
  /** Applies changes in order; every key appears at most once per call (the caller coalesces). */
  write(tables: ReadonlyMap<string, TableSchema>, changes: readonly Change[]): Promise<void>;
  /** Removes every row of `table` inside this transaction. */
  truncate(table: TableSchema): Promise<void>;
  commit(checkpoint: StreamCheckpoint | null): Promise<void>;
  rollback(): Promise<void>;
}

/** How `Target.lock()` reports a lock lost after it was taken. */
export interface LockWatch {
  /**
   * Called once, from outside any write, when the target notices the lock is gone (its connection
   * ended or was killed, a ping found it released). The error is TRIB_LOCK_LOST; it is fatal unless
   * the target server restarted or cannot be reached (then every session ended, and a new attempt
   * that takes the lock again and reloads the checkpoint is as safe as a restart).
   */
  readonly onLost?: (err: TributaryError) => void;
}

/** What `ensureSchema` and `plannedDdl` create or recreate. */
export interface SchemaOptions {
  /**
   * --force with no checkpoint that can resume: drop and recreate what `recreateScope()` names
   * (the target database, schema or tables), then create the tables.
   */
  readonly recreate: boolean;
  /** The source database's defaults, for a target database the sync creates (see ChangeSource.databaseDefaults). */
  readonly database?: DatabaseDefaults;
}

/**
 * A database that receives the copy and the stream.
 *
 * Lifecycle: `connect()`, `lock()`, then the rest, then `close()` (which releases the lock).
 * Everything before `ensureSchema()` only reads: a run refused by a preflight check (settings,
 * privileges, tables, a non-empty target) must leave the target exactly as it was.
 */
export interface Target {
  readonly engine: string;
  readonly capabilities: TargetCapabilities;
  connect(): Promise<void>;
  close(): Promise<void>;
  /**
   * Takes the sync's exclusive lock; throws ALREADY_RUNNING when another instance holds it. Then
   * waits for writes still in flight from a previous holder, and keeps the lock alive and watched
   * until `close()`. Once the lock is lost (`watch.onLost` tells when noticed) no write commits:
   * every commit (a batch, a chunk, a checkpoint) verifies inside its own transaction, after its
   * checkpoint row is written, that this instance still holds the lock, and throws TRIB_LOCK_LOST
   * otherwise. A target on which lock() was not called writes without that check.
   */
  lock(watch?: LockWatch): Promise<void>;
  /** This sync's checkpoint; empty (never an error, never a write) on a target no sync has used. */
  loadCheckpoint(): Promise<Checkpoint>;
  /** Removes this sync's checkpoint (used by --force when nothing can resume). */
  clearCheckpoint(): Promise<void>;
  /** Names of the given tables that exist on the target and hold at least one row. */
  nonEmptyTables(tables: readonly TableSchema[]): Promise<string[]>;
  /**
   * Refuses (TABLE_UNSUPPORTED, one entry per column with the reason and the override) values a
   * source reported that this target cannot hold exactly. Reads and writes nothing.
   */
  checkValues?(table: TableSchema, stats: readonly ColumnValueStats[]): void;
  /**
   * What the target requires and offers for `tables` (the source's schemas): version, the
   * privileges to create tables and write, free space where it can be read, every column that
   * cannot be mapped (`table` set, severity error, the override as fix) and the mapping of each
   * column that needs a policy (`mapping` set). Reads only: creates nothing, not even the
   * checkpoint table. Optional: a target without it is checked when the sync writes.
   */
  check?(tables: readonly TableSchema[], database?: DatabaseDefaults): Promise<Requirement[]>;
  /**
   * The first write: creates the target database (or schema) when it does not exist yet (with
   * `opts.database`'s defaults where the engine has them), the checkpoint store and missing tables;
   * with `recreate`, first drops what `recreateScope()` names. Refuses (DATABASE_MISSING,
   * PRIVILEGE_MISSING naming the statement to run) before anything is created when the user may not
   * create the database.
   */
  ensureSchema(tables: readonly TableSchema[], opts: SchemaOptions): Promise<void>;
  /**
   * What `ensureSchema` with `recreate` drops, for people (messages, `check`, `--dry-run`), e.g.
   * "database shop_copy (every table in it)". Reads nothing.
   */
  recreateScope(): string;
  /**
   * The statements `ensureSchema(tables, opts)` would run, rendered and not run (`sync --dry-run`).
   * Reads only; refuses what ensureSchema would refuse (a type that cannot be mapped). Lines that
   * start with `--` are notes, not statements. Optional: a target without it prints no DDL.
   */
  plannedDdl?(tables: readonly TableSchema[], opts: SchemaOptions): Promise<string[]>;
  /**
   * Writes a chunk of copied rows (replacing any rows with the same keys) and the table's new
   * copy checkpoint, atomically.
   */
  writeChunk(table: TableSchema, rows: readonly Row[], commit: ChunkCommit): Promise<void>;
  /**
   * Whether `writeEncodedChunk` may load chunks of `table` in `format`: a source renders a chunk
   * from its own schema (`table`), so the format is only exact when the target columns are the ones
   * the source assumes (e.g. the same declared types, no user override of a column type). Asked by
   * the copier before every encoded read, after `ensureSchema()`; false makes the copier read
   * canonical rows (`readChunk`) and call `writeChunk` instead. Absent: every chunk in
   * `capabilities.chunkFormats` is accepted.
   */
  acceptsEncoded?(table: TableSchema, format: string): boolean;
  /** As `writeChunk`, for a chunk in one of `capabilities.chunkFormats` that `acceptsEncoded` accepted. */
  writeEncodedChunk?(table: TableSchema, chunk: EncodedChunk, commit: ChunkCommit): Promise<void>;
  /** Saves the stream checkpoint on its own, outside any batch (the start position P0). */
  saveStreamCheckpoint(checkpoint: StreamCheckpoint): Promise<void>;
  begin(): Promise<TargetTransaction>;
  /** The target's own table count of rows. */
  countRows(table: TableSchema): Promise<number>;
  /**
   * Reading the target back, for checksums (src/checksum). `table` is the source's schema: rows
   * come back aligned with `table.columns` (matched by name with the target's columns), as
   * canonical values of the target's own engine (core/values.ts: a PostgreSQL target gives its
   * numeric(20,0) as a string where a MySQL source gave a bigint); comparing them with the
   * source's is the caller's business. Key values passed in (`range`, `keys`) are the source's
   * canonical values, which the target renders for its key columns as its write path renders
   * them. Plain reads, no locks. A target without these cannot be verified.
   *
   * `readChunk`: the rows whose keys lie in `range`, in the target's key order. The same range
   * selects the same rows on both sides only when both order the key alike (see
   * src/checksum/plan.ts for the rule the checker follows).
   */
  readChunk?(table: TableSchema, range: KeyRange): Promise<Row[]>;
  /**
   * As ChangeSource.chunkDigest, over the target's own copy of the table: the rows `readChunk(table,
   * range)` would return (columns aligned by name with `table.columns`, key values rendered as
   * readChunk renders them), digested in one query in the session readChunk reads in. Undefined
   * when the target cannot digest this table; its digests and a source's compare only when their
   * formats are equal.
   */
  chunkDigest?(table: TableSchema, range: KeyRange): Promise<ChunkDigest | undefined>;
  /** The rows with the given primary keys, in no particular order; keys the target lacks are left out. */
  readRowsByKeys?(table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]>;
  /**
   * Up to `limit` primary keys of the target's copy of `table`, in the target's key order, after
   * `after` (a key this method returned before, in the target's values; null: from the start).
   */
  readKeys?(table: TableSchema, after: readonly Value[] | null, limit: number): Promise<Value[][]>;
  /**
   * Every row of the target's copy of `table` (a table without a primary key), in no particular
   * order, handed to `onRows` in batches as they arrive (memory stays bounded by a batch), read in
   * one statement (one consistent snapshot where the engine has them).
   */
  scanRows?(table: TableSchema, onRows: (rows: Row[]) => void | Promise<void>): Promise<void>;
  /**
   * Readies existing tables for `begin()` writes without creating or altering anything, for a
   * writer that did not run `ensureSchema()` in this process (`tributary verify --repair`). Throws
   * TABLE_UNSUPPORTED when a table is missing or its key differs from the source's.
   */
  prepareWrites?(tables: readonly TableSchema[]): Promise<void>;
  /** The target's definition of a table, or null when it does not exist. */
  describe(table: string): Promise<TableSchema | null>;
}
