import type pg from 'pg';
import type { Change } from '../../core/change.js';
import type { Column } from '../../core/schema.js';
import type { Value } from '../../core/values.js';
import { holderDeletes, loadCopy, type TablePlan } from './load.js';
import { copyField, quoteIdent, renderRow, type TargetColumn, type ValueKind } from './sql.js';

/** Bounds one statement's parameters (PostgreSQL accepts up to 1 GiB; smaller keeps memory flat). */
const MAX_STATEMENT_BYTES = 8 * 1024 * 1024;
const MAX_STATEMENT_ROWS = 20_000;

/**
 * Rows travel as one array parameter per column, `unnest($1::type[], …)`: one round trip and one
 * plan per statement, whatever the number of rows, and no literal escaping (the values go as
 * bound parameters in PostgreSQL's text input forms).
 */
function unnestOf(cols: readonly TargetColumn[], first = 1): string {
  // An array column's parameter would be a 2-D array, which unnest() flattens: its values travel as
  // text (PostgreSQL's array literal) and are cast back in a derived table. So do those of a type
  // whose arrays are not comma-separated (TargetColumn.castFromText).
  const isArray = (c: TargetColumn) => /\[\]$/.test(c.sqlType) || c.castFromText === true;
  const args = cols.map((c, i) => `$${first + i}::${isArray(c) ? 'text' : c.sqlType}[]`).join(', ');
  if (!cols.some(isArray)) return `unnest(${args})`;
  const names = cols.map((_, i) => `x${i}`);
  const list = cols.map((c, i) => (isArray(c) ? `x${i}::${c.sqlType}` : `x${i}`)).join(', ');
  return `(SELECT ${list} FROM unnest(${args}) AS u(${names.join(', ')}))`;
}

function columnsOf(plan: TablePlan, idx: readonly number[]): TargetColumn[] {
  return idx.map((i) => plan.columns[i] as TargetColumn);
}

/** Splits rendered rows into statements of bounded size. */
function* batches(rows: readonly (readonly (string | null)[])[]): Generator<(readonly (string | null)[])[]> {
  let cur: (readonly (string | null)[])[] = [];
  let bytes = 0;
  for (const r of rows) {
    cur.push(r);
    for (const v of r) bytes += v === null ? 4 : v.length + 4;
    if (bytes >= MAX_STATEMENT_BYTES || cur.length >= MAX_STATEMENT_ROWS) {
      yield cur;
      cur = [];
      bytes = 0;
    }
  }
  if (cur.length) yield cur;
}

function columnArrays(rows: readonly (readonly (string | null)[])[], width: number): (string | null)[][] {
  const arrays: (string | null)[][] = Array.from({ length: width }, () => new Array<string | null>(rows.length));
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as readonly (string | null)[];
    for (let c = 0; c < width; c++) (arrays[c] as (string | null)[])[r] = row[c] ?? null;
  }
  return arrays;
}

/** `DELETE … WHERE pk = ANY($1)` / `WHERE (k1, k2) IN (SELECT * FROM unnest(…))` by primary key. */
export async function deleteKeys(client: pg.ClientBase, plan: TablePlan, keys: readonly (readonly Value[])[]): Promise<void> {
  if (keys.length === 0) return;
  const t = plan.table;
  const pk = t.primaryKey;
  const cols = columnsOf(plan, pk);
  const rendered = keys.map((k) => {
    // A full-width row with the key in place, so a refused value is reported by column and key.
    const row: Value[] = new Array<Value>(t.columns.length).fill(null);
    pk.forEach((ci, j) => (row[ci] = k[j] ?? null));
    const all = renderRow(t, plan.columns.map((c, i) => (pk.includes(i) ? c : { ...c, kind: 'text' as const })), row, plan.zeroDates);
    return pk.map((ci) => all[ci] ?? null);
  });
  const names = pk.map((i) => quoteIdent((t.columns[i] as Column).name));
  const sql =
    pk.length === 1
      ? `DELETE FROM ${plan.target} WHERE ${names[0]} = ANY($1::${(cols[0] as TargetColumn).sqlType}[])`
      : `DELETE FROM ${plan.target} WHERE (${names.join(', ')}) IN (SELECT * FROM ${unnestOf(cols)} AS k)`;
  for (const b of batches(rendered)) await client.query(sql, columnArrays(b, pk.length));
}

/** Kinds whose PostgreSQL input text never holds a tab, newline, CR or backslash (nothing to escape for COPY; bytea's '\\x' does). */
const PLAIN: ReadonlySet<ValueKind> = new Set(['int', 'numeric', 'float4', 'float8', 'bool', 'bit', 'date', 'timestamp', 'timestamptz']);

/**
 * rows[from, to) in COPY's text format, written straight into one buffer: building a string per
 * line (and joining them) left enough garbage behind to cost more in GC than COPY saved PostgreSQL.
 */
function copyRows(plan: TablePlan, rows: readonly (readonly Value[])[], from: number, to: number): Buffer {
  const plain = plan.columns.map((c) => PLAIN.has(c.kind));
  let buf = Buffer.allocUnsafe(Math.max(4096, (to - from) * 256));
  let off = 0;
  for (let r = from; r < to; r++) {
    const fields = renderRow(plan.table, plan.columns, rows[r] as readonly Value[], plan.zeroDates);
    for (let i = 0; i < fields.length; i++) {
      let s = fields[i] ?? null;
      s = s === null ? '\\N' : plain[i] ? s : copyField(s);
      // UTF-8 takes at most 3 bytes per UTF-16 unit; +2 for the separator and a newline.
      if (off + s.length * 3 + 2 > buf.length) {
        const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, off + s.length * 3 + 2));
        buf.copy(bigger, 0, 0, off);
        buf = bigger;
      }
      if (i) buf[off++] = 9;
      off += buf.write(s, off, 'utf8');
    }
    buf[off++] = 10;
  }
  return buf.subarray(0, off);
}

/**
 * From this many rows on, upserts go through COPY into the session's load table, then one
 * INSERT … SELECT … ON CONFLICT, as chunk loads do: COPY's text format costs less to produce in
 * Node and to parse in PostgreSQL than one text array parameter per column. Fewer rows keep the
 * unnest() statement, which needs one round trip instead of three. (TRIBUTARY_PG_COPY_MIN_ROWS
 * overrides it, for benchmarks comparing the two paths.)
 */
const COPY_MIN_ROWS = Number(process.env.TRIBUTARY_PG_COPY_MIN_ROWS ?? 1000);

/**
 * Upserts full row images: first the REPLACE-like deletion of rows holding one of their secondary
 * unique values under another key (see holderDeletes), then INSERT … ON CONFLICT (pk) DO UPDATE,
 * in primary key order (TablePlan.orderByKey).
 */
export async function upsertRows(client: pg.ClientBase, plan: TablePlan, rows: readonly (readonly Value[])[]): Promise<void> {
  if (rows.length === 0) return;
  if (rows.length >= COPY_MIN_ROWS) {
    // Inside the batch's transaction: the load table may not exist on this session yet (created
    // here, it goes with a rollback and is created again next time), and it may hold the rows of
    // an earlier write of the same open transaction (ON COMMIT DELETE ROWS empties it only at
    // commit), so it is emptied first. Both in one round trip.
    await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${plan.temp} (LIKE ${plan.target}) ON COMMIT DELETE ROWS; TRUNCATE ${plan.temp}`);
    for (let i = 0; i < rows.length; i += MAX_STATEMENT_ROWS) {
      await loadCopy(client, plan, copyRows(plan, rows, i, Math.min(rows.length, i + MAX_STATEMENT_ROWS)));
      if (i + MAX_STATEMENT_ROWS < rows.length) await client.query(`TRUNCATE ${plan.temp}`);
    }
    return;
  }
  const t = plan.table;
  const rendered = rows.map((r) => renderRow(t, plan.columns, r, plan.zeroDates));
  const aliases = t.columns.map((c) => quoteIdent(c.name)).join(', ');
  const insert = `INSERT INTO ${plan.target} (${plan.columnList}) SELECT * FROM ${unnestOf(plan.columns)} AS n(${aliases}) ${plan.orderByKey} ${plan.onConflict}`;
  const deletes = plan.uniqueKeys.length ? holderDeletes(plan, `${unnestOf(plan.columns)} AS n(${aliases})`) : [];
  for (const b of batches(rendered)) {
    const params = columnArrays(b, plan.columns.length);
    for (const sql of deletes) await client.query(sql, params);
    await client.query(insert, params);
  }
}

/**
 * Row images whose `unchanged` columns the source did not send (PostgreSQL's unchanged TOAST
 * values): an UPDATE of the other columns of the row with that key, which writes nothing when the
 * row is not there yet (the copy brings it whole). Grouped by the set of columns present.
 */
export async function updatePartial(client: pg.ClientBase, plan: TablePlan, rows: readonly { row: readonly Value[]; unchanged: readonly number[] }[]): Promise<void> {
  const t = plan.table;
  const groups = new Map<string, { present: number[]; rows: (readonly Value[])[] }>();
  for (const r of rows) {
    const skip = new Set(r.unchanged);
    const present = t.columns.map((_, i) => i).filter((i) => !skip.has(i));
    const sig = present.join(',');
    let g = groups.get(sig);
    if (!g) groups.set(sig, (g = { present, rows: [] }));
    g.rows.push(r.row);
  }
  const pk = new Set(t.primaryKey);
  for (const { present, rows: group } of groups.values()) {
    const cols = columnsOf(plan, present);
    const name = (i: number) => quoteIdent((t.columns[i] as Column).name);
    const source = `${unnestOf(cols)} AS n(${present.map(name).join(', ')})`;
    const sets = present.filter((i) => !pk.has(i));
    if (sets.length === 0) continue;
    const where = t.primaryKey.map((i) => `d.${name(i)} = n.${name(i)}`).join(' AND ');
    const sql = `UPDATE ${plan.target} AS d SET ${sets.map((i) => `${name(i)} = n.${name(i)}`).join(', ')} FROM ${source} WHERE ${where}`;
    // Unique keys whose columns are all sent may move a value: the same REPLACE-like deletion as upserts.
    const deletes = holderDeletes({ ...plan, uniqueKeys: plan.uniqueKeys.filter((u) => u.every((i) => present.includes(i))) }, source);
    const rendered = group.map((r) => {
      const all = renderRow(t, plan.columns.map((c, i) => (present.includes(i) ? c : { ...c, kind: 'text' as const })), r.map((v, i) => (present.includes(i) ? v : null)), plan.zeroDates, r);
      return present.map((i) => all[i] ?? null);
    });
    for (const b of batches(rendered)) {
      const params = columnArrays(b, present.length);
      for (const d of deletes) await client.query(d, params);
      await client.query(sql, params);
    }
  }
}

/** Applies coalesced changes of several tables: per table, deletes first, then upserts. */
export async function applyChanges(client: pg.ClientBase, plans: (table: string) => TablePlan | undefined, changes: readonly Change[]): Promise<void> {
  type Partial = { row: readonly Value[]; unchanged: readonly number[] };
  const byTable = new Map<string, { del: Value[][]; up: Value[][]; partial: Partial[] }>();
  for (const ch of changes) {
    let g = byTable.get(ch.table);
    if (!g) byTable.set(ch.table, (g = { del: [], up: [], partial: [] }));
    if (ch.kind === 'delete') g.del.push(ch.key);
    else if (ch.unchanged?.length) g.partial.push({ row: ch.row, unchanged: ch.unchanged });
    else g.up.push(ch.row);
  }
  for (const [name, g] of byTable) {
    const plan = plans(name);
    if (!plan) continue;
    await deleteKeys(client, plan, g.del);
    await upsertRows(client, plan, g.up);
    if (g.partial.length) await updatePartial(client, plan, g.partial);
  }
}
