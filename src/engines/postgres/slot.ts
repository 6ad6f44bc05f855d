import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Dsn } from '../../config/dsn.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { openClient } from './connection.js';
import { quoteIdent, quoteLiteral } from './sql.js';
import { formatLsn, parseLsn } from './position.js';
import type { RelationRecord } from './relations.js';
import type { SchemaScope } from './scope.js';

type Queryable = Pick<pg.Client | pg.Pool, 'query'>;

/**
 * The replication slot and publication of a sync. Both are named after the sync id
 * (tributary_<id>) unless the configuration names them, and both are owned by the sync: created
 * by it, and the publication kept covering exactly the synced tables. A slot is never re-created
 * behind a checkpoint's back: losing it loses changes, which is an error (see checkSlot).
 */

/** tributary_<sync id> lower-cased to [a-z0-9_], at most 63 bytes (NAMEDATALEN-1), a hash keeping long ids apart. */
export function deriveName(syncId: string): string {
  const clean = syncId.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const name = `tributary_${clean}`;
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(syncId).digest('hex').slice(0, 8);
  return `${name.slice(0, 54)}_${hash}`;
}

/** A comment marks a publication tributary created, so it may alter it later (its first line). */
export function ownerComment(syncId: string): string {
  return `owned by tributary sync ${syncId}`;
}

/**
 * The comment of a publication tributary owns: the owner line, then the synced tables' relations
 * as JSON (relations.ts RelationRecord: the relation OID and columns the sync follows each table
 * by), so a restarted sync can tell a table renamed, replaced or changed while it was stopped.
 */
export function publicationComment(syncId: string, record: ReadonlyMap<string, RelationRecord>): string {
  return record.size ? `${ownerComment(syncId)}\n${JSON.stringify(Object.fromEntries(record))}` : ownerComment(syncId);
}

function parseComment(comment: string | null, syncId: string): { owned: boolean; recorded?: Map<string, RelationRecord> } {
  if (comment === null) return { owned: false };
  const [first, ...rest] = comment.split('\n');
  if (first !== ownerComment(syncId)) return { owned: false };
  if (rest.length === 0) return { owned: true };
  try {
    const obj = JSON.parse(rest.join('\n')) as Record<string, RelationRecord>;
    return { owned: true, recorded: new Map(Object.entries(obj).filter(([, r]) => typeof r?.oid === 'number' && Array.isArray(r.columns))) };
  } catch {
    // Not ours to read (edited by hand): owned, with nothing recorded.
    return { owned: true };
  }
}

export interface SlotInfo {
  readonly name: string;
  readonly plugin: string | null;
  readonly slotType: string;
  readonly database: string | null;
  readonly active: boolean;
  readonly restartLsn: bigint | null;
  readonly confirmedFlushLsn: bigint | null;
  /** 'reserved', 'extended', 'unreserved' or 'lost' (PostgreSQL 13+). */
  readonly walStatus: string | null;
}

export async function slotInfo(conn: Queryable, slot: string): Promise<SlotInfo | undefined> {
  const r = await conn.query<{
    slot_name: string;
    plugin: string | null;
    slot_type: string;
    database: string | null;
    active: string;
    restart_lsn: string | null;
    confirmed_flush_lsn: string | null;
    wal_status: string | null;
  }>(
    `SELECT slot_name, plugin, slot_type, database, active, restart_lsn::text, confirmed_flush_lsn::text, wal_status
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const s = r.rows[0];
  if (!s) return undefined;
  return {
    name: s.slot_name,
    plugin: s.plugin,
    slotType: s.slot_type,
    database: s.database,
    active: s.active === 't',
    restartLsn: s.restart_lsn ? parseLsn(s.restart_lsn) : null,
    confirmedFlushLsn: s.confirmed_flush_lsn ? parseLsn(s.confirmed_flush_lsn) : null,
    walStatus: s.wal_status,
  };
}

export async function setting(conn: Queryable, name: string): Promise<string> {
  const r = await conn.query<{ v: string }>('SELECT current_setting($1, true) AS v', [name]);
  return r.rows[0]?.v ?? '(not set)';
}

/**
 * What a sync whose slot is gone, invalidated or consumed by another client can do: start over.
 * `streaming`: the loss ended a running stream (the target keeps what it applied), rather than
 * being found before this run wrote anything.
 */
function startOverFix(slot: string, streaming = false): string {
  const written = streaming ? 'The target keeps what was applied up to the checkpoint, but cannot follow the source any more.' : 'Nothing was written.';
  return `${written} Start over with --force (tributary drops its own slot and makes a new one with a full copy; a slot named in the configuration, drop it first: SELECT pg_drop_replication_slot(${quoteLiteral(slot)}))`;
}

/** How a lost slot was found: before a run wrote anything (default), or by a stream it ended. */
export interface SlotLossContext {
  readonly streaming?: boolean;
  readonly cause?: unknown;
}

/**
 * POSITION_LOST (fatal) for a slot that no longer exists or that the server invalidated, naming
 * the slot, its wal_status, max_slot_wal_keep_size (`keep`) and the fix; undefined for a slot
 * that can still be read. `lsn` is the position the sync needed to resume from.
 */
export function slotLostError(slot: string, info: SlotInfo | undefined, keep: string, lsn: bigint, ctx: SlotLossContext = {}): TributaryError | undefined {
  const opts = ctx.cause === undefined ? {} : { cause: ctx.cause };
  const fix = startOverFix(slot, ctx.streaming);
  if (!info) {
    return new TributaryError(
      ErrorCode.POSITION_LOST,
      `replication slot ${slot} no longer exists (it was dropped), so the changes after the checkpoint's LSN ${formatLsn(lsn)} are gone; tributary never re-creates a slot behind a checkpoint. Do not drop a sync's slot while it is stopped, and keep max_slot_wal_keep_size (now ${keep}) large enough that the server does not invalidate it. ${fix}`,
      opts,
    );
  }
  if (info.walStatus === 'lost' || info.restartLsn === null) {
    return new TributaryError(
      ErrorCode.POSITION_LOST,
      `replication slot ${slot} was invalidated (wal_status=${info.walStatus ?? 'unknown'}): it held more WAL than max_slot_wal_keep_size (now ${keep}) allows, so the server removed WAL the sync still needed after LSN ${formatLsn(lsn)}, and those changes are gone. Raise max_slot_wal_keep_size (ALTER SYSTEM SET max_slot_wal_keep_size = '…', or -1 for no limit, then SELECT pg_reload_conf()) and keep the sync running so the slot does not fall that far behind. ${fix}`,
      opts,
    );
  }
  return undefined;
}

/**
 * Whether a stream may resume at `lsn` from this slot. Throws POSITION_LOST (fatal) when it may
 * not, naming the slot and max_slot_wal_keep_size:
 * - the slot is gone (dropped): its changes are gone with it;
 * - the slot was invalidated (wal_status 'lost', restart_lsn NULL): the server removed WAL it
 *   still needed because it exceeded max_slot_wal_keep_size;
 * - its confirmed_flush_lsn is after `lsn`. tributary acknowledges a position only after the
 *   target committed the checkpoint holding it (commit, then acknowledge), so on its own the
 *   slot's confirmed_flush_lsn is at or before the checkpoint. A later one means something else
 *   consumed or advanced the slot (another client, pg_replication_slot_advance): the server starts
 *   decoding at max(requested, confirmed_flush_lsn), so every transaction committed in between
 *   would be skipped without a trace. Equal is fine: a transaction whose commit ends at the
 *   checkpoint's LSN is already applied, and the server skips exactly those.
 */
export async function checkSlot(conn: Queryable, slot: string, lsn: bigint, database: string): Promise<SlotInfo> {
  const info = await slotInfo(conn, slot);
  const keep = await setting(conn, 'max_slot_wal_keep_size');
  const lost = slotLostError(slot, info, keep, lsn);
  if (lost) throw lost;
  // slotLostError reports every missing slot; this only narrows the type.
  if (!info) throw new TributaryError(ErrorCode.INTERNAL, `replication slot ${slot} vanished while being checked`);
  if (info.slotType !== 'logical' || info.plugin !== 'pgoutput') {
    throw new TributaryError(ErrorCode.SOURCE_SETTING, `replication slot ${slot} is a ${info.slotType} slot with plugin ${info.plugin ?? 'none'}; tributary needs a logical slot with plugin pgoutput. Name another slot (slot: …) or drop this one`);
  }
  if (info.database !== database) {
    throw new TributaryError(ErrorCode.SOURCE_CHANGED, `replication slot ${slot} belongs to database ${info.database ?? '?'}, not ${database}; point --source at that database or name another slot`);
  }
  if (info.confirmedFlushLsn !== null && info.confirmedFlushLsn > lsn) {
    throw new TributaryError(
      ErrorCode.POSITION_LOST,
      `replication slot ${slot} has confirmed_flush_lsn ${formatLsn(info.confirmedFlushLsn)}, after the checkpoint's LSN ${formatLsn(lsn)}: something other than this sync consumed or advanced the slot, and the server would skip every change in between. Give each consumer its own slot (max_slot_wal_keep_size is ${keep}). ${startOverFix(slot)}`,
    );
  }
  return info;
}

/**
 * A slot created with an exported snapshot. The creating replication connection is kept open and
 * idle: the snapshot lives until that connection runs another command or closes, so it runs
 * nothing else, and `release()` closes it.
 */
export interface ExportedSlot {
  readonly consistentPoint: bigint;
  /** The snapshot's name for SET TRANSACTION SNAPSHOT. */
  readonly snapshot: string;
  release(): Promise<void>;
}

export async function createSlotWithSnapshot(dsn: Dsn, slot: string): Promise<ExportedSlot> {
  const client = await openClient(dsn, 'source replication', { replication: 'database' } as pg.ClientConfig);
  try {
    const r = await client.query<{ consistent_point: string; snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput EXPORT_SNAPSHOT`,
    );
    const row = r.rows[0];
    if (!row?.snapshot_name) throw new Error('CREATE_REPLICATION_SLOT returned no snapshot');
    let released = false;
    return {
      consistentPoint: parseLsn(row.consistent_point),
      snapshot: row.snapshot_name,
      async release() {
        if (released) return;
        released = true;
        await client.end().catch(() => undefined);
      },
    };
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}

export async function dropSlot(conn: Queryable, slot: string): Promise<void> {
  await conn.query('SELECT pg_drop_replication_slot($1)', [slot]);
}

export interface PublicationState {
  readonly exists: boolean;
  readonly owned: boolean;
  /** Tables of the scope's schemas the publication covers, by synced name (FOR ALL TABLES: see allTables). */
  readonly tables: readonly string[];
  readonly allTables: boolean;
  /** Which of insert/update/delete/truncate it does not publish. */
  readonly missingActions: readonly string[];
  /**
   * publish_via_partition_root: changes to a partition are published as changes to its
   * partitioned root table. tributary syncs a partitioned table under the root's name, so it needs
   * this whenever a synced table is partitioned; without it the changes arrive under partition
   * names the sync does not know, and would be lost.
   */
  readonly viaRoot: boolean;
  /** The relations recorded in the comment of a publication tributary owns (publicationComment). */
  readonly recorded?: ReadonlyMap<string, RelationRecord>;
  /** The comment as it is. */
  readonly comment: string | null;
}

export async function publicationState(conn: Queryable, publication: string, scope: SchemaScope, syncId: string): Promise<PublicationState> {
  const p = await conn.query<{ alltables: string; pubinsert: string; pubupdate: string; pubdelete: string; pubtruncate: string; viaroot: string; comment: string | null }>(
    `SELECT puballtables AS alltables, pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot AS viaroot, obj_description(oid, 'pg_publication') AS comment
       FROM pg_publication WHERE pubname = $1`,
    [publication],
  );
  const row = p.rows[0];
  if (!row) return { exists: false, owned: false, tables: [], allTables: false, missingActions: [], viaRoot: false, comment: null };
  const t = await conn.query<{ schemaname: string; tablename: string }>(
    'SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1 AND schemaname = ANY($2::text[]) ORDER BY schemaname, tablename',
    [publication, [...scope.schemas]],
  );
  const missingActions = (['insert', 'update', 'delete', 'truncate'] as const).filter((a) => row[`pub${a}`] !== 't');
  const { owned, recorded } = parseComment(row.comment, syncId);
  return {
    exists: true,
    owned,
    ...(recorded ? { recorded } : {}),
    comment: row.comment,
    tables: t.rows.flatMap((x) => scope.nameOf(x.schemaname, x.tablename) ?? []),
    allTables: row.alltables === 't',
    missingActions,
    viaRoot: row.viaroot === 't',
  };
}

/** The partitioned tables (relkind 'p') among `tables` (synced names of `scope`). */
export async function partitionedTables(conn: Queryable, scope: SchemaScope, tables: readonly string[]): Promise<string[]> {
  if (tables.length === 0) return [];
  const places = tables.map((t) => scope.placeOf(t));
  const r = await conn.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND c.relkind = 'p' ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`,
    [places.map((p) => p.schema), places.map((p) => p.relname)],
  );
  return r.rows.flatMap((x) => scope.nameOf(x.schema, x.name) ?? []);
}

/**
 * Makes the sync's publication cover exactly `tables`: creates it (FOR TABLE …) when absent, sets
 * its table list when tributary owns it, and only checks one it does not own. Must run before the
 * slot is created (pgoutput reads the publication as of each decoded change, and errors on one
 * that did not exist yet) and before a table is copied (a change made before the table joined
 * the publication is not streamed; the copy must read after it).
 *
 * A publication tributary creates or owns publishes via the partition root, so the changes of a
 * partitioned table's partitions arrive under the table's own name (see PublicationState.viaRoot).
 */
export async function ensurePublication(
  conn: Queryable,
  publication: string,
  scope: SchemaScope,
  tables: readonly string[],
  syncId: string,
  logger: Logger,
  /** The relations to record in an owned publication's comment (publicationComment); undefined: leave it. */
  record?: ReadonlyMap<string, RelationRecord>,
): Promise<void> {
  const state = await publicationState(conn, publication, scope, syncId);
  const list = tables.map((t) => scope.quoted(t)).join(', ');
  const want = [...tables].sort();
  const same = want.length === state.tables.length && want.every((t, i) => t === [...state.tables].sort()[i]);
  const pub = quoteIdent(publication);
  try {
    if (!state.exists) {
      await conn.query(`CREATE PUBLICATION ${pub} FOR TABLE ${list} WITH (publish = 'insert, update, delete, truncate', publish_via_partition_root = true)`);
      await conn.query(`COMMENT ON PUBLICATION ${pub} IS ${quoteLiteral(publicationComment(syncId, record ?? new Map()))}`);
      logger.info({ publication, tables: tables.length }, 'publication created');
      return;
    }
    if (state.owned) {
      if (!state.viaRoot) {
        await conn.query(`ALTER PUBLICATION ${pub} SET (publish_via_partition_root = true)`);
        logger.info({ publication }, 'publication now publishes partitions via their partitioned table');
      }
      if (!same) {
        await conn.query(`ALTER PUBLICATION ${pub} SET TABLE ${list}`);
        logger.info({ publication, tables: tables.length }, 'publication now covers the synced tables');
      }
      if (record) await recordRelations(conn, publication, syncId, record, state.comment);
      return;
    }
  } catch (err) {
    const e = err as { code?: string; message?: string };
    throw new TributaryError(
      e.code === '42501' ? ErrorCode.PRIVILEGE_MISSING : ErrorCode.SOURCE_SETTING,
      `cannot create or alter publication ${publication} for the synced tables: ${e.message ?? String(err)}; the source role needs CREATE on the database and ownership of the tables, or create the publication yourself (CREATE PUBLICATION ${pub} FOR TABLE ${list} WITH (publish_via_partition_root = true)) and name it with publication: …`,
      { cause: err },
    );
  }
  assertCovers(publication, state, tables, state.viaRoot ? [] : await partitionedTables(conn, scope, tables), (t) => scope.quoted(t));
}

/**
 * Whether the publication publishes every relation of `oids` (by OID, as pgoutput decides: a table
 * renamed since keeps its membership). A FOR ALL TABLES publication publishes every one.
 */
export async function publishesRelations(conn: Queryable, publication: string, oids: readonly number[]): Promise<boolean> {
  const r = await conn.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM unnest($2::oid[]) AS o(oid)
      WHERE EXISTS (SELECT 1 FROM pg_publication p WHERE p.pubname = $1 AND (p.puballtables OR EXISTS (SELECT 1 FROM pg_publication_rel r WHERE r.prpubid = p.oid AND r.prrelid = o.oid)))`,
    [publication, oids.map(String)],
  );
  return Number(r.rows[0]?.n) === oids.length;
}

/**
 * Brings `table` into the sync's publication while streaming (a table entering the selection):
 * nothing when the publication publishes it already; ALTER PUBLICATION … ADD TABLE when tributary
 * owns it. Returns why it cannot (a publication the user named that does not publish it), else
 * undefined. Changes written before this commits are not streamed: the caller copies the table after.
 */
export async function addToPublication(conn: Queryable, publication: string, scope: SchemaScope, table: string, syncId: string): Promise<string | undefined> {
  const state = await publicationState(conn, publication, scope, syncId);
  if (state.allTables || state.tables.includes(table)) return undefined;
  if (!state.owned) {
    return `publication ${publication} is not tributary's own and does not publish it: ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${scope.quoted(table)}, then restart the sync`;
  }
  await conn.query(`ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${scope.quoted(table)}`);
  return undefined;
}

/**
 * Writes `record` into the comment of the publication tributary owns (publicationComment), unless
 * it says that already (`current`: the comment as read, when the caller has it).
 */
export async function recordRelations(conn: Queryable, publication: string, syncId: string, record: ReadonlyMap<string, RelationRecord>, current?: string | null): Promise<void> {
  const comment = publicationComment(syncId, record);
  if (comment === current) return;
  await conn.query(`COMMENT ON PUBLICATION ${quoteIdent(publication)} IS ${quoteLiteral(comment)}`);
}

/**
 * A publication tributary does not own must already publish every synced table and every action,
 * and publish via the partition root when a synced table (`partitioned`) is partitioned.
 */
export function assertCovers(publication: string, state: PublicationState, tables: readonly string[], partitioned: readonly string[] = [], quote: (table: string) => string = quoteIdent): void {
  if (!state.viaRoot && partitioned.length) {
    throw new TributaryError(
      ErrorCode.SOURCE_SETTING,
      `publication ${publication} has publish_via_partition_root = false, but synced table${partitioned.length > 1 ? 's' : ''} ${partitioned.join(', ')} ${partitioned.length > 1 ? 'are' : 'is'} partitioned: changes to ${partitioned.length > 1 ? 'their' : 'its'} partitions would arrive under the partitions' names and be lost; ALTER PUBLICATION ${quoteIdent(publication)} SET (publish_via_partition_root = true), or leave ${partitioned.length > 1 ? 'them' : 'it'} out with --tables`,
    );
  }
  const missing = state.allTables ? [] : tables.filter((t) => !state.tables.includes(t));
  if (missing.length) {
    throw new TributaryError(
      ErrorCode.SOURCE_SETTING,
      `publication ${publication} does not cover synced table${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${missing.map(quote).join(', ')}, or leave ${missing.length > 1 ? 'them' : 'it'} out with --tables`,
    );
  }
  if (state.missingActions.length) {
    throw new TributaryError(
      ErrorCode.SOURCE_SETTING,
      `publication ${publication} does not publish ${state.missingActions.join(', ')}; ALTER PUBLICATION ${quoteIdent(publication)} SET (publish = 'insert, update, delete, truncate')`,
    );
  }
}
