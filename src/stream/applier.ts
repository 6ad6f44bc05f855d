import type { Logger } from 'pino';
import { rowOf, type Change, type StreamEvent } from '../core/change.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { SchemaChange } from '../core/schema-change.js';
import { definedTables, nameAfter } from '../core/schema-change-tables.js';
import type { Cascade, TableSchema } from '../core/schema.js';
import type { Row } from '../core/values.js';
import { cascadesOf, tablesWithReferentialActions } from '../schema/foreign-keys.js';
import type { ChangeSource } from '../core/source.js';
import type { StreamCheckpoint } from '../core/checkpoint-store.js';
import type { Target, TargetTransaction } from '../core/target.js';
import { opBytes, type Convergence, type StreamOp } from '../copier/convergence.js';
import { CHECKPOINT_VERSION } from '../checkpoint/checkpoint.js';
import type { PauseGate } from '../core/pause.js';
import { NO_OBSERVER, type SyncObserver } from '../core/observer.js';
import { Batch } from './batch.js';

/** What the stream does with a parsed schema change of a synced table: apply it to the target, or stop on it. */
export type DdlPolicy = 'follow' | 'halt';

/**
 * A statement that only changed online schema change shadows (TableSchema.shadowOf): no operation
 * for the target, every definition before and after it a shadow's. Its definitions are stored with
 * the checkpoint after it, so a restart follows the shadows further.
 */
function isShadowBookkeeping(ev: Extract<StreamEvent, { type: 'ddl' }>): ev is Extract<StreamEvent, { type: 'ddl' }> & { before: ReadonlyMap<string, TableSchema>; after: ReadonlyMap<string, TableSchema> } {
  if (ev.operations?.length !== 0 || !ev.before || !ev.after || ev.unsupported !== undefined) return false;
  const all = [...ev.before.values(), ...ev.after.values()];
  return all.length > 0 && all.every((t) => t.shadowOf !== undefined);
}

/**
 * The applier's hold on the initial copy running beside it, for a schema change of a table whose
 * copy is not finished (copier/copier.ts implements it).
 */
export interface CopyControl {
  /**
   * Stops the copy of those of `tables` it has not finished: no chunk of them starts, and this
   * resolves once none is in flight. Returns them; each must then be restart()ed.
   */
  quiesce(tables: readonly string[]): Promise<string[]>;
  /** Copies a quiesced table again from the start with `schema` (under its new name), or ends its copy (undefined: dropped). */
  restart(table: string, schema: TableSchema | undefined): void;
  /**
   * Copies a table the copy does not know yet from the start, while the stream runs, during the
   * initial copy or after it (copier/copier.ts add): a table a schema change brought into the
   * selection with rows the stream does not carry (the `ddl` event's `adopt`). Called once the
   * change (which created the table on the target and removed its copy checkpoint) is applied.
   */
  add(schema: TableSchema): void;
}

export interface ApplierOptions {
  readonly source: ChangeSource;
  readonly target: Target;
  readonly tables: readonly TableSchema[];
  /** Position to stream from (the checkpoint's, or P0 on a fresh start). */
  readonly from: string;
  readonly sourceId: string;
  /** Coordinator mode: the leadership's epoch, written into every stream checkpoint (StreamCheckpoint.epoch). */
  readonly epoch?: string;
  readonly convergence: Convergence;
  /** Commit once this many changes are pending at a transaction boundary. */
  readonly batchSize: number;
  /** Commit pending changes at the first boundary after they have waited this long. */
  readonly flushIntervalMs: number;
  /**
   * Bound on the bytes of changes read and not yet written to the target: those pending in the
   * batch and those the copy's gates hold, together (see `relieve()`).
   */
  readonly bufferBytes: number;
  /**
   * Called at a DDL statement on a synced table that is not followed (`ddl: 'halt'`, or the source
   * could not parse or follow it), after everything before it is committed; `after` is the tables'
   * definitions after it when the source parsed it. Returns true when the sync may go on past it
   * (the target already has the definition the statement produced); false stops the sync with an
   * error quoting the statement.
   */
  readonly onDdl?: (tables: readonly string[], statement: string, after?: ReadonlyMap<string, TableSchema>) => Promise<boolean>;
  /**
   * What to do with a schema change the source parsed (a `ddl` event with operations): 'follow'
   * applies it to the target in stream order (TargetWriter.applySchemaChange) and goes on; 'halt'
   * stops the sync on it as on any DDL (for users who manage the target's schema themselves).
   * Default 'follow'.
   */
  readonly ddl?: DdlPolicy;
  /**
   * `--skip-ddl`: the position of one schema change to go on past without applying it, in the
   * form the sync's messages print it (ChangeSource.describePosition, e.g. 'binlog.000003:1234'; a
   * prefix of it up to a space matches too). The target's tables are then the user's to bring to
   * the definitions after it; the stream writes later rows with those definitions.
   */
  readonly skipDdl?: string;
  /**
   * Whether a schema change's foreign key operations (add-foreign-key, drop-foreign-key) are applied
   * to the target; false under `--foreign-keys skip` or for a target that holds none. The tables'
   * definitions follow them either way (the stream derives cascades from them). Default true.
   */
  readonly foreignKeys?: boolean;
  /**
   * The initial copy running beside the stream (copier/copier.ts), for schema changes of tables it
   * has not finished: their chunks were read with the definition of before (some even after the
   * source changed it, before the stream reached the statement), so such a table is copied again
   * from the start. Absent: every table is copied.
   */
  readonly copy?: CopyControl;
  /** Told after a schema change was applied (or skipped by --skip-ddl) and checkpointed, with the position just after it. */
  readonly onSchemaChange?: (change: SchemaChange, position: string) => void;
  /**
   * Told when a schema change of these tables is about to be applied, before the applier waits for
   * what came before it: a checksum repair holding their changes lets go at once instead of waiting
   * for a stream that waits for it.
   */
  readonly onSchemaChangeStart?: (tables: readonly string[]) => void;
  readonly logger: Logger;
  /**
   * While paused the applier reads and applies nothing: it commits what it has up to the last
   * transaction boundary, then waits (the source stops reading once its bounded buffer is full).
   * A stop() ends the pause.
   */
  readonly pause?: PauseGate;
  /** Told of every commit (its changes and timings) and of each source transaction's end-to-end latency; default: nothing. */
  readonly observer?: SyncObserver;
}

/**
 * Row changes the applier has committed, per kind, counted one per source row change before
 * coalescing. A primary-key update counts as a delete and an update; `upsert` counts changes whose
 * source did not say whether they came from an INSERT or an UPDATE.
 */
export interface ChangeCounts {
  insert: number;
  update: number;
  delete: number;
  upsert: number;
  truncate: number;
}

export interface ApplierStats {
  readonly changesApplied: number;
  readonly transactionsApplied: number;
  readonly commits: number;
  readonly appliedPosition: string;
  readonly held: number;
  readonly lagSeconds: number;
  /** Bytes of changes read and not yet written to the target: the pending batch and the held changes. */
  readonly bufferBytes: number;
  /** Committed row changes per table and kind (see ChangeCounts). */
  readonly changesByTable: ReadonlyMap<string, Readonly<ChangeCounts>>;
}

const STOP_GRACE_MS = 30_000;
/**
 * Source commit times kept for the end-to-end latency until the next commit. Memory stays bounded
 * when a flush interval takes in many small transactions; those beyond go unmeasured.
 */
const MAX_LATENCY_SAMPLES = 10_000;
/** Microtask turns an event at hand may take to settle through the source's generators (see run()). */
const SETTLE_TURNS = 16;
/** Under a commit limit, commits handed to the target and not yet landed at once (see commitOnce). */
const MAX_LANDING = 4;
/** While a commit lands, the run loop lets I/O callbacks run at least this often (ms; see run()). */
const YIELD_MS = 1;

/**
 * Applies the change stream to the target: changes are coalesced per key, written in batches that
 * end on source transaction boundaries, and committed in one target transaction together with the
 * checkpoint of the position they reach. During the copy, changes pass through the Convergence
 * gates, and the checkpoint never moves past a held change.
 *
 * Memory: pending and held changes together stay within `bufferBytes`. Beyond it the applier
 * writes what it may (a source transaction bigger than that is written in pieces into one open
 * target transaction, a *spill*), and when what is left is held by chunks in flight, or pending
 * for tables with chunks in flight, it takes no event until those chunks are written: the
 * source's bounded queue then stops reading. Held changes are not moved to disk instead: a chunk
 * is bounded by --chunk-time, so the wait is short, and the rules of Convergence make sure it
 * ends (the copy never waits on a row lock of the stream's open transaction).
 */
export class StreamApplier {
  private readonly opts: ApplierOptions;
  private readonly schemas: Map<string, TableSchema>;
  private batch: Batch;
  private tx: TargetTransaction | undefined;
  private inTxn = false;
  /** Index of the last source transaction boundary seen; positions[i] is its resume position. */
  private boundary = 0;
  private readonly positions = new Map<number, string>();
  private pendingSince = 0;
  private dirty = false;
  private phase: 'copy' | 'stream' = 'copy';
  private idle = true;
  private lastAppliedTs = 0;
  private stopRequested = false;
  private readonly stats = { changesApplied: 0, transactionsApplied: 0, commits: 0, appliedPosition: '', txnsPending: 0 };
  /** Row changes taken since the last commit, and those committed, per table (metrics). */
  private pendingCounts = new Map<string, ChangeCounts>();
  private readonly appliedCounts = new Map<string, ChangeCounts>();
  private readonly observer: SyncObserver;
  /** When the open target transaction began (ms), for the batch's apply time. */
  private txBegunAt = 0;
  /** stats.changesApplied at the last commit: the next commit's batch size is the difference. */
  private changesAtCommit = 0;
  /** Whether a change or truncate came since the last boundary (heartbeats and empty transactions have no latency to report). */
  private changedSinceBoundary = false;
  /** Source commit times (ms) of the transactions with changes read since the last commit. */
  private sourceCommitTimes: number[] = [];
  /**
   * Referential actions of the source that its change log does not carry (logsCascades false),
   * in source order, applied after the batch's changes and before its commit; the boundary after
   * a transaction with one commits at once, so no later change is written before them.
   */
  private cascades: Cascade[] = [];
  /** Under a target's commitLimit: the open source transaction's changes, waiting to join the batch at its end (see add()). */
  private openTxn: StreamOp[] = [];
  /** The open source transaction has more changes than one commit holds: they go to the batch as they come. */
  private openTxnTooBig = false;
  /** Bytes of openTxn's changes (opBytes), counted against the buffer's bound. */
  private openTxnBytes = 0;
  /** Where the open source transaction's cascades begin in `cascades`. */
  private txnCascadeStart = 0;
  /** Foreign keys whose cascades go deeper than the parent's row tells (warned once each). */
  private readonly warnedDeeper = new Set<string>();

  constructor(opts: ApplierOptions) {
    // A batch commits with its stream checkpoint or not at all: a crash never loses or doubles a
    // change only because of it (exactly-once, DESIGN.md).
    if (!opts.target.capabilities.atomicCheckpoint) {
      throw new TributaryError(ErrorCode.INTERNAL, `target engine ${opts.target.engine} cannot commit a batch with its checkpoint (capabilities.atomicCheckpoint is false); the stream could not resume exactly`);
    }
    this.opts = opts;
    this.schemas = new Map(opts.tables.map((t) => [t.name, t]));
    this.batch = new Batch(this.schemas);
    this.positions.set(0, opts.from);
    this.stats.appliedPosition = opts.from;
    this.observer = opts.observer ?? NO_OBSERVER;
  }

  /**
   * Ops released by the copier after a chunk was written, in stream order. Their bytes move from
   * the gate to the batch; the run loop writes them when the batch is over its bound.
   */
  release(ops: StreamOp[]): void {
    for (const op of ops) this.batch.add(op);
    this.markPending();
    this.wake?.();
  }

  /** The copy has finished: the next commit records phase 'stream'. */
  setPhase(phase: 'copy' | 'stream'): void {
    // The copy is done: a snapshot it read (PostgreSQL's exported snapshot) can go, and the
    // source's stream, which waits for that, begins.
    if (phase === 'stream') void this.opts.source.releaseSnapshot().catch(() => undefined);
    if (this.phase !== phase) {
      this.phase = phase;
      this.dirty = true;
      this.markPending();
    }
  }

  /** Ask the applier to stop at the next source transaction boundary. */
  stop(): void {
    this.stopRequested = true;
    this.wake?.();
  }

  snapshot(): ApplierStats {
    const behind = !this.idle || !this.batch.empty || this.tx !== undefined || this.openTxn.length > 0 || this.landing !== undefined || this.opts.convergence.heldCount > 0;
    return {
      changesApplied: this.stats.changesApplied,
      transactionsApplied: this.stats.transactionsApplied,
      commits: this.stats.commits,
      appliedPosition: this.stats.appliedPosition,
      held: this.opts.convergence.heldCount,
      lagSeconds: this.lag(behind),
      bufferBytes: this.batch.bytes + this.opts.convergence.heldBytes,
      changesByTable: this.appliedCounts,
    };
  }

  /**
   * How stale the target is. Behind with changes taken and not yet committed: seconds since the
   * oldest of them was committed on the source (its transaction's commit time, or when it was
   * taken if that is earlier or its transaction has not ended yet), so the lag is exact to the
   * source's commit times (ms on PostgreSQL; on MySQL/MariaDB the receive time within the binlog
   * header's second) and a first transaction after an idle hour reads as milliseconds behind, not
   * an hour. Behind otherwise (changes held for the copy, a paused stream with events waiting):
   * seconds since the commit time of the last transaction applied. Idle and caught up: 0, unless
   * the source promised an event within `silenceMs` (a binlog heartbeat's nextWithinMs) and has
   * been silent longer; then seconds since its last event, for a stalled or cut connection must
   * not read as caught up.
   */
  private lag(behind: boolean): number {
    const now = Date.now();
    if (behind) {
      const oldest = this.oldestUnapplied();
      // An open source transaction has no commit time yet: what it holds may be as old as the
      // last one applied (a backlog replayed), so it never reads younger than that.
      const open = this.inTxn && this.lastAppliedTs ? (now - this.lastAppliedTs) / 1000 : 0;
      if (oldest > 0) return Math.max(0, (now - oldest) / 1000, open);
      return this.lastAppliedTs ? Math.max(0, (now - this.lastAppliedTs) / 1000) : 0;
    }
    return this.silenceMs && now - this.lastEventAt > this.silenceMs ? (now - this.lastEventAt) / 1000 : 0;
  }

  /** The source time (ms) of the oldest change taken and not yet committed on the target; 0: none known. */
  private oldestUnapplied(): number {
    let oldest = this.batchOldest();
    for (const t of this.inflightOldest) if (oldest === 0 || t < oldest) oldest = t;
    return oldest;
  }

  /** The oldest change of those taken since the last commit began (see lag()); 0: none. */
  private batchOldest(): number {
    const committed = this.sourceCommitTimes[0] ?? 0;
    if (this.firstTakenAt === 0) return committed;
    return committed > 0 && committed < this.firstTakenAt ? committed : this.firstTakenAt;
  }

  /** When the first change since the last commit began was taken (ms; 0: none). */
  private firstTakenAt = 0;
  /** batchOldest() of each commit begun and not yet committed. */
  private inflightOldest: number[] = [];

  /** When the last event was taken from the source, and the silence it promised at most (0: none). */
  private lastEventAt = Date.now();
  private silenceMs = 0;

  /**
   * The position of the last source transaction boundary the applier has read (not necessarily
   * committed): every change before it has been applied, put in the pending batch, or held.
   */
  receivedPosition(): string {
    return this.positions.get(this.boundary) ?? this.opts.from;
  }

  /**
   * Resolves once every change the applier had taken (not held) when called is committed on the
   * target: at once when nothing is pending, else after the next commit. A change inside a source
   * transaction still open waits for that transaction's end.
   */
  barrier(): Promise<void> {
    // Nothing pending: done, or done once the commit under way (which took it all) has committed.
    if (this.batch.empty && this.tx === undefined && this.openTxn.length === 0) return this.committing ?? this.landing ?? Promise.resolve();
    return new Promise((resolve) => this.barriers.push(resolve));
  }

  /** The commit under way, which holds everything taken before it (settles, never rejects). */
  private committing: Promise<void> | undefined;

  /** True while waiting for the source with nothing pending to commit (held changes aside). */
  waitingIdle(): boolean {
    return this.idle && this.batch.empty && this.tx === undefined && this.openTxn.length === 0 && this.landing === undefined;
  }

  private readonly barriers: (() => void)[] = [];
  private wake: (() => void) | undefined;

  /**
   * Whether what is pending may commit as soon as the source has nothing more at hand: changes
   * (or cascades, or an open target transaction) up to a complete source transaction. Position-only
   * progress (heartbeats, transactions of other tables) waits for --flush-interval, so an idle
   * source costs no commit per heartbeat; a pause or a stop commits on its own path.
   */
  private caughtUpFlush(): boolean {
    if (this.inTxn || this.stopRequested || this.opts.pause?.paused) return false;
    // A batch still being written behind: what came since waits for it to land (which wakes the
    // loop), and grows meanwhile, rather than queue behind it one small commit per transaction.
    if (this.writingBehind) return false;
    if (this.stats.txnsPending === 0) return false;
    return !this.batch.empty || this.tx !== undefined || this.cascades.length > 0;
  }

  private markPending(): void {
    if (this.pendingSince === 0) this.pendingSince = Date.now();
  }

  /** Runs until stop() (at a boundary) or an error. */
  async run(): Promise<void> {
    const streamAbort = new AbortController();
    // A target that writes rows as JSON documents takes them rendered where the source decodes them.
    const request = this.opts.target.capabilities.rowDocuments ? { documents: true } : undefined;
    const it = this.opts.source.stream(this.opts.from, this.opts.tables, streamAbort.signal, request)[Symbol.asyncIterator]();
    // One read in flight at a time, with one settlement handler; the loop sleeps until it settles
    // or a timer fires (a flush is due, a stop was asked).
    let pending: { settled: boolean; result?: IteratorResult<readonly StreamEvent[]>; error?: unknown } | undefined;
    // The run of events the source gave last (ChangeLog.stream), taken one event per turn of the
    // loop, so that a stop, a pause or a full buffer is seen between two events as before; the
    // next run is asked for once this one is taken.
    let run: readonly StreamEvent[] = [];
    let at = 0;
    const pull = () => {
      const slot: NonNullable<typeof pending> = { settled: false };
      pending = slot;
      it.next().then(
        (r) => {
          slot.result = r;
          slot.settled = true;
          this.wake?.();
        },
        (e: unknown) => {
          slot.error = e;
          slot.settled = true;
          this.wake?.();
        },
      );
    };
    let stopDeadline = 0;
    let yieldedAt = performance.now();
    try {
      for (;;) {
        if (this.landingError !== undefined) await this.landed();
        // Events at hand are taken in microtasks, which run before any I/O callback: while a commit
        // lands, the loop gives way every YIELD_MS so the target's replies are read as they come and
        // its next statement goes at once, instead of after the buffered events (a SQL batch written
        // behind waited on them for most of its time).
        if (this.landing !== undefined && performance.now() - yieldedAt > YIELD_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          yieldedAt = performance.now();
        }
        if (this.stopRequested) {
          if (!this.inTxn) break;
          stopDeadline ||= Date.now() + STOP_GRACE_MS;
          if (Date.now() > stopDeadline) {
            this.opts.logger.warn('stopping inside a source transaction that did not end in time; its changes will be re-read on resume');
            await this.abandon();
            return;
          }
        }
        if (this.opts.pause?.paused && !this.stopRequested) {
          // Paused: first commit what was read up to the last boundary, so the target holds every
          // transaction taken before the pause; then take nothing until resume() or stop().
          if (!this.inTxn && (!this.batch.empty || this.tx || this.dirty || this.stats.txnsPending > 0)) {
            await this.commit();
            continue;
          }
          await this.landed();
          // Behind while an event waits to be taken (or a transaction is open): the lag then grows.
          this.idle = at >= run.length && !pending?.settled && this.batch.empty && !this.inTxn;
          const gate = this.opts.pause;
          await new Promise<void>((resolve) => {
            this.wake = resolve;
            void gate.wait().then(resolve);
          });
          this.wake = undefined;
          continue;
        }
        if (this.overBudget()) {
          await this.relieve();
          if (this.overBudget()) {
            // What is left waits for chunks in flight: take nothing until one is written (its
            // held changes are then released, or its table may be written). A stop or a release
            // wakes the loop early; the timer only re-checks the stop deadline.
            this.idle = false;
            this.opts.logger.trace({ pendingBytes: this.batch.bytes, heldBytes: this.opts.convergence.heldBytes }, 'stream buffer full: waiting for copy chunks in flight');
            const chunkEnd = new AbortController();
            await Promise.race([this.opts.convergence.nextChunkEnd(chunkEnd.signal), sleepUntilWoken(this.opts.flushIntervalMs, (w) => (this.wake = w))]);
            chunkEnd.abort();
            this.wake = undefined;
            continue;
          }
        }
        if (at < run.length) {
          const ev = run[at++] as StreamEvent;
          this.idle = false;
          this.lastEventAt = Date.now();
          const waiting = ev.type === 'change' ? this.change(ev) : this.handle(ev);
          if (waiting) await waiting;
          continue;
        }
        if (!pending) pull();
        const slot = pending as NonNullable<typeof pending>;
        // An event the source has at hand still takes a few microtask turns to come up through its
        // async generators: wait those out before taking it that the source has nothing (which arms
        // a timer: one per event otherwise, ~6 % of the applying thread).
        for (let turn = 0; turn < SETTLE_TURNS && !slot.settled; turn++) await Promise.resolve();
        if (!slot.settled && this.caughtUpFlush()) {
          // Caught up: a complete source transaction waits, and no next event is at hand once
          // whatever the source had already received has been handed over (a turn of the event
          // loop: a socket's data read meanwhile is decoded and queued by then). Commit it now
          // instead of at the flush interval. A stream that keeps delivering never gets here:
          // its batch grows while the previous commit runs, up to --batch-size or the interval.
          await yieldUntilWoken((w) => (this.wake = w));
          this.wake = undefined;
          if (!slot.settled && this.caughtUpFlush()) await this.commit(true);
          // Back to the top either way: a stop or a pause that woke the yield is seen there at
          // once (falling through would sleep the interval with a wake nobody calls).
          continue;
        }
        if (!slot.settled) {
          // Inside a source transaction nothing can commit before its end: wait a full interval.
          const due = this.pendingSince + this.opts.flushIntervalMs - Date.now();
          // A stop asked while the loop was not asleep (it woke nobody) is seen at once.
          const waitMs = this.stopRequested && !this.inTxn ? 0 : this.pendingSince && !this.inTxn ? Math.max(0, due) : this.opts.flushIntervalMs;
          this.idle = this.batch.empty && !this.inTxn;
          await sleepUntilWoken(waitMs, (w) => (this.wake = w));
          this.wake = undefined;
        }
        if (!slot.settled) {
          if (!this.inTxn && this.pendingSince && Date.now() >= this.pendingSince + this.opts.flushIntervalMs) await this.commit();
          continue;
        }
        pending = undefined;
        if (slot.error !== undefined) throw slot.error;
        const r = slot.result as IteratorResult<readonly StreamEvent[]>;
        if (r.done) break;
        // A source written for the former contract (one event per step) would have its events skipped.
        if (!Array.isArray(r.value)) throw new TributaryError(ErrorCode.INTERNAL, `the ${this.opts.source.engine} source's stream yielded ${typeof r.value === 'object' && r.value !== null && 'type' in r.value ? `a single '${String(r.value.type)}' event` : String(r.value)}, not a run of events; fix: ChangeLog.stream yields arrays of events (docs/library.md)`);
        run = r.value;
        at = 0;
      }
      if (!this.inTxn && (!this.batch.empty || this.tx || this.dirty || this.stats.txnsPending > 0)) await this.commit();
      await this.landed();
    } catch (err) {
      await this.abandon();
      throw err;
    } finally {
      streamAbort.abort();
      // Let the generator run its cleanup (it stops the binlog client).
      void it.return?.(undefined).catch(() => undefined);
    }
  }

  /**
   * A change event: into the batch, or held by the copy (convergence). Returns a promise only when
   * there is something to wait for (a commit limit's open transaction, a full buffer): the run loop
   * takes most events without one, which had cost the applying thread a promise and its garbage
   * for every change.
   */
  private change(ev: Extract<StreamEvent, { type: 'change' }>): Promise<void> | undefined {
    if (!this.inTxn) this.txnCascadeStart = this.cascades.length;
    this.inTxn = true;
    this.changedSinceBoundary = true;
    if (this.firstTakenAt === 0) this.firstTakenAt = this.lastEventAt;
    if (ev.before && !this.opts.source.capabilities.logsCascades) this.noteCascades(ev.change, ev.before);
    this.count(ev.change.table, ev.op ?? (ev.change.kind === 'delete' ? 'delete' : 'upsert'));
    if (!this.opts.convergence.offer(ev.change, this.boundary)) {
      // Without a commit limit (a SQL target) a change only joins the batch (see add()).
      const limit = this.opts.target.capabilities.commitLimit;
      if (limit !== null) return this.addUnderLimit(ev.change, limit);
      this.batch.add(ev.change);
      this.markPending();
    }
    if (this.overBudget()) return this.relieve();
    return undefined;
  }

  /** A change under a commit limit: a promise, again, only when there is something to wait for. */
  private addUnderLimit(op: StreamOp, limit: number): Promise<void> | undefined {
    const wait = this.add(op, limit);
    if (wait) return this.afterAdd(wait);
    this.markPending();
    return this.overBudget() ? this.relieve() : undefined;
  }

  private async afterAdd(wait: Promise<void>): Promise<void> {
    await wait;
    this.markPending();
    if (this.overBudget()) await this.relieve();
  }

  private async handle(ev: StreamEvent): Promise<void> {
    switch (ev.type) {
      case 'begin':
        if (!this.inTxn) this.txnCascadeStart = this.cascades.length;
        this.inTxn = true;
        return;
      case 'change':
        await this.change(ev);
        return;
      case 'truncate': {
        // A PostgreSQL TRUNCATE comes inside its source transaction: its position is a boundary
        // for the checkpoint, but the transaction goes on, and nothing may commit before its end
        // (a reload, TRUNCATE then INSERTs, would show the empty table on the target).
        const within = this.inTxn;
        await this.closeOpenTxn();
        const op: StreamOp = { kind: 'truncate', table: ev.table };
        this.count(ev.table, 'truncate');
        this.changedSinceBoundary = true;
        if (this.firstTakenAt === 0) this.firstTakenAt = this.lastEventAt;
        if (!this.opts.convergence.offer(op, this.boundary)) this.batch.add(op);
        this.markPending();
        await this.atBoundary(ev.position, ev.timestamp);
        if (within) this.inTxn = true;
        return;
      }
      case 'commit':
        await this.closeOpenTxn();
        await this.atBoundary(ev.position, ev.timestamp);
        return;
      case 'heartbeat':
        this.silenceMs = ev.nextWithinMs ?? this.silenceMs;
        if (this.inTxn || this.opts.source.comparePositions(ev.position, this.receivedPosition()) <= 0) return;
        await this.atBoundary(ev.position, ev.timestamp);
        return;
      case 'ddl': {
        // A schema change can arrive inside a source transaction (a PostgreSQL Relation message
        // before a row with the new definition): then nothing is committed here, for that would
        // commit the transaction's earlier rows without its end. Stopping abandons them with the
        // open target transaction (the checkpoint stays before the transaction); going on keeps
        // them in it. Between transactions, what came before commits first.
        const midTransaction = this.inTxn;
        await this.closeOpenTxn();
        if (!midTransaction) await this.commit();
        if (!midTransaction && this.skips(ev.position)) {
          await this.skipSchemaChange(ev);
          return;
        }
        // A shadow table's definition (TableSchema.shadowOf), whatever --ddl says: stored, nothing applied.
        if (!midTransaction && isShadowBookkeeping(ev)) {
          await this.followSchemaChange({ statement: ev.statement, sourceEngine: this.opts.source.engine, operations: [], before: ev.before, after: ev.after }, ev.position, { bookkeeping: true });
          return;
        }
        if (!midTransaction && ev.operations && ev.before && ev.after && ev.unsupported === undefined && (this.opts.ddl ?? 'follow') === 'follow' && (ev.adopt === undefined || this.opts.copy)) {
          await this.followSchemaChange({ statement: ev.statement, sourceEngine: this.opts.source.engine, operations: ev.operations, before: ev.before, after: ev.after }, ev.position, { adopt: ev.adopt ?? [] });
          return;
        }
        if (await this.opts.onDdl?.(ev.tables, ev.statement, ev.after)) {
          this.opts.logger.warn({ statement: ev.statement.trim().slice(0, 200) }, 'DDL on a synced table: the target already has the resulting definition; continuing');
          // The definitions after it are stored with the checkpoint, as for a change applied.
          if (!midTransaction && ev.before && ev.after) await this.storeDefinitions(ev, ev.before, ev.after);
          else if (!midTransaction) await this.atBoundary(ev.position, Date.now());
          else if (ev.after) {
            // Inside a transaction nothing is checkpointed: the rows after it are written with the
            // definitions after it.
            for (const name of ev.before?.keys() ?? []) this.schemas.delete(name);
            for (const [name, table] of ev.after) this.schemas.set(name, table);
            this.schemasVersion++;
          }
          return;
        }
        throw ddlStop(ev, this.opts.ddl ?? 'follow', this.opts.source.describePosition(ev.position));
      }
    }
  }

  /**
   * The cascades a row change of a parent table made on the source that its change log does not
   * carry (schema/foreign-keys.ts cascadesOf), queued for the commit. Applied whatever the
   * convergence does with the parent's change: they concern the child tables' rows.
   */
  private noteCascades(change: Change, before: Row): void {
    const parent = this.schemas.get(change.table);
    if (!parent || !this.referenced().has(change.table)) return;
    const { cascades, deeper } = cascadesOf(this.schemas, change.table, before, change.kind === 'upsert' ? rowOf(change) : null);
    this.cascades.push(...cascades);
    for (const key of deeper) {
      if (this.warnedDeeper.has(key)) continue;
      this.warnedDeeper.add(key);
      this.opts.logger.warn({ foreignKey: key }, `ON DELETE CASCADE through ${key} deletes rows that other foreign keys cascade from again; the source does not log those deeper cascades and the stream cannot derive them: the continuous checksum repairs them`);
    }
  }

  /** The tables referenced by a foreign key with a referential action, for the definitions of now. */
  private referenced(): ReadonlySet<string> {
    if (this.referencedFor !== this.schemasVersion) {
      this.referencedTables = tablesWithReferentialActions(this.schemas.values());
      this.referencedFor = this.schemasVersion;
    }
    return this.referencedTables;
  }
  private referencedTables: ReadonlySet<string> = new Set();
  private referencedFor = -1;
  /** Bumped whenever `schemas` changes, so derived sets are rebuilt. */
  private schemasVersion = 0;

  /** Whether `--skip-ddl` names this position. */
  private skips(position: string): boolean {
    const skip = this.opts.skipDdl;
    if (skip === undefined) return false;
    const at = this.opts.source.describePosition(position);
    return at === skip || at.startsWith(`${skip} `);
  }

  /**
   * `--skip-ddl`: goes on past the statement without applying it. The checkpoint moves past it,
   * with the definitions the source gives after it as the tables' versioned schemas when it
   * parsed the statement.
   */
  private async skipSchemaChange(ev: Extract<StreamEvent, { type: 'ddl' }>): Promise<void> {
    this.opts.logger.warn(
      { statement: ev.statement.trim().slice(0, 300), tables: ev.tables, position: this.opts.source.describePosition(ev.position) },
      `--skip-ddl: the schema change is not applied to the target; table${ev.tables.length > 1 ? 's' : ''} ${ev.tables.join(', ')} on the target ${ev.tables.length > 1 ? 'are' : 'is'} now yours to bring to the source's definition after it, and the rows after it are written with that definition`,
    );
    if (ev.before && ev.after) {
      await this.storeDefinitions(ev, ev.before, ev.after);
    } else {
      await this.atBoundary(ev.position, Date.now());
      await this.commit();
    }
  }

  /** Goes on past a statement applying nothing to the target: the definitions after it are stored with the checkpoint after it. */
  private storeDefinitions(ev: Extract<StreamEvent, { type: 'ddl' }>, before: ReadonlyMap<string, TableSchema>, after: ReadonlyMap<string, TableSchema>): Promise<void> {
    return this.followSchemaChange({ statement: ev.statement, sourceEngine: this.opts.source.engine, operations: [], before, after }, ev.position);
  }

  /**
   * Applies a parsed schema change to the target and checkpoints the position after it, once
   * everything before it is committed: the changes of the batch (committed by the caller) and
   * those the copy's gates hold (waited for here, for the checkpoint must not pass them). The
   * tables' definitions then become those after it, for every later write.
   */
  private async followSchemaChange(change: SchemaChange, position: string, { bookkeeping = false, adopt = [] as readonly string[] } = {}): Promise<void> {
    if (!bookkeeping) this.opts.onSchemaChangeStart?.(definedTables(change));
    // Tables still being copied stop taking chunks (those in flight end first) and are copied again
    // after the change, from the start, with their new definition.
    const copying = this.opts.copy ? await this.opts.copy.quiesce([...change.before.keys()]) : [];
    // Tables entering the selection with rows the stream does not carry are copied too, from the start.
    const adopted = adopt.filter((name) => change.after.has(name));
    // Tables whose rows the target cannot convert itself are copied again from the start too.
    const copyingNow = copying.map((name) => nameAfter(change, -1, name)).filter((now) => change.after.has(now));
    const rebuilt = bookkeeping ? [] : this.opts.target.recopyAfter(change).filter((name) => change.after.has(name) && !copyingNow.includes(name) && !adopted.includes(name));
    if (rebuilt.length > 0 && !this.opts.copy) {
      throw new TributaryError(ErrorCode.DDL_UNSUPPORTED, `the target cannot convert the rows of ${rebuilt.join(', ')} after "${change.statement.trim().slice(0, 200)}" and this run has no copier to read them again from the source; skip the statement (--skip-ddl) and re-copy the table`);
    }
    const recopy = [...new Set([...copyingNow, ...adopted, ...rebuilt])];
    if (recopy.length) change = { ...change, recopy };
    // Changes held for chunks in flight lie before the statement: the checkpoint waits for them,
    // and they are written with the definitions before it (those the quiescing released too).
    if (this.batch.changes > 0) await this.commit();
    while (this.opts.convergence.oldestBoundary() !== undefined) {
      await this.opts.convergence.nextChunkEnd();
      await this.commit();
    }
    // An overlapped commit still landing (its batch was empty since) lands before the change: its
    // writes are of the definitions before it (an etcd range cleared by the change must not get
    // them back after).
    await this.landed();
    this.boundary++;
    this.positions.set(this.boundary, position);
    if (this.opts.foreignKeys === false) change = { ...change, operations: change.operations.filter((op) => op.op !== 'add-foreign-key' && op.op !== 'drop-foreign-key') };
    await this.opts.target.applySchemaChange(change, { version: CHECKPOINT_VERSION, position, sourceId: this.opts.sourceId, phase: this.phase, ...(this.opts.epoch !== undefined ? { epoch: this.opts.epoch } : {}) });
    for (const name of change.before.keys()) this.schemas.delete(name);
    for (const [name, table] of change.after) this.schemas.set(name, table);
    this.schemasVersion++;
    await this.opts.source.acknowledge(position);
    for (const k of this.positions.keys()) if (k < this.boundary) this.positions.delete(k);
    this.stats.appliedPosition = position;
    this.dirty = false;
    for (const name of copying) {
      this.opts.copy?.restart(name, change.after.get(nameAfter(change, -1, name)));
    }
    for (const name of [...adopted, ...rebuilt]) this.opts.copy?.add(change.after.get(name) as TableSchema);
    if (bookkeeping) {
      this.opts.logger.debug({ statement: change.statement.trim().slice(0, 200), tables: definedTables(change) }, 'online schema change shadow followed');
      return;
    }
    this.opts.logger.info({ statement: change.statement.trim().slice(0, 200), tables: definedTables(change), position: this.opts.source.describePosition(position) }, 'schema change applied to the target');
    this.opts.onSchemaChange?.(change, position);
  }

  /**
   * A stream change into the batch under a target's commitLimit (without one, change() adds it to
   * the batch itself). The open source transaction's
   * changes wait beside the batch (openTxn) until its end, so that closeOpenTxn can commit the
   * batch before them when together they would not fit one commit; a transaction that outgrows the
   * limit alone joins the batch at once (after the batch before it is committed) and is written in
   * several commits by the target. The change is added at once; a promise is returned only when
   * there is something to wait for (a spill, or the open transaction outgrowing the limit).
   */
  private add(op: StreamOp, limit: number): Promise<void> | undefined {
    if (this.openTxnTooBig) {
      this.batch.add(op);
      // It is written in several commits anyway: each commit's worth goes into the open target
      // transaction as it fills, so the target sends it while the rest is read.
      return this.batch.changes >= limit ? this.spillClaimable() : undefined;
    }
    this.openTxn.push(op);
    this.openTxnBytes += opBytes(op);
    if (this.openTxn.length <= limit) return undefined;
    return this.openTxnTooLarge();
  }

  /** The open source transaction outgrew the commit limit: it is written in parts from now on. */
  private async openTxnTooLarge(): Promise<void> {
    // A transaction in parts right after one in parts joins its commit (see partsShareCommit).
    if (!this.partsShareCommit()) await this.commitBeforeOpenTxn();
    this.joinOpenTxn();
    this.openTxnTooBig = true;
  }

  /**
   * Under a commit limit while streaming, source transactions too large for one commit that come
   * one after another share one commit, and the checkpoint: each is written in parts anyway, so
   * a part of one may go in a target transaction with a part of the next, and the checkpoint
   * follows the last of them (at the flush interval, the next transaction that fits, a schema
   * change or the end) instead of costing a round trip of its own after each. A transaction that
   * fits never joins them (closeOpenTxn commits them first), so it is still written whole in one
   * target transaction. True when the open target transaction holds such parts already.
   */
  private partsShareCommit(): boolean {
    return this.tx !== undefined && this.phase === 'stream';
  }

  /**
   * Commits the batch at the last boundary, without the open source transaction, whose changes
   * wait in openTxn: nor its cascades (applied after its changes), nor the barriers taken while
   * it was open (they wait for its changes too).
   */
  private async commitBeforeOpenTxn(): Promise<void> {
    if (this.batch.empty && !this.tx) return;
    const cascades = this.cascades.splice(this.txnCascadeStart);
    const barriers = this.openTxn.length ? this.barriers.splice(0) : [];
    try {
      await this.commit(true);
    } finally {
      this.cascades.push(...cascades);
      this.barriers.push(...barriers);
      this.txnCascadeStart = 0;
    }
  }

  /** The open transaction's waiting changes join the batch. */
  private joinOpenTxn(): void {
    for (const o of this.openTxn.splice(0)) this.batch.add(o);
    this.openTxnBytes = 0;
  }

  /** Writes the pending changes of every table the copy lets the stream write now into the open target transaction (see relieve()). */
  private async spillClaimable(): Promise<void> {
    const conv = this.opts.convergence;
    const claimed = new Set<string>();
    for (const { table } of this.batch.tableBytes()) if (conv.claimedByStream(table) || conv.claimForStream(table, false)) claimed.add(table);
    if (claimed.size) await this.spill((t) => claimed.has(t));
  }

  /** The open source transaction ended (or a schema change came inside it): its waiting changes join the batch. */
  private async closeOpenTxn(): Promise<void> {
    this.openTxnTooBig = false;
    if (this.openTxn.length === 0) return;
    const limit = this.opts.target.capabilities.commitLimit ?? Infinity;
    // Parts of a larger transaction written already (partsShareCommit) commit first: one that fits
    // goes whole in a commit of its own.
    if (this.batch.changes + this.openTxn.length > limit || (limit !== Infinity && this.tx !== undefined)) await this.commitBeforeOpenTxn();
    this.joinOpenTxn();
  }

  private async atBoundary(position: string, timestamp: number): Promise<void> {
    this.inTxn = false;
    this.boundary++;
    this.positions.set(this.boundary, position);
    this.stats.txnsPending++;
    this.lastSeenTs = timestamp;
    if (this.changedSinceBoundary && timestamp > 0 && this.sourceCommitTimes.length < MAX_LATENCY_SAMPLES) this.sourceCommitTimes.push(timestamp);
    this.changedSinceBoundary = false;
    this.markPending();
    const limit = this.opts.target.capabilities.commitLimit;
    // Under a commit limit, a transaction already partly written (spilled) commits at its end,
    // unless the next one in parts may share its commit (partsShareCommit).
    const parts = this.tx !== undefined && !this.partsShareCommit();
    // Written behind (commitOnce), a batch and the next one being read share the buffer: each commits by half of it.
    const half = limit === null && this.phase === 'stream' && this.batch.bytes >= this.opts.bufferBytes / 2;
    const due = half || this.batch.changes >= this.opts.batchSize || (limit !== null && (this.batch.changes >= limit || parts)) || Date.now() >= this.pendingSince + this.opts.flushIntervalMs || this.cascades.length > 0;
    if (due || this.stopRequested) await this.commit(!this.stopRequested);
  }

  private lastSeenTs = 0;

  private count(table: string, kind: keyof ChangeCounts): void {
    let c = this.pendingCounts.get(table);
    if (!c) this.pendingCounts.set(table, (c = { insert: 0, update: 0, delete: 0, upsert: 0, truncate: 0 }));
    c[kind]++;
  }

  private overBudget(): boolean {
    return this.batch.bytes + this.openTxnBytes + this.behindBytes + this.opts.convergence.heldBytes >= this.opts.bufferBytes;
  }

  /**
   * Brings pending and held changes back under `bufferBytes` where it can without waiting. At a
   * source transaction boundary it commits. Inside one it spills: the tables its open transaction
   * has written already, then, until at most half the bound is left, the tables no chunk is
   * copying now (most bytes first), then it insists on the others, which stops new chunks of them
   * so that a later pass can write them. A table it writes stays locked by the open transaction,
   * and its copy waits, until the source transaction ends: so it claims a table only when needed.
   * Held changes it cannot touch: they wait for their chunks.
   */
  private async relieve(): Promise<void> {
    if (!this.inTxn) {
      if (!this.batch.empty || this.tx) await this.commit();
      return;
    }
    // The open transaction waiting beside the batch (a commit limit's) joins it: it is then written
    // in several commits, as one too big for one is.
    if (this.openTxn.length) {
      await this.commitBeforeOpenTxn();
      this.joinOpenTxn();
      this.openTxnTooBig = true;
    }
    const conv = this.opts.convergence;
    const low = this.opts.bufferBytes / 2;
    let left = this.batch.bytes + conv.heldBytes;
    const claimed = new Set<string>();
    const tables = this.batch.tableBytes();
    for (const { table, bytes } of tables) {
      if (!conv.claimedByStream(table)) continue;
      claimed.add(table);
      left -= bytes;
    }
    for (const insist of [false, true]) {
      for (const { table, bytes } of tables) {
        if (left <= low) break;
        if (claimed.has(table) || !conv.claimForStream(table, insist)) continue;
        claimed.add(table);
        left -= bytes;
      }
    }
    if (claimed.size) await this.spill((t) => claimed.has(t));
  }

  /**
   * Writes pending changes (of the tables `only` accepts) into the open transaction without
   * committing. Inside a source transaction only tables claimed from the Convergence may be
   * written (see relieve()); a commit's final write needs no claim.
   */
  private async spill(only?: (table: string) => boolean): Promise<void> {
    const { truncates, changes } = this.batch.drain(only);
    if (truncates.length === 0 && changes.length === 0) return;
    const tx = await this.beginIfNone();
    for (const t of truncates) await tx.truncate(this.schema(t));
    if (changes.length) await tx.write(this.schemas, changes);
    this.stats.changesApplied += changes.length;
  }

  /** The open target transaction, begun now if there is none (noting when, for the batch's apply time). */
  private async beginIfNone(): Promise<TargetTransaction> {
    if (this.tx) return this.tx;
    if (this.writingBehind) await this.landed();
    this.txBegunAt = Date.now();
    this.tx = await this.opts.target.begin();
    return this.tx;
  }

  /** The table's definition as the stream writes it now; undefined when it is not synced. */
  definition(name: string): TableSchema | undefined {
    return this.schemas.get(name);
  }

  /** Every synced table's definition as the stream writes it now (schema changes applied). */
  definitions(): TableSchema[] {
    return [...this.schemas.values()];
  }

  private schema(name: string): TableSchema {
    const s = this.schemas.get(name);
    if (!s) throw new TributaryError(ErrorCode.INTERNAL, `no schema for table ${name}`);
    return s;
  }

  /**
   * Commits everything up to the last boundary, with the checkpoint. Only called between
   * transactions. `overlap`: it may return while the target's commit is still under way (see
   * commitOnce); the next commit, and every other path to the target, waits for it first.
   */
  private async commit(overlap = false): Promise<void> {
    const done = this.commitOnce(overlap);
    this.committing = done.then(
      () => undefined,
      () => undefined,
    );
    try {
      await done;
    } finally {
      this.committing = undefined;
    }
  }

  /**
   * A commit handed to the target and not yet committed, while the next batch is read and written
   * (commitOnce): settles once it committed and its bookkeeping ran; never rejects (its error
   * waits in `landingError` for the run loop, the next commit or the end of the run). The
   * latest of those under way: each one's bookkeeping follows the one before it.
   */
  private landing: Promise<void> | undefined;
  private landingError: unknown;
  /** Commits under way (at most MAX_LANDING), oldest first. */
  private landings: Promise<void>[] = [];

  /** The landing commit is a batch written behind (commitOnce): nothing else reaches the target before it lands. */
  private writingBehind = false;
  /** Bytes of the batch written behind, counted against the buffer's bound until it lands. */
  private behindBytes = 0;

  /** Waits for the commit under way (see `landing`), if any; throws its error. */
  private async landed(): Promise<void> {
    await this.landing;
    const err = this.landingError;
    if (err === undefined) return;
    this.landingError = undefined;
    throw err;
  }

  private async commitOnce(overlap: boolean): Promise<void> {
    // A batch written behind (below) lands before anything else reaches the target.
    if (this.writingBehind) await this.landed();
    const held = this.opts.convergence.oldestBoundary();
    const idx = held === undefined ? this.boundary : Math.min(held, this.boundary);
    const position = this.positions.get(idx) ?? this.opts.from;
    const ts = this.lastSeenTs;
    const txns = this.stats.txnsPending;
    const barriers = this.barriers.splice(0);
    // Changes held for a chunk in flight are not in this commit, though their transaction's time
    // is: during the copy the latency of those few reads short.
    const oldest = this.batchOldest();
    this.firstTakenAt = 0;
    if (oldest > 0) this.inflightOldest.push(oldest);
    const sourceTimes = this.sourceCommitTimes;
    this.sourceCommitTimes = [];
    // Without a commit limit (a SQL target), a batch of whole source transactions is written and
    // committed behind while streaming: the next batch is read and coalesced meanwhile, and waits
    // for it to land before it reaches the target (commitOnce, beginIfNone), so the target sees
    // one transaction at a time, in order, as before. Otherwise the applying thread and the target
    // wait for each other: each was about half busy (bench/README.md), and with the run loop's
    // yields while a batch lands, 1M-change replays went 66k → 78k (MySQL → MySQL) and 70k → 80k
    // changes/s (PostgreSQL → PostgreSQL).
    const behind = overlap && this.phase === 'stream' && this.opts.target.capabilities.commitLimit === null && this.tx === undefined && this.cascades.length === 0 && held === undefined;
    let tx: TargetTransaction | undefined;
    let writeBehind: (() => Promise<TargetTransaction>) | undefined;
    if (behind) {
      this.behindBytes = this.batch.bytes;
      const { truncates, changes } = this.batch.drain();
      // The definitions cannot change before it lands (followSchemaChange waits for it).
      const tables = new Map(this.schemas);
      const cleared = truncates.map((t) => this.schema(t));
      this.stats.changesApplied += changes.length;
      this.txBegunAt = Date.now();
      writeBehind = async () => {
        const t = await this.opts.target.begin();
        try {
          for (const table of cleared) await t.truncate(table);
          if (changes.length) await t.write(tables, changes);
        } catch (err) {
          await t.rollback().catch(() => undefined);
          throw err;
        }
        return t;
      };
    } else {
      await this.spill();
      const cascades = this.cascades.splice(0);
      tx = await this.beginIfNone();
      for (const c of cascades) {
        const child = this.schemas.get(c.table);
        if (child) await tx.cascade(child, c);
      }
    }
    // Commits land in order. Overlapping (below), the target keeps them so (TargetCapabilities
    // .commitLimit) and their bookkeeping runs in order; at most MAX_LANDING are under way. Else
    // the one before has committed, and the source has its acknowledgement, before this one's
    // checkpoint is handed to the target.
    const overlapping = overlap && this.phase === 'stream' && this.opts.target.capabilities.commitLimit !== null;
    if (overlapping) {
      while (this.landings.length >= MAX_LANDING) await this.landings[0];
      if (this.landingError !== undefined) await this.landed();
    } else {
      await this.landed();
    }
    const before = this.landing;
    this.tx = undefined;
    this.stats.txnsPending -= txns;
    const counts = this.pendingCounts;
    this.pendingCounts = new Map();
    const changes = this.stats.changesApplied - this.changesAtCommit;
    this.changesAtCommit = this.stats.changesApplied;
    const begunAt = this.txBegunAt;
    this.pendingSince = this.batch.empty ? 0 : Date.now();
    this.dirty = false;
    const commitAt = Date.now();
    const checkpoint: StreamCheckpoint = { version: CHECKPOINT_VERSION, position, sourceId: this.opts.sourceId, phase: this.phase, ...(this.opts.epoch !== undefined ? { epoch: this.opts.epoch } : {}) };
    const handed = writeBehind ? writeBehind().then((t) => t.commit(checkpoint)) : (tx as TargetTransaction).commit(checkpoint);
    const committed = handed.then(async () => {
      await before;
      const committedAt = Date.now();
      if (oldest > 0) this.inflightOldest.splice(this.inflightOldest.indexOf(oldest), 1);
      // The transaction's row locks are gone: chunks of the tables it wrote may start.
      this.opts.convergence.streamEnded();
      // Only now may the source forget what lies before `position` (a PostgreSQL slot's flush position).
      await this.opts.source.acknowledge(position);
      for (const k of this.positions.keys()) if (k < idx) this.positions.delete(k);
      this.stats.commits++;
      this.stats.transactionsApplied += txns;
      this.stats.appliedPosition = position;
      for (const [table, c] of counts) {
        const into = this.appliedCounts.get(table);
        if (!into) this.appliedCounts.set(table, c);
        else for (const k of Object.keys(c) as (keyof ChangeCounts)[]) into[k] += c[k];
      }
      if (ts) this.lastAppliedTs = ts;
      this.observer.streamCommitted({ changes, applySeconds: (committedAt - begunAt) / 1000, commitSeconds: (committedAt - commitAt) / 1000 });
      for (const sourceTs of sourceTimes) this.observer.changeCommitted(Math.max(0, committedAt - sourceTs) / 1000);
      for (const b of barriers) b();
    });
    // Under a commit limit (etcd) a commit is small and waits a round trip of its own: while
    // streaming, the next batch is read and written meanwhile. The target keeps that safe: the
    // next batch's writes never overtake this commit's writes of the same keys, and its checkpoint
    // never commits before this one's writes (engines/etcd/apply.ts Pipeline). During the copy the
    // gates need each commit to have ended (streamEnded) before chunks go on: no overlap there.
    if (overlapping || behind) {
      this.writingBehind = behind;
      // Settles after the one before it, failed or not: the latest settled means all did.
      const landing: Promise<void> = committed
        .then(
          () => before,
          async (err: unknown) => {
            this.landingError ??= err;
            this.wake?.();
            await before;
          },
        )
        .then(() => {
          this.landings = this.landings.filter((l) => l !== landing);
          if (this.landing === landing) {
            this.landing = undefined;
            if (this.writingBehind) {
              this.writingBehind = false;
              this.behindBytes = 0;
              this.wake?.();
            }
          }
        });
      this.landing = landing;
      this.landings.push(landing);
      return;
    }
    await committed;
  }

  private async abandon(): Promise<void> {
    await this.landing;
    this.landingError = undefined;
    this.openTxn = [];
    this.openTxnBytes = 0;
    this.txnCascadeStart = 0;
    this.openTxnTooBig = false;
    const tx = this.tx;
    this.tx = undefined;
    this.cascades = [];
    this.pendingCounts = new Map();
    this.sourceCommitTimes = [];
    this.firstTakenAt = 0;
    this.inflightOldest = [];
    this.changesAtCommit = this.stats.changesApplied;
    await tx?.rollback().catch(() => undefined);
    this.opts.convergence.streamEnded();
  }
}

/** Resolves after one turn of the event loop (I/O callbacks included), or earlier when woken. */
function yieldUntilWoken(onWake: (wake: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const immediate = setImmediate(resolve);
    onWake(() => {
      clearImmediate(immediate);
      resolve();
    });
  });
}

/** Resolves after `ms`, or earlier when the function handed to `onWake` is called. */
function sleepUntilWoken(ms: number, onWake: (wake: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    onWake(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The error that stops the sync on a DDL statement it does not apply, naming why and what to do. */
function ddlStop(ev: Extract<StreamEvent, { type: 'ddl' }>, policy: DdlPolicy, at: string): TributaryError {
  const tables = `synced table${ev.tables.length > 1 ? 's' : ''} ${ev.tables.join(', ')}`;
  const statement = `"${ev.statement.trim().slice(0, 500)}" at ${at}`;
  const resume = `the checkpoint is just before this statement, and the restarted sync goes on past it once the target definition matches the source; or restart with --skip-ddl '${at}' to go on past it without applying it (the target's table is then yours to change)`;
  if (ev.operations && ev.unsupported === undefined && policy === 'halt') {
    return new TributaryError(ErrorCode.DDL_UNSUPPORTED, `DDL on ${tables} stopped the sync (--ddl halt): ${statement}. Apply the same change to the target table, then restart; ${resume}; or restart with --ddl follow to let tributary apply it`);
  }
  const why = ev.unsupported ?? 'tributary cannot follow this statement';
  return new TributaryError(ErrorCode.DDL_UNSUPPORTED, `DDL on ${tables} stopped the sync: ${statement}: ${why}. Apply the same change to the target table, then restart; ${resume}`);
}
