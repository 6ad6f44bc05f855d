import { performance } from 'node:perf_hooks';
import type { Etcd3, Lease } from 'etcd3';
import type { Logger } from 'pino';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import type { AssignmentOp, ClusterState, ClusterStore, DeclaredSync, Registration, SchedulerLeadership, SyncReport, WorkerInfo } from '../../cluster/store.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { connectError, openClient } from './connection.js';
import { answered, EtcdCoordinator, rangeEnd, within } from './election.js';
import { LeaseClock } from './lease-clock.js';

/** The longest a worker's leaving waits for etcd; past it its keys are left to expire with its lease. */
const CLOSE_MS = 2_000;

export interface EtcdClusterStoreOptions {
  /** The cluster's URL: etcd://host:port[,…]/prefix. */
  readonly dsn: Dsn;
  readonly ttlSeconds: number;
  readonly logger: Logger;
}

/** The scheduler's election runs as a sync's would, under a sync id no declared sync can have ('%' is refused in names). */
export const SCHEDULER_ID = '%scheduler';

type Kind = 'syncs' | 'workers' | 'assignments' | 'reports';

function parse<T>(value: Buffer): T | undefined {
  try {
    return JSON.parse(value.toString()) as T;
  } catch {
    return undefined;
  }
}

/**
 * The cluster's keys in etcd (docs/cluster.md), under `/<prefix>/%cluster/`:
 * `syncs/<name>` (a declared sync), `workers/<name>` (leased by the worker), `assignments/<sync>`
 * (= the worker's name; written only by the elected scheduler, guarded by its election key),
 * `reports/<sync>/<worker>` (leased by the worker). The scheduler's election is an EtcdCoordinator
 * under the sync id `%scheduler` (`/<prefix>/%tributary/%scheduler/candidates/…`).
 */
export class EtcdClusterStore implements ClusterStore {
  readonly where: string;
  readonly ttlSeconds: number;
  private readonly client: Etcd3;
  private readonly base: string;
  private readonly schedulerCandidates: Buffer;
  private election: EtcdCoordinator | undefined;

  constructor(private readonly opts: EtcdClusterStoreOptions) {
    this.where = `coordinator ${describeDsn(opts.dsn)}`;
    this.ttlSeconds = opts.ttlSeconds;
    this.client = openClient(opts.dsn, 'coordinator');
    const root = opts.dsn.database ? `/${opts.dsn.database}` : '';
    this.base = `${root}/%cluster/`;
    this.schedulerCandidates = Buffer.from(`${root}/%tributary/${SCHEDULER_ID}/candidates/`);
  }

  private key(kind: Kind, ...parts: string[]): Buffer {
    return Buffer.from(`${this.base}${kind}/${parts.join('/')}`);
  }

  /** One etcd call, waited for at most CALL_MS (a partition that drops packets answers nothing and raises nothing). */
  private async call<T>(what: () => Promise<T>): Promise<T> {
    try {
      return await answered('a request of the cluster', what());
    } catch (err) {
      throw connectError(err, this.opts.dsn, 'coordinator');
    }
  }

  async declare(sync: DeclaredSync): Promise<void> {
    await this.call(() => this.client.kv.put({ key: this.key('syncs', sync.name), value: Buffer.from(JSON.stringify(sync)) }));
  }

  async remove(name: string): Promise<boolean> {
    const res = await this.call(() =>
      this.client.kv.txn({
        compare: [],
        success: [{ request_delete_range: { key: this.key('syncs', name) } }, { request_delete_range: { key: this.key('assignments', name) } }],
        failure: [],
      }),
    );
    return Number(res.responses[0]?.response_delete_range?.deleted ?? 0) > 0;
  }

  async state(): Promise<ClusterState> {
    const prefix = Buffer.from(this.base);
    const res = await this.call(() => this.client.kv.range({ key: prefix, range_end: rangeEnd(prefix) }));
    const syncs: DeclaredSync[] = [];
    const workers: WorkerInfo[] = [];
    const assignments = new Map<string, string>();
    const reports: SyncReport[] = [];
    for (const kv of res.kvs) {
      const [kind, name] = kv.key.subarray(prefix.length).toString().split('/');
      if (name === undefined) continue;
      if (kind === 'syncs') {
        const s = parse<DeclaredSync>(kv.value);
        if (s) syncs.push(s);
      } else if (kind === 'workers') {
        const w = parse<WorkerInfo>(kv.value);
        if (w) workers.push(w);
      } else if (kind === 'assignments') {
        assignments.set(name, kv.value.toString());
      } else if (kind === 'reports') {
        const r = parse<SyncReport>(kv.value);
        if (r) reports.push(r);
      }
    }
    return { syncs, workers, assignments, reports };
  }

  async register(worker: WorkerInfo): Promise<Registration> {
    const lease = this.client.lease(this.ttlSeconds, { autoKeepAlive: true });
    const sentAt = performance.now();
    const leaseId = await this.call(() => lease.grant()).catch((err: unknown) => {
      lease.release();
      throw err;
    });
    const key = this.key('workers', worker.name);
    const res = await this.call(() =>
      this.client.kv.txn({
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key, value: Buffer.from(JSON.stringify(worker)), lease: leaseId } }],
        failure: [{ request_range: { key } }],
      }),
    ).catch(async (err: unknown) => {
      await lease.revoke().catch(() => undefined);
      throw err;
    });
    if (!res.succeeded) {
      await lease.revoke().catch(() => undefined);
      const kv = res.responses[0]?.response_range?.kvs[0];
      const other = kv ? parse<WorkerInfo>(kv.value) : undefined;
      throw new TributaryError(
        ErrorCode.ALREADY_RUNNING,
        `worker name '${worker.name}' is registered in ${this.where} by a live worker (${other?.host ?? '?'} pid ${other?.pid ?? '?'}); give this one another --name, or stop that one (its key goes ${this.ttlSeconds} s after it dies)`,
      );
    }
    return new EtcdRegistration(this.client, lease, leaseId, key, (sync) => this.key('reports', sync, worker.name), this.opts.dsn, this.ttlSeconds * 1000, sentAt);
  }

  async watch(onChange: () => void): Promise<() => Promise<void>> {
    const watcher = await this.call(() => this.client.watch().prefix(this.base).create());
    watcher.on('put', onChange);
    watcher.on('delete', onChange);
    // A watch that reconnects may have missed writes: the caller reads everything again.
    watcher.on('connected', onChange);
    watcher.on('error', (err) => this.opts.logger.warn({ err: err.message }, 'the watch of the cluster keys failed; it reconnects'));
    return async () => {
      await within(CLOSE_MS, async () => {
        await watcher.cancel().catch(() => undefined);
      });
    };
  }

  async campaignScheduler(signal: AbortSignal, worker: string): Promise<SchedulerLeadership> {
    this.election ??= new EtcdCoordinator({ dsn: this.opts.dsn, syncId: SCHEDULER_ID, ttlSeconds: this.ttlSeconds, logger: this.opts.logger, about: { worker } });
    const leadership = await this.election.campaign(signal);
    const client = this.client;
    const assignmentKey = (sync: string) => this.key('assignments', sync);
    const dsn = this.opts.dsn;
    return {
      get epoch() {
        return leadership.epoch;
      },
      get over() {
        return leadership.over;
      },
      ended: leadership.ended,
      check: () => leadership.check(),
      resign: () => leadership.resign(),
      async assign(ops: readonly AssignmentOp[]): Promise<boolean> {
        try {
          leadership.check();
        } catch {
          return false;
        }
        try {
          const res = await client.kv.txn({
            compare: [{ key: leadership.key, target: 'Create', result: 'Equal', create_revision: leadership.epoch }],
            success: ops.map((op) =>
              op.worker === undefined ? { request_delete_range: { key: assignmentKey(op.sync) } } : { request_put: { key: assignmentKey(op.sync), value: Buffer.from(op.worker) } },
            ),
            failure: [],
          });
          return res.succeeded;
        } catch (err) {
          throw connectError(err, dsn, 'coordinator');
        }
      },
    };
  }

  async scheduler(): Promise<string | undefined> {
    const res = await this.call(() =>
      this.client.kv.range({ key: this.schedulerCandidates, range_end: rangeEnd(this.schedulerCandidates), sort_order: 'Ascend', sort_target: 'Create', limit: 1 }),
    );
    const kv = res.kvs[0];
    return kv ? parse<{ worker?: string }>(kv.value)?.worker : undefined;
  }

  async close(): Promise<void> {
    await this.election?.close();
    this.client.close();
  }
}

/**
 * A worker's lease, its worker key and its reports. `lost` resolves when the lease is lost, or may
 * have expired by this process's clock (LeaseClock: a partition that drops packets answers no
 * keepalive and raises no error, so etcd3's own 'lost' would come late or never).
 */
class EtcdRegistration implements Registration {
  readonly lost: Promise<Error>;
  private readonly clock: LeaseClock;

  constructor(
    private readonly client: Etcd3,
    private readonly lease: Lease,
    private readonly leaseId: string,
    private readonly key: Buffer,
    private readonly reportKey: (sync: string) => Buffer,
    private readonly dsn: Dsn,
    ttlMs: number,
    sentAt: number,
  ) {
    let lose!: (err: Error) => void;
    this.lost = new Promise((resolve) => (lose = resolve));
    lease.on('lost', (err) => lose(err));
    this.clock = new LeaseClock(lease, ttlMs, sentAt, () => lose(new Error(`no keepalive of its lease was answered in time: by this process's clock the lease may expire within ${Math.round(this.clock.marginMs)} ms`)));
  }

  async report(report: SyncReport): Promise<void> {
    try {
      await answered('a sync report', this.client.kv.put({ key: this.reportKey(report.sync), value: Buffer.from(JSON.stringify(report)), lease: this.leaseId }));
    } catch (err) {
      throw connectError(err, this.dsn, 'coordinator');
    }
  }

  async unreport(sync: string): Promise<void> {
    try {
      await answered('a sync report', this.client.kv.deleteRange({ key: this.reportKey(sync) }));
    } catch (err) {
      throw connectError(err, this.dsn, 'coordinator');
    }
  }

  /** Deletes the worker key and revokes the lease, waiting for etcd at most CLOSE_MS (a worker cut off leaves them to expire). */
  async close(): Promise<void> {
    this.clock.stop();
    await within(CLOSE_MS, async () => {
      await this.client.kv.deleteRange({ key: this.key }).catch(() => undefined);
      await this.lease.revoke().catch(() => undefined);
    });
    this.lease.release();
  }
}
