import type pg from 'pg';
import type { Logger } from 'pino';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import type { StreamEvent } from '../../core/change.js';
import { AbortedError, ErrorCode, TributaryError } from '../../core/errors.js';
import { PG_COPY_TEXT } from '../../core/formats.js';
import type { TableSchema } from '../../core/schema.js';
import type { ChangeSource, ColumnValueStats, EncodedChunk, KeyRange, SourceIdentity } from '../../core/source.js';
import type { Row, Value } from '../../core/values.js';
import { selectTables } from '../../runner/tables.js';
import { scanPostgresData } from '../../typemap/postgres-to-mysql.js';
import { chunkSql, copyChunkSql, rangeWhere, readCopy, type ChunkSql } from './chunks.js';
import { connectError, openClient, openPool, quoteIdent } from './connection.js';
import * as positions from './position.js';
import { assertRequirements, sourceRequirements, type Requirement } from './preflight.js';
import { describeTable, listTables, tableStats, type ColumnType, type DescribedTable } from './schema.js';
import { checkSlot, createSlotWithSnapshot, deriveName, dropSlot, ensurePublication, setting, slotInfo, type ExportedSlot } from './slot.js';
import { streamPgoutput, type AckState } from './stream.js';
import type { TextCodec } from './values.js';

export interface PostgresSourceOptions {
  readonly dsn: Dsn;
  readonly logger: Logger;
  /** Connections for parallel chunk reads. */
  readonly poolSize: number;
  /** Names the slot and publication (tributary_<id>) unless they are given. */
  readonly syncId: string;
  /** An existing replication slot to use, or the name of the one to create. */
  readonly slot?: string | undefined;
  /** An existing publication to use, or the name of the one to create. */
  readonly publication?: string | undefined;
  readonly maxBufferBytes: number;
  /**
   * The sync's table names or globs (--tables; empty: all tables). The source selects the same
   * tables as the runner to keep its publication covering them before the slot exists.
   */
  readonly tables?: readonly string[] | undefined;
  /** Schema holding the tables; default the URL's `schema` parameter or 'public'. */
  readonly namespace?: string | undefined;
  /** Interval of the stream's status updates (each asks the server for a keepalive). Default 10 s. */
  readonly statusIntervalMs?: number | undefined;
}

/**
 * PostgreSQL 15 as a change source: schema from the catalogue, chunks by keyset pagination on the
 * primary key (through the slot's exported snapshot during a fresh copy), changes from a logical
 * replication slot through pgoutput, acknowledged only once the target committed them.
 */
export class PostgresSource implements ChangeSource {
  readonly engine = 'postgres';
  readonly slot: string;
  readonly publication: string;
  private readonly opts: PostgresSourceOptions;
  private readonly namespace: string;
  private conn: pg.Client | undefined;
  private pool: pg.Pool | undefined;
  private versionText = '';
  private readonly sql = new Map<string, ChunkSql>();
  private readonly described = new Map<string, DescribedTable>();
  private exported: ExportedSlot | undefined;
  private snapshotReleased: Promise<void> = Promise.resolve();
  private resolveReleased: (() => void) | undefined;
  private readonly ack: AckState = { acked: 0n };

  constructor(opts: PostgresSourceOptions) {
    this.opts = opts;
    this.slot = opts.slot ?? deriveName(opts.syncId);
    this.publication = opts.publication ?? deriveName(opts.syncId);
    this.namespace = opts.namespace ?? opts.dsn.params.schema ?? 'public';
  }

  private get c(): pg.Client {
    if (!this.conn) throw new TributaryError(ErrorCode.INTERNAL, 'PostgresSource used before connect()');
    return this.conn;
  }

  private get p(): pg.Pool {
    if (!this.pool) throw new TributaryError(ErrorCode.INTERNAL, 'PostgresSource used before connect()');
    return this.pool;
  }

  private get where(): string {
    return `source ${describeDsn(this.opts.dsn)}`;
  }

  async connect(): Promise<void> {
    this.conn = await openClient(this.opts.dsn, 'source');
    this.pool = await openPool(this.opts.dsn, 'source', Math.max(1, this.opts.poolSize));
    const r = await this.conn.query<{ v: string }>('SELECT version() AS v');
    this.versionText = r.rows[0]?.v ?? '';
  }

  async close(): Promise<void> {
    await this.releaseSnapshot();
    await this.pool?.end().catch(() => undefined);
    await this.conn?.end().catch(() => undefined);
    this.pool = undefined;
    this.conn = undefined;
  }

  /** The tables the sync covers, selected as the runner selects them. */
  private async syncedTables(): Promise<string[]> {
    return selectTables(await this.listTables(), this.opts.tables ?? [], this.opts.dsn.database);
  }

  /** Every requirement with its value and fix (for `tributary check`). */
  async requirements(): Promise<Requirement[]> {
    const tables: DescribedTable[] = [];
    for (const t of await this.syncedTables()) tables.push(await describeTable(this.c, this.namespace, t));
    return sourceRequirements(this.c, {
      user: this.opts.dsn.user,
      slot: this.slot,
      publication: this.publication,
      namespace: this.namespace,
      syncId: this.opts.syncId,
      tables,
    });
  }

  async preflight(): Promise<void> {
    assertRequirements(await this.requirements(), this.where);
    const keep = await setting(this.c, 'max_slot_wal_keep_size');
    const log = { slot: this.slot, max_slot_wal_keep_size: keep };
    if (keep === '-1') this.opts.logger.warn(log, 'max_slot_wal_keep_size is -1: a stopped or stalled sync makes the server keep WAL without limit (disk space)');
    else this.opts.logger.info(log, `max_slot_wal_keep_size is ${keep}: a sync that falls further behind loses its slot and must start over`);
  }

  async identity(): Promise<SourceIdentity> {
    let system: string | undefined;
    try {
      const r = await this.c.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
      system = r.rows[0]?.id;
    } catch {
      // pg_control_system() may be revoked; IDENTIFY_SYSTEM on a replication connection says the same.
      const repl = await openClient(this.opts.dsn, 'source replication', { replication: 'database' } as pg.ClientConfig);
      try {
        const r = await repl.query<{ systemid: string }>('IDENTIFY_SYSTEM');
        system = r.rows[0]?.systemid;
      } finally {
        await repl.end().catch(() => undefined);
      }
    }
    return { id: `postgres system_identifier=${system ?? '?'} slot=${this.slot}`, version: this.versionText };
  }

  listTables(): Promise<string[]> {
    return listTables(this.c, this.namespace);
  }

  async describe(table: string): Promise<TableSchema> {
    const d = await describeTable(this.c, this.namespace, table);
    this.described.set(table, d);
    return d.schema;
  }

  tableStats(table: string): Promise<{ rows: number; avgRowBytes: number }> {
    return tableStats(this.c, this.namespace, table);
  }

  /** NaN, infinities, digits and out-of-range dates per column: one scan of the table. */
  valueStats(table: TableSchema): Promise<ColumnValueStats[]> {
    return scanPostgresData(async (sql) => (await this.c.query<Record<string, unknown>>(sql)).rows, table, this.namespace);
  }

  /**
   * On a fresh start: makes the publication cover the synced tables, then creates the slot with
   * an exported snapshot and returns its consistent point. The chunk reads see exactly the data
   * as of that point until releaseSnapshot(), and the stream starts after it then.
   *
   * A slot this sync owns (derived name) that exists already is left over from a start that never
   * saved a checkpoint (or the checkpoint was cleared with --force): nothing refers to it, so it is
   * dropped and created again. A slot named in the configuration that exists is used as it is,
   * without a snapshot: the stream starts at its confirmed_flush_lsn and the copy reads plainly,
   * converging by the rule of DESIGN.md.
   */
  async currentPosition(): Promise<string> {
    await ensurePublication(this.c, this.publication, this.namespace, await this.syncedTables(), this.opts.syncId, this.opts.logger);
    const existing = await slotInfo(this.c, this.slot);
    if (existing && this.opts.slot !== undefined) {
      const info = await checkSlot(this.c, this.slot, existing.confirmedFlushLsn ?? 0n, this.opts.dsn.database);
      const lsn = info.confirmedFlushLsn ?? info.restartLsn ?? 0n;
      this.opts.logger.info({ slot: this.slot, lsn: positions.formatLsn(lsn) }, 'using the existing replication slot named in the configuration (no snapshot: the copy converges with the stream)');
      return positions.encodePosition({ slot: this.slot, lsn });
    }
    if (existing) {
      if (existing.active) {
        throw new TributaryError(ErrorCode.ALREADY_RUNNING, `replication slot ${this.slot} is in use by another connection; stop the other consumer of this sync`);
      }
      this.opts.logger.warn({ slot: this.slot }, 'dropping this sync\'s replication slot left from a start without a checkpoint');
      await dropSlot(this.c, this.slot);
    }
    await this.releaseSnapshot();
    let exported: ExportedSlot;
    try {
      exported = await createSlotWithSnapshot(this.opts.dsn, this.slot);
    } catch (err) {
      throw connectError(err, this.opts.dsn, 'source replication');
    }
    this.exported = exported;
    this.snapshotReleased = new Promise((resolve) => (this.resolveReleased = resolve));
    if (this.ack.acked < exported.consistentPoint) this.ack.acked = exported.consistentPoint;
    this.opts.logger.info({ slot: this.slot, consistentPoint: positions.formatLsn(exported.consistentPoint), snapshot: exported.snapshot }, 'replication slot created with an exported snapshot');
    return positions.encodePosition({ slot: this.slot, lsn: exported.consistentPoint });
  }

  /** The exported snapshot's name while the copy may read it. */
  get snapshot(): string | undefined {
    return this.exported?.snapshot;
  }

  async releaseSnapshot(): Promise<void> {
    const e = this.exported;
    this.exported = undefined;
    if (e) {
      await e.release();
      this.opts.logger.debug({ slot: this.slot }, 'exported snapshot released');
    }
    this.resolveReleased?.();
    this.resolveReleased = undefined;
  }

  async checkPosition(position: string): Promise<void> {
    const p = positions.decodePosition(position);
    if (p.slot !== this.slot) {
      throw new TributaryError(ErrorCode.SOURCE_CHANGED, `the checkpoint streams from replication slot ${p.slot}, but this sync is configured with slot ${this.slot}; configure slot: ${p.slot}, or start over with --force`);
    }
    await checkSlot(this.c, this.slot, p.lsn, this.opts.dsn.database);
    // The table set may have changed since the checkpoint: the publication must cover it before
    // any new table is copied.
    await ensurePublication(this.c, this.publication, this.namespace, await this.syncedTables(), this.opts.syncId, this.opts.logger);
  }

  private sqlFor(table: TableSchema): ChunkSql {
    let s = this.sql.get(table.name);
    if (!s) this.sql.set(table.name, (s = chunkSql(this.namespace, table)));
    return s;
  }

  /**
   * Runs a read-only query as rows of raw text: in a REPEATABLE READ transaction on the exported
   * snapshot while one is held, else as a plain statement (its own consistent snapshot).
   */
  private async read(text: string, values: Value[]): Promise<(string | null)[][]> {
    const query = { text, values, rowMode: 'array' as const };
    if (!this.exported) return (await this.p.query<(string | null)[]>(query)).rows;
    return this.inSnapshot(async (client) => (await client.query<(string | null)[]>(query)).rows);
  }

  /**
   * Runs `fn` on a pooled connection that reads what every other chunk read of this copy reads:
   * in a REPEATABLE READ READ ONLY transaction on the slot's exported snapshot while one is held,
   * else in a transaction of its own (one consistent snapshot for everything `fn` runs).
   */
  private async inSnapshot<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const snapshot = this.exported?.snapshot;
    let client: pg.PoolClient;
    try {
      client = await this.p.connect();
    } catch (err) {
      throw connectError(err, this.opts.dsn, 'source');
    }
    let ok = false;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      if (snapshot) await client.query(`SET TRANSACTION SNAPSHOT '${snapshot.replace(/'/g, "''")}'`);
      const r = await fn(client);
      await client.query('COMMIT');
      ok = true;
      return r;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      const through = snapshot ? ` through exported snapshot ${snapshot}` : '';
      throw new TributaryError(ErrorCode.STREAM_FAILED, `reading ${this.where}${through} failed: ${(err as Error).message}`, { cause: err, fatal: false });
    } finally {
      client.release(ok ? undefined : true);
    }
  }

  async chunkBoundary(table: TableSchema, after: Value[] | null, size: number): Promise<Value[] | null> {
    const s = this.sqlFor(table);
    const where = rangeWhere(table, { after, upTo: null });
    const rows = await this.read(`SELECT ${s.keyList} FROM ${s.from} ${where.sql} ORDER BY ${s.keyList} LIMIT 1 OFFSET ${Math.max(0, size - 1)}`, where.params);
    const r = rows[0];
    if (!r) return null;
    return s.keyCodecs.map((codec, i) => codec(r[i] ?? null));
  }

  async readChunk(table: TableSchema, range: KeyRange): Promise<Row[]> {
    const s = this.sqlFor(table);
    const where = rangeWhere(table, range);
    const rows = await this.read(`SELECT ${s.selectList} FROM ${s.from} ${where.sql} ORDER BY ${s.keyList}`, where.params);
    const codecs = s.codecs;
    const n = table.columns.length;
    const out: Row[] = new Array(rows.length);
    for (let r = 0; r < rows.length; r++) {
      const raw = rows[r] as (string | null)[];
      const row: Value[] = new Array(n);
      for (let i = 0; i < n; i++) row[i] = (codecs[i] as TextCodec)(raw[i] ?? null);
      out[r] = row;
    }
    return out;
  }

  /**
   * The chunk as PostgreSQL's own COPY text (PG_COPY_TEXT), read by `COPY (SELECT …) TO STDOUT`
   * in the same snapshot discipline as readChunk, so a PostgreSQL → PostgreSQL copy moves bytes the
   * server printed straight into the target's COPY FROM, without decoding a value in JavaScript.
   * The session settings (UTC, ISO dates, shortest exact floats, hex bytea) are readChunk's, and
   * the output functions are the ones behind readChunk's text: the values are the same. COPY takes
   * no parameters, so the range's key values are inlined as literals; a key value with no exact
   * literal form returns undefined (the copier then reads canonical rows).
   */
  async readChunkEncoded(table: TableSchema, range: KeyRange, format: string): Promise<EncodedChunk | undefined> {
    if (format !== PG_COPY_TEXT) return undefined;
    const sql = copyChunkSql(this.sqlFor(table), table, range);
    if (sql === undefined) return undefined;
    const data = await this.inSnapshot((client) => readCopy(client, sql));
    return { format, data, rows: countLines(data) };
  }

  /** Current values of some columns of one row (plain read), for the stream. */
  private async readColumns(table: TableSchema, key: readonly Value[], columns: readonly number[]): Promise<Value[] | undefined> {
    const s = this.sqlFor(table);
    const names = table.primaryKey.map((i, j) => `${quoteIdent(table.columns[i]?.name ?? '')} = $${j + 1}`).join(' AND ');
    const list = columns.map((i) => quoteIdent(table.columns[i]?.name ?? '')).join(', ');
    const r = await this.p.query<(string | null)[]>({ text: `SELECT ${list} FROM ${s.from} WHERE ${names}`, values: [...key], rowMode: 'array' });
    const row = r.rows[0];
    if (!row) return undefined;
    return columns.map((c, j) => (s.codecs[c] as TextCodec)(row[j] ?? null));
  }

  async *stream(from: string, tables: readonly TableSchema[], signal: AbortSignal): AsyncIterable<StreamEvent> {
    const p = positions.decodePosition(from);
    // While the copy reads the exported snapshot, nothing is streamed (see releaseSnapshot()).
    if (this.exported) {
      this.opts.logger.debug('stream waits for the copy to release the exported snapshot');
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          resolve();
        };
        signal.addEventListener('abort', done);
        void this.snapshotReleased.then(done);
      });
      if (signal.aborted) return;
    }
    const conn = await openClient(this.opts.dsn, 'source').catch((err: unknown) => {
      throw new TributaryError(ErrorCode.STREAM_FAILED, connectError(err, this.opts.dsn, 'source').message, { cause: err, fatal: false });
    });
    try {
      await checkSlot(conn, p.slot, p.lsn, this.opts.dsn.database);
      const names = tables.map((t) => t.name);
      await ensurePublication(conn, this.publication, this.namespace, names, this.opts.syncId, this.opts.logger);
    } finally {
      await conn.end().catch(() => undefined);
    }
    const types = new Map<string, readonly ColumnType[]>();
    for (const t of tables) {
      const d = this.described.get(t.name);
      if (d && d.schema.columns.length === t.columns.length && d.schema.columns.every((c, i) => c.name === t.columns[i]?.name)) types.set(t.name, d.types);
    }
    if (signal.aborted) throw new AbortedError();
    yield* streamPgoutput(
      {
        dsn: this.opts.dsn,
        slot: p.slot,
        publication: this.publication,
        namespace: this.namespace,
        from: p.lsn,
        tables,
        types,
        maxBufferBytes: this.opts.maxBufferBytes,
        statusIntervalMs: this.opts.statusIntervalMs ?? 10_000,
        ack: this.ack,
        readColumns: (t, key, cols) => this.readColumns(t, key, cols),
        logger: this.opts.logger,
      },
      signal,
    );
  }

  /**
   * Raises the slot's flush position to `position` (the target committed it): sent at once when
   * a stream runs, else with the next stream's first status update.
   */
  acknowledge(position: string): Promise<void> {
    const p = positions.decodePosition(position);
    if (p.slot === this.slot && p.lsn > this.ack.acked) {
      this.ack.acked = p.lsn;
      this.ack.send?.(false);
    }
    return Promise.resolve();
  }

  comparePositions(a: string, b: string): number {
    return positions.comparePositions(a, b);
  }

  describePosition(position: string): string {
    return positions.describePosition(position);
  }
}

/** Rows in COPY text: one line each (COPY writes a newline inside a value as backslash-n). */
function countLines(data: Buffer): number {
  let n = 0;
  for (let at = data.indexOf(0x0a); at !== -1; at = data.indexOf(0x0a, at + 1)) n++;
  return n;
}
