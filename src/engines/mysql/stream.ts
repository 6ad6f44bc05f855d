import ZongJi, { GtidSet, MariadbGtidPosition } from '@vlasky/zongji';
import type { AnyBinlogEvent, RowsEvent, TableMapEntry } from '@vlasky/zongji';
import type { Logger } from 'pino';
import type { Dsn } from '../../config/dsn.js';
import type { Change, StreamEvent } from '../../core/change.js';
import type { SchemaOperation } from '../../core/schema-change.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { qualify, splitName } from '../../core/names.js';
import { isKeyless, rowKey, type TableSchema } from '../../core/schema.js';
import type { Value, ValueConventions } from '../../core/values.js';
import { memberWriter, writeRow, type MemberWriter } from '../../core/json-row.js';
import { rowJson } from '../../core/slab.js';
import { rowBytes } from '../../core/values.js';
import { ReadHolds } from '../../stream/read-holds.js';
import { EventQueue, RUN_EVENTS } from '../../stream/queue.js';
import { EventSpool, SpoolBudget } from '../../stream/spool.js';
import { binlogStreamError } from './stream-errors.js';
import { connectionOptions } from './connection.js';
import { decodePosition, encodePosition, type BinlogPosition } from './position.js';
import { codecFor, keepSpatialBytes, type ColumnCodec, type ZongjiTableMapEntry } from './values.js';
import { watchDump } from './heartbeat.js';
import { tablesWithReferentialActions } from '../../schema/foreign-keys.js';
import { DocumentImage, installRowReader, planRows, type RowPlan, type RowsTableMap, type ZongjiWithRows } from './binlog-rows.js';
import { describeDsn } from '../../config/dsn.js';
import { quoteId } from './sql.js';
import { parseDdl } from './ddl-parse.js';
import { ShadowTables } from './osc.js';

export interface BinlogOptions {
  readonly dsn: Dsn;
  readonly serverId: number;
  readonly from: BinlogPosition;
  /** Resume by GTID (when the position has one) instead of file+position. */
  readonly useGtid: boolean;
  readonly tables: readonly TableSchema[];
  /**
   * Which UPDATEs and DELETEs carry the row's whole old image (ChangeLog.stream's StreamRequest):
   * 'cascades' (default) those of tables a foreign key with a referential action references, by
   * the definitions of the moment (a key added while streaming counts from its statement on), and
   * of tables without a key; the other old images are read for their key only (binlog-rows.ts
   * readKey).
   */
  readonly oldImages?: 'cascades' | 'whole';
  /**
   * Renders the new image of each INSERT and UPDATE as its JSON object (core/json-row.ts writeRow,
   * with these conventions, this engine's) instead of carrying its values (ChangeLog.stream's
   * StreamRequest.documents): all but those whose old image goes whole (the applier reads the new
   * values of a cascade's parent), and a keyless table's.
   */
  readonly documents?: ValueConventions;
  /**
   * Whether the sync's table selection takes a table of this name: a table created, or renamed
   * into such a name, while streaming is synced from its statement on. Default: none.
   */
  readonly selects?: (name: string) => boolean;
  /** Shadow table patterns of online schema change tools (osc.ts); default gh-ost's and pt-online-schema-change's. */
  readonly shadows?: readonly RegExp[];
  /**
   * The catalogue's definitions of now for tables whose `tables` definition (the one at the
   * stream's position) differs: rows that fit these and not the position's, with no statement
   * between, changed definition outside the binlog.
   */
  readonly catalogue?: ReadonlyMap<string, TableSchema>;
  /**
   * The source catalogue's definition of a table now (undefined: there is none), for a table a
   * statement brings into the selection with rows the binlog does not carry (ParsedDdl.adopt).
   * Without it such a statement stops the sync.
   */
  readonly describe?: (name: string) => Promise<TableSchema | undefined>;
  /**
   * --databases: the synced databases; tables are then named `db.table` (core/names.ts), in the
   * events pushed and in `tables`, `selects` and `describe`. Absent: the URL's database, tables by
   * their own names.
   */
  readonly databases?: readonly string[];
  /** Pause reading the binlog when this many bytes of events wait for the consumer (`queueBytes` instead, when given); half of it bounds what XA and savepoint spools keep in memory. */
  readonly maxBufferBytes: number;
  /** Pause reading the binlog when this many bytes of events wait for the consumer; default maxBufferBytes. */
  readonly queueBytes?: number;
  /**
   * Silence on the dump connection (no event, no heartbeat) after which it counts as lost and the
   * stream fails (retryable). The server is asked for a heartbeat ten times as often.
   */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

interface TableDecoder {
  readonly schema: TableSchema;
  readonly codecs: ColumnCodec[];
}

const DDL = /^\s*(?:\/\*.*?\*\/\s*)*(ALTER|CREATE|DROP|RENAME|TRUNCATE)\b/is;

// XA statements as the server binlogs them: XA START X'gtrid',X'bqual',formatID.
const XA_STATEMENT = /^\s*XA\s+(START|BEGIN|END|COMMIT|ROLLBACK)\s+X'([0-9a-f]*)'\s*,\s*X'([0-9a-f]*)'\s*,\s*(\d+)/i;
const SAVEPOINT = /^\s*SAVEPOINT\s+(`(?:[^`]|``)+`|\S+)\s*$/i;
const ROLLBACK_TO = /^\s*ROLLBACK\s+(?:WORK\s+)?TO\s+(?:SAVEPOINT\s+)?(`(?:[^`]|``)+`|\S+)\s*$/i;

function unquote(id: string): string {
  return id.startsWith('`') ? id.slice(1, -1).replace(/``/g, '`') : id;
}

/** One key per XA transaction id, the same from a GTID event, an XA_PREPARE event or a query. */
function xidKey(formatId: string, gtrid: Buffer, bqual: Buffer): string {
  return `${formatId}:${gtrid.toString('hex')}:${bqual.toString('hex')}`;
}

function describeAt(file: string, pos: number): string {
  return `${file}:${pos}`;
}

/** Whether a binlog row image (FULL row metadata: by column name) has every column of the definition. */
function fits(schema: TableSchema, image: Record<string, unknown>): boolean {
  return schema.columns.every((c) => c.name in image);
}

/** The decoders of the synced tables, with a version that moves whenever one is set or deleted. */
class Decoders extends Map<string, TableDecoder> {
  version = 0;
  override set(name: string, decoder: TableDecoder): this {
    this.version++;
    return super.set(name, decoder);
  }
  override delete(name: string): boolean {
    this.version++;
    return super.delete(name);
  }
}

function decoderOf(schema: TableSchema): TableDecoder {
  return { schema, codecs: schema.columns.map((c) => codecFor(c, quoteId(c.name))) };
}

/**
 * Streams a MySQL/MariaDB binlog as runs of StreamEvents (ChangeLog.stream) through zongji, with backpressure: when the
 * buffered events exceed `maxBufferBytes` the binlog connection is paused until the consumer
 * catches up. Errors end the iteration by throwing; the caller resumes from its checkpoint.
 */
export async function* streamBinlog(opts: BinlogOptions, signal: AbortSignal): AsyncGenerator<readonly StreamEvent[]> {
  const db = opts.dsn.database;
  const multi = opts.databases;
  /** A table of the binlog under the sync's name for it; undefined when its database is not synced. */
  const nameOf = (schema: string, table: string): string | undefined => (multi ? (multi.includes(schema) ? qualify(schema, table) : undefined) : schema === db ? table : undefined);
  const decoders = new Decoders();
  const shadows = new ShadowTables(opts.shadows);
  // Shadows stored with the checkpoint are followed again; their rows are never decoded.
  shadows.restore(opts.tables);
  for (const t of opts.tables) {
    if (!t.shadowOf) decoders.set(t.name, decoderOf(t));
  }

  const client = new ZongJi(connectionOptions(opts.dsn, { database: undefined }));
  // The connection stops reading while the queue is over its bound or a statement's tables are described.
  const holds = new ReadHolds<'queue' | 'describe'>({ pause: () => client.connection?.pause(), resume: () => client.connection?.resume() });
  // Rows are read straight into values (binlog-rows.ts) with their table's definition of the
  // moment, one plan per table map; while events wait behind a statement whose definitions are
  // being read (adopt), zongji decodes them by column name for rowsEvent to convert when their
  // turn comes.
  installRowReader();
  const plans = new Map<string, RowPlan>();
  // Old images the applier derives cascades from, by the definitions of the moment.
  let referenced: { version: number; tables: ReadonlySet<string> } = { version: -1, tables: new Set() };
  (client as ZongjiWithRows).tributaryWholeOld = (schema: TableSchema): boolean => {
    if (opts.oldImages === 'whole' || isKeyless(schema)) return true;
    if (referenced.version !== decoders.version) referenced = { version: decoders.version, tables: tablesWithReferentialActions([...decoders.values()].map((d) => d.schema)) };
    return referenced.tables.has(schema.name);
  };
  // New images rendered as JSON documents as they are read (binlog-rows.ts readDocument), when asked.
  const writers = new WeakMap<TableSchema, MemberWriter>();
  (client as ZongjiWithRows).tributaryDocuments = (schema: TableSchema): MemberWriter | undefined => {
    const conv = opts.documents;
    if (!conv) return undefined;
    let w = writers.get(schema);
    if (!w) writers.set(schema, (w = memberWriter(schema, conv)));
    return w;
  };
  (client as ZongjiWithRows).tributaryRows = (entry: RowsTableMap) => {
    if (deferred !== undefined) {
      // Its table map is handled (keepSpatialBytes) only when its turn comes, after zongji has read the rows.
      keepSpatialBytes(entry as unknown as ZongjiTableMapEntry);
      return undefined;
    }
    const name = nameOf(entry.parentSchema, entry.tableName);
    const dec = name === undefined ? undefined : decoders.get(name);
    if (!dec || name === undefined) return undefined;
    const known = plans.get(name);
    if (known && known.schema === dec.schema && known.fits(entry)) return known;
    const plan = planRows(entry, dec.schema, dec.codecs);
    if (plan) plans.set(name, plan);
    else plans.delete(name);
    return plan;
  };
  // A queued item is an event, or a spool of row changes released at their transaction's end
  // (replayed lazily by the consumer below, so a big one never sits in memory whole).
  const queue = new EventQueue<StreamEvent | EventSpool>({
    maxBytes: opts.queueBytes ?? opts.maxBufferBytes,
    pause: () => {
      watch.hold();
      holds.hold('queue');
      return Boolean(client.connection);
    },
    resume: () => {
      watch.release();
      holds.release('queue');
    },
  });
  let file = opts.from.file;
  // The position of the last boundary pushed: a server heartbeat is caught up there.
  let lastPosition = encodePosition(opts.from);
  // A group's 'begin' is pushed with its first event, not at the group's start: a statement that
  // comes first in its group is then a schema change between transactions (CREATE TABLE … SELECT
  // under row-based logging is binlogged as a group holding the plain CREATE TABLE, then the rows it
  // selected). `beginHeld` keeps it back while such a statement's events are pushed.
  let beginPending = false;
  let beginHeld = false;
  const flushBegin = () => {
    if (!beginPending || beginHeld) return;
    beginPending = false;
    queue.push({ type: 'begin' }, 64);
  };
  const push = (ev: StreamEvent, bytes = 64) => {
    flushBegin();
    if ('position' in ev) lastPosition = ev.position;
    queue.push(ev, bytes);
  };
  const realPosition = (pos: number): string =>
    encodePosition({ file, pos, ...(client.gtidSet ? { gtid: client.gtidSet } : {}) });
  // zongji adds a DDL's GTID to its set only when the next transaction begins, so a position taken
  // right after a DDL would replay it on resume; add the group's GTID ourselves.
  let groupGtid: { mariadb?: { domainId: number; serverId: number; seqNo: number | string }; mysql?: string } = {};
  const realPositionAfterDdl = (pos: number): string => {
    const base = client.gtidSet;
    let gtid = base;
    try {
      if (groupGtid.mariadb && base !== undefined) {
        const p = MariadbGtidPosition.parse(base);
        p.add(groupGtid.mariadb);
        gtid = p.toString();
      } else if (groupGtid.mysql && base !== undefined) {
        const set = GtidSet.parse(base);
        set.add(groupGtid.mysql);
        gtid = set.toString();
      }
    } catch {
      gtid = base;
    }
    return encodePosition({ file, pos, ...(gtid ? { gtid } : {}) });
  };

  // Where each event group ends, and the position a boundary may carry. An XA transaction that is
  // prepared but not yet decided holds its rows back; a checkpoint must never pass its start (a
  // restart re-reads it and holds it again), so while one is undecided every boundary carries the
  // position where the oldest undecided one began.
  // A resume position inside the group that begins there (BinlogPosition.firstApplied): the
  // group's first statement is skipped, its rows read again.
  let firstAppliedAtStart = opts.from.firstApplied === true;
  let groupEnd = encodePosition({ file: opts.from.file, pos: opts.from.pos, ...(opts.from.gtid !== undefined ? { gtid: opts.from.gtid } : {}) });
  const prepared = new Map<string, { spool: EventSpool; start: string }>();
  const boundary = (real: string): string => {
    groupEnd = real;
    for (const p of prepared.values()) if (p.spool.count > 0) return p.start;
    return real;
  };
  const position = (pos: number): string => boundary(realPosition(pos));
  const positionAfterDdl = (pos: number): string => boundary(realPositionAfterDdl(pos));
  // The open group's start with its first statement applied (BinlogPosition.firstApplied); held
  // back, as every boundary, at the start of the oldest undecided XA transaction with rows.
  const positionFirstApplied = (): string => {
    for (const p of prepared.values()) if (p.spool.count > 0) return p.start;
    return encodePosition({ ...decodePosition(group.start), firstApplied: true });
  };

  // The open event group: its rows go straight to the queue until a SAVEPOINT (the rows after it
  // may be undone by a ROLLBACK TO, which MariaDB/MySQL binlog instead of removing them when the
  // transaction also changed a non-transactional table) or, for an XA transaction, from its start
  // (its XA PREPARE ends the group before the outcome is known).
  const budget = new SpoolBudget(Math.max(1, Math.floor(opts.maxBufferBytes / 2)));
  let group: { spool?: EventSpool; xid?: string; start: string } = { start: groupEnd };
  /** A group begins; its 'begin' goes out with its first event (`push`). */
  const beginGroup = (xid?: string) => {
    group.spool?.discard();
    group = { start: groupEnd, ...(xid !== undefined ? { xid, spool: new EventSpool(budget) } : {}) };
    beginPending = true;
  };
  const emitChange = (ev: Extract<StreamEvent, { type: 'change' }>, bytes: number) => {
    if (group.spool) group.spool.append(ev, bytes);
    else push(ev, bytes);
  };
  /** The group ends and everything it held is applied: its rows, then the boundary. */
  const commitGroup = (spool: EventSpool | undefined, pos: string, timestamp: number) => {
    if (spool && spool.count > 0) {
      flushBegin();
      queue.push(spool, spool.bytesInMemory);
    } else spool?.discard();
    push({ type: 'commit', position: pos, timestamp });
    beginPending = false;
    firstAppliedAtStart = false;
  };

  // Definitions the catalogue had when the stream started, for tables whose definition at the
  // stream's position differs: a change the stream will meet as a statement, or one made outside
  // the binlog (sql_log_bin=0), which only the rows show.
  const outside = new Map(opts.catalogue ? [...opts.catalogue].filter(([name]) => decoders.has(name)) : []);
  const rowsEvent = (evt: RowsEvent & { rows: unknown[] }, kind: 'write' | 'update' | 'delete') => {
    const entry: TableMapEntry | undefined = evt.tableMap[evt.tableId];
    const synced = entry ? nameOf(entry.parentSchema, entry.tableName) : undefined;
    if (synced === undefined) return;
    let dec = decoders.get(synced);
    if (!dec) return;
    // Rows read by their plan (binlog-rows.ts) are values already, in the order of the definition
    // they were read with, which had every column of the table map.
    const readFor = (evt as { tributaryReadFor?: TableSchema }).tributaryReadFor;
    const sample = readFor === undefined ? (evt.rows[0] as Record<string, unknown> | undefined) : undefined;
    const image = kind === 'update' ? (sample as { after?: Record<string, unknown> } | undefined)?.after : sample;
    const now = outside.get(synced);
    if (image && now && !fits(dec.schema, image) && fits(now, image)) {
      // The rows have the catalogue's definition and no statement brought it: it changed outside
      // the binlog. The applier goes on only when the target has it too.
      const before = dec.schema;
      outside.delete(synced);
      dec = decoderOf(now);
      decoders.set(now.name, dec);
      push({
        type: 'ddl',
        tables: [now.name],
        statement: `(no statement: the rows of table ${now.name} have columns ${now.columns.map((c) => c.name).join(', ')} since ${describeAt(file, evt.nextPosition)}; its definition changed outside the binlog)`,
        position: lastPosition,
        before: new Map([[now.name, before]]),
        after: new Map([[now.name, now]]),
        unsupported: 'a definition changed outside the binlog (a statement run with sql_log_bin=0) has no statement to apply to the target',
      });
    }
    const { schema, codecs } = dec;
    if (readFor !== undefined && readFor !== schema) {
      throw new TributaryError(ErrorCode.STREAM_FAILED, `binlog rows of table ${schema.name} at ${describeAt(file, evt.nextPosition)} were read with another definition of the table than the one current when they were applied; nothing was applied. Restart: tributary resumes from its checkpoint`);
    }
    const toRow = readFor !== undefined ? (row: unknown): Value[] => row as Value[] : (obj: Record<string, unknown>): Value[] => {
      const row = new Array<Value>(codecs.length);
      for (let i = 0; i < codecs.length; i++) {
        const col = schema.columns[i];
        if (!col || !(col.name in obj)) {
          throw new TributaryError(ErrorCode.DDL_UNSUPPORTED, `binlog row of table ${schema.name} has no column '${col?.name}'; the table changed while tributary ran. Restart to pick up the new definition`);
        }
        row[i] = (codecs[i] as ColumnCodec).fromBinlog(obj[col.name]);
      }
      return row;
    };
    const keyOf = (row: Value[]) => rowKey(schema, row);
    // Old images read for their key only (binlog-rows.ts readKey) go out as keys, without `before`.
    const wholeOld = (evt as { tributaryOldWhole?: boolean }).tributaryOldWhole !== false;
    // A keyless table's UPDATE is always a delete of the old image plus an insert of the new one:
    // an upsert alone would insert a second row.
    const keyless = isKeyless(schema);
    const conv = opts.documents;
    // A new image as the stream emits it: its document, read as one (binlog-rows.ts readDocument)
    // or rendered here from the values zongji decoded (the main thread then neither decodes the
    // values nor renders them: StreamRequest.documents), or its values.
    const upsert = (image: unknown, doc: boolean): { change: Change; bytes: number } => {
      if (image instanceof DocumentImage) return { change: { kind: 'upsert', table: schema.name, key: keyOf(image.row), doc: image.doc }, bytes: 64 + image.doc.length };
      const row = toRow(image as Record<string, unknown>);
      if (doc && conv) return { change: { kind: 'upsert', table: schema.name, key: keyOf(row), doc: rowJson((out) => writeRow(schema, row, conv, out)) }, bytes: rowBytes(row) };
      return { change: { kind: 'upsert', table: schema.name, key: keyOf(row), row }, bytes: rowBytes(row) };
    };
    for (const r of evt.rows) {
      if (kind === 'update') {
        const u = r as { before: Record<string, unknown>; after: unknown };
        const before = toRow(u.before);
        const oldKey = keyOf(before);
        const { change, bytes } = upsert(u.after, !wholeOld);
        // The binlog does not carry what InnoDB's cascades did: `before` lets the applier redo them.
        if (keyless || !sameKey(oldKey, change.key)) emitChange({ type: 'change', change: { kind: 'delete', table: schema.name, key: oldKey } }, 64);
        emitChange(wholeOld ? { type: 'change', change, op: 'update', before } : { type: 'change', change, op: 'update' }, bytes + rowBytes(before));
      } else if (kind === 'write') {
        const { change, bytes } = upsert(r, !keyless);
        emitChange({ type: 'change', change, op: 'insert' }, bytes);
      } else {
        const row = toRow(r as Record<string, unknown>);
        const change: Change = { kind: 'delete', table: schema.name, key: keyOf(row) };
        emitChange(wholeOld ? { type: 'change', change, op: 'delete', before: row } : { type: 'change', change, op: 'delete' }, rowBytes(row));
      }
    }
  };

  const onQuery = (evt: AnyBinlogEvent & { query: string; schema: string }) => {
    const sql = evt.query;
    if (/^\s*BEGIN\b/i.test(sql)) {
      beginGroup();
      return;
    }
    const xa = XA_STATEMENT.exec(sql);
    if (xa) {
      const verb = (xa[1] as string).toUpperCase();
      const xid = xidKey(xa[4] ?? '1', Buffer.from(xa[2] ?? '', 'hex'), Buffer.from(xa[3] ?? '', 'hex'));
      if (verb === 'START' || verb === 'BEGIN') {
        // MySQL: XA START is a query event; MariaDB announces the XA in its GTID event instead.
        if (group.xid !== xid) beginGroup(xid);
      } else if (verb === 'COMMIT') {
        if (/\bONE\s+PHASE\b/i.test(sql) && group.xid === xid) {
          // XA COMMIT … ONE PHASE: the group ends committed, like a COMMIT.
          const spool = group.spool;
          group = { start: groupEnd };
          commitGroup(spool, position(evt.nextPosition), commitTime(evt));
          return;
        }
        const p = prepared.get(xid);
        prepared.delete(xid);
        if (!p) opts.logger.warn({ xid: xa[0] }, 'XA COMMIT of a transaction prepared before the stream began: its rows were not read here (they are in the copy only if a chunk read them after this commit); run tributary verify --repair to be sure');
        group = { start: groupEnd };
        commitGroup(p?.spool, position(evt.nextPosition), commitTime(evt));
      } else if (verb === 'ROLLBACK') {
        prepared.get(xid)?.spool.discard();
        prepared.delete(xid);
        group = { start: groupEnd };
        push({ type: 'commit', position: position(evt.nextPosition), timestamp: commitTime(evt) });
      }
      // XA END only closes the statement list; XA PREPARE ends the group (its own event).
      return;
    }
    const savepoint = SAVEPOINT.exec(sql);
    if (savepoint) {
      group.spool ??= new EventSpool(budget);
      group.spool.mark(unquote(savepoint[1] as string));
      return;
    }
    const rollbackTo = ROLLBACK_TO.exec(sql);
    if (rollbackTo) {
      // Only a real transaction end is a boundary: ROLLBACK TO undoes the rows after the savepoint
      // and the transaction goes on.
      const name = unquote(rollbackTo[1] as string);
      if (!group.spool?.truncate(name)) {
        throw new TributaryError(ErrorCode.STREAM_FAILED, `the binlog has ROLLBACK TO SAVEPOINT ${name} without its SAVEPOINT in the same transaction (${describeAt(file, evt.nextPosition)}); tributary cannot tell which rows it undoes and stopped before applying them. Report this binlog`);
      }
      return;
    }
    // ROLLBACK is binlogged only after changes to non-transactional tables, which stay done.
    if (/^\s*(COMMIT|ROLLBACK)\b/i.test(sql)) {
      const spool = group.spool;
      group = { start: groupEnd };
      commitGroup(spool, position(evt.nextPosition), commitTime(evt));
      return;
    }
    if (!DDL.test(sql)) return;
    // First in its group (nothing of the group pushed yet): a schema change between transactions,
    // checkpointed at the position before the group, so a restart there reads the group's rows
    // again. The statement is then read again too: a CREATE TABLE of a table followed since is
    // that replay, and a no-op.
    const first = beginPending;
    if (first && firstAppliedAtStart) {
      // The resume position says this statement was applied before the restart.
      firstAppliedAtStart = false;
      return;
    }
    beginHeld = first;
    try {
      onDdl(evt, sql, first ? positionFirstApplied() : positionAfterDdl(evt.nextPosition), first);
    } finally {
      beginHeld = false;
    }
  };

  const onDdl = (evt: AnyBinlogEvent & { query: string; schema: string }, sql: string, pos: string, first: boolean) => {
    const current = new Map([...decoders].map(([name, d]) => [name, d.schema] as const));
    const idle = () => push({ type: 'heartbeat', position: pos, timestamp: evt.timestamp });
    // A shadow's definition changed (created, altered, dropped): stored with the checkpoint after
    // the statement, nothing applied to the target, so a restart goes on following it.
    const storedNow = (names: readonly string[]) => new Map(names.flatMap((n) => (shadows.stored(n) ? [[n, shadows.stored(n) as TableSchema] as const] : [])));
    const shadowChanged = (names: readonly string[], before: ReadonlyMap<string, TableSchema>) =>
      push({ type: 'ddl', tables: [...names], statement: sql, position: pos, operations: [], before, after: storedNow(names) });
    // An online schema change tool's shadow: created like a synced table, altered, swapped in.
    const made = shadows.created(sql, evt.schema, current, nameOf);
    if (made !== undefined) return shadowChanged([made], new Map());
    const known = new Map([...current, ...shadows.definitions()]);
    // An online schema change tool's own tables are never synced, whatever the selection says.
    // A shadow's own CREATE TABLE is read, to follow it.
    const selects = (name: string) =>
      current.has(name) || shadows.has(name) || shadows.baseOf(name, current) !== undefined || (!shadows.isToolTable(name, current) && (opts.selects?.(name) ?? false));
    const parsed = parseDdl(sql, { database: db, currentSchema: evt.schema, tables: known, selects, ...(multi ? { databases: multi } : {}) });
    const created = parsed.operations.length === 1 && parsed.operations[0]?.op === 'create-table' ? parsed.operations[0].table : undefined;
    if (created && parsed.unsupported === undefined && shadows.adopt(created, current)) return shadowChanged([created.name], new Map());
    const shadowsBefore = storedNow(parsed.tables);
    if (shadows.record(parsed.tables, parsed.operations, parsed.after)) return shadowChanged(parsed.tables, shadowsBefore);
    const swap = shadows.swap(parsed.operations);
    if (swap) {
      const real = current.get(swap.table) as TableSchema;
      // The shadow's stored definition goes with the swap.
      const before = new Map([[swap.table, real], [swap.shadow.name, swap.shadow]]);
      // The tools carry the table's foreign keys over to the shadow (pt-online-schema-change) or
      // refuse tables that have any (gh-ost): the real table keeps its own.
      const after: TableSchema = real.foreignKeys ? { ...swap.after, foreignKeys: real.foreignKeys } : swap.after;
      push({ type: 'ddl', tables: [swap.table], statement: sql, position: pos, operations: swap.operations, before, after: new Map([[swap.table, after]]) });
      decoders.set(swap.table, decoderOf(after));
      return;
    }
    if (parsed.tables.length === 0) return idle();
    const only = parsed.operations.length === 1 ? parsed.operations[0] : undefined;
    if (only?.op === 'truncate' && parsed.unsupported === undefined) {
      push({ type: 'truncate', table: only.table, position: pos, timestamp: commitTime(evt) });
      return;
    }
    const before = new Map(parsed.tables.flatMap((name) => (current.has(name) ? [[name, current.get(name) as TableSchema] as const] : [])));
    if (parsed.adopt && parsed.unsupported === undefined) return adopt(sql, pos, first, parsed.tables, parsed.adopt, parsed.operations, before, parsed.after);
    push({ type: 'ddl', tables: parsed.tables, statement: sql, position: pos, operations: parsed.operations, before, after: parsed.after, ...(parsed.unsupported !== undefined ? { unsupported: parsed.unsupported } : {}) });
    // Later rows of these tables decode with their definitions after the statement.
    for (const name of before.keys()) decoders.delete(name);
    for (const [name, table] of parsed.after) follow(name, table);
  };

  /** Later rows of `name` decode with `table`; the dump's table filter lets them through. */
  const follow = (name: string, table: TableSchema) => {
    decoders.set(name, decoderOf(table));
    const own = multi ? splitName(name) : { namespace: db, table: name };
    includeTable(client, own.namespace ?? db, own.table);
  };

  // A statement that brings tables with rows into the selection (ParsedDdl.adopt): their
  // definitions are read from the catalogue, asynchronously, while the events after the statement
  // wait in `deferred` (handled in order once the ddl event is pushed), so no row of them is
  // decoded before its definition is known.
  let deferred: AnyBinlogEvent[] | undefined;
  const adopt = (
    sql: string,
    pos: string,
    first: boolean,
    tables: readonly string[],
    names: readonly string[],
    operations: readonly SchemaOperation[],
    before: ReadonlyMap<string, TableSchema>,
    parsedAfter: ReadonlyMap<string, TableSchema>,
  ) => {
    const describe = opts.describe;
    if (!describe) {
      push({ type: 'ddl', tables: [...tables], statement: sql, position: pos, operations, before, after: parsedAfter, unsupported: `it brings ${names.join(', ')} into the table selection with rows the binlog does not carry, and this source cannot describe tables while streaming: re-copy them` });
      return;
    }
    deferred = [];
    holds.hold('describe');
    void Promise.all(names.map(async (n) => [n, await describe(n)] as const))
      .then((described) => {
        // The statement's events go out before its group's 'begin' when it came first (onQuery).
        beginHeld = first;
        const missing = described.filter(([, t]) => t === undefined).map(([n]) => n);
        // A table without a key is copied whole at the stream's start position only: not here.
        const keyless = described.filter(([, t]) => t !== undefined && isKeyless(t)).map(([n]) => n);
        const after = new Map(parsedAfter);
        const created: SchemaOperation[] = [];
        for (const [name, t] of described) {
          if (!t) continue;
          // The catalogue is now, which may be past this statement: a later statement on the
          // table is parsed against this definition (and stops the sync where it cannot apply),
          // and a row that does not fit it stops the sync (rowsEvent); see docs/sync.md.
          const table = { ...t, name };
          after.set(name, table);
          created.push({ op: 'create-table', table });
        }
        if (keyless.length > 0) {
          push({ type: 'ddl', tables: [...tables], statement: sql, position: pos, operations, before, after: parsedAfter, unsupported: `it brings ${keyless.join(', ')} into the table selection, a table without a primary key, which is copied only at the sync's start: re-copy them (restart with --force, or a new sync)` });
        } else if (missing.length > 0) {
          push({ type: 'ddl', tables: [...tables], statement: sql, position: pos, operations, before, after: parsedAfter, unsupported: `it brings ${missing.join(', ')} into the table selection, and the source catalogue has no such table now (a later statement dropped or renamed it): re-copy them once they exist` });
        } else {
          push({ type: 'ddl', tables: [...tables], statement: sql, position: pos, operations: [...operations, ...created], before, after, adopt: [...names] });
          for (const name of before.keys()) decoders.delete(name);
          for (const [name, table] of after) follow(name, table);
        }
        beginHeld = false;
        opts.logger.info({ tables: names }, 'tables entering the selection described from the source catalogue: their rows are copied while the stream runs');
        const waiting = deferred ?? [];
        deferred = undefined;
        for (let i = 0; i < waiting.length; i++) {
          if (queue.failed) return;
          if (deferred !== undefined) {
            // Another such statement: the rest waits behind it.
            (deferred as AnyBinlogEvent[]).push(...waiting.slice(i));
            return;
          }
          handle(waiting[i] as AnyBinlogEvent);
        }
        if (deferred === undefined) holds.release('describe');
      })
      .catch((err: unknown) => fail(err as Error));
  };

  // When each event deferred behind a schema change was received (see commitTime).
  const receivedAt = new WeakMap<AnyBinlogEvent, number>();
  /**
   * The source's commit time of a transaction's last event, in ms. Its header holds whole seconds
   * only; the dump thread sends a transaction within milliseconds of its commit, so the time it
   * was received, kept within the header's second, is the commit time to that precision while the
   * stream is caught up, and the end of the header's second when it was read later (a backlog, a
   * paused connection). The lag and the end-to-end latency are measured from it.
   */
  const commitTime = (evt: AnyBinlogEvent): number => {
    const at = receivedAt.get(evt) ?? Date.now();
    return Math.max(evt.timestamp, Math.min(at, evt.timestamp + 999));
  };

  const handle = (evt: AnyBinlogEvent) => {
    try {
      switch (evt.getEventName()) {
        case 'rotate':
          file = (evt as { binlogName: string }).binlogName;
          break;
        case 'tablemap': {
          const tm = evt as unknown as { tableMap: Record<number, ZongjiTableMapEntry>; tableId: number };
          keepSpatialBytes(tm.tableMap[tm.tableId]);
          break;
        }
        case 'xaprepare': {
          const x = evt as unknown as { onePhase: boolean; xidFormatId: number; xidGtrid: Buffer; xidBqual: Buffer };
          const xid = xidKey(String(x.xidFormatId), x.xidGtrid, x.xidBqual);
          const spool = group.spool;
          const start = group.start;
          group = { start: groupEnd };
          if (x.onePhase) {
            commitGroup(spool, position(evt.nextPosition), commitTime(evt));
            break;
          }
          // Prepared, not decided: hold its rows until XA COMMIT (apply) or XA ROLLBACK (discard).
          if (spool && spool.count > 0) {
            prepared.get(xid)?.spool.discard();
            prepared.set(xid, { spool, start });
          } else spool?.discard();
          push({ type: 'commit', position: position(evt.nextPosition), timestamp: commitTime(evt) });
          break;
        }
        case 'mariadbgtid': {
          const g = evt as unknown as { standalone: boolean; domainId: number; serverId: number; seqNo: number | string; preparedXa?: boolean; xidFormatId?: number; xidGtrid?: Buffer; xidBqual?: Buffer };
          groupGtid = { mariadb: { domainId: g.domainId, serverId: g.serverId, seqNo: g.seqNo } };
          beginGroup(g.preparedXa === true && g.xidGtrid ? xidKey(String(g.xidFormatId), g.xidGtrid, g.xidBqual ?? Buffer.alloc(0)) : undefined);
          // A standalone group (a DDL statement) has no transaction to begin.
          if (g.standalone) beginPending = false;
          break;
        }
        case 'gtid':
          groupGtid = { mysql: (evt as { gtid: string }).gtid };
          break;
        case 'query':
          onQuery(evt as AnyBinlogEvent & { query: string; schema: string });
          break;
        case 'xid': {
          const spool = group.spool;
          group = { start: groupEnd };
          commitGroup(spool, position(evt.nextPosition), commitTime(evt));
          break;
        }
        case 'writerows':
          rowsEvent(evt as RowsEvent & { rows: unknown[] }, 'write');
          break;
        case 'updaterows':
          rowsEvent(evt as RowsEvent & { rows: unknown[] }, 'update');
          break;
        case 'deleterows':
          rowsEvent(evt as RowsEvent & { rows: unknown[] }, 'delete');
          break;
        default:
          break;
      }
    } catch (err) {
      fail(err as Error);
    }
  };
  client.on('binlog', (evt: AnyBinlogEvent) => {
    // After a failure nothing more is read: delivery stops at the failed event.
    if (queue.failed) return;
    if (deferred !== undefined) {
      receivedAt.set(evt, Date.now());
      deferred.push(evt);
    } else handle(evt);
  });
  // The first failure ends reading: the client stops, so no later event (a commit after the failed
  // change) can be queued, and the queue hands out nothing past it (EventQueue.fail).
  const fail = (err: Error) => {
    if (queue.failed) return;
    queue.fail(err);
    client.removeAllListeners('binlog');
  };
  client.on('error', (err: Error) => fail(binlogStreamError(err, opts.from, opts.serverId)));

  const onAbort = () => queue.notify();
  signal.addEventListener('abort', onAbort);
  const start: Record<string, unknown> = {
    serverId: opts.serverId,
    includeEvents: ['rotate', 'mariadbgtid', 'gtid', 'query', 'xid', 'xaprepare', 'tablemap', 'writerows', 'updaterows', 'deleterows'],
    includeSchema: includeSchema(db, multi, opts.tables),
  };
  const watch = watchDump(client, start as { includeEvents: string[] }, {
    timeoutMs: opts.timeoutMs,
    where: describeDsn(opts.dsn),
    onLost: (err) => {
      opts.logger.warn({ err: err.message }, 'binlog connection lost');
      queue.fail(err);
    },
  });
  // The server answered the dump's preamble, or sent a heartbeat (it has nothing after the last
  // boundary): no new position, only a sign of life and the promise of the next one within two
  // heartbeat periods (one may come late). From 'ready' on, silence shows in the lag.
  const alive = () => push({ type: 'heartbeat', position: lastPosition, timestamp: Date.now(), nextWithinMs: 2 * watch.heartbeatMs });
  client.on('ready', alive);
  client.on('binlog', (evt: AnyBinlogEvent) => {
    if (evt.getEventName() === 'heartbeat') alive();
  });
  if (opts.useGtid && opts.from.gtid !== undefined) start.gtidSet = opts.from.gtid;
  else {
    start.filename = opts.from.file;
    start.position = opts.from.pos;
  }
  opts.logger.debug({ from: opts.from, serverId: opts.serverId }, 'binlog stream starting');
  client.start(start);

  try {
    for (;;) {
      const items = await queue.takeRun(() => signal.aborted);
      if (items === undefined) return;
      let run: StreamEvent[] = [];
      for (const item of items) {
        if (!(item instanceof EventSpool)) {
          run.push(item);
          continue;
        }
        // A spool's changes are read back a run at a time: a big transaction is never in memory whole.
        for (const ev of item.replay()) {
          if (signal.aborted) return;
          run.push(ev);
          if (run.length >= RUN_EVENTS) {
            yield run;
            run = [];
          }
        }
      }
      if (run.length) yield run;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    group.spool?.discard();
    for (const p of prepared.values()) p.spool.discard();
    watch.stop();
    client.off('ready', alive);
    client.removeAllListeners('binlog');
    client.on('error', () => undefined);
    client.stop();
  }
}

/**
 * zongji's table filter: the synced tables per database (the tables of the URL's database, or of
 * each database --databases selected, named `db.table`). A database without synced tables yet is
 * listed with none, so includeTable can add one that starts syncing while streaming.
 */
function includeSchema(db: string, multi: readonly string[] | undefined, tables: readonly TableSchema[]): Record<string, string[]> {
  if (!multi) return { [db]: tables.map((t) => t.name) };
  const out: Record<string, string[]> = Object.fromEntries(multi.map((d) => [d, [] as string[]]));
  for (const t of tables) {
    const { namespace, table } = splitName(t.name);
    if (namespace !== undefined) (out[namespace] ??= []).push(table);
  }
  return out;
}

/**
 * Lets the dump's row events of `table` through zongji's table filter, which it compiles once at
 * start() from `includeSchema` (a Set per database): a table that starts syncing while streaming is
 * added to that Set. (A reconnect starts a new stream from the checkpoint, with the table listed.)
 */
function includeTable(client: ZongJi, db: string, table: string): void {
  const filter = (client as unknown as { _includeSchemaMap?: Map<string, Set<string> | true> })._includeSchemaMap?.get(db);
  if (filter instanceof Set) filter.add(table);
}

function sameKey(a: readonly Value[], b: readonly Value[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (Buffer.isBuffer(x) && Buffer.isBuffer(y)) {
      if (!x.equals(y)) return false;
    } else if (x !== y) return false;
  }
  return true;
}
