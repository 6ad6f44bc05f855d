/**
 * GET /status as people read it: percent done (100 only when done), `tributary status`'s text
 * (final counts, the copy's throttle, changes per table and kind, a FAILED line while lingering),
 * and HttpApi.linger(): /status carries `exit` until the linger ends, POST /stop ends it early.
 * In-memory: a fake runner; the real-server versions are tests/integration/dashboard.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { formatStatus } from '../../src/cli/status.js';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import type { Runner } from '../../src/runner/runner.js';
import { HttpApi } from '../../src/server/server.js';
import { buildStatus, percentDone, type StatusJson } from '../../src/server/status.js';

type Served = Pick<Runner, 'syncId' | 'config' | 'phase' | 'progress' | 'health' | 'sourceHead' | 'sourceRetainedBytes' | 'members' | 'pause' | 'resume' | 'cancel' | 'checksumNow' | 'switchSource'>;

function fakeRunner(phase: 'copy' | 'stream' | 'failed', cancelled: string[] = []): Served {
  const tables = [
    { table: 'orders', rowsCopied: 51_689, rowsTotal: 51_689, done: true },
    { table: 'items', rowsCopied: 1_200, rowsTotal: 4_000, done: false },
  ];
  return {
    syncId: 's',
    config: { source: 'mysql://u:pw-secret@127.0.0.1/db', target: 'mysql://u:pw-secret@127.0.0.1/db2' },
    phase,
    progress: () => ({
      phase,
      summary: phase,
      tables,
      rowsCopied: 52_889,
      rowsTotal: 55_689,
      copyRowsPerSecond: 1000,
      changesApplied: 7,
      changesPerSecond: 1,
      lagSeconds: 0.2,
      appliedPosition: 'binlog.000001:4',
      etaSeconds: 2.8,
      checksum: null,
      throttle: { copyRateLimit: 5000, replica: 'mysql://u@replica:3306/db', replicaLagSeconds: 12.5, waiting: true, reason: 'replica lag 12.5 s over 10 s' },
    }),
    health: () => ({
      paused: false,
      retrying: false,
      reconnects: 0,
      startedAt: '2026-01-01T00:00:00.000Z',
      uptimeSeconds: 5,
      lastError: phase === 'failed' ? { message: 'boom at mysql://u:pw-secret@h/db', code: 'TRIB_TARGET_NOT_EMPTY', fatal: true, at: null } : null,
      bufferBytes: 0,
      changesByTable: { orders: { insert: 5, update: 1, delete: 1, upsert: 0, truncate: 0 } },
    }),
    sourceHead: () => Promise.resolve(undefined),
    sourceRetainedBytes: () => Promise.resolve(undefined),
    members: () => Promise.resolve([]),
    pause: () => undefined,
    resume: () => undefined,
    cancel: () => void cancelled.push('cancel'),
    checksumNow: () => undefined,
  } as unknown as Served;
}

describe('percent done', () => {
  it('is 100 only when done, and at most 99.9 until then', () => {
    expect(percentDone(51_689, 51_689, true)).toBe(100);
    expect(percentDone(51_689, 52_451, true)).toBe(100);
    expect(percentDone(52_451, 52_451, false)).toBe(99.9);
    expect(percentDone(1, 3, false)).toBe(33.3);
    expect(percentDone(0, 0, false)).toBe(0);
  });
});

describe('tributary status text', () => {
  it('prints done tables at 100% with their final count, the throttle and changes per table', async () => {
    const s = await buildStatus(fakeRunner('copy'), 60);
    expect(s.copy.tables[0]).toEqual({ table: 'orders', rowsCopied: 51_689, rowsTotal: 51_689, percent: 100, state: 'done' });
    const text = formatStatus(s);
    expect(text).toMatch(/^ {4}orders +done +100% +51,689\/51,689$/m);
    expect(text).toMatch(/^ {4}items +copying +30\.0% +1,200\/4,000$/m);
    expect(text).toContain('copy throttle     rate limit 5,000 rows/s, replica mysql://u@replica:3306/db lag 12.5 s, WAITING: replica lag 12.5 s over 10 s');
    expect(text).toMatch(/^ {4}orders +insert 5, update 1, delete 1$/m);
    expect(text).not.toContain('pw-secret');
  });
});

describe('HttpApi.linger', () => {
  let api: HttpApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it('serves the error in /status until POST /stop ends the wait, without cancelling the runner again', async () => {
    const cancelled: string[] = [];
    api = new HttpApi({ runner: fakeRunner('failed', cancelled), listen: '127.0.0.1:0' });
    const { port } = await api.start();
    const base = `http://127.0.0.1:${port}`;
    const before = (await (await fetch(`${base}/status`)).json()) as StatusJson;
    expect(before.exit).toBeNull();

    const t0 = Date.now();
    let ended = false;
    const lingering = api.linger(60_000, new TributaryError(ErrorCode.TARGET_NOT_EMPTY, 'target table t in mysql://u:pw-secret@h/db already holds rows')).then(() => (ended = true));
    const s = (await (await fetch(`${base}/status`)).json()) as StatusJson;
    expect(s.exit).toMatchObject({ code: 'TRIB_TARGET_NOT_EMPTY' });
    expect(s.exit?.message).not.toContain('pw-secret');
    expect(Date.parse(s.exit?.at ?? '')).toBeGreaterThan(t0 + 55_000);
    expect(formatStatus(s)).toMatch(/^ {2}FAILED +TRIB_TARGET_NOT_EMPTY: target table t/m);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    expect(ended).toBe(false);

    expect((await fetch(`${base}/stop`, { method: 'POST' })).status).toBe(202);
    await lingering;
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(cancelled).toEqual([]);
  });

  it('returns at once for 0 and ends by itself after the duration', async () => {
    api = new HttpApi({ runner: fakeRunner('failed'), listen: '127.0.0.1:0' });
    await api.start();
    let t0 = Date.now();
    await api.linger(0, new Error('x'));
    expect(Date.now() - t0).toBeLessThan(50);
    t0 = Date.now();
    await api.linger(300, new Error('x'));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  });
});
