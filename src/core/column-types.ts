import { splitName } from './names.js';

/**
 * Target type overrides (--column-types) as a target reads them: keys `table.column`, the table
 * named as the target holds it (the session translates the user's source names through the
 * transform rules: transform/rules.ts columnTypesOnTarget). In a sync of several databases a key's
 * table is `db.table` for one table, or a bare `table` for that table in every database.
 */
export type ColumnTypes = Readonly<Record<string, string>>;

/** A key's table and column: split at its last '.' (a table may be `db.table`). */
export function splitColumnKey(key: string): { readonly table: string; readonly column: string } {
  const dot = key.lastIndexOf('.');
  return { table: key.slice(0, dot), column: key.slice(dot + 1) };
}

/** Whether key table `keyTable` names target table `table`: exactly, or as its bare name in every database. */
function names(keyTable: string, table: string): boolean {
  return keyTable === table || (!keyTable.includes('.') && splitName(table).namespace !== undefined && splitName(table).table === keyTable);
}

/** The override of column `column` of target table `table`: the exact key first, then the bare table's. */
export function columnTypeOf(types: ColumnTypes, table: string, column: string): string | undefined {
  const exact = types[`${table}.${column}`];
  if (exact !== undefined) return exact;
  const { namespace, table: bare } = splitName(table);
  return namespace === undefined ? undefined : types[`${bare}.${column}`];
}

/** The columns the overrides name for target table `table` (exact or bare keys), each once. */
export function overriddenColumns(types: ColumnTypes, table: string): string[] {
  const out = new Set<string>();
  for (const key of Object.keys(types)) {
    const k = splitColumnKey(key);
    if (names(k.table, table)) out.add(k.column);
  }
  return [...out];
}
