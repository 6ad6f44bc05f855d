import type { Connection, Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import type { Change } from '../../core/change.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { SchemaChange } from '../../core/schema-change.js';
import { definedTables } from '../../core/schema-change-tables.js';
import type { ComparableForm } from '../../core/comparable.js';
import type { Cascade, TableSchema } from '../../core/schema.js';
import { readAll } from '../../core/encoded.js';
import type { ColumnValueStats, DatabaseDefaults, EncodedChunk } from '../../core/source.js';
import type { Checkpoint, ChunkCommit, Fence, LockWatch, SchemaOptions, StreamCheckpoint, Target, TargetCapabilities, TargetTransaction } from '../../core/target.js';
import type { Row } from '../../core/values.js';
import { commentPrefix, connectError, openConnection, openPool } from './connection.js';
import { StatementBatch } from './statements.js';
import { describeTable } from './schema.js';
import type { MapTableOptions, MysqlFlavour, TableMapping } from './types.js';
import { applyCascade, applyChanges, type ColumnLiterals } from './apply.js';
import type { Requirement } from '../../core/check.js';
import { assertMappable, currentAccount, databaseRequirements, dataProblems, lockRequirement, mappingRequirements, targetRequirements } from './check.js';
import * as checkpoint from './checkpoint.js';
import { createTableFromDefinition, createTableSql, foreignKeySql, databaseExists, databasePlan, refuseForceOnSystemDatabase, schemaChangeGroups, schemaChangeSql, SYSTEM_DATABASES } from './ddl.js';
import { changeTables, identity, inspectTables, operationsInEffect, parsePendingDdl, pendingDdlBody, renamedTables, type TableState, type TargetState } from './replay.js';
import { namespacesOf, qualify, splitName } from '../../core/names.js';
import { coordinatedRefusal, plainHolderRefusal } from '../../checkpoint/epoch.js';
import { EPOCH_ROW, schemaChangeRows } from '../../checkpoint/rows.js';
import { lockName, LONG_WAIT_TIMEOUT_S, MysqlSyncLock, usedBy } from './lock.js';
import { MysqlEpochFence, type CommitGuard } from './fence.js';
import { loadPlan, loadRows, loadText, type LoadPlan } from './load.js';
import { MYSQL_TSV } from '../../core/formats.js';
import { columnLiteral, quoteId, quoteTable } from './sql.js';
import { MysqlReadBack } from './read.js';
import type { ChunkDigest, KeyRange } from '../../core/source.js';
import type { Value } from '../../core/values.js';

export interface MysqlTargetOptions {
  readonly dsn: Dsn;
  readonly syncId: string;
  readonly logger: Logger;
  /** Connections for parallel chunk writes. */
  readonly poolSize: number;
  /**
   * Per-column target types for tables from another engine, {"table.column": "TYPE"}
   * (config.columnTypes); see types.ts mapLogicalTable. Ignored for MySQL sources, whose own
   * CREATE TABLE is used.
   */
  readonly columnTypes?: Readonly<Record<string, string>>;
  /** Labels of PostgreSQL enum types by type name, when the source read them: such columns become ENUM. */
  readonly enumLabels?: ReadonlyMap<string, readonly string[]>;
  /** --force: refused at once for a URL naming one of the server's own databases, which it would drop. */
  readonly force?: boolean;
  /** Coordinator mode: how long a takeover waits for an older leadership's transaction before ending its session (fence.ts; default 2000 ms). */
  readonly fenceBreakAfterMs?: number;
}

/** Options of every connection this target opens to its database. */
const CONNECTION_EXTRA = { flags: ['+LOCAL_FILES'] as string[] };
/** The pool's connections also take several statements in one query: a stream batch's writes go together (statements.ts). */
const POOL_EXTRA = { ...CONNECTION_EXTRA, multipleStatements: true };

/** MySQL/MariaDB as a target: LOAD DATA for the copy, multi-row upserts for the stream. */
export class MysqlTarget implements Target {
  readonly engine = 'mysql';
  readonly capabilities: TargetCapabilities = {
    atomicCheckpoint: true,
    chunkFormats: [MYSQL_TSV],
    chunkDigest: true,
    readBack: true,
    checkValues: true,
    plannedDdl: true,
    transactionalDdl: false,
    foreignKeys: true,
    keyRanges: true,
    namespaces: true,
    commitLimit: null,
    rowDocuments: false,
  };
  private readonly opts: MysqlTargetOptions;
  private control: Connection | undefined;
  private pool: Pool | undefined;
  private readonly plans = new Map<string, LoadPlan>();
  /** Type maps of tables from another engine, by table name. */
  private readonly mappings = new Map<string, { schema: TableSchema; mapping: TableMapping; literals: ColumnLiterals }>();
  private flavour: MysqlFlavour = 'mariadb';
  /** Reads this target's copy of tables back, for checksums. */
  private readonly readBack: MysqlReadBack;
  /** The database named in the URL did not exist at connect(): ensureSchema() creates it, until then nothing is read from it. */
  private missing = false;
  /**
   * What every commit verifies once lock() took the sync: its lock (MysqlSyncLock), or in
   * coordinator mode its leadership's fence (`epochFence`, fence.ts).
   */
  private syncLock: CommitGuard | undefined;
  /** The leadership's fence, in coordinator mode: its takeover may wait for ensureSchema (fence.ts). */
  private epochFence: MysqlEpochFence | undefined;

  constructor(opts: MysqlTargetOptions) {
    if (opts.force) refuseForceOnSystemDatabase(opts.dsn);
    this.opts = opts;
    this.readBack = new MysqlReadBack({
      pool: () => this.p,
      describe: (name) => this.describe(name),
      mapping: (table) => this.mappingFor(table)?.mapping,
      where: `target ${describeDsn(this.opts.dsn)}`,
      error: (err) => connectError(err, this.opts.dsn, 'target'),
    });
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
    try {
      this.control = await openConnection(this.opts.dsn, 'target', CONNECTION_EXTRA);
    } catch (err) {
      if (!(err instanceof TributaryError) || err.code !== ErrorCode.DATABASE_MISSING) throw err;
      // The sync creates it (ensureSchema, the first write); until then the server is read without one.
      this.control = await openConnection(this.opts.dsn, 'target', { ...CONNECTION_EXTRA, database: undefined });
      this.missing = true;
    }
    // The control connection idles while the stream runs; a short global wait_timeout must not end it.
    await this.control.query(`SET SESSION wait_timeout = ${LONG_WAIT_TIMEOUT_S}`);
    if (!this.missing) this.pool = await openPool(this.opts.dsn, 'target', this.opts.poolSize + 1, POOL_EXTRA);
    const [v] = await this.control.query<RowDataPacket[]>('SELECT VERSION() AS v');
    this.flavour = /mariadb/i.test(String(v[0]?.v ?? '')) ? 'mariadb' : 'mysql';
  }

  /** Options of the type map for tables from another engine. */
  private get mapOptions(): MapTableOptions {
    return {
      flavour: this.flavour,
      ...(this.opts.columnTypes ? { columnTypes: this.opts.columnTypes } : {}),
      ...(this.opts.enumLabels ? { enumLabels: this.opts.enumLabels } : {}),
    };
  }

  /**
   * Refuses, before anything is written, every column of a table from another engine that has no
   * MySQL type (TABLE_UNSUPPORTED listing each column, the reason and the override). Reads nothing.
   */
  checkTypes(tables: readonly TableSchema[]): void {
    assertMappable(tables.filter((t) => t.engine !== 'mysql'), this.mapOptions);
  }

  /**
   * Refuses, before anything is written, values a PostgreSQL source reported that the mapped MySQL
   * columns cannot hold (NaN, infinities, digits beyond the DECIMAL, infinite or BC dates).
   */
  checkValues(table: TableSchema, stats: readonly ColumnValueStats[]): void {
    if (table.engine === 'mysql') return;
    const [mapping] = assertMappable([table], this.mapOptions);
    const problems = dataProblems(mapping!, stats);
    if (problems.length === 0) return;
    throw new TributaryError(
      ErrorCode.TABLE_UNSUPPORTED,
      `values of ${problems.length === 1 ? 'a column' : `${problems.length} columns`} cannot be stored exactly in MySQL: ` +
        problems.map((p) => `${p.table}.${p.column} (${p.pgType}): ${p.reason}; ${p.fix}`).join('; '),
    );
  }

  /**
   * Privileges, local_infile, free space and the type map of `tables`, and the CREATE DATABASE the
   * sync would run when the database does not exist (each of `namespaces` too, in a sync of
   * several databases); reads only, creates nothing.
   */
  async check(tables: readonly TableSchema[], database?: DatabaseDefaults, namespaces?: ReadonlyMap<string, DatabaseDefaults | undefined>): Promise<Requirement[]> {
    const create = this.missing ? await databasePlan(this.c, this.opts.dsn.database, database, this.flavour) : undefined;
    // A sync of several databases: whether each target database exists or may be created, and may be written.
    const others: Requirement[] = [];
    const more = [...this.namespaces({ recreate: false, ...(namespaces ? { namespaces } : {}) })].filter(([ns]) => ns !== this.opts.dsn.database);
    const account = more.length ? await currentAccount(this.c) : '';
    for (const [ns, defaults] of more) {
      const plan = (await databaseExists(this.c, ns)) ? undefined : await databasePlan(this.c, ns, defaults, this.flavour);
      others.push(...(await databaseRequirements(this.c, ns, this.opts.dsn.user, account, plan)));
    }
    return [
      ...(await targetRequirements(this.c, this.opts.dsn.database, this.opts.dsn.user, this.opts.dsn.host, create)),
      ...others,
      // Whether another instance holds the lock: only asked before this target took it (check).
      ...(this.syncLock ? [] : [await lockRequirement(this.c, lockName(this.opts.dsn.database, this.opts.syncId), this.opts.syncId)]),
      ...mappingRequirements(tables, this.mapOptions),
    ];
  }

  /** The type map of a table from another engine, or undefined for a MySQL table. */
  private mappingFor(table: TableSchema): { mapping: TableMapping; literals: ColumnLiterals } | undefined {
    if (table.engine === 'mysql') return undefined;
    let m = this.mappings.get(table.name);
    if (!m || m.schema !== table) {
      const [mapping] = assertMappable([table], this.mapOptions);
      const cols = mapping!.columns;
      const literals: ColumnLiterals = (v, i) => columnLiteral(table.name, cols[i]!, v);
      this.mappings.set(table.name, (m = { schema: table, mapping: mapping!, literals }));
      this.plans.delete(table.name);
    }
    return m;
  }

  async close(): Promise<void> {
    await this.pool?.end().catch(() => undefined);
    await this.control?.end().catch(() => undefined);
    // Last: no writer of this target is left to commit once the lock is free.
    await this.syncLock?.release();
    this.pool = undefined;
    this.control = undefined;
    this.syncLock = undefined;
    this.epochFence = undefined;
  }

  /**
   * GET_LOCK on a connection of its own, kept alive and watched (lock.ts); then waits for a
   * previous holder's writers. With a fence (coordinator mode) no lock: the takeover of fence.ts,
   * left to ensureSchema while the checkpoint table does not exist (lock() creates nothing).
   */
  async lock(watch?: LockWatch, fence?: Fence): Promise<void> {
    if (fence) {
      const guard = new MysqlEpochFence({
        syncId: this.opts.syncId,
        fence,
        where: `target ${describeDsn(this.opts.dsn)}`,
        logger: this.opts.logger,
        ...(this.opts.fenceBreakAfterMs !== undefined ? { breakAfterMs: this.opts.fenceBreakAfterMs } : {}),
        // A connection of the pool ends the sessions the takeover waits for (the control connection waits).
        side: async () => {
          if (this.pool) {
            const conn = await this.pool.getConnection();
            return { conn, done: () => conn.release() };
          }
          const conn = await openConnection(this.opts.dsn, 'target', { ...CONNECTION_EXTRA, database: undefined });
          return { conn, done: () => void conn.end().catch(() => undefined) };
        },
      });
      const site = { syncId: this.opts.syncId, where: `target ${describeDsn(this.opts.dsn)}` };
      const plain = await usedBy(this.c, lockName(this.opts.dsn.database, this.opts.syncId));
      if (plain !== undefined) throw plainHolderRefusal(site, `connection ${plain}`);
      if (!this.missing) await this.takeOver(guard);
      this.syncLock = this.epochFence = guard;
      return;
    }
    const lock = new MysqlSyncLock({ dsn: this.opts.dsn, syncId: this.opts.syncId, logger: this.opts.logger });
    await lock.acquire(watch);
    this.syncLock = lock;
    if (this.missing) return;
    await checkpoint.waitForWriters(this.c, this.opts.syncId);
    // A sync run by standby instances has a fence record: a plain instance beside them is refused.
    const { body } = await checkpoint.lockedEpoch(this.c, this.opts.syncId, 'share');
    const refusal = coordinatedRefusal({ syncId: this.opts.syncId, where: `target ${describeDsn(this.opts.dsn)}` }, body, `DELETE FROM ${quoteId(this.opts.dsn.database)}.${quoteId(checkpoint.CHECKPOINT_TABLE)} WHERE sync_id = '${this.opts.syncId}' AND name = '${EPOCH_ROW}'`);
    if (refusal) {
      await lock.release();
      this.syncLock = undefined;
      throw refusal;
    }
  }

  /** The fence's takeover on the control connection; false when the checkpoint table does not exist yet. */
  private async takeOver(guard: MysqlEpochFence): Promise<boolean> {
    try {
      return await guard.takeOver(this.c);
    } catch (err) {
      throw writeError(err, `taking sync '${this.opts.syncId}' over for its leadership (fence)`);
    }
  }

  loadCheckpoint(): Promise<Checkpoint> {
    if (this.missing) return Promise.resolve({ stream: null, tables: new Map() });
    return checkpoint.load(this.c, this.opts.syncId);
  }

  async clearCheckpoint(): Promise<void> {
    if (this.missing) return;
    await this.controlTransaction(() => checkpoint.clear(this.c, this.opts.syncId));
  }

  /**
   * Runs `fn` in a transaction on the control connection and commits it once the sync's lock is
   * verified inside it (`fn` must lock a checkpoint row; see MysqlSyncLock.verify).
   */
  private async controlTransaction(fn: () => Promise<void>): Promise<void> {
    await this.c.query('START TRANSACTION');
    try {
      await fn();
      await this.syncLock?.verify(this.c);
      await this.c.query('COMMIT');
    } catch (err) {
      await this.c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /**
   * inspectTables (replay.ts) of tables by the sync's names: a qualified name (`db.table`, a sync
   * of several databases) is looked up in its own database, and keyed by that name again.
   */
  private async inspect(tables: readonly string[]): Promise<TargetState> {
    const byNamespace = new Map<string | undefined, string[]>();
    for (const t of tables) {
      const { namespace, table } = splitName(t);
      byNamespace.set(namespace, [...(byNamespace.get(namespace) ?? []), table]);
    }
    const out = new Map<string, TableState>();
    for (const [namespace, names] of byNamespace) {
      const state = await inspectTables(this.c, namespace ?? this.opts.dsn.database, names);
      for (const [name, t] of state) out.set(qualify(namespace, name), t);
    }
    return out;
  }

  async nonEmptyTables(tables: readonly TableSchema[]): Promise<string[]> {
    if (this.missing) return [];
    const names = await this.existingTables(tables.map((t) => t.name));
    const out: string[] = [];
    for (const t of tables) {
      if (!names.has(t.name)) continue;
      const [rows] = await this.c.query<RowDataPacket[]>(`SELECT 1 FROM ${quoteTable(t.name)} LIMIT 1`);
      if (rows.length > 0) out.push(t.name);
    }
    return out;
  }

  recreateScope(namespaces: readonly string[] = []): string {
    const others = namespaces.filter((ns) => ns !== this.opts.dsn.database);
    const also = others.length ? `, and database${others.length > 1 ? 's' : ''} ${others.join(', ')} (every table in ${others.length > 1 ? 'them' : 'it'})` : '';
    return `database ${this.opts.dsn.database} (every table in it, the checkpoints of other syncs into it included)${also}`;
  }

  async plannedDdl(tables: readonly TableSchema[], opts: SchemaOptions): Promise<string[]> {
    this.checkTypes(tables);
    const out: string[] = [];
    if (this.missing || opts.recreate) {
      const plan = await databasePlan(this.c, this.opts.dsn.database, opts.database, this.flavour);
      if (this.missing) out.push(`-- the target database ${this.opts.dsn.database} does not exist: the sync creates it`);
      else out.push(`-- --force: the target database is dropped with ${this.recreateScope([...this.namespaces(opts).keys()])}`, `DROP DATABASE IF EXISTS ${quoteId(this.opts.dsn.database)}`);
      out.push(plan.sql);
      if (plan.note) out.push(`-- ${plan.note}`);
    }
    out.push(`-- the checkpoint table ${quoteId(checkpoint.CHECKPOINT_TABLE)}, if absent`);
    for (const [ns, defaults] of this.namespaces(opts)) {
      if (ns === this.opts.dsn.database || (!opts.recreate && (await databaseExists(this.c, ns)))) continue;
      const plan = await databasePlan(this.c, ns, defaults, this.flavour);
      out.push(`-- target database ${ns} (--databases)${opts.recreate ? ', dropped first under --force' : ''}`, ...(opts.recreate ? [`DROP DATABASE IF EXISTS ${quoteId(ns)}`] : []), plan.sql);
    }
    for (const t of tables) out.push(createTableSql(t, this.mapOptions));
    return out;
  }

  /**
   * The target databases of a sync of several (tables named `db.table`): the namespaces
   * SchemaOptions.namespaces names, with their source databases' defaults. A server's own database
   * is refused by name: nothing of a sync is written there.
   */
  private namespaces(opts: SchemaOptions): Map<string, DatabaseDefaults | undefined> {
    // Exactly the namespaces the session named: one inferred from a table's name is never created
    // or dropped (a missing one fails the table's CREATE, naming it).
    const out = new Map<string, DatabaseDefaults | undefined>(opts.namespaces ?? []);
    for (const ns of out.keys()) {
      if (SYSTEM_DATABASES.has(ns.toLowerCase())) {
        throw new TributaryError(ErrorCode.CONFIG_INVALID, `target database '${ns}' of a sync of several databases is one of the server's own databases; write it elsewhere with --database-rewrites ${ns}=NAME`);
      }
    }
    return out;
  }

  /** Creates the target databases of a sync of several (namespaces()) that are missing; under --force drops each first. */
  private async createNamespaces(opts: SchemaOptions): Promise<void> {
    for (const [ns, defaults] of this.namespaces(opts)) {
      // The URL's own database was made (or recreated) with the checkpoint table by ensureSchema.
      if (ns === this.opts.dsn.database) continue;
      await this.syncLock?.verify(this.c);
      if (opts.recreate) {
        this.opts.logger.warn({ database: ns }, `--force: dropping database ${ns} (a target database of this sync)`);
        await this.c.query(`DROP DATABASE IF EXISTS ${quoteId(ns)}`);
      }
      if (await databaseExists(this.c, ns)) continue;
      const plan = await databasePlan(this.c, ns, defaults, this.flavour);
      await this.c.query(plan.sql);
      this.opts.logger.info({ database: ns, statement: plan.sql }, 'target database created');
    }
  }

  /**
   * Creates the target database (with `opts.database`'s defaults, see ddl.ts), first dropping
   * it under --force; then selects it on the control connection and opens the pool on it (a pool
   * connection opened before a DROP would name a database that is gone). MySQL DDL commits at
   * once: the lock is verified right before it.
   */
  private async createDatabase(opts: SchemaOptions): Promise<void> {
    const db = this.opts.dsn.database;
    const plan = await databasePlan(this.c, db, opts.database, this.flavour);
    await this.syncLock?.verify(this.c);
    const where = `target ${describeDsn(this.opts.dsn)}`;
    try {
      if (opts.recreate && !this.missing) {
        refuseForceOnSystemDatabase(this.opts.dsn);
        this.opts.logger.warn({ database: db }, `--force: dropping ${this.recreateScope([...this.namespaces(opts).keys()])}`);
        await this.c.query(`DROP DATABASE IF EXISTS ${quoteId(db)}`);
      }
      // Another sync may have created it since connect(): then it is used as it is.
      if (!(await databaseExists(this.c, db))) await this.c.query(plan.sql);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (e.code === 'ER_DBACCESS_DENIED_ERROR' || e.code === 'ER_ACCESS_DENIED_ERROR' || e.code === 'ER_SPECIFIC_ACCESS_DENIED_ERROR') {
        // The account the GRANT names: the one the server matched (CURRENT_USER()), not a placeholder.
        const account = await currentAccount(this.c).catch(() => `'${this.opts.dsn.user}'@'%'`);
        throw new TributaryError(
          ErrorCode.PRIVILEGE_MISSING,
          `${where}: user '${this.opts.dsn.user}' may not ${opts.recreate && !this.missing ? 'drop and create' : 'create'} database ${db} (${e.message}); run ${plan.sql} as a user that may, or GRANT CREATE, DROP ON ${quoteId(db)}.* TO ${account}`,
          { cause: err },
        );
      }
      if (err instanceof TributaryError) throw err;
      throw new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `${where}: creating database ${db} failed: ${e.message ?? String(err)}`, { cause: err });
    }
    this.opts.logger.info({ database: db, statement: plan.sql, ...(plan.note ? { note: plan.note } : {}) }, 'target database created');
    await this.c.query(`USE ${quoteId(db)}`);
    this.missing = false;
    const old = this.pool;
    this.pool = undefined;
    await old?.end().catch(() => undefined);
    this.pool = await openPool(this.opts.dsn, 'target', this.opts.poolSize + 1, POOL_EXTRA);
  }

  /**
   * The first write a sync makes to the target: everything before it (connect, lock, checkpoint
   * and emptiness checks) only reads, so a run refused by a preflight check leaves the target as
   * it was. The database (when missing, or under --force) and the checkpoint table are therefore
   * created here, not in connect().
   */
  async ensureSchema(tables: readonly TableSchema[], opts: SchemaOptions): Promise<void> {
    // Every type refusal before the first write.
    this.checkTypes(tables);
    // Target databases the sync may not write (a server's own) are refused before any is created.
    this.namespaces(opts);
    await this.syncLock?.check();
    const fence = this.epochFence;
    // A takeover left pending at lock(): another leadership may have created the table since.
    if (fence?.pending && !this.missing) await this.takeOver(fence);
    if (this.missing || opts.recreate) await this.createDatabase(opts);
    try {
      await checkpoint.ensureCheckpointTable(this.c);
    } catch (err) {
      const e = err as { code?: string };
      if (e.code === 'ER_TABLEACCESS_DENIED_ERROR' || e.code === 'ER_DBACCESS_DENIED_ERROR') {
        throw new TributaryError(ErrorCode.PRIVILEGE_MISSING, `target ${describeDsn(this.opts.dsn)}: user '${this.opts.dsn.user}' may not create tables; GRANT CREATE, DROP, SELECT, INSERT, UPDATE, DELETE ON ${this.opts.dsn.database}.* to it`, { cause: err });
      }
      throw err;
    }
    // The first write into the table: the takeover (again, after --force dropped the database and
    // the record with it; the same epoch takes it again).
    if (fence && !(await this.takeOver(fence))) {
      throw new TributaryError(ErrorCode.INTERNAL, `target ${describeDsn(this.opts.dsn)}: the checkpoint table is missing right after it was created`);
    }
    await this.createNamespaces(opts);
    // A table the target has is left as it is (CREATE … IF NOT EXISTS would change nothing): a
    // resumed sync's stored definition of a table a schema change altered has no CREATE text.
    const existing = await this.existingTables(tables.map((t) => t.name));
    for (const t of tables) {
      if (existing.has(t.name)) continue;
      if (t.engine === 'mysql' && !t.createStatement && opts.resumed) {
        this.opts.logger.warn({ table: t.name }, `table ${t.name} is missing on the target and its stored definition has no CREATE text (a schema change altered it): created from its columns' types, with the target's default collation and table options`);
        await this.c.query(createTableFromDefinition(t, this.mapOptions));
      } else {
        await this.c.query(createTableSql(t, this.mapOptions));
      }
    }
  }

  /** Which of `names` (the sync's names, qualified or not) are base tables on the target now. */
  private async existingTables(names: readonly string[]): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    const databases = [this.opts.dsn.database, ...namespacesOf(names)];
    const [rows] = await this.c.query<RowDataPacket[]>(
      "SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (?) AND TABLE_TYPE = 'BASE TABLE'",
      [databases],
    );
    // A table of the URL's database is known by its bare name, and by its qualified one when the sync takes several.
    return new Set(rows.flatMap((r) => [qualify(String(r.db), String(r.name)), ...(String(r.db) === this.opts.dsn.database ? [String(r.name)] : [])]));
  }

  private planFor(table: TableSchema): LoadPlan {
    const mapped = this.mappingFor(table);
    let plan = this.plans.get(table.name);
    if (!plan) this.plans.set(table.name, (plan = loadPlan(table, mapped?.mapping)));
    return plan;
  }

  writeChunk(table: TableSchema, rows: readonly Row[], commit: ChunkCommit): Promise<void> {
    return this.chunkTransaction(table, commit, (conn) => loadRows(conn, this.planFor(table), rows));
  }

  /** LOAD DATA lines are rendered by a MySQL source for its own columns, which a MySQL → MySQL sync recreates as they are. */
  acceptsEncoded(table: TableSchema, format: string): boolean {
    return format === MYSQL_TSV && table.engine === 'mysql';
  }

  writeEncodedChunk(table: TableSchema, chunk: EncodedChunk, commit: ChunkCommit): Promise<void> {
    if (chunk.format !== MYSQL_TSV) {
      throw new TributaryError(ErrorCode.INTERNAL, `MySQL target cannot load chunk format ${chunk.format}`);
    }
    return this.chunkTransaction(table, commit, async (conn) => loadText(conn, this.planFor(table), await readAll(chunk.open())));
  }

  /** Loads a chunk and saves the table checkpoint in one transaction. */
  private async chunkTransaction(table: TableSchema, commit: ChunkCommit, load: (conn: PoolConnection) => Promise<void>): Promise<void> {
    let conn: PoolConnection;
    try {
      conn = await this.p.getConnection();
    } catch (err) {
      throw writeError(err, `copying a chunk of ${table.name}`);
    }
    let inSection = false;
    try {
      await conn.beginTransaction();
      await load(conn);
      const cp = await commit.checkpoint();
      inSection = true;
      await checkpoint.saveTable(conn, this.opts.syncId, table.name, cp);
      await this.syncLock?.verify(conn);
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
    const lock = this.syncLock;
    await lock?.check();
    let conn: PoolConnection;
    try {
      conn = await this.p.getConnection();
    } catch (err) {
      throw writeError(err, 'starting a batch');
    }
    // The transaction's writes are gathered (statements.ts): START TRANSACTION goes out with the
    // first of them, and they go out with the checkpoint, in one round trip where they fit.
    const sink = new StatementBatch(conn, commentPrefix(this.opts.dsn));
    await sink.query('START TRANSACTION');
    const syncId = this.opts.syncId;
    const literals = (t: TableSchema) => this.mappingFor(t)?.literals;
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
          await applyChanges(sink, tables, changes, literals);
        } catch (err) {
          throw writeError(err, 'applying changes');
        }
      },
      async cascade(table: TableSchema, cascade: Cascade) {
        try {
          await applyCascade(sink, table, cascade, literals(table));
        } catch (err) {
          throw writeError(err, `applying the source's ${cascade.kind === 'delete' ? 'ON DELETE CASCADE' : 'referential action'} of ${table.name}.${cascade.foreignKey}`);
        }
      },
      async truncate(table: TableSchema) {
        // DELETE, not TRUNCATE: TRUNCATE commits implicitly and would split data from checkpoint.
        try {
          await sink.query(`DELETE FROM ${quoteTable(table.name)}`);
        } catch (err) {
          throw writeError(err, `emptying ${table.name} (TRUNCATE on the source)`);
        }
      },
      async commit(cp: StreamCheckpoint | null) {
        let step = 'applying changes and the checkpoint';
        try {
          if (cp) await checkpoint.saveStream(sink, syncId, cp);
          await sink.flush();
          step = 'committing a batch';
          if (!cp && lock) await checkpoint.lockStreamRow(conn, syncId);
          await lock?.verify(conn);
          await conn.commit();
        } catch (err) {
          sink.discard();
          await conn.rollback().catch(() => undefined);
          throw writeError(err, step);
        } finally {
          end();
        }
      },
      async rollback() {
        sink.discard();
        try {
          await conn.rollback();
        } finally {
          end();
        }
      },
    };
  }

  /**
   * Nothing: InnoDB recalculates a table's persistent statistics by itself once a tenth of its
   * rows changed (innodb_stats_auto_recalc), which a bulk load does.
   */
  async tableCopied(_table: TableSchema): Promise<void> {}

  /**
   * Adds the missing keys of each table with one ALTER TABLE (ddl.ts foreignKeySql) on the control
   * connection, whose foreign_key_checks=0 (connection.ts SESSION_SQL) makes InnoDB add them without
   * checking the rows: the stream may still be bringing rows the source had consistent. Existing keys are found by name in
   * information_schema (names are unique per database), so a resumed run adds only what is missing.
   */
  async createForeignKeys(tables: readonly TableSchema[]): Promise<string[]> {
    const [rows] = await this.c.query<RowDataPacket[]>(
      'SELECT TABLE_NAME AS t, CONSTRAINT_NAME AS n FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()',
    );
    const have = new Set(rows.map((r) => `${String(r.t)}.${String(r.n)}`));
    const created: string[] = [];
    for (const t of tables) {
      const missing = (t.foreignKeys ?? []).filter((fk) => !have.has(`${t.name}.${fk.name}`));
      if (missing.length === 0) continue;
      await this.syncLock?.check();
      // The stream writes meanwhile: the table's rebuild (ALGORITHM=COPY) may deadlock with a batch,
      // which goes on; the ALTER is tried again, a bounded number of times with backoff.
      for (let attempt = 1; ; attempt++) {
        // Coordinator mode: the ALTER commits on its own, so the fence is compared right before it.
        await this.epochFence?.verify(this.c);
        try {
          await this.c.query(foreignKeySql(t.name, missing));
          break;
        } catch (err) {
          const e = err as { code?: string; errno?: number; message?: string };
          const deadlock = e.code === 'ER_LOCK_DEADLOCK' || e.code === 'ER_LOCK_WAIT_TIMEOUT' || /deadlock/i.test(e.message ?? '');
          if (deadlock && attempt < 5) {
            await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
            continue;
          }
          throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `target ${describeDsn(this.opts.dsn)}: creating foreign keys ${missing.map((fk) => fk.name).join(', ')} of ${t.name} failed: ${(err as Error).message}; fix the target's tables, or pass --foreign-keys skip`, { cause: err });
        }
      }
      created.push(...missing.map((fk) => `${t.name}.${fk.name}`));
    }
    return created;
  }

  async describe(table: string): Promise<TableSchema | null> {
    if (this.missing) return null;
    try {
      const { namespace, table: own } = splitName(table);
      const described = await describeTable(this.c, namespace ?? this.opts.dsn.database, own);
      return namespace === undefined ? described : { ...described, name: table };
    } catch (err) {
      if (err instanceof TributaryError && err.code === ErrorCode.TABLE_UNSUPPORTED) return null;
      throw err;
    }
  }

  readChunk(table: TableSchema, range: KeyRange): Promise<Row[]> {
    return this.readBack.readChunk(table, range);
  }

  chunkDigest(table: TableSchema, range: KeyRange, forms?: readonly ComparableForm[]): Promise<ChunkDigest | undefined> {
    return this.readBack.chunkDigest(table, range, forms);
  }

  readRowsByKeys(table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]> {
    return this.readBack.readRowsByKeys(table, keys);
  }

  readKeys(table: TableSchema, after: readonly Value[] | null, limit: number): Promise<Value[][]> {
    return this.readBack.readKeys(table, after, limit);
  }

  scanRows(table: TableSchema, onRows: (rows: Row[]) => void | Promise<void>): Promise<void> {
    return this.readBack.scanRows(table, onRows);
  }

  /** Writes need no per-table state here (tables from another engine are mapped on first use): checks the tables exist. */
  async prepareWrites(tables: readonly TableSchema[]): Promise<void> {
    for (const t of tables) {
      if (!(await this.describe(t.name))) {
        throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `target ${describeDsn(this.opts.dsn)}: table ${t.name} does not exist; run tributary sync to create and copy it`);
      }
      this.mappingFor(t);
    }
  }

  async countRows(table: TableSchema): Promise<number> {
    const [rows] = await this.c.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${quoteTable(table.name)}`);
    return Number(rows[0]?.n ?? 0);
  }

  async saveStreamCheckpoint(cp: StreamCheckpoint): Promise<void> {
    await this.controlTransaction(() => checkpoint.saveStream(this.c, this.opts.syncId, cp));
  }
  async saveSchemas(tables: readonly TableSchema[]): Promise<void> {
    await this.controlTransaction(() => checkpoint.saveSchemas(this.c, this.opts.syncId, tables));
  }

  /**
   * Applies a schema change, DDL first, checkpoint after (MySQL DDL commits on its own), so that a
   * replay after a crash between the two is a no-op:
   * 1. renders every statement (ddl.ts schemaChangeSql), so a refusal comes before anything runs;
   * 2. reads the tables it names from the target and leaves out what is already in effect
   *    (replay.ts operationsInEffect); before a RENAME TABLE it records the tables' InnoDB ids in
   *    the pending row (checkpoint/rows.ts PENDING_DDL_ROW), by which a replay tells a swap that ran
   *    from one that did not;
   * 3. runs the statements, each after verifying the sync's lock;
   * 4. in one transaction: the stream checkpoint and the versioned schema rows (schemaChangeRows);
   *    the pending row stays until the next RENAME TABLE replaces it, so applying the same change
   *    again finds the swap done;
   * 5. forgets the write plans and type maps of the tables it touched (built again on first use).
   */
  /** The server converts the rows of an altered table itself: nothing to copy again. */
  recopyAfter(_change: SchemaChange): readonly string[] {
    return [];
  }

  async applySchemaChange(change: SchemaChange, cp: StreamCheckpoint): Promise<void> {
    const opts = this.mapOptions;
    const syncId = this.opts.syncId;
    schemaChangeSql(change, opts);
    await this.syncLock?.check();
    const groups = schemaChangeGroups(change);
    const state = await this.inspect(changeTables(change));
    const stored = parsePendingDdl(await checkpoint.loadPendingDdl(this.c, syncId));
    const pending = stored?.position === cp.position && stored.statement === change.statement ? stored : undefined;
    const skip = operationsInEffect(change, groups, state, pending);
    const renamed = renamedTables(change, groups);
    if (renamed.length && !pending) {
      const tables = Object.fromEntries(renamed.map((n) => [n, identity(state, n)]));
      await this.controlTransaction(() => checkpoint.savePendingDdl(this.c, syncId, pendingDdlBody({ position: cp.position, statement: change.statement, tables })));
    }
    const statements = schemaChangeSql(change, opts, skip);
    try {
      for (const sql of statements) {
        await this.syncLock?.verify(this.c);
        try {
          await this.c.query(sql);
        } catch (err) {
          throw writeError(err, `applying schema change "${change.statement.slice(0, 200)}" (statement ${sql.slice(0, 300)})`);
        }
      }
      await this.controlTransaction(async () => {
        // The change applied again after its checkpoint committed: its row moves ran then (a swap's
        // would swap back).
        const done = (await checkpoint.lockedStreamPosition(this.c, syncId)) === cp.position;
        await checkpoint.saveStream(this.c, syncId, cp);
        if (!done) await checkpoint.applySchemaRows(this.c, syncId, schemaChangeRows(change));
      });
    } finally {
      // Whatever ran of the DDL (all of it, or part before a failure): the tables' plans are stale.
      for (const name of [...changeTables(change), ...definedTables(change)]) {
        this.plans.delete(name);
        this.mappings.delete(name);
      }
    }
    this.opts.logger.info({ statement: change.statement.slice(0, 200), statements: statements.length, inEffect: skip.size, position: cp.position }, 'schema change applied');
  }
}

function writeError(err: unknown, what: string): TributaryError {
  if (err instanceof TributaryError) return err;
  const e = err as { code?: string; message?: string };
  // Connection-class failures and lock conflicts: the run restarts from the checkpoint.
  const transient = [
    'ER_LOCK_DEADLOCK',
    'ER_LOCK_WAIT_TIMEOUT',
    'ECONNRESET',
    'ECONNREFUSED',
    'ETIMEDOUT',
    'EPIPE',
    'PROTOCOL_CONNECTION_LOST',
    'ER_CONNECTION_KILLED',
    'ER_SERVER_SHUTDOWN',
    'ER_QUERY_INTERRUPTED',
  ].includes(e.code ?? '');
  return new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `target write failed while ${what}: ${e.message ?? String(err)}`, { cause: err, fatal: !transient });
}
