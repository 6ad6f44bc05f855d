import type { Etcd3, ICompare } from 'etcd3';
import type { Change } from '../../core/change.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { Cascade, TableSchema } from '../../core/schema.js';
import type { Row, Value } from '../../core/values.js';
import { keyString } from '../../core/values.js';
import type { ValueConventions } from '../engine.js';
import { prefixEnd, type KeyLayout } from './keys.js';
import { rowJson, utf8 } from '../../core/slab.js';
import { members, parseRow, renderRow, writeRow } from '../../core/json-row.js';
import { encodeOps, type WireOp } from './wire.js';
import { KeyWriters } from './key-writers.js';
import { KeySet } from './key-set.js';

/**
 * etcd's own bound on one request is 1.5 MiB (--max-request-bytes); a transaction stays under
 * this, leaving room for the checkpoint and gRPC framing.
 */
export const MAX_TXN_BYTES = 1_400_000;

/** One write of an etcd transaction: a put (`value` given), or a delete of one key or of a key range. */
export interface Op extends WireOp {
  /** The key it writes (a range's first key): one op per key per transaction, etcd's rule. */
  readonly key: string;
  /** A delete of every key from `key` to this (a table's keys): no put of the range may share its transaction. */
  readonly rangeEnd?: Buffer;
  readonly bytes: number;
  /** The puts an encoded op holds (WireOp.encoded, encodedPutsOp): it counts as that many ops of its transaction. */
  readonly count?: number;
}

/** A put of `value` (its UTF-8 bytes: a string is encoded, bytes are taken as they are) at `key`. */
export function putOp(key: string, value: string | Buffer): Op {
  return put(key, utf8(key), typeof value === 'string' ? utf8(value) : value);
}

/** A put of `row`'s JSON object (core/json-row.ts renderRow's, every column sent) at `key`. */
export function putRowOp(key: string, table: TableSchema, row: Row, conv: ValueConventions): Op {
  const k = utf8(key);
  return put(key, k, rowJson((out) => writeRow(table, row, conv, out)));
}

function put(key: string, k: Buffer, v: Buffer): Op {
  const bytes = k.length + v.length + 16;
  if (bytes > MAX_TXN_BYTES) {
    throw new TributaryError(
      ErrorCode.TARGET_WRITE_FAILED,
      `the row of key ${key.slice(0, 200)} is ${v.length} bytes as JSON, more than one etcd request holds (about ${MAX_TXN_BYTES} bytes under the default --max-request-bytes of 1.5 MiB); leave its large columns out of the sync, or move the table to a SQL target`,
    );
  }
  return { keyBytes: k, value: v, key, bytes };
}

/**
 * `count` puts encoded by wire.ts encodePuts, as one op of a transaction that counts as `count`
 * (OpBuffer): only for a buffer whose keys are distinct (a copy chunk's), as it tracks no key of
 * them. `first` is the first put's key, for messages; `bytes` is the sum of each put's Op.bytes.
 */
export function encodedPutsOp(first: string, encoded: Buffer, count: number, bytes: number): Op {
  return { keyBytes: utf8(first), key: first, encoded, count, bytes };
}

/** `ops` as one op of their encoded bytes (wire.ts encodeOps), counting as their `count` ops and `bytes`. */
function encodedOp(ops: readonly Op[], count: number, bytes: number): Op {
  const first = ops[0] as Op;
  return { keyBytes: first.keyBytes, key: first.key, encoded: encodeOps(ops), count, bytes };
}

export function deleteOp(key: string): Op {
  const k = Buffer.from(key);
  return { keyBytes: k, key, bytes: k.length + 16 };
}

export function deletePrefixOp(prefix: string): Op {
  const k = Buffer.from(prefix);
  const end = prefixEnd(k);
  return { keyBytes: k, key: prefix, rangeEnd: end, bytes: k.length * 2 + 16 };
}

/**
 * Sends etcd transactions fenced by the sync's lock or its leadership's fence: each one compares
 * the lock key (lock.ts) or the fence record (fence.ts) first and fails, writing nothing, as
 * TRIB_LOCK_LOST once another holder took the lock, or TRIB_FENCED once a newer leadership took
 * the sync over.
 */
export interface Sender {
  /**
   * Sends one transaction: the compares, then the ops if they all held. Resolves to whether they
   * held (the ops committed); rejects with the call's error. EtcdTarget's encodes it (wire.ts).
   */
  write(compare: readonly ICompare[], ops: readonly Op[]): Promise<boolean>;
  readonly maxOps: number;
  /** The compare that proves this instance holds the lock, or [] for a writer without one. */
  fence(): ICompare[];
  /** The error of a transaction whose compare failed (fence.ts TxnGuard.refused); TRIB_LOCK_LOST when absent. */
  refused?(what: string): Promise<TributaryError>;
  /** The error of a transaction whose fence failed, or of the call itself. */
  error(err: unknown, what: string): TributaryError;
}

/**
 * One etcd transaction of `ops` (at most maxOps, one per key), fenced. `after`: a checkpoint
 * transaction that follows the one before it (see Pipeline): it also compares that the checkpoint
 * key holds `after.value`, that one's value. Chained (`after.done` given), the one before may
 * still be in flight: when the compare fails (etcd applied this one first) it is sent again once
 * `after.done` settled, or fails with that one's error. When the compare fails for good, an
 * earlier attempt of it may have committed with only its answer lost (a connection reset
 * mid-call, the call sent again by the client): then the key holds one of `after.committedIf()`,
 * its own value or that of a checkpoint chained after it (which commits only after it), and it
 * succeeded.
 */
export async function send(s: Sender, ops: readonly Op[], what: string, after?: Follows): Promise<void> {
  // `after.done` resolves to that transaction's error, or undefined once it committed.
  if (ops.length === 0) return;
  let succeeded;
  for (let attempt = 0; ; attempt++) {
    const compare = s.fence();
    if (after) compare.push({ key: after.key, target: 'Value', result: 'Equal', value: after.value });
    try {
      succeeded = await s.write(compare, ops);
    } catch (err) {
      throw s.error(err, what);
    }
    if (succeeded || !after?.done || attempt > 0) break;
    // Overtook the checkpoint it follows (or that one failed, or the fence did): once that one
    // settled, either its error, or one more try, whose failure is the fence's.
    const failed = await after.done;
    if (failed !== undefined) throw failed;
  }
  if (!succeeded && after) {
    // A transaction of no writes per value: whether the key holds it.
    for (const value of after.committedIf()) {
      try {
        succeeded = await s.write([{ key: after.key, target: 'Value', result: 'Equal', value }], []);
      } catch (err) {
        throw s.error(err, what);
      }
      if (succeeded) break;
    }
  }
  if (!succeeded && s.refused) throw await s.refused(what);
  if (!succeeded) throw new TributaryError(ErrorCode.LOCK_LOST, `${what}: the sync's lock in etcd is gone (its lease expired, or another instance took it over); nothing of this write was committed; restart the sync (it resumes from its checkpoint) once the other instance stopped`);
}

/** What a checkpoint transaction follows (see send). */
export interface Follows {
  readonly key: Buffer;
  /** The value the transaction before it put at `key`. */
  readonly value: Buffer;
  /** Chained: settles once the one before it settled, to its error (undefined once it committed). */
  readonly done?: Promise<unknown>;
  /** The values the key holds if an attempt of it committed with its answer lost. */
  readonly committedIf: () => readonly Buffer[];
}

const NO_KEYS = new Int32Array(0);

/**
 * A key's 31-bit FNV-1a hash (a small integer, which V8 keeps without an object). A Pipeline and
 * its OpBuffers track keys by it: the pipeline's table of last writers (key-writers.ts) and the
 * keys of each transaction in flight (an Int32Array) hold no string and no object per key, for up
 * to 128 transactions of 128 keys in flight. Two keys of one hash only make one transaction wait
 * for the other, or go in the next: safe, and rare (a key shares its hash with one of 16k in
 * flight about once in 130k keys).
 */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 1;
}

/**
 * Transactions of one Pipeline in flight at once, by default (a copy chunk's). etcd commits what
 * it has received in one raft proposal batch and one WAL fsync: more in flight, fewer fsyncs a
 * transaction. Measured on 2 cores (bench/etcd.ts, 400k rows and changes, bench/README.md): 8 → 16
 * took the stream from ~36k to ~40k changes/s and the copy (a pipeline per chunk, several chunks
 * at once) from ~40k to ~44k rows/s; 32 cost the copy ~10 % (more CPU a row).
 */
export const WINDOW = 16;

/**
 * The stream's window: its one pipeline carries every commit, each commit's last transaction
 * waiting for all before it, so it keeps fewer in flight than its window most of the time, and
 * etcd commits what it has received in one raft batch and one WAL fsync. At 1M changes
 * (bench/etcd-ab.ts, 3 rounds side by side each, bench/README.md 2026-12-07): 32 against 16, 64.5k
 * against 60.3k changes/s on the means; 64 against 32, 64.5k against 55.5k (every round), 1,973
 * fsyncs against 2,674; 128 against 64, 68.3k against 63.7k (two rounds of three), 1,680 fsyncs
 * against 1,832, peak RSS 241 MB against 222 MB. STREAM_WINDOW_BYTES bounds what they hold.
 */
export const STREAM_WINDOW = 128;

/**
 * The bytes of the stream's transactions in flight at once (each op's Op.bytes): the window in
 * transactions binds for rows of a few hundred bytes (128 transactions of 128 such rows are
 * ~4 MB), this one for large rows, whose transactions may each hold up to MAX_TXN_BYTES.
 */
export const STREAM_WINDOW_BYTES = 8 * 1024 * 1024;

interface InFlight {
  /** Settles once it may be sent (what it waits for settled), or failed. */
  readonly sent: Promise<void>;
  /** Settles once it committed, or failed (never rejects: see `error`). */
  readonly done: Promise<void>;
  /** Its keys' hashes (keyHash), one each. */
  readonly keys: Int32Array;
  /** Ranges it deletes, [from, to) as Buffers, or undefined (most transactions delete none). */
  readonly ranges: readonly Buffer[][] | undefined;
  /** Its ops' Op.bytes (the pipeline's windowBytes). */
  readonly bytes: number;
  /** The checkpoint it puts, when a later one may be chained to it (see Pipeline.start). */
  readonly checkpoint?: Checkpointed;
  /** Whether it compares that the key holds the value of the checkpoint before it: only then may one be chained to it. */
  readonly follows: boolean;
  /** The value of the checkpoint transaction chained to it, once one is (see send's committedIf). */
  chainedNext?: Buffer;
  error?: unknown;
  settled: boolean;
}

/** A checkpoint key and the value a transaction puts there. */
export interface Checkpointed {
  readonly key: string;
  readonly value: Buffer;
}

/** Whether `key` lies in one of `ranges` ([from, to) by bytes). */
function inRanges(key: string, ranges: readonly Buffer[][]): boolean {
  const b = Buffer.from(key);
  return ranges.some(([from, to]) => Buffer.compare(b, from as Buffer) >= 0 && Buffer.compare(b, to as Buffer) < 0);
}

/**
 * etcd transactions in the order they were handed over, each sent once what it must follow
 * committed. etcd may apply two requests in flight in either order, so a transaction that writes
 * a key (or a range) an earlier one writes waits for it; a checkpoint's transaction (`afterAll`)
 * waits for every earlier one; at most its window are in flight. Handing over is synchronous, so the
 * order is the callers' order even while earlier ones still wait.
 *
 * Shared by the OpBuffers of one writer (EtcdTarget.begin: the stream's commits), it lets one
 * commit's transactions go out while the previous commit's last one is in flight, keys apart:
 * each commit's last transaction still waits for every one handed over before it, so no
 * checkpoint commits before a write that came before it.
 *
 * One exception: a checkpoint transaction (`checkpoint` given) handed over while the previous
 * checkpoint transaction of the same key is still in flight is chained to it instead of waiting
 * for its commit: it waits for every other transaction as before, and only for that one to be
 * sent, and carries a compare that the key holds the value that one puts. etcd then applies it
 * only after that one (if it comes first, the compare fails and it is sent again once that one
 * committed), so a checkpoint still never commits before a write that came before it, while a
 * stream of commits that each fit one transaction costs no round trip per commit. It applies
 * only when no other value the key may hold meanwhile equals the one compared (an earlier
 * checkpoint's still in flight, or the last one committed): the compare could not tell them apart.
 *
 * Every checkpoint transaction compares that the key holds the value of the one before it (when
 * this pipeline knows it: not for its first, nor after a write of the key beside it, see
 * wroteBeside), and a transaction is chained only to one that does. A client may send a
 * transaction again after its answer was lost, when the one chained to it already committed:
 * that attempt's compare fails, so it cannot put its rows and its older checkpoint back over
 * the later one's (send then finds the later value and takes it for committed).
 */
export class Pipeline {
  /**
   * `window`: at most this many of its transactions in flight at once; `windowBytes`: at most
   * this many bytes of them (Op.bytes), though always at least one transaction.
   */
  constructor(
    private readonly window = WINDOW,
    private readonly windowBytes = Infinity,
  ) {}

  private inFlight: InFlight[] = [];
  /**
   * Each key's last writer (by its keyHash) among the transactions handed over and not known to
   * have committed (a failed one stays until settle()). Following it is enough: it followed the
   * key's writer before it in turn, or, a chained checkpoint, applies only after it (see start).
   */
  private readonly writers = new KeyWriters<InFlight>();
  /** The last checkpoint transaction handed over, a chained one's predecessor while in flight. */
  private lastCheckpoint: InFlight | undefined;
  /** The value of the last checkpoint transaction known to have committed. */
  private committedCheckpoint: Buffer | undefined;

  /** Checkpoint transactions sent chained to one in flight, for metrics and tests. */
  chained = 0;

  /** Keys whose last writer is not known to have committed (the index stays bounded by what is in flight). */
  get keysInFlight(): number {
    return this.writers.size;
  }

  /** Whether a write of `key` was handed over and is not known to be committed. */
  touches(key: string): boolean {
    const w = this.writers.get(keyHash(key));
    if (w && !w.settled) return true;
    return this.inFlight.some((f) => !f.settled && f.ranges !== undefined && inRanges(key, f.ranges));
  }

  /** Those in flight that a transaction of `keys`, `ranges` and `bytes` must follow (all but `chainedTo`, when afterAll). */
  private before(keys: Int32Array, ranges: readonly Buffer[][] | undefined, bytes: number, afterAll: boolean, chainedTo?: InFlight): InFlight[] {
    const open = this.inFlight.filter((f) => !f.settled || f.error !== undefined);
    let deps: InFlight[];
    if (afterAll) deps = open.filter((f) => f !== chainedTo);
    else {
      // The last writers of its keys, and whatever deletes a range or failed.
      const shared = new Set<InFlight>();
      for (const k of keys) {
        const w = this.writers.get(k);
        if (w !== undefined) shared.add(w);
      }
      deps = open.filter((f) => ranges !== undefined || f.ranges !== undefined || f.error !== undefined || shared.has(f));
    }
    const window = open[open.length - this.window];
    if (window && !deps.includes(window)) deps.push(window);
    // Those in flight beyond windowBytes with this one (the newest kept): it is sent once they settled.
    if (this.windowBytes !== Infinity) {
      let held = bytes;
      let i = open.length - 1;
      for (; i >= 0; i--) {
        held += (open[i] as InFlight).bytes;
        if (held > this.windowBytes) break;
      }
      for (; i >= 0; i--) if (!deps.includes(open[i] as InFlight)) deps.push(open[i] as InFlight);
    }
    return deps;
  }

  /** The checkpoint transaction before one putting `checkpoint`, when the key is known to hold its value once that one committed. */
  private predecessor(checkpoint: Checkpointed): InFlight | undefined {
    const last = this.lastCheckpoint;
    return last?.checkpoint?.key === checkpoint.key && last.error === undefined ? last : undefined;
  }

  /** Whether a new checkpoint transaction putting `checkpoint` may be chained to `last`, its predecessor (see the class comment). */
  private chainable(last: InFlight, checkpoint: Checkpointed): boolean {
    const value = last.checkpoint?.value;
    if (!value || !last.follows || last.settled) return false;
    if (value.equals(checkpoint.value) || this.committedCheckpoint?.equals(value)) return false;
    for (const f of this.inFlight) if (f !== last && !f.settled && f.checkpoint?.key === checkpoint.key && f.checkpoint.value.equals(value)) return false;
    return true;
  }

  /**
   * Hands over `ops` as one transaction (synchronously: its place in the order is taken now); it
   * is sent once what it follows committed, and fails unsent if one of those failed. `keys`: the
   * keyHash of each key it writes.
   */
  start(sender: Sender, ops: readonly Op[], keys: Int32Array, ranges: readonly Buffer[][] | undefined, what: string, afterAll = false, checkpoint?: Checkpointed): InFlight {
    const last = afterAll && checkpoint ? this.predecessor(checkpoint) : undefined;
    const prev = last && checkpoint && this.chainable(last, checkpoint) ? last : undefined;
    let bytes = 0;
    for (const op of ops) bytes += op.bytes;
    const deps = this.before(keys, ranges, bytes, afterAll, prev);
    // The window may make it wait for its predecessor after all: then it is not chained.
    const chainedTo = prev && !deps.includes(prev) ? prev : undefined;
    // A chained one waits for its predecessor to be sent, not committed: sent after it, it is
    // mostly applied after it too (else its compare fails and it goes again).
    const waits = deps.map((d) => d.done);
    if (chainedTo) {
      waits.push(chainedTo.sent.catch(() => undefined));
      this.chained++;
    }
    const sent = waits.length
      ? Promise.all(waits).then(() => {
          const failed = deps.find((d) => d.error !== undefined) ?? (chainedTo?.error !== undefined ? chainedTo : undefined);
          if (failed) throw failed.error;
        })
      : Promise.resolve();
    const f: InFlight = { keys, ranges, bytes, settled: false, sent, done: Promise.resolve(), follows: last !== undefined, ...(checkpoint ? { checkpoint } : {}) };
    if (afterAll && checkpoint) this.lastCheckpoint = f;
    if (chainedTo && checkpoint) chainedTo.chainedNext = checkpoint.value;
    // Once it failed: the values the key holds if it committed after all, the checkpoint chained
    // to it first (only that one can commit before it settles: any later one waits for it).
    const committedIf = (): Buffer[] => (checkpoint ? [...(f.chainedNext ? [f.chainedNext] : []), checkpoint.value] : []);
    const after: Follows | undefined = last?.checkpoint && checkpoint ? { key: Buffer.from(checkpoint.key), value: last.checkpoint.value, committedIf, ...(chainedTo ? { done: chainedTo.done.then(() => chainedTo.error) } : {}) } : undefined;
    (f as { done: Promise<void> }).done = sent
      .then(() => send(sender, ops, what, after))
      .then(
        () => {
          f.settled = true;
          this.inFlight = this.inFlight.filter((x) => x !== f);
          for (const k of keys) this.writers.deleteIf(k, f);
          if (checkpoint) this.committedCheckpoint = checkpoint.value;
        },
        (err: unknown) => {
          f.error = err;
          f.settled = true;
        },
      );
    // `sent` rejects with what `done` records: handled there.
    sent.catch(() => undefined);
    this.inFlight.push(f);
    for (const k of keys) this.writers.set(k, f);
    return f;
  }

  /** Waits for the given transactions; throws the first failure in the pipeline. */
  async waitFor(entries: readonly InFlight[]): Promise<void> {
    await Promise.all(entries.map((f) => f.done));
    this.throwFailed();
  }

  /** Waits for every transaction handed over by now (not those handed over meanwhile); throws the first failure. */
  async drain(): Promise<void> {
    await this.waitFor(this.inFlight.slice());
  }

  private throwFailed(): void {
    const failed = this.inFlight.find((f) => f.error !== undefined);
    if (failed) throw failed.error;
  }

  /** Waits for everything handed over, whatever its outcome, and forgets failures (a writer starting over). */
  async settle(): Promise<void> {
    while (this.inFlight.some((f) => !f.settled)) await Promise.all(this.inFlight.map((f) => f.done));
    this.inFlight = [];
    this.writers.clear();
    this.lastCheckpoint = undefined;
    this.committedCheckpoint = undefined;
  }

  /**
   * Tells of a transaction of `ops` sent beside this pipeline (the target's other writes; those
   * of the checkpoint key are made while none of its transactions is in flight): when one writes
   * the checkpoint key, the key no
   * longer holds the last checkpoint value handed over here, so the next checkpoint transaction
   * compares none (and none is chained to it).
   */
  wroteBeside(ops: readonly Op[]): void {
    const key = this.lastCheckpoint?.checkpoint?.key;
    if (key !== undefined && ops.some((op) => op.key === key || (op.rangeEnd !== undefined && inRanges(key, [[op.keyBytes, op.rangeEnd]])))) this.lastCheckpoint = undefined;
  }
}

/**
 * Ops gathered for one target commit and sent in as few transactions as etcd's limits allow: a
 * transaction holds at most `maxOps - reserve` ops and MAX_TXN_BYTES, never two ops of one key,
 * never a put inside a range deleted in it. What must commit with the last ops (a checkpoint)
 * goes in `last`.
 *
 * Transactions before the last are sent without waiting for each other, through a Pipeline (its
 * own, or one shared with other buffers): only keys make that safe (see Pipeline). The last
 * transaction, with the checkpoint, is sent once every one handed to the pipeline before it
 * committed: the checkpoint never covers a write that may not have happened.
 */
export class OpBuffer {
  private ops: Op[] = [];
  /** The ops gathered as etcd counts them: an encoded op's puts (Op.count) each count. */
  private count = 0;
  /** The keys gathered (keyHash), unless `distinct` (then always empty); handed over with its transaction, a new one begun. */
  private readonly keys = new KeySet();
  private ranges: Buffer[][] | undefined;
  private bytes = 0;
  private readonly pipeline: Pipeline;
  private readonly sender: Sender;
  private readonly reserve: number;
  private readonly distinct: boolean;
  private readonly encode: boolean;
  /** Transactions sent before the last (a commit larger than one transaction), for metrics and tests. */
  sentEarly = 0;

  /**
   * `distinct`: the caller promises that no two ops it adds write the same key, nor a key a
   * transaction of `pipeline` in flight writes (a copy chunk's rows, through a pipeline of its
   * own): keys are then not tracked, and its transactions wait for none but the window's.
   *
   * `encode`: each transaction's ops are handed to the pipeline encoded, as one op
   * (wire.ts encodeOps; the sender gets that op), so that a transaction waiting or in flight holds
   * one buffer instead of an object, a key and a value per op. The stream's transactions: while 32
   * were in flight they held ~2 MB of young objects that every scavenge copied (measured:
   * bench/README.md). Not for a sender that reads the ops it is given (Pipeline.wroteBeside).
   */
  constructor(sender: Sender, reserve: number, pipeline: Pipeline = new Pipeline(), distinct = false, encode = false) {
    this.sender = sender;
    this.reserve = reserve;
    this.pipeline = pipeline;
    this.distinct = distinct;
    this.encode = encode;
  }

  get size(): number {
    return this.count;
  }

  /** The ops one of its transactions holds before the last, the reserve kept out. */
  get room(): number {
    return this.sender.maxOps - this.reserve;
  }

  /** Adds an op, first sending what is gathered when it would not fit beside it. */
  async add(op: Op, what: string): Promise<void> {
    const f = this.addNow(op, what);
    if (f) await f.sent;
  }

  /** add() without a promise per op: undefined when the op was only gathered, else what add() would wait for. */
  put(op: Op, what: string): Promise<void> | undefined {
    return this.addNow(op, what)?.sent;
  }

  /** add() without waiting for the transaction it hands over (returned) to be sent. */
  private addNow(op: Op, what: string): InFlight | undefined {
    let f: InFlight | undefined;
    const hash = this.hashOf(op.key);
    if (this.conflicts(op, hash) || this.count + (op.count ?? 1) > this.room || (this.ops.length > 0 && this.bytes + op.bytes > MAX_TXN_BYTES)) f = this.handOver(what);
    this.push(op, hash);
    return f;
  }

  /** keyHash(key), or 0 for a `distinct` buffer (which tracks no key). */
  private hashOf(key: string): number {
    return this.distinct ? 0 : keyHash(key);
  }

  /** `hash`: hashOf(op.key). */
  private push(op: Op, hash: number): void {
    if (op.encoded && !this.distinct) throw new TributaryError(ErrorCode.INTERNAL, `encoded puts from ${op.key} given to an etcd buffer that tracks its keys (encodedPutsOp is for a copy chunk's)`);
    this.ops.push(op);
    this.count += op.count ?? 1;
    if (!this.distinct) this.keys.add(hash);
    if (op.rangeEnd) (this.ranges ??= []).push([Buffer.from(op.key), op.rangeEnd]);
    this.bytes += op.bytes;
  }

  private conflicts(op: Op, hash: number): boolean {
    if (this.keys.has(hash)) return true;
    if (op.rangeEnd) return this.ops.length > 0;
    return this.ranges !== undefined && inRanges(op.key, this.ranges);
  }

  /** Whether a write of `key` is gathered here or in flight (not known to be committed). */
  touches(key: string): boolean {
    return this.keys.has(this.hashOf(key)) || this.pipeline.touches(key);
  }

  /** Waits for every transaction in flight; throws the first one's error. */
  async drain(): Promise<void> {
    await this.pipeline.drain();
  }

  /** Sends what is gathered as one transaction, without waiting for it to commit (see the class comment). */
  async flush(what: string): Promise<void> {
    await this.handOver(what)?.sent;
  }

  private handOver(what: string, afterAll = false, checkpoint?: Checkpointed): InFlight | undefined {
    if (this.ops.length === 0) return undefined;
    const ops = this.encode && this.ops.length > 1 ? [encodedOp(this.ops, this.count, this.bytes)] : this.ops;
    // The keys' hashes as bytes of their own: what is in flight holds no set.
    const f = this.pipeline.start(this.sender, ops, this.distinct ? NO_KEYS : this.keys.hashes(), this.ranges, what, afterAll, checkpoint);
    this.clear();
    if (!afterAll) this.sentEarly++;
    return f;
  }

  /**
   * Sends what is gathered with `last` in one final transaction, once every earlier one
   * committed; `last` beyond what one transaction takes goes first, in earlier ones. Everything
   * is handed to the pipeline before the first await (a writer sharing it may go on meanwhile);
   * resolves once the final transaction committed. `checkpoint`: the last of `last` is a
   * checkpoint put, whose transaction may be chained to the previous checkpoint's (Pipeline).
   */
  async commit(last: readonly Op[], what: string, checkpoint = false): Promise<void> {
    const room = Math.max(1, this.sender.maxOps);
    let tail = last;
    if (tail.length > room) {
      for (const op of tail.slice(0, tail.length - room)) this.addNow(op, what);
      tail = tail.slice(tail.length - room);
    }
    const hashes = tail.map((o) => this.hashOf(o.key));
    if (hashes.some((h) => this.keys.has(h)) || this.count + tail.length > room || this.bytes + tail.reduce((n, o) => n + o.bytes, 0) > MAX_TXN_BYTES) this.handOver(what);
    tail.forEach((op, i) => this.push(op, hashes[i] as number));
    const cp = checkpoint ? tail[tail.length - 1] : undefined;
    const f = this.handOver(what, true, cp?.value ? { key: cp.key, value: cp.value } : undefined);
    if (f) await this.pipeline.waitFor([f]);
    else await this.pipeline.drain();
  }

  /** Forgets what is gathered, once what is in flight has settled. */
  async abandon(): Promise<void> {
    this.clear();
    await this.pipeline.settle();
  }

  clear(): void {
    this.ops = [];
    this.count = 0;
    this.keys.clear();
    this.ranges = undefined;
    this.bytes = 0;
  }
}

/** Where a stream transaction's changes go: the layout, the source's value conventions, the ops. */
export interface ApplyContext {
  readonly layout: KeyLayout;
  readonly conventions: (engine: string) => ValueConventions;
  readonly client: Etcd3;
}

/**
 * The stored objects of the given keys (raw JSON text), for upserts that leave columns unchanged
 * (PostgreSQL's unchanged TOAST values): read before they are rewritten.
 */
/** The stored objects (raw text) of the given keys, by key; keys etcd lacks are left out. */
export async function getMany(client: Etcd3, keys: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < keys.length; i += 100) {
    const part = keys.slice(i, i + 100);
    const res = await client.kv.txn({ compare: [], success: part.map((k) => ({ request_range: { key: Buffer.from(k) } })), failure: [] });
    for (const r of res.responses) for (const kv of r.response_range?.kvs ?? []) out.set(kv.key.toString(), kv.value.toString());
  }
  return out;
}

/** The ops of row changes, in order (the caller coalesced them: one per key). */
export async function changeOps(ctx: ApplyContext, tables: ReadonlyMap<string, TableSchema>, changes: readonly Change[]): Promise<Op[]> {
  const partial = changes.filter((c) => c.kind === 'upsert' && c.unchanged?.length);
  const stored = partial.length ? await getMany(ctx.client, partial.map((c) => ctx.layout.rowKey(tableOf(tables, c.table), c.key))) : undefined;
  const ops: Op[] = [];
  for (const c of changes) {
    const table = tableOf(tables, c.table);
    const key = ctx.layout.rowKey(table, c.key);
    if (c.kind === 'delete') {
      ops.push(deleteOp(key));
      continue;
    }
    if (c.unchanged?.length) {
      // The row the source updated without sending these columns: keep their stored values; a
      // key etcd does not have yet is one the copy has not reached (it brings the whole row).
      const text = stored?.get(key);
      if (text === undefined) continue;
      ops.push(putOp(key, renderRow(table, c.row, ctx.conventions(table.engine), members(text), c.unchanged)));
      continue;
    }
    // A row rendered where the stream decoded it (StreamRequest.documents) is put as it came.
    ops.push(c.doc ? putOp(key, c.doc) : putRowOp(key, table, c.row, ctx.conventions(table.engine)));
  }
  return ops;
}

function tableOf(tables: ReadonlyMap<string, TableSchema>, name: string): TableSchema {
  const t = tables.get(name);
  if (!t) throw new TributaryError(ErrorCode.INTERNAL, `no schema for table ${name}`);
  return t;
}

/** Every key and value under `prefix`, a page at a time in key order (at `revision`, when given). */
export async function* rangePages(client: Etcd3, prefix: string, page = 1000, revision?: string): AsyncGenerator<{ key: string; value: string }[]> {
  const start = Buffer.from(prefix);
  const end = prefixEnd(start);
  let from = start;
  for (;;) {
    const res = await client.kv.range({ key: from, range_end: end, limit: page, ...(revision !== undefined ? { revision } : {}) });
    if (res.kvs.length) yield res.kvs.map((kv) => ({ key: kv.key.toString(), value: kv.value.toString() }));
    if (!res.more || res.kvs.length === 0) return;
    from = Buffer.concat([(res.kvs[res.kvs.length - 1] as { key: Buffer }).key, Buffer.from([0])]);
  }
}

/** Every row of a table in etcd, a page at a time (key order), with its key. */
export async function* scanTable(client: Etcd3, layout: KeyLayout, table: TableSchema, conv: ValueConventions, page = 1000, revision?: string): AsyncGenerator<{ key: string; row: Row }[]> {
  for await (const kvs of rangePages(client, layout.tablePrefix(table.name), page, revision)) yield kvs.map((kv) => ({ key: kv.key, row: parseRow(table, kv.value, conv) }));
}

/**
 * A referential action the source ran and did not log (MySQL/MariaDB cascades): every row of the
 * child table whose columns equal `from` is updated to `to`, or deleted. etcd has no index on
 * them: the table is read whole, a page at a time.
 */
export async function* cascadeOps(ctx: ApplyContext, table: TableSchema, cascade: Cascade): AsyncGenerator<Op[]> {
  const idx = cascade.columns.map((name) => table.columns.findIndex((c) => c.name === name));
  const conv = ctx.conventions(table.engine);
  const want = keyString(cascade.from);
  // Read at one revision: the page's writes (sent while the next page is read) are not read back.
  const head = await ctx.client.kv.range({ key: Buffer.from(ctx.layout.tablePrefix(table.name)), count_only: true });
  for await (const page of scanTable(ctx.client, ctx.layout, table, conv, 1000, head.header.revision)) {
    const ops: Op[] = [];
    for (const { key, row } of page) {
      if (keyString(idx.map((i) => row[i] ?? null)) !== want) continue;
      if (cascade.kind === 'delete') {
        ops.push(deleteOp(key));
        continue;
      }
      const next: Value[] = row.slice();
      idx.forEach((ci, j) => (next[ci] = cascade.to[j] ?? null));
      const newKey = ctx.layout.rowKey(table, table.primaryKey.map((i) => next[i] ?? null));
      if (newKey !== key) ops.push(deleteOp(key));
      ops.push(putRowOp(newKey, table, next, conv));
    }
    if (ops.length) yield ops;
  }
}
