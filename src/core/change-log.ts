import type { StreamEvent } from './change.js';
import type { TableSchema } from './schema.js';

/** What a consumer asks of a stream beyond its tables (ChangeLog.stream). */
export interface StreamRequest {
  /**
   * Which changes carry the row's old image (`before` of a change event, core/change.ts), from a
   * source whose change log has it:
   * - 'cascades' (the default): the UPDATEs and DELETEs of tables that a foreign key among `tables`
   *   references with a referential action, where the source does not log its cascades
   *   (SourceCapabilities.logsCascades false): what the applier derives them from. A source may
   *   skip reading the other old images' values beyond their key (MySQL reads past them).
   * - 'whole': every UPDATE and DELETE, for consumers that judge old rows (row filters) or keep
   *   the stream for unknown readers (the relay).
   * A source may always give more than asked, never less.
   */
  readonly oldImages?: 'cascades' | 'whole';
  /**
   * Upserts may carry their new image as its JSON object (core/json-row.ts writeRow, rendered with
   * the source engine's ValueConventions) in `doc` instead of its values in `row` (core/change.ts):
   * asked by a consumer that writes rows as those objects and reads no values (the applier, for a
   * target with TargetCapabilities.rowDocuments, when nothing transforms the rows). A source renders
   * them where it decodes rows (MySQL: in its decoding thread), so neither the values' hand-over nor
   * their rendering costs the consumer's thread. It never renders an upsert whose old image it gives
   * whole (the applier reads a cascade's new values). A source may ignore it: each upsert says
   * which form it has.
   */
  readonly documents?: boolean;
}

/**
 * The change log of a source (part of ChangeSource): positions, the stream of changes from a
 * position, and the acknowledgements that let the source discard what the target committed.
 *
 * Positions are opaque strings outside the source: only the source encodes, parses and compares
 * them. Lifecycle: used between the source's `connect()` and `close()` (SourceAdmin). Every member
 * is present; what the source lacks, its `capabilities` (SourceAdmin) say.
 */
export interface ChangeLog {
  /**
   * The position a stream started now would begin at. `wholeTables` names tables the initial copy
   * will read whole (tables without a key: core/schema.ts isKeyless), which must be read at exactly
   * this position, since their stream changes cannot be matched to chunks by key: the source then
   * opens a consistent snapshot at the position it returns (MariaDB: START TRANSACTION WITH
   * CONSISTENT SNAPSHOT and its binlog_snapshot_file/position; PostgreSQL: the slot's exported
   * snapshot, which every chunk read uses anyway), read by readChunk of those tables until
   * releaseSnapshot(). A source that cannot throws TRIB_TABLE_UNSUPPORTED naming the tables.
   */
  currentPosition(opts?: { readonly wholeTables?: readonly string[] }): Promise<string>;
  /**
   * The position of the latest change the source has logged (binlog end, WAL insert position), read
   * without side effects: no slot, no snapshot. A stream that has applied up to it has applied
   * every change a read made before this call saw. Throws `notSupported` when
   * `capabilities.reportsHead` (SourceAdmin) is false: the continuous checksum then waits for an
   * idle stream instead.
   */
  headPosition(): Promise<string>;
  /**
   * Bytes of log the source server retains for this sync and would free once the sync
   * acknowledged them (PostgreSQL: WAL from the slot's restart_lsn to the current WAL position),
   * for monitoring; undefined when nothing is retained yet (no slot). Read-only, no side effects.
   * Sources that retain nothing for their reader (a MySQL binlog) return undefined and declare
   * `capabilities.retainsLog` false.
   */
  retainedBytes(): Promise<number | undefined>;
  /**
   * Throws POSITION_LOST when a stream can no longer start at `position` (purged binlog, lost slot).
   * A resuming sync may also prepare the source here (PostgreSQL: the publication follows the
   * synced tables); `readOnly` (check, dry run) decides only and changes nothing.
   */
  checkPosition(position: string, opts?: { readonly readOnly?: boolean; readonly otherServer?: string }): Promise<void>;
  /**
   * Changes from `from` on, for the given tables, in source order, until `signal` aborts. Each step
   * yields a run of events: those the source has at hand, in order, never none. Runs carry no
   * meaning (a transaction may span several, one may hold several): they spare the consumer an
   * asynchronous step per event, a fifth of an applying thread's time when every event took one. A
   * consumer has dealt with every event of a run when it asks for the next. The iterator applies
   * backpressure: the source stops reading while the consumer does not pull.
   */
  stream(from: string, tables: readonly TableSchema[], signal: AbortSignal, opts?: StreamRequest): AsyncIterable<readonly StreamEvent[]>;
  /**
   * A stream is expected soon (a sync whose session is opening; a standby's warm source, which
   * may be elected at any moment): do
   * now, off the stream's path, what would delay its start (MySQL: start its decoding thread and
   * load its modules, ~0.2 s). Cheap, synchronous and idempotent; reads nothing from the source and
   * keeps nothing that stops the process exiting; close() releases what it prepared. Sources with
   * nothing to prepare do nothing.
   */
  prepareStream(): void;
  /**
   * The target committed everything up to `position` (a position this source produced: from
   * currentPosition() or a commit, truncate, ddl or heartbeat event). Called by the applier right
   * after the target transaction holding that checkpoint committed, never before: a source that
   * retains history for its consumer (a PostgreSQL replication slot) may then discard what lies
   * before it, so acknowledging anything the target has not committed loses it on a crash.
   * Positions only move forward; an older one is ignored. Sources that keep nothing for their
   * consumer (a MySQL binlog) do nothing. Called whatever `capabilities.retainsLog` says.
   */
  acknowledge(position: string): Promise<void>;
  /** Negative, zero or positive as `a` is before, at or after `b`. */
  comparePositions(a: string, b: string): number;
  /** A short human form of a position for logs and status. */
  describePosition(position: string): string;
}
