import type { Requirement } from './check.js';
import { ErrorCode, TributaryError } from './errors.js';
import type { TableSchema } from './schema.js';

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
  /**
   * The host:port in use when the source's URL names several hosts (docs/failover.md); absent
   * otherwise. Shown by the sync's status (`sourceHost`); never part of `id`.
   */
  readonly endpoint?: string;
}

/**
 * What a source can do; callers branch on these fields, never on engine names and never on whether
 * a method exists. Every member of the source's roles is present: one whose capability is false
 * throws `notSupported` (callers never reach it) or, where the docs of the member say so, has an
 * honest empty result.
 */
export interface SourceCapabilities {
  /**
   * The formats (core/formats.ts) `readChunkEncoded` can render, for some tables at least; empty
   * when it renders none. Read by the copier (copier/copier.ts readEncoded), which asks the source
   * only for formats both this list and the target's `chunkFormats` name, and reads canonical rows
   * otherwise.
   */
  readonly encodedFormats: readonly string[];
  /**
   * `chunkDigest` digests chunks on the server. Read by the checksum (checksum/chunk.ts
   * digestApplies, with the target's `chunkDigest`): false compares every chunk by its rows.
   */
  readonly chunkDigest: boolean;
  /**
   * `readRowsByKeys` and `scanRows` work. Read by the checksum: finding rows only the target has
   * (checksum/extras.ts, continuous.ts checkTargetOnlyRows) and comparing tables without a primary
   * key (checksum/multiset.ts) need them; without them verify refuses such tables by name and the
   * continuous checksum skips the extras walk.
   */
  readonly checksumReads: boolean;
  /**
   * `headPosition` reports what the source has logged. Read by the runner (status: sourceHead;
   * `--dry-run`'s start position, runner/plan.ts), by move (the final position after writes stop:
   * refused without it) and by the continuous checksum (checksum/continuous.ts), which waits for an
   * idle stream instead.
   */
  readonly reportsHead: boolean;
  /**
   * The source server retains log for this sync until it is acknowledged (a PostgreSQL slot), and
   * `retainedBytes` measures it. Read by the runner's status (Runner.sourceRetainedBytes: not
   * asked when false). `acknowledge` is called either way; it does nothing when this is false.
   */
  readonly retainsLog: boolean;
  /**
   * `stopWrites` can make the source refuse writes. Read by move (`--cutover read-only`): false
   * leaves only the user's own cutover command (`--cutover command`).
   */
  readonly stopWrites: boolean;
  /**
   * `valueStats` scans values a target of another engine may not hold. Read, together with the
   * target's `checkValues`, by the runner (before the first write), `--dry-run` (runner/plan.ts)
   * and `tributary check` (runner/check.ts): the scan runs only when both are true.
   */
  readonly valueStats: boolean;
  /**
   * The change log carries parsed schema changes: `ddl` events with their operations and the
   * tables' definitions before and after them (core/change.ts), and `stream` decodes each table
   * with the definition it is given (the versioned schema at the position) until a schema change
   * says otherwise. Read by the runner (runner/runner.ts): when true, it stores the tables'
   * definitions with the checkpoint and resumes the stream with them; when false, every resume
   * streams with the catalogue's definitions of now, and schema changes stop the sync unless the
   * target already matches them.
   */
  readonly schemaChanges: boolean;
  /**
   * The change log carries the rows a foreign key's referential action (ON UPDATE/DELETE CASCADE,
   * SET NULL) changed as row changes of their own (PostgreSQL: the action's triggers write rows
   * that pgoutput logs). False (MySQL/MariaDB: InnoDB runs cascades below the binlog, which logs
   * only the parent's row, measured on MariaDB 10.11): the stream's `change` events of an UPDATE or
   * DELETE carry `before`, and the applier (stream/applier.ts) applies the cascades itself through
   * `TargetTransaction.cascade`.
   */
  readonly logsCascades: boolean;
  /**
   * The snapshot reads honour `TableSchema.rowFilter` (core/schema.ts), rendering it in the
   * source's SQL. Read by the transform stage (transform/transform.ts): `--where` is refused for a
   * source without it.
   */
  readonly rowFilters: boolean;
  /**
   * Positions may name a place in the source's replication lineage rather than in one server's
   * log (MySQL/MariaDB GTIDs): `checkPosition` with `otherServer` decides whether another server
   * (a promoted replica) holds the checkpoint's history. Read by the resume rules
   * (checkpoint/checkpoint.ts assertResumable): when false, a checkpoint of another source
   * identity is refused with SOURCE_CHANGED without asking the source.
   */
  readonly lineagePositions: boolean;
}

/**
 * The error a seam member throws when the capability that announces it is false. Callers branch on
 * the capability first, so reaching it is a bug (INTERNAL).
 */
export function notSupported(member: string, side: 'source' | 'target', capability: string): TributaryError {
  return new TributaryError(ErrorCode.INTERNAL, `${member} is not supported by this ${side}; capabilities.${capability} is false`);
}

/**
 * The admin side of a source (part of ChangeSource): who it is, what it holds, what it requires,
 * and the cutover's stop on writes. No rows and no changes pass through here.
 *
 * Lifecycle: `connect()` once, then any of the other methods (of this and the source's other
 * roles), then `close()`. Every member is present; what a source lacks, its `capabilities` say.
 */
export interface SourceAdmin {
  readonly engine: string;
  readonly capabilities: SourceCapabilities;
  connect(): Promise<void>;
  close(): Promise<void>;
  /** Throws a TributaryError naming each unmet requirement (setting, value, fix). */
  preflight(): Promise<void>;
  /**
   * Every requirement preflight() checks, met or not, with its value and fix, plus warnings and
   * information (version, retention, GTID mode) that do not refuse a run; preflight() throws for
   * exactly the failing errors of this list. Reads only: creates no slot, publication or table.
   * A source that cannot list its requirements runs preflight() (which throws for the unmet ones)
   * and returns [].
   */
  check(): Promise<Requirement[]>;
  identity(): Promise<SourceIdentity>;
  /**
   * The source database's defaults, for a target database the sync creates; undefined where the
   * source has none a target could take (a PostgreSQL source, whose encoding and locale have no
   * MySQL names): the target chooses. `namespace`: in a sync of several databases (tables named
   * `db.table`, core/names.ts), the defaults of that source database; absent: the first synced one's.
   */
  databaseDefaults(namespace?: string): Promise<DatabaseDefaults | undefined>;
  /**
   * Names of the base tables of the source database that a sync may take: tables an online schema
   * change tool made for another table (its shadow, changelog or old copy) are left out.
   */
  listTables(): Promise<string[]>;
  /**
   * In a sync of several databases (a MySQL source's, or a PostgreSQL source's schemas:
   * --databases), every one the sync takes, whether it holds a table or not (a table created in
   * one while streaming needs its target namespace), under the source's names; [] in a sync of one.
   */
  listNamespaces(): Promise<string[]>;
  describe(table: string): Promise<TableSchema>;
  /**
   * Scans a table's values for what a target of another engine may not hold (one query per table;
   * run at preflight, before anything is written). Sources whose values every target holds return []
   * and declare `capabilities.valueStats` false, so that callers skip the scan.
   */
  valueStats(table: TableSchema): Promise<ColumnValueStats[]>;
  /**
   * Makes the source refuse writes, for a cutover (`tributary move --cutover read-only`), and
   * returns what it set and how to restore it. Sessions with the privilege to write anyway (MySQL
   * READ ONLY ADMIN or SUPER, a PostgreSQL session that set its own default) are not stopped: the
   * final checksum of a move finds what they wrote. Throws `notSupported` when
   * `capabilities.stopWrites` is false (the user's own cutover command is left).
   */
  stopWrites(): Promise<{ readonly description: string; restore(): Promise<void> }>;
}
