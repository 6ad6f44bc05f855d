import { ErrorCode, TributaryError } from './errors.js';
import { perObject } from './memo.js';
import type { Column, TableSchema } from './schema.js';

/**
 * A target's own definition of a table (`onTarget`, as Target.describe gives it) with its columns
 * put in the order of the source's (`source`), matched by name, and the source's primary key: rows
 * read through it line up with the source's rows column for column, while each column keeps the
 * target's type (so the target's decoders and key comparisons apply). Columns only the target has
 * are left out. Throws TABLE_UNSUPPORTED when the target lacks a source column or keys on other
 * columns than the source.
 */
export function alignTable(source: TableSchema, onTarget: TableSchema, where: string): TableSchema {
  const byName = new Map(onTarget.columns.map((c) => [c.name, c]));
  const columns = source.columns.map((sc) => {
    const tc = byName.get(sc.name);
    if (!tc) {
      throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `${where}: table ${source.name} has no column ${sc.name}; add it, or recreate the table with tributary sync --force`);
    }
    return tc;
  });
  const names = (t: TableSchema) => t.primaryKey.map((i) => (t.columns[i] as Column).name).join(', ');
  if (source.primaryKey.length > 0 && names(source) !== names(onTarget)) {
    throw new TributaryError(
      ErrorCode.TABLE_UNSUPPORTED,
      `${where}: table ${source.name} has primary key (${names(onTarget)}) but the source has (${names(source)}); make them match, or recreate the table with tributary sync --force`,
    );
  }
  return { ...onTarget, name: source.name, columns, primaryKey: [...source.primaryKey], uniqueKeys: [] };
}

/**
 * The target's definition of `table` (through `describe`, Target.describe) aligned with the
 * source's (alignTable); TABLE_UNSUPPORTED naming `where` when the target has no such table.
 */
export async function describeAligned(describe: (name: string) => Promise<TableSchema | null>, table: TableSchema, where: string): Promise<TableSchema> {
  const onTarget = await describe(table.name);
  if (!onTarget) throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `${where}: table ${table.name} does not exist; run tributary sync to create and copy it`);
  return alignTable(table, onTarget, where);
}

/**
 * `build` memoised per source schema object: built once, shared by concurrent callers; a failed
 * build is forgotten, so the next call tries again.
 */
export function perTable<T>(build: (table: TableSchema) => Promise<T>): (table: TableSchema) => Promise<T> {
  return perObject(build);
}
