import type { LogicalType } from './logical.js';
import type { TypeRef } from './user-types.js';

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
   * A PostgreSQL column declared with a user-defined or extension type (a domain, an enum, a
   * composite, a range, citext, hstore, …) or an array of one: the type's description down to the
   * built-in types (core/user-types.ts), so a PostgreSQL target creates the same types (or the
   * extension) before the table. Undefined for a column of a built-in type. `dataType` and
   * `logical` stay what the values are (a domain's base type), which other engines map by.
   */
  readonly userType?: TypeRef;
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
  /**
   * Every secondary index (not the primary key) by the source's name, unique or not, as the source
   * described it and as schema changes since changed it (schema/apply.ts). A schema change that
   * names an index (DROP INDEX) is resolved through it. Absent: not known (a table built by hand, or
   * a definition stored before indexes were described).
   */
  readonly indexes?: readonly IndexDefinition[];
  /** Generated (computed) columns, not written by tributary. */
  readonly generated: readonly string[];
  /** The source's own CREATE statement, for a target of the same engine. */
  readonly createStatement?: string;
  /** Engine of the source that described the table ('mysql', 'postgres'). */
  readonly engine: string;
}

/** A secondary index of a table, as its source names it. */
export interface IndexDefinition {
  readonly name: string;
  /**
   * Its columns by name, in index order. Parts that are no column (an expression, a MySQL 8
   * functional part) are left out, so an index over expressions only has none.
   */
  readonly columns: readonly string[];
  readonly unique: boolean;
}

/**
 * The index of `table` named `name`: exactly, else ignoring case (MySQL's index names ignore case;
 * PostgreSQL's operations name them exactly). Undefined when the table has no such index or its
 * indexes are not known (`table.indexes` absent).
 */
export function indexNamed(table: TableSchema, name: string): IndexDefinition | undefined {
  const all = table.indexes ?? [];
  return all.find((i) => i.name === name) ?? all.find((i) => i.name.toLowerCase() === name.toLowerCase());
}

export function keyColumns(table: TableSchema): Column[] {
  return table.primaryKey.map((i) => {
    const c = table.columns[i];
    if (!c) throw new Error(`primary key index ${i} out of range for ${table.name}`);
    return c;
  });
}
