import { selectDatabases, tableSelected } from '../../config/tables.js';
import { qualify, splitName } from '../../core/names.js';
import { shadowPatterns, ShadowTables } from './osc.js';
import { createHash } from 'node:crypto';
import type { Connection, Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { bufferedChunk } from '../../core/encoded.js';
import type { StreamEvent } from '../../core/change.js';
import type { StreamRequest } from '../../core/change-log.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { ETCD_JSON_LINES, MYSQL_TSV, PG_COPY_TEXT } from '../../core/formats.js';
import type { ComparableForm } from '../../core/comparable.js';
import { isKeyless, type TableSchema } from '../../core/schema.js';
import type { ChangeSource, ChunkDigest, ColumnValueStats, DatabaseDefaults, EncodedChunk, KeyRange, SourceCapabilities, SourceIdentity } from '../../core/source.js';
import type { CopyOrder } from '../../core/snapshot.js';
import type { Row, Value, ValueConventions } from '../../core/values.js';
import type { BinlogOptions } from './stream.js';
import { prepareBinlogThread, streamBinlogThreaded } from './stream-thread.js';
import type { PreparedThread } from '../../stream/thread.js';
import { chunkSql, filtered, rangeWhere, type ChunkSql } from './chunks.js';
import { comparableDigestRange, digestRange } from './digest.js';
import { openConnection, openPool, connectError } from './connection.js';
import { quoteId } from './sql.js';
import * as positions from './position.js';
import { assertReadable, assertRequirements, sourceRequirements, type Requirement } from './check.js';
import { databaseDefaults, describeTable, listDatabases, listTables } from './schema.js';
import { etcdJsonCarried, etcdJsonSelect } from './json.js';
import { pgCopySelect, tsvSelect } from './load.js';
import * as read from './read.js';
import { assertMariadbContains, assertMysqlContains, readMariadbGtidState } from './gtid.js';

export interface MysqlSourceOptions {
  readonly dsn: Dsn;
  readonly logger: Logger;
  /** Connections for parallel chunk reads. */
  readonly poolSize: number;
  /** server_id the binlog client registers with; must differ from every real replica's. */
  readonly serverId: number;
  readonly positionMode: 'auto' | 'gtid' | 'file';
  readonly maxBufferBytes: number;
  /** Silence on the binlog connection after which it counts as lost (see BinlogOptions.timeoutMs; default 30 s). */
  readonly binlogTimeoutMs?: number;
  /** The sync's --tables patterns (empty or absent: every table): a table created or renamed into a name they take while streaming is synced from then on. */
  readonly tables?: readonly string[];
  /** Online schema change tools' shadow names, one `*` for the real table (default: gh-ost's and pt-online-schema-change's). */
  readonly oscShadows?: readonly string[];
  /**
   * Decode the binlog in a worker thread of its own (stream-thread.ts), the default: zongji's
   * decoding then runs beside the apply instead of on its thread. False decodes on the caller's thread.
   */
  readonly decodeThread?: boolean;
  /**
   * This engine's value conventions (engines/registry.ts): with them the stream renders rows as
   * JSON documents when asked (StreamRequest.documents); without, it never does.
   */
  readonly conventions?: ValueConventions;
  /**
   * --databases: names or globs of the databases to sync (the URL names none). Tables are then
   * named `db.table` (core/names.ts) in everything this source returns and accepts. Absent or
   * empty: the URL's database, tables by their own names.
   */
  readonly databases?: readonly string[];
  /**
   * --gtid-adopt-domains: on resume, GTID domains the server logged that the checkpoint does not
   * know are streamed from their first transaction instead of refused (gtid.ts).
   */
  readonly adoptDomains?: boolean;
}

/**
 * How the server renders each encoded format (MysqlSource.readChunkEncoded): a table's select
 * expression of one line per row (undefined: a column has no exact rendering), and, for a format
 * some values escape, whether a chunk's bytes are the format's (else it is copied as canonical
 * values, for the reason given).
 */
interface Rendering {
  readonly select: (table: TableSchema) => string | undefined;
  readonly carried?: { readonly test: (data: Buffer) => boolean; readonly otherwise: string };
}

const RENDERINGS: ReadonlyMap<string, Rendering> = new Map<string, Rendering>([
  [MYSQL_TSV, { select: tsvSelect }],
  // pgCopySelect marks zero dates with NUL, and text keeps its own: NUL is in no other COPY field.
  [PG_COPY_TEXT, { select: pgCopySelect, carried: { test: (data) => data.indexOf(0) === -1, otherwise: 'a zero date or a NUL character' } }],
  // A value whose text the server gives otherwise than the etcd target's renderRow (json.ts).
  [ETCD_JSON_LINES, { select: etcdJsonSelect, carried: { test: etcdJsonCarried, otherwise: 'a float or a control character the server prints otherwise than the format' } }],
]);

/**
 * MySQL 8 / MariaDB 10.11 as a change source: schema from information_schema, chunks by keyset
 * pagination without locks, changes from the binlog (file+position or GTID).
 */
export class MysqlSource implements ChangeSource {
  readonly engine = 'mysql';
  /**
   * No value scan (every target holds MySQL's values, or refuses them by name on the canonical
   * path) and no retained log (the binlog is kept by the server's own retention, not for this
   * reader): valueStats, retainedBytes and acknowledge have empty results.
   */
  readonly capabilities: SourceCapabilities = {
    encodedFormats: [...RENDERINGS.keys()],
    chunkDigest: true,
    checksumReads: true,
    reportsHead: true,
    retainsLog: false,
    stopWrites: true,
    valueStats: false,
    schemaChanges: true,
    logsCascades: false,
    rowFilters: true,
    lineagePositions: true,
  };
  private readonly opts: MysqlSourceOptions;
  /**
   * The host in use: the URL's only one, or (several hosts, docs/failover.md) the first that
   * answered at connect(); its `endpoints` name that host alone, so messages name it.
   */
  private dsn: Dsn;
  /** The definitions describe() read, by table: the catalogue's when the session began. */
  private readonly described = new Map<string, TableSchema>();
  /** Whether stream() has said on which thread the binlog is decoded (once per source). */
  private decodeLogged = false;
  /** The decoding thread prepareStream() started, for the next stream() to take. */
  private spare: PreparedThread | undefined;
  private conn: Connection | undefined;
  private pool: Pool | undefined;
  private mariadb = false;
  private versionText = '';
  // SQL rendered per table definition (not per name: a schema change gives a table a new
  // definition object, and rows read by the old SQL would have the old columns).
  private readonly sql = new WeakMap<TableSchema, ChunkSql>();
  /** Per encoded format (RENDERINGS), the select expression per table definition; null when the table has no exact rendering. */
  private readonly rendered = new Map<string, WeakMap<TableSchema, string | null>>();
  /** The consistent snapshot opened for tables read whole (currentPosition wholeTables), until releaseSnapshot(). */
  private snap: { readonly conn: PoolConnection; readonly tables: ReadonlySet<string> } | undefined;
  /** --databases resolved at connect(): the databases synced, tables named `db.table`; undefined: the URL's one. */
  private dbs: readonly string[] | undefined;

  constructor(opts: MysqlSourceOptions) {
    this.opts = opts;
    this.dsn = opts.dsn;
    if (opts.databases?.length && opts.dsn.database) {
      throw new TributaryError(
        ErrorCode.CONFIG_INVALID,
        `source ${describeDsn(opts.dsn)} names database '${opts.dsn.database}' and --databases ${opts.databases.join(',')} is given: a sync of several databases takes a source URL without one; drop the database from the URL (mysql://user@host:3306/), or drop --databases`,
      );
    }
  }

  /** The databases this source syncs: the URL's, or those --databases selected at connect(). */
  private databases(): readonly string[] {
    return this.dbs ?? [this.dsn.database];
  }

  /** Where a table of this source's naming lives: `db.table` under --databases, else the URL's database. */
  private ref(name: string): { readonly db: string; readonly table: string } {
    if (!this.dbs) return { db: this.dsn.database, table: name };
    const { namespace, table } = splitName(name);
    if (namespace === undefined || !this.dbs.includes(namespace)) {
      throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `table '${name}' is not one of the synced databases' (${this.dbs.join(', ')}): with --databases tables are named db.table; check --tables`);
    }
    return { db: namespace, table };
  }

  private get c(): Connection {
    if (!this.conn) throw new TributaryError(ErrorCode.INTERNAL, 'MysqlSource used before connect()');
    return this.conn;
  }

  /**
   * Connects to the URL's host; with several (`mysql://u@h1,h2/db`), to the first that answers, in
   * order: an unreachable one (refused, timed out) is passed over with a warning, any other
   * failure (access denied, …) stops there. Whether the sync may resume on the one reached is
   * checkPosition's to decide (the session asks it: another server identity than the checkpoint's).
   */
  async connect(): Promise<void> {
    const hosts = this.opts.dsn.endpoints ?? [this.opts.dsn];
    const failures: string[] = [];
    for (const [i, ep] of hosts.entries()) {
      const dsn: Dsn = { ...this.opts.dsn, host: ep.host, port: ep.port, endpoints: [ep] };
      try {
        this.conn = await openConnection(dsn, 'source');
        this.dsn = dsn;
        break;
      } catch (err) {
        if (hosts.length === 1 || !(err instanceof TributaryError) || err.code !== ErrorCode.CONNECT_FAILED) throw err;
        failures.push(`${ep.host}:${ep.port}: ${err.message}`);
        if (i === hosts.length - 1) {
          throw new TributaryError(ErrorCode.CONNECT_FAILED, `no host of source ${describeDsn(this.opts.dsn)} answers (${failures.join('; ')}); start one of them, or fix the URL`, { cause: err, fatal: err.fatal });
        }
        this.opts.logger.warn({ host: `${ep.host}:${ep.port}`, err: err.message }, `source host ${ep.host}:${ep.port} does not answer; trying the next host of the URL`);
      }
    }
    if (hosts.length > 1) this.opts.logger.info({ host: `${this.dsn.host}:${this.dsn.port}` }, `source connected to ${this.dsn.host}:${this.dsn.port}`);
    this.pool = await openPool(this.dsn, 'source', this.opts.poolSize);
    const [rows] = await this.c.query<RowDataPacket[]>('SELECT VERSION() AS v');
    this.versionText = String(rows[0]?.v ?? '');
    this.mariadb = /mariadb/i.test(this.versionText);
    if (this.opts.databases?.length) {
      const all = await listDatabases(this.c);
      const chosen = selectDatabases(all, this.opts.databases, `source ${describeDsn(this.dsn)}`);
      const dotted = chosen.filter((d) => d.includes('.'));
      if (dotted.length) {
        throw new TributaryError(
          ErrorCode.CONFIG_INVALID,
          `source database${dotted.length > 1 ? 's' : ''} ${dotted.map((d) => `'${d}'`).join(', ')} selected by --databases hold${dotted.length > 1 ? '' : 's'} a '.', which a sync of several databases uses between database and table (db.table); rename ${dotted.length > 1 ? 'them' : 'it'}, or leave ${dotted.length > 1 ? 'them' : 'it'} out of --databases`,
        );
      }
      this.dbs = chosen;
    }
  }

  async close(): Promise<void> {
    this.spare?.dispose();
    this.spare = undefined;
    await this.releaseSnapshot();
    await this.pool?.end().catch(() => undefined);
    await this.conn?.end().catch(() => undefined);
    this.pool = undefined;
    this.conn = undefined;
  }

  async preflight(): Promise<void> {
    const reqs = await this.check();
    assertRequirements(reqs, `source ${describeDsn(this.dsn)}`);
    // Warnings let the sync run, and are said once at its start (short binlog retention, XA
    // transactions prepared now), as the PostgreSQL source does.
    for (const r of reqs) {
      if (!r.ok && r.severity === 'warning') this.opts.logger.warn({ requirement: r.name, value: r.value }, `${r.name} is ${r.value}: ${r.fix}`);
    }
  }

  check(): Promise<Requirement[]> {
    return sourceRequirements(this.c, { databases: this.databases(), positionMode: this.opts.positionMode });
  }

  async identity(): Promise<SourceIdentity> {
    const endpoint = (this.opts.dsn.endpoints?.length ?? 1) > 1 ? { endpoint: `${this.dsn.host}:${this.dsn.port}` } : {};
    if (this.mariadb) {
      const [rows] = await this.c.query<RowDataPacket[]>('SELECT @@server_id AS sid, @@gtid_domain_id AS dom');
      return { id: `mariadb server_id=${rows[0]?.sid} gtid_domain_id=${rows[0]?.dom}`, version: this.versionText, ...endpoint };
    }
    const [rows] = await this.c.query<RowDataPacket[]>('SELECT @@server_uuid AS uuid');
    return { id: `mysql server_uuid=${rows[0]?.uuid}`, version: this.versionText, ...endpoint };
  }

  databaseDefaults(namespace?: string): Promise<DatabaseDefaults> {
    return databaseDefaults(this.c, namespace ?? this.databases()[0] ?? this.dsn.database);
  }

  /** Under --databases the selected databases (tables or not); [] in a sync of one database. */
  async listNamespaces(): Promise<string[]> {
    return this.dbs ? [...this.dbs] : [];
  }

  /**
   * The database's base tables, but an online schema change tool's own tables of another of them
   * (osc.ts): those are never synced. Under --databases, every selected database's, as `db.table`.
   * In a sync of one database a table whose own name holds a '.' is left out, with a warning: a
   * target reads a '.' as the end of a database name (core/names.ts); under --databases the name is
   * qualified and split at its first '.', so such a table is synced.
   */
  async listTables(): Promise<string[]> {
    const out: string[] = [];
    for (const db of this.databases()) {
      const all = await listTables(this.c, db);
      const names = new Set(all);
      const tools = new ShadowTables(this.opts.oscShadows ? shadowPatterns(this.opts.oscShadows) : undefined);
      for (const name of all) {
        if (tools.isToolTable(name, names)) continue;
        if (!this.dbs && name.includes('.')) {
          this.opts.logger.warn({ database: db, table: name }, `table ${db}.\`${name}\` is not synced: its name holds a '.', which tributary reads as the end of a database name; rename it to sync it`);
          continue;
        }
        out.push(this.dbs ? qualify(db, name) : name);
      }
    }
    return out;
  }

  /** Nothing to scan: capabilities.valueStats is false. */
  async valueStats(_table: TableSchema): Promise<ColumnValueStats[]> {
    return [];
  }

  /** The table's schema; refuses one the user may not read (assertReadable), as sync and check both describe. */
  async describe(table: string): Promise<TableSchema> {
    const { db, table: own } = this.ref(table);
    const described = await describeTable(this.c, db, own);
    await assertReadable(this.c, db, own);
    const schema = this.dbs ? qualifiedSchema(described, db) : described;
    this.described.set(table, schema);
    return schema;
  }

  async tableStats(table: string): Promise<{ rows: number; avgRowBytes: number }> {
    const { db, table: own } = this.ref(table);
    const [rows] = await this.c.query<RowDataPacket[]>(
      'SELECT TABLE_ROWS AS n, AVG_ROW_LENGTH AS avg FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [db, own],
    );
    return { rows: Number(rows[0]?.n ?? 0), avgRowBytes: Number(rows[0]?.avg ?? 0) };
  }

  private async useGtid(): Promise<boolean> {
    if (this.opts.positionMode === 'file') return false;
    if (this.mariadb) return true;
    const [rows] = await this.c.query<RowDataPacket[]>("SHOW GLOBAL VARIABLES LIKE 'gtid_mode'");
    const on = String(rows[0]?.Value ?? 'OFF') === 'ON';
    if (!on && this.opts.positionMode === 'gtid') {
      throw new TributaryError(ErrorCode.SOURCE_SETTING, `source gtid_mode is ${String(rows[0]?.Value ?? 'OFF')} but position-mode=gtid was asked; SET GLOBAL gtid_mode=ON (with enforce_gtid_consistency=ON) or use --position-mode file`);
    }
    return on;
  }

  /**
   * `SET GLOBAL read_only = ON` (needs SUPER, or READ_ONLY ADMIN on MariaDB); restore() sets the
   * value it found back. MySQL 8 would also take super_read_only to stop privileged users
   * (untested here).
   */
  async stopWrites(): Promise<{ description: string; restore(): Promise<void> }> {
    const [rows] = await this.c.query<RowDataPacket[]>('SELECT @@GLOBAL.read_only AS ro');
    const before = Number(rows[0]?.ro ?? 0);
    try {
      await this.c.query('SET GLOBAL read_only = ON');
    } catch (err) {
      throw new TributaryError(
        ErrorCode.PRIVILEGE_MISSING,
        `source ${describeDsn(this.dsn)}: cannot set read_only for the cutover (${(err as Error).message}); grant the user SUPER (MariaDB: READ_ONLY ADMIN), or stop writes yourself with --cutover-command`,
        { cause: err },
      );
    }
    return {
      description: `read_only=ON on ${describeDsn(this.dsn)} (was ${before ? 'ON' : 'OFF'})`,
      restore: async () => {
        if (!before) await this.c.query('SET GLOBAL read_only = OFF');
      },
    };
  }

  /** The binlog's end: currentPosition() reads it without side effects. */
  headPosition(): Promise<string> {
    return this.currentPosition();
  }

  /** The binlog is not retained for this reader (capabilities.retainsLog is false). */
  async retainedBytes(): Promise<number | undefined> {
    return undefined;
  }

  /** Nothing to free: the binlog keeps nothing for its reader (capabilities.retainsLog is false). */
  async acknowledge(_position: string): Promise<void> {}

  /** Starts the decoding thread the next stream() takes (with --decode-thread on): its modules load now, not at takeover. */
  prepareStream(): void {
    if ((this.opts.decodeThread ?? true) && this.spare === undefined) this.spare = prepareBinlogThread();
  }

  /**
   * Ends the consistent snapshot currentPosition() opened for tables read whole; keyed chunk reads
   * take none (each is a plain consistent read).
   */
  async releaseSnapshot(): Promise<void> {
    const s = this.snap;
    this.snap = undefined;
    if (!s) return;
    await s.conn.query('COMMIT').catch(() => undefined);
    s.conn.release();
    this.opts.logger.debug('consistent snapshot for the tables without a key released');
  }

  async currentPosition(opts: { readonly wholeTables?: readonly string[] } = {}): Promise<string> {
    if (opts.wholeTables?.length) return this.snapshotPosition(opts.wholeTables);
    try {
      return await this.binlogEnd();
    } catch (err) {
      // A server gone away (restarting) is CONNECT_FAILED, retryable, as on every other read here:
      // the continuous checksum asks for the head while the stream rides out a restart.
      throw connectError(err, this.dsn, 'source');
    }
  }

  private async binlogEnd(): Promise<string> {
    let rows: RowDataPacket[];
    try {
      [rows] = await this.c.query<RowDataPacket[]>('SHOW MASTER STATUS');
    } catch (err) {
      // MySQL 8.4 removed SHOW MASTER STATUS in favour of SHOW BINARY LOG STATUS (untested here).
      if ((err as { code?: string }).code !== 'ER_PARSE_ERROR') throw err;
      [rows] = await this.c.query<RowDataPacket[]>('SHOW BINARY LOG STATUS');
    }
    const r = rows[0];
    if (!r) {
      throw new TributaryError(ErrorCode.SOURCE_SETTING, `source ${describeDsn(this.dsn)} reports no binlog (SHOW MASTER STATUS is empty); start it with --log-bin`);
    }
    let gtid: string | undefined;
    if (await this.useGtid()) {
      if (this.mariadb) {
        const [g] = await this.c.query<RowDataPacket[]>('SELECT BINLOG_GTID_POS(?, ?) AS pos', [r.File, r.Position]);
        gtid = String(g[0]?.pos ?? '');
      } else {
        gtid = String(r.Executed_Gtid_Set ?? '').replace(/\s+/g, '');
      }
    }
    return positions.encodePosition({ file: String(r.File), pos: Number(r.Position), ...(gtid !== undefined ? { gtid } : {}) });
  }

  /**
   * Opens a consistent snapshot on a connection of its own and returns its binlog position (MariaDB's
   * binlog_snapshot_file/position, read inside it: the binlog position of exactly that snapshot),
   * which readChunk of `tables` then reads until releaseSnapshot(). MySQL reports no such position.
   */
  private async snapshotPosition(tables: readonly string[]): Promise<string> {
    await this.releaseSnapshot();
    const conn = await this.poolOrFail().getConnection();
    let file: string | undefined;
    let pos: number | undefined;
    try {
      await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
      const [st] = await conn.query<RowDataPacket[]>("SHOW STATUS LIKE 'binlog_snapshot_%'");
      const value = (name: string) => st.find((r) => String(r.Variable_name).toLowerCase() === name)?.Value as string | undefined;
      file = value('binlog_snapshot_file');
      pos = Number(value('binlog_snapshot_position'));
    } catch (err) {
      conn.release();
      throw connectError(err, this.dsn, 'source');
    }
    if (!file || !Number.isFinite(pos)) {
      await conn.query('ROLLBACK').catch(() => undefined);
      conn.release();
      throw new TributaryError(
        ErrorCode.TABLE_UNSUPPORTED,
        `table${tables.length > 1 ? 's' : ''} ${tables.join(', ')} of ${describeDsn(this.dsn)} ha${tables.length > 1 ? 've' : 's'} no primary key nor unique NOT NULL key, and this server does not report the binlog position of a consistent snapshot (MariaDB's binlog_snapshot_file/position), which copying such a table exactly needs; add a key, or leave ${tables.length > 1 ? 'them' : 'it'} out with --tables`,
      );
    }
    this.snap = { conn, tables: new Set(tables) };
    let gtid: string | undefined;
    if (await this.useGtid()) {
      const [g] = await this.c.query<RowDataPacket[]>('SELECT BINLOG_GTID_POS(?, ?) AS pos', [file, pos]);
      gtid = String(g[0]?.pos ?? '');
    }
    this.opts.logger.info({ file, pos, tables }, 'consistent snapshot opened for the tables without a key: they are copied at the stream\'s start position');
    return positions.encodePosition({ file, pos: pos as number, ...(gtid !== undefined ? { gtid } : {}) });
  }

  /**
   * In GTID mode the checkpoint's GTID decides (gtid.ts: behind, diverged, purged, unknown domain),
   * on this server or, with `otherServer`, on a promoted replica: the stream connects by GTID, so
   * a purged binlog FILE of the checkpoint does not matter while its GTID's successors are still
   * logged. A file+position checkpoint needs its file, and names a place in one server's binlog
   * only: on another server it is refused.
   */
  async checkPosition(position: string, opts: { readonly readOnly?: boolean; readonly otherServer?: string } = {}): Promise<void> {
    const p = positions.decodePosition(position);
    const where = describeDsn(this.dsn);
    if (p.gtid && (await this.useGtid())) {
      // On another server, messages name both identities: the checkpoint's and this one's.
      const named = opts.otherServer === undefined ? where : `${where} (${(await this.identity()).id}; the checkpoint was taken on ${opts.otherServer})`;
      try {
        if (this.mariadb) {
          const state = await readMariadbGtidState(this.c);
          assertMariadbContains({ checkpoint: p.gtid, ...state, where: named, adoptDomains: this.opts.adoptDomains ?? false, refuseUnknownDomains: opts.otherServer !== undefined });
        } else {
          await assertMysqlContains(this.c, p.gtid, named);
        }
      } catch (err) {
        if (err instanceof TributaryError) throw err;
        throw connectError(err, this.dsn, 'source');
      }
      if (opts.otherServer !== undefined) {
        this.opts.logger.warn({ checkpointSource: opts.otherServer, gtid: p.gtid }, `resuming on ${where}, another server than the checkpoint's (${opts.otherServer}): it holds the checkpoint's GTID ${p.gtid} and the binlogs after it`);
      }
      return;
    }
    if (opts.otherServer !== undefined) {
      throw new TributaryError(
        ErrorCode.SOURCE_CHANGED,
        `the checkpoint's position ${positions.describePosition(position)} was taken on ${opts.otherServer}, but source ${where} is another server; a binlog file and offset name a place in one server's binlog only, so resuming here would skip or repeat changes. Nothing was written. Fix: point --source back at that server, or start over with --force; for failover between servers, sync in GTID mode (--position-mode gtid or auto, with GTIDs on the source)`,
      );
    }
    const [logs] = await this.c.query<RowDataPacket[]>('SHOW BINARY LOGS');
    const files = logs.map((l) => String(l.Log_name));
    if (!files.includes(p.file)) {
      throw new TributaryError(
        ErrorCode.POSITION_LOST,
        `the checkpoint's binlog position ${positions.describePosition(position)} is no longer on the source: binlog file ${p.file} was purged (oldest is ${files[0] ?? 'none'}). Nothing was written. Keep binlogs longer (binlog_expire_logs_seconds) and start over with --force`,
      );
    }
  }

  private sqlFor(table: TableSchema): ChunkSql {
    let s = this.sql.get(table);
    if (!s) {
      s = chunkSql(table);
      this.sql.set(table, s);
    }
    return s;
  }

  async chunkBoundary(table: TableSchema, from: Value[] | null, size: number, order: CopyOrder = 'asc'): Promise<Value[] | null> {
    const s = this.sqlFor(table);
    const keySelect = s.keyCodecs.map((c) => c.select).join(', ');
    // Going up: the size-th key after `from`, the chunk's last. Going down (a backward scan of the
    // primary key): the key just below the `size` highest at or below `from`, the chunk's exclusive
    // lower bound.
    const desc = order === 'desc';
    const where = rangeWhere(table, desc ? { after: null, upTo: from } : { after: from, upTo: null });
    const rows = await this.read({
      sql: `SELECT ${keySelect} FROM ${s.from} ${where.sql} ORDER BY ${desc ? s.keyListDesc : s.keyList} LIMIT 1 OFFSET ${desc ? size : size - 1}`,
      values: where.params,
    });
    const r = rows[0] as unknown as (Buffer | null)[] | undefined;
    if (!r) return null;
    return s.keyCodecs.map((c, i) => c.fromText(r[i] ?? null));
  }

  async readChunk(table: TableSchema, range: KeyRange): Promise<Row[]> {
    const s = this.sqlFor(table);
    // A table without a key is read whole, in the snapshot currentPosition() opened for it.
    const keyless = isKeyless(table);
    const where = keyless ? { sql: '', params: [] } : rangeWhere(table, range);
    const q = { sql: `SELECT ${s.selectList} FROM ${s.from} ${filtered(where.sql, s)}${keyless ? '' : ` ORDER BY ${s.keyList}`}`, values: where.params };
    const rows = keyless && this.snap?.tables.has(table.name) ? await this.readInSnapshot(this.snap.conn, q) : await this.read(q);
    const codecs = s.codecs;
    const n = codecs.length;
    const out: Row[] = new Array(rows.length);
    for (let r = 0; r < rows.length; r++) {
      const raw = rows[r] as unknown as (Buffer | null)[];
      const row: Value[] = new Array(n);
      for (let i = 0; i < n; i++) row[i] = codecs[i]!.fromText(raw[i] ?? null);
      out[r] = row;
    }
    return out;
  }

  /** readChunk's rows digested by the server (digest.ts): natively for MySQL → MySQL, in comparable forms for another engine. */
  async chunkDigest(table: TableSchema, range: KeyRange, forms?: readonly ComparableForm[]): Promise<ChunkDigest | undefined> {
    try {
      if (forms) return await comparableDigestRange(this.poolOrFail(), this.sqlFor(table), table, range, forms);
      return await digestRange(this.poolOrFail(), this.sqlFor(table), table, range);
    } catch (err) {
      throw connectError(err, this.dsn, 'source');
    }
  }

  async readRowsByKeys(table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]> {
    try {
      return await read.readByKeys(this.poolOrFail(), this.sqlFor(table), table, keys);
    } catch (err) {
      throw connectError(err, this.dsn, 'source');
    }
  }

  async scanRows(table: TableSchema, onRows: (rows: Row[]) => void | Promise<void>): Promise<void> {
    try {
      await read.scanRows(this.poolOrFail(), this.sqlFor(table), onRows);
    } catch (err) {
      throw connectError(err, this.dsn, 'source');
    }
  }

  /**
   * The chunk rendered by the server in `format` (RENDERINGS: MYSQL_TSV, PG_COPY_TEXT,
   * ETCD_JSON_LINES). Undefined for other formats, for a table with a column the format cannot
   * render exactly, and for a chunk whose bytes are not the format's (a zero date or a NUL in COPY
   * text; a value the server prints otherwise than the etcd target would): those values need the
   * canonical path, which applies the zero-date policy, refuses NUL by name, renders as the target does.
   */
  async readChunkEncoded(table: TableSchema, range: KeyRange, format: string): Promise<EncodedChunk | undefined> {
    const rendering = RENDERINGS.get(format);
    if (!rendering) return undefined;
    let cache = this.rendered.get(format);
    if (!cache) this.rendered.set(format, (cache = new WeakMap()));
    let select = cache.get(table);
    if (select === undefined) {
      cache.set(table, (select = rendering.select(table) ?? null));
      if (select === null) this.opts.logger.debug({ table: table.name, format }, 'a column has no exact rendering in this format; copying canonical values');
      else this.opts.logger.debug({ table: table.name, format }, 'the source renders chunks in the target format');
    }
    if (select === null) return undefined;
    const s = this.sqlFor(table);
    const where = rangeWhere(table, range);
    const rows = await this.read({ sql: `SELECT ${select} FROM ${s.from} ${filtered(where.sql, s)} ORDER BY ${s.keyList}`, values: where.params });
    let size = 0;
    for (const r of rows) size += ((r as unknown as Buffer[])[0] as Buffer).length + 1;
    const data = Buffer.allocUnsafe(size);
    let at = 0;
    for (const r of rows) {
      at += ((r as unknown as Buffer[])[0] as Buffer).copy(data, at);
      data[at++] = 0x0a;
    }
    if (rendering.carried && !rendering.carried.test(data)) {
      this.opts.logger.debug({ table: table.name, format }, `chunk holds ${rendering.carried.otherwise}; copying it as canonical values`);
      return undefined;
    }
    return bufferedChunk(format, data, rows.length);
  }

  /** A raw read through the pool; driver errors become retryable TributaryErrors naming the source. */
  private async readInSnapshot(conn: PoolConnection, q: { sql: string; values: Value[] }): Promise<RowDataPacket[]> {
    try {
      const [rows] = await conn.query<RowDataPacket[]>({ ...q, rowsAsArray: true, typeCast: false });
      return rows;
    } catch (err) {
      throw connectError(err, this.dsn, 'source');
    }
  }

  private async read(q: { sql: string; values: Value[] }): Promise<RowDataPacket[]> {
    try {
      const [rows] = await this.poolOrFail().query<RowDataPacket[]>({ ...q, rowsAsArray: true, typeCast: false });
      return rows;
    } catch (err) {
      throw connectError(err, this.dsn, 'source');
    }
  }

  private poolOrFail(): Pool {
    if (!this.pool) throw new TributaryError(ErrorCode.INTERNAL, 'MysqlSource used before connect()');
    return this.pool;
  }

  async *stream(from: string, tables: readonly TableSchema[], signal: AbortSignal, request?: StreamRequest): AsyncIterable<readonly StreamEvent[]> {
    const useGtid = await this.useGtid();
    try {
      const binlog: BinlogOptions = {
        dsn: this.dsn,
        serverId: this.opts.serverId,
        from: positions.decodePosition(from),
        useGtid,
        tables,
        ...(request?.oldImages ? { oldImages: request.oldImages } : {}),
        ...(request?.documents && this.opts.conventions ? { documents: this.opts.conventions } : {}),
        catalogue: new Map(tables.flatMap((t) => {
          const now = this.described.get(t.name);
          return now && JSON.stringify(now.columns.map((c) => c.name)) !== JSON.stringify(t.columns.map((c) => c.name)) ? [[t.name, now] as const] : [];
        })),
        selects: (name) => tableSelected(name, this.opts.tables ?? []),
        // A table entering the selection while streaming: the catalogue's definition now, if it has one.
        describe: async (name) => ((await this.listTables()).includes(name) ? this.describe(name) : undefined),
        ...(this.dbs ? { databases: this.dbs } : {}),
        ...(this.opts.oscShadows ? { shadows: shadowPatterns(this.opts.oscShadows) } : {}),
        maxBufferBytes: this.opts.maxBufferBytes,
        timeoutMs: this.opts.binlogTimeoutMs ?? 30_000,
        logger: this.opts.logger,
      };
      // Decoding in a thread of its own takes zongji's CPU and garbage off the thread that applies.
      const threaded = this.opts.decodeThread ?? true;
      if (!this.decodeLogged) this.opts.logger.info({ decodeThread: threaded }, threaded ? 'the binlog is decoded in a thread of its own' : 'the binlog is decoded on the applying thread (--decode-thread off)');
      this.decodeLogged = true;
      const prepared = this.spare;
      this.spare = undefined;
      if (threaded) yield* streamBinlogThreaded({ ...binlog, selection: this.opts.tables ?? [], ...(prepared ? { prepared } : {}) }, signal);
      else {
        // Loaded only here: the decoder (zongji, the row reader, node-sql-parser for DDL: ~0.3 s of
        // module loading) runs in the decoding thread by default, never on this one.
        const { streamBinlog } = await import('./stream.js');
        yield* streamBinlog(binlog, signal);
      }
    } catch (err) {
      if (err instanceof TributaryError) throw err;
      throw connectError(err, this.dsn, 'source binlog');
    }
  }

  comparePositions(a: string, b: string): number {
    return positions.comparePositions(a, b);
  }

  describePosition(position: string): string {
    return positions.describePosition(position);
  }
}

/**
 * A table of database `db` under its qualified name (`db.table`): its foreign keys name the tables
 * they reference qualified too (describeForeignKeys leaves a table of the same database bare).
 */
function qualifiedSchema(t: TableSchema, db: string): TableSchema {
  const foreignKeys = t.foreignKeys?.map((fk) => (fk.referencedTable.includes('.') ? fk : { ...fk, referencedTable: qualify(db, fk.referencedTable) }));
  return { ...t, name: qualify(db, t.name), ...(foreignKeys ? { foreignKeys } : {}) };
}

/** A stable binlog client server_id for a sync id, away from the small ids real servers use. */
export function deriveServerId(syncId: string): number {
  const h = createHash('sha256').update(syncId).digest().readUInt32BE(0);
  return 1_000_000_000 + (h % 1_000_000_000);
}

export { quoteId };
