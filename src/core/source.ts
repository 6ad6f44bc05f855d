import type { Readable } from 'node:stream';
import type { StreamEvent } from './change.js';
import type { Requirement } from './check.js';
import type { TableSchema } from './schema.js';
import type { Row, Value } from './values.js';

/** A half-open key range for a chunk: keys > `after` (or from the start) and ≤ `upTo` (or to the end). */
export interface KeyRange {
  readonly after: Value[] | null;
  readonly upTo: Value[] | null;
}

/**
 * A chunk already encoded in a bulk-load format a target reads directly (see
 * TargetCapabilities.chunkFormats), either buffered or streamed from the source as the target
 * loads it (see core/encoded.ts for both kinds).
 */
export interface EncodedChunk {
  readonly format: string;
  /**
   * The chunk's bytes, read from the start. May be called again (a target that must load the
   * chunk another way after a first attempt failed): each stream reads the whole chunk, the same
   * rows (a source reading a snapshot reads it again) or, outside a snapshot, their current
   * images, which the copy's convergence rule allows while the chunk is in flight. A stream ends
   * only once the read is complete; a failed read is the stream's error. A consumer that stops
   * early destroys the stream, which ends the read.
   */
  open(): Readable;
  /** Rows in the chunk: exact once a stream from open() has ended. */
  rows(): number;
  /** Bytes the chunk holds in memory while it is loaded: its size when buffered, 0 when streamed. */
  readonly heldBytes: number;
}

/**
 * Facts about the values of one column that decide whether a target of another engine can hold
 * them (PostgreSQL numeric NaN and infinities, digits, infinite dates). The target judges them
 * against its own types (the MySQL target: beyond DECIMAL(65,30), the smallest DECIMAL that fits).
 */
export interface ColumnValueStats {
  readonly table: string;
  readonly column: string;
  /** The column's type as the source prints it. */
  readonly sourceType: string;
  readonly nan: number;
  readonly posInfinity: number;
  readonly negInfinity: number;
  /** Most integer and fraction digits among finite exact numbers (null: no rows or not numeric). */
  readonly maxIntegerDigits: number | null;
  readonly maxScale: number | null;
  /** Dates and timestamps outside year 1–9999 (infinity, BC). */
  readonly outOfRange: number;
}

/**
 * A digest of one chunk computed inside the database (ChangeSource.chunkDigest,
 * Target.chunkDigest): the row count and an order-independent sum of per-row hashes over the
 * exact text the side's readChunk decodes, rendered unambiguously (NULL, '' and 'N' apart).
 */
export interface ChunkDigest {
  readonly rows: number;
  /** Opaque; equal only for the same multiset of rendered rows (up to hash collisions). */
  readonly digest: string;
  /**
   * The digest's recipe and everything its rendering depends on (e.g. 'mysql-md5-v2
   * time_zone=+00:00'). Two digests compare only when their formats are equal.
   */
  readonly format: string;
}

/**
 * The source database's default character set and collation (ChangeSource.databaseDefaults), which
 * a target database the sync creates takes when it is of the same engine.
 */
export interface DatabaseDefaults {
  /** The engine whose names these are ('mysql'): a target of another engine picks its own. */
  readonly engine: string;
  readonly charset: string;
  readonly collation: string;
}

/** Who the source is: a checkpoint taken from one source must not be resumed against another. */
export interface SourceIdentity {
  /** A stable, printable identity, e.g. 'mariadb server_id=1 domain=0' or a server UUID. */
  readonly id: string;
  readonly version: string;
}

/**
 * A database whose tables can be copied and whose changes can be streamed.
 *
 * Lifecycle: `connect()` once, then any of the other methods, then `close()`. Positions are opaque
 * strings outside the source: only the source encodes, parses and compares them.
 */
export interface ChangeSource {
  readonly engine: string;
  connect(): Promise<void>;
  close(): Promise<void>;
  /** Throws a TributaryError naming each unmet requirement (setting, value, fix). */
  preflight(): Promise<void>;
  /**
   * Every requirement preflight() checks, met or not, with its value and fix, plus warnings and
   * information (version, retention, GTID mode) that do not refuse a run; preflight() throws for
   * exactly the failing errors of this list. Reads only: creates no slot, publication or table.
   * Optional: a source without it is checked by preflight() alone.
   */
  check?(): Promise<Requirement[]>;
  identity(): Promise<SourceIdentity>;
  /**
   * The source database's defaults, for a target database the sync creates. Optional: without it
   * (a PostgreSQL source, whose encoding and locale have no MySQL names) the target chooses.
   */
  databaseDefaults?(): Promise<DatabaseDefaults>;
  /** Names of the base tables of the source database. */
  listTables(): Promise<string[]>;
  describe(table: string): Promise<TableSchema>;
  /** Estimates of the table's row count (for progress) and average row size (for chunk sizing). */
  tableStats(table: string): Promise<{ rows: number; avgRowBytes: number }>;
  /** The position a stream started now would begin at. */
  currentPosition(): Promise<string>;
  /**
   * The position of the latest change the source has logged (binlog end, WAL insert position), read
   * without side effects: no slot, no snapshot. A stream that has applied up to it has applied
   * every change a read made before this call saw. Optional: the continuous checksum waits for
   * an idle stream instead where a source cannot tell.
   */
  headPosition?(): Promise<string>;
  /**
   * Bytes of log the source server retains for this sync and would free once the sync
   * acknowledged them (PostgreSQL: WAL from the slot's restart_lsn to the current WAL position),
   * for monitoring; undefined when nothing is retained yet (no slot). Read-only, no side effects.
   * Optional: sources that retain nothing for their reader (a MySQL binlog) omit it.
   */
  retainedBytes?(): Promise<number | undefined>;
  /**
   * Throws POSITION_LOST when a stream can no longer start at `position` (purged binlog, lost slot).
   * A resuming sync may also prepare the source here (PostgreSQL: the publication follows the
   * synced tables); `readOnly` (check, dry run) decides only and changes nothing.
   */
  checkPosition(position: string, opts?: { readonly readOnly?: boolean }): Promise<void>;
  /**
   * The upper bound of the chunk of at most `size` rows that starts after `after`, in primary-key
   * order; null when fewer than `size` rows remain (the chunk runs to the end of the table).
   */
  chunkBoundary(table: TableSchema, after: Value[] | null, size: number): Promise<Value[] | null>;
  /** Rows in `range`, in primary-key order, read without locks, as canonical values. */
  readChunk(table: TableSchema, range: KeyRange): Promise<Row[]>;
  /**
   * The rows with the given primary keys (canonical values), in no particular order, read without
   * locks; keys the source lacks are left out. Used by checksums (src/checksum) to look keys up.
   */
  readRowsByKeys?(table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]>;
  /**
   * Every row of `table` (a table without a primary key), in no particular order, handed to
   * `onRows` in batches as they arrive, read without locks in one statement (one consistent
   * snapshot). Used by checksums, which compare such tables as multisets.
   */
  scanRows?(table: TableSchema, onRows: (rows: Row[]) => void | Promise<void>): Promise<void>;
  /**
   * The digest (ChunkDigest) of the rows `readChunk(table, range)` would return, in one query on
   * the server, as readChunk reads (same session settings, same snapshot discipline), without
   * sending the rows. The contract checksums rely on: two digests of the same `format` are equal
   * only when both sides' readChunk would return the same texts for the same rows, so that, for
   * columns of the same declared types (the same decoding), the row comparison would find them
   * equal too. Undefined when the source cannot digest this table. Optional: checksums then read
   * rows (src/checksum/chunk.ts).
   */
  chunkDigest?(table: TableSchema, range: KeyRange): Promise<ChunkDigest | undefined>;
  /**
   * The same rows as `readChunk`, rendered by the source in `format`, or undefined when the source
   * cannot produce that format for this table, or for this chunk (a value the format cannot carry,
   * such as a MySQL zero date bound for PostgreSQL, which only the canonical path can refuse by name
   * or write by the target's policy); the copier then falls back to `readChunk`. The values must be
   * the ones `readChunk` gives, exactly, as the target reads them.
   */
  readChunkEncoded?(table: TableSchema, range: KeyRange, format: string): Promise<EncodedChunk | undefined>;
  /**
   * Changes from `from` on, for the given tables, in source order, until `signal` aborts. The
   * iterator applies backpressure: the source stops reading while the consumer does not pull.
   */
  stream(from: string, tables: readonly TableSchema[], signal: AbortSignal): AsyncIterable<StreamEvent>;
  /**
   * The target committed everything up to `position` (a position this source produced: from
   * currentPosition() or a commit, truncate, ddl or heartbeat event). Called by the applier right
   * after the target transaction holding that checkpoint committed, never before: a source that
   * retains history for its consumer (a PostgreSQL replication slot) may then discard what lies
   * before it, so acknowledging anything the target has not committed loses it on a crash.
   * Positions only move forward; an older one is ignored. Optional: sources that keep nothing
   * for their consumer (a MySQL binlog) need not implement it.
   */
  acknowledge?(position: string): Promise<void>;
  /**
   * Ends the consistent snapshot that currentPosition() opened for the initial copy (PostgreSQL:
   * the replication slot's exported snapshot, read by every chunk read). Called once the initial
   * copy is done. While a snapshot is held, readChunk/chunkBoundary read it and stream() waits
   * before reading anything: the copy is exact at the position, and a change applied before the
   * chunk holding its key was written would be overwritten by the chunk's older image. Idempotent;
   * close() releases the snapshot too. Optional: sources without snapshots ignore it.
   */
  releaseSnapshot?(): Promise<void>;
  /**
   * Scans a table's values for what a target of another engine may not hold (one query per table;
   * run at preflight, before anything is written). Sources whose values every target holds omit it.
   */
  valueStats?(table: TableSchema): Promise<ColumnValueStats[]>;
  /**
   * Makes the source refuse writes, for a cutover (`tributary move --cutover read-only`), and
   * returns what it set and how to restore it. Sessions with the privilege to write anyway (MySQL
   * READ ONLY ADMIN or SUPER, a PostgreSQL session that set its own default) are not stopped: the
   * final checksum of a move finds what they wrote. Optional: a source without it offers only the
   * user's own cutover command.
   */
  stopWrites?(): Promise<{ readonly description: string; restore(): Promise<void> }>;
  /** Negative, zero or positive as `a` is before, at or after `b`. */
  comparePositions(a: string, b: string): number;
  /** A short human form of a position for logs and status. */
  describePosition(position: string): string;
}
