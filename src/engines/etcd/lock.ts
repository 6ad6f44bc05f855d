import { hostname } from 'node:os';
import type { Etcd3, ICompare, Lease } from 'etcd3';
import type { Logger } from 'pino';
import type { SyncLock } from '../../coordination/lock.js';
import type { TxnGuard } from './fence.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { LockWatch } from '../../core/target.js';

/** How long the lock outlives a holder that stopped renewing it (killed, cut off), in seconds. */
export const LEASE_TTL_SECONDS = 10;

export interface EtcdSyncLockOptions {
  readonly client: Etcd3;
  /** `<root>/%tributary/<sync id>/lock`. */
  readonly key: string;
  readonly syncId: string;
  /** For messages: the cluster, without a password. */
  readonly where: string;
  readonly logger: Logger;
  readonly ttlSeconds?: number;
  readonly error: (err: unknown, what: string) => TributaryError;
}

/**
 * The sync's exclusive lock as an etcd key held by a lease (a SyncLock, coordination/lock.ts): put
 * only where no key is (create revision 0), kept alive by the lease's keepalives, gone when the
 * lease expires. Fencing: every write of the target compares the key's create revision with the one
 * this holder created (`fence()`), inside its own transaction, so once the lease expired or another
 * holder took the key over, no write of this one commits, whatever it had in flight. A new holder
 * therefore needs not wait for a previous one's writes.
 *
 * A holder killed without releasing keeps the key until its lease runs out (LEASE_TTL_SECONDS): a
 * new instance waits that long for it before it refuses (ALREADY_RUNNING), and takes it at once
 * when its holder renews nothing.
 */
export class EtcdSyncLock implements SyncLock, TxnGuard {
  private readonly opts: EtcdSyncLockOptions;
  private lease: Lease | undefined;
  private createRevision: string | undefined;
  private released = false;

  constructor(opts: EtcdSyncLockOptions) {
    this.opts = opts;
  }

  private get ttl(): number {
    return this.opts.ttlSeconds ?? LEASE_TTL_SECONDS;
  }

  async acquire(watch: LockWatch = {}): Promise<void> {
    const { client, key } = this.opts;
    const k = Buffer.from(key);
    const lease = client.lease(this.ttl);
    let leaseId: string;
    try {
      leaseId = await lease.grant();
    } catch (err) {
      throw this.opts.error(err, 'taking the sync lock');
    }
    const holder = JSON.stringify({ host: hostname(), pid: process.pid, since: new Date().toISOString() });
    const deadline = Date.now() + (this.ttl + 2) * 1000;
    let lastTtl: number | undefined;
    for (;;) {
      let res;
      try {
        res = await client.kv.txn({
          compare: [{ key: k, target: 'Create', result: 'Equal', create_revision: 0 }],
          success: [{ request_put: { key: k, value: Buffer.from(holder), lease: leaseId } }],
          failure: [{ request_range: { key: k } }],
        });
      } catch (err) {
        lease.release();
        throw this.opts.error(err, 'taking the sync lock');
      }
      if (res.succeeded) {
        this.createRevision = res.header.revision;
        break;
      }
      const kv = res.responses[0]?.response_range?.kvs[0];
      if (!kv) continue; // released between the compare and the read
      // The holder's lease's time left; undefined when it could not be read this time.
      const ttl = kv.lease && kv.lease !== '0' ? await client.leaseClient.leaseTimeToLive({ ID: kv.lease }).then((r) => Number(r.TTL), () => undefined) : -1;
      // A holder that renews its lease shows a TTL that went up; one that is gone counts down.
      // A key without a lease never goes away by itself; an expired lease's key goes at once.
      if (Date.now() > deadline || kv.lease === '0' || (lastTtl !== undefined && ttl !== undefined && ttl > lastTtl)) {
        lease.release();
        await client.leaseClient.leaseRevoke({ ID: leaseId }).catch(() => undefined);
        throw new TributaryError(
          ErrorCode.ALREADY_RUNNING,
          `sync ${this.opts.syncId} is already running against ${this.opts.where}: its lock ${key} is held by ${kv.value.toString()}; stop that instance first (a killed one lets go within ${this.ttl} s, when its lease expires), or give this one another --id`,
        );
      }
      lastTtl = ttl ?? lastTtl;
      await new Promise((r) => setTimeout(r, 500));
    }
    this.lease = lease;
    lease.on('lost', (err) => {
      if (this.released) return;
      this.opts.logger.error({ err: err.message, key }, 'the sync lock in etcd was lost: its lease could not be renewed');
      watch.onLost?.(new TributaryError(ErrorCode.LOCK_LOST, `the sync lock ${key} in ${this.opts.where} was lost: its lease could not be renewed within ${this.ttl} s (${err.message}); no write commits from now on; restart the sync, which resumes from its checkpoint`, { cause: err, fatal: false }));
    });
  }

  /** The compare each fenced transaction carries: the lock key still holds this holder's creation. */
  fence(): ICompare[] {
    if (this.createRevision === undefined) return [];
    return [{ key: Buffer.from(this.opts.key), target: 'Create', result: 'Equal', create_revision: this.createRevision }];
  }

  /** The error of a transaction whose compare of the lock key failed: the lock is gone. */
  refused(what: string): Promise<TributaryError> {
    return Promise.resolve(new TributaryError(ErrorCode.LOCK_LOST, `${what}: the sync's lock in etcd is gone (its lease expired, or another instance took it over); nothing of this write was committed; restart the sync (it resumes from its checkpoint) once the other instance stopped`));
  }

  async release(): Promise<void> {
    this.released = true;
    const lease = this.lease;
    this.lease = undefined;
    if (!lease) return;
    await lease.revoke().catch(() => undefined);
  }
}
