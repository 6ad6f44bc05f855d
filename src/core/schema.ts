import type { LogicalType } from './logical.js';
import type { RowFilter } from './row-filter.js';
import type { SchemaOperation } from './schema-change.js';
import type { TypeRef } from './user-types.js';
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
  /**
   * Indexes into `columns` of the key rows are synced by, in key order: the primary key, or, for a
   * table without one, a unique key whose columns are all NOT NULL (then `keyFromUnique` is set;
   * see keyedTable). Empty: the table has no key at all (a keyless table).
   */
  readonly primaryKey: readonly number[];
  /**
   * `primaryKey` is not a primary key but the table's first unique key whose columns are all NOT
   * NULL (the same key is also one of `uniqueKeys`). Targets create it as that unique key, not as a
   * primary key the source does not have. Absent: `primaryKey` is the table's own primary key.
   */
  readonly keyFromUnique?: boolean;
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
  /**
   * Set on the definition of an online schema change tool's shadow table (a copy of a synced table
   * that the tool alters, fills and swaps in; engines/mysql/osc.ts): the synced table it is the
   * shadow of, and the schema operations run on it so far, which its swap applies to that table. A
   * shadow is kept in the versioned schema beside the synced tables (checkpoint/rows.ts), so that a
   * sync restarted in the middle of a tool's run still follows its swap; it is never created on,
   * copied to or checked against the target.
   */
  readonly shadowOf?: { readonly table: string; readonly operations: readonly SchemaOperation[] };
  /**
   * The table's foreign keys as the source declares them (absent or empty: none). The session
   * keeps only those whose referenced table is synced too (schema/foreign-keys.ts
   * keepSyncedForeignKeys); a target creates them after the initial copy (TargetWriter
   * createForeignKeys), never with the table, and its tables in an order that satisfies them
   * (schema/foreign-keys.ts creationOrder).
   */
  readonly foreignKeys?: readonly ForeignKey[];
  /**
   * Set only on the definitions the transform stage (transform/transform.ts) hands to a source's
   * snapshot reads (SnapshotReader: readChunk, chunkDigest, readChunkEncoded, readRowsByKeys,
   * scanRows; not chunkBoundary, whose chunks stay ranges of keys): those reads return, digest and
   * encode only the rows for which it is TRUE, rendering it in the source's SQL (core/row-filter.ts).
   * A source whose `capabilities.rowFilters` is false is never given one. Never stored, never on a
   * definition a target sees.
   */
  readonly rowFilter?: RowFilter;
  /**
   * The source's own definition of the table, on a definition the transform stage changed
   * (transform/view.ts: the table renamed by --table-rewrites, columns left out by
   * --exclude-columns): the source reads and decodes with it, while consumers and the target see
   * this one. Stored with the checkpoint like the rest of the definition, so a resumed stream
   * decodes with the source's columns as they were at its position. Absent: the source's
   * definition is this one.
   */
  readonly transformedFrom?: TableSchema;
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

/**
 * The table with the key it syncs by (engines' describes call it; so do the schema registry after
 * DDL and the session for tables a caller built). A table with a primary key is returned as it is.
 * A table without one is keyed by its first unique key (in `uniqueKeys` order) whose columns are all
 * written and NOT NULL: such a key identifies each row exactly as a primary key does (NULLs, which
 * a unique key lets repeat, cannot occur), so the copy's keyset, the apply and the checksums use it
 * unchanged. Filling `primaryKey` here, once, rather than a keyOf() at each of its readers keeps
 * every reader (chunks, apply, stream keys, checksums) on the same key. A table keyed so before
 * whose key is gone (dropped, made nullable) is re-keyed, or left keyless. `prefer` (column names):
 * the key the table was keyed by before a change, kept when a usable unique key has those columns.
 * Pure and idempotent.
 */
export function keyedTable(table: TableSchema, prefer?: readonly string[]): TableSchema {
  if (table.primaryKey.length > 0 && !table.keyFromUnique) return table;
  const usable = (k: readonly number[]) => k.length > 0 && k.every((i) => table.columns[i] !== undefined && !(table.columns[i] as Column).nullable);
  const same = (k: readonly number[]) => prefer !== undefined && k.length === prefer.length && k.every((i, j) => table.columns[i]?.name.toLowerCase() === prefer[j]?.toLowerCase());
  const keys = table.uniqueKeys ?? [];
  // The key a table was keyed by stays its key while it is there (a unique key dropped and added
  // again in one statement comes back last in `uniqueKeys`): re-keying would move every row.
  const key = keys.find((k) => usable(k) && same(k)) ?? keys.find(usable);
  const { keyFromUnique: _was, ...rest } = table;
  if (key) return { ...rest, primaryKey: [...key], keyFromUnique: true };
  return table.keyFromUnique ? { ...rest, primaryKey: [] } : table;
}

/** The unique keys other than the one the table is keyed by (`uniqueKeys` without the keyFromUnique key). */
export function secondaryUniqueKeys(table: TableSchema): readonly (readonly number[])[] {
  const keys = table.uniqueKeys ?? [];
  if (!table.keyFromUnique) return keys;
  return keys.filter((k) => !(k.length === table.primaryKey.length && k.every((c, j) => c === table.primaryKey[j])));
}

/** True when the table has no key to sync by: no primary key and no unique NOT NULL key. */
export function isKeyless(table: TableSchema): boolean {
  return table.primaryKey.length === 0;
}

/**
 * The key of a row image in a change (Change.key): its key columns' values, or, for a keyless
 * table, the whole image. A keyless table's changes are applied by row image: a delete removes one
 * row equal to every column of `key`, an upsert inserts `row` (duplicates stay duplicates), and
 * nothing coalesces them (stream/batch.ts), since equal images are different rows.
 */
export function rowKey(table: TableSchema, row: readonly Value[]): Value[] {
  return isKeyless(table) ? row.slice() : table.primaryKey.map((i) => row[i] ?? null);
}
