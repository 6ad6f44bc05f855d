import type pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import type { Logger } from 'pino';
import type { Dsn } from '../../config/dsn.js';
import type { StreamEvent } from '../../core/change.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { isKeyless, rowKey, type Column, type TableSchema } from '../../core/schema.js';
import { EventQueue } from '../../stream/queue.js';
import { rowBytes, type Value } from '../../core/values.js';
import { clientConfig, connectError } from './connection.js';
import { encodePosition, formatLsn, parseLsn } from './position.js';
import { RelationChangedError, type RelationRecord } from './relations.js';
import type { ColumnType } from './schema.js';
import { codecFor, type TextCodec } from './values.js';

/** What the source and its running stream share about acknowledgements. */
export interface AckState {
  /** The highest position the target committed (sent as flush position in every status update). */
  acked: bigint;
  /** Sends a standby status update now, when a stream runs. */
  send?: (ping: boolean) => void;
}

export interface PgStreamOptions {
  readonly dsn: Dsn;
  readonly slot: string;
  readonly publication: string;
  readonly namespace: string;
  readonly from: bigint;
  readonly tables: readonly TableSchema[];
  /** Catalogue types of the described tables' columns, to notice a changed definition. */
  readonly types: ReadonlyMap<string, readonly ColumnType[]>;
  /** Stop reading the slot while this many bytes of events wait for the consumer. */
  readonly maxBufferBytes: number;
  /** How often to send a status update asking for a keepalive (which becomes a heartbeat when idle). */
  readonly statusIntervalMs: number;
  readonly ack: AckState;
  /**
   * Reads the current values of `columns` of the row with `key` (a plain read), or undefined when
   * no row has it. Used for the one case pgoutput leaves no way to know an unchanged TOAST value:
   * an UPDATE of the primary key under REPLICA IDENTITY DEFAULT.
   */
  readonly readColumns: (table: TableSchema, key: readonly Value[], columns: readonly number[]) => Promise<Value[] | undefined>;
  /**
   * The relation OID each synced table is followed by (relations.ts). A Relation message for one
   * of them under another name or schema, or for another OID under a synced name, stops the
   * stream with RelationChangedError before the change it precedes.
   */
  readonly relations: ReadonlyMap<string, number>;
  /**
   * Column changes found at start (a table whose columns differ from those the sync followed it
   * with when it last ran): delivered as 'ddl' events at `from`, before anything else.
   */
  readonly startDdl?: readonly { readonly table: string; readonly statement: string; readonly record: RelationRecord }[];
  /**
   * Called once the consumer went on past a 'ddl' event (it did not stop there): the table is now
   * followed with `record`'s columns.
   */
  readonly onDdlPassed?: (table: string, record: RelationRecord) => Promise<void>;
  /**
   * Looks in the catalogue for a synced table renamed, moved, dropped or replaced: changes that
   * may never reach the stream (a table created in a synced table's place is not in the
   * publication). Run every `relationCheckMs` while streaming; a result ends the stream with it.
   */
  readonly checkRelations?: (position: string) => Promise<TributaryError | undefined>;
  readonly relationCheckMs?: number;
  readonly logger: Logger;
}

interface Decoder {
  readonly schema: TableSchema;
  readonly codecs: TextCodec[];
  /** Schema columns the current Relation lacks: never written by upserts. */
  readonly missing: ReadonlySet<number>;
}

interface Item {
  ev: StreamEvent;
  bytes: number;
  /** Unchanged TOAST columns of a primary-key update, to read from the source before yielding. */
  fetch?: { readonly schema: TableSchema };
  /** A 'ddl' event's table and its new columns, recorded once the consumer goes on past it. */
  passed?: { readonly table: string; readonly record: RelationRecord };
}

/** The Relation's column list as the catalogue would print it, for messages. */
function describeColumn(c: Pgoutput.RelationColumn): string {
  return `"${c.name}" (type oid ${c.typeOid}${c.typeMod >= 0 ? `, typmod ${c.typeMod}` : ''})`;
}

/**
 * pgoutput decoding with pg-logical-replication's parser, values left as PostgreSQL's text: the
 * parser installs pg's *global* type parsers on every Relation column, so this plugin replaces
 * them on the relation it just parsed (the following row messages use them). Parse failures are
 * returned as values so they end the stream instead of throwing inside the socket's handler.
 */
class RawPgoutputPlugin extends PgoutputPlugin {
  override parse(buffer: Buffer): Pgoutput.Message {
    try {
      const msg = super.parse(buffer);
      if (msg.tag === 'relation') for (const c of msg.columns) c.parser = raw;
      return msg;
    } catch (err) {
      return { tag: 'error', error: err } as unknown as Pgoutput.Message;
    }
  }
}

const raw = (text: unknown) => text;

/** The socket of the library's replication connection (pinned 2.5.0 keeps it there), for backpressure. */
function socketOf(service: LogicalReplicationService): { pause(): void; resume(): void } | undefined {
  return (service as unknown as { _connection?: { stream?: { pause(): void; resume(): void } } })._connection?.stream;
}

export function mapStreamError(err: unknown, opts: Pick<PgStreamOptions, 'dsn' | 'slot' | 'publication' | 'from'>): TributaryError {
  if (err instanceof TributaryError) return err;
  const e = err as { code?: string; message?: string };
  const msg = e.message ?? String(err);
  if (/replication slot .* does not exist/i.test(msg)) {
    return new TributaryError(
      ErrorCode.POSITION_LOST,
      `replication slot ${opts.slot} no longer exists (it was dropped): the changes after LSN ${formatLsn(opts.from)} are gone, and tributary never re-creates a slot silently. Start over with --force; keep max_slot_wal_keep_size large enough that the server does not invalidate the slot`,
      { cause: err },
    );
  }
  if (/can no longer get changes|has been invalidated|cannot read from logical replication slot|requested WAL segment .* has already been removed/i.test(msg)) {
    return new TributaryError(
      ErrorCode.POSITION_LOST,
      `replication slot ${opts.slot} was invalidated (wal_status=lost; the server said: ${msg}): it held more WAL than max_slot_wal_keep_size allows, so the server removed WAL the sync still needed after LSN ${formatLsn(opts.from)}. Raise max_slot_wal_keep_size (or -1 for no limit) and keep the sync running; start over with --force`,
      { cause: err },
    );
  }
  if (/publication .* does not exist/i.test(msg)) {
    return new TributaryError(ErrorCode.SOURCE_SETTING, `publication ${opts.publication} does not exist at the stream's position (${msg}); it must exist before the slot's position: start over with --force`, { cause: err });
  }
  if (e.code === '55006' || /is active for PID/i.test(msg)) {
    return new TributaryError(ErrorCode.STREAM_FAILED, `replication slot ${opts.slot} is in use by another connection (${msg}); stop the other consumer (tributary retries)`, { cause: err, fatal: false });
  }
  if (e.code === '28000' || e.code === '28P01' || e.code === '3D000' || e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND') {
    const c = connectError(err, opts.dsn, 'source replication');
    return new TributaryError(c.code, c.message, { cause: err, fatal: c.code === ErrorCode.CONNECT_FAILED ? false : c.fatal });
  }
  return new TributaryError(ErrorCode.STREAM_FAILED, `PostgreSQL replication stream of slot ${opts.slot} failed: ${msg}`, { cause: err, fatal: false });
}

/**
 * Streams a replication slot through pgoutput as StreamEvents.
 *
 * Acknowledgement: the library's own timer and automatic acknowledgement are off; the slot's
 * flush position is only ever `ack.acked`, which the source raises when the target committed a
 * checkpoint. Status updates carry it on every acknowledgement, when the server asks, and every
 * `statusIntervalMs` (so wal_sender_timeout never fires, even while reading is paused).
 *
 * Idle slots: the walsender decodes all of the cluster's WAL, and while nothing it decodes is
 * published it sends keepalives carrying how far it has read. Between transactions such a
 * keepalive is a safe resume point (every transaction that committed before it has been
 * delivered), so it becomes a 'heartbeat' event; the applier checkpoints it and acknowledges
 * it, and the slot's confirmed_flush_lsn, then its restart_lsn (at the next running-transactions
 * record, which the server logs at least every 15 s and at checkpoints), follow the WAL end
 * instead of holding WAL for the unpublished writes. The periodic status update asks for a
 * keepalive, so one comes even when the server would not send it by itself.
 */
export async function* streamPgoutput(opts: PgStreamOptions, signal: AbortSignal): AsyncGenerator<StreamEvent> {
  const byName = new Map(opts.tables.map((t) => [t.name, t]));
  const decoders = new Map<number, Decoder | null>();

  const service = new LogicalReplicationService(clientConfig(opts.dsn) as pg.ClientConfig, {
    acknowledge: { auto: false, timeoutSeconds: 0 },
  });
  const plugin = new RawPgoutputPlugin({ protoVersion: 1, publicationNames: [opts.publication] });

  const queue = new EventQueue<Item>({
    maxBytes: opts.maxBufferBytes,
    pause: () => {
      const sock = socketOf(service);
      sock?.pause();
      return sock !== undefined;
    },
    resume: () => socketOf(service)?.resume(),
  });
  const push = (item: Item) => queue.push(item, item.bytes);

  let inTxn = false;
  /** Every transaction that commits at or before it has been queued. */
  let lastPos = opts.from;
  let lastEmitted = opts.from;
  let txnTime = Date.now();

  const decoderFor = (rel: Pgoutput.MessageRelation): Decoder | null => {
    const known = decoders.get(rel.relationOid);
    if (known !== undefined) return known;
    return relation(rel);
  };

  const followedBy = new Map([...opts.relations].map(([name, oid]) => [oid, name]));
  /** Where the stream stands, for errors. */
  const standing = () =>
    `nothing of the transaction after LSN ${formatLsn(lastPos)} (slot ${opts.slot}) is applied, and the checkpoint is at or before that position`;

  /** A Relation message: (re)builds the table's decoder and reports a definition the sync cannot follow. */
  const relation = (rel: Pgoutput.MessageRelation): Decoder | null => {
    // The relation a synced table is followed by, under another name or schema (renamed, moved).
    const was = followedBy.get(rel.relationOid);
    if (was !== undefined && (rel.schema !== opts.namespace || rel.name !== was)) {
      throw new RelationChangedError({
        namespace: opts.namespace,
        table: was,
        oid: rel.relationOid,
        now: { oid: rel.relationOid, schema: rel.schema, name: rel.name },
        seen: "in the replication stream (pgoutput's Relation message)",
        position: standing(),
      });
    }
    const schema = rel.schema === opts.namespace ? byName.get(rel.name) : undefined;
    if (!schema) {
      decoders.set(rel.relationOid, null);
      return null;
    }
    // Another relation under a synced name (dropped and created again, or renamed into it).
    const followed = opts.relations.get(schema.name);
    if (followed !== undefined && followed !== rel.relationOid) {
      throw new RelationChangedError({
        namespace: opts.namespace,
        table: schema.name,
        oid: followed,
        replacedBy: rel.relationOid,
        seen: "in the replication stream (pgoutput's Relation message)",
        position: standing(),
      });
    }
    const types = opts.types.get(schema.name);
    const relCols = new Map(rel.columns.map((c) => [c.name, c]));
    const names = new Set(schema.columns.map((c) => c.name));
    const changes: string[] = [];
    for (const c of rel.columns) if (!names.has(c.name)) changes.push(`column ${describeColumn(c)} added`);
    const missing = new Set<number>();
    schema.columns.forEach((c, i) => {
      const rc = relCols.get(c.name);
      if (!rc) {
        missing.add(i);
        changes.push(`column "${c.name}" (${c.columnType}) dropped or renamed`);
        return;
      }
      const t = types?.[i];
      if (t && (t.oid !== rc.typeOid || t.typmod !== rc.typeMod)) changes.push(`column "${c.name}" changed type from ${c.columnType} to ${describeColumn(rc)}`);
    });
    const dec: Decoder = { schema, codecs: schema.columns.map((c) => codecFor(c)), missing };
    decoders.set(rel.relationOid, dec);
    if (changes.length) {
      // Positioned before the transaction holding the first row with the new definition, so a
      // restarted sync (with the table re-described) decodes that transaction again.
      push({
        ev: { type: 'ddl', tables: [schema.name], statement: `ALTER TABLE "${schema.name}": ${changes.join('; ')} (seen in pgoutput's Relation message)`, position: encodePosition({ slot: opts.slot, lsn: lastPos }) },
        bytes: 256,
        passed: { table: schema.name, record: { oid: rel.relationOid, columns: rel.columns.map((c) => [c.name, c.typeOid, c.typeMod] as const) } },
      });
    }
    return dec;
  };

  /** Decodes a tuple into the schema's columns; `unchanged` collects columns the tuple has no value for. */
  const decodeTuple = (dec: Decoder, tuple: Record<string, unknown>, unchanged?: number[]): Value[] => {
    const cols = dec.schema.columns;
    const row = new Array<Value>(cols.length);
    for (let i = 0; i < cols.length; i++) {
      const v = dec.missing.has(i) ? undefined : tuple[(cols[i] as Column).name];
      if (v === undefined) {
        if (!unchanged) throw new Error(`no value for column ${(cols[i] as Column).name} of ${dec.schema.name}`);
        unchanged.push(i);
        row[i] = null;
      } else row[i] = (dec.codecs[i] as TextCodec)(v as string | null);
    }
    return row;
  };

  // The old key from a replica identity tuple: the key columns, or every column of a keyless
  // table (REPLICA IDENTITY FULL, which check and preflight ask of such a table).
  const keyFrom = (dec: Decoder, tuple: Record<string, unknown>): Value[] => {
    const keyless = isKeyless(dec.schema);
    return (keyless ? dec.schema.columns.map((_, i) => i) : dec.schema.primaryKey).map((i) => {
      const c = dec.schema.columns[i] as Column;
      const v = tuple[c.name];
      if (v === undefined) {
        throw new Error(
          keyless
            ? `the replica identity of ${dec.schema.name}, a table without a key, carries no value for column ${c.name}; ALTER TABLE ${dec.schema.name} REPLICA IDENTITY FULL`
            : `the replica identity of ${dec.schema.name} carries no value for primary key column ${c.name}`,
        );
      }
      return (dec.codecs[i] as TextCodec)(v as string | null);
    });
  };

  const onMessage = (msg: Pgoutput.Message | { tag: 'error'; error: unknown }) => {
    switch (msg.tag) {
      case 'begin':
        inTxn = true;
        txnTime = Number((msg.commitTime as bigint) / 1000n);
        push({ ev: { type: 'begin' }, bytes: 32 });
        return;
      case 'commit': {
        inTxn = false;
        const end = parseLsn(msg.commitEndLsn ?? formatLsn(lastPos));
        if (end > lastPos) lastPos = end;
        lastEmitted = lastPos;
        push({ ev: { type: 'commit', position: encodePosition({ slot: opts.slot, lsn: lastPos }), timestamp: Number((msg.commitTime as bigint) / 1000n) }, bytes: 64 });
        return;
      }
      case 'relation':
        relation(msg);
        return;
      case 'insert': {
        const dec = decoderFor(msg.relation);
        if (!dec) return;
        const unchanged: number[] = [];
        const row = decodeTuple(dec, msg.new, unchanged);
        const key = rowKey(dec.schema, row);
        push({ ev: { type: 'change', change: { kind: 'upsert', table: dec.schema.name, key, row, ...(unchanged.length ? { unchanged } : {}) }, op: 'insert' }, bytes: rowBytes(row) });
        return;
      }
      case 'update': {
        const dec = decoderFor(msg.relation);
        if (!dec) return;
        const unchanged: number[] = [];
        const row = decodeTuple(dec, msg.new, unchanged);
        const oldTuple = msg.old ?? msg.key;
        const keyless = isKeyless(dec.schema);
        if (keyless && !oldTuple) throw new Error(`UPDATE of ${dec.schema.name}, a table without a key, carries no old row; ALTER TABLE ${dec.schema.name} REPLICA IDENTITY FULL`);
        const oldKey = oldTuple ? keyFrom(dec, oldTuple) : undefined;
        // An unchanged (TOASTed) key column keeps the old key's value; a keyless table's old key is
        // the whole old row, so every unchanged column is filled from it.
        for (const [j, i] of (keyless ? dec.schema.columns.map((_, c) => c) : dec.schema.primaryKey).entries()) {
          if (unchanged.includes(i)) {
            if (!oldKey) throw new Error(`UPDATE of ${dec.schema.name} carries no value for primary key column ${dec.schema.columns[i]?.name}`);
            row[i] = oldKey[j] ?? null;
            unchanged.splice(unchanged.indexOf(i), 1);
          }
        }
        const key = rowKey(dec.schema, row);
        // A keyless table's UPDATE is a delete of the old image plus an insert of the new one.
        const moved = oldKey !== undefined && (keyless || !sameKey(oldKey, key));
        if (moved) push({ ev: { type: 'change', change: { kind: 'delete', table: dec.schema.name, key: oldKey } }, bytes: 64 });
        push({
          ev: { type: 'change', change: { kind: 'upsert', table: dec.schema.name, key, row, ...(unchanged.length ? { unchanged } : {}) }, op: 'update' },
          bytes: rowBytes(row),
          // The row left its old key, so no row on the target holds the unchanged values.
          ...(moved && unchanged.length ? { fetch: { schema: dec.schema } } : {}),
        });
        return;
      }
      case 'delete': {
        const dec = decoderFor(msg.relation);
        if (!dec) return;
        const tuple = msg.old ?? msg.key;
        if (!tuple) throw new Error(`DELETE on ${dec.schema.name} carries no replica identity`);
        push({ ev: { type: 'change', change: { kind: 'delete', table: dec.schema.name, key: keyFrom(dec, tuple) }, op: 'delete' }, bytes: 64 });
        return;
      }
      case 'truncate':
        for (const rel of msg.relations) {
          const dec = rel ? decoderFor(rel) : null;
          // Positioned before the transaction: replaying it from there truncates again, which
          // erases whatever else of the table the transaction's replay wrote before.
          if (dec) push({ ev: { type: 'truncate', table: dec.schema.name, position: encodePosition({ slot: opts.slot, lsn: lastPos }), timestamp: txnTime }, bytes: 64 });
        }
        return;
      case 'error':
        throw msg.error instanceof Error ? msg.error : new Error(String(msg.error));
      default:
        return;
    }
  };

  service.on('data', (_lsn: string, msg: Pgoutput.Message) => {
    if (queue.failed) return;
    try {
      onMessage(msg);
    } catch (err) {
      queue.fail(
        err instanceof TributaryError ? err : new TributaryError(ErrorCode.STREAM_FAILED, `cannot decode the replication stream of slot ${opts.slot}: ${(err as Error).message}`, { cause: err, fatal: false }),
      );
    }
  });
  service.on('heartbeat', (lsn: string, timestamp: number, shouldRespond: boolean) => {
    const at = parseLsn(lsn);
    if (!inTxn && at > lastPos) lastPos = at;
    if (!inTxn && lastPos > lastEmitted) {
      lastEmitted = lastPos;
      push({ ev: { type: 'heartbeat', position: encodePosition({ slot: opts.slot, lsn: lastPos }), timestamp }, bytes: 64 });
    }
    if (shouldRespond) sendStatus(false);
  });
  service.on('error', (err: Error) => {
    queue.fail(mapStreamError(err, opts));
  });

  // The library sends write = flush = apply = its argument + 1; the argument is therefore the
  // acknowledged LSN - 1, so the server receives exactly the acknowledged LSN (a transaction whose
  // commit record starts right there must not be skipped on resume).
  const sendStatus = (ping: boolean) => {
    if (opts.ack.acked <= 0n) return;
    service.acknowledge(formatLsn(opts.ack.acked - 1n), ping).catch(() => undefined);
  };
  if (opts.ack.acked < opts.from) opts.ack.acked = opts.from;
  opts.ack.send = sendStatus;
  const timer = setInterval(() => sendStatus(true), opts.statusIntervalMs);
  // Column changes found at start come first, at the stream's start position.
  for (const d of opts.startDdl ?? []) {
    push({ ev: { type: 'ddl', tables: [d.table], statement: `${d.statement} (while the sync was stopped, or after its checkpoint)`, position: encodePosition({ slot: opts.slot, lsn: opts.from }) }, bytes: 256, passed: { table: d.table, record: d.record } });
  }
  let checking = false;
  const checkRelations = opts.checkRelations;
  const relationTimer = checkRelations
    ? setInterval(() => {
        if (checking || queue.failed) return;
        checking = true;
        checkRelations(encodePosition({ slot: opts.slot, lsn: lastPos }))
          .then((err) => {
            if (err) queue.fail(err);
          })
          // A failed look (the source unreachable) is the stream's business: it fails on its own.
          .catch(() => undefined)
          .finally(() => (checking = false));
      }, opts.relationCheckMs ?? 5000)
    : undefined;
  const onAbort = () => queue.notify();
  signal.addEventListener('abort', onAbort);

  opts.logger.debug({ slot: opts.slot, from: formatLsn(opts.from), publication: opts.publication }, 'replication stream starting');
  service.once('start', () => sendStatus(true));
  service.subscribe(plugin, opts.slot, formatLsn(opts.from)).then(
    () => {
      queue.fail(new TributaryError(ErrorCode.STREAM_FAILED, `the replication stream of slot ${opts.slot} ended`, { fatal: false }));
    },
    (err: unknown) => {
      queue.fail(mapStreamError(err, opts));
    },
  );

  try {
    for (;;) {
      const item = await queue.take(() => signal.aborted);
      if (item === undefined) return;
      if (item.fetch && item.ev.type === 'change' && item.ev.change.kind === 'upsert') {
        item.ev = { ...item.ev, change: await fillUnchanged(opts, item.fetch.schema, item.ev.change) };
      }
      yield item.ev;
      // The consumer asks for the next event only once it has dealt with this one: past a 'ddl'
      // event, it went on (the target had the new definition), so the table is followed so now.
      if (item.passed) await opts.onDdlPassed?.(item.passed.table, item.passed.record);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    clearInterval(timer);
    if (relationTimer) clearInterval(relationTimer);
    if (opts.ack.send === sendStatus) delete opts.ack.send;
    service.removeAllListeners('data');
    service.removeAllListeners('heartbeat');
    service.removeAllListeners('error');
    service.on('error', () => undefined);
    await service.destroy().catch(() => undefined);
  }
}

/**
 * The values of an upsert's unchanged columns read from the source now. Reading the current row
 * is safe: every later change of this key follows in the stream and is applied after this one.
 * When the row is gone, a later change removed it, and the change stays partial (writes nothing).
 */
async function fillUnchanged(
  opts: PgStreamOptions,
  schema: TableSchema,
  change: Extract<StreamEvent, { type: 'change' }>['change'] & { kind: 'upsert' },
): Promise<typeof change> {
  const cols = change.unchanged ?? [];
  const values = await opts.readColumns(schema, change.key, cols);
  if (!values) return change;
  const row = change.row.slice();
  cols.forEach((c, j) => (row[c] = values[j] ?? null));
  return { kind: 'upsert', table: change.table, key: change.key, row };
}

function sameKey(a: readonly Value[], b: readonly Value[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (Buffer.isBuffer(x) && Buffer.isBuffer(y)) {
      if (!x.equals(y)) return false;
    } else if (typeof x === 'number' && typeof y === 'number') {
      if (!(x === y || (Number.isNaN(x) && Number.isNaN(y)))) return false;
    } else if (x !== y) return false;
  }
  return true;
}
