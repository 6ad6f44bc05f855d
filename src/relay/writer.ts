import { mkdir, open, readdir, readFile, rename, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { TableSchema } from '../core/schema.js';
import { currentServer, fsyncDir, lineageServers, openMarkFile, processAlive, readMark, readMeta, readerFile, removeStaleTemps, encodeMark, writeMeta, READERS_DIR, type DurableMark, type RelayMeta, type RelaySwitch, type SegmentMeta } from './meta.js';
import { decodeTransaction, encodeHeader, encodeIndexEntry, frame, transactionFrame, frameAt, FORMAT_VERSION, KIND_TXN, kindOf, type IndexEntry, type RelayTransaction, type SegmentHeader } from './record.js';
import { foldSchemas } from './schemas.js';
import { corrupt, indexFile, listSegments, parseHeader, readHeader, segmentFile, segmentsDir } from './segment.js';

/** The relay's source and its limits; every size and interval has a default. */
export interface RelayWriterOptions {
  /**
   * The identity of the server the relay streams from now (opaque: server UUID, system
   * identifier…). A directory whose last durable records came from another server is refused
   * (SOURCE_CHANGED), unless `admit` accepts this server as the same lineage.
   */
  readonly sourceId: string;
  /** That server's host:port when the source URL names several (kept in relay.json for the next start). */
  readonly host?: string;
  /**
   * Called by open() when the directory's last durable records came from server `from`, not
   * `sourceId`: resolves when this server continues that history from `durable` (GTID
   * containment: docs/failover.md), throws the refusal otherwise (the directory stays as it was,
   * but for a torn tail cut). Once it resolved, open() records the switch in relay.json.
   */
  readonly admit?: (from: string, durable: DurablePosition) => Promise<void>;
  /** Where a new relay begins (the position before its first transaction); ignored when the directory holds a relay. */
  readonly startPosition: string;
  readonly startGtidSet?: string;
  /**
   * The definitions of the relay's tables where a new relay begins (its first segment's header),
   * and for a directory whose last segment predates them (format 1). A directory's own
   * definitions (its last segment's header, folded with its records' schema changes) win.
   */
  readonly tables?: readonly TableSchema[];
  /** The source's position order (ChangeLog.comparePositions): appends must not go backwards. */
  readonly compare: (a: string, b: string) => number;
  /** Roll to a new segment once the current one would pass this many bytes (default 64 MiB). */
  readonly segmentBytes?: number;
  /** Group commit: appended records are fsynced at most this long after the first of them (default 50 ms)… */
  readonly fsyncIntervalMs?: number;
  /** …or as soon as this many bytes wait (default 4 MiB). */
  readonly fsyncBytes?: number;
  /** A sparse index entry at least every this many bytes of a segment (default 64 KiB). */
  readonly indexIntervalBytes?: number;
  /** `relay.json`'s durable position is rewritten at most this often (default 1 s; also at every roll and on close). */
  readonly metaIntervalMs?: number;
  readonly now?: () => number;
  readonly logger?: Logger;
}

/** What open() cut from the end of the last segment: bytes a crash left half-written (never durable). */
export interface TornTail {
  readonly file: string;
  /** The byte offset the segment was cut at (the end of its last whole record). */
  readonly offset: number;
  readonly bytes: number;
  /** True when the cut was a whole segment file whose header was half-written (a roll the crash interrupted). */
  readonly segmentRemoved?: boolean;
}

/** The last durable transaction (or where the relay began, before any). */
export interface DurablePosition {
  readonly position: string;
  readonly gtidSet?: string;
  /** Its ordinal; -1 before any transaction. */
  readonly ordinal: number;
}

type Pending =
  | { readonly type: 'frame'; readonly buf: Buffer; readonly ordinal: number; readonly position: string; readonly gtidSet?: string }
  | { readonly type: 'index'; readonly buf: Buffer }
  | { readonly type: 'roll'; readonly header: SegmentHeader };

/**
 * The one writer of a relay directory (a lock file keeps a second one out). append() only buffers;
 * group commit writes and fsyncs what is buffered at most `fsyncIntervalMs` after the first record
 * or once `fsyncBytes` wait. A record is durable once its segment was fsynced; only then do readers
 * see it (onDurable, the durable mark file), and only then does whenDurable() resolve — so nothing a
 * reader saw is lost by a crash. open() makes the directory consistent after a crash: it cuts a torn
 * tail of the last segment (reported in `recovered`), and refuses damage before the durable end
 * with RELAY_CORRUPT naming the file and offset.
 */
export class RelayWriter {
  /** What open() cut (undefined: the relay was closed cleanly or the crash left nothing half-written). */
  readonly recovered: TornTail | undefined;
  private readonly compare: (a: string, b: string) => number;
  private readonly segmentBytes: number;
  private readonly fsyncIntervalMs: number;
  private readonly fsyncBytes: number;
  private readonly indexIntervalBytes: number;
  private readonly metaIntervalMs: number;
  private readonly now: () => number;

  // What append() has taken (some of it may still be pending).
  private appendSeq: number;
  private appendOffset: number;
  private appendDataStart: number;
  private lastIndexed: number;
  private nextOrdinal: number;
  private lastPosition: string;
  private lastGtid: string | undefined;
  private pending: Pending[] = [];
  private pendingBytes = 0;

  // What is on disk.
  private seq: number;
  private fh: FileHandle;
  private idx: FileHandle;
  private offset: number;
  private idxOffset: number;
  private durable: DurablePosition;
  private mark: DurableMark;

  /** The definitions of the relay's tables after the last record appended (schemas.ts); new segments' headers hold them. */
  private readonly schemas: Map<string, TableSchema>;
  /** Whether `schemas` came from the directory (else from opts.tables: a new relay, or a format 1 segment). */
  private readonly schemasStored: boolean;
  /** The server the records appended now come from (new segments' headers name it). */
  private serverId: string;

  private timer: NodeJS.Timeout | undefined;
  private wanted = false;
  /** The group commit loop (awaited by close); `looping` says whether it runs now. */
  private running: Promise<void> | undefined;
  private looping = false;
  private failed: Error | undefined;
  private closed = false;
  private waiters: { ordinal: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private listeners = new Set<(mark: DurableMark) => void>();
  private metaState: RelayMeta;
  private metaChain: Promise<void> = Promise.resolve();
  private metaWrittenAt = 0;

  private constructor(
    readonly dir: string,
    private readonly opts: RelayWriterOptions,
    state: OpenState,
    private readonly markFh: FileHandle,
  ) {
    this.compare = opts.compare;
    this.segmentBytes = opts.segmentBytes ?? 64 * 1024 * 1024;
    this.fsyncIntervalMs = opts.fsyncIntervalMs ?? 50;
    this.fsyncBytes = opts.fsyncBytes ?? 4 * 1024 * 1024;
    this.indexIntervalBytes = opts.indexIntervalBytes ?? 64 * 1024;
    this.metaIntervalMs = opts.metaIntervalMs ?? 1000;
    this.now = opts.now ?? Date.now;
    this.recovered = state.recovered;
    this.seq = this.appendSeq = state.seq;
    this.fh = state.fh;
    this.idx = state.idx;
    this.offset = this.appendOffset = state.offset;
    this.idxOffset = state.idxOffset;
    this.appendDataStart = state.dataStart;
    this.lastIndexed = state.lastIndexed;
    this.nextOrdinal = state.nextOrdinal;
    this.lastPosition = state.lastPosition;
    this.lastGtid = state.lastGtid;
    this.durable = { position: state.lastPosition, ordinal: state.nextOrdinal - 1, ...(state.lastGtid === undefined ? {} : { gtidSet: state.lastGtid }) };
    this.mark = { seq: state.seq, offset: state.offset, nextOrdinal: state.nextOrdinal };
    this.metaState = state.meta;
    this.serverId = opts.sourceId;
    this.schemas = state.schemas;
    this.schemasStored = state.schemasStored;
  }

  /**
   * Opens (or creates) the relay in `dir` for appending: takes the writer lock, recovers the last
   * segment after a crash (see the class comment), rebuilds its index and rewrites relay.json.
   * Throws ALREADY_RUNNING when another live process writes the directory, SOURCE_CHANGED when its
   * last records came from another server and no `admit` is given, `admit`'s refusal when it does
   * not accept this server, RELAY_CORRUPT on damage that is not a torn tail.
   */
  static async open(dir: string, opts: RelayWriterOptions): Promise<RelayWriter> {
    await mkdir(segmentsDir(dir), { recursive: true });
    await mkdir(join(dir, READERS_DIR), { recursive: true });
    await takeLock(dir);
    let markFh: FileHandle | undefined;
    try {
      await removeStaleTemps(dir);
      const state = await admitted(dir, opts, await recover(dir, opts));
      markFh = await openMarkFile(dir);
      const w = new RelayWriter(dir, opts, state, markFh);
      await w.writeMark();
      await w.saveMeta(true);
      if (state.recovered) opts.logger?.warn({ component: 'relay', ...state.recovered }, `relay: cut a torn tail of ${state.recovered.bytes} bytes from ${state.recovered.file} at offset ${state.recovered.offset} (records a crash left half-written; none was durable)`);
      return w;
    } catch (err) {
      await markFh?.close();
      await releaseLock(dir);
      throw err;
    }
  }

  /**
   * Encodes one committed transaction at once (the caller may reuse `txn`), buffers it and returns
   * its ordinal. Its position must not be before the
   * previous transaction's (compare). It is not durable, nor visible to readers, until the group
   * commit after it (whenDurable). The caller bounds what it buffers by awaiting whenDurable.
   */
  append(txn: RelayTransaction): number {
    if (this.failed) throw this.failed;
    if (this.closed) throw new TributaryError(ErrorCode.INTERNAL, `relay writer for ${this.dir} is closed; fix: open it again (a bug: please report it)`);
    if (this.compare(txn.position, this.lastPosition) < 0) {
      throw new TributaryError(ErrorCode.INTERNAL, `relay append at position ${txn.position}, before the previous transaction's ${this.lastPosition}; fix: a relay's transactions come in source order (a bug: please report it)`);
    }
    const ordinal = this.nextOrdinal;
    const buf = transactionFrame(ordinal, txn);
    this.nextOrdinal++;
    if (this.appendOffset + buf.length > this.segmentBytes && this.appendOffset > this.appendDataStart) {
      const header: SegmentHeader = { version: FORMAT_VERSION, seq: this.appendSeq + 1, firstOrdinal: ordinal, startPosition: this.lastPosition, ...(this.lastGtid === undefined ? {} : { startGtidSet: this.lastGtid }), sourceId: this.serverId, createdAt: this.now(), tables: [...this.schemas.values()] };
      this.pending.push({ type: 'roll', header });
      this.appendSeq++;
      this.appendOffset = this.appendDataStart = this.lastIndexed = frame(encodeHeader(header)).length;
    }
    if (this.appendOffset - this.lastIndexed >= this.indexIntervalBytes) {
      this.pending.push({ type: 'index', buf: frame(encodeIndexEntry({ ordinal, offset: this.appendOffset, before: this.lastPosition })) });
      this.lastIndexed = this.appendOffset;
    }
    if (txn.gtidSet !== undefined) this.lastGtid = txn.gtidSet;
    this.lastPosition = txn.position;
    // After the roll: a new segment's header holds the definitions before its first record.
    foldSchemas(this.schemas, txn.events);
    // The frame carries the GTID set after it: its own, or the last one a transaction before it had.
    this.pending.push({ type: 'frame', buf, ordinal, position: txn.position, ...(this.lastGtid === undefined ? {} : { gtidSet: this.lastGtid }) });
    this.appendOffset += buf.length;
    this.pendingBytes += buf.length;
    if (this.pendingBytes >= this.fsyncBytes) this.requestFlush();
    else this.timer ??= setTimeout(() => this.requestFlush(), this.fsyncIntervalMs);
    return ordinal;
  }

  /**
   * The definitions of the relay's tables after its last appended record: the ones its source's
   * stream decodes the next rows with. `stored` is false when they came from RelayWriterOptions.tables
   * (a new relay, or a directory whose last segment has none), true when from the directory.
   */
  definitions(): { readonly tables: ReadonlyMap<string, TableSchema>; readonly stored: boolean } {
    return { tables: this.schemas, stored: this.schemasStored };
  }

  /**
   * Sets the definitions the next records are decoded with, at a start (with nothing appended
   * since open): exactly those of `tables`. Kept from the next segment's header on, and what
   * definitions() answers.
   */
  define(tables: readonly TableSchema[]): void {
    this.schemas.clear();
    for (const t of tables) this.schemas.set(t.name, t);
  }

  /** Resolves once the transaction with this ordinal (and every one before it) is durable; rejects if the writer failed. */
  whenDurable(ordinal: number): Promise<void> {
    if (this.durable.ordinal >= ordinal) return Promise.resolve();
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => this.waiters.push({ ordinal, resolve, reject }));
  }

  /** Commits everything appended so far now (not waiting for the interval) and resolves once it is durable. */
  async flush(): Promise<void> {
    const last = this.nextOrdinal - 1;
    if (this.durable.ordinal >= last) return;
    this.requestFlush();
    await this.whenDurable(last);
  }

  /** Bytes appended and not yet written: a caller pauses its source while this is high (append never blocks). */
  bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** False once closed or failed: an in-process reader then follows the durable mark file instead. */
  get live(): boolean {
    return !this.closed && !this.failed;
  }

  /** The last durable transaction: what readers can see, and what survives any crash. */
  durablePosition(): DurablePosition {
    return this.durable;
  }

  /** Up to where segments are durable (what readers read up to). */
  durableMark(): DurableMark {
    return this.mark;
  }

  /** Calls `listener` after every group commit (in this process); returns the unsubscribe. */
  onDurable(listener: (mark: DurableMark) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The current metadata (as last written or about to be). */
  meta(): RelayMeta {
    return this.metaState;
  }

  /** The server the relay streams from now, as relay.json records it. */
  server(): { readonly id: string; readonly host?: string } {
    return this.metaState.server ?? { id: this.serverId };
  }

  /**
   * Makes `to` the server the records appended from now on come from. Another server than the
   * current one is a switch: what was appended is made durable first, and relay.json records the
   * switch (from, to, the last durable ordinal, position and GTID set, when) before this resolves,
   * so no record of `to` is durable before the switch is. The caller checked that `to` continues
   * the history (GTID containment); the same server under another host only updates the host.
   */
  async useServer(to: { readonly id: string; readonly host?: string }): Promise<void> {
    await this.flush();
    const at = this.now();
    const d = this.durable;
    await this.updateMeta((m) => withServer(m, to, d, at));
    this.serverId = to.id;
  }

  /** The segment being appended to (retention never deletes it). */
  activeSegment(): number {
    return this.seq;
  }

  /**
   * Replaces relay.json with `update(current)`, after every earlier update (one at a time, in
   * order). Retention uses it to mark readers lost before it deletes what they need.
   */
  updateMeta(update: (m: RelayMeta) => RelayMeta): Promise<void> {
    const next = this.metaChain.then(async () => {
      this.metaState = update(this.metaState);
      await writeMeta(this.dir, this.metaState);
      this.metaWrittenAt = this.now();
    });
    this.metaChain = next.catch(() => undefined);
    return next;
  }

  /**
   * Forgets that reader `id` was lost (once its target was copied again from the source): it may
   * then register anew. Its old reader file is removed; it registers with its new position.
   */
  async clearLostReader(id: string): Promise<void> {
    await rm(readerFile(this.dir, id), { force: true });
    await this.updateMeta((m) => {
      const { [id]: _gone, ...lostReaders } = m.lostReaders;
      const { [id]: _old, ...readers } = m.readers;
      return { ...m, readers, lostReaders };
    });
  }

  /** Commits what is buffered, writes relay.json, closes the files and releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.failed) await this.flush();
      await this.running;
    } finally {
      this.closed = true;
      clearTimeout(this.timer);
      try {
        if (!this.failed) await this.saveMeta(true);
        await this.metaChain;
      } finally {
        await this.idx.close();
        await this.fh.close();
        await this.markFh.close();
        await releaseLock(this.dir);
      }
    }
  }

  private requestFlush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.wanted = true;
    // `looping`, not `running`: a loop that finds nothing pending ends before run() returns, so
    // `running` would be assigned after it ended and stand for a loop that no longer runs (every
    // later request then waited on it, and nothing appended became durable again).
    if (!this.looping) {
      this.looping = true;
      this.running = this.run();
    }
  }

  /** The group commit loop: one at a time; `looping` is cleared in the same tick the loop ends, so a request is never left unserved. */
  private async run(): Promise<void> {
    try {
      while (this.wanted && !this.failed) {
        this.wanted = false;
        const items = this.pending;
        this.pending = [];
        this.pendingBytes = 0;
        if (items.length > 0) await this.write(items);
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.looping = false;
    }
  }

  private fail(err: unknown): void {
    this.failed = err instanceof Error ? err : new Error(String(err));
    this.opts.logger?.error({ component: 'relay', err: this.failed }, 'relay: a group commit failed; the writer stops (what was durable stays)');
    for (const w of this.waiters) w.reject(this.failed);
    this.waiters = [];
    for (const l of this.listeners) l(this.mark);
  }

  /** Writes `items` in order, rolling segments where they say, then fsyncs and publishes the durable end. */
  private async write(items: Pending[]): Promise<void> {
    let data: Buffer[] = [];
    let index: Buffer[] = [];
    let last: Extract<Pending, { type: 'frame' }> | undefined;
    const writeOut = async () => {
      if (data.length) {
        const bytes = await writeAll(this.fh, data, this.offset);
        this.offset += bytes;
        data = [];
      }
      if (index.length) {
        this.idxOffset += await writeAll(this.idx, index, this.idxOffset);
        index = [];
      }
    };
    for (const it of items) {
      if (it.type === 'frame') {
        data.push(it.buf);
        last = it;
      } else if (it.type === 'index') index.push(it.buf);
      else {
        await writeOut();
        await this.roll(it.header, last);
      }
    }
    await writeOut();
    await this.fh.sync();
    if (last) this.durable = durableOf(last);
    this.mark = { seq: this.seq, offset: this.offset, nextOrdinal: this.durable.ordinal + 1 };
    await this.writeMark();
    const done = this.waiters.filter((w) => w.ordinal <= this.durable.ordinal);
    this.waiters = this.waiters.filter((w) => w.ordinal > this.durable.ordinal);
    for (const w of done) w.resolve();
    for (const l of this.listeners) l(this.mark);
    if (this.now() - this.metaWrittenAt >= this.metaIntervalMs) void this.saveMeta(false).catch((err: unknown) => this.fail(err));
  }

  /** Ends the current segment (fsynced whole) and starts the next with `header`. */
  private async roll(header: SegmentHeader, last: { ordinal: number; position: string; gtidSet?: string } | undefined): Promise<void> {
    await this.fh.sync();
    await this.idx.sync();
    const ended = { seq: this.seq, bytes: this.offset };
    if (last) this.durable = durableOf(last);
    await this.fh.close();
    await this.idx.close();
    const { fh, headLength } = await createSegment(this.dir, header);
    this.idx = await open(indexFile(this.dir, header.seq), 'w');
    this.fh = fh;
    this.seq = header.seq;
    this.offset = headLength;
    this.idxOffset = 0;
    const at = this.now();
    await this.updateMeta((m) => ({
      ...m,
      segments: [...m.segments.map((s) => (s.seq === ended.seq ? { ...s, endedAt: at, bytes: ended.bytes } : s)), segmentMeta(header)],
    }));
  }

  private async writeMark(): Promise<void> {
    await this.markFh.write(encodeMark(this.mark), 0, 28, 0);
  }

  private async saveMeta(force: boolean): Promise<void> {
    if (!force && this.now() - this.metaWrittenAt < this.metaIntervalMs) return;
    const d = this.durable;
    await this.updateMeta((m) => ({ ...m, durable: { position: d.position, ...(d.gtidSet === undefined ? {} : { gtidSet: d.gtidSet }), ordinal: d.ordinal, updatedAt: this.now() } }));
  }
}

/** `meta` with `to` as the current server: a switch entry when it is another server, else only its host. */
function withServer(meta: RelayMeta, to: { readonly id: string; readonly host?: string }, d: DurablePosition, at: number): RelayMeta {
  const from = currentServer(meta);
  const host = to.host === undefined ? {} : { host: to.host };
  if (from === to.id) return meta.server?.id === to.id && meta.server.host === to.host ? meta : { ...meta, server: { id: to.id, ...host, since: meta.server?.since ?? at } };
  const fromHost = meta.server?.host;
  const entry: RelaySwitch = {
    from,
    ...(fromHost === undefined ? {} : { fromHost }),
    to: to.id,
    ...(to.host === undefined ? {} : { toHost: to.host }),
    ordinal: d.ordinal,
    position: d.position,
    ...(d.gtidSet === undefined ? {} : { gtidSet: d.gtidSet }),
    at,
  };
  return { ...meta, server: { id: to.id, ...host, since: at }, switches: [...(meta.switches ?? []), entry] };
}

/**
 * After recovery: a directory whose last durable records came from another server than
 * `opts.sourceId` is refused (SOURCE_CHANGED) unless `opts.admit` accepts the server; then the
 * switch goes into the metadata open() writes. The segment files are closed on a refusal.
 */
async function admitted(dir: string, opts: RelayWriterOptions, state: OpenState): Promise<OpenState> {
  const to = { id: opts.sourceId, ...(opts.host === undefined ? {} : { host: opts.host }) };
  const from = currentServer(state.meta);
  const durable: DurablePosition = { position: state.lastPosition, ordinal: state.nextOrdinal - 1, ...(state.lastGtid === undefined ? {} : { gtidSet: state.lastGtid }) };
  try {
    if (from !== opts.sourceId) {
      if (!opts.admit) throw sourceChanged(dir, from, opts.sourceId);
      await opts.admit(from, durable);
    }
  } catch (err) {
    await state.idx.close();
    await state.fh.close();
    throw err;
  }
  return { ...state, meta: withServer(state.meta, to, durable, (opts.now ?? Date.now)()) };
}

function sourceChanged(dir: string, had: string, now: string): TributaryError {
  return new TributaryError(ErrorCode.SOURCE_CHANGED, `relay directory ${dir} holds the relay of source ${had}, not of ${now}; fix: give this source its own --relay-dir, or delete ${dir} to start a new relay there`);
}

function durableOf(f: { ordinal: number; position: string; gtidSet?: string }): DurablePosition {
  return { position: f.position, ordinal: f.ordinal, ...(f.gtidSet === undefined ? {} : { gtidSet: f.gtidSet }) };
}

function segmentMeta(h: SegmentHeader): SegmentMeta {
  return { seq: h.seq, startPosition: h.startPosition, ...(h.startGtidSet === undefined ? {} : { startGtidSet: h.startGtidSet }), firstOrdinal: h.firstOrdinal, createdAt: h.createdAt };
}

/**
 * Creates segment `header.seq` with its header, atomically: the header is written and fsynced under
 * a temporary name, then renamed into place and the folder fsynced, so a reader never finds a
 * segment file without its whole header.
 */
async function createSegment(dir: string, header: SegmentHeader): Promise<{ fh: FileHandle; headLength: number }> {
  const file = segmentFile(dir, header.seq);
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w+');
  try {
    const head = frame(encodeHeader(header));
    await writeAll(fh, [head], 0);
    await fh.sync();
    await rename(tmp, file);
    await fsyncDir(segmentsDir(dir));
    return { fh, headLength: head.length };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

async function writeAll(fh: FileHandle, bufs: Buffer[], position: number): Promise<number> {
  const total = bufs.reduce((n, b) => n + b.length, 0);
  let done = 0;
  let rest = bufs;
  while (done < total) {
    const { bytesWritten } = await fh.writev(rest, position + done);
    done += bytesWritten;
    // A partial write (a signal, or more buffers than one writev takes): go on after what was written.
    let skip = bytesWritten;
    let i = 0;
    while (i < rest.length && skip >= rest[i]!.length) skip -= rest[i++]!.length;
    rest = rest.slice(i);
    if (skip > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(skip);
  }
  return total;
}

interface OpenState {
  readonly recovered: TornTail | undefined;
  readonly seq: number;
  readonly fh: FileHandle;
  readonly idx: FileHandle;
  readonly offset: number;
  readonly idxOffset: number;
  readonly dataStart: number;
  readonly lastIndexed: number;
  readonly nextOrdinal: number;
  readonly lastPosition: string;
  readonly lastGtid: string | undefined;
  readonly meta: RelayMeta;
  /** The definitions after the last record (the last segment's header, folded), or opts.tables. */
  readonly schemas: Map<string, TableSchema>;
  readonly schemasStored: boolean;
}

/** Brings the directory to a consistent state and opens its last segment for appending. */
async function recover(dir: string, opts: RelayWriterOptions): Promise<OpenState> {
  const now = opts.now ?? Date.now;
  const interval = opts.indexIntervalBytes ?? 64 * 1024;
  const meta = await readMeta(dir);
  // Refused before anything is touched when no caller could admit another server.
  if (meta && currentServer(meta) !== opts.sourceId && !opts.admit) throw sourceChanged(dir, currentServer(meta), opts.sourceId);
  let seqs = await listSegments(dir);
  if (seqs.length === 0 && meta) {
    throw new TributaryError(ErrorCode.RELAY_CORRUPT, `relay directory ${dir} has relay.json but no segment files in ${segmentsDir(dir)}; fix: the relay's records are gone — delete ${dir} and start the relay again (its readers resync)`);
  }
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i] !== seqs[i - 1]! + 1) throw corrupt(segmentFile(dir, seqs[i - 1]! + 1), 0, 'the segment file is missing between two others');
  }
  let recovered: TornTail | undefined;
  // A segment still under its temporary name was never created (createSegment renames it once whole).
  for (const n of await readdir(segmentsDir(dir))) if (n.endsWith('.seg.tmp')) await rm(join(segmentsDir(dir), n), { force: true });

  // A segment whose header a crash left half-written was a roll that never became durable.
  for (;;) {
    const seq = seqs[seqs.length - 1];
    if (seq === undefined) break;
    const file = segmentFile(dir, seq);
    const size = (await stat(file)).size;
    const head = Buffer.alloc(Math.min(size, 8));
    const fh0 = await open(file, 'r');
    await fh0.read(head, 0, head.length, 0).finally(() => fh0.close());
    const whole = size >= 8 && 8 + head.readUInt32LE(0) <= size;
    if (whole) break;
    await rm(file);
    await rm(indexFile(dir, seq), { force: true });
    await fsyncDir(segmentsDir(dir));
    recovered = { file, offset: 0, bytes: size, segmentRemoved: true };
    seqs = seqs.slice(0, -1);
  }

  if (seqs.length === 0) {
    const header: SegmentHeader = { version: FORMAT_VERSION, seq: 0, firstOrdinal: 0, startPosition: opts.startPosition, ...(opts.startGtidSet === undefined ? {} : { startGtidSet: opts.startGtidSet }), sourceId: opts.sourceId, createdAt: now(), tables: opts.tables ?? [] };
    const { fh, headLength } = await createSegment(dir, header);
    const idx = await open(indexFile(dir, 0), 'w');
    return {
      recovered,
      seq: 0,
      fh,
      idx,
      offset: headLength,
      idxOffset: 0,
      dataStart: headLength,
      lastIndexed: headLength,
      nextOrdinal: 0,
      lastPosition: opts.startPosition,
      lastGtid: opts.startGtidSet,
      meta: { version: 1, sourceId: opts.sourceId, durable: { position: opts.startPosition, ...(opts.startGtidSet === undefined ? {} : { gtidSet: opts.startGtidSet }), ordinal: -1, updatedAt: now() }, segments: [segmentMeta(header)], readers: meta?.readers ?? {}, lostReaders: meta?.lostReaders ?? {}, server: { id: opts.sourceId, since: now() }, switches: [] },
      schemas: new Map((opts.tables ?? []).map((t) => [t.name, t])),
      schemasStored: false,
    };
  }

  const seq = seqs[seqs.length - 1]!;
  const file = segmentFile(dir, seq);
  const buf = await readFile(file);
  const { header, dataStart } = parseHeader(file, buf, buf.length, seq);
  // Each segment's header names the server it began under: one of the lineage relay.json lists.
  if (meta ? !lineageServers(meta).has(header.sourceId) : header.sourceId !== opts.sourceId && !opts.admit) {
    throw new TributaryError(ErrorCode.SOURCE_CHANGED, `relay segment ${file} is of source ${header.sourceId}, not of ${meta ? [...lineageServers(meta)].join(' or ') : opts.sourceId}; fix: give this source its own --relay-dir, or delete the relay directory to start a new relay there`);
  }
  const mark = await readMark(dir);
  // Bytes before `durableEnd` were fsynced before the crash: damage there is corruption, not a torn write.
  const durableEnd = mark === undefined || mark.seq < seq ? dataStart : mark.seq > seq ? Infinity : mark.offset;
  const entries: IndexEntry[] = [];
  let at = dataStart;
  let lastIndexed = dataStart;
  let nextOrdinal = header.firstOrdinal;
  let lastPosition = header.startPosition;
  let lastGtid = header.startGtidSet;
  // A format 1 header has no definitions: the caller's (the catalogue's now) stand in, unfolded.
  const schemas = new Map((header.tables ?? opts.tables ?? []).map((t) => [t.name, t]));
  while (at < buf.length) {
    const f = frameAt(buf, at, buf.length);
    if (!f.ok) {
      if (at < durableEnd) throw corrupt(file, at, f.why === 'crc' ? 'a record fails its CRC32' : f.why === 'length' ? 'a record has an impossible length' : 'a durable record is cut short');
      break;
    }
    if (kindOf(f.payload) !== KIND_TXN) throw corrupt(file, at, 'a record that is not a transaction');
    let txn;
    try {
      txn = decodeTransaction(f.payload);
    } catch (err) {
      throw corrupt(file, at, (err as Error).message, err);
    }
    if (txn.ordinal !== nextOrdinal) throw corrupt(file, at, `record ordinal ${txn.ordinal} where ${nextOrdinal} was due`);
    if (at - lastIndexed >= interval) {
      entries.push({ ordinal: txn.ordinal, offset: at, before: lastPosition });
      lastIndexed = at;
    }
    nextOrdinal++;
    lastPosition = txn.position;
    if (txn.gtidSet !== undefined) lastGtid = txn.gtidSet;
    if (header.tables) foldSchemas(schemas, txn.events);
    at = f.next;
  }
  if (at < buf.length) {
    await truncate(file, at);
    recovered = { file, offset: at, bytes: buf.length - at };
  }
  const fh = await open(file, 'r+');
  // Whole records past the old durable mark (written, not yet fsynced when a process crashed) are
  // kept: fsync them before the new mark lets readers see them.
  await fh.sync();
  const idxBufs = entries.map((e) => frame(encodeIndexEntry(e)));
  const idx = await open(indexFile(dir, seq), 'w');
  const idxOffset = idxBufs.length ? await writeAll(idx, idxBufs, 0) : 0;

  // relay.json: the segment list as the folder has it (headers read for segments it does not list).
  const known = new Map((meta?.segments ?? []).map((s) => [s.seq, s]));
  const segments: SegmentMeta[] = [];
  for (const s of seqs) {
    const m = known.get(s);
    if (m && s !== seq) segments.push(m);
    else if (s === seq) segments.push({ ...segmentMeta(header) });
    else {
      const h = (await readHeader(dir, s)).header;
      segments.push({ ...segmentMeta(h), bytes: (await stat(segmentFile(dir, s))).size });
    }
  }
  return {
    recovered,
    seq,
    fh,
    idx,
    offset: at,
    idxOffset,
    dataStart,
    lastIndexed,
    nextOrdinal,
    lastPosition,
    lastGtid,
    meta: {
      version: 1,
      sourceId: meta?.sourceId ?? header.sourceId,
      server: meta?.server ?? { id: meta?.sourceId ?? header.sourceId, since: now() },
      switches: meta?.switches ?? [],
      durable: { position: lastPosition, ...(lastGtid === undefined ? {} : { gtidSet: lastGtid }), ordinal: nextOrdinal - 1, updatedAt: now() },
      segments,
      readers: meta?.readers ?? {},
      lostReaders: meta?.lostReaders ?? {},
    },
    schemas,
    schemasStored: header.tables !== undefined,
  };
}

// ---- the writer lock: DIR/writer.lock holds the writing process's pid ----

const LOCK = 'writer.lock';

async function takeLock(dir: string): Promise<void> {
  const path = join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (pid > 0 && (pid === process.pid || processAlive(pid))) {
      throw new TributaryError(ErrorCode.ALREADY_RUNNING, `relay directory ${dir} is being written by process ${pid} (${path}); fix: stop that relay first, or use another --relay-dir`);
    }
    // The process that held it is gone (a crash): the lock is stale.
    await rm(path, { force: true });
  }
  throw new TributaryError(ErrorCode.ALREADY_RUNNING, `relay directory ${dir}: cannot take ${path}; fix: make sure no other relay writes this directory, then remove ${path}`);
}

async function releaseLock(dir: string): Promise<void> {
  await rm(join(dir, LOCK), { force: true });
}
