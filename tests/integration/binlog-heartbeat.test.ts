/**
 * The binlog connection's liveness on real MariaDB servers (issue 9, item 8): a half-open
 * connection (a proxy between the sync and the source that stops forwarding without closing
 * anything) is noticed within --binlog-timeout, shows in the lag and /readyz while it lasts, and
 * the sync reconnects and converges after it; an idle, healthy source keeps lag 0 and causes no
 * reconnect; and a POST /pause longer than the source's net_write_timeout, with writes going on,
 * ends without a reconnect and with every row on the target.
 *
 * The setting comes through the environment (TRIBUTARY_BINLOG_TIMEOUT), which a build without the
 * setting ignores: the same test runs against it and fails there.
 */
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startMariaDb, type Server } from '../../src/testing/servers.js';
import { connect, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';
import type { HistoryJson } from '../../src/server/history.js';
import type { StatusJson } from '../../src/server/status.js';

/** The silence bound the syncs here run with: the server is asked for a heartbeat every 0.5 s. */
const TIMEOUT_S = 5;
/**
 * The bound of the idle test, which waits three of them: shorter, so that the wait is too (a
 * heartbeat every 0.3 s). The half-open test keeps TIMEOUT_S: it reads lag samples between 2 s after
 * the cut and the moment the loss is noticed.
 */
const IDLE_TIMEOUT_S = 3;

let source: Server;
let target: Server;
let src: Connection;
let dst: Connection;
const running: CliRun[] = [];
const proxies: Proxy[] = [];

beforeAll(async () => {
  [source, target] = await Promise.all([startMariaDb({ serverId: 81 }), startMariaDb({ serverId: 82 })]);
  src = await connect(source.url());
  dst = await connect(target.url());
});

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  for (const p of proxies) await p.close().catch(() => undefined);
  await src?.query('SET GLOBAL net_write_timeout = 60').catch(() => undefined);
  await src?.end().catch(() => undefined);
  await dst?.end().catch(() => undefined);
  await Promise.all([source?.stop(), target?.stop()]);
});

async function get(port: number, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function post(port: number, path: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST' })).status;
}

async function status(port: number): Promise<StatusJson> {
  return (await get(port, '/status')).body as unknown as StatusJson;
}

async function count(conn: Connection, db: string): Promise<number> {
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${db}\`.t`);
  return Number(rows[0]?.n);
}

/** Starts a sync of `db` with the HTTP API; resolves once it streams. */
async function startSync(db: string, sourceUrl: string, extra: string[] = [], timeoutS = TIMEOUT_S): Promise<{ run: CliRun; port: number }> {
  const port = await freePort();
  const run = startCli(
    ['sync', '--source', sourceUrl, '--target', target.url(db), '--http', `127.0.0.1:${port}`, '--flush-interval', '100ms', '--checksum-interval', '10m', ...extra],
    { TRIBUTARY_BINLOG_TIMEOUT: `${timeoutS}s` },
  );
  running.push(run);
  await waitUntil('the sync to stream', async () => {
    const r = await get(port, '/readyz').catch(() => undefined);
    return r?.status === 200 && r.body.phase === 'stream';
  }, 90_000, 200);
  return { run, port };
}

describe('binlog connection liveness', () => {
  it('notices a half-open binlog connection within the bound, shows it in the lag and /readyz, and converges after', async () => {
    await src.query(
      'CREATE DATABASE hb1; CREATE TABLE hb1.t (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO hb1.t SELECT seq, seq FROM hb1.seq_1_to_100; ' +
        "CREATE TABLE hb1.big (id INT PRIMARY KEY, v VARCHAR(100) NOT NULL); INSERT INTO hb1.big SELECT seq, REPEAT('b', 100) FROM hb1.seq_1_to_200000",
    );
    await dst.query('CREATE DATABASE hb1');
    const proxy = await startProxy(source.port);
    proxies.push(proxy);
    // Every connection to the source goes through the proxy, and checksum passes run back to back
    // (small chunks): when the path goes silent a checksum read hangs as the stream does.
    const { run, port } = await startSync('hb1', `mysql://root@127.0.0.1:${proxy.port}/hb1`, ['--checksum-interval', '0', '--chunk-size', '2000']);
    await waitUntil('the copy on the target', async () => (await count(dst, 'hb1')) === 100, 30_000);
    await src.query('INSERT INTO hb1.t VALUES (101, 1)');
    await waitUntil('a streamed change', async () => (await count(dst, 'hb1')) === 101, 30_000);
    expect((await status(port)).stream.reconnects).toBe(0);
    await waitUntil('a checksum pass reading', async () => (await status(port)).checksum?.state === 'checking', 60_000, 50);

    // The path goes silent; the source goes on taking writes (over its own connection).
    proxy.blackhole();
    const cutAt = Date.now();
    await src.query('INSERT INTO hb1.t SELECT seq, seq FROM hb1.seq_200_to_299');
    let notReady: Record<string, unknown> | undefined;
    let noticedAfter: number | undefined;
    // Well past the bound: a sync that notices nothing fails here. (Only /readyz and the log are
    // read meanwhile: /status and /metrics ask the source for its head, through the silent path.)
    const deadline = cutAt + (TIMEOUT_S + 20) * 1000;
    while (Date.now() < deadline && (notReady === undefined || noticedAfter === undefined)) {
      const ready = await get(port, '/readyz');
      if (ready.status === 503) notReady ??= ready.body;
      if (noticedAfter === undefined && run.stderr().includes('binlog connection lost')) noticedAfter = (Date.now() - cutAt) / 1000;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(noticedAfter, 'the lost connection noticed while the path is silent').toBeDefined();
    // Noticed within the bound (plus a tick, the poll and a loaded machine's slack).
    expect(noticedAfter as number).toBeLessThan(TIMEOUT_S + 8);
    expect(notReady, '/readyz 503 while the path is silent').toBeDefined();
    expect(String(notReady?.reason)).toMatch(/retrying.*sent nothing for [\d.]+ s/);
    // Before the connection counted as lost the stream read as idle: the lag must not have said 0.
    const history = (await get(port, '/history')).body as unknown as HistoryJson;
    const silent = history.samples.filter((x) => x.at > cutAt + 2000 && x.at < cutAt + (noticedAfter as number) * 1000 - 500).map((x) => x.lagSeconds);
    expect(silent.length, `lag samples during the silence: ${JSON.stringify(history.samples.map((x) => [x.at - cutAt, x.lagSeconds]))} noticed ${noticedAfter}`).toBeGreaterThanOrEqual(2);
    expect(Math.min(...silent), `lag during the silence: ${JSON.stringify(history.samples.map((x) => [x.at - cutAt, x.lagSeconds]))} noticed ${noticedAfter}`).toBeGreaterThan(1);
    expect(silent[silent.length - 1] as number).toBeGreaterThan(silent[0] as number);

    proxy.restore();
    await waitUntil('the reconnect', () => run.stderr().includes('resuming from the checkpoint'), 60_000, 250);
    await waitUntil('convergence after the path is back', async () => (await count(dst, 'hb1')) === 201, 90_000, 500);
    await waitUntil('ready after the path is back', async () => (await get(port, '/readyz')).status === 200, 60_000, 250);
    await src.query('INSERT INTO hb1.t VALUES (1000, 1)');
    await waitUntil('a change after recovery', async () => (await count(dst, 'hb1')) === 202, 30_000);
    await waitUntil('lag back to 0', async () => (await status(port)).stream.lagSeconds === 0, 30_000, 250);
    expect(await post(port, '/stop')).toBe(202);
    expect(await run.exited).toBe(0);
  }, 170_000);

  it('keeps lag 0 and reconnects never while a healthy source is idle for three times the bound', async () => {
    await src.query('CREATE DATABASE hb2; CREATE TABLE hb2.t (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO hb2.t VALUES (1, 1)');
    await dst.query('CREATE DATABASE hb2');
    const { run, port } = await startSync('hb2', source.url('hb2'), [], IDLE_TIMEOUT_S);
    await waitUntil('the copy on the target', async () => (await count(dst, 'hb2')) === 1, 30_000);
    const until = Date.now() + 3 * IDLE_TIMEOUT_S * 1000;
    let maxLag = 0;
    let samples = 0;
    while (Date.now() < until) {
      const ready = await get(port, '/readyz');
      expect(ready.status, JSON.stringify(ready.body)).toBe(200);
      const s = await status(port);
      maxLag = Math.max(maxLag, s.stream.lagSeconds);
      expect(s.stream.reconnects).toBe(0);
      samples++;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(samples).toBeGreaterThan(10);
    // A heartbeat every 0.3 s: the lag never reads more than a late heartbeat's worth.
    expect(maxLag).toBeLessThan(2);
    expect(run.stderr()).not.toContain('resuming from the checkpoint');
    await src.query('INSERT INTO hb2.t VALUES (2, 2)');
    await waitUntil('a change after the idle spell', async () => (await count(dst, 'hb2')) === 2, 30_000);
    expect(await post(port, '/stop')).toBe(202);
    expect(await run.exited).toBe(0);
  }, 120_000);

  it('rides out a pause longer than the source net_write_timeout while writes go on: no reconnect, every row arrives', async () => {
    await src.query('CREATE DATABASE hb3; CREATE TABLE hb3.t (id INT PRIMARY KEY, v LONGTEXT NOT NULL); INSERT INTO hb3.t VALUES (0, 0)');
    await dst.query('CREATE DATABASE hb3');
    // The dump connection opens after this and would inherit it.
    await src.query('SET GLOBAL net_write_timeout = 3');
    try {
      // A small buffer: the binlog connection stops being read soon after the pause.
      const { run, port } = await startSync('hb3', source.url('hb3'), ['--buffer-mb', '1']);
      await waitUntil('the copy on the target', async () => (await count(dst, 'hb3')) === 1, 30_000);
      expect(await post(port, '/pause')).toBe(202);
      const pausedAt = Date.now();
      // 40 MB of binlog: more than the buffer and both sockets' buffers hold, so the server's
      // writes block for most of the pause.
      for (let i = 0; i < 40; i++) await src.query(`INSERT INTO hb3.t SELECT ${i * 10} + seq, REPEAT('x', 100000) FROM hb3.seq_1_to_10`);
      await new Promise((r) => setTimeout(r, Math.max(0, pausedAt + 10_000 - Date.now())));
      expect(await count(dst, 'hb3')).toBe(1);
      expect(await post(port, '/resume')).toBe(202);
      await waitUntil('every row after the pause', async () => (await count(dst, 'hb3')) === 401, 120_000, 500);
      const s = await status(port);
      expect(s.stream.reconnects, `last error: ${JSON.stringify(s.lastError)}`).toBe(0);
      expect(run.stderr()).not.toContain('resuming from the checkpoint');
      expect(await post(port, '/stop')).toBe(202);
      expect(await run.exited).toBe(0);
    } finally {
      await src.query('SET GLOBAL net_write_timeout = 60');
    }
  }, 170_000);
});
