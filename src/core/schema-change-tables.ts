import type { SchemaChange } from './schema-change.js';
import type { TableSchema } from './schema.js';

/**
 * The definitions a schema change's operation works on, for a target rendering it (engines/<e>/ddl.ts
 * schemaChangeSql). An operation names its table as the statement does, at its place in the
 * statement; `before` holds tables under their names before the statement and `after` under their
 * names after it, so both lookups follow the statement's table renames.
 */

/** The tables whose definition a change gives or takes: those in `before` and those in `after`, each once. */
export function definedTables(change: Pick<SchemaChange, 'before' | 'after'>): string[] {
  return [...new Set([...change.before.keys(), ...change.after.keys()])];
}

/** What `table` is called once operations[index + 1 …] ran (its name in `change.after`). */
export function nameAfter(change: SchemaChange, index: number, table: string): string {
  let name = table;
  change.operations.forEach((op, i) => {
    if (i <= index || op.op !== 'rename-tables') return;
    for (const { from, to } of op.pairs) if (name === from) name = to;
  });
  return name;
}

/** What `table` was called before operations[0 … index - 1] ran (its name in `change.before`). */
export function nameBefore(change: SchemaChange, index: number, table: string): string {
  let name = table;
  for (let i = Math.min(index, change.operations.length) - 1; i >= 0; i--) {
    const op = change.operations[i];
    if (op?.op !== 'rename-tables') continue;
    for (let p = op.pairs.length - 1; p >= 0; p--) {
      const pair = op.pairs[p];
      if (pair && name === pair.to) name = pair.from;
    }
  }
  return name;
}

/** The definition of the operation's table after the statement, or undefined (dropped, or not given). */
export function tableAfter(change: SchemaChange, index: number, table: string): TableSchema | undefined {
  return change.after.get(nameAfter(change, index, table));
}

/** The definition of the operation's table before the statement, or undefined (created by it, or not given). */
export function tableBefore(change: SchemaChange, index: number, table: string): TableSchema | undefined {
  return change.before.get(nameBefore(change, index, table));
}

/**
 * A column name as the tables spell it: `name` itself when one of them has a column (or generated
 * column) of exactly that name, else the first spelled the same but for case (a MySQL statement may
 * write `Email` for the column `email`: MySQL column names ignore case), else `name`.
 */
export function resolveColumn(name: string, ...tables: readonly (TableSchema | undefined)[]): string {
  const all = tables.flatMap((t) => (t ? [...t.columns.map((c) => c.name), ...t.generated] : []));
  if (all.includes(name)) return name;
  const lower = name.toLowerCase();
  return all.find((n) => n.toLowerCase() === lower) ?? name;
}
