import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { coordinatedRefusal, plainHolderRefusal } from '../../checkpoint/epoch.js';
import { schemaChangeRows } from '../../checkpoint/rows.js';
import type { Change } from '../../core/change.js';
import type { Requirement } from '../../core/check.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { SchemaChange } from '../../core/schema-change.js';
import type { Cascade, TableSchema } from '../../core/schema.js';
import { notSupported, type ChunkDigest, type ColumnValueStats, type DatabaseDefaults, type EncodedChunk, type KeyRange } from '../../core/source.js';
import type { Checkpoint, ChunkCommit, Fence, LockWatch, SchemaOptions, StreamCheckpoint, Target, TargetCapabilities, TargetTransaction } from '../../core/target.js';
import type { Row, Value } from '../../core/values.js';
import { readAll } from '../../core/encoded.js';
import { ETCD_JSON_LINES } from '../../core/formats.js';
import type { ValueConventions } from '../engine.js';
import { changeOps, cascadeOps, deletePrefixOp, OpBuffer, Pipeline, putOp, putRowOp, send, STREAM_WINDOW, STREAM_WINDOW_BYTES, type Op, type Sender } from './apply.js';
import { targetRequirements } from './check.js';
import { CheckpointKeys } from './checkpoint.js';
import { connectError, openClient, tlsFiles } from './connection.js';
import { UnaryChannel } from './unary.js';
import { clearOps, planDocuments, rewriteOps } from './ddl.js';
import { KeyLayout, type LayoutName } from './keys.js';
import { EtcdSyncLock } from './lock.js';
import { epochKey, EtcdEpochFence, type TxnGuard } from './fence.js';
import { EtcdReadBack } from './read.js';
import { encodeTxnMessage, writeTxn } from './wire.js';
import { loadLines } from './load.js';

export interface EtcdTargetOptions {
  readonly dsn: Dsn;
  readonly syncId: string;
  readonly logger: Logger;
  readonly layout: LayoutName;
  /** The server's --max-txn-ops: the most ops one etcd transaction holds. */
  readonly maxTxnOps: number;
  /** The sync lock's lease TTL (--lock-ttl; lock.ts LEASE_TTL_SECONDS when absent). */
  readonly lockTtlSeconds?: number;
  /** The value conventions of the source's engine, by TableSchema.engine (engines/registry.ts). */
  readonly conventions: (engine: string) => ValueConventions;
}

/**
 * etcd as a target (issue 13): each row one key holding the row as a JSON object (core/json-row.ts),
 * under the URL's prefix (keys.ts); the checkpoint as keys of this sync's reserved subtree, put in
 * the same etcd transaction as the data it covers (checkpoint.ts); a lease as the sync's lock,
 * compared by every transaction (lock.ts). A chunk or a commit larger than one transaction
 * (--max-txn-ops, ~1.4 MB) is sent as several, the checkpoint in the last: full-row puts make a
 * replay after a crash write the same objects again. The applier keeps every source transaction
 * that fits whole within one commit (capabilities.commitLimit).
 */
export class EtcdTarget implements Target {
  readonly engine = 'etcd';
  readonly capabilities: TargetCapabilities;
  private readonly opts: EtcdTargetOptions;
  private readonly layout: KeyLayout;
  private readonly cp: CheckpointKeys;
  private readonly where: string;
  private etcd: Etcd3 | undefined;
  /** The data path's transactions written straight onto HTTP/2 (unary.ts), from connect() to close(). */
  private unary: UnaryChannel | undefined;
  /** What every transaction compares once lock() took the sync: its lease lock, or its leadership's fence (fence.ts). */
  private syncLock: TxnGuard | undefined;
  /** The leadership's fence, in coordinator mode: its takeover may wait for ensureSchema (fence.ts). */
  private epochFence: EtcdEpochFence | undefined;
  private readBack: EtcdReadBack | undefined;
  /** Definitions of the tables as this run writes them (ensureSchema, prepareWrites, schema changes). */
  private readonly definitions = new Map<string, TableSchema>();

  constructor(opts: EtcdTargetOptions) {
    this.opts = opts;
    this.layout = new KeyLayout({ prefix: opts.dsn.database, layout: opts.layout, conventions: opts.conventions });
    this.cp = new CheckpointKeys(this.layout, opts.syncId);
    this.where = `target ${describeDsn(opts.dsn)}`;
    this.capabilities = {
      atomicCheckpoint: true,
      chunkFormats: [ETCD_JSON_LINES],
      chunkDigest: false,
      readBack: true,
      checkValues: false,
      plannedDdl: true,
      transactionalDdl: false,
      foreignKeys: false,
      keyRanges: false,
      namespaces: true,
      commitLimit: opts.maxTxnOps - 1,
      rowDocuments: true,
    };
  }

  private get client(): Etcd3 {
    if (!this.etcd) throw new TributaryError(ErrorCode.INTERNAL, 'EtcdTarget used before connect()');
    return this.etcd;
  }

  private get reader(): EtcdReadBack {
    if (!this.readBack) throw new TributaryError(ErrorCode.INTERNAL, 'EtcdTarget used before connect()');
    return this.readBack;
  }

  /**
   * The Sender of this target's transactions. Those of the stream's pipeline (`stream`) aside,
   * each tells that pipeline what it writes: it may write the stream checkpoint's key, which the
   * pipeline's next checkpoint compares (apply.ts Pipeline.wroteBeside).
   */
  private senderFor(stream = false): Sender {
    return {
      write: (compare, ops) => {
        if (!stream) this.streamPipeline.wroteBeside(ops);
        return writeTxn(this.client, encodeTxnMessage(compare, ops), this.unary);
      },
      maxOps: this.opts.maxTxnOps,
      fence: () => this.syncLock?.fence() ?? [],
      // Without a guard no transaction carries a compare, so none fails one.
      refused: (what) => this.syncLock?.refused(what) ?? Promise.resolve(new TributaryError(ErrorCode.INTERNAL, `${what}: an etcd transaction without a compare failed`)),
      error: (err, what) => this.writeError(err, what),
    };
  }

  private writeError(err: unknown, what: string): TributaryError {
    if (err instanceof TributaryError) return err;
    const e = connectError(err, this.opts.dsn, 'target');
    return new TributaryError(e.code, `${what}: ${e.message}`, { cause: err, fatal: e.fatal });
  }

  async connect(): Promise<void> {
    const client = openClient(this.opts.dsn, 'target');
    try {
      await client.maintenance.status();
    } catch (err) {
      client.close();
      throw connectError(err, this.opts.dsn, 'target');
    }
    this.etcd = client;
    this.unary = new UnaryChannel(tlsFiles(this.opts.dsn, 'target'));
    this.readBack = new EtcdReadBack({ client, layout: this.layout, conventions: this.opts.conventions });
  }

  async close(): Promise<void> {
    await this.syncLock?.release();
    this.syncLock = undefined;
    this.epochFence = undefined;
    this.etcd?.close();
    this.etcd = undefined;
    this.unary?.close();
    this.unary = undefined;
  }

  /**
   * The lease lock of lock.ts; with a fence (coordinator mode) no lock but the takeover of
   * fence.ts, left to ensureSchema when the sync's subtree holds no key yet (lock() creates
   * nothing there). Then a schema change a crash interrupted is finished.
   */
  async lock(watch: LockWatch = {}, fence?: Fence): Promise<void> {
    if (fence) {
      const guard = new EtcdEpochFence({ client: this.client, syncId: this.opts.syncId, meta: this.layout.meta(this.opts.syncId), fence, where: this.where, error: (err, what) => this.writeError(err, what) });
      let plain;
      try {
        plain = (await this.client.kv.range({ key: Buffer.from(`${this.layout.meta(this.opts.syncId)}lock`) })).kvs[0];
      } catch (err) {
        throw this.writeError(err, 'reading the sync lock');
      }
      if (plain) throw plainHolderRefusal({ syncId: this.opts.syncId, where: this.where }, `an instance at ${plain.value.toString()}`);
      await guard.takeOver(true);
      this.syncLock = this.epochFence = guard;
      await this.settleOnce('finishing a schema change applied before a crash');
      return;
    }
    const lock = new EtcdSyncLock({
      client: this.client,
      key: `${this.layout.meta(this.opts.syncId)}lock`,
      syncId: this.opts.syncId,
      where: describeDsn(this.opts.dsn),
      logger: this.opts.logger,
      ...(this.opts.lockTtlSeconds === undefined ? {} : { ttlSeconds: this.opts.lockTtlSeconds }),
      error: (err, what) => this.writeError(err, what),
    });
    await lock.acquire(watch);
    this.syncLock = lock;
    // A sync run by standby instances has a fence record: a plain instance beside them is refused.
    const key = epochKey(this.layout.meta(this.opts.syncId));
    let kv;
    try {
      kv = (await this.client.kv.range({ key: Buffer.from(key) })).kvs[0];
    } catch (err) {
      throw this.writeError(err, 'reading the fence record');
    }
    const refusal = coordinatedRefusal({ syncId: this.opts.syncId, where: this.where }, kv?.value.toString(), `etcdctl del '${key}'`);
    if (refusal) {
      await lock.release();
      this.syncLock = undefined;
      throw refusal;
    }
    await this.settleOnce('finishing a schema change applied before a crash');
  }

  async loadCheckpoint(): Promise<Checkpoint> {
    await this.assertLayout();
    try {
      return await this.cp.load(this.client, this.opts.syncId);
    } catch (err) {
      throw this.writeError(err, 'reading the checkpoint');
    }
  }

  /** `<root>/%tributary/<sync id>/layout`: the key layout this sync wrote its rows in. */
  private layoutKey(): string {
    return `${this.layout.meta(this.opts.syncId)}layout`;
  }

  private layoutChecked = false;

  /**
   * Refuses a run whose --etcd-layout is not the one this sync wrote its rows in: it would find
   * none of them (and a sync would write every row a second time under other keys).
   */
  private async assertLayout(): Promise<void> {
    if (this.layoutChecked) return;
    let stored: string | null;
    try {
      stored = await this.client.get(this.layoutKey()).string();
    } catch (err) {
      throw this.writeError(err, 'reading the sync\u2019s key layout');
    }
    if (stored !== null && stored !== this.layout.name) {
      throw new TributaryError(ErrorCode.CONFIG_INVALID, `sync ${this.opts.syncId} wrote its rows into ${this.where} with --etcd-layout ${stored}, and this run has --etcd-layout ${this.layout.name}; give --etcd-layout ${stored}; to change layouts, delete the sync's keys first (etcdctl del --prefix ${this.layout.root}/) and sync afresh`);
    }
    this.layoutChecked = true;
  }

  async clearCheckpoint(): Promise<void> {
    await send(this.senderFor(), this.cp.clear(), 'clearing the checkpoint');
  }

  async saveStreamCheckpoint(checkpoint: StreamCheckpoint): Promise<void> {
    await send(this.senderFor(), [this.cp.stream(checkpoint)], 'saving the stream checkpoint');
  }

  async saveSchemas(tables: readonly TableSchema[]): Promise<void> {
    await this.settleOnce('finishing a schema change applied before a crash');
    const buf = new OpBuffer(this.senderFor(), 0);
    await buf.add(putOp(this.layoutKey(), this.layout.name), 'saving the key layout');
    for (const op of this.cp.schemas(tables)) await buf.add(op, 'saving the tables\u2019 definitions');
    await buf.commit([], 'saving the tables\u2019 definitions');
    for (const t of tables) this.definitions.set(t.name, t);
  }

  async nonEmptyTables(tables: readonly TableSchema[]): Promise<string[]> {
    const out: string[] = [];
    for (const t of tables) if ((await this.countRows(t)) > 0) out.push(t.name);
    return out;
  }

  checkValues(_table: TableSchema, _stats: readonly ColumnValueStats[]): void {
    throw notSupported('checkValues', 'target', 'checkValues');
  }

  async check(tables: readonly TableSchema[], _database?: DatabaseDefaults): Promise<Requirement[]> {
    return targetRequirements({ client: this.client, dsn: this.opts.dsn, layout: this.layout, syncId: this.opts.syncId, tables });
  }

  recreateScope(): string {
    return `every key under ${this.layout.root || '/'} of the synced tables (${this.layout.tablePrefix('<table>')}…)`;
  }

  private refuse(tables: readonly TableSchema[]): void {
    for (const t of tables) {
      const why = this.layout.refusal(t, tables);
      if (why) throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `table ${t.name} cannot be synced into ${this.where}: ${why}`);
    }
  }

  async ensureSchema(tables: readonly TableSchema[], opts: SchemaOptions): Promise<void> {
    this.refuse(tables);
    if (!opts.recreate) await this.assertLayout();
    // Coordinator mode on a sync that had no key: the takeover is the first write.
    if (this.epochFence?.pending) await this.epochFence.takeOver(false);
    if (opts.recreate) {
      const buf = new OpBuffer(this.senderFor(), 0);
      for (const t of tables) await buf.add(deletePrefixOp(this.layout.tablePrefix(t.name)), 'deleting the tables\u2019 keys (--force)');
      await buf.commit([], 'deleting the tables\u2019 keys (--force)');
    }
    // The definitions are what describe() gives back (verify, the checksum): saved now, so that a
    // copy-only run is described as well as a streaming one.
    await this.saveSchemas(tables.filter((t) => !(opts.resumed && this.definitions.has(t.name))));
  }

  async plannedDdl(tables: readonly TableSchema[], opts: SchemaOptions): Promise<string[]> {
    this.refuse(tables);
    const lines = tables.map((t) => `-- ${t.name}: keys ${this.layout.tablePrefix(t.name)}<${t.primaryKey.map((i) => t.columns[i]?.name).join('>/<')}>, each the row as one JSON object`);
    if (opts.recreate) lines.unshift(`-- --force: deletes ${this.recreateScope()}`);
    return lines;
  }

  async prepareWrites(tables: readonly TableSchema[]): Promise<void> {
    this.refuse(tables);
    for (const t of tables) this.definitions.set(t.name, t);
  }

  /**
   * The table's definition as this sync stored it (the source's, whose values etcd holds): etcd
   * has none of its own. Null when this sync never wrote the table.
   */
  async describe(table: string): Promise<TableSchema | null> {
    await this.assertLayout();
    try {
      return (await this.cp.schema(this.client, table)) ?? null;
    } catch (err) {
      throw this.writeError(err, `reading the stored definition of ${table}`);
    }
  }

  /**
   * A chunk as puts in transactions of at most --max-txn-ops, sent a few at once; the last carries
   * the table's copy checkpoint (ChunkCommit: checkpoint() right before, committed() after it).
   */
  async writeChunk(table: TableSchema, rows: readonly Row[], commit: ChunkCommit): Promise<void> {
    const conv = this.opts.conventions(table.engine);
    await this.copyChunk(table, commit, async (buf, what) => {
      for (const row of rows) {
        const sent = buf.put(putRowOp(this.layout.keyOfRow(table, row), table, row, conv), what);
        if (sent) await sent;
      }
    });
  }

  /**
   * One chunk of the copy: `fill` puts its rows into a buffer of their own (a chunk's keys are its
   * rows' primary keys, distinct, through a pipeline of its own), then the last transaction carries
   * the table's copy checkpoint (ChunkCommit: checkpoint() right before, committed() after it).
   */
  private async copyChunk(table: TableSchema, commit: ChunkCommit, fill: (buf: OpBuffer, what: string) => Promise<void>): Promise<void> {
    const what = `copying a chunk of ${table.name}`;
    await this.settleOnce(what);
    const buf = new OpBuffer(this.senderFor(), 1, new Pipeline(), true);
    await fill(buf, what);
    const cp = await commit.checkpoint();
    try {
      await buf.commit([this.cp.table(table.name, cp)], what);
    } catch (err) {
      commit.failed();
      throw err;
    }
    commit.committed();
  }

  /** ETCD_JSON_LINES for a table keyed by integers (the format's keys are their digits). */
  acceptsEncoded(table: TableSchema, format: string): boolean {
    return format === ETCD_JSON_LINES && table.primaryKey.length > 0 && table.primaryKey.every((i) => table.columns[i]?.logical?.kind === 'integer');
  }

  /**
   * An ETCD_JSON_LINES chunk (core/formats.ts) written as writeChunk writes rows: each line's
   * object is put as its bytes are, at the key of the line's key values, through the same
   * transactions and copy checkpoint.
   */
  async writeEncodedChunk(table: TableSchema, chunk: EncodedChunk, commit: ChunkCommit): Promise<void> {
    if (!this.acceptsEncoded(table, chunk.format)) {
      throw new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `the etcd target cannot load a ${chunk.format} chunk of table ${table.name} (acceptsEncoded says which it can; a copier bug)`);
    }
    const data = await readAll(chunk.open());
    await this.copyChunk(table, commit, (buf, what) =>
      loadLines(
        data,
        { keyOf: (key) => this.layout.rowKey(table, key), prefix: this.layout.tablePrefix(table.name), parts: table.primaryKey.length, room: buf.room, what },
        (op) => buf.put(op, what),
      ),
    );
  }

  /**
   * The stream's transactions, one order across its commits: a commit's writes may go out while the
   * previous commit's last transaction is in flight (the applier overlaps commits under a commit
   * limit), keys apart, and no checkpoint before what came before it (apply.ts Pipeline).
   */
  private readonly streamPipeline = new Pipeline(STREAM_WINDOW, STREAM_WINDOW_BYTES);

  async begin(): Promise<TargetTransaction> {
    const sender = this.senderFor(true);
    // Its transactions encoded as they are handed over: its sender reads no op (senderFor(true)).
    const buf = new OpBuffer(sender, 1, this.streamPipeline, false, true);
    const ctx = { layout: this.layout, conventions: this.opts.conventions, client: this.client };
    const what = 'applying a stream batch';
    return {
      write: async (tables: ReadonlyMap<string, TableSchema>, changes: readonly Change[]) => {
        // An update that leaves columns unsent keeps their stored values (changeOps reads them): a
        // write of the same key still gathered or in flight is committed first, so the read sees it.
        const partial = changes.filter((c) => c.kind === 'upsert' && c.unchanged?.length);
        if (partial.some((c) => buf.touches(this.layout.rowKey(tables.get(c.table) as TableSchema, c.key)))) {
          await buf.flush(what);
          await buf.drain();
        }
        let ops: Op[];
        try {
          ops = await changeOps(ctx, tables, changes);
        } catch (err) {
          throw this.writeError(err, what);
        }
        // A promise only where a transaction was handed over (and waits to be sent).
        for (const op of ops) {
          const sent = buf.put(op, what);
          if (sent) await sent;
        }
      },
      truncate: async (table: TableSchema) => {
        await buf.add(deletePrefixOp(this.layout.tablePrefix(table.name)), what);
      },
      cascade: async (table: TableSchema, cascade: Cascade) => {
        // The cascade reads the child's rows as the batch left them: what is gathered goes first.
        await buf.flush(what);
        await buf.drain();
        try {
          for await (const ops of cascadeOps(ctx, table, cascade)) for (const op of ops) await buf.add(op, what);
        } catch (err) {
          throw this.writeError(err, `${what} (a cascade of ${cascade.foreignKey} on ${table.name})`);
        }
      },
      commit: async (checkpoint: StreamCheckpoint | null) => {
        await buf.commit(checkpoint ? [this.cp.stream(checkpoint)] : [], what, checkpoint !== null);
      },
      rollback: async () => {
        await buf.abandon();
      },
    };
  }

  /** Tables whose objects cannot give the rows' values after the change (ddl.ts planDocuments). */
  recopyAfter(change: SchemaChange): readonly string[] {
    return planDocuments(change, this.layout).recopy;
  }

  /**
   * Follows a schema change in the documents (ddl.ts planDocuments: refusals before anything
   * runs): the revision to read at and the ranges to delete first, with a pending-DDL row naming
   * both; then the moved and rewritten objects; then the checkpoint rows' edits as a journal
   * (checkpoint.ts journalOps), in as many transactions as they take; then one transaction with
   * the stream checkpoint that marks the pending row committed, which puts the whole journal in
   * effect at once; then the journal is copied into the rows and deleted (settle). A crash before
   * the checkpoint leaves the old rows in effect, whole (a replay finds the pending row of the same
   * position and reads the same revision); one after it, the new ones, whole.
   */
  async applySchemaChange(change: SchemaChange, checkpoint: StreamCheckpoint): Promise<void> {
    const plan = planDocuments(change, this.layout);
    const what = `applying schema change "${change.statement.trim().slice(0, 200)}"`;
    const sender = this.senderFor();
    try {
      await this.settle(what);
      let revision: string;
      const replay = await this.cp.pendingDdl(this.client);
      // The pending row commits first, then the deletes: a replay after a crash anywhere from
      // here on finds it, reads the same revision, and deletes again what may not be deleted yet
      // (the moves and rewrites read that revision, so nothing they need is lost by deleting).
      const buf = new OpBuffer(sender, 0);
      if (replay?.position === checkpoint.position && replay.revision) {
        revision = replay.revision;
      } else {
        const head = await this.client.kv.range({ key: Buffer.from(this.cp.pendingKey()), count_only: true });
        revision = head.header.revision;
        await buf.add(this.cp.pending({ position: checkpoint.position, revision }), what);
      }
      // A journal left by an attempt that crashed before its checkpoint is not in effect: gone.
      await buf.add(this.cp.clearJournal(), what);
      for (const op of clearOps(plan, this.layout)) await buf.add(op, what);
      await buf.commit([], what);
      for (const rw of plan.rewrites) {
        for await (const ops of rewriteOps(this.client, this.layout, rw, revision)) {
          const buf = new OpBuffer(sender, 0);
          for (const op of ops) await buf.add(op, what);
          await buf.commit([], what);
        }
      }
      const edits = (await this.cp.schemaChangeOps(this.client, schemaChangeRows(change))).filter((o) => o.key !== this.cp.pendingKey());
      const journal = new OpBuffer(sender, 0);
      for (const op of this.cp.journalOps(edits)) await journal.add(op, what);
      await journal.commit([], what);
      await send(sender, [this.cp.stream(checkpoint), this.cp.pending({ position: checkpoint.position, revision, committed: true })], what);
      await this.settle(what);
    } catch (err) {
      throw this.writeError(err, what);
    }
    for (const name of change.before.keys()) this.definitions.delete(name);
    for (const [name, t] of change.after) this.definitions.set(name, t);
    this.opts.logger.info({ statement: change.statement.slice(0, 200), cleared: plan.clear, rewritten: plan.rewrites.map((r) => r.to), position: checkpoint.position }, 'schema change applied');
  }

  /**
   * Finishes a schema change whose checkpoint is committed and whose journal is not yet copied
   * into the checkpoint rows (a crash between the two): copies it, then deletes it and the pending
   * row. Run before anything writes checkpoint rows (a row written while a journal is in effect
   * would be hidden by it); readers overlay the journal meanwhile (checkpoint.ts rows).
   */
  private async settle(what: string): Promise<void> {
    try {
      const { copy, done } = await this.cp.settleOps(this.client);
      if (done.length === 0) return;
      const buf = new OpBuffer(this.senderFor(), 0);
      for (const op of copy) await buf.add(op, what);
      await buf.commit([], what);
      await send(this.senderFor(), done, what);
    } catch (err) {
      throw this.writeError(err, what);
    }
  }

  /** Whether this run settled (or found no) journal before writing checkpoint rows (see settle). */
  private settled = false;

  private async settleOnce(what: string): Promise<void> {
    if (this.settled) return;
    await this.settle(what);
    this.settled = true;
  }

  /** Nothing: etcd has no planner; a key is found by its bytes. */
  async tableCopied(_table: TableSchema): Promise<void> {}

  createForeignKeys(_tables: readonly TableSchema[]): Promise<string[]> {
    throw notSupported('createForeignKeys', 'target', 'foreignKeys');
  }

  countRows(table: TableSchema): Promise<number> {
    return this.reader.countRows(table);
  }

  readChunk(table: TableSchema, range: KeyRange): Promise<Row[]> {
    return this.reader.readChunk(table, range);
  }

  chunkDigest(_table: TableSchema, _range: KeyRange): Promise<ChunkDigest | undefined> {
    throw notSupported('chunkDigest', 'target', 'chunkDigest');
  }

  readRowsByKeys(table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]> {
    return this.reader.readRowsByKeys(table, keys);
  }

  readKeys(table: TableSchema, after: readonly Value[] | null, limit: number): Promise<Value[][]> {
    return this.reader.readKeys(table, after, limit);
  }

  scanRows(table: TableSchema, onRows: (rows: Row[]) => void | Promise<void>): Promise<void> {
    return this.reader.scanRows(table, onRows);
  }
}
