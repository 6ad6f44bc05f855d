import type { Connection, RowDataPacket } from 'mysql2/promise';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { SchemaChange, SchemaOperation } from '../../core/schema-change.js';
import type { SchemaChangeGroup } from './ddl.js';

/**
 * A MySQL target's DDL commits on its own, before the checkpoint that follows it (TargetWriter
 * .applySchemaChange): after a crash between the two, the stream replays the statement. This module
 * decides, from what the target holds, which of a schema change's operations are already in effect,
 * so the replay runs only the rest and neither fails (a duplicate column) nor applies anything twice.
 *
 * What decides: each statement (ddl.ts SchemaChangeGroup) is applied by MySQL whole or not at all.
 * An ALTER TABLE is in effect when every operation whose effect can be seen is seen (a column there
 * or gone, renamed, an index or a foreign key there or gone); what cannot be seen (MODIFY, a default, table options)
 * follows the rest, and re-running it alone changes nothing. A RENAME TABLE is decided by the
 * tables' InnoDB identities (TABLE_ID, which a rename keeps), recorded in the checkpoint table before
 * the statement runs (checkpoint/rows.ts PENDING_DDL_ROW): a swap of two tables with the same
 * columns looks the same before and after by every other measure.
 */

/** A target table as a replay sees it. */
export interface TableState {
  /** Column names, as the table spells them. */
  readonly columns: readonly string[];
  /** Indexes by lower-case name ('primary' for the primary key): their columns in order and whether unique. */
  readonly indexes: ReadonlyMap<string, { readonly columns: readonly string[]; readonly unique: boolean }>;
  /** Foreign key names, lower case (absent: not read). */
  readonly foreignKeys?: ReadonlySet<string>;
  /** InnoDB's TABLE_ID, when the table is InnoDB and the user may read it (PROCESS privilege). */
  readonly id?: string;
}

/** The tables a schema change names, as the target holds them (absent: the table does not exist). */
export type TargetState = ReadonlyMap<string, TableState>;

/**
 * What the target recorded before running a schema change with table renames: the statement, its
 * position, and the identity of every table its renames name ('exists' for a table without an
 * InnoDB id, null for no table).
 */
export interface PendingDdl {
  readonly position: string;
  readonly statement: string;
  readonly tables: Readonly<Record<string, string | null>>;
}

export function pendingDdlBody(p: PendingDdl): string {
  return JSON.stringify(p);
}

/** The stored pending row, or undefined when it is not one this version wrote. */
export function parsePendingDdl(body: string | undefined): PendingDdl | undefined {
  if (body === undefined) return undefined;
  try {
    const p = JSON.parse(body) as Partial<PendingDdl>;
    if (typeof p.position !== 'string' || typeof p.statement !== 'string' || typeof p.tables !== 'object' || p.tables === null) return undefined;
    return p as PendingDdl;
  } catch {
    return undefined;
  }
}

/** Every table name the change's operations touch (renames' both sides included). */
export function changeTables(change: SchemaChange): string[] {
  const names = new Set<string>();
  for (const op of change.operations) {
    if (op.op === 'rename-tables') for (const p of op.pairs) names.add(p.from).add(p.to);
    else if (op.op === 'create-table') names.add(op.table.name);
    else names.add(op.table);
  }
  return [...names];
}

/** The table names of the change's RENAME TABLE statements, whose identities are recorded before it runs. */
export function renamedTables(change: SchemaChange, groups: readonly SchemaChangeGroup[]): string[] {
  const names = new Set<string>();
  for (const g of groups) {
    if (g.kind !== 'rename') continue;
    const op = change.operations[g.operations[0]];
    if (op?.op === 'rename-tables') for (const p of op.pairs) names.add(p.from).add(p.to);
  }
  return [...names];
}

/** A table's identity for the pending row: its InnoDB id, 'exists', or null. */
export function identity(state: TargetState, table: string): string | null {
  const t = state.get(table);
  return t ? (t.id ?? 'exists') : null;
}

const lower = (s: string) => s.toLowerCase();
const sameColumns = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((c, i) => lower(c) === lower(b[i] ?? ''));

/**
 * Whether operation `i` (of an ALTER TABLE group) is in effect on `t`: true, false, or undefined
 * when its effect cannot be seen (or another operation of the same statement undoes it: a DROP and
 * ADD of one index).
 */
export function operationInEffect(change: SchemaChange, i: number, group: readonly number[], t: TableState): boolean | undefined {
  const op = change.operations[i] as SchemaOperation;
  const others = group.filter((j) => j !== i).map((j) => change.operations[j] as SchemaOperation);
  const has = (c: string) => t.columns.some((x) => lower(x) === lower(c));
  switch (op.op) {
    case 'add-column':
      return others.some((o) => o.op === 'drop-column' && lower(o.column) === lower(op.column.name)) ? undefined : has(op.column.name);
    case 'drop-column':
      return others.some((o) => o.op === 'add-column' && lower(o.column.name) === lower(op.column)) ? undefined : !has(op.column);
    case 'rename-column': {
      if (lower(op.from) === lower(op.to)) return undefined;
      if (has(op.to) && !has(op.from)) return true;
      if (has(op.from) && !has(op.to)) return false;
      return undefined;
    }
    case 'add-index': {
      const idx = t.indexes.get(op.primary ? 'primary' : lower(op.name));
      return idx !== undefined && sameColumns(idx.columns, op.columns) && (op.primary === true || idx.unique === op.unique);
    }
    case 'drop-index': {
      const key = op.primary ? 'primary' : lower(op.name);
      const readded = others.some((o) => o.op === 'add-index' && (o.primary ? 'primary' : lower(o.name)) === key);
      return readded ? undefined : !t.indexes.has(key);
    }
    case 'add-foreign-key':
      return t.foreignKeys?.has(lower(op.foreignKey.name));
    case 'drop-foreign-key': {
      const readded = others.some((o) => o.op === 'add-foreign-key' && lower(o.foreignKey.name) === lower(op.name));
      return readded || t.foreignKeys === undefined ? undefined : !t.foreignKeys.has(lower(op.name));
    }
    case 'rename-index': {
      if (lower(op.from) === lower(op.to)) return undefined;
      if (t.indexes.has(lower(op.to)) && !t.indexes.has(lower(op.from))) return true;
      if (t.indexes.has(lower(op.from)) && !t.indexes.has(lower(op.to))) return false;
      return undefined;
    }
    default:
      return undefined;
  }
}

/**
 * The operations of `change` already in effect on the target (to leave out of the statements run),
 * group by group; see the module comment. `pending` is the row recorded before this change's DDL,
 * if one was (the caller passes no row of another change: this one's DDL has not run then). Throws
 * DDL_UNSUPPORTED naming the tables when a RENAME TABLE's effect cannot be decided.
 */
export function operationsInEffect(change: SchemaChange, groups: readonly SchemaChangeGroup[], state: TargetState, pending: PendingDdl | undefined): Set<number> {
  const skip = new Set<number>();
  for (const g of groups) {
    const first = g.operations[0] as number;
    const op = change.operations[first] as SchemaOperation;
    switch (g.kind) {
      case 'create':
        if (op.op === 'create-table' && state.has(op.table.name)) skip.add(first);
        break;
      case 'drop':
        if (op.op === 'drop-table' && !state.has(op.table)) skip.add(first);
        break;
      case 'truncate':
        // Nothing was written to the table since (the stream waits for the checkpoint): emptying it again changes nothing.
        break;
      case 'rename':
        if (op.op === 'rename-tables' && renameInEffect(op.pairs, state, pending)) skip.add(first);
        break;
      case 'alter': {
        const all = g.renameTo ? [...g.operations, g.renameTo.operation] : [...g.operations];
        const t = state.get(g.table);
        if (g.renameTo && !t && state.has(g.renameTo.to)) {
          all.forEach((i) => skip.add(i));
          break;
        }
        if (!t) break; // MySQL says what is wrong
        const seen = g.operations.map((i) => [i, operationInEffect(change, i, g.operations, t)] as const).filter(([, v]) => v !== undefined);
        if (seen.length > 0 && seen.every(([, v]) => v)) all.forEach((i) => skip.add(i));
        else for (const [i, v] of seen) if (v) skip.add(i);
        break;
      }
    }
  }
  return skip;
}

/**
 * Whether a RENAME TABLE ran: the tables' identities now against those recorded before it, and
 * after it (the renames applied to the record). No record of this change: its DDL has not run.
 */
function renameInEffect(pairs: readonly { readonly from: string; readonly to: string }[], state: TargetState, pending: PendingDdl | undefined): boolean {
  if (!pending) return false;
  const names = Object.keys(pending.tables);
  const before = new Map(names.map((n) => [n, pending.tables[n] ?? null]));
  const after = new Map(before);
  for (const { from, to } of pairs) {
    after.set(to, after.get(from) ?? null);
    after.set(from, null);
  }
  const now = new Map(names.map((n) => [n, identity(state, n)]));
  const equal = (a: ReadonlyMap<string, string | null>) => names.every((n) => a.get(n) === now.get(n));
  const isBefore = equal(before);
  const isAfter = equal(after);
  if (isAfter && !isBefore) return true;
  if (isBefore && !isAfter) return false;
  const list = pairs.map((p) => `${p.from} TO ${p.to}`).join(', ');
  throw new TributaryError(
    ErrorCode.DDL_UNSUPPORTED,
    isBefore
      ? `replaying RENAME TABLE ${list} after a crash: the target's tables look the same before and after it (they have no InnoDB table ids this user may read: grant PROCESS, or make them InnoDB), so whether it ran cannot be told; compare the tables with the source, run the RENAME on the target if it did not run, then resume past the statement with tributary sync --skip-ddl POSITION`
      : `replaying RENAME TABLE ${list} after a crash: the target's tables (${names.join(', ')}) are neither as they were before it nor as it leaves them, so something else renamed them; put them right by hand, then resume past the statement with tributary sync --skip-ddl POSITION`,
  );
}

/**
 * A table name as InnoDB's dictionary spells it ('db/table'), for names of ASCII letters, digits
 * and other ASCII characters (encoded @00xx as MySQL encodes file names); undefined for other names,
 * whose identity is then not read.
 */
export function innodbName(database: string, table: string): string | undefined {
  const enc = (s: string): string | undefined => {
    let out = '';
    for (const ch of s) {
      const code = ch.codePointAt(0) as number;
      if (code > 127) return undefined;
      out += /[A-Za-z0-9_]/.test(ch) ? ch : `@${code.toString(16).padStart(4, '0')}`;
    }
    return out;
  };
  const d = enc(database);
  const t = enc(table);
  return d !== undefined && t !== undefined ? `${d}/${t}` : undefined;
}

/** Reads the tables' columns, indexes, foreign keys and InnoDB ids from the target's catalogue. */
export async function inspectTables(conn: Pick<Connection, 'query'>, database: string, tables: readonly string[]): Promise<TargetState> {
  const state = new Map<string, { columns: string[]; indexes: Map<string, { columns: string[]; unique: boolean }>; foreignKeys: Set<string>; id?: string }>();
  if (tables.length === 0) return state;
  const [cols] = await conn.query<RowDataPacket[]>(
    `SELECT c.TABLE_NAME AS t, c.COLUMN_NAME AS c FROM information_schema.COLUMNS c
       JOIN information_schema.TABLES b ON b.TABLE_SCHEMA = c.TABLE_SCHEMA AND b.TABLE_NAME = c.TABLE_NAME AND b.TABLE_TYPE = 'BASE TABLE'
      WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME IN (?) ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`,
    [database, tables],
  );
  for (const r of cols) {
    const name = String(r.t);
    let t = state.get(name);
    if (!t) state.set(name, (t = { columns: [], indexes: new Map(), foreignKeys: new Set() }));
    t.columns.push(String(r.c));
  }
  const [idx] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS t, INDEX_NAME AS i, COLUMN_NAME AS c, NON_UNIQUE AS nu FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?) ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    [database, tables],
  );
  for (const r of idx) {
    const t = state.get(String(r.t));
    if (!t) continue;
    const key = String(r.i).toLowerCase();
    let i = t.indexes.get(key);
    if (!i) t.indexes.set(key, (i = { columns: [], unique: Number(r.nu) === 0 }));
    i.columns.push(String(r.c));
  }
  const [fks] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS t, CONSTRAINT_NAME AS n FROM information_schema.TABLE_CONSTRAINTS
      WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME IN (?) AND CONSTRAINT_TYPE = 'FOREIGN KEY'`,
    [database, tables],
  );
  for (const r of fks) state.get(String(r.t))?.foreignKeys.add(String(r.n).toLowerCase());
  const byInnodb = new Map<string, string>();
  for (const name of state.keys()) {
    const n = innodbName(database, name);
    if (n !== undefined) byInnodb.set(n, name);
  }
  if (byInnodb.size) {
    for (const view of ['INNODB_SYS_TABLES', 'INNODB_TABLES']) {
      try {
        const [ids] = await conn.query<RowDataPacket[]>(`SELECT NAME AS n, TABLE_ID AS id FROM information_schema.${view} WHERE NAME IN (?)`, [[...byInnodb.keys()]]);
        for (const r of ids) {
          const t = state.get(byInnodb.get(String(r.n)) ?? '');
          if (t) t.id = String(r.id);
        }
        break;
      } catch (err) {
        // 1109: no such view on this server (MariaDB has the first, MySQL 8 the second); 1227: no PROCESS privilege.
        const errno = (err as { errno?: number }).errno;
        if (errno === 1109) continue;
        if (errno === 1227) break;
        throw err;
      }
    }
  }
  return state;
}
