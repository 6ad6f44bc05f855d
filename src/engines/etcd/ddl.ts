import type { Etcd3 } from 'etcd3';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { keepsEveryValue, type LogicalType } from '../../core/logical.js';
import type { ColumnDefault, SchemaChange } from '../../core/schema-change.js';
import type { Column, TableSchema } from '../../core/schema.js';
import { deletePrefixOp, putOp, rangePages, type Op } from './apply.js';
import type { KeyLayout } from './keys.js';
import { members } from '../../core/json-row.js';

/**
 * What a source schema change does to the documents in etcd (applySchemaChange, target.ts). etcd
 * has no schema: a table is a key range of JSON objects, so:
 *
 * - CREATE TABLE, indexes, foreign keys, defaults, charsets, table options: nothing to write.
 * - DROP TABLE, TRUNCATE: the table's key range is deleted.
 * - RENAME TABLE: every object moves under the new name's prefix.
 * - RENAME COLUMN, DROP COLUMN, and ADD COLUMN of a nullable column without a default: every
 *   object of the table is rewritten with the member renamed, left out, or added as null (its
 *   other members kept byte for byte).
 * - ADD COLUMN with a default (or NOT NULL, generated), MODIFY COLUMN to a type that does not keep
 *   every value (core/logical.ts keepsEveryValue), a character set conversion: the objects cannot
 *   tell the values the source gave its rows, so the table is read again from the source while the
 *   stream runs (`recopy`: the applier's SchemaChange.recopy); its objects keep their old form until
 *   the copy reaches them.
 * - A change of the primary key's columns: every object moves to the key its members give (the
 *   table's range is cleared, then the objects put under their new keys); when a new key column
 *   is not in the objects as it will be (added, or its type changed), or the table is being copied
 *   again (SchemaChange.recopy: its objects not reached yet lack what an earlier change added), the
 *   range is cleared and the table read again from the source. A key etcd cannot name (none left, or a composite one under
 *   --etcd-layout contrail) is refused before anything runs.
 *
 * Objects are read at the etcd revision just before the change's first write (MVCC), so moves and
 * rewrites read the table as it was whatever they wrote already; that revision is kept in the
 * checkpoint's pending-DDL row, so that a replay after a crash reads the same snapshot.
 */
export interface TableRewrite {
  /** The table's name before the change, and after. */
  readonly from: string;
  readonly to: string;
  /** Each member of the objects after the change ← its name before; null: a member added as JSON null. Absent: dropped (or left to the recopy). */
  readonly members: ReadonlyMap<string, string | null>;
  /** Members are renamed, dropped or added: objects are rewritten; false with from ≠ to: only moved. */
  readonly reshape: boolean;
  /** The key columns changed: each object goes under the key its members give in this definition (the table's definition after the change). */
  readonly rekey?: TableSchema;
}

export interface DocumentPlan {
  /** Key ranges (tables) deleted: tables dropped, truncated, renamed away or re-keyed (their objects read from the snapshot). */
  readonly clear: readonly string[];
  readonly rewrites: readonly TableRewrite[];
  /** Tables (names after the change) whose rows are read again from the source (SchemaChange.recopy). */
  readonly recopy: readonly string[];
}

function keyNames(t: TableSchema): string[] {
  return t.primaryKey.map((i) => (t.columns[i] as Column).name);
}

/** Where a member of the objects comes from: the column's name before the change, or a column the change added (with its default). */
type Origin = string | { readonly added: ColumnDefault | undefined };

const logical = (c: Column): LogicalType => c.logical ?? { kind: 'other', native: c.columnType };

/** A string type that holds any value of its kind (MySQL LONGTEXT/LONGBLOB; PostgreSQL text, bytea, varchar without a length). */
function unbounded(engine: string, c: Column): boolean {
  const t = c.dataType.toLowerCase();
  return /^long(text|blob)$/.test(t) || (engine === 'postgres' && (t === 'text' || t === 'bytea' || (t === 'character varying' && !/\(/.test(c.columnType))));
}

/**
 * Whether the source keeps every value of a column whose definition went from `b` to `a`: none made
 * NOT NULL, none converted (core/logical.ts keepsEveryValue), none made unsigned (DECIMAL → DECIMAL
 * UNSIGNED clamps negatives), a float's declaration unchanged (FLOAT(M,D) rounds), a string type
 * without a declared length only into an unbounded one or itself. (A column made AUTO_INCREMENT
 * renumbers its zeros, which the definitions cannot tell from one that was already: the continuous
 * checksum repairs such rows.)
 */
function keepsValues(engine: string, b: Column, a: Column): boolean {
  if ((b.nullable && !a.nullable) || (!b.unsigned && a.unsigned)) return false;
  const lb = logical(b);
  const la = logical(a);
  if (lb.kind === 'float') return la.kind === 'float' && la.bits === lb.bits && b.columnType.toLowerCase() === a.columnType.toLowerCase();
  if ((lb.kind === 'text' && la.kind === 'text') || (lb.kind === 'binary' && la.kind === 'binary')) {
    if (la.length === undefined) {
      const sameCharset = lb.kind !== 'text' || la.kind !== 'text' || (lb.charset ?? '') === (la.charset ?? '');
      return sameCharset && !lb.fixed && !la.fixed && (unbounded(engine, a) || b.columnType.toLowerCase() === a.columnType.toLowerCase());
    }
  }
  return keepsEveryValue(lb, la);
}

/**
 * The writes a schema change needs, computed from its operations and its definitions before and
 * after. Throws DDL_UNSUPPORTED (before anything runs) for a key etcd cannot name.
 */
export function planDocuments(change: SchemaChange, layout: KeyLayout): DocumentPlan {
  // No operations: only the definitions are stored (--skip-ddl, a shadow table's bookkeeping).
  if (change.operations.length === 0) return { clear: [], rewrites: [], recopy: [] };
  // Each table of `before` under its current name, with where each of its members comes from.
  const state = new Map<string, { from: string; names: Map<string, Origin> }>();
  for (const [name, t] of change.before) state.set(name, { from: name, names: new Map(t.columns.map((c) => [c.name, c.name])) });
  const truncated = new Set<string>();
  for (const op of change.operations) {
    switch (op.op) {
      case 'rename-tables':
        // The pairs run in order (a swap goes through a temporary name: a → tmp, b → a, tmp → b).
        for (const p of op.pairs) {
          const s = state.get(p.from);
          state.delete(p.from);
          if (s) state.set(p.to, s);
        }
        break;
      case 'rename-column': {
        const s = state.get(op.table);
        const orig = s?.names.get(op.from);
        if (s && orig !== undefined) {
          s.names.delete(op.from);
          s.names.set(op.to, orig);
        }
        break;
      }
      case 'add-column':
        state.get(op.table)?.names.set(op.column.name, { added: op.default });
        break;
      case 'drop-column':
        state.get(op.table)?.names.delete(op.column);
        break;
      case 'drop-table':
        state.delete(op.table);
        break;
      case 'truncate':
        truncated.add(op.table);
        break;
      default:
        break;
    }
  }
  const clear = new Set<string>();
  const rewrites: TableRewrite[] = [];
  const recopy = new Set<string>();
  const kept = new Set<string>();
  for (const [to, s] of state) {
    const after = change.after.get(to);
    const before = change.before.get(s.from) as TableSchema;
    if (!after) {
      clear.add(s.from);
      continue;
    }
    kept.add(s.from);
    const m = new Map<string, string | null>();
    /** Members whose stored values are the source's after the change (renamed or not, none converted). */
    const exact = new Set<string>();
    for (const c of after.columns) {
      const origin = s.names.get(c.name);
      const was = typeof origin === 'string' ? before.columns.find((b) => b.name === origin) : undefined;
      if (was) {
        m.set(c.name, was.name);
        if (keepsValues(after.engine, was, c)) exact.add(c.name);
        else recopy.add(to);
      } else if (typeof origin === 'object' && c.nullable && (origin.added === undefined || origin.added.kind === 'null') && !after.generated.includes(c.name)) {
        // Every row has NULL in a nullable column added without a default.
        m.set(c.name, null);
        exact.add(c.name);
      } else {
        recopy.add(to);
      }
    }
    const reshape = before.columns.some((c) => ![...m.values()].includes(c.name)) || [...m].some(([a, b]) => a !== b);
    const moved = layout.tableSegment(s.from) !== layout.tableSegment(to);
    const keyBefore = keyNames(before);
    const keyAfter = keyNames(after);
    // A key column retyped counts as a key change: its values, hence the keys, may be others now.
    const rekeyed = keyAfter.map((n) => m.get(n) ?? `(new ${n})`).join('\u0000') !== keyBefore.join('\u0000') || keyAfter.some((n) => !exact.has(n));
    if (rekeyed) {
      const why = layout.refusal(after);
      if (why) {
        throw new TributaryError(
          ErrorCode.DDL_UNSUPPORTED,
          `the etcd target cannot follow "${change.statement.trim().slice(0, 200)}": it changes table ${to}'s primary key (${keyBefore.join(', ')} → ${keyAfter.join(', ') || 'none'}), and then ${why}; skip the statement (--skip-ddl) and re-copy the table, or restart the sync with --force`,
        );
      }
      clear.add(s.from);
      // The objects give the new keys when every key column's values are stored as the source has
      // them, in every object: not in a table being copied again (SchemaChange.recopy: a copy an
      // earlier change started, whose objects not reached yet lack the members it added), which the
      // copy writes whole under the new keys anyway.
      if (keyAfter.every((n) => exact.has(n) && m.get(n) !== null) && !change.recopy?.includes(to)) rewrites.push({ from: s.from, to, members: m, reshape, rekey: after });
      else recopy.add(to);
      continue;
    }
    if (moved) clear.add(s.from);
    if (moved || reshape) rewrites.push({ from: s.from, to, members: m, reshape });
    else if (truncated.has(to)) clear.add(to);
  }
  for (const name of change.before.keys()) if (!kept.has(name)) clear.add(name);
  return { clear: [...clear], rewrites, recopy: [...recopy] };
}

/** The ops that delete the cleared tables' key ranges (one per table: ranges of distinct tables never overlap). */
export function clearOps(plan: DocumentPlan, layout: KeyLayout): Op[] {
  return plan.clear.map((t) => deletePrefixOp(layout.tablePrefix(t)));
}

/**
 * The rewritten objects of one table, read at `revision`, a page at a time: each under the new
 * table's prefix with its key part unchanged, its members renamed or left out.
 */
export async function* rewriteOps(client: Etcd3, layout: KeyLayout, rw: TableRewrite, revision: string): AsyncGenerator<Op[]> {
  const fromPrefix = layout.tablePrefix(rw.from);
  const toPrefix = layout.tablePrefix(rw.to);
  try {
    for await (const kvs of rangePages(client, fromPrefix, 500, revision)) {
      yield kvs.map(({ key, value }) => {
        const text = rw.reshape ? reshaped(value, rw.members) : value;
        if (rw.rekey) assertKeyMembers(rw.rekey, key, text);
        return putOp(rw.rekey ? layout.objectKey(rw.rekey, text) : toPrefix + key.slice(fromPrefix.length), text);
      });
    }
  } catch (err) {
    if (/compacted/i.test((err as Error).message)) {
      throw new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `the etcd revision ${revision} the schema change reads table ${rw.from} at was compacted away before the change was finished; restart the sync with --force to copy the tables afresh`, { cause: err });
    }
    throw err;
  }
}

/**
 * Refuses, by name, an object that lacks a member of the new key (or holds null there): one
 * written by something else, or by a run that skipped the statement adding the member (--skip-ddl).
 * (A table being copied again is never moved this way: planDocuments.)
 */
function assertKeyMembers(table: TableSchema, key: string, text: string): void {
  const m = members(text);
  for (const name of keyNames(table)) {
    const raw = m.get(name);
    if (raw === undefined || raw === 'null') {
      throw new TributaryError(
        ErrorCode.TARGET_WRITE_FAILED,
        `the object at etcd key ${key.slice(0, 200)} has ${raw === undefined ? 'no member' : 'null as member'} ${name}, which is now part of table ${table.name}'s primary key, so it cannot be moved to its new key; restart the sync with --force to copy the table afresh (or delete the key and let the continuous checksum write it again)`,
      );
    }
  }
}

/** An object with its members renamed, left out or added as null (`members`: name after ← name before), the others byte for byte. */
function reshaped(text: string, names: ReadonlyMap<string, string | null>): string {
  const old = members(text);
  let out = '{';
  for (const [name, orig] of names) {
    const raw = orig === null ? 'null' : old.get(orig);
    if (raw === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(name)}:${raw}`;
  }
  return out + '}';
}
