import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { WatchedLock, type LockProbe } from '../../src/coordination/watched-lock.js';
import { ErrorCode, type TributaryError } from '../../src/core/errors.js';

/** A lock whose session and server are plain fields: what WatchedLock decides from them. */
class FakeLock extends WatchedLock {
  readonly session = new EventEmitter();
  holder: string | undefined = undefined;
  server: LockProbe | Error = { restarted: false, holder: 'held by connection 9' };
  dropped = 0;
  ended = 0;
  lost: TributaryError[] = [];

  constructor() {
    super({ where: 'target fake://t', syncId: 's1', logger: pino({ level: 'silent' }), pingMs: 10 });
  }
  start(): void {
    this.watchSession(this.session, { onLost: (err) => this.lost.push(err) });
  }
  async verify(): Promise<void> {
    await this.check();
    if (this.holder !== undefined) await this.lostAtCommit(this.holder);
  }
  protected describeLock(): string {
    return 'lock L (held by connection 1)';
  }
  protected pingHolder(): Promise<string | undefined> {
    return Promise.resolve(this.holder);
  }
  protected dropSession(): void {
    this.dropped++;
  }
  protected endSession(): Promise<void> {
    this.ended++;
    return Promise.resolve();
  }
  protected probe(): Promise<LockProbe> {
    return this.server instanceof Error ? Promise.reject(this.server) : Promise.resolve(this.server);
  }
}

const settle = () => new Promise((r) => setTimeout(r, 60));

describe('WatchedLock', () => {
  it('a ping that finds the lock gone is fatal while the server kept running, once, and every later check throws it', async () => {
    const lock = new FakeLock();
    lock.start();
    lock.holder = 'the server says connection 9 holds it';
    await settle();
    expect(lock.lost).toHaveLength(1);
    expect(lock.lost[0]?.code).toBe(ErrorCode.LOCK_LOST);
    expect(lock.lost[0]?.fatal).toBe(true);
    expect(lock.lost[0]?.message).toMatch(/sync 's1' lost its lock L .*connection 9 holds it; the server kept running.*lock is now held by connection 9/);
    expect(lock.dropped).toBe(1);
    await expect(lock.check()).rejects.toBe(lock.lost[0]);
    await expect(lock.verify()).rejects.toBe(lock.lost[0]);
    await lock.release();
  });

  it('is retryable when the server restarted or cannot be reached', async () => {
    const restarted = new FakeLock();
    restarted.server = { restarted: true, holder: 'free' };
    restarted.start();
    restarted.session.emit('end');
    const gone = new FakeLock();
    gone.server = new Error('connect ECONNREFUSED');
    gone.start();
    gone.session.emit('error', new Error('read ECONNRESET'));
    await settle();
    expect(restarted.lost[0]?.fatal).toBe(false);
    expect(restarted.lost[0]?.message).toContain('the server restarted');
    expect(gone.lost[0]?.fatal).toBe(false);
    expect(gone.lost[0]?.message).toContain('ECONNREFUSED');
  });

  it('a commit that finds the lock gone throws the judged loss', async () => {
    const lock = new FakeLock();
    lock.start();
    lock.holder = 'a commit found it free';
    await expect(lock.verify()).rejects.toMatchObject({ code: ErrorCode.LOCK_LOST, fatal: true });
    await lock.release();
  });

  it('reports nothing once released', async () => {
    const lock = new FakeLock();
    lock.start();
    await lock.release();
    lock.session.emit('end');
    lock.holder = 'gone';
    await settle();
    expect(lock.lost).toEqual([]);
    expect(lock.ended).toBe(1);
  });
});
