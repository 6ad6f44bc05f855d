import type { Row, Value } from './values.js';

/**
 * One row change, as the stream delivers it. An UPDATE becomes an upsert of the new image; an
 * UPDATE that changes the primary key becomes a delete of the old key followed by an upsert.
 */
export type Change =
  | { readonly kind: 'upsert'; readonly table: string; readonly key: Value[]; readonly row: Row }
  | { readonly kind: 'delete'; readonly table: string; readonly key: Value[] };

/**
 * What a ChangeSource's stream yields, in source order. Row changes of one source transaction
 * come between its `begin` and `commit`; a `commit` carries the position to resume *after* it.
 */
export type StreamEvent =
  | { readonly type: 'begin' }
  | { readonly type: 'change'; readonly change: Change }
  | {
      readonly type: 'commit';
      /** Opaque resume position after this transaction. */
      readonly position: string;
      /** Source commit time, ms since epoch. */
      readonly timestamp: number;
    }
  /** All rows of a table were removed; applied at this point of the stream. */
  | { readonly type: 'truncate'; readonly table: string; readonly position: string; readonly timestamp: number }
  /** A DDL statement on a synced table. */
  | { readonly type: 'ddl'; readonly tables: string[]; readonly statement: string; readonly position: string }
  /** The source is idle and caught up at `position`. */
  | { readonly type: 'heartbeat'; readonly position: string; readonly timestamp: number };
