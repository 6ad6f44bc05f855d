/**
 * Foreign keys across the synced tables (issue 12): which of them a sync keeps, the order in which
 * a target creates its tables, and the cascades a source does not log. Pure functions over
 * TableSchema (core/schema.ts); the engines describe and render the keys.
 */
import type { Cascade, ForeignKey, TableSchema } from '../core/schema.js';

export type { Cascade } from '../core/schema.js';
import type { Row, Value } from '../core/values.js';

/** A foreign key left out because it references a table the sync does not take. */
export interface LeftOutForeignKey {
  readonly table: string;
  readonly foreignKey: ForeignKey;
}

/**
 * The tables with only the foreign keys whose referenced table is among them (a key referencing a
 * table outside the selection, or in another database or schema, cannot be created on the target),
 * and the keys left out, in table order. Tables without a key left out are returned as they are.
 */
export function keepSyncedForeignKeys(tables: readonly TableSchema[]): { tables: TableSchema[]; leftOut: LeftOutForeignKey[] } {
  const names = new Set(tables.map((t) => t.name));
  const leftOut: LeftOutForeignKey[] = [];
  const kept = tables.map((t) => {
    const fks = t.foreignKeys ?? [];
    const keep = fks.filter((fk) => names.has(fk.referencedTable));
    if (keep.length === fks.length) return t;
    for (const fk of fks) if (!names.has(fk.referencedTable)) leftOut.push({ table: t.name, foreignKey: fk });
    return { ...t, foreignKeys: keep };
  });
  return { tables: kept, leftOut };
}

/**
 * The tables in an order that creates every referenced table before the tables referencing it
 * (a topological order of the foreign keys among them, stable: otherwise the given order).
 * Self-references do not count. Tables on a cycle (store ↔ staff) come in the given order once
 * nothing else can come first: their keys are created after the copy anyway, when every table exists.
 */
export function creationOrder(tables: readonly TableSchema[]): TableSchema[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const parents = new Map(tables.map((t) => [t.name, new Set((t.foreignKeys ?? []).map((fk) => fk.referencedTable).filter((p) => p !== t.name && byName.has(p)))]));
  const out: TableSchema[] = [];
  const placed = new Set<string>();
  while (out.length < tables.length) {
    const ready = tables.find((t) => !placed.has(t.name) && [...(parents.get(t.name) ?? [])].every((p) => placed.has(p)));
    // A cycle: the first table left breaks it.
    const next = ready ?? tables.find((t) => !placed.has(t.name));
    if (!next) break;
    placed.add(next.name);
    out.push(next);
  }
  return out;
}

/** Whether a rule acts on the referencing rows (RESTRICT and NO ACTION only refuse). */
function acts(rule: ForeignKey['onUpdate']): boolean {
  return rule === 'CASCADE' || rule === 'SET NULL';
}

/** The tables some foreign key among `tables` references with an action (CASCADE, SET NULL) on update or delete. */
export function tablesWithReferentialActions(tables: Iterable<TableSchema>): Set<string> {
  const out = new Set<string>();
  for (const t of tables) for (const fk of t.foreignKeys ?? []) if (acts(fk.onUpdate) || acts(fk.onDelete)) out.add(fk.referencedTable);
  return out;
}

function valuesOf(table: TableSchema, row: Row, columns: readonly string[]): Value[] | undefined {
  const out: Value[] = [];
  for (const name of columns) {
    const i = table.columns.findIndex((c) => c.name === name);
    if (i < 0) return undefined;
    out.push(row[i] ?? null);
  }
  return out;
}

function same(a: readonly Value[], b: readonly Value[]): boolean {
  return a.length === b.length && a.every((v, i) => sameValue(v, b[i] ?? null));
}

function sameValue(a: Value, b: Value): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  return a === b;
}

/**
 * The cascades one row change of `table` makes on the source, for a source that does not log them
 * (MySQL/MariaDB run them inside InnoDB and log only the parent's row): an UPDATE (`before` and
 * `after`) that changes the referenced columns of a key with ON UPDATE CASCADE / SET NULL, or a
 * DELETE (`after` null) of a row referenced by a key with ON DELETE CASCADE / SET NULL. A row whose
 * referenced values hold a NULL references nothing. An update cascade continues into the keys that
 * reference exactly the columns it changed (their values change the same way); a cascade through
 * other columns (a deleted row's own children) cannot be known from the parent's row and is not
 * followed: `deeper` names those keys so the caller can say so.
 */
export function cascadesOf(
  tables: ReadonlyMap<string, TableSchema>,
  table: string,
  before: Row,
  after: Row | null,
): { cascades: Cascade[]; deeper: string[] } {
  const cascades: Cascade[] = [];
  const deeper: string[] = [];
  const parent = tables.get(table);
  if (!parent) return { cascades, deeper };
  const visit = (parentName: string, changed: ReadonlyMap<string, { from: Value; to: Value }> | null, row: Row | null, depth: number): void => {
    if (depth > 16) return;
    for (const child of tables.values()) {
      for (const fk of child.foreignKeys ?? []) {
        if (fk.referencedTable !== parentName) continue;
        const rule = changed ? fk.onUpdate : fk.onDelete;
        if (!acts(rule)) continue;
        let from: Value[] | undefined;
        let to: Value[] | undefined;
        if (row) {
          from = valuesOf(tables.get(parentName) as TableSchema, row, fk.referencedColumns);
        } else if (changed) {
          if (!fk.referencedColumns.every((c) => changed.has(c))) continue;
          from = fk.referencedColumns.map((c) => changed.get(c)?.from ?? null);
          to = fk.referencedColumns.map((c) => changed.get(c)?.to ?? null);
        }
        if (!from || from.some((v) => v === null)) continue;
        if (changed && to && same(from, to)) continue;
        const base = { table: child.name, foreignKey: fk.name, columns: fk.columns, from };
        if (rule === 'SET NULL') {
          cascades.push({ kind: 'update', ...base, to: fk.columns.map(() => null) });
        } else if (changed && to) {
          cascades.push({ kind: 'update', ...base, to });
          const next = new Map(fk.columns.map((c, i) => [c, { from: from[i] ?? null, to: to[i] ?? null }]));
          visit(child.name, next, null, depth + 1);
        } else {
          cascades.push({ kind: 'delete', ...base });
          if (tablesWithReferentialActions(tables.values()).has(child.name)) deeper.push(`${child.name}.${fk.name}`);
        }
      }
    }
  };
  if (after) {
    // Every column with its values before and after: a key over (a, b) cascades when a alone
    // changed; one whose referenced values did not change is skipped.
    const all = new Map(parent.columns.map((c, i) => [c.name, { from: before[i] ?? null, to: after[i] ?? null }]));
    visit(table, all, null, 0);
  } else visit(table, null, before, 0);
  return { cascades, deeper };
}
