import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { isKeyless, secondaryUniqueKeys, type Column, type TableSchema } from '../../core/schema.js';
import type { Row } from '../../core/values.js';
import { copyField, qualified, quoteIdent, renderRow, type TargetColumn } from './sql.js';

/**
 * How rows of one table are written: the target's own column types (read from the catalogue
 * after ensureSchema, so overrides and tables the user created are honoured) and the statements
 * shared by the copy (load.ts) and the stream (apply.ts).
 */
export interface TablePlan {
  readonly table: TableSchema;
  /** Schema-qualified, quoted target table. */
  readonly target: string;
  /** Target columns aligned with `table.columns`. */
  readonly columns: readonly TargetColumn[];
  /** Quoted column list in `table.columns` order. */
  readonly columnList: string;
  /** Secondary unique keys (indexes into columns), each a REPLACE-like holder deletion. */
  readonly uniqueKeys: readonly (readonly number[])[];
  /**
   * `ORDER BY` the primary key, quoted. Every writer (chunk loads and stream batches) takes its
   * row locks in this one order, so two transactions touching the same keys queue instead of
   * deadlocking (PostgreSQL would abort one after deadlock_timeout).
   */
  readonly orderByKey: string;
  /** `ON CONFLICT (pk) DO UPDATE SET …` (or DO NOTHING when every column is in the key). */
  readonly onConflict: string;
  /** Quoted name of this table's session-local load table. */
  readonly temp: string;
  /**
   * Quoted name of this table's session-local table of kept rows: the target's rows that a batch's
   * partial images (Change.unchanged) complete, read before the batch writes anything (apply.ts).
   */
  readonly keep: string;
  readonly zeroDates: 'error' | 'null';
  /** Whether the stream's batches of this table try COPY straight into it (see DirectCopyBet). */
  readonly streamDirect: DirectCopyBet;
}

/**
 * Whether a stream batch's rows of a table are tried by COPY straight into it (copyDirect) before
 * the load table. The direct COPY writes each row once when none is there yet (an append-only
 * stream), and costs a refused COPY, its savepoint and two more round trips when one is (a batch
 * with an update, the usual stream). After a refusal the next 2, 4, … up to 64 batches of the table
 * go through the load table at once; a direct COPY that succeeds starts over. (1M changes, a
 * quarter of them updates, PostgreSQL → PostgreSQL: 86.8k / 89.1k changes/s against 83.6k / 81.1k
 * trying every batch; bench/README.md.)
 */
export class DirectCopyBet {
  private refusals = 0;
  private skip = 0;

  /** Whether this batch tries the direct COPY. */
  get tries(): boolean {
    if (this.skip === 0) return true;
    this.skip--;
    return false;
  }

  /** The outcome of a batch that tried. */
  record(accepted: boolean): void {
    if (accepted) {
      this.refusals = 0;
      return;
    }
    this.refusals++;
    this.skip = Math.min(2 ** this.refusals, MAX_DIRECT_SKIP);
  }
}

const MAX_DIRECT_SKIP = 64;

export function buildPlan(schema: string, table: TableSchema, columns: readonly TargetColumn[], tempIndex: number, zeroDates: 'error' | 'null'): TablePlan {
  const q = (i: number) => quoteIdent((table.columns[i] as Column).name);
  const pk = new Set(table.primaryKey);
  const nonKey = table.columns.map((_, i) => i).filter((i) => !pk.has(i));
  // A keyless table's rows are inserted as they come: duplicates are rows, and there is no key to
  // arbitrate on or to replace a unique value's holder by.
  const keyless = isKeyless(table);
  const onConflict = keyless
    ? ''
    : `ON CONFLICT (${table.primaryKey.map(q).join(', ')}) ` +
    (nonKey.length ? `DO UPDATE SET ${nonKey.map((i) => `${q(i)} = EXCLUDED.${q(i)}`).join(', ')}` : 'DO NOTHING');
  return {
    table,
    target: qualified(schema, table.name),
    columns,
    columnList: table.columns.map((_, i) => q(i)).join(', '),
    uniqueKeys: keyless ? [] : secondaryUniqueKeys(table).filter((u) => u.length > 0 && u.every((i) => i >= 0)),
    onConflict,
    orderByKey: keyless ? '' : `ORDER BY ${table.primaryKey.map(q).join(', ')}`,
    temp: quoteIdent(`_tributary_load_${tempIndex}`),
    keep: quoteIdent(`_tributary_keep_${tempIndex}`),
    zeroDates,
    streamDirect: new DirectCopyBet(),
  };
}

/**
 * `DELETE` of the rows that hold a secondary unique value an incoming row (in `source`, aliased n)
 * carries under another primary key. This is MySQL's REPLACE semantics, and it is what makes a
 * copied chunk converge: a chunk is read at a later moment than the stream has reached, so a row
 * the stream wrote earlier may still hold a value the chunk's row has taken since; that row's own
 * newer image is further on in the stream (held by the copy gate or not yet read), and restores it.
 */
export function holderDeletes(plan: TablePlan, source: string): string[] {
  const t = plan.table;
  const q = (i: number) => quoteIdent((t.columns[i] as Column).name);
  const pkCols = t.primaryKey;
  const pkDiffers =
    pkCols.length === 1
      ? `d.${q(pkCols[0] as number)} <> n.${q(pkCols[0] as number)}`
      : `(${pkCols.map((i) => `d.${q(i)}`).join(', ')}) <> (${pkCols.map((i) => `n.${q(i)}`).join(', ')})`;
  return plan.uniqueKeys.map((u) => `DELETE FROM ${plan.target} AS d USING ${source} WHERE ${u.map((i) => `d.${q(i)} = n.${q(i)}`).join(' AND ')} AND ${pkDiffers}`);
}

const tempsByClient = new WeakMap<pg.ClientBase, Set<string>>();

/** The load tables the session of `client` has (created outside a transaction, or in one that committed). */
function sessionTemps(client: pg.ClientBase): Set<string> {
  let temps = tempsByClient.get(client);
  if (!temps) tempsByClient.set(client, (temps = new Set()));
  return temps;
}

/**
 * The session's load table for `plan`, created once per connection outside any transaction. ON
 * COMMIT DELETE ROWS empties it at every commit (and a rollback discards its rows anyway).
 */
async function ensureTemp(client: pg.ClientBase, plan: TablePlan): Promise<void> {
  const temps = sessionTemps(client);
  if (temps.has(plan.temp)) return;
  await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${plan.temp} (LIKE ${plan.target}) ON COMMIT DELETE ROWS`);
  temps.add(plan.temp);
}

/** Per connection with a transaction open: the load tables it created in it (the session's only once it commits), and those it wrote in it. */
const inTransaction = new WeakMap<pg.ClientBase, { readonly created: Set<string>; readonly written: Set<string> }>();

/**
 * Readies the session's load table of `plan` inside the open transaction, without a round trip
 * where it can: a load table the session has (created outside a transaction, or in one that
 * committed) holds no rows when a transaction starts (ON COMMIT DELETE ROWS; a rollback discards
 * them too), so only one this transaction wrote already is emptied, and only one the session
 * does not have is created. The caller ends the transaction with transactionEnded.
 */
export async function readyLoadTable(client: pg.ClientBase, plan: TablePlan): Promise<void> {
  let tx = inTransaction.get(client);
  if (!tx) inTransaction.set(client, (tx = { created: new Set(), written: new Set() }));
  if (!sessionTemps(client).has(plan.temp) && !tx.created.has(plan.temp)) {
    // Created here, it goes with a rollback (and is created again next time).
    await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${plan.temp} (LIKE ${plan.target}) ON COMMIT DELETE ROWS; TRUNCATE ${plan.temp}`);
    tx.created.add(plan.temp);
  } else if (tx.written.has(plan.temp)) {
    await client.query(`TRUNCATE ${plan.temp}`);
  }
  tx.written.add(plan.temp);
}

/** The connection's transaction ended (readyLoadTable): the load tables it created are the session's if it committed. */
export function transactionEnded(client: pg.ClientBase, committed: boolean): void {
  const tx = inTransaction.get(client);
  if (!tx) return;
  inTransaction.delete(client);
  if (!committed) return;
  const temps = sessionTemps(client);
  for (const t of tx.created) temps.add(t);
}

/** The rows in COPY's text format, every value checked and rendered for its target column. */
export function copyText(plan: TablePlan, rows: readonly Row[]): Buffer {
  const lines: string[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const fields = renderRow(plan.table, plan.columns, rows[r] as Row, plan.zeroDates);
    let line = '';
    for (let i = 0; i < fields.length; i++) {
      if (i) line += '\t';
      line += copyField(fields[i] ?? null);
    }
    lines[r] = line;
  }
  return Buffer.from(lines.join('\n') + '\n', 'utf8');
}

/** Must run before BEGIN: creating the load table is not part of the chunk's transaction. */
export function prepareLoad(client: pg.ClientBase, plan: TablePlan): Promise<void> {
  return ensureTemp(client, plan);
}

/**
 * Writes a chunk inside the caller's transaction: COPY … FROM STDIN (text format) into the load
 * table, then INSERT … SELECT … ON CONFLICT (pk) DO UPDATE, so a re-copied chunk overwrites what
 * the stream or an earlier attempt wrote.
 */
export async function loadRows(client: pg.ClientBase, plan: TablePlan, rows: readonly Row[]): Promise<void> {
  if (rows.length === 0) return;
  await loadCopy(client, plan, copyText(plan, rows));
}

/**
 * Loads a chunk in PG_COPY_TEXT, or PG_COPY_BINARY with `binary` (core/formats.ts), inside the
 * caller's transaction: COPY straight into the table when none of its keys is there yet
 * (copyDirect), else into the load table, then upserted. `data` is the chunk rendered by copyText,
 * or an opener of its bytes (EncodedChunk.open, called again to read the chunk afresh when the
 * direct COPY is refused). A stream batch passes its table's `bet`: whether to try the direct COPY.
 */
export async function loadCopy(client: pg.ClientBase, plan: TablePlan, data: Buffer | (() => Readable), binary = false, bet?: DirectCopyBet): Promise<void> {
  if (Buffer.isBuffer(data) && data.length === 0) return;
  const open = Buffer.isBuffer(data) ? () => Readable.from([data]) : data;
  if (plan.uniqueKeys.length === 0 && (bet?.tries ?? true)) {
    const accepted = await copyDirect(client, plan, open, binary);
    bet?.record(accepted);
    if (accepted) return;
  }
  await copyInto(client, plan.temp, plan.columnList, open, binary);
  for (const sql of holderDeletes(plan, `${plan.temp} AS n`)) await client.query(sql);
  await client.query(`INSERT INTO ${plan.target} (${plan.columnList}) SELECT ${plan.columnList} FROM ${plan.temp} ${plan.orderByKey} ${plan.onConflict}`);
}

async function copyInto(client: pg.ClientBase, table: string, columnList: string, open: () => Readable, binary: boolean): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${table} (${columnList}) FROM STDIN${binary ? ' (FORMAT binary)' : ''}`));
  await pipeline(open(), stream);
}

/**
 * The common case, at the cost of one COPY: no row of the chunk is on the target yet (a fresh
 * copy writes each key range once, and the stream writes no key of a chunk before it), so COPY
 * straight into the table does what the upsert would, without writing every row twice. Under a
 * savepoint: when a key is there already (a resumed copy, a retried chunk, a row the stream wrote)
 * the primary key refuses the COPY (23505), nothing of it remains, and the caller upserts instead.
 * Only for tables without secondary unique keys: theirs are deferred to COMMIT, too late to fall
 * back, and a chunk may have to take a unique value from a row the stream wrote (holderDeletes).
 */
async function copyDirect(client: pg.ClientBase, plan: TablePlan, open: () => Readable, binary: boolean): Promise<boolean> {
  await client.query('SAVEPOINT tributary_copy');
  try {
    await copyInto(client, plan.target, plan.columnList, open, binary);
  } catch (err) {
    if ((err as { code?: string }).code !== '23505') throw err;
    await client.query('ROLLBACK TO SAVEPOINT tributary_copy');
    return false;
  }
  await client.query('RELEASE SAVEPOINT tributary_copy');
  return true;
}
