import type { Change } from './change.js';
import type { Requirement } from './check.js';
import type { StreamCheckpoint, TableCheckpoint } from './checkpoint-store.js';
import type { TributaryError } from './errors.js';
import type { SchemaChange } from './schema-change.js';
import type { Cascade, TableSchema } from './schema.js';
import type { EncodedChunk } from './snapshot.js';
import type { ColumnValueStats, DatabaseDefaults } from './source-admin.js';
import type { Row } from './values.js';

/**
 * What a target can do; callers branch on these fields, never on engine names and never on whether
 * a method exists. Every member of the target's roles is present: one whose capability is false
 * throws `notSupported` (core/source-admin.ts; callers never reach it) or, where the docs of the
 * member say so, has an honest empty result.
 */
export interface TargetCapabilities {
  /**
   * Data and checkpoint commit atomically, in one transaction (a chunk with its table checkpoint, a
   * batch with its stream checkpoint): the exactly-once rule of DESIGN.md rests on it. Read by the
   * copier (copier/copier.ts) and the applier (stream/applier.ts), which refuse a target without it
   * (INTERNAL): no target tributary can drive today lacks it.
   */
  readonly atomicCheckpoint: boolean;
  /**
   * The encoded chunk formats `writeEncodedChunk` accepts, most preferred first (the cheapest to
   * load); empty when it accepts none. Read by the copier (copier/copier.ts readEncoded), which uses
   * the first one the target accepts for a table and the source renders.
   */
  readonly chunkFormats: readonly string[];
  /**
   * `chunkDigest` digests chunks on the server. Read by the checksum (checksum/chunk.ts
   * digestApplies, with the source's `chunkDigest`): false compares every chunk by its rows.
   */
  readonly chunkDigest: boolean;
  /**
   * The TargetReader reads the target back: `readChunk`, `readRowsByKeys`, `readKeys`, `scanRows`.
   * Read by the checksum (checksum/chunk.ts readChunkPair, extras.ts, multiset.ts, continuous.ts):
   * without it verify refuses each table by name and the continuous checksum skips the extras walk.
   * `countRows` is always there.
   */
  readonly readBack: boolean;
  /**
   * `checkValues` judges the value stats of a source of another engine. Read, together with the
   * source's `valueStats`, by the runner (before the first write), `--dry-run` (runner/plan.ts) and
   * `tributary check` (runner/check.ts): the source's scan runs only when both are true.
   */
  readonly checkValues: boolean;
  /**
   * `plannedDdl` renders the statements `ensureSchema` would run. Read by `--dry-run`
   * (runner/plan.ts): false prints no DDL.
   */
  readonly plannedDdl: boolean;
  /**
   * The target's DDL is transactional: `applySchemaChange` commits a schema change and its
   * checkpoint in one transaction (PostgreSQL). False: DDL commits on its own (MySQL), and
   * `applySchemaChange` makes its replay after a crash a no-op instead. Informational for callers:
   * the applier's rules are the same either way.
   */
  readonly transactionalDdl: boolean;
  /**
   * `createForeignKeys` creates the source's foreign keys, and the target's stream writes bypass
   * them (no check, no referential action: the source's cascades arrive as row changes or as
   * `TargetTransaction.cascade`). Read by the runner (runner/runner.ts), which creates them after
   * the initial copy under `--foreign-keys create`; false leaves them out, with a warning.
   */
  readonly foreignKeys: boolean;
  /**
   * `readChunk(table, range)` selects the rows a range of the source's key selects, wherever the
   * two engines order the key's values alike (checksum/plan.ts orderedAlike). False for a target
   * that orders keys otherwise whatever their type (etcd: by the bytes of the key's text, so 10
   * sorts before 9): read by the checksum's planner (checksum/plan.ts), which then compares every
   * table by the source's keys (mode `keys`), never by ranges of the target's.
   */
  readonly keyRanges: boolean;
  /**
   * Holds the tables of several source databases (or schemas) at once, each in a target namespace
   * of its name: table names qualified as `db.table` (core/names.ts) are written there. Read by the
   * session (runner/session.ts), which refuses `--databases` for a target without it, by name.
   */
  readonly namespaces: boolean;
  /**
   * The most changes one target commit can hold and stay one atomic write, or null for no limit
   * (SQL targets). Read by the applier (stream/applier.ts): it ends a batch before a source
   * transaction that would take it over the limit, so that each source transaction that fits is
   * applied whole by one commit; a larger one is written in several (the target's commit saves
   * the checkpoint in the last; while streaming, larger ones one after another share one commit
   * and its checkpoint, never with one that fits). etcd: its `--max-txn-ops` less the checkpoint's put.
   * Under a limit, the stream's commits overlap: a commit at a source transaction boundary returns
   * once the target has it in hand, and its acknowledgement and barriers follow when it lands; the
   * target keeps its commits in order (no checkpoint lands before what came before it).
   */
  readonly commitLimit: number | null;
  /**
   * `TargetTransaction.write` takes upserts that carry their row as its JSON object (core/change.ts
   * `doc`: core/json-row.ts writeRow's bytes, rendered with the source engine's conventions) and
   * writes those bytes as the row's value, reading none of its values. Read by the applier
   * (stream/applier.ts), which then asks its change log for them (StreamRequest.documents). etcd:
   * true; the SQL targets write values.
   */
  readonly rowDocuments: boolean;
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

/**
 * An open unit of work on the target. Changes may be written in several calls (a large source
 * transaction is spilled this way, bounding memory); nothing is visible until `commit`, which
 * saves `checkpoint` in the same transaction as the data. A checkpoint therefore advances only
 * after the target has applied the data it covers, and only at a source transaction boundary.
 * A target may hold writes back and send them with the commit (the MySQL target gathers a batch's
 * statements into one round trip): a write's failure may then be thrown by `commit`, which rolls
 * everything back as a failed write would have.
 */
export interface TargetTransaction {
  /**
   * Applies changes in order; every key appears at most once per call (the caller coalesces).
   * Every table written has its definition in `tables` and was readied (`ensureSchema`,
   * `prepareWrites`): a change of any other table is refused (INTERNAL), never skipped.
   */
  write(tables: ReadonlyMap<string, TableSchema>, changes: readonly Change[]): Promise<void>;
  /** Removes every row of `table` inside this transaction. */
  truncate(table: TableSchema): Promise<void>;
  /**
   * Applies what a referential action of the source did to the rows of `table` and the source did
   * not log (schema/foreign-keys.ts cascadesOf: MySQL/MariaDB run cascades inside InnoDB and log
   * only the parent's row): an UPDATE setting `cascade.columns` to `to` where they equal `from`, or
   * a DELETE of those rows. The caller writes every change that came before it in the source first.
   */
  cascade(table: TableSchema, cascade: Cascade): Promise<void>;
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

/**
 * A leadership's fence (coordinator mode: `--coordinator`, coordination/leadership.ts). With one,
 * `TargetWriter.lock()` takes no lock of the target's own: the target's fence record (a reserved
 * checkpoint row, an etcd key) holds the epoch of the leadership that writes it, and every write
 * compares it in its own transaction.
 */
export interface Fence {
  /**
   * The leadership's epoch: a decimal integer (as text, at most 19 digits) that only grows from
   * one leadership of a sync to the next (the leader key's create revision in etcd).
   */
  readonly epoch: string;
  /**
   * Throws TRIB_LOCK_LOST once this leadership may have ended by this process's own monotonic
   * clock (its lease may have expired unseen: self-fencing); the target calls it before each
   * commit's compare, so a leader that cannot renew stops writing before a standby can win.
   */
  check(): void;
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
  /**
   * A sync of several databases (tables named `db.table`, core/names.ts): each target namespace
   * (database or schema, after --database-rewrites) with its source database's defaults. The target
   * creates every one that is missing (even one with no table yet, so a table created in it while
   * streaming finds it), and recreates each under `recreate`. Absent: none.
   */
  readonly namespaces?: ReadonlyMap<string, DatabaseDefaults | undefined>;
  /**
   * The sync resumes from a checkpoint and `tables` are the definitions stored with it. A target
   * table that no longer matches its definition, because a schema change the stream has not
   * reached yet was applied to it by hand (the sync stopped there under `--ddl halt`, or is to go
   * on past it with `--skip-ddl`), is not refused here: it is made ready for writes when the stream
   * reaches that change (applySchemaChange), and a row written to it before then is refused by name.
   */
  readonly resumed?: boolean;
}

/**
 * The writer of a target (part of Target): what it can do and requires, its schema, the copy's
 * chunks and the stream's transactions.
 *
 * Lifecycle: `connect()`, `lock()`, then the rest, then `close()` (which releases the lock).
 * Everything before `ensureSchema()` only reads: a run refused by a preflight check (settings,
 * privileges, tables, a non-empty target) must leave the target exactly as it was. Every member is
 * present; what the target lacks, its `capabilities` say.
 */
export interface TargetWriter {
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
   *
   * With `fence` (coordinator mode) the target takes no lock of its own (another instance's may
   * still be held by a paused old leader); it takes the sync over for `fence.epoch` instead: in one
   * transaction it reads its fence record with a write lock (waiting for every transaction of an
   * older leader that compared it and has not committed yet), refuses with TRIB_FENCED when it holds
   * a higher epoch, and writes `fence.epoch` into it. From then on every commit (a batch, a chunk, a
   * checkpoint, a repair) calls `fence.check()` and compares the record with `fence.epoch` inside its
   * own transaction (a locking read, a key compare: never a read before the write), throwing
   * TRIB_FENCED, with nothing of it committed, once another epoch is there. A schema change that
   * commits implicitly compares it just before each statement. When the checkpoint store does not
   * exist yet (a target no sync has written), the takeover is the first thing `ensureSchema()`
   * writes after creating it. `watch` hears of nothing in this mode (the leadership's own watch
   * does). So a paused old leader cannot commit one write after the new leader's takeover.
   */
  lock(watch?: LockWatch, fence?: Fence): Promise<void>;
  /** Names of the given tables that exist on the target and hold at least one row. */
  nonEmptyTables(tables: readonly TableSchema[]): Promise<string[]>;
  /**
   * Refuses (TABLE_UNSUPPORTED, one entry per column with the reason and the override) values a
   * source reported that this target cannot hold exactly. Reads and writes nothing. Throws
   * `notSupported` when `capabilities.checkValues` is false.
   */
  checkValues(table: TableSchema, stats: readonly ColumnValueStats[]): void;
  /**
   * What the target requires and offers for `tables` (the source's schemas): version, the
   * privileges to create tables and write, free space where it can be read, every column that
   * cannot be mapped (`table` set, severity error, the override as fix) and the mapping of each
   * column that needs a policy (`mapping` set). Reads only: creates nothing, not even the
   * checkpoint table. A target that cannot tell returns [] (it is checked when the sync writes).
   * `namespaces`: a sync of several databases' target databases (schemas) with their source's
   * defaults (SchemaOptions.namespaces), each checked as the target's own: exists or may be
   * created, may be written.
   */
  check(tables: readonly TableSchema[], database?: DatabaseDefaults, namespaces?: ReadonlyMap<string, DatabaseDefaults | undefined>): Promise<Requirement[]>;
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
   * "database shop_copy (every table in it)". `namespaces`: the target databases (schemas) a sync
   * of several writes (SchemaOptions.namespaces' keys), which --force drops too. Reads nothing.
   */
  recreateScope(namespaces?: readonly string[]): string;
  /**
   * The statements `ensureSchema(tables, opts)` would run, rendered and not run (`sync --dry-run`).
   * Reads only; refuses what ensureSchema would refuse (a type that cannot be mapped). Lines that
   * start with `--` are notes, not statements. Throws `notSupported` when `capabilities.plannedDdl`
   * is false (a dry run then prints no DDL).
   */
  plannedDdl(tables: readonly TableSchema[], opts: SchemaOptions): Promise<string[]>;
  /**
   * Readies existing tables for `begin()` writes without creating or altering anything, for a
   * writer that did not run `ensureSchema()` in this process (`tributary verify --repair`). Throws
   * TABLE_UNSUPPORTED when a table is missing or its key differs from the source's. A target whose
   * writes need no readying does nothing.
   */
  prepareWrites(tables: readonly TableSchema[]): Promise<void>;
  /** The target's definition of a table, or null when it does not exist. */
  describe(table: string): Promise<TableSchema | null>;
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
   * canonical rows (`readChunk`) and call `writeChunk` instead. Never asked for a format outside
   * `capabilities.chunkFormats`.
   */
  acceptsEncoded(table: TableSchema, format: string): boolean;
  /**
   * As `writeChunk`, for a chunk in one of `capabilities.chunkFormats` that `acceptsEncoded`
   * accepted. Throws `notSupported` when `capabilities.chunkFormats` is empty.
   */
  writeEncodedChunk(table: TableSchema, chunk: EncodedChunk, commit: ChunkCommit): Promise<void>;
  begin(): Promise<TargetTransaction>;
  /**
   * Applies one schema change of the source (core/schema-change.ts) in stream order, between the
   * batches before and after it (the caller committed everything before it), and saves `checkpoint`
   * (the position just after the statement) with `change.after` as the tables' versioned schemas
   * (checkpoint/rows.ts schemaRowName; rows of tables dropped or renamed away are removed, a renamed
   * table's copy checkpoint row follows its name).
   *
   * Rendering: a target of the source's engine renders each operation from its `sourceText` under
   * its own table names, so the definitions stay the source's exactly; another engine renders the
   * operations through the logical types (core/logical.ts). An operation it cannot render (a default
   * expression of another engine, a partition clause it has no counterpart for is skipped, not
   * refused) throws DDL_UNSUPPORTED naming the statement, the operation and the fix, before
   * anything runs.
   *
   * Atomicity: with `capabilities.transactionalDdl`, the DDL and the checkpoint commit in one
   * transaction. Without it, the DDL runs first and the checkpoint commits after it; a crash between
   * them replays the statement on restart, and the replay finds each operation in effect (a column
   * already added, dropped, renamed; an index there; tables already swapped) and skips it, so a
   * replay neither applies anything twice nor fails.
   */
  applySchemaChange(change: SchemaChange, checkpoint: StreamCheckpoint): Promise<void>;
  /**
   * The tables of `change` (names in `change.after`) whose rows this target cannot bring to their
   * definition after the change by itself, asked before `applySchemaChange`: the applier puts them
   * in `change.recopy`, so their copy checkpoints go with the change's checkpoint, and the copier
   * reads them again from the source while the stream runs (stream/applier.ts followSchemaChange).
   * A SQL target converts its rows itself (none); etcd, which stores values without types, names a
   * table whose column got a default, a narrower or other type, or an unmovable key
   * (engines/etcd/ddl.ts). Reads nothing; throws DDL_UNSUPPORTED as applySchemaChange would.
   */
  recopyAfter(change: SchemaChange): readonly string[];
  /**
   * Creates the foreign keys of `tables` (TableSchema.foreignKeys, each referencing one of
   * `tables`) that the target does not have yet, by name, and returns the names it created
   * (`table.name`). Called after the initial copy, while the stream writes: it neither waits for
   * nor checks rows the stream has yet to bring (the source had them consistent), so a target
   * validates what it adds only where that cannot fail on rows in flight. Idempotent: a run
   * resumed after a crash between the copy and this call creates what is missing. Throws
   * `notSupported` when `capabilities.foreignKeys` is false.
   */
  createForeignKeys(tables: readonly TableSchema[]): Promise<string[]>;
  /**
   * Called once a table's initial copy has committed its last chunk (in this run; not for a table
   * found copied at resume), while the stream writes: the target readies the table for the
   * stream's keyed writes. A SQL target whose planner works from statistics that a bulk load left
   * stale gathers them here (PostgreSQL: ANALYZE; without it the stream's first keyed deletes and
   * updates of a freshly loaded table scan it whole until autovacuum analyzes it, up to a minute
   * later). Neither blocks nor waits for the stream's writes. A failure is the caller's to log:
   * the data is unaffected.
   */
  tableCopied(table: TableSchema): Promise<void>;
}
