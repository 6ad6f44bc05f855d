import { request } from 'node:http';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { PauseGate } from '../../src/core/pause.js';
import type { Runner } from '../../src/runner/runner.js';
import { assertBindAllowed, baseUrl, isLoopback, parseListen } from '../../src/server/address.js';
import { hostOfHeader, hostPolicy, parseAllowedHosts } from '../../src/server/host.js';
import { HttpApi } from '../../src/server/server.js';
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
  it('renders HELP and TYPE per family and escapes label values', async () => {
    const s = {
      phase: 'stream', paused: false, readiness: { ready: true, reason: null }, uptimeSeconds: 1,
      copy: { rowsPerSecond: 0, tables: [{ table: 'a"b\\c', rowsCopied: 3, rowsTotal: 3, state: 'done' }] },
      stream: { lagSeconds: 0.5, changesPerSecond: 0, bufferBytes: 0, reconnects: 2, retrying: false, retainedBytes: null, changesByTable: { t: { insert: 1, update: 0, delete: 0, upsert: 0, truncate: 0 } } },
      checksum: null,
      throttle: { copyRateLimit: 5000, replica: null, replicaLagSeconds: null, waiting: true, reason: 'replica lag cannot be read' },
    } as unknown as StatusJson;
    const text = await renderMetrics(s);
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

describe('Host header policy (DNS rebinding)', () => {
  it('on loopback answers the bound address, localhost, 127.0.0.1 and [::1], with or without a port', () => {
    const p = hostPolicy({ host: '127.0.0.1', port: 8080 });
    for (const h of ['127.0.0.1', '127.0.0.1:8080', 'localhost', 'localhost:8080', 'LOCALHOST:9999', '[::1]', '[::1]:8080', '127.1:8080', '[0:0:0:0:0:0:0:1]']) {
      expect(p.allows(h), h).toBe(true);
    }
    for (const h of ['evil.example', 'evil.example:8080', '127.0.0.1.nip.io:8080', 'localhost.', 'sub.localhost', '10.0.0.1', '', ' ', 'a b', '127.0.0.1:80:80', 'user@127.0.0.1', '[::1', hostname()]) {
      expect(p.allows(h), h).toBe(false);
    }
    // HTTP/1.0 health checkers send no Host; a browser always does.
    expect(p.allows(undefined)).toBe(true);
    expect(hostPolicy({ host: '::1', port: 1 }).allows('[::1]:1')).toBe(true);
    expect(hostPolicy({ host: 'localhost', port: 1 }).allows('127.0.0.1')).toBe(true);
  });

  it('on a specific address answers that address only; on a wildcard, IPs, loopback names and the host name', () => {
    const lan = hostPolicy({ host: '10.1.2.3', port: 8080 });
    expect(lan.allows('10.1.2.3:8080')).toBe(true);
    for (const h of ['localhost', '127.0.0.1', '10.1.2.4', 'evil.example']) expect(lan.allows(h), h).toBe(false);
    for (const bound of ['0.0.0.0', '::']) {
      const any = hostPolicy({ host: bound, port: 8080 });
      for (const h of ['localhost:8080', '127.0.0.1', '[::1]', '192.168.7.9:18080', '[2001:db8::1]:8080', hostname(), `${hostname().split('.')[0]}:8080`]) {
        expect(any.allows(h), `${bound} ${h}`).toBe(true);
      }
      for (const h of ['evil.example', '192.168.7.9.nip.io', 'tributary.example.com']) expect(any.allows(h), `${bound} ${h}`).toBe(false);
    }
  });

  it('adds --http-allowed-hosts names; a leading dot admits subdomains; malformed entries are refused', () => {
    const p = hostPolicy({ host: '127.0.0.1', port: 8080 }, ['Tributary.Example.com', '.internal.example', '[2001:DB8::1]', '192.0.2.1']);
    for (const h of ['tributary.example.com', 'tributary.example.com:443', 'a.internal.example', 'b.a.internal.example:1', 'internal.example', '[2001:db8::1]:8080', '192.0.2.1']) {
      expect(p.allows(h), h).toBe(true);
    }
    for (const h of ['example.com', 'xinternal.example', 'tributary.example.com.evil.example']) expect(p.allows(h), h).toBe(false);
    for (const bad of ['http://x.example', 'x.example:8080', '*', '*.example.com', 'a b', '.192.0.2.1', '']) {
      expect(() => parseAllowedHosts([bad]), bad).toThrow(/http-allowed-hosts entry/);
    }
    expect(hostOfHeader('Example.COM:80')).toBe('example.com');
  });
});

describe('HTTP API refuses other Host names on every endpoint', () => {
  let api: HttpApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  /** A runner that fails the test if any refused request reaches it. */
  function fakeRunner(calls: string[]) {
    const touch = (what: string) => () => {
      calls.push(what);
    };
    return {
      syncId: 's',
      config: { source: 'mysql://u:pw@127.0.0.1/db', target: 'mysql://u:pw@127.0.0.1/db2' },
      get phase() {
        calls.push('phase');
        return 'stream';
      },
      progress: () => {
        calls.push('progress');
        throw new Error('not in this test');
      },
      health: touch('health'),
      sourceHead: touch('sourceHead'),
      sourceRetainedBytes: touch('sourceRetainedBytes'),
      members: touch('members'),
      pause: touch('pause'),
      resume: touch('resume'),
      cancel: touch('cancel'),
      checksumNow: touch('checksumNow'),
    } as unknown as Pick<Runner, 'syncId' | 'config' | 'phase' | 'progress' | 'health' | 'sourceHead' | 'sourceRetainedBytes' | 'members' | 'pause' | 'resume' | 'cancel' | 'checksumNow' | 'switchSource'>;
  }

  /** A raw request with the Host header given (fetch would not let a test set it). */
  function raw(port: number, method: string, path: string, host: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers: { host, origin: `http://${host}` } }, (res) => {
        let body = '';
        res.on('data', (b: Buffer) => (body += b.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  const ENDPOINTS: [string, string][] = [
    ['GET', '/'], ['HEAD', '/'], ['GET', '/status'], ['GET', '/healthz'], ['GET', '/readyz'], ['GET', '/metrics'], ['GET', '/history'],
    ['POST', '/pause'], ['POST', '/resume'], ['POST', '/stop'], ['POST', '/checksum'], ['GET', '/nope'], ['POST', '/status'], ['DELETE', '/stop'],
  ];

  it('answers 421 with a JSON error naming the fix before routing, auth or any call into the sync', async () => {
    const calls: string[] = [];
    api = new HttpApi({ runner: fakeRunner(calls), listen: '127.0.0.1:0', historySize: 1 });
    const { port } = await api.start();
    calls.length = 0;
    for (const [method, path] of ENDPOINTS) {
      for (const host of ['evil.example', `evil.example:${port}`, '127.0.0.1.evil.example']) {
        const r = await raw(port, method, path, host);
        expect(r.status, `${method} ${path} Host ${host}`).toBe(421);
        if (method !== 'HEAD') {
          const body = JSON.parse(r.body) as { error: string };
          expect(body.error).toContain(`Host '${host}' is not a name of this API`);
          expect(body.error).toContain('--http-allowed-hosts');
          expect(r.body).not.toContain('pw@');
        }
      }
    }
    expect(calls).toEqual([]);
    // The same requests under the bound address go through (here: health, and a stop that reaches the sync).
    expect((await raw(port, 'GET', '/healthz', `127.0.0.1:${port}`)).status).toBe(200);
    expect((await raw(port, 'GET', '/healthz', `localhost:${port}`)).status).toBe(200);
    expect((await raw(port, 'POST', '/stop', `localhost:${port}`)).status).toBe(202);
    expect(calls).toContain('cancel');
  });

  it('answers a name given in allowedHosts, and refuses a malformed entry at construction', async () => {
    const calls: string[] = [];
    api = new HttpApi({ runner: fakeRunner(calls), listen: '127.0.0.1:0', allowedHosts: ['sync.example.com'], historySize: 1 });
    const { port } = await api.start();
    expect((await raw(port, 'GET', '/healthz', 'sync.example.com')).status).toBe(200);
    expect((await raw(port, 'GET', '/healthz', 'other.example.com')).status).toBe(421);
    expect(() => new HttpApi({ runner: fakeRunner(calls), listen: '127.0.0.1:0', allowedHosts: ['https://x.example'] })).toThrow(/TRIB_CONFIG_INVALID|http-allowed-hosts entry/);
  });
});
