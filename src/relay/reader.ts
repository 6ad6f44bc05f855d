import { watch, type FSWatcher } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AbortedError, ErrorCode, throwIfAborted, TributaryError } from '../core/errors.js';
import { DURABLE_FILE, readMark, readMeta, readerLost, writeReaderFile, type DurableMark } from './meta.js';
import { decodeTransaction, KIND_TXN, kindOf, type StoredTransaction } from './record.js';
import { corrupt, listSegments, readHeader, readIndex, seekOffset, SegmentCursor, segmentFile } from './segment.js';
import type { RelayWriter } from './writer.js';

/** Where a RelayReader starts, how it compares positions, and how it follows the writer. */
export interface RelayReaderOptions {
  readonly dir: string;
  /** Transactions after this position (exclusive) are read; undefined: from the oldest the relay holds. */
  readonly from?: string;
  /** The source's position order (ChangeLog.comparePositions). */
  readonly compare: (a: string, b: string) => number;
  /**
   * A registered reader's id: open() refuses it when the relay marked it lost, and registers it at
   * `from` (retention then keeps every record after it); acknowledge() moves it on.
   */
  readonly id?: string;
  /** Ends the iteration with AbortedError (TRIB_ABORTED), also while it waits for new records. */
  readonly signal?: AbortSignal;
  /** The writer, when it runs in this process: each group commit wakes the reader at once. */
  readonly writer?: RelayWriter;
  /** How long the reader waits at most before it looks again for new durable records (default 200 ms; fs.watch on the durable mark wakes it sooner). */
  readonly pollIntervalMs?: number;
  /** False: the iteration ends at the durable end instead of waiting for more (default true). */
  readonly follow?: boolean;
}

/**
 * Reads a relay's transactions in order, from a position on, and follows the writer: an async
 * iterable of StoredTransaction. It sees only durable records (up to the writer's durable mark),
 * so nothing it yields can be lost by a crash of the writer. It seeks to `from` through the segment
 * headers and sparse indexes, without reading the segments before it. Errors: RELAY_READER_LOST
 * when `from` is older than anything the relay holds, when a segment it needs was deleted under it,
 * or when the relay marked its id lost; RELAY_CORRUPT on a damaged durable record; TRIB_ABORTED
 * when `signal` aborts. One iteration per reader.
 */
export class RelayReader implements AsyncIterable<StoredTransaction> {
  private readonly pollIntervalMs: number;
  private constructor(private readonly opts: RelayReaderOptions) {
    this.pollIntervalMs = opts.pollIntervalMs ?? 200;
  }

  /** Checks the reader is not lost and registers it (see `id`). The position is not looked up until iteration. */
  static async open(opts: RelayReaderOptions): Promise<RelayReader> {
    const r = new RelayReader(opts);
    if (opts.id !== undefined) {
      await r.checkNotLost();
      if (opts.from !== undefined) await writeReaderFile(opts.dir, opts.id, opts.from);
    }
    return r;
  }

  /**
   * Records that this reader has consumed everything up to `position` (its target committed it):
   * retention may then delete what lies before. Needs `id`; throws RELAY_READER_LOST when lost.
   */
  async acknowledge(position: string): Promise<void> {
    const id = this.opts.id;
    if (id === undefined) throw new TributaryError(ErrorCode.INTERNAL, `relay reader of ${this.opts.dir} has no id to acknowledge ${position} under; fix: open it with an id (a bug: please report it)`);
    await this.checkNotLost();
    await writeReaderFile(this.opts.dir, id, position);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StoredTransaction> {
    const { dir, compare, signal } = this.opts;
    const waker = new Waker(dir, this.opts.writer, this.pollIntervalMs);
    try {
      let { seq, offset } = await this.locate(waker);
      let pastFrom = this.opts.from === undefined;
      let expected: number | undefined;
      for (;;) {
        throwIfAborted(signal);
        const file = segmentFile(dir, seq);
        const fh = await openSegment(dir, file, seq);
        try {
          const cursor = new SegmentCursor(fh, file, offset);
          for (;;) {
            const tick = waker.ticks;
            const mark = await this.mark();
            const final = mark !== undefined && mark.seq > seq;
            const limit = final ? (await fh.stat()).size : mark?.seq === seq ? mark.offset : 0;
            for (let f = await cursor.next(limit); f; f = await cursor.next(limit)) {
              if (kindOf(f.payload) !== KIND_TXN) throw corrupt(file, f.offset, 'a record that is not a transaction');
              let txn: StoredTransaction;
              try {
                txn = decodeTransaction(f.payload);
              } catch (err) {
                throw corrupt(file, f.offset, (err as Error).message, err);
              }
              if (expected !== undefined && txn.ordinal !== expected) throw corrupt(file, f.offset, `record ordinal ${txn.ordinal} where ${expected} was due`);
              expected = txn.ordinal + 1;
              if (!pastFrom) {
                if (compare(txn.position, this.opts.from!) <= 0) continue;
                pastFrom = true;
              }
              throwIfAborted(signal);
              yield txn;
            }
            if (final) break;
            if (this.opts.follow === false) return;
            await waker.wait(signal, tick);
          }
        } finally {
          await fh.close();
        }
        // The segment is complete: on to the next, which must be there.
        seq++;
        if (this.opts.id !== undefined) await this.checkNotLost();
        const next = await headerOrLost(dir, seq);
        if (expected !== undefined && next.header.firstOrdinal !== expected) throw corrupt(segmentFile(dir, seq), 0, `the segment starts at ordinal ${next.header.firstOrdinal} where ${expected} was due`);
        offset = next.dataStart;
      }
    } finally {
      waker.close();
    }
  }

  /** The segment and offset to start reading at for `from`. */
  private async locate(waker: Waker): Promise<{ seq: number; offset: number }> {
    const { dir, from, compare, signal } = this.opts;
    let seqs = await listSegments(dir);
    while (seqs.length === 0) {
      // The relay has not started yet: wait for its first segment.
      if (this.opts.follow === false) throw new TributaryError(ErrorCode.RELAY_READER_LOST, `relay directory ${dir} holds no segments; fix: start the relay (tributary relay --relay-dir ${dir}) before its readers`);
      await waker.wait(signal, waker.ticks);
      seqs = await listSegments(dir);
    }
    const first = seqs[0]!;
    if (from === undefined) return { seq: first, offset: (await headerOrLost(dir, first)).dataStart };
    // The last segment that starts at or before `from` holds the first record after it.
    let lo = 0;
    let hi = seqs.length - 1;
    let found: { seq: number; dataStart: number } | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const seq = seqs[mid]!;
      const { header, dataStart } = await headerOrLost(dir, seq);
      if (compare(header.startPosition, from) <= 0) {
        found = { seq, dataStart };
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (!found) {
      const { header } = await headerOrLost(dir, first);
      throw new TributaryError(
        ErrorCode.RELAY_READER_LOST,
        `relay ${dir} no longer holds position ${from}${this.opts.id === undefined ? '' : ` (reader ${this.opts.id})`}: its oldest segment ${segmentFile(dir, first)} starts after ${header.startPosition}; fix: the changes after ${from} are gone from the relay (retention deleted them, or the relay began later) — resync this reader's target from the source (a new initial copy), and register readers before retention runs past them`,
      );
    }
    const mark = await this.mark();
    const limit = mark === undefined ? 0 : mark.seq > found.seq ? Infinity : mark.offset;
    const { offset } = seekOffset(await readIndex(dir, found.seq), from, compare, found.dataStart, limit);
    return { seq: found.seq, offset };
  }

  private async mark(): Promise<DurableMark | undefined> {
    const w = this.opts.writer;
    return w?.live ? w.durableMark() : readMark(this.opts.dir);
  }

  private async checkNotLost(): Promise<void> {
    const id = this.opts.id!;
    const meta = this.opts.writer?.live ? this.opts.writer.meta() : await readMeta(this.opts.dir);
    const lost = meta?.lostReaders[id];
    if (lost) throw readerLost(this.opts.dir, id, lost);
  }
}

async function openSegment(dir: string, file: string, seq: number): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw segmentGone(dir, seq);
    throw err;
  }
}

async function headerOrLost(dir: string, seq: number): ReturnType<typeof readHeader> {
  try {
    return await readHeader(dir, seq);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw segmentGone(dir, seq);
    throw err;
  }
}

function segmentGone(dir: string, seq: number): TributaryError {
  return new TributaryError(
    ErrorCode.RELAY_READER_LOST,
    `relay segment ${segmentFile(dir, seq)} was deleted while a reader still needed it; fix: the reader has lost changes it did not read — resync its target from the source (a new initial copy); register readers (with an id) so that retention keeps what they need`,
  );
}

/**
 * Wakes a waiting reader when new records may be durable: at once from an in-process writer,
 * else on fs.watch of the durable mark, and in any case after `pollIntervalMs` (watch events can
 * be missed or unsupported).
 */
class Waker {
  /** Counts wake events, so a wait that starts after one it should have seen returns at once. */
  ticks = 0;
  private watcher: FSWatcher | undefined;
  private wake: (() => void) | undefined;
  private readonly unsubscribe: (() => void) | undefined;
  constructor(
    private readonly dir: string,
    private readonly writer: RelayWriter | undefined,
    private readonly pollIntervalMs: number,
  ) {
    if (writer) this.unsubscribe = writer.onDurable(() => this.tick());
  }

  private tick(): void {
    this.ticks++;
    this.wake?.();
  }

  /** Resolves on the next wake event (at once if there was one since `since` was read), after the poll interval, or rejects on abort. */
  wait(signal: AbortSignal | undefined, since: number): Promise<void> {
    if (this.ticks !== since) return Promise.resolve();
    if (!this.watcher && !this.writer?.live) {
      try {
        this.watcher = watch(join(this.dir, DURABLE_FILE), { persistent: false }, () => this.tick());
        this.watcher.on('error', () => this.closeWatcher());
      } catch {
        // No mark file yet, or no watch support here: polling alone.
      }
    }
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.wake = undefined;
        if (err) reject(err);
        else resolve();
      };
      const onAbort = () => done(new AbortedError());
      const timer = setTimeout(() => done(), this.pollIntervalMs);
      this.wake = () => done();
      if (signal?.aborted) return done(new AbortedError());
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private closeWatcher(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  close(): void {
    this.unsubscribe?.();
    this.closeWatcher();
  }
}
