import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { Logger } from 'pino';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import type { StreamEvent } from '../../core/change.js';
import { AbortedError, ErrorCode, TributaryError } from '../../core/errors.js';
import { streamedChunk, type ChunkRead } from '../../core/encoded.js';
import { PG_COPY_BINARY, PG_COPY_TEXT } from '../../core/formats.js';
import type { ComparableForm } from '../../core/comparable.js';
import { isKeyless, type TableSchema } from '../../core/schema.js';
import type { ChangeSource, ChunkDigest, ColumnValueStats, DatabaseDefaults, EncodedChunk, KeyRange, SourceCapabilities, SourceIdentity } from '../../core/source.js';
import type { CopyOrder } from '../../core/snapshot.js';
import type { Row, Value } from '../../core/values.js';
import { selectDatabases, selectTables, tableSelected } from '../../config/tables.js';
import { chunkSql, copyChunkSql, filtered, rangeWhere, type ChunkSql } from './chunks.js';
import { comparableDigestRange, digestRange } from './digest.js';
import { connectError, openClient, openPool } from './connection.js';
import { quoteIdent } from './sql.js';
import * as positions from './position.js';
import { assertRequirements, sourceRequirements, type Requirement } from './check.js';
import { describeRelationColumns, describeTable, listTables, scanPostgresData, tableStats, type ColumnType, type DescribedTable } from './schema.js';
import { inPlace, movedRelation, recordOf, relationPlaces, RelationChangedError, sameColumns, type RelationRecord } from './relations.js';
import { SchemaScope } from './scope.js';
import { addToPublication, publishesRelations, checkSlot, createSlotWithSnapshot, deriveName, dropSlot, ensurePublication, publicationState, recordRelations, setting, slotInfo, slotLostError, type ExportedSlot } from './slot.js';
import { streamPgoutput, type AckState, type CatalogueTable } from './stream.js';
import { ddlTriggerRequirement, ensureDdlTrigger, triggerColumns, type TriggerColumn } from './ddl-trigger.js';
import type { TextCodec } from './values.js';
import { describeTypeRefs } from './user-types.js';
import { awaitVisible } from './visibility.js';
import * as read from './read.js';

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
  /**
   * --databases: names or globs of the schemas of the URL's database to sync, resolved at
   * connect(); their tables are then named `schema.table` (scope.ts, core/names.ts). Not with `namespace`
   * nor the URL's `?schema=`.
   */
  readonly databases?: readonly string[] | undefined;
  /** The DDL event trigger (ddl-trigger.ts): install it when the role may and read its messages (default), or not. */
  readonly ddlTrigger?: 'install' | 'off' | undefined;
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
  /** Everything: a replication slot retains WAL until acknowledged, and numeric NaN or infinite dates need a scan. */
  readonly capabilities: SourceCapabilities = {
    encodedFormats: [PG_COPY_BINARY, PG_COPY_TEXT],
    chunkDigest: true,
    checksumReads: true,
    reportsHead: true,
    retainsLog: true,
    stopWrites: true,
    valueStats: true,
    schemaChanges: true,
    logsCascades: true,
    rowFilters: true,
    lineagePositions: false,
  };
  readonly slot: string;
  readonly publication: string;
  private readonly opts: PostgresSourceOptions;
  /** The synced schemas: the one of a sync of one, or those --databases selected at connect(). */
  private scoped: SchemaScope | undefined;
  private conn: pg.Client | undefined;
  private pool: pg.Pool | undefined;
  private versionText = '';
  // Per table definition (not per name: a schema change gives a table a new definition object).
  private readonly sql = new WeakMap<TableSchema, ChunkSql>();
  /** Per table definition: whether every column is of a built-in type, so its binary COPY form is portable. */
  private readonly builtinTypes = new WeakMap<TableSchema, Promise<boolean>>();
  private readonly described = new Map<string, DescribedTable>();
  private exported: ExportedSlot | undefined;
  private snapshotReleased: Promise<void> = Promise.resolve();
  private resolveReleased: (() => void) | undefined;
  private readonly ack: AckState = { acked: 0n };

  constructor(opts: PostgresSourceOptions) {
    this.opts = opts;
    this.slot = opts.slot ?? deriveName(opts.syncId);
    this.publication = opts.publication ?? deriveName(opts.syncId);
    if (opts.databases?.length) {
      const schema = opts.namespace ?? opts.dsn.params.schema;
      if (schema !== undefined) {
        throw new TributaryError(
          ErrorCode.CONFIG_INVALID,
          `source ${describeDsn(opts.dsn)} names schema '${schema}' and --databases ${opts.databases.join(',')} is given: on a PostgreSQL source --databases selects the schemas to sync; drop ?schema= from the URL, or drop --databases`,
        );
      }
      if (!opts.dsn.database) {
        throw new TributaryError(
          ErrorCode.CONFIG_INVALID,
          `source ${describeDsn(opts.dsn)} names no database, and --databases ${opts.databases.join(',')} selects schemas of the URL's database on a PostgreSQL source; name the database in the URL (postgres://user@host:5432/DB)`,
        );
      }
    } else this.scoped = SchemaScope.one(opts.namespace ?? opts.dsn.params.schema ?? 'public');
  }

  /** The synced schemas and how their tables are named (scope.ts). */
  private get scope(): SchemaScope {
    if (!this.scoped) throw new TributaryError(ErrorCode.INTERNAL, 'PostgresSource used before connect()');
    return this.scoped;
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
    if (this.opts.databases?.length) this.scoped = SchemaScope.several(await this.selectSchemas(this.conn, this.opts.databases));
  }

  /**
   * The schemas of the URL's database that --databases takes (PostgreSQL's own, `pg_*` and
   * `information_schema`, are never listed). One whose name holds a '.' is refused by name: the '.'
   * ends the schema's part of a synced name (core/names.ts).
   */
  private async selectSchemas(conn: pg.Client, patterns: readonly string[]): Promise<string[]> {
    const r = await conn.query<{ name: string }>(
      `SELECT nspname AS name FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY nspname COLLATE "C"`,
    );
    const chosen = selectDatabases(r.rows.map((x) => x.name), patterns, `source ${describeDsn(this.opts.dsn)}`, 'schema');
    const dotted = chosen.filter((d) => d.includes('.'));
    if (dotted.length) {
      throw new TributaryError(
        ErrorCode.CONFIG_INVALID,
        `source schema${dotted.length > 1 ? 's' : ''} ${dotted.map((d) => `'${d}'`).join(', ')} selected by --databases hold${dotted.length > 1 ? '' : 's'} a '.', which a sync of several schemas uses between schema and table (schema.table); rename ${dotted.length > 1 ? 'them' : 'it'}, or leave ${dotted.length > 1 ? 'them' : 'it'} out of --databases`,
      );
    }
    return chosen;
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
    return selectTables(await this.listTables(), this.opts.tables ?? [], this.selectionName());
  }

  /** What selectTables names as the source database: the URL's, or the synced schemas. */
  private selectionName(): string {
    return this.scope.bare === undefined ? this.scope.schemas.join(', ') : this.opts.dsn.database;
  }

  /** Every requirement with its value and fix (for `tributary check`). */
  async requirements(): Promise<Requirement[]> {
    return this.requirementsOf(await this.describeSynced());
  }

  check(): Promise<Requirement[]> {
    return this.requirements();
  }

  /** Undefined: a PostgreSQL encoding and locale have no MySQL names, so a target chooses its own. */
  async databaseDefaults(): Promise<DatabaseDefaults | undefined> {
    return undefined;
  }

  private async describeSynced(): Promise<DescribedTable[]> {
    const tables: DescribedTable[] = [];
    for (const t of await this.syncedTables()) tables.push(await describeTable(this.c, this.scope, t));
    return tables;
  }

  private async requirementsOf(tables: readonly DescribedTable[]): Promise<Requirement[]> {
    const reqs = await sourceRequirements(this.c, {
      user: this.opts.dsn.user,
      slot: this.slot,
      publication: this.publication,
      scope: this.scope,
      syncId: this.opts.syncId,
      tables,
    });
    reqs.push(await ddlTriggerRequirement(this.c, this.opts.ddlTrigger ?? 'install'));
    return reqs;
  }

  /** Throws for the failing errors of check(); logs its warnings (WAL retention, partitioned tables). */
  async preflight(): Promise<void> {
    const reqs = await this.requirements();
    assertRequirements(reqs, this.where);
    for (const r of reqs) {
      if (!r.ok && r.severity === 'warning') this.opts.logger.warn({ slot: this.slot, requirement: r.name, value: r.value }, `${r.name} is ${r.value}: ${r.fix}`);
      else if (r.name === 'max_slot_wal_keep_size') this.opts.logger.info({ slot: this.slot, max_slot_wal_keep_size: r.value }, `max_slot_wal_keep_size is ${r.value}: ${r.fix}`);
    }
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

  /**
   * The schema's base tables; under --databases, every selected schema's, as `schema.table`. In a
   * sync of one schema a table whose own name holds a '.' is left out, with a warning: a target
   * reads a '.' in a synced name as the end of a schema's or database's name (core/names.ts); under
   * --databases the name is qualified and split at its first '.', so such a table is synced.
   */
  async listTables(): Promise<string[]> {
    const scope = this.scope;
    const out: string[] = [];
    for (const schema of scope.schemas) {
      for (const relname of await listTables(this.c, schema)) {
        if (!scope.syncable(relname)) {
          this.opts.logger.warn({ schema, table: relname }, `table ${schema}."${relname}" is not synced: its name holds a '.', which tributary reads as the end of a schema's name; rename it to sync it`);
          continue;
        }
        const name = scope.nameOf(schema, relname);
        if (name !== undefined) out.push(name);
      }
    }
    return out;
  }

  /** Under --databases the selected schemas (tables or not); [] in a sync of one schema. */
  async listNamespaces(): Promise<string[]> {
    return this.scope.bare === undefined ? [...this.scope.schemas] : [];
  }

  async describe(table: string): Promise<TableSchema> {
    const d = await describeTable(this.c, this.scope, table);
    this.described.set(table, d);
    return d.schema;
  }

  tableStats(table: string): Promise<{ rows: number; avgRowBytes: number }> {
    return tableStats(this.c, this.scope, table);
  }

  /** NaN, infinities, digits and out-of-range dates per column: one scan of the table. */
  valueStats(table: TableSchema): Promise<ColumnValueStats[]> {
    return scanPostgresData(async (sql) => (await this.c.query<Record<string, unknown>>(sql)).rows, table, this.scope.placeOf(table.name).schema);
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
  /**
   * `ALTER SYSTEM SET default_transaction_read_only = on` and a configuration reload (needs
   * superuser): every new transaction of every session is read-only, unless a session set its own
   * value. Waits until a new session sees it. restore() resets the setting when it was off.
   */
  async stopWrites(): Promise<{ description: string; restore(): Promise<void> }> {
    const r = await this.c.query<{ v: string }>("SELECT current_setting('default_transaction_read_only') AS v");
    const before = r.rows[0]?.v ?? 'off';
    try {
      await this.c.query('ALTER SYSTEM SET default_transaction_read_only = on');
      await this.c.query('SELECT pg_reload_conf()');
    } catch (err) {
      throw new TributaryError(
        ErrorCode.PRIVILEGE_MISSING,
        `source ${describeDsn(this.opts.dsn)}: cannot set default_transaction_read_only for the cutover (${(err as Error).message}); run the move as a superuser, or stop writes yourself with --cutover-command`,
        { cause: err },
      );
    }
    // The reload reaches the other backends asynchronously: wait until a fresh session has it.
    for (let i = 0; i < 50; i++) {
      const probe = await openClient(this.opts.dsn, 'source');
      try {
        const v = await probe.query<{ v: string }>("SELECT current_setting('default_transaction_read_only') AS v");
        if (v.rows[0]?.v === 'on') break;
      } finally {
        await probe.end().catch(() => undefined);
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    return {
      description: `default_transaction_read_only=on on ${describeDsn(this.opts.dsn)} (was ${before})`,
      restore: async () => {
        if (before === 'on') return;
        await this.c.query('ALTER SYSTEM RESET default_transaction_read_only');
        await this.c.query('SELECT pg_reload_conf()');
      },
    };
  }

  /** The WAL insert position, as a position of this sync's slot. */
  async headPosition(): Promise<string> {
    const r = await this.c.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    return positions.encodePosition({ slot: this.slot, lsn: positions.parseLsn(r.rows[0]?.lsn ?? '0/0') });
  }

  /** WAL the slot keeps on the server: from its restart_lsn to the current WAL position. */
  async retainedBytes(): Promise<number | undefined> {
    const r = await this.c.query<{ bytes: string | null }>(
      'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS bytes FROM pg_replication_slots WHERE slot_name = $1',
      [this.slot],
    );
    const bytes = r.rows[0]?.bytes;
    return bytes === undefined || bytes === null ? undefined : Number(bytes);
  }

  async currentPosition(opts: { readonly wholeTables?: readonly string[] } = {}): Promise<string> {
    // A fresh start follows every table as it is now.
    const whole = opts.wholeTables ?? [];
    const current = await this.describedSynced();
    const record = new Map([...current].map(([n, d]) => [n, recordOf(d)] as const));
    await ensurePublication(this.c, this.publication, this.scope, [...current.keys()], this.opts.syncId, this.opts.logger, record);
    await this.ensureTrigger();
    const existing = await slotInfo(this.c, this.slot);
    if (existing && this.opts.slot !== undefined) {
      if (whole.length) {
        throw new TributaryError(
          ErrorCode.TABLE_UNSUPPORTED,
          `table${whole.length > 1 ? 's' : ''} ${whole.join(', ')} ha${whole.length > 1 ? 've' : 's'} no primary key nor unique NOT NULL key: such a table is copied whole at the stream's start, which needs the snapshot of a slot created now, but the configured slot ${this.slot} exists already; drop the slot (or name a new one), add a key, or leave ${whole.length > 1 ? 'them' : 'it'} out with --tables`,
        );
      }
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

  async checkPosition(position: string, opts: { readonly readOnly?: boolean } = {}): Promise<void> {
    const p = positions.decodePosition(position);
    if (p.slot !== this.slot) {
      throw new TributaryError(ErrorCode.SOURCE_CHANGED, `the checkpoint streams from replication slot ${p.slot}, but this sync is configured with slot ${this.slot}; configure slot: ${p.slot}, or start over with --force`);
    }
    await checkSlot(this.c, this.slot, p.lsn, this.opts.dsn.database);
    const current = await this.describedSynced();
    const record = await this.followedRelations(current, position);
    // check and dry runs create nothing; the preflight's publication line says whether this may.
    if (opts.readOnly) return;
    // The table set may have changed since the checkpoint: the publication must cover it before
    // any new table is copied.
    await ensurePublication(this.c, this.publication, this.scope, [...current.keys()], this.opts.syncId, this.opts.logger, record);
    await this.ensureTrigger();
  }

  /** Whether the stream reads the DDL event trigger's messages: set when the sync starts (currentPosition, checkPosition). */
  private triggerOn = false;

  private async ensureTrigger(): Promise<void> {
    this.triggerOn = (this.opts.ddlTrigger ?? 'install') === 'install' && (await ensureDdlTrigger(this.c, this.opts.logger));
  }

  /** The synced tables as described (this run's descriptions, else the catalogue's now). */
  private async describedSynced(): Promise<Map<string, DescribedTable>> {
    const out = new Map<string, DescribedTable>();
    for (const n of await this.syncedTables()) out.set(n, this.described.get(n) ?? (await describeTable(this.c, this.scope, n)));
    return out;
  }

  /**
   * On resume: compares the relations the owned publication recorded (relations.ts) with the
   * synced tables now. A recorded table whose relation was renamed, moved, dropped or replaced
   * throws RelationChangedError, unless --tables leaves it out now. A table whose columns changed
   * is followed by stream(), which compares the definition it streams with (the versioned schema
   * at the checkpoint) to the catalogue's. Returns what to record now: the recorded columns for
   * those (until the stream went on past their 'ddl'), the current relation for the others.
   */
  private async followedRelations(current: ReadonlyMap<string, DescribedTable>, position: string): Promise<Map<string, RelationRecord>> {
    const state = await publicationState(this.c, this.publication, this.scope, this.opts.syncId);
    const record = new Map<string, RelationRecord>();
    const recorded = state.owned ? state.recorded : undefined;
    if (recorded?.size) {
      const { byOid } = await relationPlaces(this.c, this.scope, [...recorded.values()].map((r) => r.oid), []);
      const patterns = this.opts.tables ?? [];
      const all = await this.listTables();
      for (const [name, rec] of recorded) {
        const cur = current.get(name);
        const now = byOid.get(rec.oid);
        const selected = cur !== undefined || selectTables([...all, name], patterns, this.selectionName()).includes(name);
        if (selected && (!inPlace(this.scope, now, name) || cur?.oid !== rec.oid)) {
          throw new RelationChangedError({
            namespace: this.scope.placeOf(name).schema,
            table: name,
            oid: rec.oid,
            now,
            replacedBy: cur && cur.oid !== rec.oid ? cur.oid : undefined,
            seen: 'in the catalogue when the sync started: it happened while the sync was stopped, or after the position the stream stopped at',
            position: `nothing after the checkpoint (${positions.describePosition(position)}) is applied`,
          });
        }
      }
    }
    for (const [name, d] of current) {
      const before = recorded?.get(name);
      const now = recordOf(d);
      if (before && before.oid === now.oid && !sameColumns(before, now)) {
        record.set(name, before);
      } else record.set(name, now);
    }
    return record;
  }

  /**
   * The stream went on past a 'ddl' of `table`: the target has the table's definition as the
   * source has it now (the runner described it again to judge that), so the owned publication
   * records the table's columns as they are now (`seen`, the 'ddl' event's own, when not described),
   * under its new name when the event renamed it from `renamedFrom`, and no more when it dropped it
   * (`seen` undefined).
   */
  private async ddlPassed(table: string, seen: RelationRecord | undefined, renamedFrom?: string): Promise<void> {
    if (renamedFrom !== undefined) {
      const d = this.described.get(renamedFrom);
      this.described.delete(renamedFrom);
      if (d) this.described.set(table, { ...d, schema: { ...d.schema, name: table } });
    }
    if (!seen) this.described.delete(table);
    const state = await publicationState(this.p, this.publication, this.scope, this.opts.syncId);
    if (!state.owned || !state.recorded) return;
    const record = new Map(state.recorded);
    if (renamedFrom !== undefined) record.delete(renamedFrom);
    if (!seen) {
      record.delete(table);
      await recordRelations(this.p, this.publication, this.opts.syncId, record, state.comment);
      return;
    }
    const d = this.described.get(table);
    record.set(table, d && d.oid === seen.oid ? recordOf(d) : seen);
    await recordRelations(this.p, this.publication, this.opts.syncId, record, state.comment);
  }

  /**
   * A table entering the selection while streaming (stream.ts adopt): into the publication first,
   * then described, so the catalogue read is at or after the point from which its changes stream.
   */
  private async adoptTable(name: string): Promise<{ schema: TableSchema; types: readonly ColumnType[]; oid: number } | { unsupported: string } | { ignore: true }> {
    const describe = async (): Promise<DescribedTable | { unsupported: string }> => {
      try {
        return await describeTable(this.p, this.scope, name);
      } catch (err) {
        if (err instanceof TributaryError) return { unsupported: err.message };
        throw err;
      }
    };
    // The stream may deliver the statement's transaction before its commit is visible to other
    // sessions (decoding follows the WAL's commit record; visibility comes a moment later): a table
    // not found yet is looked for again, for up to about two seconds.
    let first = await describe();
    for (let i = 0; i < 20 && 'unsupported' in first; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      first = await describe();
    }
    // A partition (its rows come through its partitioned table) or tributary's own table is none
    // the selection takes.
    if (!('unsupported' in first) && !(await this.listTables()).includes(name)) return { ignore: true };
    // Refused before it joins the publication: a published table without a replica identity
    // refuses its UPDATEs and DELETEs on the source.

    if ('unsupported' in first) return first;
    if (isKeyless(first.schema)) return { unsupported: `it has no primary key nor unique NOT NULL key, and such a table is copied whole only at a sync's start: restart the sync to copy it` };
    const refused = await addToPublication(this.p, this.publication, this.scope, name, this.opts.syncId);
    if (refused !== undefined) return { unsupported: refused };
    const d = await describe();
    if ('unsupported' in d) return d;
    this.described.set(name, d);
    this.opts.logger.info({ table: name }, 'table entering the selection while streaming: added to the publication and described from the source catalogue; its rows are copied while the stream runs');
    return { schema: d.schema, types: d.types, oid: d.oid };
  }

  /** A synced table's columns in the catalogue now, as a Relation message would name them and describeRelationColumns describes them. */
  private async describeNow(table: string): Promise<CatalogueTable | undefined> {
    let d: DescribedTable;
    try {
      d = await describeTable(this.p, this.scope, table);
    } catch (err) {
      if (err instanceof TributaryError && err.code === ErrorCode.TABLE_UNSUPPORTED) return undefined;
      throw err;
    }
    const relation = d.schema.columns.map((c, i) => ({ name: c.name, typeOid: d.types[i]?.oid ?? 0, typmod: d.types[i]?.typmod ?? -1 }));
    return { oid: d.oid, relation, columns: await describeRelationColumns(this.p, d.oid, relation) };
  }

  /** A RelationChangedError seen in the stream, completed with where the relations are now. */
  private async explainRelation(err: RelationChangedError): Promise<RelationChangedError> {
    try {
      const d = err.details;
      const { byOid, byName } = await relationPlaces(this.p, this.scope, [d.oid], [d.table]);
      const holder = byName.get(d.table);
      return new RelationChangedError({
        ...d,
        now: d.now ?? byOid.get(d.oid),
        replacedBy: d.replacedBy ?? (holder && holder.oid !== d.oid ? holder.oid : undefined),
      });
    } catch {
      return err;
    }
  }

  private sqlFor(table: TableSchema): ChunkSql {
    let s = this.sql.get(table);
    if (!s) this.sql.set(table, (s = chunkSql(this.scope.placeOf(table.name).schema, table)));
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
    const { client, snapshot } = await this.beginSnapshotRead();
    let ok = false;
    try {
      const r = await fn(client);
      await client.query('COMMIT');
      ok = true;
      return r;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw this.readFailed(err, snapshot);
    } finally {
      client.release(ok ? undefined : true);
    }
  }

  /** A pooled connection inside the transaction inSnapshot describes (the caller ends it). */
  private async beginSnapshotRead(): Promise<{ client: pg.PoolClient; snapshot: string | undefined }> {
    const snapshot = this.exported?.snapshot;
    let client: pg.PoolClient;
    try {
      client = await this.p.connect();
    } catch (err) {
      throw connectError(err, this.opts.dsn, 'source');
    }
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      if (snapshot) await client.query(`SET TRANSACTION SNAPSHOT '${snapshot.replace(/'/g, "''")}'`);
    } catch (err) {
      client.release(true);
      throw this.readFailed(err, snapshot);
    }
    return { client, snapshot };
  }

  /** A failed chunk read: retryable, naming the source and the snapshot. */
  private readFailed(err: unknown, snapshot: string | undefined): TributaryError {
    if (err instanceof TributaryError) return err;
    const through = snapshot ? ` through exported snapshot ${snapshot}` : '';
    return new TributaryError(ErrorCode.STREAM_FAILED, `reading ${this.where}${through} failed: ${(err as Error).message}`, { cause: err, fatal: false });
  }

  /** readChunk's rows digested by the server (digest.ts; in comparable forms when asked), in readChunk's snapshot discipline. */
  async chunkDigest(table: TableSchema, range: KeyRange, forms?: readonly ComparableForm[]): Promise<ChunkDigest | undefined> {
    const s = this.sqlFor(table);
    const digest = (db: Parameters<typeof digestRange>[0]) => (forms ? comparableDigestRange(db, s, table, range, forms) : digestRange(db, s, table, range));
    if (this.exported) return this.inSnapshot((client) => digest(client));
    return digest(this.p).catch((err: unknown) => Promise.reject(connectError(err, this.opts.dsn, 'source')));
  }

  /** By key list, in the snapshot discipline of readChunk (checksums: src/checksum). */
  async readRowsByKeys(table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]> {
    const s = this.sqlFor(table);
    if (this.exported) return this.inSnapshot((client) => read.readByKeys(client, s, table, keys));
    return read.readByKeys(this.p, s, table, keys).catch((err: unknown) => Promise.reject(connectError(err, this.opts.dsn, 'source')));
  }

  /** Every row through a cursor in a transaction of its own (checksums of tables without a key). */
  scanRows(table: TableSchema, onRows: (rows: Row[]) => void | Promise<void>): Promise<void> {
    return read.scanRows(this.p, this.sqlFor(table), onRows).catch((err: unknown) => Promise.reject(connectError(err, this.opts.dsn, 'source')));
  }

  async chunkBoundary(table: TableSchema, from: Value[] | null, size: number, order: CopyOrder = 'asc'): Promise<Value[] | null> {
    const s = this.sqlFor(table);
    // Going up: the size-th key after `from`, the chunk's last. Going down (a backward scan of the
    // primary key index): the key just below the `size` highest at or below `from`, the chunk's
    // exclusive lower bound.
    const desc = order === 'desc';
    const where = rangeWhere(table, desc ? { after: null, upTo: from } : { after: from, upTo: null });
    const rows = await this.read(`SELECT ${s.keyList} FROM ${s.from} ${where.sql} ORDER BY ${desc ? s.keyListDesc : s.keyList} LIMIT 1 OFFSET ${desc ? Math.max(1, size) : Math.max(0, size - 1)}`, where.params);
    const r = rows[0];
    if (!r) return null;
    return s.keyCodecs.map((codec, i) => codec(r[i] ?? null));
  }

  async readChunk(table: TableSchema, range: KeyRange): Promise<Row[]> {
    const s = this.sqlFor(table);
    // A table without a key is read whole (in the exported snapshot, as every chunk of a fresh copy).
    const keyless = isKeyless(table);
    const where = keyless ? { sql: '', params: [] } : rangeWhere(table, range);
    const rows = await this.read(`SELECT ${s.selectList} FROM ${s.from} ${filtered(where.sql, s)}${keyless ? '' : ` ORDER BY ${s.keyList}`}`, where.params);
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
   * The chunk as PostgreSQL's own COPY output, read by `COPY (SELECT …) TO STDOUT` in the same
   * snapshot discipline as readChunk, so a PostgreSQL → PostgreSQL copy moves bytes the server
   * printed straight into the target's COPY FROM, without decoding a value in JavaScript.
   *
   * PG_COPY_TEXT: the session settings (UTC, ISO dates, shortest exact floats, hex bytea) are
   * readChunk's, and the output functions are the ones behind readChunk's text: the values are the
   * same. PG_COPY_BINARY: each value's binary send form, exact by construction (a double's bits, a
   * timestamp's microseconds); only for a table whose columns are all built-in types, since the
   * binary form of a user type (an enum array, a record) carries its OID, which differs between
   * servers. COPY takes no parameters, so the range's key values are inlined as literals; a key
   * value with no exact literal form returns undefined (the copier then reads canonical rows).
   */
  async readChunkEncoded(table: TableSchema, range: KeyRange, format: string): Promise<EncodedChunk | undefined> {
    if (format !== PG_COPY_TEXT && format !== PG_COPY_BINARY) return undefined;
    const binary = format === PG_COPY_BINARY;
    if (binary && !(await this.onlyBuiltinTypes(table))) return undefined;
    const sql = copyChunkSql(this.sqlFor(table), table, range, binary);
    if (sql === undefined) return undefined;
    return streamedChunk(format, () => this.copyRead(sql));
  }

  /**
   * A COPY … TO STDOUT read in the snapshot discipline of inSnapshot, piece by piece as the
   * consumer pulls (the target's COPY FROM), so neither side waits for the other and no chunk is
   * held whole in memory. A consumer that stops early ends the read: the connection is dropped
   * rather than returned mid-COPY.
   */
  private copyRead(sql: string): ChunkRead {
    let rows = 0;
    const pieces = async function* (this: PostgresSource): AsyncGenerator<Buffer> {
      const { client, snapshot } = await this.beginSnapshotRead();
      let ok = false;
      try {
        const stream = client.query(copyTo(sql));
        // The iterator below reports the stream's errors; this keeps one arriving after an early
        // stop (the dropped connection) from being thrown as an unhandled 'error' event.
        stream.on('error', () => undefined);
        for await (const piece of stream) yield piece as Buffer;
        // The COPY's row count arrives in its CommandComplete, handled before the COMMIT completes.
        await client.query('COMMIT');
        rows = stream.rowCount;
        ok = true;
      } catch (err) {
        throw this.readFailed(err, snapshot);
      } finally {
        client.release(ok ? undefined : true);
      }
    };
    return { pieces: pieces.call(this), rows: () => rows };
  }

  /** Whether every column of `table` has a built-in type (an OID below FirstNormalObjectId). */
  private onlyBuiltinTypes(table: TableSchema): Promise<boolean> {
    let known = this.builtinTypes.get(table);
    if (!known) {
      const s = this.sqlFor(table);
      // The pool reads every value as text (raw type parsers): compare the count as a number.
      known = this.p
        .query<{ builtin: string | number }>(
          `SELECT count(*) AS builtin FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY($2::text[]) AND a.atttypid < 16384`,
          [s.from, table.columns.map((c) => c.name)],
        )
        .then((r) => Number(r.rows[0]?.builtin) === table.columns.length);
      // A failed lookup is not remembered: the next chunk asks again.
      known.catch(() => this.builtinTypes.delete(table));
      this.builtinTypes.set(table, known);
    }
    return known;
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

  async *stream(from: string, tables: readonly TableSchema[], signal: AbortSignal): AsyncIterable<readonly StreamEvent[]> {
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
      // Covered by OID already (the usual case: checkPosition or currentPosition made it so): names
      // are not compared, for a synced table renamed since is still published, and followed or
      // stopped on when the stream reaches its statement.
      const oids = tables.flatMap((t) => {
        const d = this.described.get(t.name);
        return d ? [d.oid] : [];
      });
      if (oids.length < tables.length || !(await publishesRelations(conn, this.publication, oids))) {
        await ensurePublication(conn, this.publication, this.scope, await this.publishedNames(conn, tables), this.opts.syncId, this.opts.logger);
      }
    } finally {
      await conn.end().catch(() => undefined);
    }
    const types = new Map<string, readonly ColumnType[]>();
    // The event trigger's column lists to compare its first message of each table with: the
    // catalogue's, where it has the definition the stream starts with.
    const triggerCols = new Map<string, readonly TriggerColumn[]>();
    for (const t of tables) {
      const d = this.described.get(t.name);
      if (!d || !sameDefinition(d.schema, t)) continue;
      types.set(t.name, d.types);
      if (this.triggerOn) {
        const cols = await triggerColumns(this.p, d.oid);
        if (cols.length === t.columns.length && cols.every((c, i) => c.name === t.columns[i]?.name)) triggerCols.set(t.name, cols);
      }
    }
    if (signal.aborted) throw new AbortedError();
    try {
      yield* this.pgoutput(p, tables, types, this.triggerOn ? triggerCols : undefined, signal);
    } catch (err) {
      if (err instanceof RelationChangedError) throw await this.explainRelation(err);
      throw await this.lostSlotError(err, p.lsn);
    }
  }

  /**
   * The names the publication covers `tables` by now: a table renamed since it was described (the
   * stream has yet to reach the statement, which it follows or stops on) is its relation's name now,
   * and one dropped or moved to another schema is left out. Publication membership is by OID, so
   * the renamed relation stays published; naming it by its old name would fail.
   */
  private async publishedNames(conn: pg.Client, tables: readonly TableSchema[]): Promise<string[]> {
    const oids = tables.flatMap((t) => {
      const d = this.described.get(t.name);
      return d ? [d.oid] : [];
    });
    const { byOid } = await relationPlaces(conn, this.scope, oids, []);
    return tables.flatMap((t) => {
      const d = this.described.get(t.name);
      if (!d) return [t.name];
      const now = byOid.get(d.oid);
      const name = now ? this.scope.nameOf(now.schema, now.name) : undefined;
      return name !== undefined ? [name] : [];
    });
  }

  private pgoutput(p: positions.SlotPosition, tables: readonly TableSchema[], types: ReadonlyMap<string, readonly ColumnType[]>, trigger: ReadonlyMap<string, readonly TriggerColumn[]> | undefined, signal: AbortSignal): AsyncGenerator<readonly StreamEvent[]> {
    // Each synced table is followed by the relation this run described under its name.
    const relations = new Map<string, number>();
    for (const t of tables) {
      const d = this.described.get(t.name);
      if (d) relations.set(t.name, d.oid);
    }
    return streamPgoutput(
      {
        dsn: this.opts.dsn,
        slot: p.slot,
        publication: this.publication,
        scope: this.scope,
        from: p.lsn,
        ...(p.step !== undefined ? { fromStep: p.step } : {}),
        tables,
        types,
        maxBufferBytes: this.opts.maxBufferBytes,
        statusIntervalMs: this.opts.statusIntervalMs ?? 10_000,
        ack: this.ack,
        readColumns: (t, key, cols) => this.readColumns(t, key, cols),
        relations,
        describeRelation: (oid, cols) => describeRelationColumns(this.p, oid, cols),
        ...(trigger ? { trigger: { columns: trigger } } : {}),
        selects: (name) => this.scope.syncable(this.scope.placeOf(name).relname) && tableSelected(name, this.opts.tables ?? []),
        adopt: (name) => this.adoptTable(name),
        describeType: async (oid) => (await describeTypeRefs(this.p, [{ oid, sql: '' }]))[0]?.user,
        visible: (xid, what) => awaitVisible(this.p, xid, this.opts.logger, signal, what),
        describeNow: (table) => this.describeNow(table),
        walFlushed: async () => positions.parseLsn((await this.p.query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn')).rows[0]?.lsn ?? '0/0'),
        onDdlPassed: (table, rec, renamedFrom) => this.ddlPassed(table, rec, renamedFrom),
        // With the event trigger, a table renamed, moved or dropped is reported in the stream at
        // its statement (and followed): the catalogue, which may be ahead of the stream, is not asked.
        ...(trigger ? {} : { checkRelations: async (position: string) => {
          const moved = await movedRelation(this.p, this.scope, relations);
          if (!moved) return undefined;
          return new RelationChangedError({
            namespace: this.scope.placeOf(moved.table).schema,
            ...moved,
            seen: 'in the catalogue while streaming',
            position: `it was noticed with the stream at ${positions.describePosition(position)}; changes made to it since never reach the stream, nothing of them is applied, and the checkpoint is at or before that position`,
          });
        } }),
        logger: this.opts.logger,
      },
      signal,
    );
  }

  /**
   * The error a broken stream ends with. A retryable failure may hide a slot the server just
   * invalidated: when a slot retains more WAL than max_slot_wal_keep_size, the checkpointer
   * terminates its walsender ('terminating connection due to administrator command', which alone
   * reads as retryable) and then marks it lost. Retrying cannot bring the changes back, so that is
   * POSITION_LOST at once, naming the slot, its wal_status and the setting. After a termination
   * the slot is looked at for up to about two seconds, while the checkpointer finishes.
   */
  private async lostSlotError(err: unknown, from: bigint): Promise<unknown> {
    if (!(err instanceof TributaryError) || err.fatal) return err;
    const conn = await openClient(this.opts.dsn, 'source').catch(() => undefined);
    if (!conn) return err;
    const terminated = (err.cause as { code?: string } | undefined)?.code === '57P01';
    const lsn = this.ack.acked > from ? this.ack.acked : from;
    try {
      for (let attempt = 0; attempt < (terminated ? 10 : 1); attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 200));
        const lost = slotLostError(this.slot, await slotInfo(conn, this.slot), await setting(conn, 'max_slot_wal_keep_size'), lsn, { streaming: true, cause: err });
        if (lost) {
          this.opts.logger.error({ slot: this.slot, lsn: positions.formatLsn(lsn) }, 'the replication slot was lost while streaming');
          return lost;
        }
      }
    } catch {
      // The source is unreachable: the retry will tell.
    } finally {
      await conn.end().catch(() => undefined);
    }
    return err;
  }

  /** Logical replication starts on a connection of its own, with no thread to start: nothing to prepare. */
  prepareStream(): void {}

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

/** Whether two definitions of a table have the same columns, in order, with the same types. */
function sameDefinition(a: TableSchema, b: TableSchema): boolean {
  return a.columns.length === b.columns.length && a.columns.every((c, i) => c.name === b.columns[i]?.name && c.columnType === b.columns[i]?.columnType);
}
