import mysql from 'mysql2/promise';
import type { Connection, PoolConnection } from 'mysql2/promise';

/**
 * Characters of gathered statements sent in one packet at most. apply.ts keeps each statement
 * under the same bound, so a packet holds at most one bound's worth beside a statement of its
 * own: well under max_allowed_packet (16 MiB by default) as a single statement was before.
 */
export const MAX_GATHERED = 4 * 1024 * 1024;

/** What apply.ts and checkpoint.ts write through: a statement, its result not read. */
export interface StatementSink {
  query(sql: string, values?: unknown[]): Promise<unknown>;
}

/**
 * The statements of one target transaction whose results nobody reads (row writes, the
 * checkpoint), gathered and sent as one multi-statement query when the caller flushes (before a
 * statement that reads, before COMMIT) or when they would pass MAX_GATHERED, instead of a round
 * trip each.
 *
 * Why: a stream batch was a dozen round trips (START TRANSACTION, a DELETE and an upsert per
 * table, the checkpoint, the lock's check, COMMIT), and on a busy machine each one waits to be
 * scheduled twice, the server's thread and ours (bench/README.md "Lag under load"): under
 * sysbench at 3000 tps a batch of ~250 changes took ~34 ms, mostly waiting.
 *
 * Contract: `query()` takes the statement's place in the order at once and resolves without its
 * result; a statement's failure is thrown by the `flush()` that sent it, the statements after it
 * in the same packet not run (the caller then rolls the transaction back). The connection must
 * have been opened with `multipleStatements` (target.ts POOL_EXTRA); `prefix` (the
 * query comment) is put before every statement after the first, as the connection's queryFormat
 * puts it before the first.
 */
export class StatementBatch implements StatementSink {
  private parts: string[] = [];
  private size = 0;

  constructor(
    private readonly conn: Connection | PoolConnection,
    private readonly prefix = '',
  ) {}

  /** Gathers `sql` (its `?` filled with `values` by mysql2's format, as the connection would). */
  async query(sql: string, values?: unknown[]): Promise<void> {
    const text = values && values.length ? mysql.format(sql, values as never) : sql;
    if (this.size > 0 && this.size + text.length > MAX_GATHERED) await this.flush();
    this.parts.push(text);
    this.size += text.length;
  }

  /** Sends what is gathered, in order, as one query; throws the first failing statement's error. */
  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const sql = this.parts.length === 1 ? (this.parts[0] as string) : this.parts.join(`;\n${this.prefix}`);
    this.discard();
    await this.conn.query(sql);
  }

  /** Forgets what is gathered (a rollback: none of it reached the server). */
  discard(): void {
    this.parts = [];
    this.size = 0;
  }
}
