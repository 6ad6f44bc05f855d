import type { Readable } from 'node:stream';
import type { ComparableForm } from './comparable.js';
import type { TableSchema } from './schema.js';
import type { Row, Value } from './values.js';

/** A half-open key range for a chunk: keys > `after` (or from the start) and ≤ `upTo` (or to the end). */
export interface KeyRange {
  readonly after: Value[] | null;
  readonly upTo: Value[] | null;
}

/**
 * The order in which the initial copy walks a table's keys (`copyOrder`): ascending from the
 * start, or descending from the end (Ghostferry's descending iteration: the most recent rows first
 * when the key grows with time). Chunks are KeyRanges either way; only the walk turns around.
 */
export type CopyOrder = 'asc' | 'desc';

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
 * A digest of one chunk computed inside the database (ChangeSource.chunkDigest,
 * Target.chunkDigest): the row count and a hash over the exact text the side's readChunk decodes,
 * rendered unambiguously (NULL, '' and 'N' apart): an order-independent sum of per-row hashes, or
 * one hash of the rows in key order (readChunk's order).
 */
export interface ChunkDigest {
  readonly rows: number;
  /** Opaque; equal only for the same rendered rows (up to hash collisions). */
  readonly digest: string;
  /**
   * The digest's recipe and everything its rendering depends on (e.g. 'mysql-sha1-v4
   * time_zone=+00:00'). Two digests compare only when their formats are equal.
   */
  readonly format: string;
}

/**
 * The snapshot reader of a source (part of ChangeSource): reads the tables' rows, in chunks by
 * primary key, for the initial copy and for checksums. Reads take no locks.
 *
 * Lifecycle: used between the source's `connect()` and `close()` (SourceAdmin). Every member is
 * present; what the source lacks, its `capabilities` (SourceAdmin) say.
 */
export interface SnapshotReader {
  /** Estimates of the table's row count (for progress) and average row size (for chunk sizing). */
  tableStats(table: string): Promise<{ rows: number; avgRowBytes: number }>;
  /**
   * The far end of the next chunk of at most `size` rows, in primary-key order as the database
   * orders the key (collations included), read without locks as readChunk reads.
   *
   * - `order` 'asc' (the default): `from` is the chunk's exclusive lower bound (null: the start of
   *   the table); returns its inclusive upper bound, the key of the `size`-th row after `from`, or
   *   null when fewer than `size` rows remain (the chunk runs to the end of the table). The chunk is
   *   the KeyRange `{ after: from, upTo: result }`.
   * - `order` 'desc': `from` is the chunk's inclusive upper bound (null: the end of the table);
   *   returns its exclusive lower bound, the key of the row just below the `size` highest rows at or
   *   below `from` (the (size+1)-th counting down), or null when at most `size` rows lie there (the
   *   chunk runs from the start of the table). The chunk is the KeyRange `{ after: result, upTo: from }`.
   *
   * Either way the returned bound, passed back as `from` with the same order, continues the walk
   * with no key skipped and none read twice.
   */
  chunkBoundary(table: TableSchema, from: Value[] | null, size: number, order?: CopyOrder): Promise<Value[] | null>;
  /** Rows in `range`, in primary-key order, read without locks, as canonical values. */
  readChunk(table: TableSchema, range: KeyRange): Promise<Row[]>;
  /**
   * The rows with the given primary keys (canonical values), in no particular order, read without
   * locks; keys the source lacks are left out. Used by checksums (src/checksum) to look keys up.
   * Throws `notSupported` when `capabilities.checksumReads` is false.
   */
  readRowsByKeys(table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]>;
  /**
   * Every row of `table` (a table without a primary key), in no particular order, handed to
   * `onRows` in batches as they arrive, read without locks in one statement (one consistent
   * snapshot). Used by checksums, which compare such tables as multisets. Throws `notSupported`
   * when `capabilities.checksumReads` is false.
   */
  scanRows(table: TableSchema, onRows: (rows: Row[]) => void | Promise<void>): Promise<void>;
  /**
   * The digest (ChunkDigest) of the rows `readChunk(table, range)` would return, in one query on
   * the server, as readChunk reads (same session settings, same snapshot discipline), without
   * sending the rows. The contract checksums rely on: two digests of the same `format` are equal
   * only when both sides' readChunk would return the same texts for the same rows, so that, for
   * columns of the same declared types (the same decoding), the row comparison would find them
   * equal too. Undefined when the source cannot digest this table. Throws `notSupported` when
   * `capabilities.chunkDigest` is false: checksums then read rows (src/checksum/chunk.ts).
   *
   * With `forms` (one per column of `table`), the digest is of the rows rendered in those
   * comparable forms (core/comparable.ts), format COMPARABLE_DIGEST, which a digest by another
   * engine compares with; undefined when a column cannot be rendered in its form, or the session
   * would render one differently.
   */
  chunkDigest(table: TableSchema, range: KeyRange, forms?: readonly ComparableForm[]): Promise<ChunkDigest | undefined>;
  /**
   * The same rows as `readChunk`, rendered by the source in `format`, or undefined when the source
   * cannot produce that format for this table, or for this chunk (a value the format cannot carry,
   * such as a MySQL zero date bound for PostgreSQL, which only the canonical path can refuse by name
   * or write by the target's policy); the copier then falls back to `readChunk`. The values must be
   * the ones `readChunk` gives, exactly, as the target reads them. Undefined, too, for a format
   * outside `capabilities.encodedFormats` (the copier never asks for one).
   */
  readChunkEncoded(table: TableSchema, range: KeyRange, format: string): Promise<EncodedChunk | undefined>;
  /**
   * Ends the consistent snapshot that currentPosition() opened for the initial copy (PostgreSQL:
   * the replication slot's exported snapshot, read by every chunk read). Called once the initial
   * copy is done. While a snapshot is held, readChunk/chunkBoundary read it and stream() waits
   * before reading anything: the copy is exact at the position, and a change applied before the
   * chunk holding its key was written would be overwritten by the chunk's older image. Idempotent;
   * close() releases the snapshot too. A source without snapshots does nothing.
   */
  releaseSnapshot(): Promise<void>;
}
