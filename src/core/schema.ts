import type { LogicalType } from './logical.js';
import type { Value } from './values.js';

/**
 * The engine-neutral description of a table. Sources produce it from their catalogues; targets
 * render DDL from it. Rows are arrays aligned with `columns`, which hold only the columns that
 * are written (generated columns are computed by the target and live in `generated`).
 */
export interface Column {
  readonly name: string;
  /** The engine's data type, lower case: 'bigint', 'varchar', 'datetime', 'numeric', … */
  readonly dataType: string;
  /** The full declaration as the engine prints it: 'bigint(20) unsigned', 'varchar(10)', … */
  readonly columnType: string;
  readonly nullable: boolean;
  readonly unsigned: boolean;
  /** Character set for character columns; 'binary' for byte strings; undefined otherwise. */
  readonly charset?: string;
  readonly collation?: string;
  /** Fractional seconds precision for temporal columns, or scale for decimals. */
  readonly scale?: number;
  readonly precision?: number;
  /**
   * A PostgreSQL column of a user enum type (directly, through a domain, or as an array of it):
   * the type's labels in its sort order (pg_enum.enumsortorder), exactly as PostgreSQL spells
   * them. Targets create the same enum (PostgreSQL) or an ENUM in the same order (MySQL), so
   * values and their ordering stay the source's. Undefined for every other column.
   */
  readonly enumLabels?: readonly string[];
  /** The enum type's own name (pg_type.typname, unqualified) when `enumLabels` is set. */
  readonly enumType?: string;
  /**
   * A spatial column's declared SRID (MySQL 8 `SRID n`, MariaDB `REF_SYSTEM_ID=n`), when it
   * declares one other than 0. MySQL enforces it; MariaDB records it only, so values with other
   * SRIDs may be there.
   */
  readonly srid?: number;
  /**
   * What the column holds in no engine's words (core/logical.ts), from the engine that described
   * it (its types.ts toLogical). Every engine's describe fills it, and a sync's session fills it for
   * a table a caller built by hand when the registry knows its engine (engines/registry.ts
   * withLogicalTypes). A target of another dialect maps the column by it, and the checksum compares
   * values across dialects by it: both refuse a column without one by name.
   */
  readonly logical?: LogicalType;
}

export interface TableSchema {
  /** Unqualified name as the source spells it. */
  readonly name: string;
  readonly columns: readonly Column[];
  /** Indexes into `columns` of the primary key, in key order. */
  readonly primaryKey: readonly number[];
  /** Secondary unique indexes, as indexes into `columns` (absent or empty: none). */
  readonly uniqueKeys?: readonly (readonly number[])[];
  /** Generated (computed) columns, not written by tributary. */
  readonly generated: readonly string[];
  /** The source's own CREATE statement, for a target of the same engine. */
  readonly createStatement?: string;
  /** Engine of the source that described the table ('mysql', 'postgres'). */
  readonly engine: string;
  /**
   * The table's foreign keys as the source declares them (absent or empty: none). The session
   * keeps only those whose referenced table is synced too (schema/foreign-keys.ts
   * keepSyncedForeignKeys); a target creates them after the initial copy (TargetWriter
   * createForeignKeys), never with the table, and its tables in an order that satisfies them
   * (schema/foreign-keys.ts creationOrder).
   */
  readonly foreignKeys?: readonly ForeignKey[];
}

/** What a foreign key does to the referencing rows when the referenced key changes or goes. */
export type ForeignKeyRule = 'NO ACTION' | 'RESTRICT' | 'CASCADE' | 'SET NULL' | 'SET DEFAULT';

/**
 * One foreign key of a table, engine-neutral: columns by name (the referenced table's columns are
 * another table's), rules spelled as SQL spells them. A MySQL source fills name, columns and rules
 * (information_schema.REFERENTIAL_CONSTRAINTS + KEY_COLUMN_USAGE); a PostgreSQL source also
 * `deferrable`, `initiallyDeferred` and `match` (pg_constraint).
 */
export interface ForeignKey {
  /** The constraint's name on the source (MySQL: unique in the database; PostgreSQL: in the table). */
  readonly name: string;
  /** The referencing columns of this table, in constraint order. */
  readonly columns: readonly string[];
  /** The referenced table, unqualified (always in the same database or schema as this one). */
  readonly referencedTable: string;
  /** The referenced columns, aligned with `columns`. */
  readonly referencedColumns: readonly string[];
  readonly onUpdate: ForeignKeyRule;
  readonly onDelete: ForeignKeyRule;
  /** PostgreSQL: DEFERRABLE (false or absent: not deferrable, as on MySQL). */
  readonly deferrable?: boolean;
  /** PostgreSQL: INITIALLY DEFERRED. */
  readonly initiallyDeferred?: boolean;
  /** PostgreSQL: MATCH FULL / PARTIAL (absent: SIMPLE, the only kind MySQL has). */
  readonly match?: 'SIMPLE' | 'FULL' | 'PARTIAL';
}

/**
 * What a referential action does to the referencing rows of one table: rows whose `columns` equal
 * `from` get `to` (ON … CASCADE: the new referenced values; SET NULL: nulls), or are deleted
 * (ON DELETE CASCADE). A target renders it as one UPDATE or DELETE … WHERE columns = from
 * (TargetTransaction.cascade); schema/foreign-keys.ts cascadesOf derives it from a parent's row change.
 */
export type Cascade =
  | { readonly kind: 'update'; readonly table: string; readonly foreignKey: string; readonly columns: readonly string[]; readonly from: readonly Value[]; readonly to: readonly Value[] }
  | { readonly kind: 'delete'; readonly table: string; readonly foreignKey: string; readonly columns: readonly string[]; readonly from: readonly Value[] };

export function keyColumns(table: TableSchema): Column[] {
  return table.primaryKey.map((i) => {
    const c = table.columns[i];
    if (!c) throw new Error(`primary key index ${i} out of range for ${table.name}`);
    return c;
  });
}
