import type { Pool } from 'mysql2/promise';
import type { TributaryError } from '../../core/errors.js';
import { describeAligned, perTable } from '../../core/aligned.js';
import type { TableSchema } from '../../core/schema.js';
import type { ChunkDigest, KeyRange } from '../../core/source.js';
import type { Row, Value } from '../../core/values.js';
import { chunkSql, type ChunkSql } from './chunks.js';
import { digestRange } from './digest.js';
import * as read from '../../sources/mysql/read.js';
import { mysqlValue, type TableMapping } from '../../typemap/postgres-to-mysql.js';

/**
 * The MySQL target reading its own copy of a table back (Target.readChunk and friends, for
 * checksums): the source-side reading code (sources/mysql/chunks.ts, read.ts, values.ts) run over
 * the target's own definition of the table, aligned with the source's columns (core/aligned.ts).
 * Key values arrive as the source gives them and are rendered for the target's key columns as the
 * write path renders them (typemap/postgres-to-mysql.ts for a PostgreSQL source's table).
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
    return this.run(() => read.readRange(this.opts.pool(), p.sql, p.view, r));
  }

  /**
   * readChunk's rows digested by the server (sources/mysql/digest.ts over the aligned view). A
   * table from another engine is left to the row comparison: undefined.
   */
  async chunkDigest(table: TableSchema, range: KeyRange): Promise<ChunkDigest | undefined> {
    if (this.opts.mapping(table)) return undefined;
    const p = await this.prepare(table);
    const r = { after: range.after && p.key(range.after), upTo: range.upTo && p.key(range.upTo) };
    return this.run(() => digestRange(this.opts.pool(), p.sql, p.view, r));
  }

  async readRowsByKeys(table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]> {
    const p = await this.prepare(table);
    return this.run(() => read.readByKeys(this.opts.pool(), p.sql, p.view, keys.map(p.key)));
  }

  async readKeys(table: TableSchema, after: readonly Value[] | null, limit: number): Promise<Value[][]> {
    const p = await this.prepare(table);
    return this.run(() => read.readKeys(this.opts.pool(), p.sql, p.view, after, limit));
  }

  async scanRows(table: TableSchema, onRows: (rows: Row[]) => void | Promise<void>): Promise<void> {
    const p = await this.prepare(table);
    await this.run(() => read.scanRows(this.opts.pool(), p.sql, onRows));
  }
}
