import type pg from 'pg';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { describeAligned, perTable } from '../../core/aligned.js';
import type { ComparableForm } from '../../core/comparable.js';
import type { Column, TableSchema } from '../../core/schema.js';
import type { ChunkDigest, KeyRange } from '../../core/source.js';
import type { Row, Value } from '../../core/values.js';
import { chunkSql, filtered, rangeWhere, type ChunkSql } from './chunks.js';
import { comparableDigestRange, digestRange } from './digest.js';
import { pgText, quoteIdent, ValueError, type TargetColumn } from './sql.js';
import type { TextCodec } from './values.js';
import { kindOf } from './values.js';

/**
 * The PostgreSQL target reading its own copy of a table back (Target.readChunk and friends, for
 * checksums): the source-side reading code (chunks.ts, the functions below, values.ts) run
 * over the target's own definition of the table, aligned with the source's columns
 * (core/aligned.ts). Key values arrive as the source gives them and are rendered for the target's
 * key columns as the write path renders them (sql.ts pgText) for a MySQL source's table.
 */
export interface ReadBackOptions {
  readonly pool: () => pg.Pool;
  /** Schema holding the target's tables. */
  readonly namespace: string;
  readonly describe: (table: string) => Promise<TableSchema | null>;
  readonly zeroDates: 'error' | 'null';
  /** 'target postgres://…' for errors. */
  readonly where: string;
  readonly error: (err: unknown) => TributaryError;
}

interface Prepared {
  readonly view: TableSchema;
  readonly sql: ChunkSql;
  readonly key: (values: readonly Value[]) => Value[];
}

/** A target column as the write path renders values for it (cf. PostgresTarget.targetColumns). */
export function targetColumn(c: Column): TargetColumn {
  const bits = c.dataType === 'bit' ? /^bit\((\d+)\)$/.exec(c.columnType)?.[1] : undefined;
  return { name: c.name, sqlType: c.columnType, kind: kindOf(c.dataType), ...(bits ? { bits: Number(bits) } : {}) };
}

export class PostgresReadBack {
  private readonly opts: ReadBackOptions;
  private readonly prepare = perTable((table) => this.build(table));

  constructor(opts: ReadBackOptions) {
    this.opts = opts;
  }

  private async build(table: TableSchema): Promise<Prepared> {
    const view = await describeAligned(this.opts.describe, table, this.opts.where);
    let key = (values: readonly Value[]): Value[] => [...values];
    if (table.engine !== 'postgres') {
      const cols = view.primaryKey.map((i) => targetColumn(view.columns[i] as Column));
      key = (values) =>
        values.map((v, j) => {
          const col = cols[j]!;
          try {
            return pgText(v, col, this.opts.zeroDates);
          } catch (err) {
            if (!(err instanceof ValueError)) throw err;
            throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `${this.opts.where}: table ${table.name}, key column ${col.name}: ${err.message}`, { cause: err });
          }
        });
    }
    return { view, sql: chunkSql(this.opts.namespace, view), key };
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.opts.error(err);
    }
  }

  async readChunk(table: TableSchema, range: KeyRange): Promise<Row[]> {
    const p = await this.prepare(table);
    const r = { after: range.after && p.key(range.after), upTo: range.upTo && p.key(range.upTo) };
    return this.run(() => readRange(this.opts.pool(), p.sql, p.view, r));
  }

  /**
   * readChunk's rows digested by the server (digest.ts over the aligned view): in comparable
   * forms when asked (key values rendered as readChunk renders them); otherwise natively, and a
   * table from another engine is left to the row comparison (undefined).
   */
  async chunkDigest(table: TableSchema, range: KeyRange, forms?: readonly ComparableForm[]): Promise<ChunkDigest | undefined> {
    const p = await this.prepare(table);
    if (forms) {
      const r = { after: range.after && p.key(range.after), upTo: range.upTo && p.key(range.upTo) };
      return this.run(() => comparableDigestRange(this.opts.pool(), p.sql, p.view, r, forms));
    }
    if (table.engine !== 'postgres') return undefined;
    return this.run(() => digestRange(this.opts.pool(), p.sql, p.view, range));
  }

  async readRowsByKeys(table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]> {
    const p = await this.prepare(table);
    return this.run(() => readByKeys(this.opts.pool(), p.sql, p.view, keys.map(p.key)));
  }

  async readKeys(table: TableSchema, after: readonly Value[] | null, limit: number): Promise<Value[][]> {
    const p = await this.prepare(table);
    return this.run(() => readKeys(this.opts.pool(), p.sql, p.view, after, limit));
  }

  async scanRows(table: TableSchema, onRows: (rows: Row[]) => void | Promise<void>): Promise<void> {
    const p = await this.prepare(table);
    await this.run(() => scanRows(this.opts.pool(), p.sql, onRows));
  }
}

/**
 * Reading rows of a table as canonical values, beyond the copier's chunk reads: by key list, key
 * pages and whole-table scans. Shared by the source and by the PostgreSQL target reading its own
 * copy back for checksums (PostgresReadBack above), so both decode exactly as the copy path
 * does (raw text through values.ts, in the session settings of connection.ts).
 */

/** Most keys per `IN (…)` statement (PostgreSQL takes at most 65535 parameters). */
export const KEYS_PER_STATEMENT = 1000;
/** Rows fetched from a scan's cursor, and handed to its consumer, at a time. */
export const SCAN_BATCH_ROWS = 2000;

type Queryable = Pick<pg.Pool | pg.ClientBase, 'query'>;

export function decodeRows(codecs: readonly TextCodec[], raw: readonly (readonly (string | null)[])[]): Row[] {
  const n = codecs.length;
  const out: Row[] = new Array(raw.length);
  for (let r = 0; r < raw.length; r++) {
    const cells = raw[r] as readonly (string | null)[];
    const row: Value[] = new Array(n);
    for (let i = 0; i < n; i++) row[i] = (codecs[i] as TextCodec)(cells[i] ?? null);
    out[r] = row;
  }
  return out;
}

async function query(db: Queryable, text: string, values: Value[]): Promise<(string | null)[][]> {
  return (await db.query<(string | null)[]>({ text, values, rowMode: 'array' })).rows;
}

/**
 * `k IN ($1, …)` / `(k1, k2) IN (($1, $2), …)` for a list of primary keys. Parameters are untyped,
 * so the server reads each as its key column's type, as in chunks.ts rangeWhere.
 */
export function keysWhere(table: TableSchema, keys: readonly (readonly Value[])[], firstParam = 1): { sql: string; params: Value[] } {
  const names = table.primaryKey.map((i) => quoteIdent((table.columns[i] as Column).name));
  const params: Value[] = [];
  const tuples = keys.map((key) => {
    const ps = names.map((_, j) => {
      params.push(key[j] ?? null);
      return `$${firstParam + params.length - 1}`;
    });
    return ps.length === 1 ? (ps[0] as string) : `(${ps.join(', ')})`;
  });
  const lhs = names.length === 1 ? (names[0] as string) : `(${names.join(', ')})`;
  return { sql: tuples.length ? `WHERE ${lhs} IN (${tuples.join(', ')})` : 'WHERE false', params };
}

/** Rows in `range` (key values as the table's own engine reads them), in key order. */
export async function readRange(db: Queryable, s: ChunkSql, table: TableSchema, range: KeyRange): Promise<Row[]> {
  const where = rangeWhere(table, range);
  return decodeRows(s.codecs, await query(db, `SELECT ${s.selectList} FROM ${s.from} ${filtered(where.sql, s)} ORDER BY ${s.keyList}`, where.params));
}

/** The rows with the given keys, in batches of KEYS_PER_STATEMENT keys. */
export async function readByKeys(db: Queryable, s: ChunkSql, table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]> {
  const out: Row[] = [];
  for (let i = 0; i < keys.length; i += KEYS_PER_STATEMENT) {
    const where = keysWhere(table, keys.slice(i, i + KEYS_PER_STATEMENT));
    for (const row of decodeRows(s.codecs, await query(db, `SELECT ${s.selectList} FROM ${s.from} ${filtered(where.sql, s)}`, where.params))) out.push(row);
  }
  return out;
}

/** Up to `limit` keys after `after`, in key order. */
export async function readKeys(db: Queryable, s: ChunkSql, table: TableSchema, after: readonly Value[] | null, limit: number): Promise<Value[][]> {
  const where = rangeWhere(table, { after: after ? [...after] : null, upTo: null });
  const rows = await query(db, `SELECT ${s.keyList} FROM ${s.from} ${where.sql} ORDER BY ${s.keyList} LIMIT ${Math.max(1, Math.floor(limit))}`, where.params);
  return decodeRows(s.keyCodecs, rows);
}

/**
 * Every row of the table through a cursor in one REPEATABLE READ READ ONLY transaction (one
 * snapshot, no locks beyond ACCESS SHARE), SCAN_BATCH_ROWS fetched and handed over at a time.
 */
export async function scanRows(pool: pg.Pool, s: ChunkSql, onRows: (rows: Row[]) => void | Promise<void>): Promise<void> {
  const client = await pool.connect();
  let ok = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`DECLARE tributary_scan NO SCROLL CURSOR FOR SELECT ${s.selectList} FROM ${s.from} ${filtered('', s)}`);
    for (;;) {
      const rows = await query(client, `FETCH FORWARD ${SCAN_BATCH_ROWS} FROM tributary_scan`, []);
      if (rows.length === 0) break;
      await onRows(decodeRows(s.codecs, rows));
    }
    await client.query('COMMIT');
    ok = true;
  } finally {
    if (!ok) await client.query('ROLLBACK').catch(() => undefined);
    client.release(ok ? undefined : true);
  }
}
