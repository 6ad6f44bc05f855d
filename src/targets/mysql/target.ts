import { createHash } from 'node:crypto';
import type { Connection, Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import type { Change } from '../../core/change.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import type { EncodedChunk } from '../../core/source.js';
import type { Checkpoint, ChunkCommit, StreamCheckpoint, Target, TargetCapabilities, TargetTransaction } from '../../core/target.js';
import type { Row } from '../../core/values.js';
import { openConnection, openPool } from '../../sources/mysql/connection.js';
import { describeTable } from '../../sources/mysql/schema.js';
import { applyChanges } from './apply.js';
import * as checkpoint from './checkpoint.js';
import { createTableSql } from './ddl.js';
import { loadPlan, loadRows, loadText, type LoadPlan } from './load.js';
import { MYSQL_TSV } from '../../sources/mysql/tsv.js';
import { quoteId } from './sql.js';

export interface MysqlTargetOptions {
  readonly dsn: Dsn;
  readonly syncId: string;
  readonly logger: Logger;
  /** Connections for parallel chunk writes. */
  readonly poolSize: number;
}

/** MySQL/MariaDB as a target: LOAD DATA for the copy, multi-row upserts for the stream. */
export class MysqlTarget implements Target {
  readonly engine = 'mysql';
  readonly capabilities: TargetCapabilities = { transactions: true, upsert: true, bulkLoad: true, chunkFormat: MYSQL_TSV };
  private readonly opts: MysqlTargetOptions;
  private control: Connection | undefined;
  private pool: Pool | undefined;
  private readonly plans = new Map<string, LoadPlan>();

  constructor(opts: MysqlTargetOptions) {
    this.opts = opts;
  }

  private get c(): Connection {
    if (!this.control) throw new TributaryError(ErrorCode.INTERNAL, 'MysqlTarget used before connect()');
    return this.control;
  }
  private get p(): Pool {
    if (!this.pool) throw new TributaryError(ErrorCode.INTERNAL, 'MysqlTarget used before connect()');
    return this.pool;
  }

  async connect(): Promise<void> {
    const extra = { flags: ['+LOCAL_FILES'] as string[] };
    this.control = await openConnection(this.opts.dsn, 'target', extra);
    this.pool = await openPool(this.opts.dsn, 'target', this.opts.poolSize + 1, extra);
  }

  async close(): Promise<void> {
    await this.pool?.end().catch(() => undefined);
    await this.control?.end().catch(() => undefined);
    this.pool = undefined;
    this.control = undefined;
  }

  async lock(): Promise<void> {
    const name = 'tributary:' + createHash('sha256').update(`${this.opts.dsn.database}/${this.opts.syncId}`).digest('hex').slice(0, 40);
    const [rows] = await this.c.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS got', [name]);
    if (Number(rows[0]?.got) !== 1) {
      throw new TributaryError(
        ErrorCode.ALREADY_RUNNING,
        `another tributary instance is running sync '${this.opts.syncId}' against target ${describeDsn(this.opts.dsn)} (it holds lock ${name}); stop it first, or give this one a different --id`,
      );
    }
  }

  loadCheckpoint(): Promise<Checkpoint> {
    return checkpoint.load(this.c, this.opts.syncId);
  }

  clearCheckpoint(): Promise<void> {
    return checkpoint.clear(this.c, this.opts.syncId);
  }

  async nonEmptyTables(tables: readonly TableSchema[]): Promise<string[]> {
    const [existing] = await this.c.query<RowDataPacket[]>(
      "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
      [this.opts.dsn.database],
    );
    const names = new Set(existing.map((r) => String(r.name)));
    const out: string[] = [];
    for (const t of tables) {
      if (!names.has(t.name)) continue;
      const [rows] = await this.c.query<RowDataPacket[]>(`SELECT 1 FROM ${quoteId(t.name)} LIMIT 1`);
      if (rows.length > 0) out.push(t.name);
    }
    return out;
  }

  /**
   * The first write a sync makes to the target: everything before it (connect, lock, checkpoint
   * and emptiness checks) only reads, so a run refused by a preflight check leaves the target as
   * it was. The checkpoint table is therefore created here, not in connect().
   */
  async ensureSchema(tables: readonly TableSchema[], opts: { recreate: boolean }): Promise<void> {
    try {
      await checkpoint.ensureCheckpointTable(this.c);
    } catch (err) {
      const e = err as { code?: string };
      if (e.code === 'ER_TABLEACCESS_DENIED_ERROR' || e.code === 'ER_DBACCESS_DENIED_ERROR') {
        throw new TributaryError(ErrorCode.PRIVILEGE_MISSING, `target ${describeDsn(this.opts.dsn)}: user '${this.opts.dsn.user}' may not create tables; GRANT CREATE, DROP, SELECT, INSERT, UPDATE, DELETE ON ${this.opts.dsn.database}.* to it`, { cause: err });
      }
      throw err;
    }
    for (const t of tables) {
      if (opts.recreate) await this.c.query(`DROP TABLE IF EXISTS ${quoteId(t.name)}`);
      await this.c.query(createTableSql(t));
    }
  }

  private planFor(table: TableSchema): LoadPlan {
    let plan = this.plans.get(table.name);
    if (!plan) this.plans.set(table.name, (plan = loadPlan(table)));
    return plan;
  }

  writeChunk(table: TableSchema, rows: readonly Row[], commit: ChunkCommit): Promise<void> {
    return this.chunkTransaction(table, commit, (conn) => loadRows(conn, this.planFor(table), rows));
  }

  writeEncodedChunk(table: TableSchema, chunk: EncodedChunk, commit: ChunkCommit): Promise<void> {
    if (chunk.format !== MYSQL_TSV) {
      throw new TributaryError(ErrorCode.INTERNAL, `MySQL target cannot load chunk format ${chunk.format}`);
    }
    return this.chunkTransaction(table, commit, (conn) => loadText(conn, this.planFor(table), chunk.data));
  }

  /** Loads a chunk and saves the table checkpoint in one transaction. */
  private async chunkTransaction(table: TableSchema, commit: ChunkCommit, load: (conn: PoolConnection) => Promise<void>): Promise<void> {
    const conn = await this.p.getConnection();
    let inSection = false;
    try {
      await conn.beginTransaction();
      await load(conn);
      const cp = await commit.checkpoint();
      inSection = true;
      await checkpoint.saveTable(conn, this.opts.syncId, table.name, cp);
      await conn.commit();
      inSection = false;
      commit.committed();
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      if (inSection) commit.failed();
      throw writeError(err, `copying a chunk of ${table.name}`);
    } finally {
      conn.release();
    }
  }

  async begin(): Promise<TargetTransaction> {
    const conn = await this.p.getConnection();
    await conn.beginTransaction();
    const syncId = this.opts.syncId;
    let open = true;
    const end = () => {
      if (open) {
        open = false;
        conn.release();
      }
    };
    return {
      async write(tables: ReadonlyMap<string, TableSchema>, changes: readonly Change[]) {
        try {
          await applyChanges(conn, tables, changes);
        } catch (err) {
          throw writeError(err, 'applying changes');
        }
      },
      async truncate(table: TableSchema) {
        // DELETE, not TRUNCATE: TRUNCATE commits implicitly and would split data from checkpoint.
        await conn.query(`DELETE FROM ${quoteId(table.name)}`);
      },
      async commit(cp: StreamCheckpoint | null) {
        try {
          if (cp) await checkpoint.saveStream(conn, syncId, cp);
          await conn.commit();
        } catch (err) {
          await conn.rollback().catch(() => undefined);
          throw writeError(err, 'committing a batch');
        } finally {
          end();
        }
      },
      async rollback() {
        try {
          await conn.rollback();
        } finally {
          end();
        }
      },
    };
  }

  async describe(table: string): Promise<TableSchema | null> {
    try {
      return await describeTable(this.c, this.opts.dsn.database, table);
    } catch (err) {
      if (err instanceof TributaryError && err.code === ErrorCode.TABLE_UNSUPPORTED) return null;
      throw err;
    }
  }

  async countRows(table: TableSchema): Promise<number> {
    const [rows] = await this.c.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${quoteId(table.name)}`);
    return Number(rows[0]?.n ?? 0);
  }

  async saveStreamCheckpoint(cp: StreamCheckpoint): Promise<void> {
    await checkpoint.saveStream(this.c, this.opts.syncId, cp);
  }
}

function writeError(err: unknown, what: string): TributaryError {
  if (err instanceof TributaryError) return err;
  const e = err as { code?: string; message?: string };
  const transient = ['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'ECONNRESET', 'PROTOCOL_CONNECTION_LOST', 'EPIPE'].includes(e.code ?? '');
  return new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `target write failed while ${what}: ${e.message ?? String(err)}`, { cause: err, fatal: !transient });
}
