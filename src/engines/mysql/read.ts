import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { TributaryError } from '../../core/errors.js';
import { describeAligned, perTable } from '../../core/aligned.js';
import type { ComparableForm } from '../../core/comparable.js';
import type { TableSchema } from '../../core/schema.js';
import type { ChunkDigest, KeyRange } from '../../core/source.js';
import type { Row, Value } from '../../core/values.js';
import { chunkSql, filtered, keysWhere, rangeWhere, type ChunkSql } from './chunks.js';
import { comparableDigestRange, digestRange } from './digest.js';
import type { TableMapping } from './types.js';
import { mysqlValue, type ColumnCodec } from './values.js';

/**
 * The MySQL target reading its own copy of a table back (Target.readChunk and friends, for
 * checksums): the source-side reading code (chunks.ts, the functions below, values.ts) run over
 * the target's own definition of the table, aligned with the source's columns (core/aligned.ts).
 * Key values arrive as the source gives them and are rendered for the target's key columns as the
 * write path renders them (values.ts mysqlValue for another engine's table).
 */
export interface ReadBackOptions {
  readonly pool: () => Pool;
  /** The target's definition of a table, or null when it does not exist. */
  readonly describe: (table: string) => Promise<TableSchema | null>;
  /** The type map of a table from another engine (undefined for a MySQL table). */
  readonly mapping: (table: TableSchema) => TableMapping | undefined;
  /** 'target mysql://…' for errors. */
  readonly where: string;
  readonly error: (err: unknown) => TributaryError;
}

interface Prepared {
  readonly view: TableSchema;
  readonly sql: ChunkSql;
  /** A source key as the target's key columns read it. */
  readonly key: (values: readonly Value[]) => Value[];
}

export class MysqlReadBack {
  private readonly opts: ReadBackOptions;
  private readonly prepare = perTable((table) => this.build(table));

  constructor(opts: ReadBackOptions) {
    this.opts = opts;
  }

  private async build(table: TableSchema): Promise<Prepared> {
    const view = await describeAligned(this.opts.describe, table, this.opts.where);
    const mapping = this.opts.mapping(table);
    let key = (values: readonly Value[]): Value[] => [...values];
    if (mapping) {
      const cols = table.primaryKey.map((i) => mapping.columns[i]!);
      key = (values) =>
        values.map((v, j) => {
          const m = cols[j]!;
          const r = mysqlValue(table.name, m, v);
          // Integers compare as integers (a BIT column would compare a string as bytes).
          return (m.kind === 'int' || m.kind === 'bits') && typeof r === 'string' && /^-?\d+$/.test(r) ? BigInt(r) : r;
        });
    }
    return { view, sql: chunkSql(view), key };
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
   * forms when asked; otherwise natively, and a table from another engine is left to the row
   * comparison (undefined).
   */
  async chunkDigest(table: TableSchema, range: KeyRange, forms?: readonly ComparableForm[]): Promise<ChunkDigest | undefined> {
    if (!forms && this.opts.mapping(table)) return undefined;
    const p = await this.prepare(table);
    const r = { after: range.after && p.key(range.after), upTo: range.upTo && p.key(range.upTo) };
    if (forms) return this.run(() => comparableDigestRange(this.opts.pool(), p.sql, p.view, r, forms));
    return this.run(() => digestRange(this.opts.pool(), p.sql, p.view, r));
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
 * pages and whole-table scans. Shared by the source and by the MySQL target reading its own copy
 * back for checksums (MysqlReadBack above), so both decode exactly as the copy path does.
 */

/** Most keys per `IN (…)` statement. */
export const KEYS_PER_STATEMENT = 1000;
/** Rows handed to a scan's consumer at a time. */
export const SCAN_BATCH_ROWS = 2000;

type RawRow = (Buffer | null)[];

/** The subset of mysql2's callback connection that streams a result set. */
interface StreamingConnection {
  query(opts: { sql: string; rowsAsArray: boolean; typeCast: boolean }): { stream(opts: { highWaterMark: number }): AsyncIterable<unknown> };
}

export function decodeRows(codecs: readonly ColumnCodec[], raw: readonly unknown[]): Row[] {
  const n = codecs.length;
  const out: Row[] = new Array(raw.length);
  for (let r = 0; r < raw.length; r++) {
    const cells = raw[r] as RawRow;
    const row: Value[] = new Array(n);
    for (let i = 0; i < n; i++) row[i] = (codecs[i] as ColumnCodec).fromText(cells[i] ?? null);
    out[r] = row;
  }
  return out;
}

async function query(pool: Pool, sql: string, values: Value[]): Promise<RowDataPacket[]> {
  const [rows] = await pool.query<RowDataPacket[]>({ sql, values, rowsAsArray: true, typeCast: false });
  return rows;
}

/** Rows in `range` (key values as the table's own engine reads them), in key order. */
export async function readRange(pool: Pool, s: ChunkSql, table: TableSchema, range: KeyRange): Promise<Row[]> {
  const where = rangeWhere(table, range);
  return decodeRows(s.codecs, await query(pool, `SELECT ${s.selectList} FROM ${s.from} ${filtered(where.sql, s)} ORDER BY ${s.keyList}`, where.params));
}

/** The rows with the given keys, in batches of KEYS_PER_STATEMENT keys. */
export async function readByKeys(pool: Pool, s: ChunkSql, table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]> {
  const out: Row[] = [];
  for (let i = 0; i < keys.length; i += KEYS_PER_STATEMENT) {
    const where = keysWhere(table, keys.slice(i, i + KEYS_PER_STATEMENT));
    for (const row of decodeRows(s.codecs, await query(pool, `SELECT ${s.selectList} FROM ${s.from} ${filtered(where.sql, s)}`, where.params))) out.push(row);
  }
  return out;
}

/** Up to `limit` keys after `after`, in key order. */
export async function readKeys(pool: Pool, s: ChunkSql, table: TableSchema, after: readonly Value[] | null, limit: number): Promise<Value[][]> {
  const where = rangeWhere(table, { after: after ? [...after] : null, upTo: null });
  const keySelect = s.keyCodecs.map((c) => c.select).join(', ');
  const rows = await query(pool, `SELECT ${keySelect} FROM ${s.from} ${where.sql} ORDER BY ${s.keyList} LIMIT ${Math.max(1, Math.floor(limit))}`, where.params);
  return decodeRows(s.keyCodecs, rows);
}

/**
 * Every row of the table in one statement (InnoDB: one consistent read, no locks), streamed from
 * the server and handed over SCAN_BATCH_ROWS at a time: the socket is paused while `onRows` runs.
 */
export async function scanRows(pool: Pool, s: ChunkSql, onRows: (rows: Row[]) => void | Promise<void>): Promise<void> {
  const conn = await pool.getConnection();
  let ok = false;
  try {
    // The promise wrapper's `connection` is the callback connection underneath (typed as the
    // promise one): only it streams.
    const core = conn.connection as unknown as StreamingConnection;
    const stream = core.query({ sql: `SELECT ${s.selectList} FROM ${s.from} ${filtered('', s)}`, rowsAsArray: true, typeCast: false }).stream({ highWaterMark: SCAN_BATCH_ROWS });
    let batch: unknown[] = [];
    for await (const raw of stream) {
      batch.push(raw);
      if (batch.length >= SCAN_BATCH_ROWS) {
        await onRows(decodeRows(s.codecs, batch));
        batch = [];
      }
    }
    if (batch.length) await onRows(decodeRows(s.codecs, batch));
    ok = true;
  } finally {
    // A scan left half read would hand the pool a connection still receiving rows.
    if (ok) conn.release();
    else conn.destroy();
  }
}
