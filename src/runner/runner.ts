import { EventEmitter } from 'node:events';
import { describeDsn, parseHostPort, preferHost, redactUrl } from '../config/dsn.js';
import { connectionDsn, resolvePasswords } from '../config/connection.js';
import { parseConfig } from '../config/parse.js';
import { toMs, type SyncConfig, type SyncConfigInput } from '../config/schema.js';
import { deriveSyncId } from '../config/sync-id.js';
import { CHECKPOINT_VERSION } from '../checkpoint/checkpoint.js';
import { Copier } from '../copier/copier.js';
import { Convergence } from '../copier/convergence.js';
import { RowRateLimiter } from '../copier/rate-limit.js';
import { ReplicaThrottle, type ThrottleStatus } from '../copier/throttle.js';
import { AbortedError, ErrorCode, TributaryError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/logger.js';
import type { SyncObserver } from '../core/observer.js';
import { PauseGate } from '../core/pause.js';
import type { SchemaChange } from '../core/schema-change.js';
import { creationOrder } from '../schema/foreign-keys.js';
import { definedTables } from '../core/schema-change-tables.js';
import { isKeyless, type TableSchema } from '../core/schema.js';
import type { ChangeSource, DatabaseDefaults, SourceIdentity } from '../core/source.js';
import type { Checkpoint, Target } from '../core/target.js';
import { StreamApplier } from '../stream/applier.js';
import { failing } from '../core/check.js';
import { applierHooks, ContinuousChecker, type RepairEvent } from '../checksum/continuous.js';
import { planTable, type TablePlan } from '../checksum/plan.js';
import { formatDuration, Rate, type Phase, type Progress, type RunnerHealth, type SchemaChangeStatus } from './progress.js';
import { openCoordinator, openLagProbe, openSource, openTarget, sameDialect } from '../engines/registry.js';
import { fencedLock } from '../coordination/lock.js';
import type { Coordinator, Leadership, Member } from '../coordination/leadership.js';
import { buildSides, createSession, endpoints, FORCE_RESTARTS, type Sides } from './session.js';
import { WarmSides } from './warm.js';
import type { PredicatePair } from '../transform/transform.js';
import { MAX_ATTEMPTS, reconnectDelayMs, sleep } from './retry.js';

/** Still exported from here, its old home, for code that imports it from this path; config/sync-id.ts owns it. */
export { deriveSyncId };

export interface RunnerOptions {
  readonly logger?: Logger;
  /** A change source to use instead of one built from `config.source`. */
  readonly source?: ChangeSource;
  /** A target to use instead of one built from `config.target`. */
  readonly target?: Target;
  /** Told of copy chunks, stream commits and end-to-end latencies, e.g. a SyncMetrics (server/metrics.ts) for /metrics. */
  readonly observer?: SyncObserver;
  /**
   * Row filters as predicate pairs by source table (Ghostferry's CopyFilter): `sql` in the source's
   * dialect for its reads, `matches(row)` for the stream's row images (transform/rules.ts).
   */
  readonly predicates?: Readonly<Record<string, PredicatePair>>;
}

/** cancel({ resign: 'after-drain' }): the longest a leader drains before it resigns all the same (the fence covers what is still in flight). */
export const RESIGN_AFTER_DRAIN_MS = 10_000;

/**
 * A sync: the initial copy, then the change stream, until cancelled. The CLI's `sync` command is a
 * thin layer over this class; programs embed it the same way.
 *
 * Events: 'phase' (Phase), 'copied' (the initial copy finished), 'retry' (error, attempt),
 * 'checksumPass' (pass, repairs in it), 'repair' (RepairEvent), 'firstCleanPass' (ISO time),
 * 'paused', 'resumed'.
 */
export class Runner extends EventEmitter {
  readonly config: SyncConfig;
  readonly syncId: string;
  private readonly logger: Logger;
  private readonly injected: RunnerOptions;
  private readonly abort = new AbortController();
  private currentPhase: Phase = 'starting';
  private copier: Copier | undefined;
  private applier: StreamApplier | undefined;
  private target: Target | undefined;
  private source: ChangeSource | undefined;
  private readonly copyRate = new Rate();
  private readonly applyRate = new Rate();
  private lastError: Error | undefined;
  private readonly copiedPromise: Promise<void>;
  private resolveCopied!: () => void;
  private checker: ContinuousChecker | undefined;
  private readonly cleanPassPromise: Promise<void>;
  private resolveCleanPass!: () => void;
  private readonly pauseGate = new PauseGate();
  /** When the run began (ms since epoch), for uptime. */
  readonly startedAt = Date.now();
  private lastErrorAt: string | undefined;
  /** Restarts after a retryable failure (lost connection, …) since the run began. */
  private reconnects = 0;
  private schemaChanges = 0;
  private lastSchemaChange: SchemaChangeStatus | null = null;
  /** True from a retryable failure until the next attempt has connected and loaded the checkpoint. */
  private retrying = false;
  /** The source host in use (SourceIdentity.endpoint), when its URL names several. */
  private sourceHost: string | undefined;
  /** The identity of the source the current attempt streams from (its checkpoints name it). */
  private sourceId: string | undefined;
  /** The host switchSource() moved the sync to: connected to first from then on. */
  private switchTo: { readonly host: string; readonly port: number } | undefined;
  /** Ends the attempt under way (its copy at chunk boundaries, its stream at a transaction boundary, both checkpointed), as switchSource() does. */
  private stopAttempt: (() => void) | undefined;
  /** The tables without a key the attempt under way copies whole, in one snapshot of its source server, not done yet. */
  private copyingWhole: (() => string[]) | undefined;
  /** switchSource() stopped the stream: the attempt ends, and the next one connects there. */
  private switching = false;
  /** The replica lag watch of the current attempt's copy (`replica`), while it runs. */
  private throttle: ReplicaThrottle | undefined;
  /** The last lag reading, kept for progress() once the copy (and its throttle) is over. */
  private lastThrottle: ThrottleStatus | undefined;
  /** Coordinator mode: the election this instance campaigns in (docs/standby.md). */
  private coordinator: Coordinator | undefined;
  /** Coordinator mode: this instance's leadership while it leads. */
  private leadership: Leadership | undefined;
  /** Coordinator mode: the epoch of this instance's last leadership, and its takeovers since the run began. */
  private lastEpoch: string | undefined;
  private leaderships = 0;
  /** Coordinator mode: cancel({ resign: 'after-drain' }) was asked for: the leadership is resigned once drained, or when this fires. */
  private resignAfterDrain: NodeJS.Timeout | undefined;
  /** Coordinator mode: the instances campaigning, as last read (refreshed by members()). */
  private lastMembers: readonly Member[] = [];

  constructor(config: SyncConfigInput | SyncConfig, opts: RunnerOptions = {}) {
    super();
    // Password files are read once, here, not again at every reconnect (a pipe can be read once).
    this.config = resolvePasswords(parseConfig(config));
    this.logger = opts.logger ?? createLogger({ level: this.config.logLevel });
    this.injected = opts;
    this.syncId = endpoints(this.config).syncId;
    // A bad replica URL is refused now, not when the copy starts.
    if (this.config.replica !== undefined) connectionDsn(this.config, 'replica');
    this.copiedPromise = new Promise((r) => (this.resolveCopied = r));
    this.cleanPassPromise = new Promise((r) => (this.resolveCleanPass = r));
  }

  /**
   * Resolves at the end of the first complete checksum pass, after the copy, that found nothing to
   * repair: from then on the target is known equal to the source, up to the stream's lag.
   */
  get firstCleanPass(): Promise<void> {
    return this.cleanPassPromise;
  }

  /** The source position the target has committed (opaque; compare with the source's own positions), or undefined before streaming. */
  appliedPosition(): string | undefined {
    return this.applier?.snapshot().appliedPosition;
  }

  /** Starts a checksum pass now instead of at the end of the rest between passes. */
  checksumNow(): void {
    this.checker?.checkNow();
  }

  /** Resolves once the initial copy has finished (or immediately when resuming a finished copy). */
  get copied(): Promise<void> {
    return this.copiedPromise;
  }

  get phase(): Phase {
    return this.currentPhase;
  }

  private setPhase(p: Phase): void {
    if (this.currentPhase === p) return;
    this.currentPhase = p;
    this.emit('phase', p);
  }

  /**
   * Pauses the sync: the copy starts no new chunk (chunks in flight finish and commit), the stream
   * commits what it has read up to the last transaction boundary and then applies nothing. The
   * source connection stays open and reads until its bounded buffer is full. The continuous
   * checksum waits for the stream, so it stalls too. cancel() still stops a paused sync cleanly.
   */
  pause(): void {
    if (this.pauseGate.pause()) {
      this.logger.info({ component: 'runner' }, 'paused: no new copy chunks, no changes applied until resumed');
      this.emit('paused');
    }
  }

  /** Ends a pause(): the copy and the stream go on from where they stopped. */
  resume(): void {
    if (this.pauseGate.resume()) {
      this.logger.info({ component: 'runner' }, 'resumed');
      this.emit('resumed');
    }
  }

  /** Whether pause() is in effect. */
  get paused(): boolean {
    return this.pauseGate.paused;
  }

  /**
   * Moves a copying or streaming sync to another source host (POST /switch-source, `tributary
   * switch-source`): first checks, on a connection of its own to that host, that it can resume the
   * position applied now (the checks of a resume: GTID containment on another server;
   * docs/failover.md), and refuses with that error when it cannot, the sync going on where it is.
   * Then ends the attempt — the stream at a transaction boundary, a copy at its chunk boundaries,
   * both checkpointed — and the next attempt connects to `host` first (then the URL's others),
   * checking again, and resumes there (a copy from its watermarks). Resolves with the host once the
   * attempt is stopping. Refused (CONFIG_INVALID) in other phases, and while a table without a key
   * is being copied whole (its one snapshot is of this server: another cannot continue it).
   */
  async switchSource(host: string): Promise<string> {
    const urlDsn = connectionDsn(this.config, 'source');
    const ep = parseHostPort(host, urlDsn.port);
    if (!ep) throw new TributaryError(ErrorCode.CONFIG_INVALID, `source host '${host}' is not host:port; give it as h2:3306`);
    const applier = this.applier;
    // Copying or streaming, in the attempt that was asked (the attempt's applier is its identity).
    const movable = () => (this.phase === 'copy' || this.phase === 'stream') && this.applier === applier;
    if (!applier || !movable() || this.switching) {
      throw new TributaryError(ErrorCode.CONFIG_INVALID, `the sync moves to another source host only while copying or streaming (it is ${this.switching ? 'moving already' : this.phase}); retry once it streams`);
    }
    const refuseWhole = () => {
      const whole = this.phase === 'copy' ? (this.copyingWhole?.() ?? []) : [];
      if (whole.length) {
        throw new TributaryError(ErrorCode.CONFIG_INVALID, `the sync cannot move to another source host while it copies ${whole.join(', ')} (no primary key nor unique NOT NULL key) whole, in one snapshot of the server it reads now, which another server cannot continue; retry once ${whole.length > 1 ? 'their' : 'its'} copy is done`);
      }
    };
    refuseWhole();
    const position = applier.snapshot().appliedPosition;
    const probe = await openSource(this.config, { ...preferHost(urlDsn, ep), endpoints: [ep] }, this.syncId, this.logger.child({ component: 'switch-source' }));
    try {
      await probe.connect();
      const identity = await probe.identity();
      if (this.sourceId !== undefined && identity.id !== this.sourceId) {
        if (!probe.capabilities.lineagePositions) {
          throw new TributaryError(ErrorCode.SOURCE_CHANGED, `source host ${ep.host}:${ep.port} is ${identity.id}, not ${this.sourceId} the sync streams from, and this source's positions name one server only; the sync stays where it is`);
        }
        await probe.checkPosition(position, { readOnly: true, otherServer: this.sourceId });
      } else await probe.checkPosition(position, { readOnly: true });
    } finally {
      await probe.close().catch(() => undefined);
    }
    if (!movable()) {
      throw new TributaryError(ErrorCode.CONFIG_INVALID, `the sync left the copy and stream phases while ${ep.host}:${ep.port} was checked (it is ${this.phase}); ask again`);
    }
    refuseWhole();
    this.logger.info(
      { component: 'runner', host: `${ep.host}:${ep.port}`, position: probe.describePosition(position), phase: this.phase },
      `moving the source to ${ep.host}:${ep.port}: stopping the ${this.phase === 'copy' ? 'copy at its chunk boundaries and the stream' : 'stream'} at a transaction boundary, then resuming there`,
    );
    this.switchTo = ep;
    this.switching = true;
    if (this.stopAttempt) this.stopAttempt();
    else applier.stop();
    return `${ep.host}:${ep.port}`;
  }

  /**
   * Stops the run: the copy finishes its chunks in flight, the stream stops at a transaction
   * boundary. A leader (coordinator mode) resigns at once, so a standby takes over while this
   * instance drains (its commits in flight finish before the takeover or are refused by the fence);
   * with `resign: 'after-drain'` it resigns once drained instead (at most RESIGN_AFTER_DRAIN_MS
   * later), so the next leader takes the target over with nothing in flight (a cluster's moves).
   */
  cancel(opts: { readonly resign?: 'at-once' | 'after-drain' } = {}): void {
    if (this.abort.signal.aborted) return;
    if (opts.resign === 'after-drain' && this.leadership) {
      const leadership = this.leadership;
      this.resignAfterDrain = setTimeout(() => void leadership.resign(), RESIGN_AFTER_DRAIN_MS).unref();
    }
    this.setPhase('stopping');
    this.abort.abort();
    this.applier?.stop();
  }

  /**
   * Runs until cancelled (resolves) or a fatal error (rejects with a TributaryError). Retryable
   * failures after a successful start restart from the checkpoint with backoff, a bounded number
   * of times.
   */
  async run(signal?: AbortSignal): Promise<void> {
    const onAbort = () => this.cancel();
    if (signal) {
      if (signal.aborted) this.cancel();
      signal.addEventListener('abort', onAbort, { once: true });
    }
    try {
      if (this.config.coordinator !== undefined) await this.runAsMember();
      else await this.runAttempts();
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Coordinator mode (docs/standby.md): stands by until this instance's campaign wins, then runs
   * the sync as leader, the target fenced by the leadership's epoch; when the leadership ends (its
   * lease lost or expired, or a newer leader fenced it) stops writing and stands by again. A
   * cancel resigns at once, so a standby takes over without waiting for the lease, while this
   * instance's commits in flight either finish before the takeover or are refused by the fence.
   */
  private async runAsMember(): Promise<void> {
    const log = this.logger.child({ component: 'coordinator' });
    const coordinator = await openCoordinator({
      dsn: connectionDsn(this.config, 'coordinator'),
      syncId: this.syncId,
      ttlSeconds: toMs(this.config.leaderTtl) / 1000,
      logger: log,
      ...(this.config.http !== undefined ? { http: this.config.http } : {}),
    });
    this.coordinator = coordinator;
    const resign = () => {
      if (this.resignAfterDrain === undefined) void this.leadership?.resign();
    };
    this.abort.signal.addEventListener('abort', resign, { once: true });
    try {
      for (;;) {
        this.setPhase('standby');
        const warm = await this.standBy(log);
        let leadership: Leadership;
        let sides: Partial<Sides> | undefined;
        try {
          leadership = await coordinator.campaign(this.abort.signal);
          sides = await warm?.take();
        } catch (err) {
          if (err instanceof AbortedError || this.abort.signal.aborted) {
            this.setPhase('stopped');
            return;
          }
          this.lastError = err as Error;
          this.lastErrorAt = new Date().toISOString();
          this.setPhase('failed');
          throw err;
        } finally {
          await warm?.close();
        }
        this.leadership = leadership;
        this.lastEpoch = leadership.epoch;
        this.leaderships++;
        log.info({ epoch: leadership.epoch }, `leading sync ${this.syncId} (epoch ${leadership.epoch}): taking the target over from its checkpoint`);
        this.emit('leader', leadership.epoch);
        void this.members().catch(() => undefined);
        let outcome: 'stopped' | 'lost';
        try {
          outcome = await this.runAttempts(leadership, sides);
        } finally {
          this.leadership = undefined;
          clearTimeout(this.resignAfterDrain);
          if (this.resignAfterDrain !== undefined && !leadership.over) log.info({ epoch: leadership.epoch }, 'drained: resigning, so the next leader takes the target over with nothing in flight');
          await leadership.resign();
        }
        if (outcome === 'stopped' || this.abort.signal.aborted) {
          this.setPhase('stopped');
          return;
        }
        const why = this.lastError;
        log.warn({ epoch: leadership.epoch, ...(why ? { code: why instanceof TributaryError ? why.code : ErrorCode.INTERNAL, err: why.message } : {}) }, 'the leadership ended; standing by again');
        this.emit('standby', leadership.epoch);
        // A fresh attempt's state: the next leadership starts from the target's checkpoint.
        this.applier = undefined;
        this.copier = undefined;
      }
    } finally {
      this.abort.signal.removeEventListener('abort', resign);
      this.coordinator = undefined;
      await coordinator.close();
    }
  }

  /**
   * Before a standby campaigns: its warm sides (runner/warm.ts), connected to the source and the
   * target and passed through the leader's preflight, so that an instance that could not take over
   * says so now rather than when the leader dies, and one that takes over need not connect first.
   * A fatal problem (a refused password, a missing privilege or setting) ends the run; a retryable
   * one (a side unreachable now) is logged, and the instance campaigns all the same (its warm sides
   * are opened again at their next refresh). Nothing is written and the stream is never opened.
   * Undefined for a library caller's injected sides, which are its own to check.
   */
  private async standBy(log: Logger): Promise<WarmSides | undefined> {
    if (this.injected.source || this.injected.target) return undefined;
    const opts = {
      logger: this.logger,
      ...(this.injected.predicates ? { predicates: this.injected.predicates } : {}),
      ...(this.switchTo ? { sourceHost: this.switchTo } : {}),
    };
    const warm = new WarmSides(() => buildSides(this.config, opts), log);
    try {
      await warm.open();
      log.info('standby: the source and the target pass the preflight; their connections are kept open');
    } catch (err) {
      if (err instanceof TributaryError && !err.fatal) {
        log.warn({ err: err.message }, 'standby: the preflight failed for now; campaigning all the same');
        return warm;
      }
      await warm.close();
      this.lastError = err as Error;
      this.lastErrorAt = new Date().toISOString();
      this.setPhase('failed');
      throw err;
    }
    return warm;
  }

  /**
   * Coordinator mode: the instances campaigning for this sync, the leader first (read from the
   * coordinator within 2 s; the last reading when it cannot be reached); [] otherwise.
   */
  async members(): Promise<readonly Member[]> {
    const c = this.coordinator;
    if (!c) return this.lastMembers;
    try {
      this.lastMembers = (await withTimeout(c.members(), 2000)) ?? this.lastMembers;
    } catch {
      /* the last reading stands */
    }
    return this.lastMembers;
  }

  /**
   * The attempts of a run: 'stopped' once cancelled or done; under a leadership, 'lost' once it
   * ended or a newer one fenced the target (the caller stands by again). Throws a fatal error.
   */
  private async runAttempts(leadership?: Leadership, warm?: Partial<Sides>): Promise<'stopped' | 'lost'> {
    let attempt = 0;
    let started = false;
    for (;;) {
      let progressed = false;
      // A standby's warm sides serve its first attempt only.
      const connected = warm;
      warm = undefined;
      try {
        await this.runOnce(() => {
          progressed = true;
          started = true;
          this.retrying = false;
        }, leadership, connected);
        if (this.switching && !this.abort.signal.aborted) {
          // switchSource(): the stream stopped at a transaction boundary and checkpointed; the
          // next attempt connects to the named host and resumes there after the same checks.
          this.switching = false;
          this.reconnects++;
          continue;
        }
        if (!leadership) this.setPhase('stopped');
        return 'stopped';
      } catch (err) {
        if (this.abort.signal.aborted && (err instanceof AbortedError || !(err instanceof TributaryError) || !err.fatal)) {
          this.retrying = false;
          if (!leadership) this.setPhase('stopped');
          return 'stopped';
        }
        this.lastError = err as Error;
        this.lastErrorAt = new Date().toISOString();
        if (leadership && (leadership.over || (err instanceof TributaryError && err.code === ErrorCode.FENCED))) {
          this.retrying = false;
          return 'lost';
        }
        // Retry only once a run has started for real: a bad URL or an unreachable host at start
        // is the user's to fix, and fails at once.
        // A leader's first attempt is retried too: its standby preflight already passed, and its
        // takeover may wait on an old leader's transaction (a lock wait timeout) that is then gone.
        const retryable = err instanceof TributaryError && !err.fatal && (started || leadership !== undefined);
        attempt = progressed ? 1 : attempt + 1;
        if (!retryable || attempt > MAX_ATTEMPTS) {
          this.retrying = false;
          this.setPhase('failed');
          throw err;
        }
        this.retrying = true;
        this.reconnects++;
        const wait = reconnectDelayMs(attempt);
        this.logger.warn({ err: (err as Error).message, attempt, waitMs: wait }, 'sync interrupted; resuming from the checkpoint');
        this.emit('retry', err, attempt);
        await sleep(wait, this.abort.signal);
        if (this.abort.signal.aborted) {
          this.retrying = false;
          if (!leadership) this.setPhase('stopped');
          return 'stopped';
        }
      }
    }
  }

  private async runOnce(onProgress: () => void, leadership?: Leadership, connected?: Partial<Sides>): Promise<void> {
    const cfg = this.config;
    const log = this.logger.child({ component: 'runner' });
    let stopJob: (() => void) | undefined;
    // The target's lock lost while this attempt runs: no write commits any more (the target sees
    // to that), and the attempt ends with this error, whatever else it was doing.
    let lockLost: TributaryError | undefined;
    let onLockLost = (): void => undefined;
    const watch = {
      onLost: (err: TributaryError) => {
        lockLost = err;
        log.error({ err: err.message, fatal: err.fatal }, 'the sync lock on the target is lost; stopping');
        onLockLost();
      },
    };
    const session = await createSession(cfg, {
      logger: this.logger,
      source: this.injected.source,
      target: this.injected.target,
      ...(this.injected.predicates ? { predicates: this.injected.predicates } : {}),
      requirements: 'enforce',
      ...(this.switchTo ? { sourceHost: this.switchTo } : {}),
      lock: { watch, ...(leadership ? { lock: (t: Target) => fencedLock(t, leadership) } : {}) },
      parallel: true,
      checkpoint: 'resume',
      // A sync streams from its start (before the copy, which converges with it): what the stream's
      // start would load (a MySQL source's decoding thread and its modules), it loads now, beside
      // loading the target's engine, connecting, the preflight and describing, not after them.
      prepareStream: !cfg.copyOnly,
      ...(connected ? { connected } : {}),
    }).catch(async (err: unknown) => {
      await Promise.all([connected?.source?.close().catch(() => undefined), connected?.target?.close().catch(() => undefined)]);
      throw err;
    });
    const { source, target, dstDsn } = session;
    this.source = source;
    this.target = target;
    try {
      await session.open();
      const schemas = session.tables;
      const names = session.names;
      const database = session.database;
      await this.warnTargetRequirements(target, schemas, database, session.namespaces);
      const identity = session.identity as SourceIdentity;
      this.sourceHost = identity.endpoint;
      this.sourceId = identity.id;
      let cp: Checkpoint = session.checkpoint ?? { stream: null, tables: new Map() };
      const resume = session.resume;
      if (resume.kind === 'refused') {
        const err = resume.error;
        if (cfg.force && err instanceof TributaryError && FORCE_RESTARTS.has(err.code)) {
          log.warn({ reason: err.message }, '--force: the checkpoint cannot resume; starting over');
          await target.clearCheckpoint();
          cp = { stream: null, tables: new Map() };
        } else throw err;
      }
      // Tables without a key are copied whole in a snapshot at the stream's start position, which a
      // resumed sync no longer has: one whose copy did not finish cannot be resumed exactly.
      const unfinished = cp.stream ? schemas.filter((s) => isKeyless(s) && !cp.tables.get(s.name)?.done).map((s) => s.name) : [];
      if (unfinished.length) {
        const err = new TributaryError(
          ErrorCode.TABLE_UNSUPPORTED,
          `the copy of ${unfinished.join(', ')} (no primary key nor unique NOT NULL key) was interrupted, and such a table is copied whole in one snapshot at the stream's start position, which a resumed sync does not have; start over with --force (drops and recreates the target tables), or leave ${unfinished.length > 1 ? 'them' : 'it'} out with --tables`,
        );
        if (!cfg.force) throw err;
        log.warn({ reason: err.message }, '--force: the checkpoint cannot resume; starting over');
        await target.clearCheckpoint();
        cp = { stream: null, tables: new Map() };
      }
      const whole = schemas.filter((s) => isKeyless(s) && !cp.tables.get(s.name)?.done);
      let from: string;
      // The stream decodes and writes each table with its definition at the stream's position:
      // the versioned schema stored with the checkpoint (schema changes it has not reached yet may
      // already be in the source's catalogue); the source's definition of now where none is stored.
      let streamTables: readonly TableSchema[] = schemas;
      // Online schema change shadows the stream followed when it stopped (TableSchema.shadowOf):
      // given to the stream only, never created on or checked against the target.
      let shadows: readonly TableSchema[] = [];
      if (cp.stream) {
        from = cp.stream.position;
        if (source.capabilities.schemaChanges) {
          streamTables = schemas.map((s) => cp.schemas?.get(s.name) ?? s);
          shadows = [...(cp.schemas?.values() ?? [])].filter((t) => t.shadowOf !== undefined);
        }
        // The target's tables are as the stream left them: at the stored definitions.
        await target.ensureSchema(creationOrder(streamTables), { recreate: false, database, resumed: true, ...(session.namespaces ? { namespaces: session.namespaces } : {}) });
        log.info({ position: source.describePosition(from), phase: cp.stream.phase }, 'resuming from checkpoint');
      } else {
        // Values a target of another engine cannot hold are refused now, before anything is written.
        if (source.capabilities.valueStats && target.capabilities.checkValues) {
          for (const s of schemas) target.checkValues(s, await source.valueStats(s));
        }
        const nonEmpty = await target.nonEmptyTables(schemas);
        if (nonEmpty.length && !cfg.force) {
          throw new TributaryError(
            ErrorCode.TARGET_NOT_EMPTY,
            `target table${nonEmpty.length > 1 ? 's' : ''} ${nonEmpty.join(', ')} in ${describeDsn(dstDsn)} already hold rows and there is no checkpoint to resume; empty ${nonEmpty.length > 1 ? 'them' : 'it'}, pick another target database, or pass --force to drop and recreate ${session.recreateScope()}`,
          );
        }
        await target.ensureSchema(creationOrder(schemas), { recreate: cfg.force, database, ...(session.namespaces ? { namespaces: session.namespaces } : {}) });
        from = await source.currentPosition({ wholeTables: whole.map((s) => s.name) });
        await target.saveStreamCheckpoint({ version: CHECKPOINT_VERSION, position: from, sourceId: identity.id, phase: 'copy', ...(leadership ? { epoch: leadership.epoch } : {}) });
        if (source.capabilities.schemaChanges) await target.saveSchemas(schemas);
        log.info({ tables: names.length, position: source.describePosition(from) }, 'starting a new sync');
      }
      // The host this attempt resumed on is tried first by the next one (docs/failover.md): after
      // a failover, a revived old primary earlier in the URL is not gone back to.
      const used = identity.endpoint !== undefined ? parseHostPort(identity.endpoint, session.srcDsn.port) : undefined;
      if (used) this.switchTo = used;
      onProgress();

      const job = new AbortController();
      stopJob = () => job.abort();
      this.abort.signal.addEventListener('abort', stopJob, { once: true });
      // A cancel that came before this point fired no listener.
      if (this.abort.signal.aborted) job.abort();
      // A lost lock stops the copy (no new chunk; those in flight cannot commit) and the stream
      // (its next commit fails: the target verifies the lock inside each commit's transaction).
      onLockLost = () => {
        job.abort();
        this.applier?.stop();
      };
      if (lockLost) throw lockLost;
      const convergence = new Convergence();
      // No change of a table copied whole reaches the target before its copy (TableGate.holdUntilCopied).
      for (const s of whole) convergence.gate(s.name).holdUntilCopied();
      const copyLeft = schemas.some((s) => !cp.tables.get(s.name)?.done);
      const replica = cfg.replica !== undefined && copyLeft ? connectionDsn(cfg, 'replica') : undefined;
      const throttle =
        replica !== undefined
          ? new ReplicaThrottle({ dsn: replica, openProbe: () => openLagProbe(replica), maxLagSeconds: toMs(cfg.replicaMaxLag) / 1000, logger: this.logger.child({ component: 'throttle' }) })
          : undefined;
      this.throttle = throttle;
      const applier = cfg.copyOnly
        ? undefined
        : new StreamApplier({
            source,
            target,
            tables: [...streamTables, ...shadows],
            from,
            sourceId: identity.id,
            ...(leadership ? { epoch: leadership.epoch } : {}),
            convergence,
            batchSize: cfg.batchSize,
            flushIntervalMs: toMs(cfg.flushInterval),
            // The batch and the copy's held changes together: a quarter of --buffer-mb (engines/registry.ts).
            bufferBytes: Math.max(1, Math.floor((cfg.bufferMb * 1024 * 1024) / 4)),
            onDdl: (tables, _statement, after) => ddlAlreadyApplied(source, target, streamTables, tables, after),
            ddl: cfg.ddl,
            ...(cfg.skipDdl !== undefined ? { skipDdl: cfg.skipDdl } : {}),
            foreignKeys: cfg.foreignKeys !== 'skip' && target.capabilities.foreignKeys === true,
            copy: {
              quiesce: (tables) => this.copier?.quiesce(tables) ?? Promise.resolve([]),
              restart: (table, schema) => this.copier?.restart(table, schema),
              add: (schema) => this.copier?.add(schema),
            },
            onSchemaChange: (change, position) => {
              this.schemaChanges++;
              this.lastSchemaChange = {
                statement: redactUrl(change.statement.trim().slice(0, 300)),
                tables: definedTables(change),
                position: source.describePosition(position),
                at: new Date().toISOString(),
              };
              this.checker?.schemaChanging(definedTables(change));
              void this.schemaChanged(target, change);
            },
            onSchemaChangeStart: (tables) => this.checker?.schemaChanging(tables),
            logger: this.logger.child({ component: 'stream' }),
            pause: this.pauseGate,
            observer: this.injected.observer,
          });
      this.applier = applier;
      if (this.abort.signal.aborted) applier?.stop();
      const copier = new Copier({
        source,
        target,
        tables: schemas,
        resume: cp.tables,
        threads: cfg.threads,
        chunkTimeMs: toMs(cfg.chunkTime),
        initialChunkSize: cfg.chunkSize,
        copyOrder: cfg.copyOrder,
        chunkBytes: Math.max(1024 * 1024, Math.floor((cfg.bufferMb * 1024 * 1024) / (2 * cfg.threads))),
        convergence,
        release: (ops) => applier?.release(ops),
        logger: this.logger.child({ component: 'copier' }),
        signal: job.signal,
        pause: this.pauseGate,
        rateLimit: cfg.copyRateLimit > 0 ? new RowRateLimiter(cfg.copyRateLimit) : undefined,
        throttle: throttle?.gate,
        observer: this.injected.observer,
        // Only the stream quiesces a table for a schema change: without one (--copy-only) a chunk
        // that failed for good has nothing to wait for, and the copy fails at once.
        ...(applier ? {} : { schemaChangeWaitMs: 0 }),
      });
      this.copier = copier;
      this.stopAttempt = () => {
        job.abort();
        this.applier?.stop();
      };
      this.copyingWhole = () => whole.filter((s) => !copier.progress().some((t) => t.table === s.name && t.done)).map((s) => s.name);
      // The first lag reading comes before the first chunk: a copy that must wait never starts one.
      await throttle?.start();
      this.setPhase('copy');
      let streamError: unknown;
      const streaming = applier?.run().catch((err: unknown) => {
        streamError = err;
        // Not ready from the failure on, not only once the teardown below ends: it waits for work
        // in flight, and a checksum read on a connection as dead as the stream's waits as long.
        if (err instanceof TributaryError && !err.fatal && !this.abort.signal.aborted) {
          this.retrying = true;
          this.lastError = err;
          this.lastErrorAt = new Date().toISOString();
        }
        job.abort();
      });
      try {
        await copier.run();
        await this.stopThrottle();
      } catch (err) {
        if (lockLost) {
          applier?.stop();
          await streaming;
          throw lockLost;
        }
        if (streamError) throw streamError;
        if (!(err instanceof AbortedError)) {
          applier?.stop();
          await streaming;
          throw err;
        }
      }
      if (lockLost || streamError) {
        applier?.stop();
        await streaming;
        throw lockLost ?? streamError;
      }
      if (!job.signal.aborted) {
        try {
          await this.createForeignKeys(target, schemas, log);
        } catch (err) {
          applier?.stop();
          await streaming;
          throw err;
        }
        this.setPhase(applier ? 'stream' : 'stopping');
        applier?.setPhase('stream');
        this.resolveCopied();
        this.emit('copied');
        log.info(applier ? 'initial copy done; streaming changes' : 'copy done (--copy-only)');
        onProgress();
      }
      // Tables a schema change brings into the selection while streaming are copied by the same
      // copier, run again whenever it has such a table (Copier.add), until the job ends.
      let lateCopyError: unknown;
      const lateCopies =
        applier && !job.signal.aborted
          ? this.copyLate(copier, target, job.signal).catch((err: unknown) => {
              lateCopyError = err;
              applier.stop();
            })
          : undefined;
      let checkError: unknown;
      const checking =
        applier && cfg.checksum && !job.signal.aborted
          ? // The definitions now, not the session's: schema changes during the copy changed them (a
            // key moved, a table renamed), and tables copied again are left out until copied (copyLate).
            this.startChecker(source, target, applier.definitions().filter((t) => !t.shadowOf && !this.copyingLate.has(t.name)), convergence, applier, job.signal).catch((err: unknown) => {
              checkError = err;
              applier.stop();
            })
          : undefined;
      if (this.abort.signal.aborted) applier?.stop();
      await streaming;
      // The stream has stopped: so do the checker and the late copies.
      job.abort();
      await checking;
      await lateCopies;
      if (lockLost) throw lockLost;
      if (streamError) throw streamError;
      if (lateCopyError && !this.abort.signal.aborted) throw lateCopyError;
      if (checkError && !this.abort.signal.aborted) throw checkError;
    } finally {
      this.stopAttempt = undefined;
      this.copyingWhole = undefined;
      if (stopJob) this.abort.signal.removeEventListener('abort', stopJob);
      await this.stopThrottle();
      await session.close();
    }
  }

  /**
   * The stream phase's copies: whenever the copier has a table whose copy is unfinished (one a
   * schema change brought into the selection: Copier.add), runs it again; once such a table is
   * copied, the continuous checksum starts checking it (not before: a table half copied differs).
   * Ends when `signal` aborts.
   */
  private async copyLate(copier: Copier, target: Target, signal: AbortSignal): Promise<void> {
    for (;;) {
      const copied = [...this.copyingLate].filter((name) => copier.progress().some((t) => t.table === name && t.done));
      for (const name of copied) this.copyingLate.delete(name);
      if (copied.length > 0) await this.replan(target, copied.flatMap((n) => this.applier?.definition(n) ?? []), []);
      await copier.waitForTables(signal);
      if (signal.aborted) return;
      try {
        await copier.run();
      } catch (err) {
        if (err instanceof AbortedError && signal.aborted) return;
        throw err;
      }
    }
  }

  /** Tables copied in the stream phase whose copy has not finished: the checksum leaves them out. */
  private readonly copyingLate = new Set<string>();

  /**
   * A schema change was applied to the target: the continuous checksum replans the tables it
   * touched (a check under way of one of them starts again with its new definition). A table the
   * change has copied again from the start (`recopy`) is left out until its copy is done (copyLate).
   */
  private async schemaChanged(target: Target, change: SchemaChange): Promise<void> {
    for (const name of change.recopy ?? []) this.copyingLate.add(name);
    const tables = [...change.after.values()].filter((t) => !this.copyingLate.has(t.name));
    const gone = [...change.before.keys()].filter((n) => !change.after.has(n) || this.copyingLate.has(n));
    await this.replan(target, tables, gone);
  }

  /** The continuous checksum checks `tables` with their definitions now (as on the target), and no longer `gone`. */
  private async replan(target: Target, tables: readonly TableSchema[], gone: readonly string[]): Promise<void> {
    const checker = this.checker;
    if (!checker) {
      // The checker is being built from the definitions as they were: it replans these once built.
      this.pendingReplans?.push({ tables, gone });
      return;
    }
    try {
      const plans: TablePlan[] = [];
      for (const table of tables) {
        const onTarget = await target.describe(table.name);
        if (onTarget) plans.push(planTable(table, onTarget, { zeroDates: this.config.zeroDates, keyRanges: target.capabilities.keyRanges }));
      }
      checker.replacePlans(plans, [...gone]);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'the checksum could not replan the tables of a schema change; it goes on with their old plans until the next restart');
    }
  }

  /** Ends the replica watch, keeping its last reading for progress(). */
  private async stopThrottle(): Promise<void> {
    const throttle = this.throttle;
    if (!throttle) return;
    this.throttle = undefined;
    await throttle.stop();
    this.lastThrottle = { ...throttle.status(this.config.copyRateLimit), waiting: false, reason: null };
  }

  /** Where the copy's throttles stand: the rate limit and the replica's lag. */
  throttleStatus(): ThrottleStatus {
    return (
      this.throttle?.status(this.config.copyRateLimit) ??
      this.lastThrottle ?? { copyRateLimit: this.config.copyRateLimit, replica: null, replicaLagSeconds: null, waiting: false, reason: null }
    );
  }

  /**
   * The target's own requirements (those of `tributary check`: privileges, settings), logged as
   * warnings when unmet: the writes themselves are the authority (a grant through a pattern the
   * check cannot read still works), so they warn early rather than refuse. Per-table refusals
   * (unmappable columns) are enforced where the tables are created, with their own messages.
   */
  /**
   * After the initial copy (the copy writes in parallel, in no order): the source's foreign keys
   * among the synced tables, created on the target in table creation order under
   * `--foreign-keys create`. The target adds only those it lacks, so a run resumed after a crash
   * between the copy and this step completes it, and every later start finds nothing to do.
   */
  private async createForeignKeys(target: Target, schemas: readonly TableSchema[], log: Logger): Promise<void> {
    const count = schemas.reduce((n, s) => n + (s.foreignKeys?.length ?? 0), 0);
    if (count === 0) return;
    if (this.config.foreignKeys === 'skip') {
      log.info({ foreignKeys: count }, '--foreign-keys skip: the source\'s foreign keys are not created on the target');
      return;
    }
    if (!target.capabilities.foreignKeys) {
      log.warn({ foreignKeys: count, target: target.engine }, 'the target cannot hold foreign keys: they are not created');
      return;
    }
    const created = await target.createForeignKeys(creationOrder(schemas));
    if (created.length) log.info({ created: created.length, of: count }, 'foreign keys created on the target');
  }

  private async warnTargetRequirements(target: Target, schemas: readonly TableSchema[], database: DatabaseDefaults | undefined, namespaces: ReadonlyMap<string, DatabaseDefaults | undefined> | undefined): Promise<void> {
    const log = this.logger.child({ component: 'target' });
    try {
      for (const r of failing(await target.check(schemas, database, namespaces))) {
        if (r.table !== undefined || r.mapping !== undefined) continue;
        log.warn({ requirement: r.name, value: r.value, fix: r.fix }, `the target may refuse writes: ${r.name} is ${r.value}; fix: ${r.fix}`);
      }
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'the target\'s requirements could not be read; the writes will tell');
    }
  }

  /**
   * The continuous checksum (checksum/continuous.ts) beside the stream, until `signal` aborts. Its
   * repairs pass through the copy's convergence gates and their held changes go to the applier.
   */
  /** Replans asked for while the checker was being built (startChecker), applied once it is. */
  private pendingReplans: { tables: readonly TableSchema[]; gone: readonly string[] }[] | undefined;

  private async startChecker(source: ChangeSource, target: Target, schemas: readonly TableSchema[], convergence: Convergence, applier: StreamApplier, signal: AbortSignal): Promise<void> {
    const cfg = this.config;
    this.pendingReplans = [];
    const plans: TablePlan[] = [];
    for (const s of schemas) {
      const onTarget = await target.describe(s.name);
      if (!onTarget) throw new TributaryError(ErrorCode.INTERNAL, `table ${s.name} missing on the target after the copy`);
      plans.push(planTable(s, onTarget, { zeroDates: cfg.zeroDates, keyRanges: target.capabilities.keyRanges }));
    }
    const checker = new ContinuousChecker({
      source,
      target,
      plans,
      convergence,
      ...applierHooks(applier),
      lagSeconds: () => applier.snapshot().lagSeconds,
      chunkSize: cfg.chunkSize,
      chunkBytes: Math.max(1024 * 1024, Math.floor((cfg.bufferMb * 1024 * 1024) / 4)),
      intervalMs: toMs(cfg.checksumInterval),
      logger: this.logger.child({ component: 'checksum' }),
    });
    checker.on('pass', (pass: number, repairs: number) => this.emit('checksumPass', pass, repairs));
    checker.on('repair', (event: RepairEvent) => this.emit('repair', event));
    checker.on('firstCleanPass', (at: string) => {
      this.resolveCleanPass();
      this.emit('firstCleanPass', at);
    });
    this.checker = checker;
    const pending = this.pendingReplans;
    this.pendingReplans = undefined;
    for (const p of pending) await this.replan(target, p.tables, p.gone);
    await checker.run(signal);
  }

  /** A structured snapshot of where the sync stands, with the copy's throttles. */
  progress(): Progress & { readonly throttle: ThrottleStatus } {
    // A table whose copy is done has its final count: the catalogue's estimate it started from
    // (InnoDB's TABLE_ROWS, pg_class.reltuples) is only a guess, and "51,689 / 52,451 rows" after
    // the copy ended reads as rows missing.
    const tables = (this.copier?.progress() ?? []).map((t) => (t.done && t.rowsTotal !== t.rowsCopied ? { ...t, rowsTotal: t.rowsCopied } : t));
    const rowsCopied = tables.reduce((a, t) => a + t.rowsCopied, 0);
    const rowsTotal = tables.reduce((a, t) => a + t.rowsTotal, 0);
    const copyRps = this.copyRate.add(rowsCopied);
    const st = this.applier?.snapshot();
    const changesApplied = st?.changesApplied ?? 0;
    const cps = this.applyRate.add(changesApplied);
    const left = rowsTotal - rowsCopied;
    const eta = this.currentPhase === 'copy' && copyRps > 0 ? left / copyRps : undefined;
    const lag = st?.lagSeconds ?? 0;
    const appliedPosition = st?.appliedPosition ? (this.source?.describePosition(st.appliedPosition) ?? '') : '';
    let summary: string;
    const checksum = this.checker?.status() ?? null;
    const throttle = this.throttleStatus();
    if (this.currentPhase === 'copy') {
      const pct = rowsTotal ? Math.min(99.9, (100 * rowsCopied) / rowsTotal) : 0;
      summary = `copy ${pct.toFixed(1)}% ${rowsCopied}/${rowsTotal} rows ${Math.round(copyRps)} rows/s ETA ${eta === undefined ? '?' : formatDuration(eta)} | stream ${Math.round(cps)} changes/s lag ${lag.toFixed(1)}s`;
      if (throttle.waiting) summary += ` | copy waiting: ${throttle.reason ?? 'replica'}`;
    } else if (this.currentPhase === 'stream') {
      summary = `stream ${changesApplied} changes applied ${Math.round(cps)} changes/s lag ${lag.toFixed(1)}s at ${appliedPosition}`;
      if (checksum && checksum.pass > 0) summary += ` | checksum pass ${checksum.pass} ${checksum.state}, ${checksum.repairs} repaired`;
    } else if (this.currentPhase === 'standby') {
      const leader = this.lastMembers.find((m) => m.leader);
      summary = `standby: ${leader ? `${leader.host} pid ${leader.pid} leads (epoch ${leader.epoch})` : 'waiting to lead'}`;
    } else {
      summary = this.currentPhase + (this.lastError ? `: ${this.lastError.message}` : '');
    }
    return {
      phase: this.currentPhase,
      summary,
      tables,
      rowsCopied,
      rowsTotal,
      copyRowsPerSecond: copyRps,
      changesApplied,
      changesPerSecond: cps,
      lagSeconds: lag,
      appliedPosition,
      etaSeconds: eta,
      checksum,
      throttle,
    };
  }

  /**
   * What progress() leaves out and an operator or a health check needs: pause and retry state,
   * the last error (password-free), committed changes per table and kind, buffered bytes.
   */
  health(): RunnerHealth {
    const st = this.applier?.snapshot();
    const err = this.lastError;
    const byTable: Record<string, RunnerHealth['changesByTable'][string]> = {};
    for (const [table, c] of st?.changesByTable ?? []) byTable[table] = { ...c };
    return {
      paused: this.paused,
      retrying: this.retrying,
      reconnects: this.reconnects,
      ...(this.sourceHost !== undefined ? { sourceHost: this.sourceHost } : {}),
      schemaChanges: this.schemaChanges,
      lastSchemaChange: this.lastSchemaChange,
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeSeconds: (Date.now() - this.startedAt) / 1000,
      lastError: err
        ? {
            message: redactUrl(err.message),
            code: err instanceof TributaryError ? err.code : ErrorCode.INTERNAL,
            fatal: err instanceof TributaryError ? err.fatal : true,
            at: this.lastErrorAt ?? null,
          }
        : null,
      bufferBytes: st?.bufferBytes ?? 0,
      changesByTable: byTable,
      coordination: this.coordinator
        ? {
            coordinator: this.coordinator.where,
            role: this.leadership ? 'leader' : 'standby',
            epoch: this.leadership?.epoch ?? this.lastEpoch ?? null,
            leaderships: this.leaderships,
            ttlSeconds: this.coordinator.ttlSeconds,
            members: this.lastMembers,
          }
        : null,
    };
  }

  /**
   * The source's head position (what it has logged), described for people; undefined when the
   * source cannot tell (capabilities.reportsHead), is not connected, or does not answer within `timeoutMs`.
   */
  async sourceHead(timeoutMs = 2000): Promise<string | undefined> {
    const source = this.source;
    if (!source?.capabilities.reportsHead) return undefined;
    const head = await withTimeout(source.headPosition(), timeoutMs).catch(() => undefined);
    return head === undefined ? undefined : source.describePosition(head);
  }

  /**
   * Bytes of log the source keeps for this sync (a PostgreSQL slot's WAL from its restart_lsn to
   * the current WAL position); undefined when the source keeps nothing for it or cannot tell.
   */
  async sourceRetainedBytes(timeoutMs = 2000): Promise<number | undefined> {
    const source = this.source;
    if (!source?.capabilities.retainsLog) return undefined;
    return withTimeout(source.retainedBytes(), timeoutMs).catch(() => undefined);
  }

  /** One line for logs. */
  status(): string {
    return this.progress().summary;
  }

  /** Reads this sync's checkpoint from the target (as saved, with every committed batch and chunk). */
  async dumpCheckpoint(): Promise<Checkpoint> {
    const target = this.target ?? this.injected.target ?? (await openTarget(this.config, connectionDsn(this.config, 'target'), this.syncId, this.logger.child({ component: 'target' })));
    const own = target !== this.target;
    if (own) await target.connect();
    try {
      return await target.loadCheckpoint();
    } finally {
      if (own) await target.close();
    }
  }
}

function columnsSignature(t: TableSchema | null): string {
  return JSON.stringify((t?.columns ?? []).map((c) => [c.name, c.columnType, c.nullable]).concat([t?.primaryKey.map(String) ?? []]));
}

/** CREATE TABLE text without what does not matter for rows (name, AUTO_INCREMENT counter). */
function normalisedDefinition(t: TableSchema | null): string {
  return (t?.createStatement ?? '').replace(/^CREATE TABLE\s+`(?:[^`]|``)+`/i, 'CREATE TABLE').replace(/\s+AUTO_INCREMENT=\d+/i, '');
}

/**
 * A DDL statement may be passed only when it changes nothing the sync relies on any more. When
 * the source parsed it (`after`: the tables' definitions after it), the target's tables must match
 * those. Otherwise the definitions this run decodes with must be the source's current ones (the
 * statement ran before this run started, so it is being replayed) and the target's tables must
 * match them.
 */
async function ddlAlreadyApplied(source: ChangeSource, target: Target, schemas: readonly TableSchema[], tables: readonly string[], after?: ReadonlyMap<string, TableSchema>): Promise<boolean> {
  if (after) {
    for (const name of tables) {
      const want = after.get(name);
      const onTarget = await target.describe(name);
      if (!want || !onTarget) return false;
      if (sameDialect(onTarget.engine, want.engine) ? columnsSignature(onTarget) !== columnsSignature(want) : columnNames(onTarget) !== columnNames(want)) return false;
      if (!sameEnumLabels(onTarget, want)) return false;
    }
    return true;
  }
  for (const name of tables) {
    const inUse = schemas.find((s) => s.name === name);
    if (!inUse) return false;
    let current: TableSchema;
    try {
      current = await source.describe(name);
    } catch {
      return false;
    }
    const onTarget = await target.describe(name);
    if (inUse.createStatement && current.createStatement && onTarget && sameDialect(onTarget.engine, current.engine)) {
      const want = normalisedDefinition(current);
      if (normalisedDefinition(inUse) !== want || normalisedDefinition(onTarget) !== want) return false;
    } else if (onTarget && sameDialect(onTarget.engine, current.engine)) {
      // No CREATE text (PostgreSQL): compare the columns themselves.
      const want = columnsSignature(current);
      if (columnsSignature(inUse) !== want || columnsSignature(onTarget) !== want) return false;
    } else if (onTarget) {
      // Across engines the types cannot be compared, the columns' names and the key can: the
      // statement is being replayed (the source's definition is the one in use) and the target
      // table has the source's columns now (the user applied the change there too).
      if (columnsSignature(inUse) !== columnsSignature(current) || columnNames(onTarget) !== columnNames(current)) return false;
    } else {
      return false;
    }
  }
  return true;
}

/** A table's column names in order, and its key's, for definitions from different engines. */
/**
 * Whether every column that is an enum on both sides has the same labels in the same order: a
 * PostgreSQL source's enum type changed (ALTER TYPE … RENAME VALUE) keeps the columns' names and
 * their type's name, so only the labels tell the target's definition from the source's.
 */
function sameEnumLabels(onTarget: TableSchema, want: TableSchema): boolean {
  return want.columns.every((c) => {
    const t = onTarget.columns.find((x) => x.name === c.name);
    if (c.logical?.kind !== 'enum' || t?.logical?.kind !== 'enum') return true;
    return JSON.stringify(c.logical.labels) === JSON.stringify(t.logical.labels);
  });
}

function columnNames(t: TableSchema): string {
  return JSON.stringify([t.columns.map((c) => c.name), t.primaryKey.map((i) => t.columns[i]?.name)]);
}

/** `p`, or undefined after `ms` (the promise's own failure is left to its caller to catch). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
