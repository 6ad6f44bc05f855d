import type { ComparableForm } from './comparable.js';
import type { TableSchema } from './schema.js';
import type { ChunkDigest, KeyRange } from './snapshot.js';
import type { Row, Value } from './values.js';

/**
 * The reader of a target (part of Target): reading the target back, for checksums (src/checksum).
 * `table` is the source's schema: rows come back aligned with `table.columns` (matched by name
 * with the target's columns), as canonical values of the target's own engine (core/values.ts: a
 * PostgreSQL target gives its numeric(20,0) as a string where a MySQL source gave a bigint);
 * comparing them with the source's is the caller's business. Key values passed in (`range`,
 * `keys`) are the source's canonical values, which the target renders for its key columns as its
 * write path renders them. Plain reads, no locks. Every member is present: `readChunk`,
 * `readRowsByKeys`, `readKeys` and `scanRows` throw `notSupported` when `capabilities.readBack`
 * (TargetWriter) is false (such a target cannot be verified), `chunkDigest` when
 * `capabilities.chunkDigest` is.
 */
export interface TargetReader {
  /** The target's own table count of rows. */
  countRows(table: TableSchema): Promise<number>;
  /**
   * The rows whose keys lie in `range`, in the target's key order. The same range
   * selects the same rows on both sides only when both order the key alike (see
   * src/checksum/plan.ts for the rule the checker follows).
   */
  readChunk(table: TableSchema, range: KeyRange): Promise<Row[]>;
  /**
   * As ChangeSource.chunkDigest, over the target's own copy of the table: the rows `readChunk(table,
   * range)` would return (columns aligned by name with `table.columns`, key values rendered as
   * readChunk renders them), digested in one query in the session readChunk reads in. Undefined
   * when the target cannot digest this table; its digests and a source's compare only when their
   * formats are equal. With `forms`, in comparable forms, as ChangeSource.chunkDigest: each column
   * of the target's own copy rendered in the form of the source's column it is aligned with.
   */
  chunkDigest(table: TableSchema, range: KeyRange, forms?: readonly ComparableForm[]): Promise<ChunkDigest | undefined>;
  /** The rows with the given primary keys, in no particular order; keys the target lacks are left out. */
  readRowsByKeys(table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]>;
  /**
   * Up to `limit` primary keys of the target's copy of `table`, in the target's key order, after
   * `after` (a key this method returned before, in the target's values; null: from the start).
   */
  readKeys(table: TableSchema, after: readonly Value[] | null, limit: number): Promise<Value[][]>;
  /**
   * Every row of the target's copy of `table` (a table without a primary key), in no particular
   * order, handed to `onRows` in batches as they arrive (memory stays bounded by a batch), read in
   * one statement (one consistent snapshot where the engine has them).
   */
  scanRows(table: TableSchema, onRows: (rows: Row[]) => void | Promise<void>): Promise<void>;
}
