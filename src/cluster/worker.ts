import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { fromEnv, validateConfig } from '../config/load.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import { Runner } from '../runner/runner.js';
import { redactUrl } from '../config/dsn.js';
import { Scheduler } from './scheduler.js';
import type { ClusterStore, DeclaredSync, Registration, SyncReport } from './store.js';
import { Wake } from './wake.js';

/** How often a worker publishes each sync's report. */
export const REPORT_INTERVAL_MS = 2000;
/** How long a worker waits before it starts a sync whose run failed again, while it stays assigned. */
export const FAILED_RESTART_MS = 30_000;
/**
 * A worker that lost its lease waits at most this long for its syncs and its scheduler to stop before it leaves:
 * their leaderships have ended by then (each by its own lease clock), so nothing of them can commit,
 * and a sync stuck on a connection must not keep the worker from exiting.
 */
export const LOST_STOP_MS = 10_000;

export interface ClusterWorkerOptions {
  readonly store: ClusterStore;
  readonly name: string;
  readonly capacity: number;
  /** Its HTTP API's address, announced in its worker key. */
  readonly http?: string;
  /** The coordinator URL (the cluster's), which each sync's runner campaigns in, and its password. */
  readonly coordinator: string;
  readonly coordinatorPassword?: string;
  /** The lease TTL of each sync's leadership ('5s'). */
  readonly leaderTtl: string;
  /** The worker's environment: TRIBUTARY_*_PASSWORD(_FILE) give the syncs their passwords. */
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
}

/** One sync this worker runs (or ran, when it failed). */
interface Running {
  readonly sync: DeclaredSync;
  readonly runner: Runner | undefined;
  readonly done: Promise<void>;
  failure?: { readonly code: string; readonly message: string; readonly at: string };
  stopping: boolean;
}

/** A worker's view of one sync, for its /status and its report. */
export interface WorkerSyncStatus {
  readonly sync: string;
  readonly phase: string;
  readonly lagSeconds: number | null;
  readonly lastError: SyncReport['lastError'];
}

/**
 * A worker of the cluster (docs/cluster.md): registers under a lease, runs the scheduler's
 * campaign, and for each sync assigned to it runs a Runner in coordinator mode (the sync id is
 * the declared name), so only assigned workers campaign for a sync and the leadership's fence
 * makes every move safe. A sync unassigned from it (moved, deleted) or declared anew is cancelled
 * and resigns once drained; when the worker stops, each resigns at once. Passwords come from the worker's environment and files only.
 */
export class ClusterWorker {
  private readonly running = new Map<string, Running>();
  private readonly wake = new Wake();

  constructor(private readonly opts: ClusterWorkerOptions) {}

  /** The syncs this worker runs now. */
  syncs(): WorkerSyncStatus[] {
    return [...this.running.values()].map((r) => this.statusOf(r));
  }

  /** Runs until `signal` aborts: then every sync stops (resigning), and the worker key goes. */
  async run(signal: AbortSignal): Promise<void> {
    const { store, logger } = this.opts;
    const registration = await store.register({
      name: this.opts.name,
      host: hostname(),
      pid: process.pid,
      ...(this.opts.http !== undefined ? { http: this.opts.http } : {}),
      capacity: this.opts.capacity,
      since: new Date().toISOString(),
    });
    logger.info({ worker: this.opts.name, capacity: this.opts.capacity, coordinator: store.where }, `worker ${this.opts.name} joined the cluster`);
    const schedulerStop = new AbortController();
    const scheduler = new Scheduler({ store, worker: this.opts.name, logger: logger.child({ component: 'scheduler' }) }).run(schedulerStop.signal);
    const stopWatch = await store.watch(() => this.wake.ring());
    let lost: Error | undefined;
    void registration.lost.then((err) => {
      lost = err;
      this.wake.ring();
    });
    let reportedAt = 0;
    try {
      while (!signal.aborted && lost === undefined) {
        try {
          // A lost lease ends the wait for etcd at once (a partition may leave a call unanswered for long).
          const state = await Promise.race([store.state(), registration.lost.then(() => undefined)]);
          if (state === undefined) break;
          const declared = new Map(state.syncs.map((s) => [s.name, s]));
          const mine = new Map([...state.assignments].filter(([sync, w]) => w === this.opts.name && declared.has(sync)).map(([sync]) => [sync, declared.get(sync) as DeclaredSync]));
          this.reconcile(mine, registration);
          if (Date.now() - reportedAt >= REPORT_INTERVAL_MS) {
            reportedAt = Date.now();
            await Promise.all([...this.running.values()].filter((r) => !r.stopping).map((r) => registration.report(this.report(r))));
          }
        } catch (err) {
          logger.warn({ err: (err as Error).message }, 'reading the cluster failed; the syncs go on, reading again');
        }
        await this.wake.wait(REPORT_INTERVAL_MS / 2, signal, registration.lost);
      }
    } finally {
      schedulerStop.abort();
      const leaving = (async () => {
        await stopWatch();
        // A lost lease took the worker's reports with it: nothing to delete (etcd may not answer).
        await Promise.all([...this.running.keys()].map((s) => this.stop(s, registration, 'at-once', lost === undefined)));
        await scheduler;
      })();
      if (lost === undefined) await leaving;
      else if ((await Promise.race([leaving.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), LOST_STOP_MS).unref())])) === false) {
        logger.warn({ syncs: [...this.running.keys()] }, `the syncs and the scheduler did not stop within ${LOST_STOP_MS / 1000} s of the lease's loss; leaving all the same (their leaderships have ended: nothing of them commits)`);
      }
      await registration.close();
    }
    if (lost !== undefined && !signal.aborted) {
      throw new TributaryError(ErrorCode.LOCK_LOST, `worker ${this.opts.name} lost its lease in ${store.where} (${lost.message}); its syncs were stopped and move to other workers; start it again`, { fatal: false });
    }
  }

  /** Starts what is assigned and not running, stops what runs and is no longer assigned (or was declared anew). */
  private reconcile(mine: ReadonlyMap<string, DeclaredSync>, registration: Registration): void {
    for (const [name, r] of this.running) {
      const want = mine.get(name);
      if (r.stopping) continue;
      // Moved, deleted or declared anew: drained before it resigns, so the next leader takes the target over with nothing in flight.
      if (want === undefined || want.appliedAt !== r.sync.appliedAt) void this.stop(name, registration, 'after-drain');
    }
    for (const [name, sync] of mine) if (!this.running.has(name)) this.start(sync);
  }

  private start(sync: DeclaredSync): void {
    const log = this.opts.logger.child({ sync: sync.name });
    let runner: Runner;
    try {
      runner = new Runner(this.configOf(sync), { logger: log });
    } catch (err) {
      this.failed(sync, err, log);
      return;
    }
    log.info(`running sync ${sync.name}: campaigning to lead it`);
    const entry: Running = {
      sync,
      runner,
      stopping: false,
      done: runner.run().then(
        () => undefined,
        (err: unknown) => {
          if (this.running.get(sync.name) === entry && !entry.stopping) this.failed(sync, err, log);
        },
      ),
    };
    this.running.set(sync.name, entry);
  }

  /** Keeps a failed sync's error for its report, and lets the next reconcile start it again after FAILED_RESTART_MS. */
  private failed(sync: DeclaredSync, err: unknown, log: Logger): void {
    const failure = {
      code: err instanceof TributaryError ? err.code : ErrorCode.INTERNAL,
      message: redactUrl(err instanceof Error ? err.message : String(err)),
      at: new Date().toISOString(),
    };
    log.error({ err: failure.message, code: failure.code }, `sync ${sync.name} failed; starting it again in ${FAILED_RESTART_MS / 1000} s while it stays assigned here`);
    const entry: Running = {
      sync,
      runner: undefined,
      stopping: false,
      failure,
      done: new Promise((resolve) => setTimeout(resolve, FAILED_RESTART_MS).unref()).then(() => {
        if (this.running.get(sync.name) === entry) this.running.delete(sync.name);
        this.wake.ring();
      }),
    };
    this.running.set(sync.name, entry);
  }

  /** Stops a sync this worker runs: its leadership resigned at once (the worker stops) or once drained (the sync moves). */
  private async stop(name: string, registration: Registration, resign: 'at-once' | 'after-drain', unreport = true): Promise<void> {
    const r = this.running.get(name);
    if (!r) return;
    r.stopping = true;
    this.opts.logger.info({ sync: name }, resign === 'after-drain' ? `stopping sync ${name}: no longer assigned to this worker (or declared anew); resigning once drained` : `stopping sync ${name}: the worker stops; resigning`);
    r.runner?.cancel({ resign });
    if (r.runner) await r.done;
    if (this.running.get(name) === r) this.running.delete(name);
    if (unreport) await registration.unreport(name).catch(() => undefined);
    this.wake.ring();
  }

  /** A declared sync's config as this worker runs it: its name as the sync id, the cluster as coordinator, passwords from the worker. */
  private configOf(sync: DeclaredSync) {
    const secrets = Object.fromEntries(Object.entries(fromEnv(this.opts.env)).filter(([k]) => /Password(File)?$/.test(k) && !k.startsWith('coordinator')));
    return validateConfig({
      ...sync.config,
      ...secrets,
      id: sync.name,
      coordinator: this.opts.coordinator,
      ...(this.opts.coordinatorPassword !== undefined ? { coordinatorPassword: this.opts.coordinatorPassword } : {}),
      leaderTtl: this.opts.leaderTtl,
      progress: 'none',
    });
  }

  private statusOf(r: Running): WorkerSyncStatus {
    if (!r.runner) return { sync: r.sync.name, phase: 'failed', lagSeconds: null, lastError: r.failure ?? null };
    const p = r.runner.progress();
    const err = r.runner.health().lastError;
    return {
      sync: r.sync.name,
      phase: r.failure ? 'failed' : p.phase,
      lagSeconds: p.phase === 'stream' ? p.lagSeconds : null,
      lastError: r.failure ?? (err ? { code: err.code, message: err.message, at: err.at } : null),
    };
  }

  private report(r: Running): SyncReport {
    return { ...this.statusOf(r), worker: this.opts.name, at: new Date().toISOString() };
  }
}
