/**
 * In-memory fakes of the seams (src/core/): a FakeSource that is a SourceAdmin, SnapshotReader and
 * ChangeLog (hence a ChangeSource), and a FakeTarget that is a TargetWriter, CheckpointStore and
 * TargetReader (hence a Target), for unit tests of the copier, the convergence gate, the applier
 * and the continuous checksum.
 *
 * They model what the real engines do and nothing more: rows keyed by primary key (composite keys
 * included) in the order of a binary collation, a change log of source transactions at increasing
 * positions, and a target whose transactions commit data and checkpoint together. What they leave
 * out (bulk formats, snapshots, value stats, stopping writes, DDL, type mapping) is left out, not
 * faked: their capabilities are false and their members throw `notSupported` or give the empty
 * result the seam documents, as on an engine that lacks them. A test may turn off a capability the
 * fakes have (`capabilities` is writable here): its members then throw as well.
 */
import { createHash } from 'node:crypto';
import { rowOf, type Change, type StreamEvent } from '../../src/core/change.js';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import { namespacesOf } from '../../src/core/names.js';
import { compileFilter } from '../../src/transform/expression.js';
import type { SchemaChange } from '../../src/core/schema-change.js';
import type { Cascade, TableSchema } from '../../src/core/schema.js';
import type { Requirement } from '../../src/core/check.js';
import {
  notSupported,
  type ChangeSource,
  type ChunkDigest,
  type CopyOrder,
  type ColumnValueStats,
  type DatabaseDefaults,
  type EncodedChunk,
  type KeyRange,
  type SourceCapabilities,
  type SourceIdentity,
} from '../../src/core/source.js';
import type {
  Checkpoint,
  ChunkCommit,
  Fence,
  LockWatch,
  SchemaOptions,
  StreamCheckpoint,
  TableCheckpoint,
  Target,
  TargetCapabilities,
  TargetTransaction,
} from '../../src/core/target.js';
import { encodeValues, keyString, rowBytes, type Row, type Value } from '../../src/core/values.js';

/** The default table: an integer key and a text column (with their logical types, as a real engine's describe gives them). */
export const TABLE: TableSchema = {
  name: 't',
  engine: 'fake',
  generated: [],
  primaryKey: [0],
  columns: [
    { name: 'id', dataType: 'int', columnType: 'int', nullable: false, unsigned: false, logical: { kind: 'integer', bytes: 4, signed: true } },
    { name: 'v', dataType: 'varchar', columnType: 'varchar(100)', nullable: true, unsigned: false, logical: { kind: 'text', length: 100, fixed: false } },
  ],
};

const TYPE_RANK = { boolean: 0, bigint: 1, number: 1, string: 2, buffer: 3 } as const;
const kindOf = (v: Value): keyof typeof TYPE_RANK => (Buffer.isBuffer(v) ? 'buffer' : (typeof v as 'boolean' | 'bigint' | 'number' | 'string'));

/**
 * How the fakes order key values: numbers by value, strings by their UTF-8 bytes (a binary
 * collation, as MySQL's `_bin` and PostgreSQL's "C"), byte strings byte by byte. Key columns are
 * never NULL.
 */
export function compareValues(a: Value, b: Value): number {
  if (a === null || b === null) throw new Error('a key value is NULL');
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (TYPE_RANK[ka] !== TYPE_RANK[kb]) throw new Error(`key values of different kinds compared: ${ka} and ${kb}`);
  if (ka === 'string') return Buffer.compare(Buffer.from(a as string, 'utf8'), Buffer.from(b as string, 'utf8'));
  if (ka === 'buffer') return Buffer.compare(a as Buffer, b as Buffer);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Key order, column by column (composite keys). */
export function compareKeys(a: readonly Value[], b: readonly Value[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareValues(a[i] ?? null, b[i] ?? null);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

export function keyOfRow(table: TableSchema, row: readonly Value[]): Value[] {
  return table.primaryKey.map((i) => row[i] ?? null);
}

/** One table's rows, keyed by primary key, read in key order. */
export class FakeRows {
  private readonly byKey = new Map<string, Row>();
  /** Keys in key order; rebuilt when a key comes or goes. */
  private order: { id: string; key: Value[] }[] | undefined;

  constructor(readonly schema: TableSchema) {}

  get size(): number {
    return this.byKey.size;
  }

  /** Inserts or replaces the row with this row's key (stores a copy). */
  put(row: readonly Value[]): void {
    const key = keyOfRow(this.schema, row);
    const id = keyString(key);
    if (!this.byKey.has(id)) this.order = undefined;
    this.byKey.set(id, [...row]);
  }

  get(key: readonly Value[]): Row | undefined {
    const r = this.byKey.get(keyString(key));
    return r && [...r];
  }

  delete(key: readonly Value[]): boolean {
    const gone = this.byKey.delete(keyString(key));
    if (gone) this.order = undefined;
    return gone;
  }

  clear(): void {
    this.byKey.clear();
    this.order = undefined;
  }

  private sortedKeys(): { id: string; key: Value[] }[] {
    this.order ??= [...this.byKey.entries()].map(([id, row]) => ({ id, key: keyOfRow(this.schema, row) })).sort((a, b) => compareKeys(a.key, b.key));
    return this.order;
  }

  /** Keys in key order after `after` (null: from the start). */
  keysAfter(after: readonly Value[] | null): Value[][] {
    const all = this.sortedKeys();
    return all.filter((k) => after === null || compareKeys(k.key, after) > 0).map((k) => [...k.key]);
  }

  /** Keys in key order up to `upTo` included (null: to the end). */
  keysUpTo(upTo: readonly Value[] | null): Value[][] {
    const all = this.sortedKeys();
    return all.filter((k) => upTo === null || compareKeys(k.key, upTo) <= 0).map((k) => [...k.key]);
  }

  /** Copies of the rows in `range`, in key order. */
  range(range: KeyRange): Row[] {
    return this.sortedKeys()
      .filter((k) => (range.after === null || compareKeys(k.key, range.after) > 0) && (range.upTo === null || compareKeys(k.key, range.upTo) <= 0))
      .map((k) => [...(this.byKey.get(k.id) as Row)]);
  }

  /** Copies of every row, in key order. */
  all(): Row[] {
    return this.range({ after: null, upTo: null });
  }

  /** The rows with these keys, in no particular order; keys not held are left out. */
  byKeys(keys: readonly (readonly Value[])[]): Row[] {
    const out: Row[] = [];
    for (const k of keys) {
      const r = this.get(k);
      if (r) out.push(r);
    }
    return out;
  }
}

/** As a digest computed inside the database: the row count and the sum of per-row MD5s mod 2^128. */
function digestOf(rows: readonly Row[]): ChunkDigest {
  let sum = 0n;
  for (const r of rows) sum = (sum + BigInt('0x' + createHash('md5').update(encodeValues(r)).digest('hex'))) % (1n << 128n);
  return { rows: rows.length, digest: sum.toString(16), format: 'fake-md5-sum-v1' };
}

/** A row change as a test writes it on the fake source (the key comes from the row). */
export type SourceWrite =
  | { readonly kind: 'upsert'; readonly table: string; readonly row: Row; readonly op?: 'insert' | 'update' }
  | { readonly kind: 'delete'; readonly table: string; readonly key: Value[] };

const isBoundary = (ev: StreamEvent): ev is Extract<StreamEvent, { position: string }> => 'position' in ev;

/**
 * A source database: tables of rows keyed by primary key, read in chunks in key order without
 * locks (each read sees the rows as they are when it runs: no snapshot, as a MySQL source), and a
 * change log of source transactions at increasing positions (numbers as strings). A stream reads
 * the log from a position on, in order, waiting for what has not been logged yet, and pulls one
 * event at a time (backpressure). Acknowledgements are recorded. There is no bulk format, no
 * snapshot, no value scan and no head-position-free change (a transaction both changes the rows
 * and logs itself, in one step, as a committed transaction does).
 */
export class FakeSource implements ChangeSource {
  readonly engine = 'fake';
  capabilities: SourceCapabilities = {
    encodedFormats: [],
    chunkDigest: true,
    checksumReads: true,
    reportsHead: true,
    retainsLog: false,
    stopWrites: false,
    valueStats: false,
    schemaChanges: true,
    logsCascades: true,
    rowFilters: true,
    lineagePositions: false,
  };
  private readonly tables = new Map<string, FakeRows>();
  private readonly log: StreamEvent[] = [];
  private lastPosition = 0;
  private waiters: (() => void)[] = [];
  /** Positions acknowledged, in call order. */
  readonly acks: string[] = [];
  /** Called at each acknowledge, before it is recorded. */
  onAcknowledge: ((position: string) => void) | undefined;
  /** Events any stream's consumer has taken. */
  taken = 0;
  /** Called each time a consumer takes an event, before it gets it. */
  onTake: ((ev: StreamEvent) => void) | undefined;

  constructor(schemas: readonly TableSchema[] = [TABLE]) {
    for (const s of schemas) this.tables.set(s.name, new FakeRows(s));
  }

  asSource(): ChangeSource {
    return this;
  }

  table(name: string): FakeRows {
    const t = this.tables.get(name);
    if (!t) throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `fake source has no table ${name}`);
    return t;
  }

  /** Rows that were there before any position was handed out (no log entry). */
  seed(table: string, rows: readonly Row[]): void {
    if (this.lastPosition > 0 || this.log.length > 0) throw new Error('seed() only before the first position or transaction');
    for (const r of rows) this.table(table).put(r);
  }

  /**
   * Runs a source transaction: changes the rows and logs begin, its changes and commit at the next
   * position, in one step. Returns the commit's position.
   */
  transaction(writes: readonly SourceWrite[], timestamp = Date.now()): string {
    const events: StreamEvent[] = [{ type: 'begin' }];
    for (const w of writes) {
      const t = this.table(w.table);
      if (w.kind === 'upsert') {
        t.put(w.row);
        const change: Change = { kind: 'upsert', table: w.table, key: keyOfRow(t.schema, w.row), row: [...w.row] };
        events.push({ type: 'change', change, ...(w.op ? { op: w.op } : {}) });
      } else {
        t.delete(w.key);
        events.push({ type: 'change', change: { kind: 'delete', table: w.table, key: [...w.key] }, op: 'delete' });
      }
    }
    const position = String(++this.lastPosition);
    events.push({ type: 'commit', position, timestamp });
    this.append(events);
    return position;
  }

  /** TRUNCATE on the source: the rows go and the log gets a truncate event at the next position. */
  truncate(table: string, timestamp = Date.now()): string {
    this.table(table).clear();
    const position = String(++this.lastPosition);
    this.append([{ type: 'truncate', table, position, timestamp }]);
    return position;
  }

  /**
   * Appends raw events to the log as they are (the test keeps rows and events consistent itself).
   * Positions they carry must be numbers, increasing.
   */
  push(...events: StreamEvent[]): void {
    for (const ev of events) if (isBoundary(ev)) this.lastPosition = Math.max(this.lastPosition, Number(ev.position));
    this.append(events);
  }

  private append(events: readonly StreamEvent[]): void {
    this.log.push(...events);
    for (const w of this.waiters.splice(0)) w();
  }

  // SourceAdmin

  async connect(): Promise<void> {}
  async close(): Promise<void> {}
  async preflight(): Promise<void> {}
  /** No list of requirements: preflight() decides (it throws for an unmet one). */
  async check(): Promise<Requirement[]> {
    await this.preflight();
    return [];
  }
  async identity(): Promise<SourceIdentity> {
    return { id: 'fake-source', version: '1' };
  }
  async databaseDefaults(): Promise<DatabaseDefaults | undefined> {
    return undefined;
  }
  async listTables(): Promise<string[]> {
    return [...this.tables.keys()];
  }
  /** The namespaces of its qualified table names (a sync of several databases), else none. */
  async listNamespaces(): Promise<string[]> {
    return namespacesOf(this.tables.keys());
  }
  async describe(table: string): Promise<TableSchema> {
    return this.table(table).schema;
  }
  async valueStats(_table: TableSchema): Promise<ColumnValueStats[]> {
    return [];
  }
  async stopWrites(): Promise<{ description: string; restore(): Promise<void> }> {
    throw notSupported('stopWrites', 'source', 'stopWrites');
  }

  // SnapshotReader

  async tableStats(table: string): Promise<{ rows: number; avgRowBytes: number }> {
    const rows = this.table(table).all();
    return { rows: rows.length, avgRowBytes: rows.length ? Math.round(rows.reduce((n, r) => n + rowBytes(r), 0) / rows.length) : 0 };
  }

  /**
   * As MySQL's `… ORDER BY pk LIMIT 1 OFFSET size-1`: the size-th key after `from`, or null; going
   * down, as `… WHERE pk <= from ORDER BY pk DESC LIMIT 1 OFFSET size`: the key just below the
   * `size` highest at or below `from`, or null.
   */
  async chunkBoundary(table: TableSchema, from: Value[] | null, size: number, order: CopyOrder = 'asc'): Promise<Value[] | null> {
    if (order === 'asc') return this.table(table.name).keysAfter(from)[size - 1] ?? null;
    const below = this.table(table.name).keysUpTo(from);
    return below[below.length - 1 - size] ?? null;
  }

  async readChunk(table: TableSchema, range: KeyRange): Promise<Row[]> {
    return this.kept(table, this.table(table.name).range(range));
  }

  /**
   * The rows `table.rowFilter` keeps (as a real source's WHERE does: TRUE only), evaluated by
   * transform/expression.ts; all of them without a filter.
   */
  private kept(table: TableSchema, rows: Row[]): Row[] {
    if (!table.rowFilter) return rows;
    if (!this.capabilities.rowFilters) throw notSupported('a row filter', 'source', 'rowFilters');
    const keep = compileFilter(table.rowFilter, table);
    return rows.filter((r) => keep(r) === true);
  }

  async readRowsByKeys(table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]> {
    if (!this.capabilities.checksumReads) throw notSupported('readRowsByKeys', 'source', 'checksumReads');
    return this.kept(table, this.table(table.name).byKeys(keys));
  }

  async scanRows(table: TableSchema, onRows: (rows: Row[]) => void | Promise<void>): Promise<void> {
    if (!this.capabilities.checksumReads) throw notSupported('scanRows', 'source', 'checksumReads');
    const rows = this.kept(table, this.table(table.name).all());
    for (let i = 0; i < rows.length; i += 100) await onRows(rows.slice(i, i + 100));
  }

  async chunkDigest(table: TableSchema, range: KeyRange): Promise<ChunkDigest | undefined> {
    if (!this.capabilities.chunkDigest) throw notSupported('chunkDigest', 'source', 'chunkDigest');
    return digestOf(this.kept(table, this.table(table.name).range(range)));
  }

  /** No bulk format (capabilities.encodedFormats is empty). */
  async readChunkEncoded(_table: TableSchema, _range: KeyRange, _format: string): Promise<EncodedChunk | undefined> {
    return undefined;
  }

  /** No snapshot: every read sees the rows as they are. */
  async releaseSnapshot(): Promise<void> {}

  // ChangeLog

  async currentPosition(): Promise<string> {
    return String(this.lastPosition);
  }

  async headPosition(): Promise<string> {
    if (!this.capabilities.reportsHead) throw notSupported('headPosition', 'source', 'reportsHead');
    return String(this.lastPosition);
  }

  /** Nothing is retained for the reader (capabilities.retainsLog is false); acknowledgements are only recorded. */
  async retainedBytes(): Promise<number | undefined> {
    return undefined;
  }

  async checkPosition(position: string): Promise<void> {
    const n = Number(position);
    if (!Number.isInteger(n) || n < 0 || n > this.lastPosition) {
      throw new TributaryError(ErrorCode.POSITION_LOST, `fake source has no position ${position} (it is at ${this.lastPosition})`);
    }
  }

  /** prepareStream() calls (nothing to prepare in memory: counted only). */
  prepared = 0;
  prepareStream(): void {
    this.prepared++;
  }

  /**
   * The log after `from`: events that follow the last boundary (commit, truncate, ddl, heartbeat)
   * at or before `from`. Changes of tables not asked for are left out, as a source's filter does.
   * Runs of one event each, unless `runs` (set by a test) gathers up to that many of those at hand.
   */
  runs = 1;
  async *stream(from: string, tables: readonly TableSchema[], signal: AbortSignal): AsyncGenerator<readonly StreamEvent[]> {
    const names = new Set(tables.map((t) => t.name));
    let i = 0;
    for (let j = 0; j < this.log.length; j++) {
      const ev = this.log[j] as StreamEvent;
      if (isBoundary(ev) && this.comparePositions(ev.position, from) <= 0) i = j + 1;
    }
    let out: StreamEvent[] = [];
    while (!signal.aborted) {
      const ev = this.log[i];
      if (!ev || out.length >= this.runs) {
        if (out.length) {
          yield out;
          out = [];
          continue;
        }
        await new Promise<void>((resolve) => {
          const done = () => {
            signal.removeEventListener('abort', done);
            resolve();
          };
          this.waiters.push(done);
          signal.addEventListener('abort', done, { once: true });
        });
        continue;
      }
      i++;
      if (ev.type === 'change' && !names.has(ev.change.table)) continue;
      if (ev.type === 'truncate' && !names.has(ev.table)) continue;
      // As a real source: the tables a schema change leaves synced (created, renamed in) stream from it on.
      if (ev.type === 'ddl') for (const n of ev.after?.keys() ?? []) names.add(n);
      this.onTake?.(ev);
      this.taken++;
      out.push(ev);
    }
  }

  async acknowledge(position: string): Promise<void> {
    this.onAcknowledge?.(position);
    this.acks.push(position);
  }

  comparePositions(a: string, b: string): number {
    return Number(a) - Number(b);
  }

  describePosition(p: string): string {
    return `fake@${p}`;
  }
}

/**
 * Where the FakeTarget can fail on purpose: a chunk's load (before it asks for its checkpoint), a
 * chunk's commit (after it asked: ChunkCommit.failed() follows), a transaction's write, a
 * transaction's commit.
 */
export type FailurePoint = 'chunk' | 'chunkCommit' | 'write' | 'commit';

/** One commit of a stream transaction, as the target recorded it. */
export interface CommitRecord {
  readonly checkpoint: StreamCheckpoint | null;
  readonly changes: readonly Change[];
  readonly truncates: readonly string[];
}

/**
 * A target database: rows per table keyed by primary key, and this sync's checkpoint. A chunk
 * write and a stream transaction each commit their data and their checkpoint in one step, or
 * nothing of either (a failure before the commit leaves both as they were). A failure can be
 * injected at the Nth chunk load or commit, transaction write or commit from now on (`failAt`): it
 * throws TARGET_WRITE_FAILED, retryable as a lost connection is, or fatal.
 *
 * It also models row locks per table, coarsely: a writer of a table waits while another open
 * transaction has written the table, as a chunk's rows wait on an open transaction that wrote
 * them. Chunk writes take `chunkDelayMs` (default 2).
 *
 * And coordinator mode's fence (core/target-writer.ts Fence) as the real targets keep it: lock()
 * with a fence takes the target over (TRIB_FENCED when `fenceRecord` holds a higher epoch) and
 * every commit from then on calls `fence.check()` and compares `fenceRecord` with its epoch,
 * committing nothing on a mismatch. One FakeTarget is one instance's view of the target: a test
 * plays a newer leader's takeover by setting `fenceRecord` (or calling takeOver()).
 */
export class FakeTarget implements Target {
  readonly engine = 'fake';
  capabilities: TargetCapabilities = {
    atomicCheckpoint: true,
    chunkFormats: [],
    chunkDigest: true,
    readBack: true,
    checkValues: false,
    plannedDdl: false,
    transactionalDdl: true,
    foreignKeys: true,
    keyRanges: true,
    namespaces: true,
    commitLimit: null,
    rowDocuments: false,
  };
  private readonly tables = new Map<string, FakeRows>();
  /** Foreign keys created (`table.name`), in order; createForeignKeys adds only those missing. */
  readonly foreignKeysCreated: string[] = [];
  /** Every cascade a stream transaction applied (committed or not), in order. */
  readonly cascades: Cascade[] = [];

  /** Tables whose copy ended, in the order tableCopied was called. */
  readonly tablesCopied: string[] = [];

  async tableCopied(table: TableSchema): Promise<void> {
    this.tablesCopied.push(table.name);
  }

  async createForeignKeys(tables: readonly TableSchema[]): Promise<string[]> {
    this.compareFence('creating foreign keys');
    const created: string[] = [];
    for (const t of tables) {
      for (const fk of t.foreignKeys ?? []) {
        const id = `${t.name}.${fk.name}`;
        if (this.foreignKeysCreated.includes(id)) continue;
        this.foreignKeysCreated.push(id);
        created.push(id);
      }
    }
    return Promise.resolve(created);
  }
  private stored: { stream: StreamCheckpoint | null; tables: Map<string, TableCheckpoint>; schemas?: Map<string, TableSchema> } = { stream: null, tables: new Map() };
  /** Every schema change applied, in order. */
  readonly schemaChanges: SchemaChange[] = [];
  /** The open stream transaction that has written each table (its row locks). */
  private readonly streamOwners = new Map<string, object>();
  /** Chunks being written per table (their row locks, disjoint from each other's). */
  private readonly chunkWriters = new Map<string, number>();
  private lockWaiters: (() => void)[] = [];
  private readonly calls: Record<FailurePoint, number> = { chunk: 0, chunkCommit: 0, write: 0, commit: 0 };
  private readonly failures: { point: FailurePoint; at: number; fatal: boolean }[] = [];
  /** Times a chunk write had to wait for a lock an open stream transaction held. */
  chunkWaitsOnStream = 0;
  /** Row changes written by stream transactions (committed or not), and the commits. */
  streamWrites = 0;
  commits = 0;
  lastCheckpoint: StreamCheckpoint | null = null;
  /** Every committed stream transaction, in commit order. */
  readonly commitLog: CommitRecord[] = [];
  /** Every committed chunk's table checkpoint, in commit order. */
  readonly chunkLog: { table: string; rows: number; checkpoint: TableCheckpoint }[] = [];
  /** Called at every stream write, with the tables it writes. */
  onStreamWrite: ((tables: string[]) => void) | undefined;
  /** Called right after a stream transaction committed (data and checkpoint visible). */
  onCommit: ((record: CommitRecord) => void) | undefined;

  private readonly chunkDelayMs: number;
  /** The target's fence record: the epoch of the last leadership that took it over (undefined: none did). */
  fenceRecord: string | undefined;
  /** The fence lock() was given (coordinator mode), which every commit compares. */
  private fence: Fence | undefined;

  constructor(opts: { readonly chunkDelayMs?: number; readonly tables?: readonly TableSchema[] } = {}) {
    this.chunkDelayMs = opts.chunkDelayMs ?? 2;
    for (const s of opts.tables ?? [TABLE]) this.tables.set(s.name, new FakeRows(s));
  }

  asTarget(): Target {
    return this;
  }

  table(name: string): FakeRows {
    const t = this.tables.get(name);
    if (!t) throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `fake target has no table ${name}`);
    return t;
  }

  /**
   * The `n`th call (1-based, counted from now) at `point` fails: retryable, as a lost connection,
   * or with `fatal`, as a value the target refuses.
   */
  failAt(point: FailurePoint, n: number, opts: { readonly fatal?: boolean } = {}): void {
    this.failures.push({ point, at: this.calls[point] + n, fatal: opts.fatal ?? false });
  }

  /** Disarms every failure `failAt` armed that has not fired (a restart after a crash that came another way). */
  clearFailures(): void {
    this.failures.length = 0;
  }

  private maybeFail(point: FailurePoint): void {
    const n = ++this.calls[point];
    const i = this.failures.findIndex((f) => f.point === point && f.at === n);
    if (i < 0) return;
    const [f] = this.failures.splice(i, 1);
    throw new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `fake target: injected failure at ${point} #${n}`, { fatal: f?.fatal ?? false });
  }

  private async lockWait(): Promise<void> {
    await new Promise<void>((r) => this.lockWaiters.push(r));
  }

  private wakeLockWaiters(): void {
    for (const r of this.lockWaiters.splice(0)) r();
  }

  // TargetWriter

  async connect(): Promise<void> {}
  async close(): Promise<void> {}
  async lock(_watch?: LockWatch, fence?: Fence): Promise<void> {
    if (!fence) return;
    this.takeOver(fence.epoch);
    this.fence = fence;
  }

  /** A takeover for `epoch`, as lock() with a fence does it (a test calls it to play another instance's). */
  takeOver(epoch: string): void {
    if (this.fenceRecord !== undefined && BigInt(this.fenceRecord) > BigInt(epoch)) {
      throw new TributaryError(ErrorCode.FENCED, `fake target: sync was taken over by a newer leader (epoch ${this.fenceRecord}) than this instance (epoch ${epoch}); this instance stands by`, { fatal: false });
    }
    this.fenceRecord = epoch;
  }

  /** Every commit's compare, in coordinator mode: nothing commits once another epoch holds the record. */
  private compareFence(what: string): void {
    const fence = this.fence;
    if (!fence) return;
    fence.check();
    if (this.fenceRecord !== fence.epoch) {
      throw new TributaryError(ErrorCode.FENCED, `fake target: ${what} was refused: the target holds epoch ${this.fenceRecord ?? 'none'} and this instance has epoch ${fence.epoch}; a newer leader writes now; this instance stands by`, { fatal: false });
    }
  }

  async nonEmptyTables(tables: readonly TableSchema[]): Promise<string[]> {
    return tables.filter((t) => (this.tables.get(t.name)?.size ?? 0) > 0).map((t) => t.name);
  }

  /** Nothing to report: the fake is checked when it is written. */
  async check(_tables: readonly TableSchema[], _database?: DatabaseDefaults): Promise<Requirement[]> {
    return [];
  }

  checkValues(_table: TableSchema, _stats: readonly ColumnValueStats[]): void {
    throw notSupported('checkValues', 'target', 'checkValues');
  }

  async plannedDdl(_tables: readonly TableSchema[], _opts: SchemaOptions): Promise<string[]> {
    throw notSupported('plannedDdl', 'target', 'plannedDdl');
  }

  /** Its tables take writes as they are. */
  async prepareWrites(_tables: readonly TableSchema[]): Promise<void> {}

  async ensureSchema(tables: readonly TableSchema[], opts: { recreate: boolean }): Promise<void> {
    this.compareFence('creating the tables');
    if (opts.recreate) {
      this.tables.clear();
      this.stored = { stream: null, tables: new Map() };
    }
    for (const t of tables) if (!this.tables.has(t.name)) this.tables.set(t.name, new FakeRows(t));
  }

  recreateScope(): string {
    return 'every table of the fake target';
  }

  async describe(table: string): Promise<TableSchema | null> {
    return this.tables.get(table)?.schema ?? null;
  }

  /** No bulk format (capabilities.chunkFormats is empty). */
  acceptsEncoded(_table: TableSchema, _format: string): boolean {
    return false;
  }

  async writeEncodedChunk(_table: TableSchema, _chunk: EncodedChunk, _commit: ChunkCommit): Promise<void> {
    throw notSupported('writeEncodedChunk', 'target', 'chunkFormats');
  }

  async writeChunk(table: TableSchema, rows: readonly Row[], commit: ChunkCommit): Promise<void> {
    if (this.streamOwners.has(table.name)) this.chunkWaitsOnStream++;
    while (this.streamOwners.has(table.name)) await this.lockWait();
    this.chunkWriters.set(table.name, (this.chunkWriters.get(table.name) ?? 0) + 1);
    let inSection = false;
    try {
      if (this.chunkDelayMs > 0) await new Promise((r) => setTimeout(r, this.chunkDelayMs));
      // As the real targets: load the rows, then take the checkpoint, then commit both.
      this.maybeFail('chunk');
      const cp = await commit.checkpoint();
      inSection = true;
      this.maybeFail('chunkCommit');
      this.compareFence(`a chunk of ${table.name}`);
      const t = this.table(table.name);
      for (const r of rows) t.put(r);
      this.stored.tables.set(table.name, cp);
      this.chunkLog.push({ table: table.name, rows: rows.length, checkpoint: cp });
      inSection = false;
      commit.committed();
    } catch (err) {
      if (inSection) commit.failed();
      throw err;
    } finally {
      this.chunkWriters.set(table.name, (this.chunkWriters.get(table.name) ?? 1) - 1);
      this.wakeLockWaiters();
    }
  }

  private async streamLock(table: string, owner: object): Promise<void> {
    for (;;) {
      const held = this.streamOwners.get(table);
      if ((held === undefined || held === owner) && !this.chunkWriters.get(table)) break;
      await this.lockWait();
    }
    this.streamOwners.set(table, owner);
  }

  private streamUnlock(owner: object): void {
    for (const [t, o] of this.streamOwners) if (o === owner) this.streamOwners.delete(t);
    this.wakeLockWaiters();
  }

  /**
   * A transaction: writes are staged and become visible, with the checkpoint, at commit. An
   * upsert that leaves columns unchanged updates the other columns of the row with its key, and
   * writes nothing when there is none (core/change.ts).
   */
  async begin(): Promise<TargetTransaction> {
    const owner = {};
    const staged: (() => void)[] = [];
    const changes: Change[] = [];
    const truncates: string[] = [];
    let open = true;
    const ensureOpen = () => {
      if (!open) throw new TributaryError(ErrorCode.INTERNAL, 'fake target: transaction used after it ended');
    };
    const end = () => {
      open = false;
      this.streamUnlock(owner);
    };
    return {
      write: async (_tables, batch) => {
        ensureOpen();
        const names = [...new Set(batch.map((c) => c.table))];
        this.onStreamWrite?.(names);
        for (const t of names) await this.streamLock(t, owner);
        try {
          this.maybeFail('write');
        } catch (err) {
          end();
          throw err;
        }
        const seen = new Set<string>();
        for (const c of batch) {
          const id = `${c.table}\u0000${keyString(c.key)}`;
          if (seen.has(id)) throw new TributaryError(ErrorCode.INTERNAL, `fake target: key ${id} twice in one write (the caller coalesces)`);
          seen.add(id);
          const t = this.table(c.table);
          changes.push(c);
          if (c.kind === 'delete') staged.push(() => t.delete(c.key));
          else if (c.unchanged?.length) {
            const unchanged = new Set(c.unchanged);
            staged.push(() => {
              const old = t.get(c.key);
              if (old) t.put(rowOf(c).map((v, i) => (unchanged.has(i) ? (old[i] ?? null) : v)));
            });
          } else staged.push(() => t.put(rowOf(c)));
        }
        this.streamWrites += batch.length;
      },
      cascade: async (table, cascade) => {
        ensureOpen();
        await this.streamLock(table.name, owner);
        this.cascades.push(cascade);
        const t = this.table(table.name);
        const idx = cascade.columns.map((c) => table.columns.findIndex((col) => col.name === c));
        staged.push(() => {
          for (const row of t.all()) {
            if (!idx.every((ci, j) => row[ci] === cascade.from[j])) continue;
            if (cascade.kind === 'delete') t.delete(keyOfRow(table, row));
            else t.put(row.map((v, ci) => (idx.includes(ci) ? (cascade.to[idx.indexOf(ci)] ?? null) : v)));
          }
        });
      },
      truncate: async (table) => {
        ensureOpen();
        await this.streamLock(table.name, owner);
        truncates.push(table.name);
        staged.push(() => this.table(table.name).clear());
      },
      commit: async (cp) => {
        ensureOpen();
        try {
          this.maybeFail('commit');
          this.compareFence('a stream batch');
        } catch (err) {
          end();
          throw err;
        }
        for (const f of staged) f();
        if (cp) {
          this.stored.stream = cp;
          this.lastCheckpoint = cp;
        }
        this.commits++;
        const record: CommitRecord = { checkpoint: cp, changes, truncates };
        this.commitLog.push(record);
        end();
        this.onCommit?.(record);
      },
      rollback: async () => {
        if (open) end();
      },
    };
  }

  // CheckpointStore

  async loadCheckpoint(): Promise<Checkpoint> {
    return { stream: this.stored.stream, tables: new Map(this.stored.tables), ...(this.stored.schemas ? { schemas: new Map(this.stored.schemas) } : {}) };
  }

  async saveSchemas(tables: readonly TableSchema[]): Promise<void> {
    this.compareFence('saving the definitions');
    const schemas = (this.stored.schemas ??= new Map());
    for (const t of tables) schemas.set(t.name, t);
  }

  /**
   * Applies a schema change as a transactional target would, with its checkpoint: each table in
   * `change.after` keeps the rows of its table in `change.before` (followed through table renames),
   * column by column by name (followed through column renames); a new column takes its literal
   * default as a string, or null.
   */
  /** What recopyAfter answers (a test sets it to have the applier copy tables again after a change). */
  recopyTables: (change: SchemaChange) => readonly string[] = () => [];

  recopyAfter(change: SchemaChange): readonly string[] {
    return this.recopyTables(change);
  }

  async applySchemaChange(change: SchemaChange, checkpoint: StreamCheckpoint): Promise<void> {
    this.compareFence('a schema change');
    const oldName = new Map<string, string>();
    for (const name of change.before.keys()) oldName.set(name, name);
    const renamedColumns = new Map<string, Map<string, string>>();
    for (const op of change.operations) {
      if (op.op === 'rename-tables') {
        for (const { from, to } of op.pairs) {
          const was = oldName.get(from) ?? from;
          oldName.delete(from);
          oldName.set(to, was);
        }
      } else if (op.op === 'rename-column') {
        let m = renamedColumns.get(op.table);
        if (!m) renamedColumns.set(op.table, (m = new Map()));
        m.set(op.to, m.get(op.from) ?? op.from);
      }
    }
    const next = new Map<string, FakeRows>();
    for (const [name, after] of change.after) {
      const from = oldName.get(name);
      const old = from !== undefined ? this.tables.get(from) : undefined;
      const rows = new FakeRows(after);
      if (old) {
        const renames = renamedColumns.get(name) ?? renamedColumns.get(from ?? name);
        const source = after.columns.map((c) => old.schema.columns.findIndex((o) => o.name === (renames?.get(c.name) ?? c.name)));
        const defaults = after.columns.map((c) => {
          const add = change.operations.find((op) => op.op === 'add-column' && op.column.name === c.name);
          return add?.op === 'add-column' && add.default?.kind === 'literal' ? add.default.value : null;
        });
        for (const row of old.all()) rows.put(source.map((i, j) => (i >= 0 ? (row[i] ?? null) : (defaults[j] ?? null))));
      }
      next.set(name, rows);
    }
    for (const name of change.before.keys()) this.tables.delete(name);
    for (const [name, rows] of next) this.tables.set(name, rows);
    const schemas = (this.stored.schemas ??= new Map());
    for (const name of change.before.keys()) schemas.delete(name);
    for (const [name, after] of change.after) schemas.set(name, after);
    // A table copied again from the start (SchemaChange.recopy) loses its copy checkpoint.
    for (const name of change.recopy ?? []) this.stored.tables.delete(name);
    this.stored.stream = checkpoint;
    this.lastCheckpoint = checkpoint;
    this.schemaChanges.push(change);
  }

  async clearCheckpoint(): Promise<void> {
    this.compareFence('clearing the checkpoint');
    this.stored = { stream: null, tables: new Map() };
  }

  async saveStreamCheckpoint(checkpoint: StreamCheckpoint): Promise<void> {
    this.compareFence('saving the stream checkpoint');
    this.stored.stream = checkpoint;
    this.lastCheckpoint = checkpoint;
  }

  // TargetReader

  async countRows(table: TableSchema): Promise<number> {
    return this.table(table.name).size;
  }

  async readChunk(table: TableSchema, range: KeyRange): Promise<Row[]> {
    if (!this.capabilities.readBack) throw notSupported('readChunk', 'target', 'readBack');
    return this.table(table.name).range(range);
  }

  async chunkDigest(table: TableSchema, range: KeyRange): Promise<ChunkDigest | undefined> {
    if (!this.capabilities.chunkDigest) throw notSupported('chunkDigest', 'target', 'chunkDigest');
    return digestOf(this.table(table.name).range(range));
  }

  async readRowsByKeys(table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]> {
    if (!this.capabilities.readBack) throw notSupported('readRowsByKeys', 'target', 'readBack');
    return this.table(table.name).byKeys(keys);
  }

  async readKeys(table: TableSchema, after: readonly Value[] | null, limit: number): Promise<Value[][]> {
    if (!this.capabilities.readBack) throw notSupported('readKeys', 'target', 'readBack');
    return this.table(table.name).keysAfter(after).slice(0, limit);
  }

  async scanRows(table: TableSchema, onRows: (rows: Row[]) => void | Promise<void>): Promise<void> {
    if (!this.capabilities.readBack) throw notSupported('scanRows', 'target', 'readBack');
    const rows = this.table(table.name).all();
    for (let i = 0; i < rows.length; i += 100) await onRows(rows.slice(i, i + 100));
  }
}

/** A seeded PRNG (mulberry32): the same seed gives the same sequence in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Polls `pred` every 1 ms until it holds; fails naming `what` after `timeoutMs`: a liveness guard,
 * generous because unit tests share the machine with the database suites (a wait of 5 s timed out
 * once at a load of 4.5 on 2 cores).
 */
export async function until(what: string, pred: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}
