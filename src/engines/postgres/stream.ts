import type pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import type { Logger } from 'pino';
import type { Dsn } from '../../config/dsn.js';
import { rowOf, type StreamEvent } from '../../core/change.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { isKeyless, rowKey, type Column, type TableSchema } from '../../core/schema.js';
import { EventQueue } from '../../stream/queue.js';
import { rowBytes, type Value } from '../../core/values.js';
import { clientConfig, connectError } from './connection.js';
import { encodePosition, formatLsn, parseLsn } from './position.js';
import { RelationChangedError, type RelationRecord } from './relations.js';
import { DDL_MESSAGE_PREFIX, DDL_TRIGGER, parseDdlMessage, type DropMessage, type TableMessage, type TriggerColumn, type TriggerForeignKey, type TypeMessage } from './ddl-trigger.js';
import { foreignKeyOperations, indexOperations, pgColumnDefault, relationOperations, triggerOperations, type RelationDiff, type TriggerIndexState } from './relation-diff.js';
import type { SchemaOperation } from '../../core/schema-change.js';
import { foreignKeyOf, type ColumnType, type RelationColumn, type RelationColumnDescription } from './schema.js';
import { quoteIdent } from './sql.js';
import type { SchemaScope } from './scope.js';
import type { VisibleFor } from './visibility.js';
import { codecFor, type TextCodec } from './values.js';
import { findUserType, userTypeChangeUnsupported, userTypeChangeWords, withUserType } from './user-type-diff.js';
import type { UserType } from '../../core/user-types.js';

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
  /** The synced schemas: a relation (schema, name) is the synced table scope.nameOf names, if any. */
  readonly scope: SchemaScope;
  readonly from: bigint;
  /** The schema change step of the start position (position.ts), when it is one. */
  readonly fromStep?: number;
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
   * Describes a Relation message's columns (schema.ts describeRelationColumns): called, off the
   * socket's handler, for a Relation message of a synced table whose columns may differ from the
   * definition the table is followed with.
   */
  readonly describeRelation: (tableOid: number, columns: readonly RelationColumn[]) => Promise<RelationColumnDescription[]>;
  /**
   * A synced table as the catalogue has it now (undefined: no such table). Once the stream is
   * first caught up, every synced table is compared with it: a column change the WAL showed no
   * Relation message for (made while the sync was stopped, or since, with no row written after
   * it) is a 'ddl' event there.
   */
  readonly describeNow: (table: string) => Promise<CatalogueTable | undefined>;
  /**
   * Read the event trigger's messages (ddl-trigger.ts): each synced table's columns as the last
   * message (or, before the first, the catalogue when the stream started: `triggerColumns`) gave
   * them, to find renames by attribute number. Absent: Relation messages only.
   */
  readonly trigger?: { readonly columns: ReadonlyMap<string, readonly TriggerColumn[]> };
  /**
   * Whether the sync's table selection (--tables) takes a table of this name: a synced table the
   * trigger reports renamed is followed under its new name when it does, and stops the sync when
   * it does not. Default: none.
   */
  readonly selects?: (name: string) => boolean;
  /**
   * Brings a table the selection takes, created (or renamed in) while streaming, into the sync: adds
   * it to the publication and describes it from the catalogue now (after the publication change,
   * so every row the stream does not carry is in the catalogue by then). Returns its description,
   * or why it cannot be adopted, or `ignore` for a table the selection does not choose from (a
   * partition, tributary's own). Absent: such a table stops the sync.
   */
  readonly adopt?: (
    table: string,
  ) => Promise<{ readonly schema: TableSchema; readonly types: readonly ColumnType[]; readonly oid: number } | { readonly unsupported: string } | { readonly ignore: true }>;
  /**
   * A user type as the catalogue describes it now (user-types.ts describeTypeRefs), by its OID:
   * the trigger reports ALTER TYPE and ALTER DOMAIN by it. Undefined: no longer there, or not a
   * user type. Absent: type changes are not followed (the trigger's type messages are ignored).
   */
  readonly describeType?: (oid: number) => Promise<UserType | undefined>;
  /**
   * Resolves once transaction `xid` (a Begin message's) is visible to the reads above: the
   * catalogue's (describeRelation, describeType, adopt; `what` 'describe') and readColumns ('read-row').
   * The server sends a transaction as soon as its commit record is flushed, which may be before
   * the committing session has ended it for other sessions' snapshots: a read then would see the
   * source as it was before the transaction (a type's change found unchanged and dropped, a
   * created table not found, a row it moved to a new key not there yet, and so its change left
   * partial: lost).
   */
  readonly visible?: (xid: number, what?: VisibleFor) => Promise<void>;
  /** The source's WAL flush position now: the catalogue read after it is the catalogue at a keepalive at or past it. */
  readonly walFlushed: () => Promise<bigint>;
  /**
   * Called once the consumer went on past a 'ddl' event (it did not stop there): the table is now
   * followed with `record`'s columns (undefined: it was dropped), under the name `table`, which was
   * `renamedFrom` before the event when that is set.
   */
  readonly onDdlPassed?: (table: string, record: RelationRecord | undefined, renamedFrom?: string) => Promise<void>;
  /**
   * Looks in the catalogue for a synced table renamed, moved, dropped or replaced: changes that
   * may never reach the stream (a table created in a synced table's place is not in the
   * publication). Run every `relationCheckMs` while streaming; a result ends the stream with it.
   */
  readonly checkRelations?: (position: string) => Promise<TributaryError | undefined>;
  readonly relationCheckMs?: number;
  readonly logger: Logger;
}

/** A synced table in the catalogue now: its relation, its columns as a Relation message names them, and as they are described. */
export interface CatalogueTable {
  readonly oid: number;
  readonly relation: readonly RelationColumn[];
  readonly columns: readonly RelationColumnDescription[];
}

/**
 * How rows of one relation are decoded. A decoder built from a Relation message that may change
 * the table's definition is `ready` only once the consumer has described the message's columns
 * (describeRelation, async): rows that come before then are decoded when the consumer takes them,
 * by which time it is.
 */
interface Decoder {
  schema: TableSchema;
  codecs: TextCodec[];
  ready: boolean;
  /**
   * The table left the sync before this decoder's definition was known (an adopted table the
   * source then said is none the selection takes, e.g. a partition): what came through it, and
   * through every decoder built on it, is dropped as a forgotten table's rows are.
   */
  ignored?: boolean;
}

/** A Relation message to describe on the consumer's side before the rows after it. */
interface Resolve {
  readonly dec: Decoder;
  /** The decoder of the table's previous Relation message: its definition (resolved by then) is the one before. */
  readonly prev: Decoder;
  readonly oid: number;
  readonly table: string;
  readonly columns: readonly RelationColumn[];
  /** The position before the transaction the message is in. */
  readonly at: bigint;
  /** From the event trigger's message: its command tag, the table's columns before (when known) and after it, and its indexes and foreign keys after it (absent: an older trigger's message). */
  readonly trigger?: {
    readonly tag: string;
    readonly was: readonly TriggerColumn[] | undefined;
    readonly now: readonly TriggerColumn[];
    readonly indexes?: readonly TriggerIndexState[];
    readonly foreignKeys?: readonly TriggerForeignKey[];
  };
  /** The trigger reported the table under this new name (ALTER TABLE … RENAME TO): a rename-tables operation after the others. */
  readonly renameTo?: string;
  /** Rows of the transaction came before it: a change it makes is cut in between (see onMessage 'relation'). */
  readonly split?: { readonly timestamp: number };
  /** The transaction the message is in (see PgStreamOptions.visible). */
  readonly xid: number;
}

interface Item {
  ev: StreamEvent;
  bytes: number;
  /** Unchanged TOAST columns of a primary-key update, to read from the source before yielding, once transaction `xid` is visible. */
  fetch?: { readonly schema: TableSchema; readonly xid: number };
  /** A 'ddl' event's table and its new columns (none: dropped), recorded once the consumer goes on past it. */
  passed?: { readonly table: string; readonly record: RelationRecord | undefined; readonly renamedFrom?: string };
  /** A table-level change the trigger reported, turned into its 'ddl' event when the consumer takes it (the decoder's definition is known by then). */
  table?: TableChange;
  /** A Relation message to describe first; `ev` is unused then. */
  resolve?: Resolve;
  /** Row events of a decoder not ready when they came: built when the consumer takes them. */
  lazy?: () => Item[];
  /** The first caught-up point: compare the catalogue with the definitions followed (see describeNow). */
  catalogue?: Catalogue;
  /** A user type the trigger reported changed, turned into its 'ddl' event when the consumer takes it (see typeChange). */
  userType?: TypeChange;
}

/**
 * A user type changed (ALTER TYPE, ALTER DOMAIN): the synced tables' latest decoders and their
 * columns' defaults (the trigger's last message of each) when the message came.
 */
interface TypeChange {
  readonly tag: string;
  readonly typeOid: number;
  readonly decoders: ReadonlyMap<string, Decoder>;
  readonly defaults: ReadonlyMap<string, ReadonlyMap<string, string | null>>;
  readonly at: bigint;
  readonly split?: { readonly timestamp: number };
  /** The transaction the message is in (see PgStreamOptions.visible). */
  readonly xid: number;
}

/**
 * A synced table dropped, or one of its indexes dropped (the trigger's sql_drop messages), or a
 * table entering the selection: `dec` is the table's latest decoder when the message came, whose
 * definition is known (resolved, or described for an adopted table) once the consumer took this.
 */
type TableChange = { readonly table: string; readonly dec: Decoder; readonly at: bigint; readonly split?: { readonly timestamp: number }; readonly xid: number } & (
  | { readonly kind: 'drop-table'; readonly tag: string }
  /** A table entering the selection: `dec` is its decoder, ready once the consumer described it. */
  | { readonly kind: 'adopt'; readonly tag: string; readonly oid: number; readonly what: string }
  | { readonly kind: 'drop-index'; readonly tag: string; readonly index: string; readonly indexes: readonly TriggerIndexState[] }
);

/** Where the stream was first caught up: each table's decoder and row count then. */
interface Catalogue {
  readonly at: bigint;
  readonly decoders: ReadonlyMap<string, Decoder>;
  readonly rows: ReadonlyMap<string, number>;
}

/**
 * pgoutput decoding with pg-logical-replication's parser, values left as PostgreSQL's text: the
 * parser installs pg's *global* type parsers on every Relation column, so this plugin replaces
 * them on the relation it just parsed (the following row messages use them). Parse failures are
 * returned as values so they end the stream instead of throwing inside the socket's handler.
 */
class RawPgoutputPlugin extends PgoutputPlugin {
  constructor(options: ConstructorParameters<typeof PgoutputPlugin>[0]) {
    super(options);
    const parser = this as unknown as { parser: { readTuple: typeof readTuple; readKeyTuple: typeof readTuple } };
    parser.parser.readTuple = readTuple;
    // A key tuple is read as any other: only its key columns are ever looked at (keyFrom).
    parser.parser.readKeyTuple = readTuple;
  }

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

/** The part of pg-logical-replication's BinaryReader (2.5.0, pinned) readTuple reads with. */
interface TupleReader {
  _b: Buffer;
  _p: number;
  readUint8(): number;
  readInt16(): number;
  readInt32(): number;
  read(n: number): Buffer;
  checkSize(n: number): void;
}

/**
 * A tuple of a row message: its values in the order of its Relation message's columns (text,
 * bytes, null, or undefined for an unchanged TOAST value the message does not carry).
 */
export type Tuple = unknown[];

/**
 * pg-logical-replication's PgoutputParser.readTuple, but the values in an array in the relation's
 * column order (Tuple), not in an object keyed by column name (a dictionary-mode object per row:
 * the largest allocation of a PostgreSQL stream), and each text value read straight from the
 * message's bytes as UTF-8 (Buffer#toString). The library decodes with a TextDecoder, which drops
 * a leading U+FEFF (byte order mark) from every value: a text starting with it lost it on the target.
 */
export function readTuple(reader: TupleReader, { columns }: { columns: readonly { name: string; parser: (v: unknown) => unknown }[] }, unchangedToastFallback?: Tuple | null): Tuple {
  const nfields = reader.readInt16();
  const tuple: Tuple = new Array(nfields);
  for (let i = 0; i < nfields; i++) {
    const kind = reader.readUint8();
    switch (kind) {
      case 0x74: {
        // 't': text
        const n = reader.readInt32();
        reader.checkSize(n);
        const at = reader._p;
        reader._p = at + n;
        tuple[i] = (columns[i] as { parser: (v: unknown) => unknown }).parser(reader._b.toString('utf8', at, at + n));
        break;
      }
      case 0x62: // 'b': binary
        tuple[i] = reader.read(reader.readInt32());
        break;
      case 0x6e: // 'n': null
        tuple[i] = null;
        break;
      case 0x75: // 'u': an unchanged TOAST value
        tuple[i] = unchangedToastFallback?.[i];
        break;
      default:
        throw Error(`unknown attribute kind ${String.fromCharCode(kind)}`);
    }
  }
  return tuple;
}

/** The socket of the library's replication connection (pinned 2.5.0 keeps it there), for backpressure. */
function socketOf(service: LogicalReplicationService): ReplicationSocket | undefined {
  return (service as unknown as { _connection?: { stream?: ReplicationSocket } })._connection?.stream;
}

/** What the stream uses of that socket: backpressure, and pacing its reads (EventQueue.paceRead). */
interface ReplicationSocket {
  pause(): void;
  resume(): void;
  on(event: 'data', listener: () => void): void;
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
export async function* streamPgoutput(opts: PgStreamOptions, signal: AbortSignal): AsyncGenerator<readonly StreamEvent[]> {
  const byName = new Map(opts.tables.map((t) => [t.name, t]));
  const decoders = new Map<number, Decoder | null>();
  /** Per synced table: the decoder of its latest Relation message, and that message's columns. */
  const latest = new Map<string, Decoder>();
  const seen = new Map<string, readonly RelationColumn[]>();
  /** Row messages taken per synced table, to tell whether rows came after the catalogue comparison's place. */
  const rowsPushed = new Map<string, number>();
  let catalogueDue = true;
  const triggerSeen = new Map<string, readonly TriggerColumn[]>(opts.trigger?.columns ?? []);
  for (const t of opts.tables) {
    const dec: Decoder = { schema: t, codecs: t.columns.map((c) => codecFor(c)), ready: true };
    latest.set(t.name, dec);
    const types = opts.types.get(t.name);
    if (types && types.length === t.columns.length) seen.set(t.name, t.columns.map((c, i) => ({ name: c.name, typeOid: types[i]?.oid ?? 0, typmod: types[i]?.typmod ?? -1 })));
  }

  const service = new LogicalReplicationService(clientConfig(opts.dsn) as pg.ClientConfig, {
    acknowledge: { auto: false, timeoutSeconds: 0 },
  });
  const plugin = new RawPgoutputPlugin({ protoVersion: 1, publicationNames: [opts.publication], messages: opts.trigger !== undefined });

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
  /** Pushes a change of the open transaction, after its 'begin' when it is the first. */
  const pushChange = (item: Item) => {
    if (beginDue) {
      beginDue = false;
      push({ ev: { type: 'begin' }, bytes: 32 });
    }
    changedInTxn = true;
    push(item);
  };

  let inTxn = false;
  /** The transaction's 'begin' is sent with its first change, so a schema change before that lies between transactions. */
  let beginDue = false;
  let changedInTxn = false;
  /** Every transaction that commits at or before it has been queued. */
  let lastPos = opts.from;
  let lastEmitted = opts.from;
  /** The last schema change's LSN and step: each change gets a position of its own (position.ts). */
  let ddlAt = { lsn: opts.from, step: opts.fromStep ?? 0 };
  const ddlPosition = (lsn: bigint): string => {
    ddlAt = { lsn, step: ddlAt.lsn === lsn ? ddlAt.step + 1 : 1 };
    return encodePosition({ slot: opts.slot, lsn, step: ddlAt.step });
  };
  let txnTime = Date.now();
  /** The transaction being received (its Begin message's xid). */
  let txnXid = 0;

  const decoderFor = (rel: Pgoutput.MessageRelation): Decoder | null => {
    const known = decoders.get(rel.relationOid);
    if (known !== undefined) return known;
    return relation(rel);
  };

  /** The relation OID each synced table is followed by (opts.relations, then as the trigger's messages rename, drop and create tables). */
  const relations = new Map(opts.relations);
  const followedBy = new Map([...relations].map(([name, oid]) => [oid, name]));
  const selects = opts.selects ?? (() => false);
  const { scope } = opts;
  /** A synced name as statements name it. */
  const q = (name: string) => scope.shown(name);
  /** Per synced table: its secondary indexes as the producer last saw them (the trigger's messages), to find a dropped index's table by its name. */
  const indexesSeen = new Map<string, readonly TriggerIndexState[]>(opts.tables.map((t) => [t.name, (t.indexes ?? []).map((i) => ({ ...i, partial: false }))]));
  /** Where the stream stands, for errors. */
  const standing = () =>
    `nothing of the transaction after LSN ${formatLsn(lastPos)} (slot ${opts.slot}) is applied, and the checkpoint is at or before that position`;

  /** A Relation message: (re)builds the table's decoder and reports a definition the sync cannot follow. */
  const relation = (rel: Pgoutput.MessageRelation): Decoder | null => {
    // The relation a synced table is followed by, under another name or schema (renamed, moved).
    const was = followedBy.get(rel.relationOid);
    if (was !== undefined && scope.nameOf(rel.schema, rel.name) !== was) {
      throw new RelationChangedError({
        namespace: scope.placeOf(was).schema,
        table: was,
        oid: rel.relationOid,
        now: { oid: rel.relationOid, schema: rel.schema, name: rel.name },
        seen: "in the replication stream (pgoutput's Relation message)",
        position: standing(),
      });
    }
    const relName = scope.nameOf(rel.schema, rel.name);
    const schema = relName !== undefined ? byName.get(relName) : undefined;
    if (!schema) {
      decoders.set(rel.relationOid, null);
      return null;
    }
    // Another relation under a synced name (dropped and created again, or renamed into it).
    const followed = relations.get(schema.name);
    if (followed !== undefined && followed !== rel.relationOid) {
      throw new RelationChangedError({
        namespace: scope.placeOf(schema.name).schema,
        table: schema.name,
        oid: followed,
        replacedBy: rel.relationOid,
        seen: "in the replication stream (pgoutput's Relation message)",
        position: standing(),
      });
    }
    const columns = rel.columns.map((c) => ({ name: c.name, typeOid: c.typeOid, typmod: c.typeMod }));
    const last = latest.get(schema.name);
    const seenColumns = seen.get(schema.name);
    if (last && seenColumns && sameRelationColumns(seenColumns, columns)) {
      decoders.set(rel.relationOid, last);
      return last;
    }
    return redefine(schema, rel.relationOid, columns);
  };

  /**
   * The table's columns may differ from the definition followed so far: a new decoder, ready once
   * the consumer described them (types, NOT NULL, defaults) before the rows after this point, which
   * wait for it.
   */
  const redefine = (schema: TableSchema, oid: number, columns: readonly RelationColumn[], trigger?: Resolve['trigger'], renameTo?: string): Decoder => {
    const last = latest.get(schema.name);
    const prev = last ?? { schema, codecs: schema.columns.map((c) => codecFor(c)), ready: true };
    const name = renameTo ?? schema.name;
    if (renameTo !== undefined) {
      // Rows after the rename come under the new name; the old one is no synced table's any more.
      for (const m of [latest, seen, rowsPushed, triggerSeen, indexesSeen] as Map<string, unknown>[]) {
        const v = m.get(schema.name);
        m.delete(schema.name);
        if (v !== undefined) m.set(renameTo, v);
      }
      byName.delete(schema.name);
      byName.set(renameTo, { ...schema, name: renameTo });
      relations.delete(schema.name);
      relations.set(renameTo, oid);
      followedBy.set(oid, renameTo);
    }
    const dec: Decoder = { schema: renameTo !== undefined ? { ...schema, name: renameTo } : schema, codecs: [], ready: false };
    decoders.set(oid, dec);
    latest.set(name, dec);
    seen.set(name, columns);
    const resolve: Resolve = {
      dec,
      prev,
      oid,
      table: schema.name,
      columns,
      at: lastPos,
      xid: txnXid,
      ...(trigger ? { trigger } : {}),
      ...(renameTo !== undefined ? { renameTo } : {}),
      ...(changedInTxn ? { split: { timestamp: txnTime } } : {}),
    };
    push({ ev: { type: 'begin' }, bytes: 256, resolve });
    return dec;
  };

  /**
   * The event trigger's message (ddl-trigger.ts): a table's columns and indexes right after an ALTER
   * TABLE, CREATE/ALTER INDEX or CREATE TABLE, with attribute numbers, under its name then; or a
   * table or index dropped.
   */
  const triggerMessage = (msg: Pgoutput.MessageMessage) => {
    if (msg.prefix !== DDL_MESSAGE_PREFIX || !opts.trigger) return;
    const m = parseDdlMessage(Buffer.from(msg.content).toString('utf8'));
    if (!m) return;
    if (m.dropped !== undefined) return m.dropped === 'table' ? droppedTable(m) : droppedIndex(m);
    if (m.columns === undefined) return changedType(m);
    const table = followedBy.get(m.oid);
    if (table === undefined) return otherTable(m);
    const schema = byName.get(table);
    if (!schema) return;
    // Its name now: undefined when moved (ALTER TABLE … SET SCHEMA) to a schema the sync does not
    // take, which stops the sync as in a sync of one schema; a move between two synced schemas is
    // a rename (scope.ts names it schema.table).
    const now = scope.nameOf(m.schema, m.name);
    if (now === undefined) {
      throw new RelationChangedError({
        namespace: scope.placeOf(table).schema,
        table,
        oid: m.oid,
        now: { oid: m.oid, schema: m.schema, name: m.name },
        seen: `in the replication stream (event trigger ${DDL_TRIGGER}'s message)`,
        position: standing(),
      });
    }
    if (now !== table && !selects(now)) {
      // Renamed out of the selection: the sync stops at the statement (as a MySQL source's does).
      forget(table, m.oid);
      const moved = scope.placeOf(table).schema !== m.schema;
      pushStop(
        [table],
        `ALTER TABLE ${q(table)} ${moved ? `SET SCHEMA ${quoteIdent(m.schema)}` : `RENAME TO ${quoteIdent(m.name)}`} (reported by event trigger ${DDL_TRIGGER})`,
        `the ${moved ? 'move' : 'rename'} moves synced table ${table} to ${now}, which the table selection (--tables) does not take; to go on, ${moved ? 'move' : 'rename'} it back and restart, or start over with --force (copies the tables as they are now)`,
      );
      return;
    }
    const renameTo = now !== table ? now : undefined;
    const was = triggerSeen.get(table);
    triggerSeen.set(table, m.columns);
    indexesSeen.set(table, m.indexes ?? indexesSeen.get(table) ?? []);
    redefine(schema, m.oid, m.columns.map((c) => ({ name: c.name, typeOid: c.typeOid, typmod: c.typmod })), { tag: m.tag, was, now: m.columns, ...(m.indexes ? { indexes: m.indexes } : {}), ...(m.foreignKeys ? { foreignKeys: m.foreignKeys } : {}) }, renameTo);
  };

  /** The producer stops following a synced table: rows of its relation are ignored from here on. */
  const forget = (table: string, oid: number) => {
    for (const m of [latest, seen, rowsPushed, triggerSeen, indexesSeen, byName, relations] as Map<string, unknown>[]) m.delete(table);
    followedBy.delete(oid);
    decoders.set(oid, null);
  };

  /**
   * Pushes a 'ddl' event the sync stops on, at this point of the stream (inside the transaction when
   * changes of it came before: the applier stops there without committing them). Its position is
   * taken when the consumer reaches it, after those of the changes queued before it.
   */
  const pushStop = (tables: string[], statement: string, unsupported: string) => {
    const at = lastPos;
    push({ ev: { type: 'begin' }, bytes: 256, lazy: () => [{ ev: { type: 'ddl', tables, statement, position: ddlPosition(at), unsupported }, bytes: 256 }] });
  };

  /** A synced table dropped (by DROP TABLE, or a DROP SCHEMA … CASCADE). */
  const droppedTable = (m: DropMessage) => {
    const table = followedBy.get(m.oid);
    const dec = table !== undefined ? latest.get(table) : undefined;
    if (table === undefined || !dec) return;
    forget(table, m.oid);
    push({ ev: { type: 'begin' }, bytes: 256, table: { kind: 'drop-table', tag: m.tag, table, dec, at: lastPos, xid: txnXid, ...(changedInTxn ? { split: { timestamp: txnTime } } : {}) } });
  };

  /** A user type changed: every synced table is looked at once the consumer has the type's new description. */
  const changedType = (m: TypeMessage) => {
    if (!opts.describeType) return;
    const defaults = new Map([...triggerSeen].map(([table, cols]) => [table, new Map(cols.map((c) => [c.name, c.defaultSql]))]));
    push({ ev: { type: 'begin' }, bytes: 256, userType: { tag: m.tag, typeOid: m.typeOid, decoders: new Map(latest), defaults, at: lastPos, xid: txnXid, ...(changedInTxn ? { split: { timestamp: txnTime } } : {}) } });
  };

  /** An index dropped by DROP INDEX: its table is the synced one that had an index of that name (a name is unique in its schema). */
  const droppedIndex = (m: DropMessage) => {
    if (!scope.has(m.schema)) return;
    const owner = [...indexesSeen].find(([t, list]) => scope.placeOf(t).schema === m.schema && list.some((i) => i.name === m.name));
    const dec = owner ? latest.get(owner[0]) : undefined;
    if (!owner || !dec) return;
    const [table, list] = owner;
    const indexes = list.filter((i) => i.name !== m.name);
    indexesSeen.set(table, indexes);
    push({ ev: { type: 'begin' }, bytes: 256, table: { kind: 'drop-index', tag: m.tag, table, index: m.name, indexes, dec, at: lastPos, xid: txnXid, ...(changedInTxn ? { split: { timestamp: txnTime } } : {}) } });
  };

  /**
   * A table the sync does not follow: one created under (or renamed into) a name the selection
   * takes enters the selection with rows the WAL may not carry (not in the publication until it is
   * added). Not adopted yet from a PostgreSQL source: the sync stops at the statement, naming it.
   */
  const otherTable = (m: TableMessage) => {
    const name = scope.nameOf(m.schema, m.name);
    if (name === undefined || !selects(name) || byName.has(name)) return;
    // CREATE TABLE reports its primary key's index too (tag CREATE INDEX), in either order.
    const what = m.tag === 'ALTER TABLE' ? 'renamed into the selection' : 'created';
    if (opts.adopt) {
      // Followed from here on under a definition the consumer reads from the catalogue: rows of it
      // (after it joins the publication) wait for that, and later messages of it diff against it.
      const placeholder: TableSchema = { name, columns: [], primaryKey: [], generated: [], engine: 'postgres' };
      const dec: Decoder = { schema: placeholder, codecs: [], ready: false };
      byName.set(name, placeholder);
      relations.set(name, m.oid);
      followedBy.set(m.oid, name);
      decoders.set(m.oid, dec);
      latest.set(name, dec);
      triggerSeen.set(name, m.columns);
      indexesSeen.set(name, m.indexes ?? []);
      push({ ev: { type: 'begin' }, bytes: 256, table: { kind: 'adopt', tag: m.tag, what, table: name, oid: m.oid, dec, at: lastPos, xid: txnXid, ...(changedInTxn ? { split: { timestamp: txnTime } } : {}) } });
      return;
    }
    pushStop(
      [name],
      `${m.tag} ${q(name)} (reported by event trigger ${DDL_TRIGGER})`,
      `table ${name} was ${what} while streaming, and the table selection (--tables) takes it: a PostgreSQL source does not bring a table into a running sync yet; restart the sync (at start it adds the table to its publication and copies it), or leave ${name} out with --tables`,
    );
  };

  /**
   * Where each column of a decoder's schema is in the tuples of a Relation message (by name: -1
   * when the relation has none of that name), made once per decoder, definition and relation (a
   * decoder's definition is replaced in place when its table changes).
   */
  const places = new WeakMap<Decoder, { schema: TableSchema; relation: Pgoutput.MessageRelation; at: Int32Array }>();
  const placesOf = (dec: Decoder, relation: Pgoutput.MessageRelation): Int32Array => {
    const known = places.get(dec);
    if (known && known.relation === relation && known.schema === dec.schema) return known.at;
    const index = new Map(relation.columns.map((c, j) => [c.name, j]));
    const at = Int32Array.from(dec.schema.columns, (c) => index.get(c.name) ?? -1);
    places.set(dec, { schema: dec.schema, relation, at });
    return at;
  };

  /** Decodes a tuple into the schema's columns; `unchanged` collects columns the tuple has no value for. */
  const decodeTuple = (dec: Decoder, relation: Pgoutput.MessageRelation, tuple: Tuple, unchanged?: number[]): Value[] => {
    const cols = dec.schema.columns;
    const at = placesOf(dec, relation);
    const row = new Array<Value>(cols.length);
    for (let i = 0; i < cols.length; i++) {
      const j = at[i] as number;
      const v = j < 0 ? undefined : tuple[j];
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
  const keyFrom = (dec: Decoder, relation: Pgoutput.MessageRelation, tuple: Tuple): Value[] => {
    const keyless = isKeyless(dec.schema);
    const at = placesOf(dec, relation);
    return (keyless ? dec.schema.columns.map((_, i) => i) : dec.schema.primaryKey).map((i) => {
      const c = dec.schema.columns[i] as Column;
      const j = at[i] as number;
      const v = j < 0 ? undefined : tuple[j];
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

  /** The row events of one insert, update or delete message, decoded with `dec` (ready). */
  const rowItems = (dec: Decoder, msg: Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete, xid: number): Item[] => {
    if (dec.ignored) return [];
    const table = dec.schema.name;
    if (msg.tag === 'delete') {
      const tuple = (msg.old ?? msg.key) as Tuple | null;
      if (!tuple) throw new Error(`DELETE on ${table} carries no replica identity`);
      return [{ ev: { type: 'change', change: { kind: 'delete', table, key: keyFrom(dec, msg.relation, tuple) }, op: 'delete' }, bytes: 64 }];
    }
    const unchanged: number[] = [];
    const row = decodeTuple(dec, msg.relation, msg.new as Tuple, unchanged);
    if (msg.tag === 'insert') {
      const key = rowKey(dec.schema, row);
      return [{ ev: { type: 'change', change: { kind: 'upsert', table, key, row, ...(unchanged.length ? { unchanged } : {}) }, op: 'insert' }, bytes: rowBytes(row) }];
    }
    const oldTuple = (msg.old ?? msg.key) as Tuple | null;
    const keyless = isKeyless(dec.schema);
    if (keyless && !oldTuple) throw new Error(`UPDATE of ${table}, a table without a key, carries no old row; ALTER TABLE ${table} REPLICA IDENTITY FULL`);
    const oldKey = oldTuple ? keyFrom(dec, msg.relation, oldTuple) : undefined;
    // An unchanged (TOASTed) key column keeps the old key's value; a keyless table's old key is
    // the whole old row, so every unchanged column is filled from it.
    for (const [j, i] of (keyless ? dec.schema.columns.map((_, c) => c) : dec.schema.primaryKey).entries()) {
      if (unchanged.includes(i)) {
        if (!oldKey) throw new Error(`UPDATE of ${table} carries no value for primary key column ${dec.schema.columns[i]?.name}`);
        row[i] = oldKey[j] ?? null;
        unchanged.splice(unchanged.indexOf(i), 1);
      }
    }
    const key = rowKey(dec.schema, row);
    // A keyless table's UPDATE is a delete of the old image plus an insert of the new one.
    const moved = oldKey !== undefined && (keyless || !sameKey(oldKey, key));
    const items: Item[] = [];
    if (moved) items.push({ ev: { type: 'change', change: { kind: 'delete', table, key: oldKey } }, bytes: 64 });
    items.push({
      ev: { type: 'change', change: { kind: 'upsert', table, key, row, ...(unchanged.length ? { unchanged } : {}) }, op: 'update' },
      bytes: rowBytes(row),
      // The row left its old key, so no row on the target holds the unchanged values.
      ...(moved && unchanged.length ? { fetch: { schema: dec.schema, xid } } : {}),
    });
    return items;
  };

  const onMessage = (msg: Pgoutput.Message | { tag: 'error'; error: unknown }) => {
    switch (msg.tag) {
      case 'begin':
        inTxn = true;
        beginDue = true;
        changedInTxn = false;
        txnTime = Number((msg.commitTime as bigint) / 1000n);
        txnXid = msg.xid;
        return;
      case 'commit': {
        inTxn = false;
        const end = parseLsn(msg.commitEndLsn ?? formatLsn(lastPos));
        if (end > lastPos) lastPos = end;
        lastEmitted = lastPos;
        if (beginDue) push({ ev: { type: 'begin' }, bytes: 32 });
        beginDue = false;
        changedInTxn = false;
        push({ ev: { type: 'commit', position: encodePosition({ slot: opts.slot, lsn: lastPos }), timestamp: Number((msg.commitTime as bigint) / 1000n) }, bytes: 64 });
        return;
      }
      case 'relation':
        relation(msg);
        return;
      case 'message':
        triggerMessage(msg);
        return;
      case 'insert':
      case 'update':
      case 'delete': {
        const dec = decoderFor(msg.relation);
        if (!dec) return;
        rowsPushed.set(dec.schema.name, (rowsPushed.get(dec.schema.name) ?? 0) + 1);
        if (dec.ready) {
          for (const item of rowItems(dec, msg, txnXid)) pushChange(item);
        } else {
          // Decoded once the consumer has described the Relation message before it.
          const size = msg.tag === 'delete' ? 64 : tupleBytes(msg.new as Tuple);
          const xid = txnXid;
          pushChange({ ev: { type: 'begin' }, bytes: size, lazy: () => rowItems(dec, msg, xid) });
        }
        return;
      }
      case 'truncate':
        for (const rel of msg.relations) {
          const dec = rel ? decoderFor(rel) : null;
          // Positioned before the transaction: replaying it from there truncates again, which
          // erases whatever else of the table the transaction's replay wrote before.
          if (!dec) continue;
          const at = lastPos;
          const timestamp = txnTime;
          const truncate = (): Item => ({ ev: { type: 'truncate', table: dec.schema.name, position: encodePosition({ slot: opts.slot, lsn: at }), timestamp }, bytes: 64 });
          // A decoder not ready yet may belong to a table the consumer finds is none of the sync's.
          pushChange(dec.ready ? truncate() : { ev: { type: 'begin' }, bytes: 64, lazy: () => (dec.ignored ? [] : [truncate()]) });
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
    if (!inTxn && catalogueDue) {
      catalogueDue = false;
      push({ ev: { type: 'begin' }, bytes: 256, catalogue: { at: lastPos, decoders: new Map(latest), rows: new Map(rowsPushed) } });
    }
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
  service.once('start', () => {
    // One read of the replication socket decoded per turn of the event loop (EventQueue.paceRead):
    // the target's replies to the batch being landed, on this thread too, wait no longer than that.
    socketOf(service)?.on('data', () => queue.paceRead());
    sendStatus(true);
  });
  service.subscribe(plugin, opts.slot, formatLsn(opts.from)).then(
    () => {
      queue.fail(new TributaryError(ErrorCode.STREAM_FAILED, `the replication stream of slot ${opts.slot} ended`, { fatal: false }));
    },
    (err: unknown) => {
      queue.fail(mapStreamError(err, opts));
    },
  );

  /**
   * Describes a Relation message's columns and readies its decoder: the events to yield in its
   * place, a 'ddl' event when the table's definition changed. A change after rows of the same
   * source transaction is cut in between: a 'commit' at the position before the transaction (a
   * replay from there re-applies those rows, which writes the same images), the 'ddl' there, and
   * a 'begin' for the rest, because the applier applies a schema change only between transactions.
   * (Under --ddl halt those rows are then applied and the sync stops after them; a restart replays
   * them again from the position before the transaction.)
   */
  const resolveRelation = async (r: Resolve): Promise<Item[]> => {
    // Built on a table that left the sync meanwhile (the producer still followed it when the message came).
    if (r.prev.ignored) {
      r.dec.ignored = true;
      return [];
    }
    const before = r.prev.schema;
    await opts.visible?.(r.xid);
    let described = await opts.describeRelation(r.oid, r.columns);
    let diff: RelationDiff;
    if (r.trigger) {
      // NOT NULL and the default as the message gives them: the definition right after the statement.
      const now = r.trigger.now;
      described = described.map((d, i) => ({ column: { ...d.column, nullable: !(now[i]?.notNull ?? !d.column.nullable) }, defaultSql: now[i]?.defaultSql ?? null }));
      diff = triggerOperations(before, described, r.trigger.was, now);
      // Indexes: after the columns' operations (a new index may cover a new column).
      if (r.trigger.indexes && diff.unsupported === undefined) {
        const idx = indexOperations(diff.after, r.trigger.indexes);
        diff = { ...diff, after: idx.after, operations: [...diff.operations, ...idx.operations], changes: [...diff.changes, ...idx.changes] };
      }
      // Foreign keys: a key's drop before the columns' operations (its column may go), its add after them (it may use a new one).
      if (r.trigger.foreignKeys && before.foreignKeys !== undefined && diff.unsupported === undefined) {
        const renames = new Map(diff.operations.flatMap((o) => (o.op === 'rename-column' ? [[o.from, o.to] as const] : [])));
        const now = r.trigger.foreignKeys.map((k) => foreignKeyOf(k, scope));
        const fk = foreignKeyOperations(before, now, renames, (t) => t === r.table || byName.has(t));
        diff = { ...diff, after: { ...diff.after, foreignKeys: fk.foreignKeys }, operations: [...fk.drops, ...diff.operations, ...fk.adds], changes: [...diff.changes, ...fk.changes] };
      }
    } else diff = relationOperations(before, described);
    if (r.renameTo !== undefined && diff.unsupported === undefined) {
      diff = {
        ...diff,
        after: { ...diff.after, name: r.renameTo },
        operations: [...diff.operations, { op: 'rename-tables', pairs: [{ from: r.table, to: r.renameTo }] }],
        changes: [...diff.changes, `renamed to ${q(r.renameTo)}`],
      };
    }
    r.dec.schema = diff.after;
    r.dec.codecs = diff.after.columns.map((c) => codecFor(c));
    r.dec.ready = true;
    if (diff.operations.length === 0 && diff.unsupported === undefined) return [];
    const what = r.trigger && r.trigger.tag !== 'ALTER TABLE' ? `${r.trigger.tag} on ${q(r.table)}` : `ALTER TABLE ${q(r.table)}`;
    return cutAround(r.at, r.split, diff.unsupported !== undefined, (position) => ({
      ev: ddlEvent(r.table, `${what}: ${diff.changes.join('; ')} (${r.trigger ? `reported by event trigger ${DDL_TRIGGER}` : "seen in pgoutput's Relation message"})`, position, before, diff),
      bytes: 256,
      passed: { table: diff.after.name, record: { oid: r.oid, columns: r.columns.map((c) => [c.name, c.typeOid, c.typmod] as const) }, ...(r.renameTo !== undefined ? { renamedFrom: r.table } : {}) },
    }));
  };

  /**
   * A 'ddl' item at `at` (the position before its transaction), with the cut around it when rows of
   * the transaction came before it (`split`): a 'commit' at the position before the transaction,
   * the 'ddl', a 'begin' for the rest. A change that cannot be followed (`stops`) stays inside the
   * transaction: the applier stops there without committing the transaction's earlier rows.
   */
  const cutAround = (at: bigint, split: { readonly timestamp: number } | undefined, stops: boolean, ddl: (position: string) => Item): Item[] => {
    // The split's commit: the position before the transaction (after any change already there).
    const cut = encodePosition({ slot: opts.slot, lsn: at, ...(ddlAt.lsn === at && ddlAt.step > 0 ? { step: ddlAt.step } : {}) });
    const item = ddl(ddlPosition(at));
    if (!split || stops) return [item];
    return [{ ev: { type: 'commit', position: cut, timestamp: split.timestamp }, bytes: 64 }, item, { ev: { type: 'begin' }, bytes: 32 }];
  };

  /** A table dropped, or one of its indexes dropped, or a table adopted, as its 'ddl' event (see TableChange). */
  const tableChange = async (c: TableChange): Promise<Item[]> => {
    if (c.dec.ignored) return [];
    const before = c.dec.schema;
    const statement = (what: string) => `${c.tag} ${what} (reported by event trigger ${DDL_TRIGGER})`;
    if (c.kind === 'adopt') {
      await opts.visible?.(c.xid);
      const got = await (opts.adopt as NonNullable<PgStreamOptions['adopt']>)(c.table);
      if ('ignore' in got) {
        c.dec.ignored = true;
        forget(c.table, c.oid);
        return [];
      }
      const text = statement(`${q(c.table)}: ${c.what} while streaming, taken by the table selection`);
      let why = 'unsupported' in got ? got.unsupported : undefined;
      if (!('unsupported' in got)) {
        if (got.oid !== c.oid) why = `the source catalogue has another table under that name now (a later statement dropped or renamed it): restart the sync to copy it`;
        else if (isKeyless(got.schema)) why = `it has no primary key nor unique NOT NULL key, and such a table is copied whole only at a sync's start: restart the sync to copy it`;
      }
      if (why !== undefined || 'unsupported' in got) {
        return [{ ev: { type: 'ddl', tables: [c.table], statement: text, position: ddlPosition(c.at), unsupported: `table ${c.table} cannot be brought into the running sync: ${why ?? ''}` }, bytes: 256 }];
      }
      const schema = { ...got.schema, name: c.table };
      c.dec.schema = schema;
      c.dec.codecs = schema.columns.map((col) => codecFor(col));
      c.dec.ready = true;
      seen.set(c.table, schema.columns.map((col, i) => ({ name: col.name, typeOid: got.types[i]?.oid ?? 0, typmod: got.types[i]?.typmod ?? -1 })));
      const operations: SchemaOperation[] = [{ op: 'create-table', table: schema }];
      return cutAround(c.at, c.split, false, (position) => ({
        ev: { type: 'ddl', tables: [c.table], statement: text, position, operations, before: new Map(), after: new Map([[c.table, schema]]), adopt: [c.table] },
        bytes: 256,
        passed: { table: c.table, record: { oid: got.oid, columns: schema.columns.map((col, i) => [col.name, got.types[i]?.oid ?? 0, got.types[i]?.typmod ?? -1] as const) } },
      }));
    }
    if (c.kind === 'drop-table') {
      const operations: SchemaOperation[] = [{ op: 'drop-table', table: c.table }];
      return cutAround(c.at, c.split, false, (position) => ({
        ev: { type: 'ddl', tables: [c.table], statement: statement(q(c.table)), position, operations, before: new Map([[c.table, before]]), after: new Map() },
        bytes: 256,
        passed: { table: c.table, record: undefined },
      }));
    }
    const diff = indexOperations(before, c.indexes);
    // Later changes of the table start from the definition without the index.
    c.dec.schema = diff.after;
    if (diff.operations.length === 0) return [];
    return cutAround(c.at, c.split, false, (position) => ({
      ev: { type: 'ddl', tables: [c.table], statement: statement(`${quoteIdent(c.index)} on ${q(c.table)}: ${diff.changes.join('; ')}`), position, operations: diff.operations, before: new Map([[c.table, before]]), after: new Map([[c.table, diff.after]]) },
      bytes: 256,
    }));
  };

  /**
   * A user type changed: each synced table with columns of it (directly, or through a domain,
   * composite, range or array built on it) gets modify-column operations with the type's new
   * description and each column's NOT NULL and default unchanged, in one 'ddl' event for all of
   * them (a PostgreSQL target alters its type to match; a MySQL target redeclares the columns: an
   * enum's ENUM(…) gets the new labels). A change a target cannot follow without changing what its
   * rows hold (userTypeChangeUnsupported) stops the sync at the statement, naming the type.
   */
  const typeChange = async (c: TypeChange): Promise<Item[]> => {
    await opts.visible?.(c.xid);
    const now = await (opts.describeType as NonNullable<PgStreamOptions['describeType']>)(c.typeOid);
    if (!now || now.kind === 'extension') return [];
    const before = new Map<string, TableSchema>();
    const after = new Map<string, TableSchema>();
    const operations: SchemaOperation[] = [];
    const used: string[] = [];
    let was: UserType | undefined;
    for (const [table, dec] of c.decoders) {
      if (dec.ignored) continue;
      const got = withUserType(dec.schema, now);
      if (got.columns.length === 0) continue;
      was ??= got.columns.map((col) => findUserType(dec.schema.columns.find((x) => x.name === col.name)?.userType, now)).find((u) => u !== undefined);
      before.set(table, dec.schema);
      after.set(table, got.after);
      for (const col of got.columns) {
        const def = pgColumnDefault(c.defaults.get(table)?.get(col.name) ?? null);
        operations.push({ op: 'modify-column', table, column: col, ...(def ? { default: def } : {}), sourceText: `ALTER COLUMN ${quoteIdent(col.name)} TYPE ${col.columnType}` });
        used.push(`${table}.${col.name}`);
      }
    }
    // Described when the stream reaches the statement: a later statement's change may be in it already, leaving none for its own.
    if (!was || after.size === 0 || JSON.stringify(was) === JSON.stringify(now)) return [];
    const what = `${c.tag} ${quoteIdent(now.name)}`;
    const why = userTypeChangeUnsupported(was, now);
    if (why !== undefined) {
      return [
        {
          ev: {
            type: 'ddl',
            tables: [...after.keys()],
            statement: `${what} (reported by event trigger ${DDL_TRIGGER}; used by ${used.join(', ')})`,
            position: ddlPosition(c.at),
            // The definitions the type's change gives: the sync goes on past it once the target has them (the user altered it there).
            before,
            after,
            unsupported: `the source's ${now.kind} type ${now.name} changed and the sync cannot follow it: ${why}. To go on, make the target's columns (${used.join(', ')}) hold what the source's do, then restart with --skip-ddl POSITION (the position named here), or start over with --force`,
          },
          bytes: 256,
        },
      ];
    }
    for (const [table, dec] of c.decoders) {
      const t = after.get(table);
      if (!t) continue;
      dec.schema = t;
      dec.codecs = t.columns.map((col) => codecFor(col));
    }
    const statement = `${what}: ${userTypeChangeWords(was, now)}; columns ${used.join(', ')} (reported by event trigger ${DDL_TRIGGER})`;
    return cutAround(c.at, c.split, false, (position) => ({ ev: { type: 'ddl', tables: [...after.keys()], statement, position, operations, before, after }, bytes: 256 }));
  };

  /**
   * The catalogue compared with each table's definition at the first caught-up point (a keepalive
   * between transactions with no WAL written after it by the time the catalogue is read): a change
   * there is a 'ddl' event at that point, and the table is decoded with its new definition from
   * then on. A table that had a Relation message or a row since is left to the stream: its change
   * (if any) comes after those rows, with the next Relation message.
   */
  const compareCatalogue = async (c: Catalogue): Promise<Item[]> => {
    // Exact only when nothing was written since the keepalive: else the next one tries again.
    if ((await opts.walFlushed()) > c.at) {
      catalogueDue = true;
      return [];
    }
    const described: [string, Decoder, CatalogueTable][] = [];
    for (const [table, dec] of c.decoders) {
      const now = await opts.describeNow(table);
      // Another relation under the name (a table dropped, renamed or moved and another in its
      // place) is not a column change: the relation check (checkRelations) reports it.
      const followed = relations.get(table);
      if (!now || (followed !== undefined && now.oid !== followed)) continue;
      described.push([table, dec, now]);
    }
    // A description takes several catalogue reads: a statement committed between them (a table
    // dropped after its OID was read shows no columns) leaves it mixed, so it counts only when
    // nothing was written while it was read either.
    if ((await opts.walFlushed()) > c.at) {
      catalogueDue = true;
      return [];
    }
    const out: Item[] = [];
    for (const [table, dec, now] of described) {
      if (latest.get(table) !== dec || (rowsPushed.get(table) ?? 0) !== (c.rows.get(table) ?? 0)) continue;
      const diff = relationOperations(dec.schema, now.columns);
      if (diff.operations.length === 0 && diff.unsupported === undefined) continue;
      const next: Decoder = { schema: diff.after, codecs: diff.after.columns.map((col) => codecFor(col)), ready: true };
      latest.set(table, next);
      seen.set(table, now.relation);
      for (const [oid, d] of decoders) if (d === dec) decoders.set(oid, next);
      out.push({
        ev: ddlEvent(table, `ALTER TABLE ${q(table)}: ${diff.changes.join('; ')} (found in the catalogue: made while the sync was stopped, or with no row written since)`, ddlPosition(c.at), dec.schema, diff),
        bytes: 256,
        passed: { table, record: { oid: now.oid, columns: now.relation.map((col) => [col.name, col.typeOid, col.typmod] as const) } },
      });
    }
    return out;
  };

  /** The events of a queued item with work of its own, that work done (see Item). */
  const itemsOf = async (taken: Item): Promise<Item[]> => {
    if (taken.lazy) {
      try {
        return taken.lazy();
      } catch (err) {
        throw new TributaryError(ErrorCode.STREAM_FAILED, `cannot decode the replication stream of slot ${opts.slot}: ${(err as Error).message}`, { cause: err, fatal: false });
      }
    }
    if (taken.resolve) return resolveRelation(taken.resolve);
    if (taken.table) return tableChange(taken.table);
    if (taken.userType) return typeChange(taken.userType);
    if (taken.catalogue) return compareCatalogue(taken.catalogue);
    return [taken];
  };

  try {
    for (;;) {
      const taken = await queue.takeRun(() => signal.aborted);
      if (taken === undefined) return;
      // Plain events go out together; an item with work of its own (below) is done once the consumer
      // has dealt with the events before it, as when each event was a step of its own.
      let run: StreamEvent[] = [];
      for (const t of taken) {
        if (!t.lazy && !t.resolve && !t.table && !t.userType && !t.catalogue && !t.fetch && !t.passed) {
          run.push(t.ev);
          continue;
        }
        if (run.length) yield run;
        run = [];
        for (const item of await itemsOf(t)) {
          if (item.fetch && item.ev.type === 'change' && item.ev.change.kind === 'upsert') {
            // Read only once the transaction is visible: before, the moved row is not found, and
            // the change would stay partial (it writes nothing where the new key has no row).
            await opts.visible?.(item.fetch.xid, 'read-row');
            item.ev = { ...item.ev, change: await fillUnchanged(opts, item.fetch.schema, item.ev.change) };
          }
          if (!item.passed) {
            run.push(item.ev);
            continue;
          }
          if (run.length) yield run;
          run = [];
          yield [item.ev];
          // The consumer asks for the next run only once it has dealt with this one: past a 'ddl'
          // event, it went on (the target had the new definition), so the table is followed so now.
          await opts.onDdlPassed?.(item.passed.table, item.passed.record, item.passed.renamedFrom);
        }
      }
      if (run.length) yield run;
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
 * The values of an upsert's unchanged columns read from the source now, once the change's
 * transaction is visible (the caller waits: opts.visible). Reading the current row is safe: every
 * later change of this key follows in the stream and is applied after this one. When the row is
 * gone, a later change removed it, and the change stays partial (writes nothing).
 */
async function fillUnchanged(
  opts: PgStreamOptions,
  schema: TableSchema,
  change: Extract<StreamEvent, { type: 'change' }>['change'] & { kind: 'upsert' },
): Promise<typeof change> {
  const cols = change.unchanged ?? [];
  const values = await opts.readColumns(schema, change.key, cols);
  if (!values) return change;
  const row = rowOf(change).slice();
  cols.forEach((c, j) => (row[c] = values[j] ?? null));
  return { kind: 'upsert', table: change.table, key: change.key, row };
}

/** A 'ddl' event of one table: with its operations and definitions when the change was described. */
function ddlEvent(table: string, statement: string, position: string, before: TableSchema | undefined, diff: RelationDiff | undefined): StreamEvent {
  if (!diff || !before) return { type: 'ddl', tables: [table], statement, position };
  return {
    type: 'ddl',
    tables: [table],
    statement,
    position,
    operations: diff.operations,
    before: new Map([[table, before]]),
    // A rename gives the table its new name in `after` (core/schema-change.ts SchemaChange).
    after: new Map([[diff.after.name, diff.after]]),
    ...(diff.unsupported !== undefined ? { unsupported: diff.unsupported } : {}),
  };
}

function sameRelationColumns(a: readonly RelationColumn[], b: readonly RelationColumn[]): boolean {
  return a.length === b.length && a.every((c, i) => c.name === b[i]?.name && c.typeOid === b[i]?.typeOid && c.typmod === b[i]?.typmod);
}

/** A tuple's size before it is decoded, for the queue's bound. */
function tupleBytes(tuple: Tuple): number {
  let n = 64;
  for (const v of tuple) n += typeof v === 'string' ? v.length : 8;
  return n;
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
