/**
 * Qualified table names: how a sync of several databases (MySQL) or schemas (PostgreSQL) names its
 * tables. Everywhere outside an engine a table is known by one string (TableSchema.name, the keys
 * of checkpoints, the convergence gate, status); a sync of one database names a table as the
 * database spells it (`orders`), a sync of several as `database.table` (`shop.orders`).
 *
 * The rule every side relies on: a name holds a '.' if and only if it is qualified, and the part
 * before the first '.' is the namespace (a database or schema name never holds a '.': a sync of
 * several refuses one that does, by name). A sync of one database never syncs a table whose own
 * name holds a '.' (the source refuses it by name, and a schema change that brings one in stops
 * the sync), so a target may always read a '.' as "the namespace ends here".
 */
export interface QualifiedName {
  /** The database or schema; undefined for an unqualified name (the connection's own). */
  readonly namespace: string | undefined;
  /** The table's own name in it, as the engine spells it. */
  readonly table: string;
}

/** `namespace.table`; `table` alone when `namespace` is undefined. */
export function qualify(namespace: string | undefined, table: string): string {
  return namespace === undefined ? table : `${namespace}.${table}`;
}

/** A name split at its first '.' (see the rule above). */
export function splitName(name: string): QualifiedName {
  const dot = name.indexOf('.');
  return dot < 0 ? { namespace: undefined, table: name } : { namespace: name.slice(0, dot), table: name.slice(dot + 1) };
}

/** Whether `name` is qualified (holds a '.'). */
export function isQualified(name: string): boolean {
  return name.includes('.');
}

/** The distinct namespaces of qualified names, in first-seen order (unqualified names add none). */
export function namespacesOf(names: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const n of names) {
    const ns = splitName(n).namespace;
    if (ns !== undefined) out.add(ns);
  }
  return [...out];
}
