import type pg from 'pg';
import type { Logger } from 'pino';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { overriddenColumns } from '../../core/column-types.js';
import type { Change } from '../../core/change.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { SchemaChange } from '../../core/schema-change.js';
import { definedTables } from '../../core/schema-change-tables.js';
import type { ComparableForm } from '../../core/comparable.js';
import { keyedTable, type Cascade, type Column, type TableSchema } from '../../core/schema.js';
import type { Checkpoint, ChunkCommit, Fence, LockWatch, SchemaOptions, StreamCheckpoint, Target, TargetCapabilities, TargetTransaction } from '../../core/target.js';
import { notSupported, type ColumnValueStats, type DatabaseDefaults, type EncodedChunk } from '../../core/source.js';
import type { Row } from '../../core/values.js';
import { applyCascade, applyChanges } from './apply.js';
import type { Requirement } from '../../core/check.js';
import { lockRequirement, mappingRequirements, missingDatabaseRequirements, schemaRequirements, targetRequirements, userTypeRequirements } from './check.js';
import * as checkpoint from './checkpoint.js';
import { connectError, openClient, openPool } from './connection.js';
import { lockHolder, lockKey, PostgresSyncLock } from './lock.js';
import { PostgresEpochFence, type CommitGuard } from './fence.js';
import { alterUserTypeSql, binaryCopySafe, createUserTypeSql, extensionMissing, planUserTypes, userTypeState, userTypeWords, type UserTypePlan } from './user-type-ddl.js';
import { describeTypeRefs } from './user-types.js';
import { addValueStatements, cannotCreate, createEnumTypeSql, createTableSql, enumTypeMismatch, foreignKeySql, inspectMissingDatabase, planEnumTypes, planTypes, refuseForceOnSystemDatabase, schemaChangeSql, type EnumTypePlan, type MissingDatabase } from './ddl.js';
import { coordinatedRefusal, plainHolderRefusal } from '../../checkpoint/epoch.js';
import { EPOCH_ROW, schemaChangeRows } from '../../checkpoint/rows.js';
import { PG_COPY_BINARY, PG_COPY_TEXT } from '../../core/formats.js';
import { buildPlan, loadCopy, loadRows, prepareLoad, transactionEnded, type TablePlan } from './load.js';
import { qualified, quoteIdent, type TargetColumn } from './sql.js';
import { namespacesOf, splitName } from '../../core/names.js';
import { declaredKind, kindOf } from './values.js';
import { PostgresReadBack } from './read.js';
import { withLogical, type PostgresColumnType, type PostgresTypeOptions } from './types.js';
import type { ChunkDigest, KeyRange } from '../../core/source.js';
import type { Value } from '../../core/values.js';

export interface PostgresTargetOptions {
  readonly dsn: Dsn;
  readonly syncId: string;
  readonly logger: Logger;
  /** Connections for parallel chunk writes (one more is kept for the stream). */
  readonly poolSize: number;
  /** MySQL zero dates: refuse them by name (default) or write NULL. */
  readonly zeroDates?: 'error' | 'null';
  /** Target type overrides by 'table.column'. */
  readonly columnTypes?: Readonly<Record<string, string>>;
  /** --force: refused at once for a template database or a system schema, where it would drop. */
  readonly force?: boolean;
  /** Coordinator mode: how long a takeover waits for an older leadership's transaction before ending its session (fence.ts; default 2000 ms). */
  readonly fenceBreakAfterMs?: number;
}

/** SQLSTATEs and socket errors after which the same write may succeed on a retry. */
const TRANSIENT = new Set(['40001', '40P01', '55P03', '57P01', '57P02', '57P03', '53300', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED']);

/**
 * PostgreSQL as a target: COPY … FROM STDIN into a session-local table and INSERT … ON CONFLICT
 * for the copy, batched unnest() upserts and deletes for the stream, each in one transaction
 * with the checkpoint row it covers. Tables live in the URL's `?schema=` (default public).
 */
export class PostgresTarget implements Target {
  readonly engine = 'postgres';
  /** No checkValues: value stats come only from a PostgreSQL source, whose values a PostgreSQL target holds as they are. */
  readonly capabilities: TargetCapabilities = {
    atomicCheckpoint: true,
    chunkFormats: [PG_COPY_BINARY, PG_COPY_TEXT],
    chunkDigest: true,
    readBack: true,
    checkValues: false,
    plannedDdl: true,
    transactionalDdl: true,
    foreignKeys: true,
    keyRanges: true,
    namespaces: true,
    commitLimit: null,
    rowDocuments: false,
  };
  private readonly opts: PostgresTargetOptions;
  private readonly schema: string;
  private readonly zeroDates: 'error' | 'null';
  private control: pg.Client | undefined;
  private pool: pg.Pool | undefined;
  /** The database named in the URL did not exist at connect(): ensureSchema() creates it; until then nothing is read from it. */
  private missing: MissingDatabase | undefined;
  /**
   * What every commit verifies once lock() took the sync: its lock (PostgresSyncLock), or in
   * coordinator mode its leadership's fence (`epochFence`, fence.ts).
   */
  private syncLock: CommitGuard | undefined;
  /** The leadership's fence, in coordinator mode: its takeover may wait for ensureSchema (fence.ts). */
  private epochFence: PostgresEpochFence | undefined;
  private lockWatch: LockWatch = {};
  private readonly plans = new Map<string, TablePlan>();
  /** Tables a resumed sync found ahead of their stored definition (SchemaOptions.resumed): why they have no plan yet. */
  private readonly unplanned = new Map<string, TributaryError>();
  /**
   * The next plan's number, which names its session-local load and keep tables (load.ts). Never
   * reused: a plan rebuilt after a schema change gets new ones, since the sessions' tables of the
   * old plan have the table's old columns.
   */
  private nextPlan = 0;
  /** Tables whose chunks may arrive in PG_COPY_TEXT rendered by the source (see acceptsEncoded). */
  private readonly copyTextTables = new Set<string>();
  /** Reads this target's copy of tables back, for checksums. */
  private readonly readBack: PostgresReadBack;
  /** Tables whose target columns have exactly a PostgreSQL source's types: PG_COPY_BINARY loads as well. */
  private readonly copyBinaryTables = new Set<string>();

  constructor(opts: PostgresTargetOptions) {
    this.opts = opts;
    this.schema = opts.dsn.params.schema ?? 'public';
    if (opts.force) refuseForceOnSystemDatabase(opts.dsn, this.schema);
    this.zeroDates = opts.zeroDates ?? 'error';
    this.readBack = new PostgresReadBack({
      pool: () => this.p,
      namespace: this.schema,
      describe: (name) => this.describe(name),
      zeroDates: this.zeroDates,
      where: `target ${describeDsn(this.opts.dsn)}`,
      error: (err) => connectError(err, this.opts.dsn, 'target'),
    });
  }

  private get c(): pg.Client {
    if (!this.control) throw new TributaryError(ErrorCode.INTERNAL, 'PostgresTarget used before connect()');
    return this.control;
  }
  private get p(): pg.Pool {
    if (!this.pool) throw new TributaryError(ErrorCode.INTERNAL, 'PostgresTarget used before connect()');
    return this.pool;
  }

  async connect(): Promise<void> {
    try {
      this.control = await openClient(this.opts.dsn, 'target');
    } catch (err) {
      if (!(err instanceof TributaryError) || err.code !== ErrorCode.DATABASE_MISSING) throw err;
      // The sync creates it (ensureSchema, the first write) when the role may; a maintenance
      // database tells whether it may, and runs the CREATE DATABASE.
      this.missing = await inspectMissingDatabase(this.opts.dsn);
      if (!this.missing) throw err;
      return;
    }
    this.pool = await openPool(this.opts.dsn, 'target', this.opts.poolSize + 1);
  }

  async close(): Promise<void> {
    await this.pool?.end().catch(() => undefined);
    await this.control?.end().catch(() => undefined);
    await this.missing?.admin.end().catch(() => undefined);
    // Last (ending its session releases the advisory lock): no writer of this target is left to commit.
    await this.syncLock?.release();
    this.pool = undefined;
    this.control = undefined;
    this.missing = undefined;
    this.syncLock = undefined;
    this.epochFence = undefined;
  }

  /**
   * A session-level advisory lock on a session of its own, kept alive and watched (lock.ts); then
   * waits for a previous holder's writers. While the database does not exist the lock is taken in
   * the maintenance database (advisory locks belong to a database) and moves into the new database
   * when ensureSchema() creates it. With a fence (coordinator mode) no lock: the takeover of
   * fence.ts, left to ensureSchema while the database or the checkpoint table does not exist
   * (lock() creates nothing).
   */
  async lock(watch: LockWatch = {}, fence?: Fence): Promise<void> {
    if (fence) {
      const guard = new PostgresEpochFence({
        syncId: this.opts.syncId,
        schema: this.schema,
        fence,
        where: `target ${describeDsn(this.opts.dsn)}`,
        logger: this.opts.logger,
        ...(this.opts.fenceBreakAfterMs !== undefined ? { breakAfterMs: this.opts.fenceBreakAfterMs } : {}),
        // A session of the pool ends the sessions the takeover waits for (the control session waits).
        side: async () => {
          const pool = this.pool;
          if (!pool) throw new TributaryError(ErrorCode.INTERNAL, 'PostgresTarget: no pool to end a blocking session with');
          const conn = await pool.connect();
          return { conn, done: () => conn.release() };
        },
      });
      const plain = this.missing ? undefined : await lockHolder(this.c, lockKey(this.opts.dsn.database, this.schema, this.opts.syncId));
      if (plain !== undefined) throw plainHolderRefusal({ syncId: this.opts.syncId, where: `target ${describeDsn(this.opts.dsn)}` }, `session ${plain}`);
      if (!this.missing) {
        try {
          await guard.takeOver(this.c);
        } catch (err) {
          throw writeError(err, `taking sync '${this.opts.syncId}' over for its leadership (fence)`);
        }
      }
      this.syncLock = this.epochFence = guard;
      return;
    }
    this.lockWatch = watch;
    this.syncLock = await this.takeLock(this.missing?.adminDsn ?? this.opts.dsn);
    if (this.missing) return;
    await checkpoint.waitForWriters(this.c, this.schema);
    // A sync run by standby instances has a fence record: a plain instance beside them is refused.
    const { body } = await checkpoint.lockedEpoch(this.c, this.schema, this.opts.syncId, 'share');
    const refusal = coordinatedRefusal({ syncId: this.opts.syncId, where: `target ${describeDsn(this.opts.dsn)}` }, body, `DELETE FROM ${qualified(this.schema, checkpoint.CHECKPOINT_TABLE)} WHERE sync_id = '${this.opts.syncId}' AND name = '${EPOCH_ROW}'`);
    if (refusal) {
      await this.syncLock.release();
      this.syncLock = undefined;
      throw refusal;
    }
  }

  private async takeLock(where: Dsn): Promise<PostgresSyncLock> {
    const lock = new PostgresSyncLock({
      dsn: where,
      target: this.opts.dsn,
      key: lockKey(this.opts.dsn.database, this.schema, this.opts.syncId),
      syncId: this.opts.syncId,
      logger: this.opts.logger,
    });
    await lock.acquire(this.lockWatch);
    return lock;
  }

  loadCheckpoint(): Promise<Checkpoint> {
    if (this.missing) return Promise.resolve({ stream: null, tables: new Map() });
    return checkpoint.load(this.c, this.schema, this.opts.syncId);
  }

  async clearCheckpoint(): Promise<void> {
    if (this.missing) return;
    await this.controlTransaction(() => checkpoint.clear(this.c, this.schema, this.opts.syncId));
  }

  /**
   * Runs `fn` in a transaction on the control session and commits it once the sync's lock is
   * verified inside it (`fn` must write the checkpoint table; see PostgresSyncLock.verify).
   */
  private async controlTransaction(fn: () => Promise<void>): Promise<void> {
    await this.c.query('BEGIN');
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
   * The type map's options for this target: the sync's policies, and where PostGIS is installed
   * in the target database, if it is (spatial columns become geometry there, else bytea).
   */
  private async typeOptions(): Promise<PostgresTypeOptions> {
    // A database the sync is about to create has no extension yet: spatial columns become bytea.
    if (this.missing) return { zeroDates: this.zeroDates, columnTypes: this.opts.columnTypes ?? {} };
    const r = await this.c.query<{ schema: string }>(
      "SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'postgis'",
    );
    const postgis = r.rows[0]?.schema;
    return { zeroDates: this.zeroDates, columnTypes: this.opts.columnTypes ?? {}, ...(postgis !== undefined ? { postgis } : {}) };
  }

  /**
   * Where a table of the sync's naming lives: its own schema when the name is qualified (a sync of
   * several databases, core/names.ts: one schema per source database), else the target's schema.
   */
  private place(name: string): { readonly schema: string; readonly table: string } {
    const { namespace, table } = splitName(name);
    return { schema: namespace ?? this.schema, table };
  }

  /** The target schemas of `names` beside the target's own: every schema a synced table may be in. */
  private schemasOf(names: readonly string[]): string[] {
    return [this.schema, ...namespacesOf(names).filter((n) => n !== this.schema)];
  }

  private async existingTables(names: readonly string[]): Promise<Set<string>> {
    const r = await this.c.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p')`,
      [this.schemasOf(names)],
    );
    const have = new Set(r.rows.map((x) => `${x.schema}\u0000${x.name}`));
    return new Set(names.filter((n) => {
      const p = this.place(n);
      return have.has(`${p.schema}\u0000${p.table}`);
    }));
  }

  async nonEmptyTables(tables: readonly TableSchema[]): Promise<string[]> {
    if (this.missing) return [];
    const names = await this.existingTables(tables.map((t) => t.name));
    const out: string[] = [];
    for (const t of tables) {
      if (!names.has(t.name)) continue;
      const r = await this.c.query(`SELECT 1 FROM ${qualified(this.schema, t.name)} LIMIT 1`);
      if (r.rows.length > 0) out.push(t.name);
    }
    return out;
  }

  /**
   * Privileges, free space and the type map of `tables`, and what the sync would create (the
   * database, the schema) when it does not exist; reads only, creates nothing. A PostgreSQL database
   * takes nothing from the source's defaults (`_database`): it is created in UTF8 (ddl.ts inspectMissingDatabase).
   */
  async check(tables: readonly TableSchema[], _database?: DatabaseDefaults, namespaces?: ReadonlyMap<string, DatabaseDefaults | undefined>): Promise<Requirement[]> {
    const typeOpts = await this.typeOptions();
    const own = this.missing
      ? missingDatabaseRequirements(this.opts.dsn, this.schema, this.missing)
      : [
          ...(await targetRequirements(this.c, this.schema, tables, this.opts.dsn.host)),
          // A sync of several databases: each schema it writes besides its own.
          ...(await schemaRequirements(this.c, this.namespaces(namespaces ? { recreate: false, namespaces } : undefined))),
          // Whether another instance holds the lock: only asked before this target took it (check).
          ...(this.syncLock ? [] : [await lockRequirement(this.c, lockKey(this.opts.dsn.database, this.schema, this.opts.syncId), this.opts.syncId)]),
        ];
    const mapping = mappingRequirements(tables, typeOpts, this.schema);
    if (mapping.some((r) => !r.ok)) return [...own, ...mapping];
    const types = tables.map((t) => planTypes(t, typeOpts, this.schema));
    return [...own, ...(await userTypeRequirements(this.missing ? undefined : this.c, this.schema, planUserTypes(tables, types))), ...mapping];
  }

  recreateScope(namespaces: readonly string[] = []): string {
    const own =
      this.schema === 'public'
        ? `the synced tables in schema public of database ${this.opts.dsn.database} (other tables, types and the checkpoints are kept)`
        : `schema ${this.schema} of database ${this.opts.dsn.database} (every table and type in it, the checkpoints of other syncs into it included)`;
    const others = namespaces.filter((ns) => ns !== this.schema && ns !== 'public');
    return others.length ? `${own}, and schema${others.length > 1 ? 's' : ''} ${others.join(', ')} (every table and type in ${others.length > 1 ? 'them' : 'it'})` : own;
  }

  /**
   * Creates the missing target database on the maintenance session (refused, naming the statement
   * to run, when the role may not), then connects to it and moves the sync's lock into it. A sync
   * that took the lock in the new database meanwhile wins: this one stops with ALREADY_RUNNING
   * having created nothing but the empty database.
   */
  private async createDatabase(): Promise<void> {
    const missing = this.missing;
    if (!missing) return;
    if (!missing.mayCreate) throw cannotCreate(this.opts.dsn, missing);
    await this.syncLock?.verify(missing.admin);
    try {
      await missing.admin.query(missing.sql);
      this.opts.logger.info({ database: this.opts.dsn.database, statement: missing.sql }, 'target database created');
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (e.code === '42501') throw cannotCreate(this.opts.dsn, missing);
      // 42P04: created by another sync since connect(); it is used as it is.
      if (e.code !== '42P04') {
        throw new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `target ${describeDsn(this.opts.dsn)}: ${missing.sql} failed: ${e.message ?? String(err)}`, { cause: err });
      }
    }
    this.control = await openClient(this.opts.dsn, 'target');
    this.pool = await openPool(this.opts.dsn, 'target', this.opts.poolSize + 1);
    if (this.syncLock instanceof PostgresSyncLock) {
      const old = this.syncLock;
      this.syncLock = await this.takeLock(this.opts.dsn);
      await old.release();
    }
    this.missing = undefined;
    await missing.admin.end().catch(() => undefined);
  }

  /**
   * The first write a sync makes to the target. Every table's types are mapped before anything is
   * created, so an unmappable column refuses the run with the target untouched; the DDL then runs
   * in one transaction (PostgreSQL DDL is transactional): all of it or none.
   */
  async ensureSchema(tables: readonly TableSchema[], opts: SchemaOptions): Promise<void> {
    const typeOpts = await this.typeOptions();
    const types = tables.map((t) => planTypes(t, typeOpts, this.schema));
    const enums = planEnumTypes(tables, types);
    const statements = tables.map((t, i) => createTableSql(this.schema, t, types[i] ?? []));
    await this.syncLock?.check();
    await this.createDatabase();
    const c = this.c;
    const fence = this.epochFence;
    try {
      await c.query('BEGIN');
      // Coordinator mode: the takeover, first (a newer leadership's record refuses the run before
      // --force drops anything), and again once the table is there (created now, or dropped with
      // its schema under --force): the first thing written into it.
      if (fence) await fence.takeOverIn(c);
      for (const sql of this.schemaDdl(opts.recreate, opts)) await c.query(sql);
      await checkpoint.ensureCheckpointTable(c, this.schema);
      if (fence && !(await fence.takeOverIn(c))) {
        throw new TributaryError(ErrorCode.INTERNAL, `target ${describeDsn(this.opts.dsn)}: the checkpoint table is missing right after it was created`);
      }
      for (const e of enums) await this.ensureEnumType(e);
      await this.ensureUserTypes(planUserTypes(tables, types), new Set(enums.map((e) => e.name)));
      for (let i = 0; i < tables.length; i++) {
        const t = tables[i] as TableSchema;
        // CASCADE drops the foreign keys of other tables that reference it (never the tables).
        if (opts.recreate && this.schema === 'public') await c.query(`DROP TABLE IF EXISTS ${qualified(this.schema, t.name)} CASCADE`);
        await c.query(statements[i] as string);
        await this.relaxNotNull(t, types[i] ?? []);
      }
      await this.syncLock?.verify(c);
      await c.query('COMMIT');
      fence?.confirm();
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      const e = err as { code?: string; message?: string };
      if (e.code === '42501') {
        throw new TributaryError(
          ErrorCode.PRIVILEGE_MISSING,
          `target ${describeDsn(this.opts.dsn)}: user '${this.opts.dsn.user}' may not create tables in schema ${this.schema} (${e.message}); GRANT CREATE, USAGE ON SCHEMA ${this.schema} TO ${this.opts.dsn.user}`,
          { cause: err },
        );
      }
      if (err instanceof TributaryError) throw err;
      throw new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `target ${describeDsn(this.opts.dsn)}: creating tables failed: ${e.message ?? String(err)}`, { cause: err });
    }
    this.plans.clear();
    this.unplanned.clear();
    this.copyTextTables.clear();
    this.copyBinaryTables.clear();
    // A resumed sync whose keys exist already: its stream writes bypass them from the first batch.
    await this.noteForeignKeys(tables);
    for (let i = 0; i < tables.length; i++) {
      const t = tables[i] as TableSchema;
      let columns: TargetColumn[];
      try {
        columns = await this.targetColumns(t);
      } catch (err) {
        // A schema change applied to the target by hand, which the stream meets next (SchemaOptions.resumed).
        if (!opts.resumed || !(err instanceof TributaryError) || err.code !== ErrorCode.TABLE_UNSUPPORTED) throw err;
        this.opts.logger.warn({ table: t.name, reason: err.message }, 'target table differs from its definition at the checkpoint: it is made ready for writes when the stream reaches the schema change applied to it');
        this.unplanned.set(t.name, err);
        continue;
      }
      this.plans.set(t.name, buildPlan(this.schema, t, columns, this.nextPlan++, this.zeroDates));
      this.chooseCopyFormats(t, columns, types[i] ?? []);
    }
  }

  /**
   * The schema's own statements, run first in ensureSchema's transaction: a schema named with
   * ?schema= is created when missing, and dropped first under --force (the public schema is kept:
   * --force drops only the synced tables there).
   */
  private schemaDdl(recreate: boolean, opts?: SchemaOptions): string[] {
    const out: string[] = [];
    if (this.schema !== 'public') {
      if (recreate) out.push(`DROP SCHEMA IF EXISTS ${quoteIdent(this.schema)} CASCADE`);
      out.push(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.schema)}`);
    }
    // A sync of several databases: one schema per source database (SchemaOptions.namespaces), each
    // created when missing and recreated under --force, as the target's own schema is.
    for (const ns of this.namespaces(opts)) {
      if (recreate && ns !== 'public') out.push(`DROP SCHEMA IF EXISTS ${quoteIdent(ns)} CASCADE`);
      out.push(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(ns)}`);
    }
    return out;
  }

  /**
   * The schemas other than the target's own that a sync of several databases writes: those
   * SchemaOptions.namespaces names. PostgreSQL's own schemas are refused by name: nothing of a sync
   * is written there.
   */
  private namespaces(opts?: SchemaOptions): string[] {
    // Exactly the namespaces the session named: one inferred from a table's name is never created or dropped.
    const all = new Set(opts?.namespaces?.keys() ?? []);
    all.delete(this.schema);
    for (const ns of all) {
      if (/^(pg_|information_schema$)/.test(ns)) {
        throw new TributaryError(ErrorCode.CONFIG_INVALID, `target schema '${ns}' of a sync of several databases is one of PostgreSQL's own; write it elsewhere with --database-rewrites ${ns}=NAME`);
      }
    }
    return [...all];
  }

  async plannedDdl(tables: readonly TableSchema[], opts: SchemaOptions): Promise<string[]> {
    const typeOpts = await this.typeOptions();
    const types = tables.map((t) => planTypes(t, typeOpts, this.schema));
    const out: string[] = [];
    if (this.missing) {
      if (!this.missing.mayCreate) throw cannotCreate(this.opts.dsn, this.missing);
      out.push(`-- the target database ${this.opts.dsn.database} does not exist: the sync creates it (from database ${this.missing.adminDsn.database})`, this.missing.sql);
    }
    if (opts.recreate) out.push(`-- --force drops ${this.recreateScope(opts.namespaces ? [...opts.namespaces.keys()] : [])}`);
    out.push(...this.schemaDdl(opts.recreate, opts));
    out.push(`-- the checkpoint table ${qualified(this.schema, checkpoint.CHECKPOINT_TABLE)}, if absent`);
    for (const e of planEnumTypes(tables, types)) {
      if (this.missing || (opts.recreate && this.schema !== 'public')) {
        out.push(createEnumTypeSql(this.schema, e));
        continue;
      }
      const r = await this.c.query<{ kind: string; labels: string | null }>(
        `SELECT t.typtype::text AS kind, (SELECT json_agg(l.enumlabel ORDER BY l.enumsortorder) FROM pg_enum l WHERE l.enumtypid = t.oid)::text AS labels
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1 AND t.typname = $2`,
        [this.schema, e.name],
      );
      const found = r.rows[0];
      if (!found) {
        out.push(createEnumTypeSql(this.schema, e));
        continue;
      }
      const mismatch = enumTypeMismatch(this.schema, e, found.kind === 'e' ? (JSON.parse(found.labels ?? '[]') as string[]) : null);
      if (mismatch) throw mismatch;
    }
    const enumNames = new Set(planEnumTypes(tables, types).map((e) => e.name));
    for (const u of planUserTypes(tables, types)) {
      if (u.type.kind === 'enum' && enumNames.has(u.type.name)) continue;
      const fresh = this.missing !== undefined || (opts.recreate && this.schema !== 'public');
      const state = fresh ? 'absent' : await userTypeState(this.c, this.schema, u);
      if (state === 'absent') out.push(createUserTypeSql(this.schema, u.type));
    }
    tables.forEach((t, i) => {
      if (opts.recreate && this.schema === 'public') out.push(`DROP TABLE IF EXISTS ${qualified(this.schema, t.name)}`);
      out.push(createTableSql(this.schema, t, types[i] ?? []));
    });
    return out;
  }

  /**
   * Creates a source enum type in the target schema before the tables that use it, or checks that
   * the one there has the same labels in the same order (TABLE_UNSUPPORTED naming both lists and
   * the fix otherwise). Runs inside ensureSchema's transaction. `widen` (a schema change's: the
   * source's ALTER TYPE … ADD VALUE) adds the labels the target's type lacks when it is the
   * source's with labels missing, in the source's places.
   */
  private async ensureEnumType(e: EnumTypePlan, widen = false): Promise<void> {
    // Text only: this client parses no types (connection.ts).
    const r = await this.c.query<{ kind: string; labels: string | null }>(
      `SELECT t.typtype::text AS kind, (SELECT json_agg(l.enumlabel ORDER BY l.enumsortorder) FROM pg_enum l WHERE l.enumtypid = t.oid)::text AS labels
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1 AND t.typname = $2`,
      [this.schema, e.name],
    );
    const found = r.rows[0];
    if (!found) {
      await this.c.query(createEnumTypeSql(this.schema, e));
      this.opts.logger.info({ type: e.name, labels: e.labels.length }, 'enum type created');
      return;
    }
    const labels = found.kind === 'e' ? (JSON.parse(found.labels ?? '[]') as string[]) : null;
    const additions = widen && labels ? addValueStatements(qualified(this.schema, e.name), labels, e.labels) : undefined;
    if (additions?.length) {
      for (const sql of additions) await this.c.query(sql);
      this.opts.logger.info({ type: e.name, labels: additions.length }, 'enum type widened');
      return;
    }
    const mismatch = enumTypeMismatch(this.schema, e, labels);
    if (mismatch) throw mismatch;
  }

  /**
   * The statements that bring the target's domains and composite types used by a schema change's
   * modify-column operations to the source's definition (the source changed them while streaming:
   * ALTER DOMAIN, ALTER TYPE … ADD ATTRIBUTE): nothing for a type that is the source's already, its
   * CREATE for one missing, alterUserTypeSql's statements for one that differs, and DDL_UNSUPPORTED
   * naming the type, both definitions and the fix when it cannot be altered. Enums are
   * ensureEnumType's; extension types are never altered.
   */
  private async followUserTypes(change: SchemaChange): Promise<string[]> {
    const modified = change.operations.flatMap((op) => (op.op === 'modify-column' && op.column.userType ? [{ table: op.table, column: op.column.name }] : []));
    if (modified.length === 0) return [];
    const typeOpts = await this.typeOptions();
    const tables: TableSchema[] = [];
    const types: PostgresColumnType[][] = [];
    for (const t of change.after.values()) {
      const keep = t.columns.map((c, i) => ({ c, i })).filter(({ c }) => modified.some((m) => m.table === t.name && m.column === c.name));
      if (keep.length === 0) continue;
      const planned = planTypes(t, typeOpts, this.schema);
      tables.push({ ...t, columns: keep.map(({ c }) => c) });
      types.push(keep.map(({ i }) => planned[i] as PostgresColumnType));
    }
    const out: string[] = [];
    for (const u of planUserTypes(tables, types)) {
      if (u.type.kind === 'enum' || u.type.kind === 'extension') continue;
      const r = await this.c.query<{ oid: string }>(
        'SELECT t.oid::text AS oid FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1 AND t.typname = $2',
        [this.schema, u.type.name],
      );
      const oid = r.rows[0]?.oid;
      if (oid === undefined) {
        out.push(createUserTypeSql(this.schema, u.type));
        continue;
      }
      const [ref] = await describeTypeRefs(this.c, [{ oid: Number(oid), sql: '' }]);
      const have = ref?.array ? undefined : ref?.user;
      if (have && createUserTypeSql(this.schema, have) === createUserTypeSql(this.schema, u.type)) continue;
      const alter = have ? alterUserTypeSql(this.schema, have, u.type) : undefined;
      if (alter) {
        out.push(...alter);
        continue;
      }
      throw new TributaryError(
        ErrorCode.DDL_UNSUPPORTED,
        `schema change "${change.statement.slice(0, 200)}": target type ${qualified(this.schema, u.type.name)} is ${have ? `defined as: ${createUserTypeSql(this.schema, have)}` : 'of another kind'}, and cannot be altered to the source's ${userTypeWords(u.type)} (used by ${u.columns.join(', ')}): ${createUserTypeSql(this.schema, u.type)}; alter the target's type to that definition by hand, then restart with tributary sync --skip-ddl POSITION`,
      );
    }
    return out;
  }

  /**
   * Creates the user and extension types the synced columns need (planUserTypes: dependencies
   * first), inside ensureSchema's transaction, skipping enums ensureEnumType handled: a type the
   * target schema has with the same definition is kept, one that differs is refused by name
   * (userTypeMismatch); an extension missing on the target is created (CREATE EXTENSION IF NOT
   * EXISTS) when the role may, else refused naming the extension to install.
   */
  private async ensureUserTypes(plans: readonly UserTypePlan[], done: ReadonlySet<string>): Promise<void> {
    for (const u of plans) {
      if (u.type.kind === 'enum' && done.has(u.type.name)) continue;
      if (u.type.kind === 'enum') {
        await this.ensureEnumType({ name: u.type.name, labels: u.type.labels, columns: u.columns });
        continue;
      }
      if ((await userTypeState(this.c, this.schema, u)) === 'present') continue;
      const sql = createUserTypeSql(this.schema, u.type);
      if (u.type.kind === 'extension') {
        const extension = u.type.extension;
        // A savepoint: a refused CREATE EXTENSION must not abort the transaction before it is reported.
        await this.c.query('SAVEPOINT tributary_extension');
        try {
          await this.c.query(sql);
        } catch (err) {
          await this.c.query('ROLLBACK TO SAVEPOINT tributary_extension');
          throw extensionMissing(this.opts.dsn, u, extension, (err as Error).message);
        }
        await this.c.query('RELEASE SAVEPOINT tributary_extension');
      } else {
        await this.c.query(sql);
      }
      this.opts.logger.info({ type: u.type.name, kind: u.type.kind }, 'user type created');
    }
  }

  /**
   * Which encoded chunks `t` takes: binary COPY when its columns have the source's own types
   * (sameTypes) and none carries a type oid in its binary form (an array of a user type, a
   * composite: the oids differ between servers); COPY text when the types are the same or the
   * mapped kinds render alike (mappedKinds).
   */
  private chooseCopyFormats(t: TableSchema, columns: readonly TargetColumn[], types: readonly PostgresColumnType[]): void {
    const same = this.sameTypes(t, columns);
    if (same && t.columns.every((c) => binaryCopySafe(c.userType))) this.copyBinaryTables.add(t.name);
    if (same || this.mappedKinds(t, columns, types)) this.copyTextTables.add(t.name);
  }

  /**
   * Whether a PostgreSQL source's own COPY text of `t` is the input syntax of the target's columns:
   * only when each target column has exactly the source's declared type (format_type on both
   * servers) and no --column-types override names the table. A table the user created with other
   * types, or an override (text for a jsonb, say), takes the canonical path, which checks and
   * renders every value for the column it lands in. money is left out: its text depends on each
   * server's lc_monetary.
   */
  private sameTypes(t: TableSchema, columns: readonly TargetColumn[]): boolean {
    if (t.engine !== 'postgres') return false;
    if (overriddenColumns(this.opts.columnTypes ?? {}, t.name).length > 0) return false;
    return t.columns.every((c, i) => c.dataType !== 'money' && c.dataType !== '_money' && columns[i]?.sqlType === c.columnType);
  }

  /**
   * Whether a MySQL source's COPY text of `t` (engines/mysql/load.ts pgCopySelect, rendered for the type map's
   * types without overrides) is what the canonical path would write into the target's columns:
   * only when no --column-types override names the table and each target column is of the kind
   * (and bit length) its mapped type declares, which is how pgText renders a value. A table the
   * user created with other kinds (text for a DATETIME, say) takes the canonical path.
   */
  private mappedKinds(t: TableSchema, columns: readonly TargetColumn[], types: readonly PostgresColumnType[]): boolean {
    if (t.engine === 'postgres' || types.length !== t.columns.length || types.some((x) => x.overridden)) return false;
    return types.every((x, i) => {
      const want = declaredKind(x.sql);
      return columns[i]?.kind === want.kind && columns[i]?.bits === want.bits;
    });
  }

  /** capabilities.checkValues is false: never called. */
  checkValues(_table: TableSchema, _stats: readonly ColumnValueStats[]): void {
    throw notSupported('checkValues', 'target', 'checkValues');
  }

  acceptsEncoded(table: TableSchema, format: string): boolean {
    if (format === PG_COPY_BINARY) return this.copyBinaryTables.has(table.name);
    return format === PG_COPY_TEXT && this.copyTextTables.has(table.name);
  }

  /**
   * Under zeroDates 'null' a temporal column must accept NULL. A table created by an earlier run
   * under the 'error' policy has it NOT NULL; the policy the user chose now wins.
   */
  private async relaxNotNull(t: TableSchema, types: readonly PostgresColumnType[]): Promise<void> {
    const pk = new Set(t.primaryKey);
    const relax = t.columns.filter((c, i) => types[i]?.forceNullable && !pk.has(i)).map((c) => c.name);
    if (relax.length === 0) return;
    const r = await this.c.query<{ name: string }>(
      `SELECT a.attname AS name FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnotnull AND a.attname = ANY($2::text[])`,
      [qualified(this.schema, t.name), relax],
    );
    for (const { name } of r.rows) {
      this.opts.logger.warn({ table: t.name, column: name }, 'zeroDates is null: dropping NOT NULL so zero dates can be written as NULL');
      await this.c.query(`ALTER TABLE ${qualified(this.schema, t.name)} ALTER COLUMN ${quoteIdent(name)} DROP NOT NULL`);
    }
  }

  /** The target table's own column types for each source column; a missing column or key is refused. */
  private async targetColumns(t: TableSchema): Promise<TargetColumn[]> {
    const onTarget = await this.describe(t.name);
    if (!onTarget) throw new TributaryError(ErrorCode.INTERNAL, `table ${t.name} missing on the target right after CREATE TABLE`);
    const byName = new Map(onTarget.columns.map((c) => [c.name, c]));
    const want = t.primaryKey.map((i) => (t.columns[i] as Column).name).join(', ');
    const have = onTarget.primaryKey.map((i) => (onTarget.columns[i] as Column).name).join(', ');
    if (want !== have) {
      throw new TributaryError(
        ErrorCode.TABLE_UNSUPPORTED,
        `target table ${this.schema}.${t.name} has primary key (${have}) but the source has (${want}); make them match, or recreate the table with --force`,
      );
    }
    const delimited = await this.c.query<{ name: string }>(
      `SELECT a.attname AS name FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
          AND (ty.typdelim <> ',' OR ty.typtype = 'c' OR (ty.typtype = 'd' AND EXISTS (SELECT 1 FROM pg_type b WHERE b.oid = ty.typbasetype AND b.typtype = 'c')))`,
      [qualified(this.schema, t.name)],
    );
    const castFromText = new Set(delimited.rows.map((r) => r.name));
    return t.columns.map((sc) => {
      const tc = byName.get(sc.name);
      if (!tc) {
        throw new TributaryError(
          ErrorCode.TABLE_UNSUPPORTED,
          `target table ${this.schema}.${t.name} has no column ${sc.name}; add it (ALTER TABLE … ADD COLUMN), or recreate the table with --force`,
        );
      }
      const bits = tc.dataType === 'bit' ? /^bit\((\d+)\)$/.exec(tc.columnType)?.[1] : undefined;
      // A spatial column of another engine whose values are not EWKB (MySQL's SRID + WKB): written as EWKB.
      const spatial = sc.logical?.kind === 'spatial' && sc.logical.ewkb !== true;
      return { name: sc.name, sqlType: tc.columnType, kind: kindOf(tc.dataType), ...(bits ? { bits: Number(bits) } : {}), ...(spatial ? { spatial } : {}), ...(castFromText.has(sc.name) ? { castFromText: true } : {}) };
    });
  }

  private plan(table: TableSchema): TablePlan {
    const p = this.plans.get(table.name);
    if (p) return p;
    const ahead = this.unplanned.get(table.name);
    if (ahead) {
      throw new TributaryError(
        ErrorCode.TABLE_UNSUPPORTED,
        `${ahead.message}. The table was changed on the target before the stream reached the schema change of its source, and a row of the older definition came first; undo the change on the target until the sync has passed that statement, or recreate the table with --force`,
      );
    }
    throw new TributaryError(ErrorCode.INTERNAL, `PostgresTarget: no plan for ${table.name}; ensureSchema() must run first`);
  }

  /**
   * Loads a chunk and saves the table checkpoint in one transaction, honouring the ChunkCommit
   * protocol exactly as MysqlTarget does: checkpoint() right before the checkpoint row is written,
   * then committed() after COMMIT, or failed() if the transaction did not commit.
   */
  writeChunk(table: TableSchema, rows: readonly Row[], commit: ChunkCommit): Promise<void> {
    return this.chunkTransaction(table, commit, (client, plan) => loadRows(client, plan, rows));
  }

  writeEncodedChunk(table: TableSchema, chunk: EncodedChunk, commit: ChunkCommit): Promise<void> {
    if (!this.acceptsEncoded(table, chunk.format)) {
      throw new TributaryError(
        ErrorCode.INTERNAL,
        `PostgreSQL target cannot load a chunk of ${table.name} in format ${chunk.format}: only ${PG_COPY_BINARY} or ${PG_COPY_TEXT} rendered for the target table's column types (ask acceptsEncoded() first)`,
      );
    }
    const binary = chunk.format === PG_COPY_BINARY;
    return this.chunkTransaction(table, commit, (client, plan) => loadCopy(client, plan, () => chunk.open(), binary));
  }

  private async chunkTransaction(table: TableSchema, commit: ChunkCommit, load: (client: pg.PoolClient, plan: TablePlan) => Promise<void>): Promise<void> {
    const plan = this.plan(table);
    let client: pg.PoolClient;
    try {
      client = await this.p.connect();
    } catch (err) {
      throw writeError(err, `copying a chunk of ${table.name}`);
    }
    let inSection = false;
    let broken: Error | undefined;
    try {
      await prepareLoad(client, plan);
      await client.query('BEGIN');
      await load(client, plan);
      const cp = await commit.checkpoint();
      inSection = true;
      await checkpoint.saveTable(client, this.schema, this.opts.syncId, table.name, cp);
      await this.syncLock?.verify(client);
      await client.query('COMMIT');
      inSection = false;
      commit.committed();
    } catch (err) {
      await client.query('ROLLBACK').catch((e: unknown) => (broken = e as Error));
      if (inSection) commit.failed();
      broken ??= isConnectionError(err) ? (err as Error) : undefined;
      throw writeError(err, `copying a chunk of ${table.name}`);
    } finally {
      client.release(broken);
    }
  }

  async begin(): Promise<TargetTransaction> {
    const lock = this.syncLock;
    await lock?.check();
    const client = await this.p.connect();
    try {
      await client.query('BEGIN');
      // Foreign keys on the target: the batch's writes bypass them as PostgreSQL's own logical
      // replication does (no check, no referential action), for a batch writes per table in no
      // source order, and the source's cascades arrive as rows or as cascade() (docs/sync.md).
      if (this.foreignKeysOnTarget) await client.query("SET LOCAL session_replication_role = 'replica'");
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(err as Error);
      throw this.replicaRoleError(err) ?? writeError(err, 'starting a batch');
    }
    const { schema } = this;
    const syncId = this.opts.syncId;
    const plans = (name: string) => this.plans.get(name);
    let open = true;
    // A batch without the replica role: createForeignKeys waits for it to end before adding keys.
    const plain = !this.foreignKeysOnTarget;
    if (plain) this.plainBatches++;
    const end = (err?: Error, committed = false) => {
      if (open) {
        open = false;
        if (plain) this.plainBatches--;
        transactionEnded(client, committed);
        client.release(err);
      }
    };
    return {
      async write(tables: ReadonlyMap<string, TableSchema>, changes: readonly Change[]) {
        // Rows are written by the plan of the table's definition now; rows of another definition
        // (read before a schema change) would land in the wrong columns.
        for (const [name, t] of tables) assertSamePlan(plans(name), t);
        try {
          await applyChanges(client, plans, changes);
        } catch (err) {
          throw writeError(err, 'applying changes');
        }
      },
      async cascade(table: TableSchema, cascade: Cascade) {
        const plan = plans(table.name);
        if (!plan) throw new TributaryError(ErrorCode.INTERNAL, `no write plan for ${table.name}`);
        try {
          await applyCascade(client, plan, cascade);
        } catch (err) {
          throw writeError(err, `applying the source's referential action of ${table.name}.${cascade.foreignKey}`);
        }
      },
      async truncate(table: TableSchema) {
        // DELETE, not TRUNCATE: TRUNCATE takes an ACCESS EXCLUSIVE lock that would stall chunk writes.
        try {
          await client.query(`DELETE FROM ${qualified(schema, table.name)}`);
        } catch (err) {
          throw writeError(err, `emptying ${table.name}`);
        }
      },
      async commit(cp: StreamCheckpoint | null) {
        let failure: Error | undefined;
        try {
          if (cp) await checkpoint.saveStream(client, schema, syncId, cp);
          else if (lock) await checkpoint.lockForWriter(client, schema);
          await lock?.verify(client);
          await client.query('COMMIT');
        } catch (err) {
          failure = err as Error;
          await client.query('ROLLBACK').catch(() => undefined);
          throw writeError(err, 'committing a batch');
        } finally {
          end(failure && isConnectionError(failure) ? failure : undefined, failure === undefined);
        }
      },
      async rollback() {
        try {
          await client.query('ROLLBACK');
          end();
        } catch (err) {
          end(err as Error);
        }
      },
    };
  }

  async describe(table: string): Promise<TableSchema | null> {
    if (this.missing) return null;
    const cols = await this.c.query<{
      name: string;
      udt: string;
      sql_type: string;
      nullable: string;
      generated: string;
      collation: string | null;
      precision: string | null;
      scale: string | null;
      dt_precision: string | null;
      labels: string | null;
    }>(
      `SELECT a.attname AS name, t.typname AS udt, format_type(a.atttypid, a.atttypmod) AS sql_type,
              (SELECT json_agg(l.enumlabel ORDER BY l.enumsortorder) FROM pg_enum l WHERE l.enumtypid = a.atttypid)::text AS labels,
              (NOT a.attnotnull)::text AS nullable, a.attgenerated::text AS generated, co.collname AS collation,
              ic.numeric_precision AS precision, ic.numeric_scale AS scale, ic.datetime_precision AS dt_precision
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
         LEFT JOIN information_schema.columns ic ON ic.table_schema = n.nspname AND ic.table_name = c.relname AND ic.column_name = a.attname
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum`,
      [this.place(table).schema, this.place(table).table],
    );
    if (cols.rows.length === 0) return null;
    const columns: Column[] = [];
    const generated: string[] = [];
    for (const r of cols.rows) {
      if (r.generated !== '') {
        generated.push(r.name);
        continue;
      }
      const scale = r.dt_precision ?? r.scale;
      columns.push({
        name: r.name,
        dataType: r.udt,
        columnType: r.sql_type,
        nullable: r.nullable === 'true',
        unsigned: false,
        ...(r.collation ? { collation: r.collation } : {}),
        ...(scale !== null ? { scale: Number(scale) } : {}),
        ...(r.precision !== null ? { precision: Number(r.precision) } : {}),
        // An enum's labels: what tells a source's enum changed (ALTER TYPE … RENAME VALUE) from the target's.
        ...(r.labels !== null ? { enumType: r.udt, enumLabels: JSON.parse(r.labels) as string[] } : {}),
      });
    }
    const idx = await this.c.query<{ pk: string; cols: string }>(
      `SELECT i.indisprimary::text AS pk,
              (SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(i.indkey) WITH ORDINALITY AS k(n, o)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n)::text AS cols
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
        ORDER BY i.indisprimary DESC, i.indexrelid`,
      [this.place(table).schema, this.place(table).table],
    );
    let primaryKey: number[] = [];
    const uniqueKeys: number[][] = [];
    for (const r of idx.rows) {
      const positions = (JSON.parse(r.cols) as string[]).map((n) => columns.findIndex((c) => c.name === n));
      if (r.pk === 'true') primaryKey = positions;
      else uniqueKeys.push(positions);
    }
    return keyedTable(withLogical({ name: table, columns, primaryKey, uniqueKeys, generated, engine: 'postgres' }));
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

  /**
   * The write plans ensureSchema() builds, built from the tables as they are (nothing created or
   * altered), for a writer that did not run ensureSchema() in this process (verify --repair).
   */
  /** Some synced table has a foreign key on the target: stream writes run as a replica (begin()). */
  private foreignKeysOnTarget = false;
  /** Stream batches open that began without the replica role (before foreignKeysOnTarget). */
  private plainBatches = 0;

  /** Whether any of `tables` has a foreign key on the target now. */
  private async noteForeignKeys(tables: readonly TableSchema[]): Promise<void> {
    const r = await this.c.query(
      `SELECT 1 FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE c.contype = 'f' AND (n.nspname || '.' || t.relname) = ANY($1::text[]) LIMIT 1`,
      [tables.map((t) => `${this.place(t.name).schema}.${this.place(t.name).table}`)],
    );
    if (r.rows.length) this.foreignKeysOnTarget = true;
  }

  /** PRIVILEGE_MISSING for a refused `SET session_replication_role`, else undefined. */
  private replicaRoleError(err: unknown): TributaryError | undefined {
    if ((err as { code?: string }).code !== '42501') return undefined;
    return new TributaryError(
      ErrorCode.PRIVILEGE_MISSING,
      `target ${describeDsn(this.opts.dsn)}: user '${this.opts.dsn.user}' may not set session_replication_role, which the stream needs to write tables with foreign keys in batch order; GRANT SET ON PARAMETER session_replication_role TO ${quoteIdent(this.opts.dsn.user)} (PostgreSQL 15+), use a superuser, or pass --foreign-keys skip (and drop the keys the sync created)`,
      { cause: err },
    );
  }

  /**
   * ANALYZE, on a connection of its own: a table just loaded by COPY has no planner statistics
   * until autovacuum gets to it (autovacuum_naptime, a minute by default), and meanwhile the
   * stream's `DELETE … WHERE key = ANY($1)` of a few thousand keys is planned as a scan of the
   * whole table. Measured on a 500k-row table: a scan per 4,000-key delete (50–80 ms) against an
   * index lookup after ANALYZE (8–25 ms). ANALYZE samples the table (default_statistics_target)
   * and takes a lock that conflicts with neither reads nor writes.
   */
  async tableCopied(table: TableSchema): Promise<void> {
    const client = await this.p.connect();
    try {
      await client.query(`ANALYZE ${qualified(this.schema, table.name)}`);
    } finally {
      client.release();
    }
  }

  /**
   * Adds each missing key (ddl.ts foreignKeySql: NOT VALID, so rows the stream is still completing
   * are not scanned) in one transaction, after proving the user may set session_replication_role
   * (the stream's writes need it once keys exist). Existing keys are found by name per table
   * (pg_constraint), so a resumed run adds only what is missing.
   */
  async createForeignKeys(tables: readonly TableSchema[]): Promise<string[]> {
    const wanted = tables.flatMap((t) => (t.foreignKeys ?? []).map((fk) => ({ t, fk })));
    if (wanted.length === 0) return [];
    const r = await this.c.query<{ s: string; t: string; n: string }>(
      `SELECT ns.nspname AS s, t.relname AS t, c.conname AS n FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace ns ON ns.oid = t.relnamespace
        WHERE c.contype = 'f' AND ns.nspname = ANY($1::text[])`,
      [this.schemasOf(tables.map((t) => t.name))],
    );
    const have = new Set(r.rows.map((x) => `${x.s}\u0000${x.t}\u0000${x.n}`));
    await this.syncLock?.check();
    const c = this.c;
    const missing = wanted.filter(({ t, fk }) => !have.has(`${this.place(t.name).schema}\u0000${this.place(t.name).table}\u0000${fk.name}`));
    // Batches begun from now on bypass the keys; one begun before (without the replica role) would
    // have its writes checked row by row once the keys exist, in batch order, not the source's (a
    // child before its parent): the keys are added once every such batch has ended.
    this.foreignKeysOnTarget = true;
    for (const deadline = Date.now() + 120_000; this.plainBatches > 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    // Each ADD CONSTRAINT locks its two tables (SHARE ROW EXCLUSIVE) while the stream's batches
    // write them: a deadlock with a batch is possible, and retried (the batch goes on either way).
    for (let attempt = 1; ; attempt++) {
      try {
        await c.query('BEGIN');
        await c.query("SET LOCAL session_replication_role = 'replica'");
        for (const { t, fk } of missing) await c.query(foreignKeySql(this.schema, t.name, fk));
        // Coordinator mode: compared like every other commit (the lock is checked above, as before).
        await this.epochFence?.verify(c);
        await c.query('COMMIT');
        break;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        if (err instanceof TributaryError) throw err;
        const code = (err as { code?: string }).code;
        if ((code === '40P01' || code === '40001') && attempt < 5) {
          await new Promise((r) => setTimeout(r, 200 * attempt));
          continue;
        }
        throw this.replicaRoleError(err) ?? new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `target ${describeDsn(this.opts.dsn)}: creating foreign keys failed: ${(err as Error).message}; fix the target's tables, or pass --foreign-keys skip`, { cause: err });
      }
    }
    const created = missing.map(({ t, fk }) => `${t.name}.${fk.name}`);
    this.foreignKeysOnTarget = true;
    return created;
  }

  async prepareWrites(tables: readonly TableSchema[]): Promise<void> {
    await this.noteForeignKeys(tables);
    for (const t of tables) {
      if (this.plans.has(t.name)) continue;
      if (!(await this.describe(t.name))) {
        throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `target ${describeDsn(this.opts.dsn)}: table ${this.schema}.${t.name} does not exist; run tributary sync to create and copy it`);
      }
      this.plans.set(t.name, buildPlan(this.schema, t, await this.targetColumns(t), this.nextPlan++, this.zeroDates));
    }
  }

  async countRows(table: TableSchema): Promise<number> {
    const r = await this.c.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualified(this.schema, table.name)}`);
    return Number(r.rows[0]?.n ?? 0);
  }

  async saveStreamCheckpoint(cp: StreamCheckpoint): Promise<void> {
    await this.controlTransaction(() => checkpoint.saveStream(this.c, this.schema, this.opts.syncId, cp));
  }
  async saveSchemas(tables: readonly TableSchema[]): Promise<void> {
    await this.controlTransaction(() => checkpoint.saveSchemas(this.c, this.schema, this.opts.syncId, tables));
  }

  /**
   * Renders the change (ddl.ts schemaChangeSql: every refusal before anything runs), then runs its
   * statements, the stream checkpoint and the versioned schema rows (checkpoint/rows.ts
   * schemaChangeRows) in one transaction on the control session: PostgreSQL DDL is transactional,
   * so the change and its checkpoint commit together or not at all. Then rebuilds the write plans of
   * the tables it touched from their new definitions (see replan).
   */
  /** The server converts the rows of an altered table itself: nothing to copy again. */
  recopyAfter(_change: SchemaChange): readonly string[] {
    return [];
  }

  async applySchemaChange(change: SchemaChange, cp: StreamCheckpoint): Promise<void> {
    const rendered = schemaChangeSql(change, { schema: this.schema, types: await this.typeOptions() });
    await this.syncLock?.check();
    // A foreign key from now on: the stream's batches write in their own order, as a replica
    // (begin()), which the user must be allowed; proven in the change's transaction.
    const addsKey = change.operations.some((op) => op.op === 'add-foreign-key');
    let running = '';
    try {
      await this.controlTransaction(async () => {
        if (addsKey) {
          running = "SET LOCAL session_replication_role = 'replica'";
          await this.c.query(running).catch((err: unknown) => {
            throw this.replicaRoleError(err) ?? err;
          });
        }
        for (const e of rendered.enums) await this.ensureEnumType(e, true);
        for (const sql of await this.followUserTypes(change)) {
          running = sql;
          await this.c.query(sql);
        }
        for (const sql of rendered.statements) {
          running = sql;
          await this.c.query(sql);
        }
        running = '';
        await checkpoint.saveStream(this.c, this.schema, this.opts.syncId, cp);
        await checkpoint.applySchemaRows(this.c, this.schema, this.opts.syncId, schemaChangeRows(change));
      });
    } catch (err) {
      throw writeError(err, `applying schema change "${change.statement.slice(0, 200)}"${running ? ` (statement ${running.slice(0, 300)})` : ''}; nothing of it was applied`);
    }
    if (addsKey) this.foreignKeysOnTarget = true;
    this.opts.logger.info({ statement: change.statement.slice(0, 200), statements: rendered.statements.length, position: cp.position }, 'schema change applied');
    await this.replan(change);
  }

  /**
   * Drops the write plans (and the encoded-format verdicts) of every table the change touched, and
   * builds those of the tables in `change.after` anew from the target's columns, so later writes
   * use the new definitions; a plan gets new session-local tables (nextPlan).
   */
  private async replan(change: SchemaChange): Promise<void> {
    const touched = new Set<string>(definedTables(change));
    for (const op of change.operations) {
      if (op.op === 'rename-tables') for (const p of op.pairs) touched.add(p.from).add(p.to);
      else touched.add(op.op === 'create-table' ? op.table.name : op.table);
    }
    for (const name of touched) {
      this.plans.delete(name);
      this.copyTextTables.delete(name);
      this.copyBinaryTables.delete(name);
    }
    const typeOpts = await this.typeOptions();
    for (const name of definedTables(change)) this.unplanned.delete(name);
    for (const t of change.after.values()) {
      if (!(await this.describe(t.name))) continue;
      const columns = await this.targetColumns(t);
      this.plans.set(t.name, buildPlan(this.schema, t, columns, this.nextPlan++, this.zeroDates));
      this.chooseCopyFormats(t, columns, planTypes(t, typeOpts, this.schema));
    }
  }
}

function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01', '57P02'].includes(e.code ?? '') || /^08/.test(e.code ?? '') || /Connection terminated|not queryable/i.test(e.message ?? '');
}

function writeError(err: unknown, what: string): TributaryError {
  if (err instanceof TributaryError) return err;
  const e = err as { code?: string; message?: string; detail?: string };
  const transient = TRANSIENT.has(e.code ?? '') || isConnectionError(err);
  const detail = e.detail ? ` (${e.detail})` : '';
  return new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `target write failed while ${what}: ${e.message ?? String(err)}${detail}`, { cause: err, fatal: !transient });
}

/**
 * Refuses rows of a table definition other than the one the target's plan writes (INTERNAL: the
 * caller read them before a schema change the target has applied since).
 */
function assertSamePlan(plan: TablePlan | undefined, table: TableSchema): void {
  if (!plan) return;
  const want = plan.table.columns.map((c) => c.name);
  const got = table.columns.map((c) => c.name);
  if (want.length === got.length && want.every((n, i) => n === got[i])) return;
  throw new TributaryError(
    ErrorCode.INTERNAL,
    `rows of table ${table.name} with columns ${got.join(', ')} were to be written after a schema change gave it ${want.join(', ')}; nothing was written. Restart: the sync resumes from its checkpoint`,
    { fatal: false },
  );
}

