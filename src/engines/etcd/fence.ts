import type { Etcd3, ICompare } from 'etcd3';
import { EpochFenceBase, fencedAtCommit, fencedAtTakeover, parseEpoch, refusesTakeover } from '../../checkpoint/epoch.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { Fence } from '../../core/target.js';
import { prefixEnd } from './keys.js';

/**
 * What every transaction of the etcd target carries once lock() took the sync: the sync's lock
 * (lock.ts EtcdSyncLock) or a leadership's fence (EtcdEpochFence, coordinator mode).
 */
export interface TxnGuard {
  /** The compares each write transaction carries; throws instead once the right to write is known lost. */
  fence(): ICompare[];
  /** The error of a transaction whose compares failed: nothing of it was written. */
  refused(what: string): Promise<TributaryError>;
  /** Gives up what the guard holds; never throws. */
  release(): Promise<void>;
}

export interface EtcdEpochFenceOptions {
  readonly client: Etcd3;
  readonly syncId: string;
  /** This sync's reserved subtree, `<root>/%tributary/<sync id>/` (keys.ts meta). */
  readonly meta: string;
  readonly fence: Fence;
  /** 'target etcd://…', for messages (no password). */
  readonly where: string;
  readonly error: (err: unknown, what: string) => TributaryError;
}

/** Takeovers lost to another one's write between the read and the compare, before giving up. */
const TAKEOVER_ATTEMPTS = 10;

/** The fence record's key in a sync's reserved subtree (`meta`, keys.ts KeyLayout.meta). */
export function epochKey(meta: string): string {
  return `${meta}epoch`;
}

/** An epoch as stored: zero-padded to 20 digits, so that the keys' byte order is the numeric one. */
export function storedEpoch(epoch: string): string {
  return epoch.padStart(20, '0');
}

/**
 * A leadership's fence on an etcd target (core/target-writer.ts Fence): the key `<meta>epoch`
 * holding the epoch (storedEpoch). No lease lock is taken.
 *
 * - `takeOver()`: reads the key, refuses with TRIB_FENCED when it holds a higher epoch, then puts
 *   ours in a transaction comparing the key's mod revision with the one read (its absence: create
 *   revision 0); a lost race reads again.
 * - `fence()`: every write transaction compares the key's value with ours, so once a newer
 *   leadership put its epoch, no transaction of this one commits, whatever it had in flight
 *   (etcd applies a transaction whole, at one revision: no waiting is needed).
 *
 * On a sync whose subtree holds no key yet, lock() leaves the takeover to ensureSchema (lock()
 * creates nothing); until then each transaction compares that the key does not exist.
 */
export class EtcdEpochFence extends EpochFenceBase implements TxnGuard {
  private readonly opts: EtcdEpochFenceOptions;
  private readonly key: Buffer;
  private readonly value: Buffer;

  constructor(opts: EtcdEpochFenceOptions) {
    super(opts.fence, opts.syncId, opts.where);
    this.opts = opts;
    this.key = Buffer.from(epochKey(opts.meta));
    this.value = Buffer.from(storedEpoch(opts.fence.epoch));
  }

  /**
   * Takes the sync over (see the class comment). With `onlyIfWritten`, returns false, having
   * written nothing, when the sync's subtree holds no key.
   */
  async takeOver(onlyIfWritten: boolean): Promise<boolean> {
    const { client } = this.opts;
    const what = `taking sync '${this.opts.syncId}' over for its leadership (fence)`;
    for (let attempt = 1; attempt <= TAKEOVER_ATTEMPTS; attempt++) {
      this.opts.fence.check();
      let res;
      try {
        if (onlyIfWritten) {
          const meta = Buffer.from(this.opts.meta);
          const n = await client.kv.range({ key: meta, range_end: prefixEnd(meta), count_only: true });
          if (Number(n.count) === 0) return false;
        }
        const kv = (await client.kv.range({ key: this.key })).kvs[0];
        const stored = kv ? parseEpoch(kv.value.toString(), this.site) : undefined;
        if (refusesTakeover(stored, this.ours)) throw fencedAtTakeover(this.site, stored as bigint, this.opts.fence.epoch);
        const compare: ICompare = kv
          ? { key: this.key, target: 'Mod', result: 'Equal', mod_revision: kv.mod_revision }
          : { key: this.key, target: 'Create', result: 'Equal', create_revision: 0 };
        res = await client.kv.txn({ compare: [compare], success: [{ request_put: { key: this.key, value: this.value } }], failure: [] });
      } catch (err) {
        throw this.opts.error(err, what);
      }
      if (res.succeeded) {
        this.taken = true;
        return true;
      }
    }
    throw new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `${this.opts.where}: ${what}: its fence record ${this.key.toString()} changed under each of ${TAKEOVER_ATTEMPTS} attempts; another instance is taking it over at the same time; retrying`, { fatal: false });
  }

  fence(): ICompare[] {
    this.opts.fence.check();
    if (!this.taken) return [{ key: this.key, target: 'Create', result: 'Equal', create_revision: 0 }];
    return [{ key: this.key, target: 'Value', result: 'Equal', value: this.value }];
  }

  /** TRIB_FENCED naming the epoch the record holds now (read after the failed compare). */
  async refused(what: string): Promise<TributaryError> {
    let stored: bigint | undefined;
    try {
      const kv = (await this.opts.client.kv.range({ key: this.key })).kvs[0];
      stored = kv ? parseEpoch(kv.value.toString(), this.site) : undefined;
    } catch (err) {
      return this.opts.error(err, what);
    }
    return fencedAtCommit(this.site, stored, this.opts.fence.epoch, what);
  }

  /** Nothing is held: the record stays for the next leadership to overwrite. */
  release(): Promise<void> {
    return Promise.resolve();
  }
}
