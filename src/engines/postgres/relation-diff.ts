import type { ColumnDefault, SchemaOperation } from '../../core/schema-change.js';
import type { Column, ForeignKey, IndexDefinition, TableSchema } from '../../core/schema.js';
import { applyOperations } from '../../schema/apply.js';
import { quoteIdent } from './sql.js';
import type { RelationColumnDescription } from './schema.js';
import { withLogical } from './types.js';

/**
 * A column default as PostgreSQL prints it (pg_get_expr of pg_attrdef.adbin) in no engine's words
 * where it can be (core/schema-change.ts ColumnDefault): a quoted literal with its cast
 * ('abc'::text, '-5'::integer) or a bare number as a literal of its text, true/false as '1'/'0'
 * (what both a PostgreSQL boolean and a MySQL TINYINT(1) read), NULL as null, the current time
 * (now(), CURRENT_TIMESTAMP[(p)], LOCALTIMESTAMP[(p)], transaction_timestamp()) as `now`, and
 * anything else (nextval(…), functions, operators) as an expression only a PostgreSQL target keeps.
 * Undefined: no default.
 */
export function pgColumnDefault(sql: string | null | undefined): ColumnDefault | undefined {
  if (sql === null || sql === undefined) return undefined;
  const s = sql.trim();
  if (/^NULL(::[\w\s."[\]()]+)?$/i.test(s)) return { kind: 'null' };
  const quoted = /^'((?:[^']|'')*)'(::[\w\s."[\]()]+)?$/.exec(s);
  if (quoted) return { kind: 'literal', value: (quoted[1] as string).replace(/''/g, "'") };
  const num = /^\(?(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\)?(::[\w\s."[\]()]+)?$/.exec(s);
  if (num) return { kind: 'literal', value: num[1] as string };
  if (/^true$/i.test(s)) return { kind: 'literal', value: '1' };
  if (/^false$/i.test(s)) return { kind: 'literal', value: '0' };
  if (/^(now\(\)|transaction_timestamp\(\))$/i.test(s)) return { kind: 'now' };
  const ts = /^(?:CURRENT_TIMESTAMP|LOCALTIMESTAMP)(?:\((\d)\))?$/i.exec(s);
  if (ts) return ts[1] === undefined ? { kind: 'now' } : { kind: 'now', fsp: Number(ts[1]) };
  return { kind: 'expression', sql: s };
}

/** What a table's definition became: its typed operations, the definition after them, and why it cannot be followed when it cannot. */
export interface RelationDiff {
  readonly after: TableSchema;
  /** In the order a target applies them: drops, then new types, then added columns (in the table's order). */
  readonly operations: readonly SchemaOperation[];
  /** Human description of each change, for the ddl event's statement. */
  readonly changes: readonly string[];
  /** Set when the change cannot be followed (the applier stops on it, naming this). */
  readonly unsupported?: string;
}

/**
 * The schema operations that turn `before` (the definition the sync follows the table with) into
 * the table as `columns` describe it (a Relation message's columns, in order, described by
 * schema.ts describeRelationColumns, or the catalogue's now), matched by name:
 *
 * - a column only in `columns`: add-column, with its default (old rows have it: PostgreSQL 11+
 *   gives them the default without rewriting, and without WAL);
 * - a column only in `before`: drop-column;
 * - a column in both whose type (format_type) changed: modify-column, with its NOT NULL and default
 *   as the catalogue has them;
 * - `renames` (old name → new name, from the event trigger's attribute numbers) turns a drop and an
 *   add into rename-column (a retyped rename gets a modify-column after it). Without it, columns
 *   dropped and added in one change are ambiguous (a rename, or a drop and an add), and the diff is
 *   unsupported, naming both, unless `certain` (the renames are known to be all there are).
 *
 * The primary key and unique keys keep their columns by name; a change that removes a
 * primary-key column is unsupported (the table has no key to apply changes by).
 */
export function relationOperations(before: TableSchema, columns: readonly RelationColumnDescription[], renames: ReadonlyMap<string, string> = new Map(), certain = false): RelationDiff {
  const table = before.name;
  const now = new Map(columns.map((c) => [c.column.name, c]));
  const was = new Map(before.columns.map((c) => [c.name, c]));
  const renamedTo = new Map([...renames].filter(([from, to]) => was.has(from) && now.has(to) && !was.has(to)));
  const renamedFrom = new Set(renamedTo.values());
  const operations: SchemaOperation[] = [];
  const changes: string[] = [];
  const dropped = before.columns.filter((c) => !now.has(c.name) && !renamedTo.has(c.name));
  const added = columns.filter((c) => !was.has(c.column.name) && !renamedFrom.has(c.column.name));
  for (const c of dropped) {
    operations.push({ op: 'drop-column', table, column: c.name, sourceText: `DROP COLUMN ${quoteIdent(c.name)}` });
    changes.push(`column ${quoteIdent(c.name)} dropped`);
  }
  for (const [from, to] of renamedTo) {
    operations.push({ op: 'rename-column', table, from, to, sourceText: `RENAME COLUMN ${quoteIdent(from)} TO ${quoteIdent(to)}` });
    changes.push(`column ${quoteIdent(from)} renamed to ${quoteIdent(to)}`);
  }
  for (const d of columns) {
    const old = was.get(d.column.name) ?? was.get([...renamedTo].find(([, to]) => to === d.column.name)?.[0] ?? '');
    if (!old || (old.columnType === d.column.columnType && old.dataType === d.column.dataType)) continue;
    const def = pgColumnDefault(d.defaultSql);
    operations.push({ op: 'modify-column', table, column: d.column, ...(def ? { default: def } : {}), sourceText: `ALTER COLUMN ${quoteIdent(d.column.name)} TYPE ${d.column.columnType}` });
    changes.push(`column ${quoteIdent(d.column.name)} changed type from ${old.columnType} to ${d.column.columnType}`);
  }
  for (const d of added) {
    const def = pgColumnDefault(d.defaultSql);
    operations.push({ op: 'add-column', table, column: d.column, ...(def ? { default: def } : {}), sourceText: addColumnText(d.column, d.defaultSql) });
    changes.push(`column ${quoteIdent(d.column.name)} ${d.column.columnType} added`);
  }
  const index = new Map(columns.map((c, i) => [c.column.name, i]));
  const nameNow = (c: Column | undefined) => (c === undefined ? undefined : (renamedTo.get(c.name) ?? c.name));
  const keyOf = (cols: readonly number[]) => cols.map((i) => index.get(nameNow(before.columns[i]) ?? ''));
  const pk = keyOf(before.primaryKey);
  const complete = (k: (number | undefined)[]): k is number[] => k.every((i) => i !== undefined);
  const after = withLogical({
    ...before,
    columns: columns.map((c) => c.column),
    primaryKey: complete(pk) ? pk : [],
    uniqueKeys: (before.uniqueKeys ?? []).map(keyOf).filter(complete),
  });
  let unsupported: string | undefined;
  if (dropped.length && added.length && !certain) {
    unsupported =
      `column${dropped.length > 1 ? 's' : ''} ${dropped.map((c) => quoteIdent(c.name)).join(', ')} dropped and ${added.map((c) => quoteIdent(c.column.name)).join(', ')} added in one change of ${table}: ` +
      'a rename or a drop and an add, which pgoutput\'s Relation message cannot tell apart (only the event trigger\'s attribute numbers can: see tributary check)';
  } else if (!complete(pk)) {
    unsupported = `primary key column${before.primaryKey.length > 1 ? 's' : ''} of ${table} dropped: tributary applies changes by the primary key`;
  }
  return { after, operations, changes, ...(unsupported !== undefined ? { unsupported } : {}) };
}

/** The PostgreSQL text of an ADD COLUMN (sourceText: a PostgreSQL target renders from the fields). */
function addColumnText(c: Column, defaultSql: string | null): string {
  return `ADD COLUMN ${quoteIdent(c.name)} ${c.columnType}${defaultSql !== null ? ` DEFAULT ${defaultSql}` : ''}${c.nullable ? '' : ' NOT NULL'}`;
}

/** A column as the event trigger's message gives it (ddl-trigger.ts TriggerColumn), as far as this diff needs. */
export interface TriggerColumnState {
  readonly attnum: number;
  readonly name: string;
  readonly notNull: boolean;
  readonly defaultSql: string | null;
}

/**
 * The operations of a change the event trigger reported: `columns` are the table's columns after
 * it (described, NOT NULL and default as the message gives them), `was` and `now` the message's
 * columns before (the previous message, or the catalogue when the stream started; undefined when
 * not known) and after it. Renames come from attribute numbers, so a drop and an add are never
 * ambiguous when `was` is known; beyond relationOperations, a column whose NOT NULL changed becomes
 * modify-column (a type change already is one), and one whose default alone changed set-default.
 */
export function triggerOperations(
  before: TableSchema,
  columns: readonly RelationColumnDescription[],
  was: readonly TriggerColumnState[] | undefined,
  now: readonly TriggerColumnState[],
): RelationDiff {
  const renames = new Map<string, string>();
  const old = new Map((was ?? []).map((c) => [c.attnum, c]));
  for (const c of now) {
    const o = old.get(c.attnum);
    if (o && o.name !== c.name) renames.set(o.name, c.name);
  }
  const base = relationOperations(before, columns, renames, was !== undefined);
  if (!was) return base;
  const operations = [...base.operations];
  const changes = [...base.changes];
  const modified = new Set(base.operations.flatMap((o) => (o.op === 'modify-column' || o.op === 'add-column' ? [o.column.name] : [])));
  const table = before.name;
  for (const c of now) {
    const o = old.get(c.attnum);
    const d = columns.find((x) => x.column.name === c.name);
    if (!o || !d || modified.has(c.name)) continue;
    const def = pgColumnDefault(c.defaultSql);
    if (o.notNull !== c.notNull) {
      operations.push({ op: 'modify-column', table, column: d.column, ...(def ? { default: def } : {}), sourceText: `ALTER COLUMN ${quoteIdent(c.name)} ${c.notNull ? 'SET' : 'DROP'} NOT NULL` });
      changes.push(`column ${quoteIdent(c.name)} ${c.notNull ? 'SET' : 'DROP'} NOT NULL`);
    } else if (o.defaultSql !== c.defaultSql) {
      operations.push({ op: 'set-default', table, column: c.name, default: def ?? null, sourceText: `ALTER COLUMN ${quoteIdent(c.name)} ${def ? `SET DEFAULT ${c.defaultSql}` : 'DROP DEFAULT'}` });
      changes.push(`column ${quoteIdent(c.name)} ${def ? `SET DEFAULT ${c.defaultSql}` : 'DROP DEFAULT'}`);
    }
  }
  return { ...base, operations, changes };
}

/** A secondary index as the event trigger's message gives it (ddl-trigger.ts TriggerIndex). */
export interface TriggerIndexState {
  readonly name: string;
  readonly unique: boolean;
  readonly partial: boolean;
  readonly columns: readonly string[];
}

/**
 * The index operations that turn `before`'s secondary indexes (TableSchema.indexes) into `now`
 * (the event trigger's list after a statement), matched by name (an index's name is unique in its
 * schema): a name gone and a name new with the same columns and uniqueness is a rename-index (ALTER
 * INDEX … RENAME: what the target knows it by stays), else a name gone is drop-index and a name new
 * add-index. A partial index or one over an expression is no operation (a target cannot build it
 * from its columns, and must not find one by its columns to drop it): it is only kept in
 * `indexes`. `before` without `indexes` (not known) takes `now` with no operation.
 */
export function indexOperations(before: TableSchema, now: readonly TriggerIndexState[]): RelationDiff {
  const table = before.name;
  const list = now.map((i) => ({ name: i.name, columns: i.columns, unique: i.unique }));
  if (before.indexes === undefined) return { after: { ...before, indexes: list }, operations: [], changes: [] };
  const nowByName = new Map(now.map((i) => [i.name, i]));
  const had = new Map(before.indexes.map((i) => [i.name, i]));
  const gone = before.indexes.filter((i) => !nowByName.has(i.name));
  const added = now.filter((i) => !had.has(i.name));
  const operations: SchemaOperation[] = [];
  const changes: string[] = [];
  const sameDef = (a: { columns: readonly string[]; unique: boolean }, b: { columns: readonly string[]; unique: boolean }) =>
    a.unique === b.unique && a.columns.length === b.columns.length && a.columns.every((c, j) => c === b.columns[j]);
  if (gone.length === 1 && added.length === 1 && sameDef(gone[0] as IndexDefinition, added[0] as TriggerIndexState)) {
    const from = (gone[0] as IndexDefinition).name;
    const to = (added[0] as TriggerIndexState).name;
    operations.push({ op: 'rename-index', table, from, to, sourceText: `RENAME INDEX ${quoteIdent(from)} TO ${quoteIdent(to)}` });
    changes.push(`index ${quoteIdent(from)} renamed to ${quoteIdent(to)}`);
  } else {
    for (const i of gone) {
      // An index over expressions only has no column to find it by, and was never built on the target.
      if (i.columns.length === 0) continue;
      operations.push({ op: 'drop-index', table, name: i.name, sourceText: `DROP INDEX ${quoteIdent(i.name)}` });
      changes.push(`index ${quoteIdent(i.name)} dropped`);
    }
    for (const i of added) {
      if (i.partial || i.columns.length === 0) {
        changes.push(`index ${quoteIdent(i.name)} created (partial or over an expression: not built on the target)`);
        continue;
      }
      const cols = i.columns.map(quoteIdent).join(', ');
      operations.push({ op: 'add-index', table, name: i.name, columns: [...i.columns], unique: i.unique, sourceText: `CREATE ${i.unique ? 'UNIQUE ' : ''}INDEX ${quoteIdent(i.name)} ON ${quoteIdent(table)} (${cols})` });
      changes.push(`${i.unique ? 'unique ' : ''}index ${quoteIdent(i.name)} (${cols}) created`);
    }
  }
  const applied = operations.length ? (applyOperations(new Map([[table, before]]), operations).get(table) as TableSchema) : before;
  return { after: { ...applied, indexes: list }, operations, changes };
}

/** Whether two foreign keys say the same (name aside): columns, referenced table and columns, rules, match, deferral. */
function sameForeignKey(a: ForeignKey, b: ForeignKey): boolean {
  const list = (x: readonly string[], y: readonly string[]) => x.length === y.length && x.every((c, i) => c === y[i]);
  return (
    list(a.columns, b.columns) &&
    a.referencedTable === b.referencedTable &&
    list(a.referencedColumns, b.referencedColumns) &&
    a.onUpdate === b.onUpdate &&
    a.onDelete === b.onDelete &&
    (a.match ?? 'SIMPLE') === (b.match ?? 'SIMPLE') &&
    (a.deferrable ?? false) === (b.deferrable ?? false) &&
    (a.initiallyDeferred ?? false) === (b.initiallyDeferred ?? false)
  );
}

/** The foreign key operations of a statement, in two parts: drops go before the statement's column operations (a key's column may be dropped), adds after them (a key may use a new column). */
export interface ForeignKeyDiff {
  readonly drops: readonly SchemaOperation[];
  readonly adds: readonly SchemaOperation[];
  readonly changes: readonly string[];
  /** The table's foreign keys after the statement (those the sync keeps). */
  readonly foreignKeys: readonly ForeignKey[];
}

/**
 * The foreign key operations that turn `before`'s foreign keys (TableSchema.foreignKeys: those the
 * sync keeps) into `now` (the event trigger's list after the statement), matched by name (a
 * constraint's name is unique in its table). `renames` (old column name → new, this statement's)
 * carries the kept keys' columns over to their new names first, so a renamed column changes no key.
 * A key gone, or one whose definition changed (ALTER CONSTRAINT, a drop and an add under one name),
 * is drop-foreign-key; a key new or redefined is add-foreign-key, when `synced` takes the table it
 * references (as at the sync's start, schema/foreign-keys.ts keepSyncedForeignKeys: a key to a table
 * the sync does not take cannot exist on the target), else it is only named in `changes`.
 */
export function foreignKeyOperations(before: TableSchema, now: readonly ForeignKey[], renames: ReadonlyMap<string, string>, synced: (table: string) => boolean): ForeignKeyDiff {
  const table = before.name;
  const had = new Map((before.foreignKeys ?? []).map((f) => [f.name, { ...f, columns: f.columns.map((c) => renames.get(c) ?? c) }]));
  const nowByName = new Map(now.map((f) => [f.name, f]));
  const drops: SchemaOperation[] = [];
  const adds: SchemaOperation[] = [];
  const changes: string[] = [];
  for (const [name, f] of had) {
    const n = nowByName.get(name);
    if (n && sameForeignKey(f, n)) continue;
    drops.push({ op: 'drop-foreign-key', table, name, sourceText: `DROP CONSTRAINT ${quoteIdent(name)}` });
    if (!n) changes.push(`foreign key ${quoteIdent(name)} dropped`);
  }
  const kept: ForeignKey[] = [];
  for (const f of now) {
    const old = had.get(f.name);
    if (old && sameForeignKey(old, f)) {
      kept.push(old);
      continue;
    }
    const text = `FOREIGN KEY (${f.columns.map(quoteIdent).join(', ')}) REFERENCES ${quoteIdent(f.referencedTable)} (${f.referencedColumns.map(quoteIdent).join(', ')})`;
    if (!synced(f.referencedTable)) {
      changes.push(`foreign key ${quoteIdent(f.name)} ${text} ${old ? 'redefined' : 'added'} (not on the target: it references a table the sync does not take)`);
      continue;
    }
    kept.push(f);
    adds.push({ op: 'add-foreign-key', table, foreignKey: f, sourceText: `ADD CONSTRAINT ${quoteIdent(f.name)} ${text} ON UPDATE ${f.onUpdate} ON DELETE ${f.onDelete}` });
    changes.push(`foreign key ${quoteIdent(f.name)} ${text} ON UPDATE ${f.onUpdate} ON DELETE ${f.onDelete} ${old ? 'redefined' : 'added'}`);
  }
  return { drops, adds, changes, foreignKeys: kept };
}
