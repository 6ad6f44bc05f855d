import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Convergence, StreamOp } from '../copier/convergence.js';
import { AbortedError, TributaryError } from '../core/errors.js';
import type { ChangeSource, KeyRange } from '../core/source.js';
import type { Target } from '../core/target.js';
import { keyString, type Row, type Value } from '../core/values.js';
import { digestChunk, readChunkPair, repairDifferences, sleep, type ChunkContext } from './chunk.js';
import { compareRows, stillDiffering, type KeyDifference } from './compare.js';
import { findExtraRows } from './extras.js';
import { RowHasher } from './hash.js';
import { multisetRows, sameMultiset, scanMultiset, type MultisetDigest } from './multiset.js';
import type { TablePlan } from './plan.js';
import { keyJson, MAX_KEYS_PER_RANGE } from './report.js';
import type { StreamApplier } from '../stream/applier.js';

/**
 * The checksum inside a running sync: once the copy is done, every table is walked chunk by
 * chunk, again and again, while the stream runs, and what differs is repaired.
 *
 * Source and target are read at slightly different moments, and the target is behind the source
 * by the stream's lag, so a chunk that differs at its first read is not yet a difference. The
 * checker then reads the source's head position (after the chunk read, so every change the read
 * saw lies at or before it), waits until the stream has applied past it, and reads the chunk
 * again. Keys that still differ are then checked exactly, through the copy's convergence gate:
 * the gate holds the table's stream changes from that moment; the source is read; the stream is
 * let read past the source's head position and commit everything it had taken before the gate;
 * the target is read. Now every change the source read reflects is either on the target or held,
 * so a key that differs and has no held change is drift (written on the target by someone else,
 * or lost), and is repaired with the source's image before the gate releases the held changes to
 * the applier: a change newer than the repair's read is applied after it, and the checkpoint
 * never passes a held change (DESIGN.md, copy and stream converge). A key with a held change is
 * left to the next pass.
 */
export interface CheckerOptions {
  readonly source: ChangeSource;
  readonly target: Target;
  /** One plan per synced table (plan.ts), built once the target's tables exist. */
  readonly plans: readonly TablePlan[];
  readonly convergence: Convergence;
  /** Hands stream ops a repair held back to the applier, in the order given. */
  readonly release: (ops: StreamOp[]) => void;
  /** The position the stream has applied and committed on the target. */
  readonly appliedPosition: () => string;
  /** The position of the last source transaction boundary the stream has read. */
  readonly receivedPosition: () => string;
  /** True while the stream waits for the source with nothing read and not yet committed (held changes aside). */
  readonly streamIdle: () => boolean;
  /** Resolves once every change the stream had taken (and not held) is committed on the target. */
  readonly barrier: () => Promise<void>;
  readonly chunkSize: number;
  /** Bound on both sides of a chunk in memory; chunks shrink to stay under it. */
  readonly chunkBytes: number;
  /** Rest between two passes, in ms. */
  readonly intervalMs: number;
  /** Longest wait for the stream to pass a differing chunk's read; past it the chunk is left to the next pass. */
  readonly streamWaitMs?: number;
  /** The stream's lag in seconds (Runner.progress().lagSeconds). */
  readonly lagSeconds?: () => number;
  /**
   * The checker yields to a stream that lags more than this many seconds: it starts no chunk until
   * the lag is back under it (reading chunks would compete with the catch-up, and every chunk would
   * differ only by the lag). Default 10.
   */
  readonly maxLagSeconds?: number;
  readonly logger: Logger;
}

/** The stream's side of a checker (CheckerOptions' hooks), as the sync's applier serves it. */
export function applierHooks(applier: StreamApplier): Pick<CheckerOptions, 'release' | 'appliedPosition' | 'receivedPosition' | 'streamIdle' | 'barrier'> {
  return {
    release: (ops) => applier.release(ops),
    appliedPosition: () => applier.snapshot().appliedPosition,
    receivedPosition: () => applier.receivedPosition(),
    streamIdle: () => applier.waitingIdle(),
    barrier: () => applier.barrier(),
  };
}

export type CheckerState = 'waiting' | 'checking' | 'resting' | 'stopped' | 'failed';

/** What the checker has done so far: part of the sync's status. */
export interface CheckerStatus {
  readonly state: CheckerState;
  /** The pass under way (1-based), or the last one while resting; 0 before the first. */
  readonly pass: number;
  readonly passesCompleted: number;
  readonly chunksChecked: number;
  readonly rowsChecked: number;
  /** Chunks that differed at their first read (most are only the stream's lag). */
  readonly chunksDiffering: number;
  /** Chunks found equal by digests computed inside both databases, no rows read (checksum/chunk.ts). */
  readonly chunksByDigest: number;
  /** Keys that still differed once the stream had passed their read: drift. */
  readonly mismatches: number;
  readonly repairs: number;
  /** When the first complete pass with no repair ended (ISO 8601), or null. */
  readonly firstCleanPassAt: string | null;
  readonly lastPassAt: string | null;
  readonly lastError: string | null;
}

/** One repair, as logged and emitted: the table, the chunk's key range and the keys written. */
export interface RepairEvent {
  readonly table: string;
  readonly pass: number;
  readonly after: Record<string, unknown> | null;
  readonly upTo: Record<string, unknown> | null;
  readonly keys: readonly { kind: string; key: Record<string, unknown>; columns?: readonly string[] }[];
  readonly count: number;
}

const MIN_CHUNK = 100;
const POLL_MS = 100;
/** Longest hold of a table's stream changes while a differing chunk is checked exactly. */
const GATED_WAIT_MS = 5000;

/**
 * Events: 'repair' (RepairEvent), 'pass' (pass number, repairs in it), 'firstCleanPass' (ISO time).
 * `firstCleanPass` resolves at the end of the first pass that repaired nothing.
 */
export class ContinuousChecker extends EventEmitter {
  private readonly opts: CheckerOptions;
  private readonly log: Logger;
  private state: CheckerState = 'waiting';
  private pass = 0;
  private passesCompleted = 0;
  private chunksChecked = 0;
  private rowsChecked = 0;
  private chunksDiffering = 0;
  private chunksByDigest = 0;
  private mismatches = 0;
  private repairs = 0;
  private firstCleanPassAt: string | null = null;
  private lastPassAt: string | null = null;
  private lastError: string | null = null;
  private resolveClean!: () => void;
  readonly firstCleanPass: Promise<void>;
  /** A pass asked for now (POST /checksum): the rest between passes ends early. */
  private wakeRest: (() => void) | undefined;
  /** The plans in use: the sync's tables, as schema changes left them. */
  private plans: TablePlan[];
  /** Bumped for a table each time its plan is replaced: a check of it that began before is void. */
  private readonly generations = new Map<string, number>();
  /** Tables whose schema change was applied and whose new plans have not arrived yet. */
  private readonly stale = new Set<string>();
  /** True once the table being checked had its plan replaced: nothing read under the old plan is repaired. */
  private voided: () => boolean = () => false;

  constructor(opts: CheckerOptions) {
    super();
    this.opts = opts;
    this.log = opts.logger;
    this.plans = [...opts.plans];
    this.firstCleanPass = new Promise((r) => (this.resolveClean = r));
  }

  status(): CheckerStatus {
    return {
      state: this.state,
      pass: this.pass,
      passesCompleted: this.passesCompleted,
      chunksChecked: this.chunksChecked,
      rowsChecked: this.rowsChecked,
      chunksDiffering: this.chunksDiffering,
      chunksByDigest: this.chunksByDigest,
      mismatches: this.mismatches,
      repairs: this.repairs,
      firstCleanPassAt: this.firstCleanPassAt,
      lastPassAt: this.lastPassAt,
      lastError: this.lastError,
    };
  }

  /** Ends the rest between passes: the next pass starts now. */
  checkNow(): void {
    this.wakeRest?.();
  }

  /**
   * A schema change altered, renamed or dropped tables: their plans are replaced (`plans` holds the
   * tables' plans after it; a table named in `gone` and not in `plans` is no longer checked). A
   * check of such a table under way is void: it ends at its next chunk and starts again with the
   * new plan, in the same pass, so a definition change never shows as a difference to repair.
   */
  replacePlans(plans: readonly TablePlan[], gone: readonly string[] = []): void {
    const names = new Set([...plans.map((p) => p.table.name), ...gone]);
    for (const n of names) {
      this.generations.set(n, (this.generations.get(n) ?? 0) + 1);
      this.stale.delete(n);
    }
    const kept = this.plans.filter((p) => !names.has(p.table.name));
    this.plans = [...kept, ...plans];
  }

  /**
   * A schema change of these tables was applied and their new plans are being made
   * (replacePlans follows): a check of them under way is void now, and the pass leaves them to the
   * next one unless their plans arrive first.
   */
  schemaChanging(tables: readonly string[]): void {
    for (const n of tables) {
      this.generations.set(n, (this.generations.get(n) ?? 0) + 1);
      this.stale.add(n);
    }
  }

  /** Passes until `signal` aborts; a failure (a lost connection) ends it with the error. */
  async run(signal: AbortSignal): Promise<void> {
    try {
      // The first pass waits for the stream to catch up with what piled up before it (the copy's
      // changes, a backlog after a restart).
      await this.waitForBacklog(signal);
      while (!signal.aborted) {
        this.pass++;
        this.state = 'checking';
        const repairsBefore = this.repairs;
        const mismatchesBefore = this.mismatches;
        const done = new Set<string>();
        for (let plan = this.nextPlan(done); plan; plan = this.nextPlan(done)) {
          if (signal.aborted) break;
          if (await this.checkTableOnce(plan, signal)) done.add(plan.table.name);
        }
        if (signal.aborted) break;
        const repaired = this.repairs - repairsBefore;
        this.passesCompleted++;
        this.lastPassAt = new Date().toISOString();
        const unrepaired = this.mismatches - mismatchesBefore - repaired;
        this.log.info(
          { pass: this.pass, repairs: repaired, chunks: this.chunksChecked, ...(unrepaired > 0 ? { unrepaired } : {}) },
          unrepaired > 0 ? 'checksum pass done: a table without a key differs (see above)' : repaired ? 'checksum pass done: repaired what differed' : 'checksum pass clean',
        );
        this.emit('pass', this.pass, repaired);
        // Clean: nothing differed (a table without a key differs without a repair).
        if (repaired === 0 && this.mismatches === mismatchesBefore && this.firstCleanPassAt === null) {
          this.firstCleanPassAt = this.lastPassAt;
          this.emit('firstCleanPass', this.firstCleanPassAt);
          this.resolveClean();
        }
        this.state = 'resting';
        await this.rest(signal);
      }
      this.state = 'stopped';
    } catch (err) {
      if (signal.aborted && (err instanceof AbortedError || !(err instanceof TributaryError) || !err.fatal)) {
        this.state = 'stopped';
        return;
      }
      this.state = 'failed';
      this.lastError = (err as Error).message;
      throw err;
    }
  }

  private async rest(signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wakeRest = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.opts.intervalMs);
      signal.addEventListener('abort', done, { once: true });
      this.wakeRest = done;
    });
  }

  /** The next table of this pass not checked yet, with its current plan. */
  /** Tables without a key whose difference was logged in the pass of this number (logged once a pass). */
  private readonly multisetNoted = new Map<string, number>();

  private nextPlan(done: ReadonlySet<string>): TablePlan | undefined {
    return this.plans.find((p) => !done.has(p.table.name) && !this.stale.has(p.table.name));
  }

  /**
   * Checks one table. Returns false when a schema change replaced its plan during the check: what
   * it read is void (an error it met too: a column the source dropped, a table it renamed), and
   * the caller checks the table again with the new plan.
   */
  private async checkTableOnce(plan: TablePlan, signal: AbortSignal): Promise<boolean> {
    const name = plan.table.name;
    const generation = this.generations.get(name) ?? 0;
    const changed = () => (this.generations.get(name) ?? 0) !== generation;
    this.voided = changed;
    try {
      if (plan.mode === 'multiset') await this.checkMultiset(plan, signal);
      else await this.checkTable(plan, signal, changed);
    } catch (err) {
      // The source may be ahead of the stream by a schema change (a column dropped, a table
      // renamed): once the stream has caught up with it, the table's plan is replaced, and what
      // failed under the old one is void.
      if (!changed() && !signal.aborted && !(err instanceof AbortedError)) await this.waitForStream(signal);
      if (!changed()) throw err;
      this.log.debug({ table: name, err: (err as Error).message }, 'checksum of a table whose definition changed meanwhile: starting it again');
    }
    if (!changed()) return true;
    this.log.info({ table: name }, 'the table\'s definition changed during its checksum: checking it again with the new one');
    return false;
  }

  private async checkTable(plan: TablePlan, signal: AbortSignal, changed: () => boolean = () => false): Promise<void> {
    const ctx: ChunkContext = { source: this.opts.source, target: this.opts.target, recheck: { attempts: 0, delayMs: 0, maxDelayMs: 0 }, signal };
    const hasher = new RowHasher();
    let after: Value[] | null = null;
    // A chunk settled by digest teaches nothing of its size, and one whose digests differ is then
    // read whole: bound it by the average row from the start, as the one-shot walk does.
    const stats = await this.opts.source.tableStats(plan.table.name).catch(() => ({ rows: 0, avgRowBytes: 0 }));
    const maxSize = stats.avgRowBytes > 0 ? Math.min(this.opts.chunkSize, Math.max(MIN_CHUNK, Math.floor(this.opts.chunkBytes / stats.avgRowBytes))) : this.opts.chunkSize;
    let size = maxSize;
    for (;;) {
      if (signal.aborted || changed()) return;
      await this.yieldToLaggingStream(signal);
      const upTo = await this.opts.source.chunkBoundary(plan.table, after, size);
      const range: KeyRange = { after, upTo };
      const bytes = await this.checkChunk(ctx, plan, range, hasher, signal);
      if (bytes === undefined) {
        // Settled by digest: no rows read, nothing learnt about the chunk's size.
      } else if (bytes > this.opts.chunkBytes) size = Math.max(MIN_CHUNK, Math.floor((size * this.opts.chunkBytes) / bytes));
      else if (size < maxSize) size = Math.min(maxSize, size * 2);
      if (upTo === null) break;
      after = upTo;
    }
    if (plan.mode === 'keys' && !changed()) await this.checkTargetOnlyRows(ctx, plan, signal);
  }

  /**
   * A table without a key, whole, as a multiset of rows (multiset.ts): no bounds to chunk it by, no
   * key to repair by. Equal: done. Else, once the stream has passed the read, again; still
   * different: checked exactly under the table's gate (the class comment: the source read, the
   * stream let past it, the target read), and when no change of the table was held meanwhile, the
   * difference is drift: counted and logged with both sides' row counts, not repaired (a row image
   * may have copies: `tributary verify` lists the rows; re-copying the table repairs it).
   */
  private async checkMultiset(plan: TablePlan, signal: AbortSignal): Promise<void> {
    const ctx: ChunkContext = { source: this.opts.source, target: this.opts.target, recheck: { attempts: 0, delayMs: 0, maxDelayMs: 0 }, signal };
    await this.yieldToLaggingStream(signal);
    const both = async () => Promise.all([scanMultiset(ctx, plan, 'source'), scanMultiset(ctx, plan, 'target')]);
    const [first, firstTarget] = await both();
    this.count(first);
    if (sameMultiset(first, firstTarget)) return;
    this.chunksDiffering++;
    if (!(await this.waitForStream(signal))) return;
    const [again, target] = await both();
    if (sameMultiset(again, target) || this.voided()) return;
    if (this.opts.convergence.claimedByStream(plan.table.name)) return;
    const gate = this.opts.convergence.gate(plan.table.name);
    const seq = gate.startChunk();
    let drift: { sourceRows: number; targetRows: number } | undefined;
    try {
      const s = await scanMultiset(ctx, plan, 'source');
      const head = this.opts.source.capabilities.reportsHead ? await this.opts.source.headPosition() : undefined;
      if (!(await this.streamCaughtUp(head, signal)) || this.voided()) return;
      const t = await scanMultiset(ctx, plan, 'target');
      const held = gate.heldKeys();
      // A change held meanwhile may be one the source read had: not a difference yet.
      if (held.truncate || held.keys.size > 0 || this.voided()) return;
      if (!sameMultiset(s, t)) drift = { sourceRows: multisetRows(s), targetRows: multisetRows(t) };
    } finally {
      const released = gate.finishChunk(seq);
      if (released.length) this.opts.release(released);
    }
    if (!drift) return;
    this.mismatches++;
    if (this.multisetNoted.get(plan.table.name) === this.pass) return;
    this.multisetNoted.set(plan.table.name, this.pass);
    this.log.warn(
      { table: plan.table.name, pass: this.pass, ...drift },
      `table ${plan.table.name} (no primary key) differs from the source as a multiset of rows (${drift.sourceRows} rows there, ${drift.targetRows} here): not repaired, for there is no key to repair by; tributary verify lists the rows that differ, and re-copying the table (tributary sync --force, or leaving it out and in again) repairs it`,
    );
  }

  /** Counts a table read whole as one chunk of its rows. */
  private count(digest: MultisetDigest): void {
    this.chunksChecked++;
    this.rowsChecked += multisetRows(digest);
  }

  /**
   * One chunk: digests where they apply (equal: done), else read, and when it differs, wait for
   * the stream, re-read, repair. Returns its bytes (undefined when settled by digest).
   */
  private async checkChunk(ctx: ChunkContext, plan: TablePlan, range: KeyRange, hasher: RowHasher, signal: AbortSignal): Promise<number | undefined> {
    const read = async () => {
      const { source, target } = await readChunkPair(ctx, plan, range);
      return compareRows(plan, source, target, hasher);
    };
    const settled = await digestChunk(ctx, plan, range);
    if (settled) {
      this.chunksChecked++;
      this.chunksByDigest++;
      this.rowsChecked += settled.sourceRows;
      return undefined;
    }
    const first = await read();
    this.chunksChecked++;
    this.rowsChecked += first.sourceRows;
    if (first.equal) return first.bytes;
    this.chunksDiffering++;
    // A stream that cannot pass the read in time: the chunk is left to the next pass, rather than
    // held under the gate while the stream catches up.
    if (!(await this.waitForStream(signal))) return first.bytes;
    const persisting = stillDiffering(first.differences, (await read()).differences);
    if (persisting.length === 0 || this.voided()) return first.bytes;
    const readTarget = (sourceRows: Row[]): Promise<Row[]> => {
      if (plan.mode === 'range') return ctx.target.readChunk(plan.table, range);
      const keys = sourceRows.map((row) => plan.table.primaryKey.map((i) => row[i] ?? null));
      return keys.length ? ctx.target.readRowsByKeys(plan.table, keys) : Promise.resolve([]);
    };
    await this.exactRepair(plan, range, persisting, () => ctx.source.readChunk(plan.table, range), readTarget, hasher, signal);
    return first.bytes;
  }

  /**
   * Keys mode: rows only the target has are invisible to a walk by the source's keys, so the
   * target's keys are walked too, each candidate confirmed after the stream has passed its read.
   */
  private async checkTargetOnlyRows(ctx: ChunkContext, plan: TablePlan, signal: AbortSignal): Promise<void> {
    const { source, target } = ctx;
    if (!target.capabilities.readBack || !source.capabilities.checksumReads) return;
    await findExtraRows(ctx, plan, Math.max(MIN_CHUNK, this.opts.chunkSize), async (candidates) => {
      if (this.voided()) return;
      const keys = candidates.map((d) => d.key);
      await this.exactRepair(
        plan,
        null,
        candidates,
        () => source.readRowsByKeys(plan.table, keys),
        () => target.readRowsByKeys(plan.table, keys),
        new RowHasher(),
        signal,
      );
    });
  }

  /**
   * The exact check of `candidates` (keys that differed at two reads) and their repair, under the
   * table's gate (see the class comment): keys that still differ with no held change are drift,
   * repaired with the source's image read under the gate.
   */
  private async exactRepair(
    plan: TablePlan,
    range: KeyRange | null,
    candidates: readonly KeyDifference[],
    readSource: () => Promise<Row[]>,
    readTarget: (sourceRows: Row[]) => Promise<Row[]>,
    hasher: RowHasher,
    signal: AbortSignal,
  ): Promise<void> {
    // The stream's open (spilled) transaction has written this table: a repair would wait on its
    // row locks while the stream waits on the gate. Left to the next pass.
    if (this.opts.convergence.claimedByStream(plan.table.name)) {
      this.log.debug({ table: plan.table.name }, 'the stream\'s open transaction holds rows of this table: the chunk is left to the next pass');
      return;
    }
    const gate = this.opts.convergence.gate(plan.table.name);
    const seq = gate.startChunk();
    let drift: KeyDifference[];
    try {
      const sourceRows = await readSource();
      const head = this.opts.source.capabilities.reportsHead ? await this.opts.source.headPosition() : undefined;
      if (!(await this.streamCaughtUp(head, signal))) {
        this.log.debug({ table: plan.table.name }, 'the stream did not reach the source\'s head in time: the chunk is left to the next pass');
        return;
      }
      // A schema change the stream applied while this repair waited: what it read is of the old
      // definition, and writing it would put rows of the old shape into the new one.
      if (this.voided()) return;
      const targetRows = await readTarget(sourceRows);
      const held = gate.heldKeys();
      if (held.truncate || this.voided()) return;
      const differing = stillDiffering(candidates, compareRows(plan, sourceRows, targetRows, hasher).differences);
      drift = differing.filter((d) => !held.keys.has(keyString(d.key)));
      this.mismatches += drift.length;
      await repairDifferences(this.opts.target, plan, drift);
    } finally {
      const released = gate.finishChunk(seq);
      if (released.length) this.opts.release(released);
    }
    if (drift.length === 0) return;
    this.repairs += drift.length;
    const t = plan.table;
    const event: RepairEvent = {
      table: t.name,
      pass: this.pass,
      after: range?.after ? keyJson(t, range.after) : null,
      upTo: range?.upTo ? keyJson(t, range.upTo) : null,
      keys: drift.slice(0, MAX_KEYS_PER_RANGE).map((d) => ({ kind: d.kind, key: keyJson(t, d.key), ...(d.columns ? { columns: d.columns } : {}) })),
      count: drift.length,
    };
    this.log.warn(event, `checksum repaired ${drift.length} row${drift.length > 1 ? 's' : ''} of ${t.name} that differed from the source`);
    this.emit('repair', event);
  }

  /**
   * Under a gate: waits until the stream has read past `head` (every change up to it is then on
   * the target, pending, or held) and has committed what it had taken. False when that does not
   * happen within streamWaitMs (a long source transaction, a stalled stream).
   */
  private async streamCaughtUp(head: string | undefined, signal: AbortSignal): Promise<boolean> {
    const { source } = this.opts;
    // Under the gate the table's changes are held in memory: wait briefly. The stream passed a
    // head read a moment earlier (waitForStream), so this one is only what came since.
    const deadline = Date.now() + Math.min(GATED_WAIT_MS, this.opts.streamWaitMs ?? GATED_WAIT_MS);
    let idleSince = 0;
    while (head !== undefined && source.comparePositions(this.opts.receivedPosition(), head) < 0) {
      // A schema change of the table waits for this repair's held changes: let go at once.
      if (this.voided()) return false;
      // A source whose head only a later event would carry past (nothing more was written): an
      // idle stream for a moment has read what there is.
      if (this.opts.streamIdle()) {
        idleSince ||= Date.now();
        if (Date.now() - idleSince >= 1000) break;
      } else idleSince = 0;
      if (Date.now() > deadline) return false;
      await sleep(POLL_MS, signal);
    }
    const left = deadline - Date.now();
    if (left <= 0) return false;
    let timer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      this.opts.barrier().then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), left))),
      new Promise<boolean>((r) => (poll = setInterval(() => this.voided() && r(false), POLL_MS))),
    ]);
    clearTimeout(timer);
    clearInterval(poll);
    return done;
  }

  /**
   * Waits until the stream has applied everything the source had logged when this was called (its
   * head position), or has nothing left to apply, bounded by streamWaitMs.
   */
  private async waitForStream(signal: AbortSignal): Promise<boolean> {
    const { source } = this.opts;
    const head = source.capabilities.reportsHead ? await source.headPosition() : undefined;
    const deadline = Date.now() + (this.opts.streamWaitMs ?? 30_000);
    let idleSince = 0;
    while (Date.now() < deadline) {
      if (head !== undefined && source.comparePositions(this.opts.appliedPosition(), head) >= 0) return true;
      // An idle stream has applied what it has read; give the source's reader a moment to deliver
      // what it has not (a head position only a later event would carry past).
      if (this.opts.streamIdle()) {
        idleSince ||= Date.now();
        if (Date.now() - idleSince >= 1000) return true;
      } else idleSince = 0;
      await sleep(POLL_MS, signal);
    }
    this.log.debug({ head }, 'the stream did not pass a differing chunk\'s read in time; the chunk is left to the next pass');
    return false;
  }

  /**
   * Waits until the stream has applied and committed everything the source had logged when the
   * checker started (its head then), or has been idle for a few seconds: a backlog is applied
   * first. Committed, not only read: the stream reads well ahead of its commits (a target with a
   * commit limit commits about once a --flush-interval), and a pass started on what it has read
   * competes with the catch-up for its last seconds (bench/README.md, etcd).
   */
  private async waitForBacklog(signal: AbortSignal): Promise<void> {
    const { source } = this.opts;
    const head = source.capabilities.reportsHead ? await source.headPosition() : undefined;
    let idleSince = 0;
    let logged = false;
    for (;;) {
      if (head !== undefined && source.comparePositions(this.opts.appliedPosition(), head) >= 0) return;
      if (this.opts.streamIdle()) {
        idleSince ||= Date.now();
        if (Date.now() - idleSince >= 3000) return;
      } else idleSince = 0;
      if (!logged) this.log.info({ head }, 'checksum waits for the stream to catch up before its first pass');
      logged = true;
      await sleep(250, signal);
    }
  }

  /** Waits while the stream lags more than maxLagSeconds (see CheckerOptions). */
  private yieldToLaggingStream(signal: AbortSignal): Promise<void> {
    return this.waitForLagUnder(this.opts.maxLagSeconds ?? 10, signal);
  }

  private async waitForLagUnder(max: number, signal: AbortSignal): Promise<void> {
    const lag = this.opts.lagSeconds;
    if (!lag) return;
    let logged = false;
    while (lag() > max) {
      if (!logged) this.log.info({ lagSeconds: lag(), maxLagSeconds: max }, 'checksum waits: the stream is catching up');
      logged = true;
      await sleep(500, signal);
    }
  }
}
