import { ErrorCode, TributaryError } from '../core/errors.js';
import { keyedTable, type Column, type ForeignKey, type TableSchema } from '../core/schema.js';
import type { ColumnPlace, SchemaOperation } from '../core/schema-change.js';

/**
 * A table while operations are applied to it: keys by column name (so adding, dropping and moving
 * columns cannot leave an index pointing at the wrong column), turned back into indexes at the end.
 */
interface Draft {
  name: string;
  columns: Column[];
  generated: string[];
  primaryKey: string[];
  uniqueKeys: string[][];
  /** The secondary indexes (TableSchema.indexes), by lower-case name; `indexesKnown` says whether the definition had them. */
  indexes: Map<string, { name: string; columns: string[]; unique: boolean }>;
  indexesKnown: boolean;
  /** The foreign keys (TableSchema.foreignKeys). */
  foreignKeys: ForeignKey[];
  changed: boolean;
  readonly source: TableSchema;
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

function unsupported(message: string): TributaryError {
  return new TributaryError(ErrorCode.DDL_UNSUPPORTED, message);
}

/**
 * The definitions after `ops`, applied in order to `tables` (keyed by exact table name): the
 * versioned schema's step for one DDL statement. Pure: `tables` is not modified; tables no
 * operation touches are the same objects in the result.
 *
 * What holds:
 * - `primaryKey` and `uniqueKeys` stay indexes into `columns` when columns are added (FIRST, AFTER
 *   x or appended), dropped or moved. A dropped column leaves every key it was part of, as MySQL
 *   does; a key left with no column is gone.
 * - Generated columns (only in `generated`) follow drop-column and rename-column; add-column and
 *   modify-column always describe a written column (a generated column's definition is not an
 *   operation's: its parser refuses it), and modify-column of a generated column is refused.
 * - rename-tables renames the map entries and `name` (pairs in order, so a swap through a temporary
 *   name works); create-table adds, drop-table removes, truncate changes nothing.
 * - add-index/drop-index/rename-index change `indexes`, and `uniqueKeys` (and `primaryKey` for a
 *   primary one) for a unique index: a drop-index finds the unique key it removes by the index's
 *   name in `indexes`; a name it cannot resolve on a table that has unique keys is refused, since
 *   guessing could drop the wrong key. drop-column takes the column out of every index, and drops
 *   an index left with no column, as MySQL does; renames follow into `indexes`.
 * - convert-charset sets the charset and collation of every character column (a charset other
 *   than 'binary') and of its logical type.
 * - A table any operation changed loses its `createStatement` (it would be stale).
 * - An operation naming a table or column that is not there throws DDL_UNSUPPORTED naming it.
 * Table names match exactly, else case-insensitively; column and index names case-insensitively
 * (MySQL's rules; PostgreSQL operations name them exactly).
 */
export function applyOperations(tables: ReadonlyMap<string, TableSchema>, ops: readonly SchemaOperation[]): Map<string, TableSchema> {
  const out = new Map<string, TableSchema | Draft>(tables);
  const draftOf = (name: string): Draft => {
    const key = findKey(out, name);
    if (key === undefined) throw unsupported(`table '${name}' is not a synced table's definition; the operation on it cannot be applied (skip the statement or re-copy the table)`);
    const v = out.get(key) as TableSchema | Draft;
    if (isDraft(v)) return v;
    const d = toDraft(v);
    out.set(key, d);
    return d;
  };
  for (const op of ops) applyOne(out, draftOf, op);
  const result = new Map<string, TableSchema>();
  for (const [k, v] of out) result.set(k, isDraft(v) ? fromDraft(v) : v);
  return result;
}

function isDraft(v: TableSchema | Draft): v is Draft {
  return 'source' in v && 'changed' in v;
}

function findKey(map: ReadonlyMap<string, unknown>, name: string): string | undefined {
  if (map.has(name)) return name;
  for (const k of map.keys()) if (same(k, name)) return k;
  return undefined;
}

function applyOne(out: Map<string, TableSchema | Draft>, draftOf: (name: string) => Draft, op: SchemaOperation): void {
  switch (op.op) {
    case 'create-table': {
      const key = findKey(out, op.table.name);
      if (key !== undefined) throw unsupported(`create-table '${op.table.name}': a table of that name is already synced; drop it first`);
      out.set(op.table.name, op.table);
      return;
    }
    case 'drop-table': {
      const key = findKey(out, op.table);
      if (key === undefined) throw unsupported(`drop-table '${op.table}': no synced table of that name`);
      out.delete(key);
      return;
    }
    case 'truncate':
      draftOf(op.table);
      return;
    case 'rename-tables':
      for (const { from, to } of op.pairs) {
        const key = findKey(out, from);
        if (key === undefined) throw unsupported(`rename-tables '${from}' → '${to}': no synced table '${from}'`);
        const existing = findKey(out, to);
        if (existing !== undefined && !same(existing, from)) throw unsupported(`rename-tables '${from}' → '${to}': '${to}' already exists`);
        const d = draftOf(key);
        out.delete(key);
        d.name = to;
        d.changed = true;
        out.set(to, d);
      }
      return;
  }
  const d = draftOf(op.table);
  d.changed = true;
  switch (op.op) {
    case 'add-column': {
      if (findColumn(d, op.column.name) !== undefined || d.generated.some((g) => same(g, op.column.name))) {
        throw unsupported(`add-column ${d.name}.${op.column.name}: the column already exists`);
      }
      insertAt(d, op.column, op.place);
      return;
    }
    case 'drop-column': {
      const g = d.generated.findIndex((n) => same(n, op.column));
      if (g >= 0) {
        d.generated.splice(g, 1);
        return;
      }
      const i = requireColumn(d, op.column, op.op);
      const name = (d.columns[i] as Column).name;
      d.columns.splice(i, 1);
      d.primaryKey = d.primaryKey.filter((c) => c !== name);
      d.uniqueKeys = d.uniqueKeys.map((k) => k.filter((c) => c !== name)).filter((k) => k.length > 0);
      for (const [n, index] of d.indexes) {
        if (!index.columns.includes(name)) continue;
        const columns = index.columns.filter((c) => c !== name);
        if (columns.length === 0) d.indexes.delete(n);
        else d.indexes.set(n, { ...index, columns });
      }
      return;
    }
    case 'modify-column': {
      if (d.generated.some((g) => same(g, op.column.name))) {
        throw unsupported(`modify-column ${d.name}.${op.column.name}: the column is generated; a generated column's definition cannot be followed (skip the statement or re-copy the table)`);
      }
      const i = requireColumn(d, op.column.name, op.op);
      const old = (d.columns[i] as Column).name;
      if (old !== op.column.name) renameKeys(d, old, op.column.name);
      if (op.place) {
        d.columns.splice(i, 1);
        insertAt(d, op.column, op.place);
      } else {
        d.columns[i] = op.column;
      }
      return;
    }
    case 'rename-column': {
      const g = d.generated.findIndex((n) => same(n, op.from));
      if (g >= 0) {
        d.generated[g] = op.to;
        return;
      }
      const i = requireColumn(d, op.from, op.op);
      const c = d.columns[i] as Column;
      if (!same(c.name, op.to) && findColumn(d, op.to) !== undefined) throw unsupported(`rename-column ${d.name}.${op.from} → ${op.to}: '${op.to}' already exists`);
      renameKeys(d, c.name, op.to);
      d.foreignKeys = d.foreignKeys.map((f) => (f.columns.some((n) => same(n, c.name)) ? { ...f, columns: f.columns.map((n) => (same(n, c.name) ? op.to : n)) } : f));
      d.columns[i] = { ...c, name: op.to };
      return;
    }
    case 'set-default':
      if (!d.generated.some((g) => same(g, op.column))) requireColumn(d, op.column, op.op);
      return;
    case 'add-index': {
      const cols = op.columns.map((n) => (d.columns[requireColumn(d, n, op.op)] as Column).name);
      if (op.primary) {
        if (d.primaryKey.length > 0) throw unsupported(`add-index PRIMARY on ${d.name}: the table has a primary key already`);
        d.primaryKey = cols;
        // A primary key's columns are NOT NULL (MySQL makes them so; PostgreSQL too).
        d.columns = d.columns.map((c) => (cols.includes(c.name) && c.nullable ? { ...c, nullable: false } : c));
        return;
      }
      const key = op.name.toLowerCase();
      if (d.indexes.has(key)) throw unsupported(`add-index ${d.name}.${op.name}: an index of that name exists`);
      d.indexes.set(key, { name: op.name, columns: cols, unique: op.unique });
      if (op.unique) d.uniqueKeys.push(cols);
      return;
    }
    case 'rename-index': {
      const known = d.indexes.get(op.from.toLowerCase());
      if (!known) {
        if (d.indexesKnown) throw unsupported(`rename-index ${d.name}.${op.from} → ${op.to}: the stored definition has no index '${op.from}' (re-copy the table or skip the statement)`);
        return;
      }
      if (d.indexes.has(op.to.toLowerCase()) && !same(op.from, op.to)) throw unsupported(`rename-index ${d.name}.${op.from} → ${op.to}: an index '${op.to}' exists`);
      d.indexes.delete(op.from.toLowerCase());
      d.indexes.set(op.to.toLowerCase(), { ...known, name: op.to });
      return;
    }
    case 'drop-index': {
      if (op.primary || same(op.name, 'PRIMARY')) {
        if (d.primaryKey.length === 0) throw unsupported(`drop-index PRIMARY on ${d.name}: the table has no primary key`);
        d.primaryKey = [];
        return;
      }
      const key = op.name.toLowerCase();
      const known = d.indexes.get(key);
      if (known === undefined) {
        if (d.uniqueKeys.length === 0) return; // whatever it was, no unique key: nothing a row holds changes
        throw unsupported(
          `drop-index ${d.name}.${op.name}: the stored definition has no index of that name, so which unique key it removes cannot be told; re-copy the table or skip the statement`,
        );
      }
      d.indexes.delete(key);
      if (known.unique) {
        const at = d.uniqueKeys.findIndex((k) => k.length === known.columns.length && k.every((c, j) => same(c, known.columns[j] as string)));
        if (at >= 0) d.uniqueKeys.splice(at, 1);
      }
      return;
    }
    case 'convert-charset':
      d.columns = d.columns.map((c) => convertCharset(c, op.charset, op.collation));
      return;
    case 'table-options':
      d.changed = true;
      return;
    case 'add-foreign-key': {
      const fk = op.foreignKey;
      if (d.foreignKeys.some((f) => same(f.name, fk.name))) throw unsupported(`add-foreign-key ${d.name}.${fk.name}: a foreign key of that name already exists`);
      for (const c of fk.columns) requireColumn(d, c, op.op);
      d.foreignKeys.push(fk);
      // With no index its columns begin, the server adds one of its own, by a name not certain.
      const begins = (cols: readonly string[]) => fk.columns.every((c, i) => cols[i] !== undefined && same(cols[i] as string, c));
      if (!begins(d.primaryKey) && ![...d.indexes.values()].some((i) => begins(i.columns))) {
        d.indexesKnown = false;
        d.indexes.clear();
      }
      return;
    }
    case 'drop-foreign-key':
      d.foreignKeys = d.foreignKeys.filter((f) => !same(f.name, op.name));
      return;
  }
}

function convertCharset(c: Column, charset: string, collation: string | undefined): Column {
  if (c.charset === undefined || c.charset === 'binary') return c;
  const { collation: _old, ...rest } = c;
  const next: Column = { ...rest, charset, ...(collation !== undefined ? { collation } : {}) };
  if (c.logical?.kind !== 'text') return next;
  const { collation: _lc, ...logical } = c.logical;
  return { ...next, logical: { ...logical, charset, ...(collation !== undefined ? { collation } : {}) } };
}

function findColumn(d: Draft, name: string): number | undefined {
  const i = d.columns.findIndex((c) => same(c.name, name));
  return i >= 0 ? i : undefined;
}

function requireColumn(d: Draft, name: string, op: string): number {
  const i = findColumn(d, name);
  if (i === undefined) throw unsupported(`${op} ${d.name}.${name}: table '${d.name}' has no written column '${name}'; the stored definition and the source disagree (re-copy the table or skip the statement)`);
  return i;
}

function insertAt(d: Draft, column: Column, place: ColumnPlace | undefined): void {
  if (!place) {
    d.columns.push(column);
  } else if ('first' in place) {
    d.columns.unshift(column);
  } else {
    const i = findColumn(d, place.after);
    if (i === undefined) {
      // AFTER a generated column: place it after the nearest written column before it cannot be
      // known from TableSchema (generated columns keep no position), so append.
      if (d.generated.some((g) => same(g, place.after))) {
        d.columns.push(column);
        return;
      }
      throw unsupported(`${d.name}.${column.name} AFTER ${place.after}: table '${d.name}' has no column '${place.after}'`);
    }
    d.columns.splice(i + 1, 0, column);
  }
}

function renameKeys(d: Draft, from: string, to: string): void {
  const r = (c: string) => (c === from ? to : c);
  d.primaryKey = d.primaryKey.map(r);
  d.uniqueKeys = d.uniqueKeys.map((k) => k.map(r));
  for (const [n, index] of d.indexes) d.indexes.set(n, { ...index, columns: index.columns.map(r) });
}

function toDraft(t: TableSchema): Draft {
  const name = (i: number): string => {
    const c = t.columns[i];
    if (!c) throw new TributaryError(ErrorCode.INTERNAL, `table ${t.name}: key index ${i} out of range of its ${t.columns.length} columns`);
    return c.name;
  };
  const uniqueKeys = (t.uniqueKeys ?? []).map((k) => k.map(name));
  return {
    name: t.name,
    columns: [...t.columns],
    generated: [...t.generated],
    // The table's own primary key: a key taken from a unique key (keyFromUnique) is none.
    primaryKey: t.keyFromUnique ? [] : t.primaryKey.map(name),
    uniqueKeys,
    indexes: new Map((t.indexes ?? []).map((i) => [i.name.toLowerCase(), { name: i.name, columns: [...i.columns], unique: i.unique }] as const)),
    indexesKnown: t.indexes !== undefined,
    foreignKeys: [...(t.foreignKeys ?? [])],
    changed: false,
    source: t,
  };
}

function fromDraft(d: Draft): TableSchema {
  if (!d.changed) return d.source;
  const index = (n: string): number => d.columns.findIndex((c) => c.name === n);
  const { createStatement: _stale, uniqueKeys: _u, keyFromUnique: _k, indexes: _i, foreignKeys: _f, ...rest } = d.source;
  // Keyed again: a unique NOT NULL key used as the key may be gone, or a primary key added; the
  // unique key it was keyed by is kept while a unique key has its columns.
  const was = d.source.keyFromUnique ? d.source.primaryKey.map((i) => d.source.columns[i]?.name ?? '') : undefined;
  return keyedTable({
    ...rest,
    name: d.name,
    columns: d.columns,
    primaryKey: d.primaryKey.map(index),
    ...(d.uniqueKeys.length > 0 || d.source.uniqueKeys !== undefined ? { uniqueKeys: d.uniqueKeys.map((k) => k.map(index)) } : {}),
    ...(d.indexesKnown || d.indexes.size > 0 ? { indexes: [...d.indexes.values()] } : {}),
    ...(d.source.foreignKeys !== undefined || d.foreignKeys.length > 0 ? { foreignKeys: d.foreignKeys } : {}),
    generated: d.generated,
  }, was);
}
