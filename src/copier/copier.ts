import type { Logger } from 'pino';
import { AbortedError, ErrorCode, TributaryError } from '../core/errors.js';
import { isKeyless, type TableSchema } from '../core/schema.js';
import type { ChangeSource, CopyOrder, EncodedChunk, KeyRange } from '../core/source.js';
import type { ChunkCommit, TableCheckpoint, Target } from '../core/target.js';
import { rowBytes, type Row, type Value } from '../core/values.js';
import type { PauseGate } from '../core/pause.js';
import { NO_OBSERVER, type SyncObserver } from '../core/observer.js';
import type { RowRateLimiter } from './rate-limit.js';
import type { Convergence, StreamOp, TableGate } from './convergence.js';
import { Mutex } from './mutex.js';
import { wakeAll, waitFor } from './waiters.js';

export interface CopierOptions {
  readonly source: ChangeSource;
  readonly target: Target;
  readonly tables: readonly TableSchema[];
  /** Saved copy progress per table (absent: copy from the start). */
  readonly resume: ReadonlyMap<string, TableCheckpoint>;
  readonly threads: number;
  /** Target wall time of one chunk (read + write), in ms; chunk sizes adapt to it. */
  readonly chunkTimeMs: number;
  readonly initialChunkSize: number;
  /**
   * The direction each table's keys are walked (`copyOrder`); default 'asc'. A table resumed from a
   * watermark goes on in the direction its checkpoint recorded (TableCheckpoint.order).
   */
  readonly copyOrder?: CopyOrder;
  /** Bound on the bytes of one chunk in memory; sizes shrink to stay under it (wide rows, blobs). */
  readonly chunkBytes: number;
  readonly convergence: Convergence;
  /** Receives stream ops a finished chunk releases; they must be applied in the order given. */
  readonly release: (ops: StreamOp[]) => void;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** While paused, no new chunk starts; chunks in flight finish and commit. */
  readonly pause?: PauseGate;
  /**
   * A throttle's own gate (the replica's lag, copier/throttle.ts), checked like `pause` but apart
   * from it, so that resuming one does not lift the other.
   */
  readonly throttle?: PauseGate;
  /** Rows per second shared by every worker (`copyRateLimit`); chunks plan at most one second of it. */
  readonly rateLimit?: RowRateLimiter;
  /** Told of each chunk committed (its rows and duration); default: nothing. */
  readonly observer?: SyncObserver;
  /**
   * How long a chunk that failed for good waits for a schema change of its table (the source can be
   * ahead of the stream) to quiesce the table, which copies it again, before the copy fails. Default 15 s.
   */
  readonly schemaChangeWaitMs?: number;
}

/** Progress of one table's copy. */
export interface TableCopyProgress {
  readonly table: string;
  readonly rowsCopied: number;
  readonly rowsTotal: number;
  readonly done: boolean;
}

const MIN_CHUNK = 100;
const MAX_CHUNK = 200_000;
const CHUNK_ATTEMPTS = 5;
/** How long a chunk that failed for good waits for a schema change of its table to quiesce it before the copy fails. */
const SCHEMA_CHANGE_WAIT_MS = 15_000;

class TableCopy {
  readonly schema: TableSchema;
  /** The direction the table's keys are walked, chunk after chunk. */
  readonly order: CopyOrder;
  /**
   * Where the next chunk begins: the far end of the last chunk handed out (its upper bound going
   * up, its lower bound going down); null = from the start of the walk (the table's first key going
   * up, its last going down).
   */
  cursor: Value[] | null;
  /** True once the open-ended last chunk has been handed out. */
  exhausted = false;
  /** Aborts once the table is exhausted: a worker waiting under the rate limit to copy more of it stops waiting. */
  readonly ended = new AbortController();
  size: number;
  /** Rows of every committed chunk (progress), those beyond the watermark included. */
  rowsCopied: number;
  /**
   * Rows of the chunks at or below the watermark: what a checkpoint stores, since a resume copies
   * again every chunk beyond the watermark (counting them twice otherwise).
   */
  private rowsAtWatermark: number;
  /** Rows of each committed chunk not yet counted in the watermark. */
  private readonly committedRows = new Map<number, number>();
  rowsTotal = 0;
  done: boolean;
  readonly claim = new Mutex();
  readonly commit = new Mutex();
  /** Far end (the cursor after it) of each issued chunk not yet counted in the watermark. */
  private readonly bounds = new Map<number, Value[] | null>();
  private readonly committedSeqs = new Set<number>();
  private nextLocal = 1;
  private watermarkSeq = 0;
  watermark: Value[] | null;
  private chunkSeqs = new Map<number, number>();
  /** Whether the log said yet which path (encoded by the source, or canonical rows) the copy takes. */
  pathLogged = false;
  /**
   * Replaced by a copy from the start (Copier.restart) or ended (its table dropped): a worker that
   * still holds this object (waiting under the rate limit) claims nothing more of it.
   */
  retired = false;

  constructor(schema: TableSchema, resume: TableCheckpoint | undefined, size: number, order: CopyOrder) {
    this.schema = schema;
    // A watermark means only something in the direction that wrote it; without one, nothing is
    // known to be copied and the walk may take either direction.
    this.order = resume?.watermark ? (resume.order ?? 'asc') : order;
    this.cursor = resume?.watermark ?? null;
    this.watermark = this.cursor;
    this.rowsCopied = resume?.rowsCopied ?? 0;
    this.rowsAtWatermark = this.rowsCopied;
    this.done = resume?.done ?? false;
    this.exhausted = this.done;
    this.size = size;
  }

  /** Registers an issued chunk ending at `next` (the cursor after it); local sequence numbers follow the walk. */
  issue(next: Value[] | null, gateSeq: number): number {
    const local = this.nextLocal++;
    this.bounds.set(local, next);
    this.chunkSeqs.set(local, gateSeq);
    return local;
  }

  /** The checkpoint if chunk `local` commits now (chunks commit one at a time per table). */
  checkpointWith(local: number, rows: number): TableCheckpoint {
    let seq = this.watermarkSeq;
    let wm = this.watermark;
    let counted = this.rowsAtWatermark;
    const rowsOf = new Map(this.committedRows).set(local, rows);
    while (rowsOf.has(seq + 1)) {
      seq++;
      wm = this.bounds.get(seq) ?? null;
      counted += rowsOf.get(seq) ?? 0;
    }
    const allIn = this.exhausted && seq === this.nextLocal - 1;
    return { watermark: allIn ? null : wm, done: allIn, rowsCopied: counted, ...(this.order === 'desc' ? { order: 'desc' } : {}) };
  }

  markCommitted(local: number, rows: number): void {
    this.committedSeqs.add(local);
    this.committedRows.set(local, rows);
    this.rowsCopied += rows;
    while (this.committedSeqs.has(this.watermarkSeq + 1)) {
      this.watermarkSeq++;
      this.committedSeqs.delete(this.watermarkSeq);
      this.rowsAtWatermark += this.committedRows.get(this.watermarkSeq) ?? 0;
      this.committedRows.delete(this.watermarkSeq);
      this.watermark = this.bounds.get(this.watermarkSeq) ?? null;
      this.bounds.delete(this.watermarkSeq);
    }
    if (this.exhausted && this.watermarkSeq === this.nextLocal - 1) this.done = true;
  }

  gateSeq(local: number): number {
    return this.chunkSeqs.get(local) ?? 0;
  }
}

/**
 * The initial copy: keyset chunks on the primary key, read without locks and written with
 * REPLACE semantics, `threads` at a time across all tables, each chunk's size adapting to
 * `chunkTimeMs`. Every chunk commits together with its table's watermark, so a restart resumes
 * after the last contiguous committed chunk. Works with the Convergence gates so that the
 * stream running alongside converges with it.
 */
export class Copier {
  private readonly opts: CopierOptions;
  private readonly tables: TableCopy[];
  /** Tables whose copy waits for a schema change (quiesce … restart/resume): no chunk of them starts. */
  private readonly quiesced = new Set<string>();
  /** Tables whose end of copy was logged and told to the target (once each). */
  private readonly reportedCopied = new WeakSet<TableCopy>();
  /** Workers waiting for a quiesced table to come back, when no other table has chunks left. */
  private readonly resumeWaiters: (() => void)[] = [];
  /** Waiting for a table to copy (waitForTables): woken by add(). */
  private readonly addedWaiters: (() => void)[] = [];
  /** Set by the first failed worker: no new chunks are claimed after it. */
  private stopped = false;
  /** Aborts when the job does or a worker failed: ends a worker's wait for the stream. */
  private readonly halted = new AbortController();

  constructor(opts: CopierOptions) {
    // A chunk commits with its table watermark or not at all: a restart resumes after the last
    // committed chunk only because of it.
    if (!opts.target.capabilities.atomicCheckpoint) {
      throw new TributaryError(ErrorCode.INTERNAL, `target engine ${opts.target.engine} cannot commit a chunk with its checkpoint (capabilities.atomicCheckpoint is false); the copy could not resume exactly`);
    }
    this.opts = opts;
    this.tables = opts.tables.map((t) => new TableCopy(t, opts.resume.get(t.name), opts.initialChunkSize, this.order));
  }

  private get order(): CopyOrder {
    return this.opts.copyOrder ?? 'asc';
  }

  progress(): TableCopyProgress[] {
    return this.tables.map((t) => ({
      table: t.schema.name,
      rowsCopied: t.rowsCopied,
      rowsTotal: Math.max(t.rowsTotal, t.rowsCopied),
      done: t.done,
    }));
  }

  async run(): Promise<void> {
    for (const t of this.tables) {
      if (t.done) {
        t.rowsTotal = t.rowsCopied;
        continue;
      }
      const stats = await this.opts.source.tableStats(t.schema.name);
      t.rowsTotal = stats.rows;
      // Start no bigger than the byte bound allows, judging by the catalogue's average row size.
      if (stats.avgRowBytes > 0) t.size = Math.max(1, Math.min(t.size, Math.floor(this.opts.chunkBytes / stats.avgRowBytes)));
      if (t.cursor && !t.done) {
        this.opts.logger.info({ table: t.schema.name, rowsCopied: t.rowsCopied, order: t.order }, 'resuming copy after the last checkpointed chunk');
        if (t.order !== this.order) this.opts.logger.warn({ table: t.schema.name, order: t.order, copyOrder: this.order }, `the table's copy goes on ${t.order === 'desc' ? 'descending' : 'ascending'} as its checkpoint began it; copyOrder ${this.order} applies to tables not started`);
      }
    }
    if (this.tables.every((t) => t.done)) return;
    const halt = () => this.halted.abort();
    this.opts.signal.addEventListener('abort', halt, { once: true });
    if (this.opts.signal.aborted) halt();
    let cursor = 0;
    // Round robin over the tables left, passing over those whose chunks must wait for the stream's
    // open transaction (Convergence) while another table can go on; when all must wait, the
    // worker waits in copyClaimed.
    // The tables left are read anew each time: a schema change may restart a table (restart()).
    const pick = (): TableCopy | undefined => {
      const pending = this.tables.filter((t) => !t.done);
      let waiting: TableCopy | undefined;
      for (let i = 0; i < pending.length; i++) {
        const t = pending[(cursor + i) % pending.length] as TableCopy;
        if (this.stopsClaims(t)) continue;
        if (!this.opts.convergence.gate(t.schema.name).mayStartChunk()) {
          waiting ??= t;
          continue;
        }
        cursor = (cursor + i) % pending.length;
        return t;
      }
      return waiting;
    };
    // The first failure stops the other workers from claiming chunks; their chunks in flight
    // finish (or fail) before run() settles, so nothing writes after it returns.
    const worker = async () => {
      for (;;) {
        await this.waitGates();
        if (this.opts.signal.aborted || this.stopped) return;
        const t = pick();
        if (t) {
          await this.copyOne(t);
          continue;
        }
        // Nothing to claim: done, unless a quiesced table will be restarted (or resumed) soon.
        if (this.quiesced.size === 0) return;
        await waitFor(this.resumeWaiters, this.halted.signal);
      }
    };
    const results = await Promise.allSettled(
      Array.from({ length: this.opts.threads }, () =>
        worker().catch((err: unknown) => {
          this.stopped = true;
          this.halted.abort();
          throw err;
        }),
      ),
    );
    this.opts.signal.removeEventListener('abort', halt);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
    if (this.opts.signal.aborted) throw new AbortedError('copy interrupted');
  }

  /**
   * Stops the copy of `tables` for a schema change of theirs: no new chunk of them starts, and this
   * resolves once none is in flight (their held stream changes then released). Returns the tables
   * whose copy is still unfinished: the caller restart()s each (or resume()s it) once the target
   * has the new definition. A table already copied is not quiesced, nor one without a key: it is
   * copied whole in one chunk read at the stream's start position (a copy from the start later has
   * no such position), so the caller waits for that chunk instead, as for the changes it holds.
   */
  async quiesce(tables: readonly string[]): Promise<string[]> {
    const copying = tables.filter((name) => this.tables.some((t) => t.schema.name === name && !t.done && !isKeyless(t.schema)));
    for (const name of copying) this.quiesced.add(name);
    for (const name of copying) {
      const gate = this.opts.convergence.gate(name);
      while (gate.chunksInFlight > 0) await this.opts.convergence.nextChunkEnd();
    }
    const unfinished = copying.filter((name) => this.tables.some((t) => t.schema.name === name && !t.done));
    for (const name of copying) if (!unfinished.includes(name)) this.resume(name);
    return unfinished;
  }

  /**
   * Copies a quiesced table again from the start with its definition after a schema change
   * (`schema`, under its new name when the change renamed it), overwriting what was copied; or,
   * with `schema` undefined (the table was dropped), ends its copy. The caller has removed its copy
   * checkpoint (SchemaChange.recopy) and applied the change to the target.
   */
  restart(from: string, schema: TableSchema | undefined): void {
    const i = this.tables.findIndex((t) => t.schema.name === from);
    const old = this.tables[i];
    if (old) {
      old.retired = true;
      old.ended.abort();
      if (schema) {
        const fresh = new TableCopy(schema, undefined, this.opts.initialChunkSize, this.order);
        fresh.rowsTotal = old.rowsTotal;
        this.tables[i] = fresh;
        this.opts.logger.info({ table: from, ...(schema.name !== from ? { as: schema.name } : {}), rowsCopiedBefore: old.rowsCopied }, 'copying the table again from the start with its new definition');
      } else {
        this.tables.splice(i, 1);
        this.opts.logger.info({ table: from }, 'table dropped while it was copied: its copy ends');
      }
    }
    this.resume(from);
  }

  /**
   * Copies a table the copier does not know yet from the start: one a schema change brought into
   * the selection while the stream runs (its definition on the target already, its copy checkpoint
   * removed: SchemaChange.recopy). A run() under way takes it; once run() has returned, the caller
   * runs it again (waitForTables). The stream's changes of the table go through its Convergence
   * gate as for any table copied beside the stream. A table of that name already known (a recopy:
   * TargetWriter.recopyAfter) is replaced.
   */
  add(schema: TableSchema): void {
    const known = this.tables.findIndex((t) => t.schema.name === schema.name);
    const fresh = new TableCopy(schema, undefined, this.opts.initialChunkSize, this.order);
    if (known >= 0) {
      const old = this.tables[known] as TableCopy;
      old.retired = true;
      old.ended.abort();
      this.tables[known] = fresh;
    } else this.tables.push(fresh);
    this.opts.logger.info({ table: schema.name }, known >= 0 ? 'copying the table again from the start while streaming: the target cannot convert its rows after a schema change' : 'table entered the selection while streaming: copying it from the start');
    this.opts.source.tableStats(schema.name).then(
      (stats) => {
        fresh.rowsTotal = stats.rows;
      },
      () => undefined,
    );
    wakeAll(this.resumeWaiters.splice(0));
    wakeAll(this.addedWaiters.splice(0));
  }

  /** Whether some table's copy is not finished (a run() would copy it). */
  get unfinished(): boolean {
    return this.tables.some((t) => !t.done && !t.retired);
  }

  /** Resolves once some table's copy is unfinished (add()), or when `signal` aborts. */
  async waitForTables(signal: AbortSignal): Promise<void> {
    while (!this.unfinished && !signal.aborted) await waitFor(this.addedWaiters, signal);
  }

  /** Lets a quiesced table's copy go on as it was. */
  resume(table: string): void {
    this.quiesced.delete(table);
    wakeAll(this.resumeWaiters.splice(0));
  }

  /** Whether a schema change quiesces `t`'s table (or replaces its copy) within `ms`, or the job ends first. */
  private async quiescedWithin(t: TableCopy, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.quiesced.has(t.schema.name) && !t.retired) {
      if (Date.now() >= deadline || this.opts.signal.aborted) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
    return true;
  }

  /** No chunk of `t` may be claimed: all are handed out, a schema change quiesced its table, or it was replaced. */
  private stopsClaims(t: TableCopy): boolean {
    return t.exhausted || t.retired || this.quiesced.has(t.schema.name);
  }

  /** Until neither the pause nor the throttle holds the copy (or the job aborts). */
  private async waitGates(): Promise<void> {
    const { pause, throttle, signal } = this.opts;
    while (!signal.aborted && (pause?.paused || throttle?.paused)) {
      await pause?.wait(signal);
      await throttle?.wait(signal);
    }
  }

  private async copyOne(t: TableCopy): Promise<void> {
    const { convergence, rateLimit } = this.opts;
    const gate = convergence.gate(t.schema.name);
    // Under a rate limit the chunk's rows are paid for before it is claimed, so the convergence
    // gate never holds stream changes for a chunk that is only waiting for its turn. The waiting
    // may outlast a pause or a throttle that began meanwhile: look at the gates again after it.
    let planned = t.size;
    if (rateLimit) {
      planned = Math.min(planned, rateLimit.maxChunk);
      const waiting = new AbortController();
      const stop = () => waiting.abort();
      this.opts.signal.addEventListener('abort', stop, { once: true });
      t.ended.signal.addEventListener('abort', stop, { once: true });
      try {
        await rateLimit.take(planned, waiting.signal);
      } finally {
        this.opts.signal.removeEventListener('abort', stop);
        t.ended.signal.removeEventListener('abort', stop);
      }
      // Another worker handed out the table's last chunk meanwhile, or a schema change stopped the
      // table's copy: nothing is left to pay for.
      if (this.stopsClaims(t)) {
        rateLimit.refund(planned);
        return;
      }
      await this.waitGates();
    }
    let paidFor = rateLimit ? planned : 0;
    try {
      await this.copyClaimed(t, gate, planned, (rows) => (paidFor -= rows));
    } finally {
      rateLimit?.refund(paidFor);
    }
  }

  private async copyClaimed(t: TableCopy, gate: TableGate, planned: number, used: (rows: number) => void): Promise<void> {
    const { source, target, logger } = this.opts;
    // Claim the next range under the table's lock so ranges are handed out in key order.
    const claimed = await t.claim.run(async () => {
      if (this.stopsClaims(t) || this.opts.signal.aborted || this.stopped) return undefined;
      const from = t.cursor;
      // A table without a key is one chunk, the whole table, read in the snapshot at the stream's
      // start (ChangeLog.currentPosition wholeTables) and committed with done in one transaction.
      const next = isKeyless(t.schema) ? null : await source.chunkBoundary(t.schema, from, planned, t.order);
      // Not while the stream's open transaction has written rows of the table (or is about to):
      // the chunk's write would wait on their locks until that transaction commits, and the
      // stream may be waiting for this very chunk (Convergence). The check and startChunk() must
      // run in one turn of the event loop, with no await between.
      if (!gate.mayStartChunk()) logger.debug({ table: t.schema.name }, 'next chunk waits for the stream to commit the source transaction it is writing into the table');
      while (!gate.mayStartChunk()) {
        if (this.opts.signal.aborted || this.stopped) return undefined;
        await this.opts.convergence.chunkMayStart(t.schema.name, this.halted.signal);
      }
      // A schema change may have quiesced (or replaced) the table while this claim awaited its
      // boundary: quiesce() saw no chunk in flight then and did not wait for this one, so it must
      // not start (its rows, of the definition before the change, would land after it). Checked in
      // the same turn as startChunk(), with no await between.
      if (this.stopsClaims(t) || this.opts.signal.aborted || this.stopped) return undefined;
      // The gate must know the chunk is in flight before its rows are read.
      const gateSeq = gate.startChunk();
      const local = t.issue(next, gateSeq);
      t.cursor = next;
      if (next === null) {
        t.exhausted = true;
        t.ended.abort();
      }
      const range: KeyRange = t.order === 'desc' ? { after: next, upTo: from } : { after: from, upTo: next };
      return { range, local, size: planned };
    });
    if (!claimed) return;
    const started = Date.now();
    let committed = false;
    let bytes: number;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          const range = claimed.range;
          const readAt = Date.now();
          // Bulk formats are rendered by key ranges (in key order): a keyless table takes the row path.
          const encoded = isKeyless(t.schema) ? undefined : await readEncoded(source, target, t.schema, range);
          const rows = encoded ? undefined : await source.readChunk(t.schema, range);
          if (!t.pathLogged) {
            t.pathLogged = true;
            if (encoded) logger.info({ table: t.schema.name, format: encoded.format }, 'copying in the target\'s bulk format, rendered by the source');
            else logger.debug({ table: t.schema.name }, 'copying as canonical rows');
          }
          // A streamed chunk's row count is known once the target has loaded it, which is before
          // it asks for the checkpoint.
          const count = () => (encoded ? encoded.rows() : (rows as Row[]).length);
          bytes = encoded ? encoded.heldBytes * 2 : 0;
          for (const r of rows ?? []) bytes += rowBytes(r);
          const writeAt = Date.now();
          let release: (() => void) | undefined;
          const commit: ChunkCommit = {
            checkpoint: async () => {
              release = await t.commit.acquire();
              return t.checkpointWith(claimed.local, count());
            },
            committed: () => {
              used(count());
              t.markCommitted(claimed.local, count());
              committed = true;
              release?.();
            },
            failed: () => release?.(),
          };
          if (encoded) await target.writeEncodedChunk!(t.schema, encoded, commit);
          else await target.writeChunk(t.schema, rows as Row[], commit);
          const doneAt = Date.now();
          logger.trace({ table: t.schema.name, rows: count(), bytes, readMs: writeAt - readAt, writeMs: doneAt - writeAt }, 'chunk copied');
          (this.opts.observer ?? NO_OBSERVER).chunkCopied({ table: t.schema.name, rows: count(), seconds: (doneAt - readAt) / 1000 });
          break;
        } catch (err) {
          // The source's definition of the table may have changed before the stream reached the
          // statement (a read naming a column dropped since): a schema change that quiesced the
          // table meanwhile copies it again, so this chunk is abandoned rather than retried.
          if (this.quiesced.has(t.schema.name)) {
            logger.info({ table: t.schema.name, err: (err as Error).message }, 'chunk abandoned: a schema change copies the table again');
            return;
          }
          const retryable = err instanceof TributaryError ? !err.fatal : false;
          if (!retryable || attempt >= CHUNK_ATTEMPTS || this.opts.signal.aborted) {
            // The source may be ahead of the stream by a schema change of the table (a value the
            // target's older column cannot hold, a column gone): give the stream a moment to reach
            // it, which quiesces the table and copies it again, before failing.
            if (this.opts.source.capabilities.schemaChanges && (await this.quiescedWithin(t, this.opts.schemaChangeWaitMs ?? SCHEMA_CHANGE_WAIT_MS))) {
              logger.info({ table: t.schema.name, err: (err as Error).message }, 'chunk abandoned: a schema change copies the table again');
              return;
            }
            throw err;
          }
          const wait = Math.min(5000, 100 * 2 ** attempt);
          logger.warn({ table: t.schema.name, attempt, err: (err as Error).message }, `chunk write failed, retrying in ${wait} ms`);
          await new Promise((r) => setTimeout(r, wait));
        }
      }
    } finally {
      const released = gate.finishChunk(t.gateSeq(claimed.local));
      if (released.length) this.opts.release(released);
    }
    if (!committed) throw new TributaryError(ErrorCode.INTERNAL, `chunk of ${t.schema.name} neither committed nor failed`);
    // Adapt to the time target, and never beyond the byte bound.
    const elapsed = Math.max(1, Date.now() - started);
    const factor = Math.min(2, Math.max(0.5, this.opts.chunkTimeMs / elapsed));
    let size = Math.min(MAX_CHUNK, Math.max(Math.min(MIN_CHUNK, this.opts.initialChunkSize), claimed.size * factor));
    if (bytes! > 0) size = Math.min(size, Math.max(1, Math.floor((claimed.size * this.opts.chunkBytes) / bytes)));
    if (this.opts.rateLimit) size = Math.min(size, this.opts.rateLimit.maxChunk);
    t.size = Math.max(1, Math.round(size));
    if (t.done && !this.reportedCopied.has(t)) {
      this.reportedCopied.add(t);
      logger.info({ table: t.schema.name, rows: t.rowsCopied }, 'table copied');
      // The target readies the table for the stream's keyed writes (planner statistics).
      await this.opts.target.tableCopied(t.schema).catch((err: unknown) => logger.warn({ table: t.schema.name, err: (err as Error).message }, 'the target could not ready the copied table for the stream (its statistics); the data is unaffected'));
    }
  }
}

/**
 * The fast path: the chunk rendered by the source in a bulk format of the target, the first of the
 * target's formats (most preferred first) that the target accepts for this table (its rendering
 * is exact for the target's column types) and the source can render for this chunk. Undefined
 * when there is none: the copier then reads canonical rows.
 */
async function readEncoded(source: ChangeSource, target: Target, table: TableSchema, range: KeyRange): Promise<EncodedChunk | undefined> {
  for (const format of target.capabilities.chunkFormats) {
    if (!source.capabilities.encodedFormats.includes(format) || !target.acceptsEncoded(table, format)) continue;
    const chunk = await source.readChunkEncoded(table, range, format);
    if (chunk) return chunk;
  }
  return undefined;
}
