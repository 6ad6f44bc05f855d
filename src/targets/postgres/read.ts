import type pg from 'pg';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { describeAligned, perTable } from '../../core/aligned.js';
import type { Column, TableSchema } from '../../core/schema.js';
import type { ChunkDigest, KeyRange } from '../../core/source.js';
import type { Row, Value } from '../../core/values.js';
import { chunkSql, type ChunkSql } from '../../sources/postgres/chunks.js';
import { digestRange } from '../../sources/postgres/digest.js';
import * as read from '../../sources/postgres/read.js';
import { pgText, ValueError, type TargetColumn } from './sql.js';
import { kindOf } from '../../typemap/postgres-kinds.js';

/**
 * The PostgreSQL target reading its own copy of a table back (Target.readChunk and friends, for
 * checksums): the source-side reading code (sources/postgres/chunks.ts, read.ts, values.ts) run
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
    return this.run(() => read.readRange(this.opts.pool(), p.sql, p.view, r));
  }

  /**
   * readChunk's rows digested by the server (sources/postgres/digest.ts over the aligned view). A
   * table from another engine is left to the row comparison: undefined.
   */
  async chunkDigest(table: TableSchema, range: KeyRange): Promise<ChunkDigest | undefined> {
    if (table.engine !== 'postgres') return undefined;
    const p = await this.prepare(table);
    return this.run(() => digestRange(this.opts.pool(), p.sql, p.view, range));
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
