import type pg from 'pg';
import { rowOf, type Change } from '../../core/change.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { isKeyless, type Cascade, type Column } from '../../core/schema.js';
import type { Value } from '../../core/values.js';
import { holderDeletes, loadCopy, readyLoadTable, type TablePlan } from './load.js';
import { copyField, quoteIdent, renderRow, type TargetColumn } from './sql.js';
import type { ValueKind } from './values.js';

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
  // whose arrays are not comma-separated, and of a composite, which unnest() would expand
  // (TargetColumn.castFromText).
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

/**
 * The condition selecting rows by primary key, `pk = ANY($1)` / `(k1, k2) IN (SELECT * FROM
 * unnest(…))`, over unqualified column names, and the keys rendered as its parameters' rows.
 */
function byKeys(plan: TablePlan, keys: readonly (readonly Value[])[]): { where: string; rendered: (string | null)[][] } {
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
  const where = pk.length === 1 ? `${names[0]} = ANY($1::${(cols[0] as TargetColumn).sqlType}[])` : `(${names.join(', ')}) IN (SELECT * FROM ${unnestOf(cols)} AS k)`;
  return { where, rendered };
}

/**
 * A referential action the source did not log (core/schema.ts Cascade), as one statement with the
 * values as parameters in the columns' text forms: `UPDATE child SET fk = to WHERE fk = from` or
 * `DELETE FROM child WHERE fk = from`.
 */
export async function applyCascade(client: pg.ClientBase, plan: TablePlan, cascade: Cascade): Promise<void> {
  const t = plan.table;
  const idx = cascade.columns.map((name) => {
    const i = t.columns.findIndex((c) => c.name === name);
    if (i < 0) throw new TributaryError(ErrorCode.INTERNAL, `foreign key ${cascade.foreignKey}: column ${name} is not in table ${t.name}`);
    return i;
  });
  const render = (values: readonly Value[]): (string | null)[] => {
    const row: Value[] = new Array<Value>(t.columns.length).fill(null);
    idx.forEach((ci, j) => (row[ci] = values[j] ?? null));
    const all = renderRow(t, plan.columns.map((c, i) => (idx.includes(i) ? c : { ...c, kind: 'text' as const })), row, plan.zeroDates);
    return idx.map((ci) => all[ci] ?? null);
  };
  const params: (string | null)[] = [];
  const param = (ci: number, v: string | null): string => {
    params.push(v);
    return `$${params.length}::${(plan.columns[ci] as TargetColumn).sqlType}`;
  };
  const from = render(cascade.from);
  const where = idx.map((ci, j) => `${quoteIdent((t.columns[ci] as Column).name)} = ${param(ci, from[j] ?? null)}`).join(' AND ');
  if (cascade.kind === 'delete') {
    await client.query(`DELETE FROM ${plan.target} WHERE ${where}`, params);
    return;
  }
  const to = render(cascade.to);
  const set = idx.map((ci, j) => `${quoteIdent((t.columns[ci] as Column).name)} = ${param(ci, to[j] ?? null)}`).join(', ');
  await client.query(`UPDATE ${plan.target} SET ${set} WHERE ${where}`, params);
}

/** `DELETE … WHERE pk = ANY($1)` / `WHERE (k1, k2) IN (SELECT * FROM unnest(…))` by primary key. */
export async function deleteKeys(client: pg.ClientBase, plan: TablePlan, keys: readonly (readonly Value[])[]): Promise<void> {
  if (keys.length === 0) return;
  const { where, rendered } = byKeys(plan, keys);
  const sql = `DELETE FROM ${plan.target} WHERE ${where}`;
  for (const b of batches(rendered)) await client.query(sql, columnArrays(b, plan.table.primaryKey.length));
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
    // Inside the batch's transaction: created if the session does not have it, emptied if this
    // transaction wrote it already (a source transaction written in several pieces), else as is.
    await readyLoadTable(client, plan);
    for (let i = 0; i < rows.length; i += MAX_STATEMENT_ROWS) {
      await loadCopy(client, plan, copyRows(plan, rows, i, Math.min(rows.length, i + MAX_STATEMENT_ROWS)), false, plan.streamDirect);
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

/** A row image whose `unchanged` columns the source did not send (Change.unchanged). */
interface PartialImage {
  readonly row: readonly Value[];
  readonly unchanged: readonly number[];
}

/**
 * Partial images grouped by the set of columns they carry (`present`, indexes into the table's
 * columns), each row rendered for those columns only.
 */
function presentGroups(plan: TablePlan, rows: readonly PartialImage[]): { present: number[]; rendered: (string | null)[][] }[] {
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
  return [...groups.values()].map(({ present, rows: group }) => ({
    present,
    rendered: group.map((r) => {
      const all = renderRow(t, plan.columns.map((c, i) => (present.includes(i) ? c : { ...c, kind: 'text' as const })), r.map((v, i) => (present.includes(i) ? v : null)), plan.zeroDates, r);
      return present.map((i) => all[i] ?? null);
    }),
  }));
}

/**
 * Partial images of a table without secondary unique keys: an UPDATE of the columns they carry on
 * the row with their key, which writes nothing when the row is not there yet (the copy brings it
 * whole). Nothing else in a batch can remove that row (one change per key), so the UPDATE finds it.
 */
export async function updatePartial(client: pg.ClientBase, plan: TablePlan, rows: readonly PartialImage[]): Promise<void> {
  const t = plan.table;
  const name = (i: number) => quoteIdent((t.columns[i] as Column).name);
  const pk = new Set(t.primaryKey);
  for (const { present, rendered } of presentGroups(plan, rows)) {
    const sets = present.filter((i) => !pk.has(i));
    if (sets.length === 0) continue;
    const source = `${unnestOf(columnsOf(plan, present))} AS n(${present.map(name).join(', ')})`;
    const where = t.primaryKey.map((i) => `d.${name(i)} = n.${name(i)}`).join(' AND ');
    const sql = `UPDATE ${plan.target} AS d SET ${sets.map((i) => `${name(i)} = n.${name(i)}`).join(', ')} FROM ${source} WHERE ${where}`;
    for (const b of batches(rendered)) await client.query(sql, columnArrays(b, present.length));
  }
}

/**
 * First half of partial images on a table with secondary unique keys: copies the target's rows
 * with their keys into the session's keep table, before the batch writes anything to the table.
 *
 * Why: a batch applies each key's last image, full images through REPLACE-like holder deletion
 * (upsertRows), which removes a row still holding a unique value an incoming row takes; that
 * row's own image in the batch puts it back, which a full image does and a partial UPDATE cannot
 * (it matches nothing: the row and its unchanged TOAST values were gone). Partial images also move
 * values among themselves (a swap through a third value). So they are completed from the rows
 * kept here, whose unchanged columns no change of the batch touched (the batch holds one change
 * per key), and written as full images after the others (upsertKept).
 */
async function keepRows(client: pg.ClientBase, plan: TablePlan, rows: readonly PartialImage[]): Promise<void> {
  // Created once per session with the synced columns only, no constraints (ON COMMIT DELETE ROWS
  // empties it at every commit); emptied here too, for a transaction written in several pieces (a
  // spilled source transaction). Created inside the batch's transaction, it goes with a rollback.
  await client.query(
    `CREATE TEMP TABLE IF NOT EXISTS ${plan.keep} ON COMMIT DELETE ROWS AS SELECT ${plan.columnList} FROM ${plan.target} WITH NO DATA; TRUNCATE ${plan.keep}`,
  );
  const { where, rendered } = byKeys(
    plan,
    rows.map((r) => plan.table.primaryKey.map((i) => r.row[i] ?? null)),
  );
  const sql = `INSERT INTO ${plan.keep} (${plan.columnList}) SELECT ${plan.columnList} FROM ${plan.target} WHERE ${where}`;
  for (const b of batches(rendered)) await client.query(sql, columnArrays(b, plan.table.primaryKey.length));
}

/**
 * Second half (see keepRows): the partial images, their unchanged columns taken from the kept
 * rows, upserted as full images are (holder deletion, then INSERT … ON CONFLICT). A partial image
 * whose key no kept row has writes nothing, as an UPDATE would not.
 */
async function upsertKept(client: pg.ClientBase, plan: TablePlan, rows: readonly PartialImage[]): Promise<void> {
  const t = plan.table;
  const name = (i: number) => quoteIdent((t.columns[i] as Column).name);
  for (const { present, rendered } of presentGroups(plan, rows)) {
    const has = new Set(present);
    const list = t.columns.map((_, i) => `${has.has(i) ? 'p' : 'k'}.${name(i)}`).join(', ');
    const on = t.primaryKey.map((i) => `k.${name(i)} = p.${name(i)}`).join(' AND ');
    const source = `(SELECT ${list} FROM ${unnestOf(columnsOf(plan, present))} AS p(${present.map(name).join(', ')}) JOIN ${plan.keep} AS k ON ${on}) AS n`;
    const deletes = holderDeletes(plan, source);
    const insert = `INSERT INTO ${plan.target} (${plan.columnList}) SELECT * FROM ${source} ${plan.orderByKey} ${plan.onConflict}`;
    for (const b of batches(rendered)) {
      const params = columnArrays(b, present.length);
      for (const d of deletes) await client.query(d, params);
      await client.query(insert, params);
    }
  }
}

/**
 * Applies coalesced changes of several tables: per table, deletes first, then full images, then
 * partial images (on a table with secondary unique keys completed from the rows they update, kept
 * before anything was written: keepRows).
 */
export async function applyChanges(client: pg.ClientBase, plans: (table: string) => TablePlan | undefined, changes: readonly Change[]): Promise<void> {
  const byTable = new Map<string, { del: Value[][]; up: Value[][]; partial: PartialImage[]; all: Change[] }>();
  for (const ch of changes) {
    let g = byTable.get(ch.table);
    if (!g) byTable.set(ch.table, (g = { del: [], up: [], partial: [], all: [] }));
    g.all.push(ch);
    if (ch.kind === 'delete') g.del.push(ch.key);
    else if (ch.unchanged?.length) g.partial.push({ row: rowOf(ch), unchanged: ch.unchanged });
    else g.up.push(rowOf(ch));
  }
  for (const [name, g] of byTable) {
    const plan = plans(name);
    // Never dropped quietly: a table is written only by a plan (ensureSchema, prepareWrites).
    if (!plan) throw new TributaryError(ErrorCode.INTERNAL, `no write plan for table ${name}: ${g.all.length} change(s) of it were to be written; nothing of the batch was committed. The target was not readied for it (ensureSchema or prepareWrites)`);
    if (isKeyless(plan.table)) {
      await applyKeyless(client, plan, g.all);
      continue;
    }
    const kept = g.partial.length > 0 && plan.uniqueKeys.length > 0;
    if (kept) await keepRows(client, plan, g.partial);
    await deleteKeys(client, plan, g.del);
    await upsertRows(client, plan, g.up);
    if (kept) await upsertKept(client, plan, g.partial);
    else if (g.partial.length) await updatePartial(client, plan, g.partial);
  }
}

/**
 * The changes of a keyless table, in stream order (the batch never coalesces them, and the order
 * of a delete and an insert of equal images decides what remains): each run of inserts through
 * upsertRows (a plain INSERT: the plan has no ON CONFLICT for a keyless table), each delete as
 * rowImageDelete.
 */
async function applyKeyless(client: pg.ClientBase, plan: TablePlan, changes: readonly Change[]): Promise<void> {
  let run: (readonly Value[])[] = [];
  for (const ch of changes) {
    if (ch.kind === 'upsert') {
      run.push(rowOf(ch));
      continue;
    }
    await upsertRows(client, plan, run);
    run = [];
    const sql = rowImageDelete(plan);
    await client.query(sql, renderRow(plan.table, plan.columns, ch.key, plan.zeroDates));
  }
  await upsertRows(client, plan, run);
}

/** Types with no equality operator: a keyless table's row image compares them by their text form. */
const NO_EQUALITY = /^(json|xml|point|line|lseg|box|path|polygon|circle)\b/i;

/**
 * The DELETE of one row equal to a keyless table's before-image (core/schema.ts rowKey), whose
 * columns are bound as $1…$n in the table's column order (renderRow): the first row found whose
 * every column IS NOT DISTINCT FROM the image's value, by its (tableoid, ctid), which names one row
 * even in a partitioned table. Equal rows are interchangeable, so which one goes does not matter.
 * Each value is parsed into the column's type first, so it compares as stored (a real as a real);
 * a type without an equality operator (json, xml, the geometric types, arrays of them) compares
 * as the text PostgreSQL prints for the stored value and for the parsed image. The subquery scans
 * the table: there is no key to seek by.
 */
export function rowImageDelete(plan: TablePlan): string {
  const conds = plan.columns.map((c, i) => {
    const name = quoteIdent((plan.table.columns[i] as Column).name);
    const param = `$${i + 1}::${c.sqlType}`;
    return NO_EQUALITY.test(c.sqlType) ? `${name}::text IS NOT DISTINCT FROM (${param})::text` : `${name} IS NOT DISTINCT FROM ${param}`;
  });
  return `DELETE FROM ${plan.target} WHERE (tableoid, ctid) = (SELECT tableoid, ctid FROM ${plan.target} WHERE ${conds.join(' AND ')} LIMIT 1)`;
}
