import type { Etcd3 } from 'etcd3';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { SchemaChange } from '../../core/schema-change.js';
import type { Column, TableSchema } from '../../core/schema.js';
import { deletePrefixOp, putOp, rangePages, type Op } from './apply.js';
import type { KeyLayout } from './keys.js';
import { members } from './values.js';

/**
 * What a source schema change does to the documents in etcd (applySchemaChange, target.ts). etcd
 * has no schema: a table is a key range of JSON objects, so:
 *
 * - CREATE TABLE, indexes, foreign keys, defaults, charsets, table options: nothing to write.
 * - DROP TABLE, TRUNCATE: the table's key range is deleted.
 * - RENAME TABLE: every object moves under the new name's prefix.
 * - RENAME COLUMN, DROP COLUMN: every object of the table is rewritten with the member renamed or
 *   left out (its other members kept byte for byte).
 * - ADD COLUMN, MODIFY COLUMN: objects are left as they are; a row gets the new member (or form)
 *   when it next changes. Until then the added member is missing (a reader takes it for NULL).
 * - A change of the primary key's columns would move every key: refused, naming the fix.
 *
 * Objects are read at the etcd revision just before the change's first write (MVCC), so moves and
 * rewrites read the table as it was whatever they wrote already; that revision is kept in the
 * checkpoint's pending-DDL row, so that a replay after a crash reads the same snapshot.
 */
export interface TableRewrite {
  /** The table's name before the change, and after. */
  readonly from: string;
  readonly to: string;
  /** Each member of the objects after the change ← its name before (absent: a member dropped). */
  readonly members: ReadonlyMap<string, string>;
  /** Members are renamed or dropped: objects are rewritten; false with from ≠ to: only moved. */
  readonly reshape: boolean;
}

export interface DocumentPlan {
  /** Key ranges (tables) deleted: tables dropped, truncated, or renamed away (their objects read from the snapshot). */
  readonly clear: readonly string[];
  readonly rewrites: readonly TableRewrite[];
}

function keyNames(t: TableSchema): string[] {
  return t.primaryKey.map((i) => (t.columns[i] as Column).name);
}

/**
 * The writes a schema change needs, computed from its operations and its definitions before and
 * after. Throws DDL_UNSUPPORTED (before anything runs) for a change of a table's key columns.
 */
export function planDocuments(change: SchemaChange, layout: KeyLayout): DocumentPlan {
  // Each table of `before` under its current name, with its members' current names ← original names.
  const state = new Map<string, { from: string; names: Map<string, string> }>();
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
  const kept = new Set<string>();
  for (const [to, s] of state) {
    const after = change.after.get(to);
    const before = change.before.get(s.from) as TableSchema;
    if (!after) {
      clear.add(s.from);
      continue;
    }
    kept.add(s.from);
    const keyAfter = keyNames(after).map((n) => s.names.get(n) ?? `(new ${n})`);
    if (keyAfter.join('\u0000') !== keyNames(before).join('\u0000')) {
      throw new TributaryError(
        ErrorCode.DDL_UNSUPPORTED,
        `the etcd target cannot follow "${change.statement.trim().slice(0, 200)}": it changes table ${to}'s primary key (${keyNames(before).join(', ')} → ${keyNames(after).join(', ')}), which would move every key of it; restart the sync with --force to copy the table afresh under its new keys`,
      );
    }
    const m = new Map<string, string>();
    for (const c of after.columns) {
      const orig = s.names.get(c.name);
      if (orig !== undefined) m.set(c.name, orig);
    }
    const reshape = before.columns.some((c) => ![...m.values()].includes(c.name)) || [...m].some(([a, b]) => a !== b);
    const moved = layout.tableSegment(s.from) !== layout.tableSegment(to);
    if (moved) clear.add(s.from);
    if (moved || reshape) rewrites.push({ from: s.from, to, members: m, reshape });
    else if (truncated.has(to)) clear.add(to);
  }
  for (const name of change.before.keys()) if (!kept.has(name)) clear.add(name);
  return { clear: [...clear], rewrites };
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
      yield kvs.map(({ key, value }) => putOp(toPrefix + key.slice(fromPrefix.length), rw.reshape ? reshaped(value, rw.members) : value));
    }
  } catch (err) {
    if (/compacted/i.test((err as Error).message)) {
      throw new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `the etcd revision ${revision} the schema change reads table ${rw.from} at was compacted away before the change was finished; restart the sync with --force to copy the tables afresh`, { cause: err });
    }
    throw err;
  }
}

/** An object with its members renamed or left out (`members`: name after ← name before), the others byte for byte. */
function reshaped(text: string, names: ReadonlyMap<string, string>): string {
  const old = members(text);
  let out = '{';
  for (const [name, orig] of names) {
    const raw = old.get(orig);
    if (raw === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(name)}:${raw}`;
  }
  return out + '}';
}
