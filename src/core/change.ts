import { ErrorCode, TributaryError } from './errors.js';
import type { SchemaOperation } from './schema-change.js';
import type { TableSchema } from './schema.js';
import type { Row, Value } from './values.js';

/**
 * One row change, as the stream delivers it. An UPDATE becomes an upsert of the new image; an
 * UPDATE that changes the primary key becomes a delete of the old key followed by an upsert.
 *
 * `unchanged` (upserts only) lists indexes into `row` (and the table's columns) whose new value
 * the source does not know because the UPDATE did not change them: PostgreSQL sends no value for
 * an unchanged TOASTed column under REPLICA IDENTITY DEFAULT. Their `row` slots hold null as a
 * placeholder that must never be written. A target applies such a change as an UPDATE of the
 * other columns of the row with that key; when no row has the key it writes nothing (that only
 * happens while the copy has not reached the key yet, and the copy then brings the whole row).
 * Absent or empty: `row` is the full image.
 *
 * A table without any key (core/schema.ts isKeyless) has the whole row image as `key` (rowKey): a
 * delete removes one row equal to it, an upsert is a plain insert (duplicates are rows), an UPDATE
 * always arrives as delete of the old image plus insert of the new, and nothing coalesces them.
 */
export type Change =
  | {
      readonly kind: 'upsert';
      readonly table: string;
      readonly key: Value[];
      readonly row: Row;
      readonly unchanged?: readonly number[];
      readonly doc?: undefined;
    }
  | {
      readonly kind: 'upsert';
      readonly table: string;
      readonly key: Value[];
      /** The new image as its JSON object only, as asked (core/change-log.ts StreamRequest.documents). */
      readonly doc: Buffer;
      readonly row?: undefined;
      readonly unchanged?: undefined;
    }
  | { readonly kind: 'delete'; readonly table: string; readonly key: Value[] };

/**
 * An upsert's new image as values. An upsert that carries its image as a JSON document only
 * (`doc`) reaches only a consumer that asked for documents (core/change-log.ts
 * StreamRequest.documents) and reads `doc`: anything else reading its row is a bug, and throws.
 */
export function rowOf(c: Extract<Change, { kind: 'upsert' }>): Row {
  if (c.row === undefined) throw new TributaryError(ErrorCode.INTERNAL, `an upsert of table ${c.table} carries its row as a JSON document only, and this consumer reads values; fix: ask for documents only where the consumer writes them (a bug: please report it)`);
  return c.row;
}

/**
 * Coalesces two changes of the same key, `next` after `prev`: the last image wins, except that
 * columns `next` leaves unchanged keep `prev`'s value when `prev` is an upsert (the result is a
 * full image when `prev` was one), and a partial image after a delete leaves the delete (it
 * updates the row with its key, and there is none). Whoever coalesces changes per key
 * (src/stream/batch.ts) must use this rather than drop `prev`: dropping it would lose the values
 * of unchanged columns, or the delete.
 */
export function coalesce(prev: Change | undefined, next: Change): Change {
  if (next.kind !== 'upsert' || !next.unchanged?.length || prev === undefined) return next;
  // Only a primary-key update whose unchanged values the source could no longer read follows a
  // delete of its new key without an insert in between (engines/postgres/stream.ts fillUnchanged).
  if (prev.kind === 'delete') return prev;
  const prevRow = rowOf(prev);
  const row = next.row.slice();
  const still: number[] = [];
  const prevUnchanged = new Set(prev.unchanged ?? []);
  for (const i of next.unchanged) {
    if (prevUnchanged.has(i)) still.push(i);
    else row[i] = prevRow[i] ?? null;
  }
  return still.length ? { ...next, row, unchanged: still } : { kind: 'upsert', table: next.table, key: next.key, row };
}

/**
 * What a ChangeSource's stream yields, in source order. Row changes of one source transaction
 * come between its `begin` and `commit`; a `commit` carries the position to resume *after* it.
 */
export type StreamEvent =
  | { readonly type: 'begin' }
  | {
      readonly type: 'change';
      readonly change: Change;
      /** The source statement behind the change, where the source tells (metrics only: an upsert applies the same either way). */
      readonly op?: 'insert' | 'update' | 'delete';
      /**
       * The whole row before an UPDATE (on the upsert of its new image) or a DELETE, as the
       * consumer asked (core/change-log.ts StreamRequest.oldImages): by default, from a source whose
       * change log does not carry its referential actions (SourceCapabilities.logsCascades false),
       * for the tables a foreign key references with such an action: the applier derives the
       * cascades from it (schema/foreign-keys.ts cascadesOf). An UPDATE that changed the key
       * carries it on its upsert, not on the delete of the old key.
       */
      readonly before?: Row;
    }
  | {
      readonly type: 'commit';
      /** Opaque resume position after this transaction. */
      readonly position: string;
      /** Source commit time, ms since epoch. */
      readonly timestamp: number;
    }
  /** All rows of a table were removed; applied at this point of the stream. */
  | { readonly type: 'truncate'; readonly table: string; readonly position: string; readonly timestamp: number }
  /**
   * A schema change of synced tables: the statement as the source wrote it (or described it), at
   * `position` (the position just after it). Once the source parsed it (MySQL), `operations` are its
   * typed operations (core/schema-change.ts) and `before`/`after` the touched tables' definitions
   * before and after it (the source decodes later rows with `after`): the applier then applies it
   * to the target under the sync's DDL policy. Without `operations` the source could not parse it:
   * the applier stops the sync on it (TRIB_DDL_UNSUPPORTED) unless it is a replay of a change
   * already in effect.
   */
  | {
      readonly type: 'ddl';
      readonly tables: string[];
      readonly statement: string;
      readonly position: string;
      readonly operations?: readonly SchemaOperation[];
      readonly before?: ReadonlyMap<string, TableSchema>;
      readonly after?: ReadonlyMap<string, TableSchema>;
      /** Why the statement cannot be followed, when the source parsed it and found that (the applier stops on it, naming this). */
      readonly unsupported?: string;
      /**
       * Tables (names in `after`) the statement brought into the selection with rows the change
       * log does not carry (a table renamed in from outside it, CREATE TABLE … LIKE an unsynced
       * table, CREATE TABLE … SELECT): `operations` create them with the source catalogue's
       * definition, and the applier has the copier copy their rows while the stream runs
       * (SchemaChange.recopy, CopyControl.add). Absent: none.
       */
      readonly adopt?: readonly string[];
    }
  /**
   * The source is idle and caught up at `position`. A heartbeat at a position already received
   * adds no boundary: it only shows the source alive. `nextWithinMs`: while its connection lives,
   * the source sends some event at least this often (a binlog heartbeat when idle); after a longer
   * silence it is not known to be caught up, and the lag counts from the last event taken.
   */
  | { readonly type: 'heartbeat'; readonly position: string; readonly timestamp: number; readonly nextWithinMs?: number };
