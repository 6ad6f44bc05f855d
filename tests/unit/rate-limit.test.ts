import { describe, expect, it } from 'vitest';
import { RowRateLimiter } from '../../src/copier/rate-limit.js';
import { loadConfig } from '../../src/config/load.js';

describe('RowRateLimiter', () => {
  it('plans chunks of at most one second of the limit', () => {
    expect(new RowRateLimiter(5000).maxChunk).toBe(5000);
    expect(new RowRateLimiter(0.5).maxChunk).toBe(1);
  });

  it('starts empty, queues takers behind each other and holds at most one second of tokens', async () => {
    let now = 0;
    const limiter = new RowRateLimiter(1000, () => now);
    const t0 = Date.now();
    await limiter.take(50);
    await limiter.take(50);
    // 100 rows from an empty bucket at 1000 rows/s: the second taker waits for both shares.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    now += 10_000;
    const t1 = Date.now();
    await limiter.take(1000);
    expect(Date.now() - t1).toBeLessThan(50);
  });

  it('gives back what a chunk did not use', async () => {
    const limiter = new RowRateLimiter(1000, () => 0);
    await limiter.take(0);
    limiter.refund(500);
    const t0 = Date.now();
    await limiter.take(500);
    expect(Date.now() - t0).toBeLessThan(50);
  });
});

describe('throttle config', () => {
  it('reads copy-rate-limit, replica and replica-max-lag from flags and the environment', () => {
    const c = loadConfig({
      flags: { source: 'mysql://a@h/db', target: 'mysql://a@h/db2', replica: 'mysql://u:pw@r/db' },
      env: { TRIBUTARY_COPY_RATE_LIMIT: '2500', TRIBUTARY_REPLICA_MAX_LAG: '30s' },
    });
    expect(c.copyRateLimit).toBe(2500);
    expect(c.replicaMaxLag).toBe('30s');
    expect(c.replica).toBe('mysql://u:pw@r/db');
  });

  it('refuses a negative rate without echoing a replica URL', () => {
    expect(() => loadConfig({ flags: { source: 'mysql://a@h/db', target: 'mysql://a@h/db2', copyRateLimit: '-1' }, env: {} })).toThrow(/copy-rate-limit/);
    expect(() => loadConfig({ flags: { source: 'mysql://a@h/db', target: 'mysql://a@h/db2', replica: '' }, env: {} })).not.toThrow(/pw/);
  });
});
