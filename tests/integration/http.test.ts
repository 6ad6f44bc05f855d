/**
 * The HTTP API of a running `tributary sync --http` on real servers: status, health, readiness,
 * Prometheus metrics and the control calls (pause, resume, checksum, stop); readiness through a
 * source restart; the refusal of a non-loopback bind without a token and the 401s with one; and no
 * password in anything it answers (the source URL carries one).
 */
import { request } from 'node:http';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { connect, runCli, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import type { Connection } from 'mysql2/promise';
import type { StatusJson } from '../../src/server/status.js';

const PASSWORD = 'Pw-h77p-s3cr3t-9f2';
const TOKEN = 'tok-0123456789abcdef-xyz';

let source: Server;
let target: Server;
let src: Connection;
let dst: Connection;
const running: CliRun[] = [];

const srcUrl = (db: string) => `mysql://trib:${PASSWORD}@127.0.0.1:${source.port}/${db}`;

beforeAll(async () => {
  [source, target] = await Promise.all([startMariaDb({ serverId: 31 }), startMariaDb({ serverId: 32 })]);
  src = await connect(source.url());
  dst = await connect(target.url());
  await src.query(`CREATE USER 'trib'@'%' IDENTIFIED BY '${PASSWORD}'; GRANT ALL PRIVILEGES ON *.* TO 'trib'@'%'`);
});

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await src?.end().catch(() => undefined);
  await dst?.end().catch(() => undefined);
  await Promise.all([source?.stop(), target?.stop()]);
});

interface Reply {
  status: number;
  text: string;
  json: () => Record<string, unknown>;
}

async function call(port: number, path: string, opts: { method?: string; token?: string } = {}): Promise<Reply> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: opts.method ?? 'GET',
    headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** A raw request with a chosen Host header (fetch does not let a caller set Host), as a rebound page's would be. */
function rawCall(port: number, method: string, path: string, host: string, token?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host, origin: `http://${host}` };
    if (token) headers.authorization = `Bearer ${token}`;
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (b: Buffer) => (text += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every endpoint of the API, plus an unknown path and wrong methods. */
const EVERY_ENDPOINT: [string, string][] = [
  ['GET', '/'], ['HEAD', '/'], ['GET', '/status'], ['GET', '/healthz'], ['GET', '/readyz'], ['GET', '/metrics'], ['GET', '/history'],
  ['POST', '/pause'], ['POST', '/resume'], ['POST', '/checksum'], ['POST', '/stop'], ['GET', '/no-such-path'], ['GET', '/stop'],
];

async function status(port: number, token?: string): Promise<StatusJson> {
  const r = await call(port, '/status', token ? { token } : {});
  expect(r.status).toBe(200);
  expect(r.text).not.toContain(PASSWORD);
  return r.json() as unknown as StatusJson;
}

/**
 * Parses the Prometheus text format strictly: every sample's family has HELP and TYPE first (a
 * histogram's samples are its family's name with _bucket, _sum or _count).
 */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const help = new Set<string>();
  const type = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (m) {
      if (m[1] === 'HELP') help.add(m[2] as string);
      else type.set(m[2] as string, m[3] as string);
      if (m[1] === 'TYPE') expect(['gauge', 'counter', 'histogram']).toContain(m[3]);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_]+="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/.exec(line);
    expect(m, `metrics line: ${line}`).not.toBeNull();
    const name = (m as RegExpExecArray)[1] as string;
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const family = type.has(name) ? name : type.get(base) === 'histogram' ? base : name;
    expect(help.has(family) && type.has(family), `HELP and TYPE before ${name}`).toBe(true);
    samples.set(name + ((m as RegExpExecArray)[2] ?? ''), Number((m as RegExpExecArray)[3]));
  }
  return samples;
}

async function count(db: string, table: string): Promise<number> {
  const [rows] = await dst.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${db}\`.\`${table}\``);
  return Number(rows[0]?.n);
}

function sync(args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const run = startCli(['sync', '--flush-interval', '100ms', ...args], env);
  running.push(run);
  return run;
}

describe('HTTP API of a running sync', () => {
  it('serves status, health, readiness and metrics; pauses, resumes, checksums, rides out a source restart and stops', async () => {
    await src.query('CREATE DATABASE h1; CREATE TABLE h1.t (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO h1.t SELECT seq, seq FROM h1.seq_1_to_1000');
    await dst.query('CREATE DATABASE h1');
    const port = await freePort();
    const run = sync(['--source', srcUrl('h1'), '--target', target.url('h1'), '--http', `127.0.0.1:${port}`, '--checksum-interval', '10m', '--copy-rate-limit', '100000']);
    await waitUntil('the API', async () => (await call(port, '/healthz').catch(() => undefined))?.status === 200, 30_000, 100);
    await waitUntil('readiness while streaming', async () => {
      const r = await call(port, '/readyz');
      return r.status === 200 && r.json().phase === 'stream';
    }, 60_000, 200);

    // status: every field present and sane
    let s = await status(port);
    expect(s.phase).toBe('stream');
    expect(s.paused).toBe(false);
    expect(s.readiness).toEqual({ ready: true, reason: null });
    expect(s.source).toBe(`mysql://trib@127.0.0.1:${source.port}/h1`);
    // a table whose copy is done has its final count, not the catalogue's estimate, and 100%
    expect(s.copy.tables).toEqual([{ table: 't', rowsCopied: 1000, rowsTotal: 1000, percent: 100, state: 'done' }]);
    expect(s.copy).toMatchObject({ rowsCopied: 1000, rowsTotal: 1000, percent: 100 });
    expect(s.throttle).toMatchObject({ copyRateLimit: 100_000, replica: null, waiting: false });
    expect(s.exit).toBeNull();
    expect(typeof s.stream.sourcePosition).toBe('string');
    expect(typeof s.stream.appliedPosition).toBe('string');
    expect(s.stream.lagSeconds).toBeGreaterThanOrEqual(0);
    expect(s.stream.reconnects).toBe(0);
    expect(s.uptimeSeconds).toBeGreaterThan(0);
    expect(s.lastError).toBeNull();
    expect(typeof s.copy.rowsPerSecond).toBe('number');
    expect(typeof s.stream.changesPerSecond).toBe('number');

    // changes are counted by table and kind
    await src.query('INSERT INTO h1.t VALUES (1001, 1), (1002, 2); UPDATE h1.t SET v = -1 WHERE id <= 3; DELETE FROM h1.t WHERE id = 10');
    await waitUntil('the changes on the target', async () => (await count('h1', 't')) === 1001, 30_000);
    await waitUntil('the checksum pass after the copy', async () => ((await status(port)).checksum?.passesCompleted ?? 0) >= 1, 30_000);
    const metricsText = (await call(port, '/metrics')).text;
    expect(metricsText).not.toContain(PASSWORD);
    const m = parseMetrics(metricsText);
    expect(m.get('tributary_rows_copied_total{table="t"}')).toBe(1000);
    expect(m.get('tributary_changes_applied_total{table="t",kind="insert"}')).toBe(2);
    expect(m.get('tributary_changes_applied_total{table="t",kind="update"}')).toBe(3);
    expect(m.get('tributary_changes_applied_total{table="t",kind="delete"}')).toBe(1);
    for (const name of ['tributary_lag_seconds', 'tributary_buffer_bytes', 'tributary_reconnects_total', 'tributary_checksum_mismatches_total', 'tributary_checksum_repairs_total', 'tributary_paused', 'tributary_ready']) {
      expect(m.has(name), name).toBe(true);
    }
    expect(m.get('tributary_phase{phase="stream"}')).toBe(1);
    // The stream's histograms counted those transactions (MySQL source: whole-second commit times).
    expect(m.get('tributary_change_latency_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(m.get('tributary_stream_batch_changes_sum')).toBeGreaterThanOrEqual(4);
    expect(m.get('tributary_copy_chunk_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(m.get('process_cpu_seconds_total')).toBeGreaterThan(0);

    // pause: changes on the source wait; resume: they arrive
    expect((await call(port, '/pause', { method: 'POST' })).status).toBe(202);
    expect((await status(port)).paused).toBe(true);
    await src.query('INSERT INTO h1.t SELECT seq, seq FROM h1.seq_2000_to_2099');
    await new Promise((r) => setTimeout(r, 2000));
    expect(await count('h1', 't')).toBe(1001);
    expect(parseMetrics((await call(port, '/metrics')).text).get('tributary_paused')).toBe(1);
    expect((await call(port, '/resume', { method: 'POST' })).status).toBe(202);
    await waitUntil('catching up after resume', async () => (await count('h1', 't')) === 1101, 30_000);
    expect((await status(port)).paused).toBe(false);

    // /checksum starts a pass now (the rest between passes is 10 minutes)
    const passes = (await status(port)).checksum?.passesCompleted ?? 0;
    expect((await call(port, '/checksum', { method: 'POST' })).status).toBe(202);
    await waitUntil('a pass on demand', async () => ((await status(port)).checksum?.passesCompleted ?? 0) > passes, 30_000);

    // control calls take POST only; unknown paths are 404
    expect((await call(port, '/stop')).status).toBe(405);
    expect((await call(port, '/nope')).status).toBe(404);

    // `tributary status` prints the same
    const printed = await runCli(['status', '--http', `127.0.0.1:${port}`]);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('stream');
    expect(printed.stdout).toMatch(/^ {4}t +done +100% +1,000\/1,000$/m);
    expect(printed.stdout).toMatch(/^ {2}copy throttle +rate limit 100,000 rows\/s$/m);
    // changes per table and kind (2 inserts and 3 updates and 1 delete above, 100 inserts after the pause)
    expect(printed.stdout).toMatch(/^ {4}t +insert 102, update 3, delete 1$/m);
    const asJson = await runCli(['status', '--http', `127.0.0.1:${port}`, '--json']);
    expect((JSON.parse(asJson.stdout) as { phase: string }).phase).toBe('stream');

    // the source goes away: not ready while retrying, ready again after the reconnect
    source.kill();
    await waitUntil('readiness to turn false', async () => (await call(port, '/readyz')).status === 503, 30_000, 100);
    const notReady = await call(port, '/readyz');
    expect(notReady.json().reason).toMatch(/retrying/);
    expect(notReady.text).not.toContain(PASSWORD);
    await new Promise((r) => setTimeout(r, 1000));
    source = await startMariaDb({ serverId: 31, dir: source.dir, port: source.port });
    await src.end().catch(() => undefined);
    src = await connect(source.url());
    await waitUntil('readiness after the reconnect', async () => (await call(port, '/readyz')).status === 200, 60_000, 200);
    await src.query('INSERT INTO h1.t VALUES (5000, 5)');
    await waitUntil('a change after the reconnect', async () => (await count('h1', 't')) === 1102, 30_000);
    s = await status(port);
    expect(s.stream.reconnects).toBeGreaterThanOrEqual(1);
    expect(s.lastError?.code).toMatch(/^TRIB_/);
    expect(JSON.stringify(s)).not.toContain(PASSWORD);
    expect(parseMetrics((await call(port, '/metrics')).text).get('tributary_reconnects_total')).toBeGreaterThanOrEqual(1);

    // /stop: a clean stop with a checkpoint, exit 0
    expect((await call(port, '/stop', { method: 'POST' })).status).toBe(202);
    expect(await run.exited).toBe(0);
    expect(run.stderr()).not.toContain(PASSWORD);
    expect(run.stdout()).not.toContain(PASSWORD);
  }, 100_000);

  it('refuses a non-loopback bind without a token, and with one answers 401 to calls without it', async () => {
    const port = await freePort();
    const refused = await runCli(['sync', '--source', srcUrl('h2'), '--target', target.url('h2'), '--http', `0.0.0.0:${port}`]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('TRIB_CONFIG_INVALID');
    expect(refused.stderr).toContain('http-token');
    expect(refused.stderr).not.toContain(PASSWORD);

    await src.query('CREATE DATABASE h2; CREATE TABLE h2.t (id INT PRIMARY KEY); INSERT INTO h2.t VALUES (1), (2)');
    await dst.query('CREATE DATABASE h2');
    const run = sync(['--source', srcUrl('h2'), '--target', target.url('h2'), '--http', `0.0.0.0:${port}`], { TRIBUTARY_HTTP_TOKEN: TOKEN });
    await waitUntil('the API', async () => (await call(port, '/healthz').catch(() => undefined))?.status === 200, 30_000, 100);
    for (const path of ['/status', '/metrics']) {
      expect((await call(port, path)).status).toBe(401);
      expect((await call(port, path, { token: 'wrong-token-0123456789' })).status).toBe(401);
    }
    for (const path of ['/pause', '/resume', '/stop', '/checksum']) expect((await call(port, path, { method: 'POST' })).status).toBe(401);
    expect((await call(port, '/readyz')).status).toBeLessThan(600);
    await waitUntil('streaming', async () => (await status(port, TOKEN)).phase === 'stream', 30_000);
    // On a wildcard bind a rebound name is refused even with the token; an IP (any) is answered.
    expect((await rawCall(port, 'GET', '/status', `evil.example:${port}`, TOKEN)).status).toBe(421);
    expect((await rawCall(port, 'GET', '/status', `192.0.2.10:${port}`, TOKEN)).status).toBe(200);
    expect((await runCli(['status', '--http', `127.0.0.1:${port}`])).stderr).toContain('TRIB_AUTH_FAILED');
    expect((await runCli(['status', '--http', `127.0.0.1:${port}`], { TRIBUTARY_HTTP_TOKEN: TOKEN })).code).toBe(0);
    expect((await call(port, '/stop', { method: 'POST', token: TOKEN })).status).toBe(202);
    expect(await run.exited).toBe(0);
  }, 60_000);

  it('refuses a request for another Host name (DNS rebinding) on every endpoint with 421, and answers its own names', async () => {
    await src.query('CREATE DATABASE h4; CREATE TABLE h4.t (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO h4.t VALUES (1, 1), (2, 2)');
    await dst.query('CREATE DATABASE h4');
    const port = await freePort();
    const run = sync(['--source', srcUrl('h4'), '--target', target.url('h4'), '--http', `127.0.0.1:${port}`, '--http-allowed-hosts', 'sync.example.test']);
    await waitUntil('streaming', async () => (await call(port, '/readyz').catch(() => undefined))?.json().phase === 'stream', 60_000, 200);

    // A page on evil.example whose name now resolves to 127.0.0.1: its requests carry its own name
    // in Host (and Origin), with or without the port. Nothing is answered and nothing is done.
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.evil.example:${port}`, `localhost.evil.example:${port}`]) {
      for (const [method, path] of EVERY_ENDPOINT) {
        const r = await rawCall(port, method, path, host);
        expect(r.status, `${method} ${path} with Host ${host}`).toBe(421);
        if (method !== 'HEAD') {
          expect((JSON.parse(r.text) as { error: string }).error).toMatch(/is not a name of this API.*--http-allowed-hosts/);
          expect(r.text).not.toContain(PASSWORD);
          expect(r.text).not.toContain('"phase"');
        }
      }
    }
    // The refused POST /pause and /stop did nothing: the sync streams on and applies a change.
    await src.query('INSERT INTO h4.t VALUES (3, 3)');
    await waitUntil('the insert', async () => (await count('h4', 't')) === 3, 30_000);
    expect(run.child.exitCode).toBeNull();
    expect((await status(port)).paused).toBe(false);
    expect(run.stderr()).toMatch(/another host name refused \(421\)/);

    // Its own names, with and without the port, and the allowed name of a proxy.
    for (const host of [`127.0.0.1:${port}`, '127.0.0.1', `localhost:${port}`, 'localhost', `[::1]:${port}`, 'sync.example.test', 'sync.example.test:443']) {
      expect((await rawCall(port, 'GET', '/healthz', host)).status, `Host ${host}`).toBe(200);
    }
    expect((await rawCall(port, 'GET', '/status', `localhost:${port}`)).status).toBe(200);
    expect((await rawCall(port, 'POST', '/stop', `127.0.0.1:${port}`)).status).toBe(202);
    expect(await run.exited).toBe(0);
  }, 90_000);

  it('reports the WAL a PostgreSQL source retains for the slot', async () => {
    const pg = await startPostgres();
    try {
      const pgUrl = (db: string) => pg.url(db).replace('postgres://postgres@', `postgres://postgres:${PASSWORD}@`);
      expect(pgUrl('postgres')).toContain(PASSWORD);
      const { default: pgLib } = await import('pg');
      const c = new pgLib.Client({ connectionString: pg.url('postgres') });
      await c.connect();
      await c.query('CREATE TABLE t (id INT PRIMARY KEY, v INT)');
      await c.query('INSERT INTO t SELECT s, s FROM generate_series(1, 100) s');
      await dst.query('CREATE DATABASE h3');
      const port = await freePort();
      const run = sync(['--source', pgUrl('postgres'), '--target', target.url('h3'), '--http', `127.0.0.1:${port}`]);
      await waitUntil('streaming', async () => (await call(port, '/readyz').catch(() => undefined))?.json().phase === 'stream', 60_000, 200);
      await c.query('INSERT INTO t VALUES (101, 1)');
      await c.end();
      await waitUntil('the insert', async () => (await count('h3', 't')) === 101, 30_000);
      const text = (await call(port, '/metrics')).text;
      expect(text).not.toContain(PASSWORD);
      const m = parseMetrics(text);
      expect(m.get('tributary_source_retained_bytes')).toBeGreaterThanOrEqual(0);
      expect(m.get('tributary_changes_applied_total{table="t",kind="insert"}')).toBe(1);
      const s = await status(port);
      expect(s.source).toMatch(/^postgres:\/\/postgres@/);
      expect(typeof s.stream.retainedBytes).toBe('number');
      expect((await call(port, '/stop', { method: 'POST' })).status).toBe(202);
      expect(await run.exited).toBe(0);
    } finally {
      await pg.stop();
    }
  }, 60_000);
});
