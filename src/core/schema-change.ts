import type { Column, ForeignKey, TableSchema } from './schema.js';

/**
 * A column's default as a schema change declares it, in no engine's words where it can be:
 * `literal` is the value's text as the source wrote it, unquoted ('5', 'abc', '2024-01-01 00:00:00',
 * '-1.50'); `now` is the current time (MySQL CURRENT_TIMESTAMP / NOW(), with its fractional digits);
 * `expression` is any other expression, kept as the source's SQL, which only a target of the same
 * engine can keep (another engine's rendering refuses it by name).
 */
export type ColumnDefault =
  | { readonly kind: 'null' }
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'now'; readonly fsp?: number }
  | { readonly kind: 'expression'; readonly sql: string };

/** Where MySQL's ADD/MODIFY/CHANGE COLUMN puts the column (FIRST, AFTER x); other engines append or keep the place. */
export type ColumnPlace = { readonly first: true } | { readonly after: string };

/**
 * One typed operation of a DDL statement on a synced table: what a source's schema change becomes
 * once parsed, so that each target renders it in its own dialect. Table names are the source's
 * unqualified names; column names are as the statement spells them (the operation's table's
 * definition before the operation resolves case).
 *
 * `sourceText` is the operation's own text in the source's dialect, as the statement wrote it
 * (one ALTER TABLE specification such as "ADD COLUMN `c` int NOT NULL DEFAULT 5 AFTER `b`", without
 * the ALTER TABLE and table name): a target of the source's engine renders the operation from it
 * under its own table name, so the definition stays exactly the source's. Absent where the
 * operation has no text of its own (a rename pair of RENAME TABLE, a CREATE TABLE: `table`
 * carries its createStatement).
 *
 * A MySQL CHANGE COLUMN a b <definition> is two operations, rename-column then modify-column
 * (the second with the new name and the first's sourceText left out of it), so a target without
 * CHANGE renders each on its own.
 */
export type SchemaOperation =
  | { readonly op: 'add-column'; readonly table: string; readonly column: Column; readonly default?: ColumnDefault; readonly place?: ColumnPlace; readonly sourceText?: string }
  | { readonly op: 'drop-column'; readonly table: string; readonly column: string; readonly sourceText?: string }
  /** A new definition of an existing column (same name): type, nullability and default (none: no default). */
  | { readonly op: 'modify-column'; readonly table: string; readonly column: Column; readonly default?: ColumnDefault; readonly place?: ColumnPlace; readonly sourceText?: string }
  | { readonly op: 'rename-column'; readonly table: string; readonly from: string; readonly to: string; readonly sourceText?: string }
  /** SET DEFAULT (a default) or DROP DEFAULT (null). */
  | { readonly op: 'set-default'; readonly table: string; readonly column: string; readonly default: ColumnDefault | null; readonly sourceText?: string }
  | { readonly op: 'add-index'; readonly table: string; readonly name: string; readonly columns: readonly string[]; readonly unique: boolean; readonly primary?: boolean; readonly sourceText?: string }
  | { readonly op: 'drop-index'; readonly table: string; readonly name: string; readonly primary?: boolean; readonly sourceText?: string }
  /** A secondary index renamed (MySQL RENAME INDEX/KEY a TO b): nothing a row holds changes. */
  | { readonly op: 'rename-index'; readonly table: string; readonly from: string; readonly to: string; readonly sourceText?: string }
  /** Every character column of the table takes this character set (MySQL CONVERT TO CHARACTER SET). */
  | { readonly op: 'convert-charset'; readonly table: string; readonly charset: string; readonly collation?: string; readonly sourceText?: string }
  /** A foreign key added to the table (its name the source's, given or generated). */
  | { readonly op: 'add-foreign-key'; readonly table: string; readonly foreignKey: ForeignKey; readonly sourceText?: string }
  /** The table's foreign key of this name dropped (nothing when it has none: IF EXISTS). */
  | { readonly op: 'drop-foreign-key'; readonly table: string; readonly name: string; readonly sourceText?: string }
  /** Table options, partitioning, defaults for new columns: nothing a row holds changes; only a target of the source's engine keeps them. */
  | { readonly op: 'table-options'; readonly table: string; readonly sourceText: string }
  /** Renames done as one step, in order (MySQL RENAME TABLE a TO tmp, b TO a, tmp TO b): a swap is one operation. */
  | { readonly op: 'rename-tables'; readonly pairs: readonly { readonly from: string; readonly to: string }[] }
  | { readonly op: 'create-table'; readonly table: TableSchema }
  | { readonly op: 'drop-table'; readonly table: string }
  | { readonly op: 'truncate'; readonly table: string };

/**
 * One source DDL statement on synced tables, as a target applies it (TargetWriter.applySchemaChange):
 * the statement, its operations in order, and the definitions of the tables it touches before and
 * after it (a table created has no `before`, one dropped no `after`; renamed tables are under their
 * old names in `before` and their new ones in `after`).
 */
export interface SchemaChange {
  /** The statement as the source logged it (for messages and logs; targets render from `operations`). */
  readonly statement: string;
  /** The engine of the source that wrote the statement ('mysql', 'postgres'): whose dialect `sourceText` is in. */
  readonly sourceEngine: string;
  readonly operations: readonly SchemaOperation[];
  readonly before: ReadonlyMap<string, TableSchema>;
  readonly after: ReadonlyMap<string, TableSchema>;
  /**
   * Tables (by their names in `after`) whose initial copy was running when the statement came: the
   * copier reads them again from the start with their new definition (copier/copier.ts restart),
   * overwriting what it wrote before. Their copy checkpoints are removed with the stream checkpoint
   * of this change (checkpoint/rows.ts schemaChangeRows), so a restart copies them from the start
   * too. Absent: none.
   */
  readonly recopy?: readonly string[];
}
