import { describe, expect, it } from 'vitest';
import { PauseGate } from '../../src/core/pause.js';
import { assertBindAllowed, baseUrl, isLoopback, parseListen } from '../../src/server/address.js';
import { renderMetrics } from '../../src/server/metrics.js';
import { readiness, type StatusJson } from '../../src/server/status.js';

describe('HTTP API address', () => {
  it('parses HOST:PORT, [v6]:PORT and a bare port (loopback)', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::1]:9')).toEqual({ host: '::1', port: 9 });
    expect(parseListen('8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(() => parseListen('host:99999')).toThrow(/not HOST:PORT/);
    expect(() => parseListen('nope')).toThrow(/not HOST:PORT/);
    expect(baseUrl({ host: '::1', port: 80 })).toBe('http://[::1]:80');
    expect(baseUrl({ host: '0.0.0.0', port: 80 })).toBe('http://127.0.0.1:80');
  });

  it('refuses a non-loopback host without a token, naming the key and the fix', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com']) expect(isLoopback(h)).toBe(false);
    expect(() => assertBindAllowed({ host: '0.0.0.0', port: 1 }, undefined)).toThrow(/http-token.*TRIBUTARY_HTTP_TOKEN/);
    expect(() => assertBindAllowed({ host: '0.0.0.0', port: 1 }, 'x'.repeat(16))).not.toThrow();
    expect(() => assertBindAllowed({ host: '127.0.0.1', port: 1 }, undefined)).not.toThrow();
  });
});

describe('readiness', () => {
  const ok = { retrying: false, lastError: null };
  it('is ready while copying or streaming under the lag bound', () => {
    expect(readiness('copy', { lagSeconds: 0 }, ok, 60).ready).toBe(true);
    expect(readiness('stream', { lagSeconds: 59 }, ok, 60).ready).toBe(true);
  });
  it('is not ready when lagging, retrying, failed (position lost) or stopping', () => {
    expect(readiness('stream', { lagSeconds: 61 }, ok, 60).reason).toMatch(/behind/);
    const err = { message: 'gone', code: 'TRIB_POSITION_LOST', fatal: true, at: null };
    expect(readiness('stream', { lagSeconds: 0 }, { retrying: true, lastError: { ...err, code: 'TRIB_STREAM_FAILED' } }, 60).reason).toMatch(/retrying/);
    expect(readiness('failed', { lagSeconds: 0 }, { retrying: false, lastError: err }, 60).reason).toMatch(/position is lost/);
    expect(readiness('stopping', { lagSeconds: 0 }, ok, 60).ready).toBe(false);
  });
});

describe('metrics', () => {
  it('renders HELP and TYPE per family and escapes label values', () => {
    const s = {
      phase: 'stream', paused: false, readiness: { ready: true, reason: null }, uptimeSeconds: 1,
      copy: { rowsPerSecond: 0, tables: [{ table: 'a"b\\c', rowsCopied: 3, rowsTotal: 3, state: 'done' }] },
      stream: { lagSeconds: 0.5, changesPerSecond: 0, bufferBytes: 0, reconnects: 2, retrying: false, retainedBytes: null, changesByTable: { t: { insert: 1, update: 0, delete: 0, upsert: 0, truncate: 0 } } },
      checksum: null,
      throttle: { copyRateLimit: 5000, replica: null, replicaLagSeconds: null, waiting: true, reason: 'replica lag cannot be read' },
    } as unknown as StatusJson;
    const text = renderMetrics(s);
    expect(text).toContain('tributary_copy_rate_limit_rows 5000');
    expect(text).toContain('tributary_copy_throttled 1');
    expect(text).not.toContain('tributary_replica_lag_seconds');
    expect(text).toContain('tributary_rows_copied_total{table="a\\"b\\\\c"} 3');
    expect(text).toContain('tributary_changes_applied_total{table="t",kind="insert"} 1');
    expect(text).toContain('# TYPE tributary_reconnects_total counter\ntributary_reconnects_total 2');
    expect(text).not.toContain('tributary_source_retained_bytes');
  });
});

describe('PauseGate', () => {
  it('waits while paused, until resumed or aborted', async () => {
    const g = new PauseGate();
    await g.wait();
    expect(g.pause()).toBe(true);
    expect(g.pause()).toBe(false);
    let resumed = false;
    const w = g.wait().then(() => (resumed = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(resumed).toBe(false);
    g.resume();
    await w;
    g.pause();
    const ac = new AbortController();
    const aborted = g.wait(ac.signal);
    ac.abort();
    await aborted;
    expect(g.paused).toBe(true);
  });
});
