import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Etcd3, Lease } from 'etcd3';
import type { Logger } from 'pino';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import type { Coordinator, Leadership, Member } from '../../coordination/leadership.js';
import { unlessAborted } from '../../core/abortable.js';
import { AbortedError, ErrorCode, TributaryError } from '../../core/errors.js';
import { MAX_ATTEMPTS, reconnectDelayMs, sleep } from '../../runner/retry.js';
import { connectError, openClient } from './connection.js';
import { LeaseClock } from './lease-clock.js';

/** The default lease TTL of a leadership, in seconds: a dead leader's standby takes over within about this. */
export const DEFAULT_LEADER_TTL_SECONDS = 5;

export interface EtcdCoordinatorOptions {
  /** The coordinator's URL: etcd://host:port[,…]/prefix. */
  readonly dsn: Dsn;
  readonly syncId: string;
  readonly ttlSeconds?: number;
  readonly logger: Logger;
  /** This instance's HTTP API address, announced to the others (Member.http). */
  readonly http?: string;
  /** More fields of the campaign key's value (the cluster's scheduler election names its worker). */
  readonly about?: Readonly<Record<string, string>>;
}

/** The longest a resignation waits for etcd; past it the lease is left to expire. */
const RESIGN_MS = 2_000;
/** The longest a campaign's call waits for etcd before the campaign starts again. */
const CALL_MS = 10_000;

/** Runs `fn`, waiting for it at most `ms` (it may go on in the background). */
export async function within(ms: number, fn: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([fn(), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * `p`, or a rejection naming `what` when etcd has not answered within CALL_MS, or an AbortedError
 * as soon as `signal` aborts (the call may go on in the background; its answer is ignored).
 */
export async function answered<T>(what: string, p: Promise<T>, signal?: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`etcd did not answer ${what} within ${CALL_MS / 1000} s (deadline exceeded)`)), CALL_MS);
  });
  try {
    return await unlessAborted(Promise.race([p, late]), signal, () => {
      throw new AbortedError(`stopped while waiting for ${what}`);
    });
  } finally {
    clearTimeout(timer);
  }
}

/** A key prefix's range end: the prefix with its last byte plus one. */
export function rangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1] = (end[end.length - 1] ?? 0) + 1;
  return end;
}

/**
 * The election of a sync's instances in etcd, as etcd's own concurrency package runs one: each
 * candidate puts a key `<prefix>/%tributary/<sync id>/candidates/<lease id>` under a lease of its
 * own; the candidate whose key is oldest (the lowest create revision) leads; every other waits for
 * the deletion of the key just older than its own (a watch, re-checked every TTL), so a dead
 * leader's lease expiry or a resignation elects the next one without a thundering herd. The epoch
 * is the leader's key's create revision: etcd's revisions only grow, and a key elected after another
 * was created after it or waited behind it, so every leadership's epoch exceeds the one before.
 *
 * Self-fencing: the lease's deadline is tracked by this process's monotonic clock from the moment
 * each keepalive was sent (the server extends the lease from when it receives it, never earlier),
 * less a margin; past it the leadership ends and `check()` throws, whether or not etcd answered.
 */
export class EtcdCoordinator implements Coordinator {
  readonly where: string;
  readonly ttlSeconds: number;
  private readonly client: Etcd3;
  private readonly prefix: Buffer;
  private readonly opts: EtcdCoordinatorOptions;
  private readonly current = new Set<EtcdLeadership>();

  constructor(opts: EtcdCoordinatorOptions) {
    this.opts = opts;
    this.where = `coordinator ${describeDsn(opts.dsn)}`;
    this.ttlSeconds = opts.ttlSeconds ?? DEFAULT_LEADER_TTL_SECONDS;
    this.client = openClient(opts.dsn, 'coordinator');
    const root = opts.dsn.database ? `/${opts.dsn.database}` : '';
    this.prefix = Buffer.from(`${root}/%tributary/${opts.syncId}/candidates/`);
  }

  async campaign(signal: AbortSignal): Promise<EtcdLeadership> {
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw new AbortedError('standing by');
      try {
        return await this.campaignOnce(signal);
      } catch (err) {
        if (signal.aborted || err instanceof AbortedError) throw new AbortedError('standing by');
        const e = connectError(err, this.opts.dsn, 'coordinator');
        if (e.fatal || attempt >= MAX_ATTEMPTS) throw e;
        const wait = reconnectDelayMs(attempt);
        this.opts.logger.warn({ err: e.message, attempt, waitMs: wait }, 'campaigning failed; campaigning again');
        await sleep(wait, signal);
      }
    }
  }

  private async campaignOnce(signal: AbortSignal): Promise<EtcdLeadership> {
    const ttl = this.ttlSeconds;
    const lease = this.client.lease(ttl, { autoKeepAlive: true });
    const sentAt = performance.now();
    let leaseId: string;
    try {
      leaseId = await answered('the lease grant', lease.grant(), signal);
    } catch (err) {
      lease.release();
      throw err;
    }
    const key = Buffer.concat([this.prefix, Buffer.from(BigInt(leaseId).toString(16))]);
    const value = JSON.stringify({ ...this.opts.about, host: hostname(), pid: process.pid, since: new Date().toISOString(), ...(this.opts.http ? { http: this.opts.http } : {}) });
    const leadership = new EtcdLeadership({ client: this.client, lease, key, ttlSeconds: ttl, sentAt, where: this.where, syncId: this.opts.syncId });
    this.current.add(leadership);
    void leadership.ended.then(() => this.current.delete(leadership));
    try {
      const res = await answered('the campaign', this.client.kv.txn({
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key, value: Buffer.from(value), lease: leaseId } }],
        failure: [{ request_range: { key } }],
      }), signal);
      const created = res.succeeded ? res.header.revision : res.responses[0]?.response_range?.kvs[0]?.create_revision;
      if (created === undefined) throw new Error(`the campaign key ${key.toString()} vanished as it was put`);
      leadership.setEpoch(created);
      const mine = BigInt(created);
      this.opts.logger.info({ epoch: created, coordinator: this.where }, 'standing by: campaigning to lead the sync');
      for (;;) {
        if (signal.aborted) throw new AbortedError('standing by');
        const lost = leadership.lostReason();
        if (lost) throw lost;
        const older = await answered('the election read', this.client.kv.range({
          key: this.prefix,
          range_end: rangeEnd(this.prefix),
          max_create_revision: String(mine - 1n),
          sort_order: 'Descend',
          sort_target: 'Create',
          limit: 1,
        }), signal);
        const ahead = older.kvs[0];
        if (!ahead) break;
        await this.waitDeleted(ahead.key, older.header.revision, signal, leadership);
      }
      leadership.check();
      leadership.lead();
      return leadership;
    } catch (err) {
      await leadership.resign();
      throw err;
    }
  }

  /** Waits until `key` is deleted after `revision`, the signal aborts, the leadership ends, or a TTL passes (the caller looks again). */
  private async waitDeleted(key: Buffer, revision: string, signal: AbortSignal, leadership: EtcdLeadership): Promise<void> {
    const watcher = await answered('the watch', this.client.watch().key(key).startRevision(String(BigInt(revision) + 1n)).create(), signal);
    try {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, this.ttlSeconds * 1000);
        watcher.on('delete', done);
        signal.addEventListener('abort', done, { once: true });
        void leadership.ended.then(done);
      });
    } finally {
      await within(RESIGN_MS, async () => {
        await watcher.cancel().catch(() => undefined);
      });
    }
  }

  async members(): Promise<Member[]> {
    let res;
    try {
      res = await answered('the members read', this.client.kv.range({ key: this.prefix, range_end: rangeEnd(this.prefix), sort_order: 'Ascend', sort_target: 'Create' }));
    } catch (err) {
      throw connectError(err, this.opts.dsn, 'coordinator');
    }
    return res.kvs.map((kv, i) => {
      let v: { host?: string; pid?: number; http?: string; since?: string } = {};
      try {
        v = JSON.parse(kv.value.toString()) as typeof v;
      } catch {
        /* a key of another writer: shown without its details */
      }
      return {
        id: kv.key.subarray(this.prefix.length).toString(),
        host: v.host ?? '?',
        pid: v.pid ?? 0,
        ...(v.http ? { http: v.http } : {}),
        since: v.since ?? '',
        leader: i === 0,
        epoch: kv.create_revision,
      };
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.current].map((l) => l.resign()));
    this.client.close();
  }
}

interface LeadershipOptions {
  readonly client: Etcd3;
  readonly lease: Lease;
  readonly key: Buffer;
  readonly ttlSeconds: number;
  /** When the lease's grant was sent (performance.now()). */
  readonly sentAt: number;
  readonly where: string;
  readonly syncId: string;
}

/**
 * A campaign, then (after `lead()`) a leadership: the lease's deadline by the monotonic clock, the
 * end when the lease is lost or that deadline passes, and resignation.
 */
export class EtcdLeadership implements Leadership {
  epoch = '0';
  over = false;
  readonly ended: Promise<TributaryError | undefined>;
  private finish!: (err: TributaryError | undefined) => void;
  private reason: TributaryError | undefined;
  /** How long the lease surely holds, by this process's monotonic clock. */
  private readonly clock: LeaseClock;
  private leading = false;

  constructor(private readonly opts: LeadershipOptions) {
    this.ended = new Promise((resolve) => (this.finish = resolve));
    opts.lease.on('lost', (err) => this.end(this.lost(`its lease could not be renewed (${err.message})`)));
    this.clock = new LeaseClock(opts.lease, opts.ttlSeconds * 1000, opts.sentAt, () =>
      this.end(this.lost(`no keepalive of its lease was answered in time: by this process's clock the lease may expire within ${Math.round(this.clock.marginMs)} ms, so it stops writing before a standby can win`)),
    );
  }

  private lost(why: string): TributaryError {
    return new TributaryError(
      ErrorCode.LOCK_LOST,
      `the leadership of sync ${this.opts.syncId} (epoch ${this.epoch}) in ${this.opts.where} ended: ${why}; nothing more is written, and this instance stands by again`,
      { fatal: false },
    );
  }

  /** The campaign key: a transaction guarded by the leadership compares its create revision with the epoch. */
  get key(): Buffer {
    return this.opts.key;
  }

  setEpoch(revision: string): void {
    this.epoch = revision;
  }

  lead(): void {
    this.leading = true;
  }

  /** Why the campaign or leadership ended by loss, or undefined. */
  lostReason(): TributaryError | undefined {
    return this.reason;
  }

  check(): void {
    if (!this.over && this.clock.expired()) this.end(this.lost('its lease may have expired by this process\'s clock'));
    if (this.over) throw this.reason ?? this.lost(this.leading ? 'it resigned' : 'its campaign was given up');
  }

  private end(reason: TributaryError | undefined): void {
    if (this.over) return;
    this.over = true;
    this.reason = reason;
    this.clock.stop();
    this.finish(reason);
  }

  async resign(): Promise<void> {
    this.end(undefined);
    // The key goes first, so the next candidate is elected without waiting for the revoke. Bounded:
    // an instance cut off from etcd gives up waiting (its lease expires by itself).
    await within(RESIGN_MS, async () => {
      await this.opts.client.delete().key(this.opts.key).exec().catch(() => undefined);
      await this.opts.lease.revoke().catch(() => undefined);
    });
    this.opts.lease.release();
  }
}
