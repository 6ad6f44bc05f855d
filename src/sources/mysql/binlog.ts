import ZongJi, { GtidSet, MariadbGtidPosition } from '@vlasky/zongji';
import type { AnyBinlogEvent, RowsEvent, TableMapEntry } from '@vlasky/zongji';
import type { Logger } from 'pino';
import type { Dsn } from '../../config/dsn.js';
import type { Change, StreamEvent } from '../../core/change.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import type { Value } from '../../core/values.js';
import { rowBytes } from '../../core/values.js';
import { EventQueue } from '../../stream/queue.js';
import { connectionOptions } from './connection.js';
import { encodePosition, type BinlogPosition } from './position.js';
import { codecFor, type ColumnCodec } from './values.js';
import { watchDump } from './heartbeat.js';
import { describeDsn } from '../../config/dsn.js';
import { quoteId } from './connection.js';

export interface BinlogOptions {
  readonly dsn: Dsn;
  readonly serverId: number;
  readonly from: BinlogPosition;
  /** Resume by GTID (when the position has one) instead of file+position. */
  readonly useGtid: boolean;
  readonly tables: readonly TableSchema[];
  /** Pause reading the binlog when this many bytes of events wait for the consumer. */
  readonly maxBufferBytes: number;
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
const TRUNCATE = /^\s*TRUNCATE\s+(?:TABLE\s+)?((?:`(?:[^`]|``)+`|[\w$]+)(?:\s*\.\s*(?:`(?:[^`]|``)+`|[\w$]+))?)\s*;?\s*$/is;

/** Identifiers (bare or back-quoted) that a statement names, with their qualifier if any. */
function identifiers(sql: string): { schema?: string; name: string }[] {
  const out: { schema?: string; name: string }[] = [];
  const re = /(`(?:[^`]|``)+`|[A-Za-z_$][\w$]*)(?:\s*\.\s*(`(?:[^`]|``)+`|[A-Za-z_$][\w$]*))?/g;
  const unq = (s: string) => (s.startsWith('`') ? s.slice(1, -1).replace(/``/g, '`') : s);
  for (const m of sql.matchAll(re)) {
    if (m[2] !== undefined) out.push({ schema: unq(m[1] ?? ''), name: unq(m[2]) });
    else out.push({ name: unq(m[1] ?? '') });
  }
  return out;
}

/**
 * Streams a MySQL/MariaDB binlog as StreamEvents through zongji, with backpressure: when the
 * buffered events exceed `maxBufferBytes` the binlog connection is paused until the consumer
 * catches up. Errors end the iteration by throwing; the caller resumes from its checkpoint.
 */
export async function* streamBinlog(opts: BinlogOptions, signal: AbortSignal): AsyncGenerator<StreamEvent> {
  const db = opts.dsn.database;
  const decoders = new Map<string, TableDecoder>();
  const lower = new Map<string, string>();
  for (const t of opts.tables) {
    decoders.set(t.name, { schema: t, codecs: t.columns.map((c) => codecFor(c, quoteId(c.name))) });
    lower.set(t.name.toLowerCase(), t.name);
  }

  const client = new ZongJi(connectionOptions(opts.dsn, { database: undefined }));
  const queue = new EventQueue<StreamEvent>({
    maxBytes: opts.maxBufferBytes,
    pause: () => {
      watch.hold();
      client.connection?.pause();
      return Boolean(client.connection);
    },
    resume: () => {
      watch.release();
      client.connection?.resume();
    },
  });
  let file = opts.from.file;
  // The position of the last boundary pushed: a server heartbeat is caught up there.
  let lastPosition = encodePosition(opts.from);
  const push = (ev: StreamEvent, bytes = 64) => {
    if ('position' in ev) lastPosition = ev.position;
    queue.push(ev, bytes);
  };
  const position = (pos: number): string =>
    encodePosition({ file, pos, ...(client.gtidSet ? { gtid: client.gtidSet } : {}) });
  // zongji adds a DDL's GTID to its set only when the next transaction begins, so a position taken
  // right after a DDL would replay it on resume; add the group's GTID ourselves.
  let groupGtid: { mariadb?: { domainId: number; serverId: number; seqNo: number | string }; mysql?: string } = {};
  const positionAfterDdl = (pos: number): string => {
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

  // Inside an XA group (XA START … XA PREPARE): its rows reach the binlog before it is decided.
  let xaOpen = false;
  const rowsEvent = (evt: RowsEvent & { rows: unknown[] }, kind: 'write' | 'update' | 'delete') => {
    const entry: TableMapEntry | undefined = evt.tableMap[evt.tableId];
    if (!entry || entry.parentSchema !== db) return;
    const dec = decoders.get(entry.tableName);
    if (!dec) return;
    if (xaOpen) throw xaUnsupported(evt.gtid);
    const { schema, codecs } = dec;
    const toRow = (obj: Record<string, unknown>): Value[] => {
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
    const keyOf = (row: Value[]) => schema.primaryKey.map((i) => row[i] ?? null);
    for (const r of evt.rows) {
      if (kind === 'update') {
        const u = r as { before: Record<string, unknown>; after: Record<string, unknown> };
        const before = toRow(u.before);
        const after = toRow(u.after);
        const oldKey = keyOf(before);
        const newKey = keyOf(after);
        const bytes = rowBytes(after);
        if (!sameKey(oldKey, newKey)) push({ type: 'change', change: { kind: 'delete', table: schema.name, key: oldKey } }, 64);
        push({ type: 'change', change: { kind: 'upsert', table: schema.name, key: newKey, row: after }, op: 'update' }, bytes);
      } else {
        const row = toRow(r as Record<string, unknown>);
        const change: Change =
          kind === 'write'
            ? { kind: 'upsert', table: schema.name, key: keyOf(row), row }
            : { kind: 'delete', table: schema.name, key: keyOf(row) };
        push({ type: 'change', change, op: kind === 'write' ? 'insert' : 'delete' }, rowBytes(row));
      }
    }
  };

  const onQuery = (evt: AnyBinlogEvent & { query: string; schema: string }) => {
    const sql = evt.query;
    if (/^\s*BEGIN\b/i.test(sql)) {
      xaOpen = false;
      push({ type: 'begin' });
      return;
    }
    if (/^\s*XA\s+START\b/i.test(sql)) {
      xaOpen = true;
      push({ type: 'begin' });
      return;
    }
    if (/^\s*XA\s+(COMMIT|ROLLBACK)\b/i.test(sql)) {
      push({ type: 'commit', position: position(evt.nextPosition), timestamp: evt.timestamp });
      return;
    }
    // ROLLBACK is binlogged only after changes to non-transactional tables, which stay done.
    if (/^\s*(COMMIT|ROLLBACK)\b/i.test(sql)) {
      push({ type: 'commit', position: position(evt.nextPosition), timestamp: evt.timestamp });
      return;
    }
    if (!DDL.test(sql)) return;
    const touched = new Set<string>();
    for (const id of identifiers(sql)) {
      const schema = id.schema ?? evt.schema;
      if (schema !== db) continue;
      const name = lower.get(id.name.toLowerCase());
      if (name) touched.add(name);
    }
    const pos = positionAfterDdl(evt.nextPosition);
    const trunc = TRUNCATE.exec(sql);
    if (trunc && touched.size === 1) {
      push({ type: 'truncate', table: [...touched][0] as string, position: pos, timestamp: evt.timestamp });
    } else if (touched.size > 0) {
      push({ type: 'ddl', tables: [...touched], statement: sql, position: pos });
    } else {
      push({ type: 'heartbeat', position: pos, timestamp: evt.timestamp });
    }
  };

  client.on('binlog', (evt: AnyBinlogEvent) => {
    try {
      switch (evt.getEventName()) {
        case 'rotate':
          file = (evt as { binlogName: string }).binlogName;
          break;
        case 'xaprepare':
          // The end of an XA group: one phase commits; a prepared group held no synced rows (else
          // it stopped the stream), so it is a boundary with nothing to apply.
          xaOpen = false;
          push({ type: 'commit', position: position(evt.nextPosition), timestamp: evt.timestamp });
          break;
        case 'mariadbgtid': {
          const g = evt as unknown as { standalone: boolean; domainId: number; serverId: number; seqNo: number | string; preparedXa?: boolean };
          xaOpen = g.preparedXa === true;
          groupGtid = { mariadb: { domainId: g.domainId, serverId: g.serverId, seqNo: g.seqNo } };
          if (!g.standalone) push({ type: 'begin' });
          break;
        }
        case 'gtid':
          groupGtid = { mysql: (evt as { gtid: string }).gtid };
          break;
        case 'query':
          onQuery(evt as AnyBinlogEvent & { query: string; schema: string });
          break;
        case 'xid':
          push({ type: 'commit', position: position(evt.nextPosition), timestamp: evt.timestamp });
          break;
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
      queue.fail(err as Error);
    }
  });
  client.on('error', (err: Error) => queue.fail(mapBinlogError(err, opts.from)));

  const onAbort = () => queue.notify();
  signal.addEventListener('abort', onAbort);
  const start: Record<string, unknown> = {
    serverId: opts.serverId,
    includeEvents: ['rotate', 'mariadbgtid', 'gtid', 'query', 'xid', 'xaprepare', 'tablemap', 'writerows', 'updaterows', 'deleterows'],
    includeSchema: { [db]: opts.tables.map((t) => t.name) },
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
      const ev = await queue.take(() => signal.aborted);
      if (ev === undefined) return;
      yield ev;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    watch.stop();
    client.off('ready', alive);
    client.removeAllListeners('binlog');
    client.on('error', () => undefined);
    client.stop();
  }
}

/**
 * Two-phase XA: the rows of a prepared transaction reach the binlog before it is committed or
 * rolled back. Applying them could apply a rollback's changes; holding them needs state that
 * survives restarts. Until that exists, stop rather than guess.
 */
function xaUnsupported(gtid: string | undefined): TributaryError {
  return new TributaryError(
    ErrorCode.STREAM_FAILED,
    `the source binlog holds a two-phase XA transaction${gtid ? ` (GTID ${gtid})` : ''}; tributary does not follow XA PREPARE / XA COMMIT yet and stopped rather than apply changes that may be rolled back. Avoid XA on synced tables (XA COMMIT … ONE PHASE is fine)`,
  );
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

function mapBinlogError(err: Error, from: BinlogPosition): TributaryError {
  const e = err as Error & { code?: string; errno?: number };
  if (e.errno === 1236 || /Could not find first log file|could not find next log|Could not find GTID state|binlog truncated|purged/i.test(e.message)) {
    return new TributaryError(
      ErrorCode.POSITION_LOST,
      `binlog position ${from.file}:${from.pos}${from.gtid ? ` (gtid ${from.gtid})` : ''} is no longer on the source (${e.message}); the binlog was purged. Raise binlog retention (binlog_expire_logs_seconds / expire_logs_days) and start over with --force`,
      { cause: err },
    );
  }
  return new TributaryError(ErrorCode.STREAM_FAILED, `binlog stream failed: ${e.message}`, { cause: err, fatal: false });
}
