import { rowOf, type Change } from '../../core/change.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { isKeyless, secondaryUniqueKeys, type Cascade, type Column, type TableSchema } from '../../core/schema.js';
import type { Value } from '../../core/values.js';
import { literal, quoteId, quoteTable } from './sql.js';
import type { StatementSink } from './statements.js';

/** Keeps statements well under max_allowed_packet (16 MiB by default). */
const MAX_STATEMENT_BYTES = 4 * 1024 * 1024;

/** Every statement here is a write whose result is not read: a target transaction gathers them (statements.ts). */
type Conn = StatementSink;

/**
 * The literal of the value of column `index` of a table; tables from another engine render
 * through their type map (sql.ts columnLiteral), MySQL tables through `literal`.
 */
export type ColumnLiterals = (value: Value, index: number) => string;

/**
 * Multi-row upsert of full row images, in the order of each key's last change.
 *
 * Tables with a secondary unique key get `REPLACE`, not `INSERT … ON DUPLICATE KEY UPDATE`: when a
 * unique value moves between rows inside one batch, the row taking it may be applied before the
 * row that gave it up, and ON DUPLICATE KEY would then overwrite the *other* row and drop this
 * one. REPLACE removes the stale holder instead, and that row's own later image (it changed after,
 * or it would not still hold the value) re-inserts it. Tables whose only unique key is the primary
 * key get ON DUPLICATE KEY UPDATE, which updates in place and is cheaper.
 */
export async function upsertRows(conn: Conn, table: TableSchema, rows: readonly (readonly Value[])[], lit?: ColumnLiterals): Promise<void> {
  if (rows.length === 0) return;
  const cols = table.columns.map((c) => quoteId(c.name));
  // A keyless table's images are inserted: an equal row already there is another row.
  const keyless = isKeyless(table);
  const replace = !keyless && secondaryUniqueKeys(table).length > 0;
  // Key columns too: a row whose stored key differs only in case or trailing spaces from the new
  // image (equal under the collation) must take the new bytes.
  const updates = table.columns.map((c) => `${quoteId(c.name)} = VALUES(${quoteId(c.name)})`);
  const head = `${replace ? 'REPLACE' : 'INSERT'} INTO ${quoteTable(table.name)} (${cols.join(', ')}) VALUES `;
  const tail = replace || keyless ? '' : ` ON DUPLICATE KEY UPDATE ${updates.join(', ')}`;
  let parts: string[] = [];
  let bytes = 0;
  const flush = async () => {
    if (parts.length === 0) return;
    await conn.query(head + parts.join(',') + tail);
    parts = [];
    bytes = 0;
  };
  for (const row of rows) {
    const tuple = '(' + (lit ? row.map((v, i) => lit(v, i)) : row.map(literal)).join(',') + ')';
    parts.push(tuple);
    bytes += tuple.length;
    if (bytes >= MAX_STATEMENT_BYTES) await flush();
  }
  await flush();
}

/** `DELETE … WHERE (k1, k2) IN (…)` by primary key. */
export async function deleteKeys(conn: Conn, table: TableSchema, keys: readonly (readonly Value[])[], colLit?: ColumnLiterals): Promise<void> {
  if (keys.length === 0) return;
  const names = table.primaryKey.map((i) => quoteId((table.columns[i] as Column).name));
  const lhs = names.length === 1 ? (names[0] as string) : `(${names.join(', ')})`;
  let parts: string[] = [];
  let bytes = 0;
  const flush = async () => {
    if (parts.length === 0) return;
    await conn.query(`DELETE FROM ${quoteTable(table.name)} WHERE ${lhs} IN (${parts.join(',')})`);
    parts = [];
    bytes = 0;
  };
  const cols = table.primaryKey.map((i) => table.columns[i] as Column);
  const lit = colLit ? (v: Value, i: number) => colLit(v, table.primaryKey[i] as number) : (v: Value, i: number) => keyLiteral(cols[i] as Column, v);
  for (const key of keys) {
    const t = key.length === 1 ? lit(key[0] ?? null, 0) : '(' + key.map(lit).join(',') + ')';
    parts.push(t);
    bytes += t.length;
    if (bytes >= MAX_STATEMENT_BYTES) await flush();
  }
  await flush();
}

/**
 * A key value as a literal the server compares exactly: a DECIMAL key as a bare decimal literal
 * (a quoted one would be compared with the column as a double).
 */
function keyLiteral(col: Column, v: Value): string {
  if (col.dataType === 'decimal' && typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) return v;
  return literal(v);
}

/**
 * Applies coalesced changes of several tables: per table, deletes first, then full images, then
 * partial images (on a table with secondary unique keys completed from the rows they update, kept
 * before anything was written: keepRows). `literals` gives the column-aware literals of a table
 * from another engine (undefined: plain `literal`).
 */
export async function applyChanges(
  conn: Conn,
  tables: ReadonlyMap<string, TableSchema>,
  changes: readonly Change[],
  literals?: (table: TableSchema) => ColumnLiterals | undefined,
): Promise<void> {
  const byTable = new Map<string, { del: Value[][]; up: Value[][]; partial: Upsert[]; all: Change[] }>();
  for (const ch of changes) {
    let g = byTable.get(ch.table);
    if (!g) byTable.set(ch.table, (g = { del: [], up: [], partial: [], all: [] }));
    g.all.push(ch);
    if (ch.kind === 'delete') g.del.push(ch.key);
    else if (ch.unchanged?.length) g.partial.push(ch);
    else g.up.push(rowOf(ch));
  }
  for (const [name, g] of byTable) {
    const table = tables.get(name);
    // Never dropped quietly: every table written comes with its definition.
    if (!table) throw new TributaryError(ErrorCode.INTERNAL, `no definition for table ${name}: ${g.all.length} change(s) of it were to be written; nothing of the batch was committed`);
    const lit = literals?.(table);
    if (isKeyless(table)) {
      await applyKeyless(conn, table, g.all, lit);
      continue;
    }
    const kept = g.partial.length > 0 && secondaryUniqueKeys(table).length > 0;
    if (kept) await keepRows(conn, table, g.partial, lit);
    await deleteKeys(conn, table, g.del, lit);
    await upsertRows(conn, table, g.up, lit);
    if (kept) {
      for (const ch of g.partial) await replaceKept(conn, table, ch, lit);
      await conn.query(`DROP TEMPORARY TABLE IF EXISTS ${KEEP}`);
    } else {
      for (const ch of g.partial) await updateKnownColumns(conn, table, ch, lit);
    }
  }
}

type Upsert = Extract<Change, { kind: 'upsert' }>;

/**
 * The changes of a keyless table, in stream order (the batch never coalesces them, and the order
 * of a delete and an insert of equal images decides what remains): each run of inserts as one
 * multi-row INSERT, each delete as rowImageDelete.
 */
async function applyKeyless(conn: Conn, table: TableSchema, changes: readonly Change[], colLit?: ColumnLiterals): Promise<void> {
  // Every column as exactly as a key column (a DECIMAL as a bare decimal literal).
  const lit = colLit ?? ((v: Value, i: number) => keyLiteral(table.columns[i] as Column, v));
  let run: Value[][] = [];
  for (const ch of changes) {
    if (ch.kind === 'upsert') {
      run.push(rowOf(ch));
      continue;
    }
    await upsertRows(conn, table, run, colLit);
    run = [];
    await conn.query(rowImageDelete(table, ch.key, lit));
  }
  await upsertRows(conn, table, run, colLit);
}

/**
 * `DELETE … WHERE <every column equals the image, NULL-safe> LIMIT 1`: removes exactly one of the
 * rows equal to a keyless table's before-image (core/schema.ts rowKey), whichever the server finds
 * first; equal rows are interchangeable. It scans the table (no key to seek by). A FLOAT column is
 * compared as a FLOAT (`CAST(… AS FLOAT)`): the column widened to a double never equals the
 * decimal literal of its value. Other values compare as the target stores them (a JSON column of
 * MySQL 8 would compare as JSON against a string: not supported on a keyless table).
 */
export function rowImageDelete(table: TableSchema, image: readonly Value[], lit: ColumnLiterals): string {
  const conds = table.columns.map((c, i) => {
    const v = lit(image[i] ?? null, i);
    const float32 = c.logical?.kind === 'float' ? c.logical.bits === 32 : c.dataType === 'float';
    return `${quoteId(c.name)} <=> ${float32 && image[i] !== null && image[i] !== undefined ? `CAST(${v} AS FLOAT)` : v}`;
  });
  return `DELETE FROM ${quoteTable(table.name)} WHERE ${conds.join(' AND ')} LIMIT 1`;
}

/** The session's table of kept rows (keepRows), one table at a time. */
const KEEP = quoteId('_tributary_keep');

/**
 * A referential action the source did not log (core/schema.ts Cascade), as one statement:
 * `UPDATE child SET fk = to WHERE fk = from` or `DELETE FROM child WHERE fk = from`.
 */
export async function applyCascade(conn: Conn, table: TableSchema, cascade: Cascade, colLit?: ColumnLiterals): Promise<void> {
  const lit = literalsOf(table, colLit);
  const idx = cascade.columns.map((name) => {
    const i = table.columns.findIndex((c) => c.name === name);
    if (i < 0) throw new TributaryError(ErrorCode.INTERNAL, `foreign key ${cascade.foreignKey}: column ${name} is not in table ${table.name}`);
    return i;
  });
  const where = idx.map((i, j) => `${quoteId((table.columns[i] as Column).name)} = ${lit(cascade.from[j] ?? null, i)}`).join(' AND ');
  if (cascade.kind === 'delete') {
    await conn.query(`DELETE FROM ${quoteTable(table.name)} WHERE ${where}`);
    return;
  }
  // InnoDB's cascades leave `ON UPDATE CURRENT_TIMESTAMP` columns alone (measured on MariaDB 10.11);
  // an UPDATE changes them unless they are set to themselves.
  const keep = table.columns.filter((c, i) => !idx.includes(i) && (c.dataType === 'timestamp' || c.dataType === 'datetime')).map((c) => `${quoteId(c.name)} = ${quoteId(c.name)}`);
  const set = [...idx.map((i, j) => `${quoteId((table.columns[i] as Column).name)} = ${lit(cascade.to[j] ?? null, i)}`), ...keep].join(', ');
  await conn.query(`UPDATE ${quoteTable(table.name)} SET ${set} WHERE ${where}`);
}

/** A literal per column of `table`: `colLit`, else plain literals (exact ones for key columns). */
function literalsOf(table: TableSchema, colLit?: ColumnLiterals): ColumnLiterals {
  const key = new Set(table.primaryKey);
  return colLit ?? ((v: Value, i: number) => (key.has(i) ? keyLiteral(table.columns[i] as Column, v) : literal(v)));
}

function keyWhere(table: TableSchema, ch: Upsert, lit: ColumnLiterals, alias = ''): string {
  const row = rowOf(ch);
  return table.primaryKey.map((i) => `${alias}${quoteId((table.columns[i] as Column).name)} = ${lit(row[i] ?? null, i)}`).join(' AND ');
}

/**
 * An upsert whose image lacks some columns (Change.unchanged) on a table without secondary unique
 * keys: update the columns it knows on the row with its key, and write nothing when no row has
 * the key (see Change). Nothing else in a batch can remove that row (one change per key).
 */
async function updateKnownColumns(conn: Conn, table: TableSchema, ch: Upsert, colLit?: ColumnLiterals): Promise<void> {
  const skip = new Set(ch.unchanged ?? []);
  const key = new Set(table.primaryKey);
  const lit = literalsOf(table, colLit);
  const row = rowOf(ch);
  const sets = table.columns
    .map((c, i) => (skip.has(i) || key.has(i) ? null : `${quoteId(c.name)} = ${lit(row[i] ?? null, i)}`))
    .filter((x): x is string => x !== null);
  if (sets.length === 0) return;
  await conn.query(`UPDATE ${quoteTable(table.name)} SET ${sets.join(', ')} WHERE ${keyWhere(table, ch, lit)}`);
}

/**
 * First half of partial images on a table with secondary unique keys: copies the target's rows
 * with their keys into a temporary table of the session, before the batch writes anything to the
 * table.
 *
 * Why: REPLACE (upsertRows) removes a row still holding a unique value an incoming row takes; that
 * row's own image in the batch puts it back, which a full image does and an UPDATE of the known
 * columns cannot (it matches nothing: the row and its unchanged TOAST values were gone). Partial
 * images also move values among themselves (a swap through a third value, which an UPDATE would
 * refuse as a duplicate). So they are completed from the rows kept here, whose unchanged columns
 * no change of the batch touched (the batch holds one change per key), and REPLACEd as full images
 * after the others (replaceKept). CREATE/DROP TEMPORARY TABLE do not commit the transaction.
 */
async function keepRows(conn: Conn, table: TableSchema, partial: readonly Upsert[], colLit?: ColumnLiterals): Promise<void> {
  const lit = literalsOf(table, colLit);
  const cols = table.columns.map((c) => quoteId(c.name)).join(', ');
  const names = table.primaryKey.map((i) => quoteId((table.columns[i] as Column).name));
  const lhs = names.length === 1 ? (names[0] as string) : `(${names.join(', ')})`;
  const keys = partial.map((ch) => {
    const row = rowOf(ch);
    const k = table.primaryKey.map((i) => lit(row[i] ?? null, i));
    return k.length === 1 ? (k[0] as string) : `(${k.join(',')})`;
  });
  // Dropped first: a failed batch may have left it behind on this pooled connection. Created
  // from the first keys' rows (with the table's own column types), the rest inserted.
  await conn.query(`DROP TEMPORARY TABLE IF EXISTS ${KEEP}`);
  let head = `CREATE TEMPORARY TABLE ${KEEP} SELECT ${cols} FROM ${quoteTable(table.name)} WHERE ${lhs} IN `;
  for (let i = 0; i < keys.length; ) {
    const part: string[] = [];
    let bytes = 0;
    while (i < keys.length && (part.length === 0 || bytes < MAX_STATEMENT_BYTES)) {
      const k = keys[i++] as string;
      part.push(k);
      bytes += k.length + 1;
    }
    await conn.query(`${head}(${part.join(',')})`);
    head = `INSERT INTO ${KEEP} (${cols}) SELECT ${cols} FROM ${quoteTable(table.name)} WHERE ${lhs} IN `;
  }
}

/**
 * Second half (see keepRows): a partial image, its unchanged columns taken from the kept row,
 * REPLACEd as a full image is. Writes nothing when no row with its key was kept.
 */
async function replaceKept(conn: Conn, table: TableSchema, ch: Upsert, colLit?: ColumnLiterals): Promise<void> {
  const skip = new Set(ch.unchanged ?? []);
  const lit = literalsOf(table, colLit);
  const cols = table.columns.map((c) => quoteId(c.name));
  const row = rowOf(ch);
  const values = table.columns.map((c, i) => (skip.has(i) ? `k.${quoteId(c.name)}` : lit(row[i] ?? null, i)));
  await conn.query(`REPLACE INTO ${quoteTable(table.name)} (${cols.join(', ')}) SELECT ${values.join(', ')} FROM ${KEEP} AS k WHERE ${keyWhere(table, ch, lit, 'k.')}`);
}
