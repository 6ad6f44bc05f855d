import { ErrorCode, TributaryError } from '../core/errors.js';
import type { RowFilter } from '../core/row-filter.js';
import type { Column, TableSchema } from '../core/schema.js';
import type { Row } from '../core/values.js';
import type { FilterSource, TransformRules } from './rules.js';

/**
 * One source table under the transform rules: the source's definition, the definition consumers and
 * the target see, and the one the source's snapshot reads are given.
 */
export interface TableView {
  /** The source's definition: its name, every column (what the stream decodes rows with). */
  readonly full: TableSchema;
  /**
   * What consumers (copier, applier, checksum, the target) see: the target name, without the
   * excluded columns, with `transformedFrom` = `full` when it differs from it. `full` itself when
   * the rules change nothing for this table (no copy: caches keyed by the definition keep working).
   */
  readonly view: TableSchema;
  /** What the source's snapshot reads get: the view's columns under the source's name, with the row filter. */
  readonly read: TableSchema;
  /** `read` without the row filter, for chunkBoundary (chunks are ranges of keys, whatever the filter keeps). */
  readonly boundary: TableSchema;
  /** Indexes into `full.columns` of the view's columns, in order; null when every column is kept. */
  readonly keep: readonly number[] | null;
  /** The row filter bound to `full`, when the table has one. */
  readonly filter?: RowFilter;
  /** `filter` compiled over rows aligned with `full.columns` (SQL three-valued: null is unknown). */
  readonly matches?: (row: Row) => boolean | null;
  /** Indexes into `full.columns` the filter reads (to tell whether a partial image can be judged). */
  readonly filterColumns?: ReadonlySet<number>;
}

/** How the transform stage binds and compiles a table's filter (transform/expression.ts; injected to keep this module pure). */
export interface FilterBinder {
  bind(source: FilterSource, table: TableSchema, label: string): RowFilter;
  compile(filter: RowFilter, table: TableSchema): (row: Row) => boolean | null;
  /** The column names a bound filter reads; null when it may read any (a predicate pair). */
  columns(filter: RowFilter): readonly string[] | null;
}

/** The column of `table` named `name`: exactly, else ignoring case (MySQL column names ignore case). */
export function columnIndex(table: TableSchema, name: string): number {
  const exact = table.columns.findIndex((c) => c.name === name);
  return exact >= 0 ? exact : table.columns.findIndex((c) => c.name.toLowerCase() === name.toLowerCase());
}

/**
 * The view of source table `full` under `rules`. `strict` (a table described at the sync's start)
 * refuses an excluded column the table does not have; after a schema change (not strict) such an
 * entry just has nothing to leave out. Either way an excluded key column is refused (CONFIG_INVALID
 * at the start; the caller turns it into the schema change's refusal later), naming it.
 * `alsoExclude` leaves out more columns than the rules name (a column renamed from an excluded name
 * stays out: transform/ddl.ts), never refusing one the table lacks.
 */
export function tableView(full: TableSchema, rules: TransformRules, binder: FilterBinder, strict: boolean, alsoExclude: readonly string[] = []): TableView {
  const name = rules.targetName(full.name);
  const dropped = new Set<number>();
  const named = rules.excludedColumns(full.name);
  for (const col of [...named, ...alsoExclude]) {
    const i = columnIndex(full, col);
    if (i < 0) {
      if (strict && named.includes(col)) {
        throw new TributaryError(
          ErrorCode.CONFIG_INVALID,
          `--exclude-columns ${full.name}.${col}: table ${full.name} has no column ${col} (it has ${full.columns.map((c) => c.name).join(', ')}); fix the name, or drop the entry`,
        );
      }
      continue;
    }
    if (full.primaryKey.includes(i)) {
      throw new TributaryError(
        ErrorCode.CONFIG_INVALID,
        `--exclude-columns ${full.name}.${col}: ${col} is a column of the table's ${full.keyFromUnique ? 'unique key the sync keys rows by' : 'primary key'}, which every row on the target needs; exclude another column, or drop the entry`,
      );
    }
    dropped.add(i);
  }
  const source = rules.filterOf(full.name);
  let filter: RowFilter | undefined;
  let matches: ((row: Row) => boolean | null) | undefined;
  let filterColumns: Set<number> | undefined;
  if (source) {
    filter = binder.bind(source, full, full.name);
    matches = binder.compile(filter, full);
    const names = binder.columns(filter);
    filterColumns = new Set(names === null ? full.columns.map((_, i) => i) : names.map((c) => columnIndex(full, c)).filter((i) => i >= 0));
  }
  const parentRenamed = (full.foreignKeys ?? []).some((fk) => rules.renames(fk.referencedTable) || rules.excludedColumns(fk.referencedTable).length > 0);
  if (dropped.size === 0 && name === full.name && !parentRenamed) {
    const read = filter ? { ...full, rowFilter: filter } : full;
    return { full, view: full, read, boundary: full, keep: null, ...(filter ? { filter, matches, filterColumns } : {}) };
  }
  const keep = full.columns.map((_, i) => i).filter((i) => !dropped.has(i));
  const view = viewDefinition(full, name, keep, rules);
  // The source's definition stays on the read's: its filter may read an excluded column.
  const boundary: TableSchema = { ...view, name: full.name };
  const read: TableSchema = filter ? { ...boundary, rowFilter: filter } : boundary;
  return { full, view, read, boundary, keep: dropped.size ? keep : null, ...(filter ? { filter, matches, filterColumns } : {}) };
}

/** `full` under target name `name` with only the columns `keep` (indexes into full.columns), every index and key remapped. */
function viewDefinition(full: TableSchema, name: string, keep: readonly number[], rules: TransformRules): TableSchema {
  const at = new Map(keep.map((from, to) => [from, to]));
  const kept = new Set(keep.map((i) => (full.columns[i] as Column).name));
  const remap = (k: readonly number[]): number[] | null => (k.every((i) => at.has(i)) ? k.map((i) => at.get(i) as number) : null);
  const columns = keep.map((i) => full.columns[i] as Column);
  const excludedOf = (table: string) => new Set(rules.excludedColumns(table).map((c) => c.toLowerCase()));
  const parentsExcluded = (fk: NonNullable<TableSchema['foreignKeys']>[number]) => {
    const gone = excludedOf(fk.referencedTable);
    return fk.referencedColumns.some((c) => gone.has(c.toLowerCase()));
  };
  const { transformedFrom: _t, rowFilter: _f, ...rest } = full;
  return {
    ...rest,
    name,
    columns,
    primaryKey: remap(full.primaryKey) ?? [],
    ...(full.uniqueKeys ? { uniqueKeys: full.uniqueKeys.map(remap).filter((k): k is number[] => k !== null) } : {}),
    ...(full.indexes ? { indexes: full.indexes.filter((ix) => ix.columns.every((c) => kept.has(c))) } : {}),
    generated: full.generated.filter((g) => !rules.excludedColumns(full.name).some((c) => c.toLowerCase() === g.toLowerCase())),
    ...(full.foreignKeys
      ? {
          foreignKeys: full.foreignKeys
            .filter((fk) => fk.columns.every((c) => kept.has(c)) && !parentsExcluded(fk))
            .map((fk) => (rules.renames(fk.referencedTable) ? { ...fk, referencedTable: rules.targetName(fk.referencedTable) } : fk)),
        }
      : {}),
    transformedFrom: rest,
  };
}

/** `row` (aligned with the full definition) as the view's row. */
export function viewRow(v: TableView, row: Row): Row {
  const keep = v.keep;
  if (!keep) return row;
  const out: Row = new Array(keep.length);
  for (let i = 0; i < keep.length; i++) out[i] = row[keep[i] as number] ?? null;
  return out;
}

/** Indexes into the full definition's columns as the view's indexes (those excluded left out). */
export function viewIndexes(v: TableView, indexes: readonly number[]): number[] {
  const keep = v.keep;
  if (!keep) return [...indexes];
  const at = new Map(keep.map((from, to) => [from, to]));
  return indexes.flatMap((i) => (at.has(i) ? [at.get(i) as number] : []));
}
