import type { Requirement } from './check.js';
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
}

/**
 * The admin side of a source (part of ChangeSource): who it is, what it holds, what it requires,
 * and the cutover's stop on writes. No rows and no changes pass through here.
 *
 * Lifecycle: `connect()` once, then any of the other methods (of this and the source's other
 * roles), then `close()`.
 */
export interface SourceAdmin {
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
}
