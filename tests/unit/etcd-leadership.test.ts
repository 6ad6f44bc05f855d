/**
 * The leadership's self-fencing deadline (src/engines/etcd/election.ts EtcdLeadership): kept by
 * this process's monotonic clock from when each answered keepalive was *sent*, less a margin.
 * A fake lease (the events etcd3's Lease emits) and a controlled performance.now().
 */
import { EventEmitter } from 'node:events';
import type { Etcd3, Lease } from 'etcd3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EtcdLeadership } from '../../src/engines/etcd/election.js';

let now = 0;

function leadership(ttlSeconds = 2): { l: EtcdLeadership; lease: EventEmitter } {
  vi.spyOn(performance, 'now').mockImplementation(() => now);
  const lease = new EventEmitter();
  const l = new EtcdLeadership({
    client: {} as Etcd3,
    lease: lease as unknown as Lease,
    key: Buffer.from('k'),
    ttlSeconds,
    sentAt: 0,
    where: 'coordinator etcd://test/p',
    syncId: 's',
  });
  l.lead();
  return { l, lease };
}

/** Whether check() still lets the leader write at `at`. */
function holdsAt(l: EtcdLeadership, at: number): boolean {
  now = at;
  try {
    l.check();
    return true;
  } catch {
    return false;
  }
}

afterEach(() => {
  vi.restoreAllMocks();
  now = 0;
});

describe('the leadership deadline by the monotonic clock', () => {
  it('holds until the grant was sent + TTL − margin (a tenth of the TTL, at least 200 ms), not after', () => {
    const { l } = leadership(2);
    expect(holdsAt(l, 1799)).toBe(true);
    expect(holdsAt(l, 1801)).toBe(false);
    expect(l.over).toBe(true);
  });

  it('an answer extends it from when its own keepalive was sent, not from a later one still unanswered', () => {
    const { l, lease } = leadership(2);
    now = 600;
    lease.emit('keepaliveFired');
    now = 1200;
    lease.emit('keepaliveFired');
    // The answer to the keepalive sent at 600: the server extended the lease from no later than 600 + its receipt.
    now = 1300;
    lease.emit('keepaliveSucceeded');
    expect(holdsAt(l, 2399)).toBe(true);
    expect(holdsAt(l, 2401)).toBe(false);
  });

  it('the second answer extends it from the second keepalive', () => {
    const { l, lease } = leadership(2);
    now = 600;
    lease.emit('keepaliveFired');
    now = 1200;
    lease.emit('keepaliveFired');
    lease.emit('keepaliveSucceeded');
    lease.emit('keepaliveSucceeded');
    expect(holdsAt(l, 2999)).toBe(true);
    expect(holdsAt(l, 3001)).toBe(false);
  });

  it('keepalives of a failed stream are never answered: a later answer extends only from what the new stream sent', () => {
    const { l, lease } = leadership(2);
    now = 500;
    lease.emit('keepaliveFired');
    lease.emit('keepaliveFailed');
    now = 900;
    lease.emit('keepaliveFired');
    now = 950;
    lease.emit('keepaliveSucceeded');
    expect(holdsAt(l, 2699)).toBe(true);
    expect(holdsAt(l, 2701)).toBe(false);
  });

  it('an answer never shortens it', () => {
    const { l, lease } = leadership(10);
    // Margin 1 s: the grant holds until 9000.
    now = 100;
    lease.emit('keepaliveFailed');
    lease.emit('keepaliveSucceeded');
    expect(holdsAt(l, 8999)).toBe(true);
  });
});
