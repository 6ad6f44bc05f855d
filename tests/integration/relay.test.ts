/**
 * The relay wired in (issue 16): `tributary relay` streams a MariaDB source into a relay directory,
 * `tributary sync --relay-dir` reads it. On real servers: three syncs (MariaDB, PostgreSQL and etcd
 * targets) on one relay with one binlog dump thread on the source; a sync catches up from the relay after
 * the source purged its binlog past the sync's checkpoint; kill -9 of the relay under writes loses
 * and doubles nothing; the relay's HTTP status, metrics and pause.
 */
import { Etcd3 } from 'etcd3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RelayReader } from '../../src/relay/index.js';
import { startEtcd, startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { connect, runCli, startCli, type CliRun } from '../helpers/mysql.js';
import { pgClient } from '../helpers/postgres.js';
import { copyDone, inStep } from '../helpers/converge.js';

let source: Server;
let target: Server;
let pgServer: Server;
let etcd: Server;
let etcdClient: Etcd3;
let src: Connection;
let dst: Connection;
let pgc: pg.Client;
let dir: string;
const running: CliRun[] = [];

/** Binlog positions as the MySQL source writes them (JSON: file, pos, gtid): file index, then offset. */
function comparePositions(a: string, b: string): number {
  const pa = JSON.parse(a) as { file: string; pos: number };
  const pb = JSON.parse(b) as { file: string; pos: number };
  const ia = Number(/\.(\d+)$/.exec(pa.file)?.[1] ?? 0);
  const ib = Number(/\.(\d+)$/.exec(pb.file)?.[1] ?? 0);
  return ia - ib || pa.pos - pb.pos;
}

async function rows(c: Connection, sql: string): Promise<string> {
  return c.query(sql).then(([r]) => JSON.stringify(r)).catch((err: unknown) => `error: ${(err as Error).message}`);
}

async function pgRows(sql: string): Promise<string> {
  return pgc.query(sql).then((r) => JSON.stringify(r.rows)).catch((err: unknown) => `error: ${(err as Error).message}`);
}

function start(args: readonly string[]): CliRun {
  const run = startCli(args);
  running.push(run);
  return run;
}

/** Kills of the relay in the kill -9 test: 3 by default, RELAY_KILLS=10 for the ten. */
const KILLS = Number(process.env.RELAY_KILLS ?? 3);

const relayArgs = () => ['relay', '--source', source.url('shop'), '--relay-dir', dir, '--relay-min-age', '0', '--log-format', 'json'];
const syncArgs = (targetUrl: string, id: string, ...more: string[]) => ['sync', '--source', source.url('shop'), '--target', targetUrl, '--relay-dir', dir, '--id', id, '--flush-interval', '100ms', '--checksum', 'off', ...more];
/** The PostgreSQL sync renames the table and filters its rows: the transform stage applies to relayed changes. */
const PG_RULES = ['--table-rewrites', 'orders=orders_pg', '--where', 'orders: id <= 2500'];

/** The etcd target's rows (key /shop/orders/<id>, the row as a JSON object), as the source's query would list them. */
async function etcdRows(): Promise<string> {
  const all = await etcdClient.getAll().prefix('/shop/orders/').strings();
  const list = Object.values(all).map((v) => JSON.parse(v) as { id: number; note: string | null });
  return JSON.stringify(list.sort((x, y) => x.id - y.id).map((r) => ({ id: r.id, note: r.note })));
}

async function dumpThreads(): Promise<number> {
  const [r] = await src.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'");
  return Number((r as { n: number }[])[0]!.n);
}

/** The HTTP address a relay run logged. */
async function httpOf(run: CliRun): Promise<string> {
  await inStep('the relay HTTP API', async () => /"address":"[^"]+"/.test(run.stderr()), [run], 30_000);
  return `http://${/"address":"([^"]+)"/.exec(run.stderr())![1]}`;
}

async function write(from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    await src.query(`INSERT INTO shop.orders (id, note) VALUES (${i}, 'n${i}')`);
    await src.query(`UPDATE shop.orders SET note = 'u${i}' WHERE id = ${(i * 37) % 1000 + 1}`);
    if (i % 3 === 0) await src.query(`DELETE FROM shop.orders WHERE id = ${(i * 53) % 1000 + 1}`);
  }
}

beforeAll(async () => {
  [source, target, pgServer, etcd] = await Promise.all([startMariaDb({ serverId: 171 }), startMariaDb({ serverId: 172 }), startPostgres(), startEtcd()]);
  etcdClient = new Etcd3({ hosts: `http://127.0.0.1:${etcd.port}` });
  src = await connect(source.url());
  dst = await connect(target.url());
  await src.query('CREATE DATABASE shop');
  await src.query('CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(40))');
  await src.query("INSERT INTO shop.orders SELECT seq, CONCAT('n', seq) FROM test.seq_1_to_1000");
  const admin = await pgClient(pgServer.url('postgres'));
  await admin.query('CREATE DATABASE shop');
  await admin.end();
  pgc = await pgClient(pgServer.url('shop'));
  dir = await mkdtemp(join(tmpdir(), 'trib-relay-'));
}, 120_000);

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await src?.end();
  await dst?.end();
  await pgc?.end();
  etcdClient?.close();
  await Promise.all([source?.stop(), target?.stop(), pgServer?.stop(), etcd?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('tributary relay', () => {
  it('three syncs (MariaDB, PostgreSQL, etcd) on one relay (one dump thread); a sync catches up from the relay after the source purged its binlog; /status, /metrics, pause', async () => {
    const relay = start([...relayArgs(), '--http', '127.0.0.1:0']);
    const http = await httpOf(relay);
    const a = start(syncArgs(target.url('shop'), 'to-mariadb', '--checksum', 'on', '--checksum-interval', '1s'));
    const b = start(syncArgs(pgServer.url('shop'), 'to-postgres', ...PG_RULES));
    const c = start(syncArgs(etcd.url('shop'), 'to-etcd'));
    await Promise.all([copyDone(a), copyDone(b), copyDone(c)]);
    await write(2000, 60);
    const same = async () => (await rows(src, 'SELECT * FROM shop.orders ORDER BY id')) === (await rows(dst, 'SELECT * FROM shop.orders ORDER BY id'));
    const samePg = async () => (await rows(src, 'SELECT id, note FROM shop.orders WHERE id <= 2500 ORDER BY id')) === (await pgRows('SELECT id, note FROM orders_pg ORDER BY id'));
    const sameEtcd = async () => (await rows(src, 'SELECT * FROM shop.orders ORDER BY id')) === (await etcdRows());
    await inStep('the three targets in step', async () => (await same()) && (await samePg()) && (await sameEtcd()), [relay, a, b, c]);
    expect(await pgRows('SELECT count(*)::int AS n FROM orders_pg WHERE id > 2500')).toBe(JSON.stringify([{ n: 0 }]));
    expect(await pgRows('SELECT count(*)::int AS n FROM orders_pg WHERE id >= 2000')).toBe(JSON.stringify([{ n: 60 }]));
    // One binlog connection on the source: the relay's.
    expect(await dumpThreads()).toBe(1);

    const status = (await (await fetch(`${http}/status`)).json()) as { durableOrdinal: number; bytes: number; segments: unknown[]; readers: { id: string; position: string }[]; lagSeconds: number; state: string };
    expect(status.state).toBe('streaming');
    expect(status.durableOrdinal).toBeGreaterThanOrEqual(60 * 2);
    expect(status.bytes).toBeGreaterThan(1000);
    expect(status.segments.length).toBeGreaterThanOrEqual(1);
    expect(status.readers.map((r) => r.id).sort()).toEqual(['to-etcd', 'to-mariadb', 'to-postgres']);
    const metrics = await (await fetch(`${http}/metrics`)).text();
    expect(Number(/^tributary_relay_durable_ordinal (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(status.durableOrdinal);
    expect(Number(/^tributary_relay_bytes (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(1000);

    // Pause: the relay's position stops while the source goes on; resume: it catches up.
    expect((await fetch(`${http}/pause`, { method: 'POST' })).status).toBe(202);
    await inStep('the dump thread gone', async () => (await dumpThreads()) === 0, [relay]);
    const paused = ((await (await fetch(`${http}/status`)).json()) as { durableOrdinal: number }).durableOrdinal;
    await write(3000, 10);
    await new Promise((r) => setTimeout(r, 1500));
    expect(((await (await fetch(`${http}/status`)).json()) as { durableOrdinal: number; paused: boolean }).durableOrdinal).toBe(paused);
    expect(await same()).toBe(false);
    expect((await fetch(`${http}/resume`, { method: 'POST' })).status).toBe(202);
    await inStep('both targets in step after resume', async () => (await same()) && (await samePg()), [relay, a, b]);

    // The source drops the relay's binlog connection: the relay reconnects (with backoff) and goes on.
    const [dump] = await src.query("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'");
    await src.query(`KILL ${(dump as { id: number }[])[0]!.id}`);
    await write(3500, 5);
    await inStep('the three targets in step after the reconnect', async () => (await same()) && (await samePg()) && (await sameEtcd()), [relay, a, b, c]);
    expect(((await (await fetch(`${http}/status`)).json()) as { reconnects: number }).reconnects).toBeGreaterThanOrEqual(1);
    expect(await dumpThreads()).toBe(1);
    c.child.kill('SIGTERM');
    expect(await c.exited, c.stderr().slice(-3000)).toBe(0);
    // Sync a runs the continuous checksum against the source while it streams from the relay: a clean pass.
    await inStep('a clean checksum pass', async () => a.stderr().includes('checksum pass clean'), [a]);
    // Stop sync a; write; purge the binlog past its checkpoint; start it again: it reads the relay.
    a.child.kill('SIGTERM');
    expect(await a.exited, a.stderr()).toBe(0);
    await write(4000, 30);
    await inStep('sync b in step', samePg, [relay, b]);
    await src.query('FLUSH BINARY LOGS');
    const [logs] = await src.query('SHOW BINARY LOGS');
    const last = (logs as { Log_name: string }[]).at(-1)!.Log_name;
    // A log a dump thread still reads is kept (a warning): the relay moves on to the new one soon.
    await inStep(
      'the binlog purged up to the newest file',
      async () => {
        await src.query(`PURGE BINARY LOGS TO '${last}'`);
        const [left] = await src.query('SHOW BINARY LOGS');
        return (left as unknown[]).length === 1;
      },
      [relay],
      20_000,
    );
    // Writes after the purge too (they also move the relay's last position into the newest file:
    // a relay restarted at a purged file is refused like a sync, see docs/relay.md).
    await write(4100, 5);
    const a2 = start(syncArgs(target.url('shop'), 'to-mariadb'));
    await inStep('sync a caught up from the relay', same, [relay, a2]);
    expect(a2.stderr()).toContain('resuming from checkpoint');
    const v = await runCli(['verify', '--source', source.url('shop'), '--target', target.url('shop')], {}, 60_000);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    for (const r of [a2, b, relay]) {
      r.child.kill('SIGTERM');
      expect(await r.exited, r.stderr().slice(-3000)).toBe(0);
    }
  }, 180_000);

  it(`kill -9 of the relay ${KILLS} times under writes, each once it streams, restarted: the sync equals the source, the relay holds each transaction once, in order`, async () => {
    for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    let relay = start(relayArgs());
    const streaming = (run: CliRun) => inStep('the relay streaming', async () => /"msg":"relay (started|resuming)/.test(run.stderr()), [run], 30_000);
    // The relay first (docs/relay.md: start the relay before its syncs): run alone, this test's relay
    // directory is new, and a new relay starts at the source's current position, so a sync started
    // at an earlier one under writes would be refused (its position is not in the relay).
    await streaming(relay);
    const sync = start(syncArgs(target.url('shop'), 'to-mariadb'));
    let on = true;
    let n = 5000;
    const writes = (async () => {
      while (on) await write(n++, 1);
    })();
    // Each kill lands once the relay (re)started streaming (its start takes 2-3 s on a loaded
    // machine, so a fixed delay would often kill it before it read anything), at a spread of
    // moments after that. RELAY_KILLS=10 runs the ten: 37.8 s against 11.9 s for three, load ~6 on 2 cores.
    for (let k = 0; k < KILLS; k++) {
      await streaming(relay);
      await new Promise((r) => setTimeout(r, 300 + ((k * 170) % 600)));
      relay.child.kill('SIGKILL');
      await relay.exited;
      relay = start(relayArgs());
    }
    on = false;
    await writes;
    const same = async () => (await rows(src, 'SELECT * FROM shop.orders ORDER BY id')) === (await rows(dst, 'SELECT * FROM shop.orders ORDER BY id'));
    await inStep('the sync in step after the kills', same, [relay, sync]);
    expect(relay.stderr() + sync.stderr()).not.toContain('"level":50');
    // The relay's records: ordinals contiguous, positions increasing, each GTID once, contiguous.
    const reader = await RelayReader.open({ dir, compare: comparePositions, follow: false });
    let ordinal: number | undefined;
    let prev: string | undefined;
    const gtids: number[] = [];
    for await (const t of reader) {
      if (ordinal !== undefined) expect(t.ordinal).toBe(ordinal + 1);
      ordinal = t.ordinal;
      if (prev !== undefined) expect(comparePositions(t.position, prev)).toBeGreaterThanOrEqual(0);
      prev = t.position;
      if (t.events.some((e) => e.type === 'commit')) {
        const gtid = (JSON.parse(t.position) as { gtid?: string }).gtid;
        expect(gtid).toBeDefined();
        gtids.push(Number(/-(\d+)$/.exec(gtid!)![1]));
      }
    }
    expect(gtids.length).toBeGreaterThan(100);
    for (let i = 1; i < gtids.length; i++) expect(gtids[i], `GTID after ${gtids[i - 1]}`).toBe(gtids[i - 1]! + 1);
    for (const r of [sync, relay]) {
      r.child.kill('SIGTERM');
      expect(await r.exited, r.stderr().slice(-3000)).toBe(0);
    }
  }, 120_000);

  it('ALTERs made while the relay was down: it resumes decoding with its own definitions of then, so the rows before, between and after them arrive as written', async () => {
    for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    const same = async () => (await rows(src, 'SELECT * FROM shop.orders ORDER BY id')) === (await rows(dst, 'SELECT * FROM shop.orders ORDER BY id'));
    let relay = start(relayArgs());
    await inStep('the relay streaming', async () => /"msg":"relay (started|resuming)/.test(relay.stderr()), [relay], 30_000);
    const sync = start(syncArgs(target.url('shop'), 'to-mariadb'));
    await write(100000, 5);
    await inStep('the sync in step before the stop', same, [relay, sync]);
    relay.child.kill('SIGTERM');
    expect(await relay.exited, relay.stderr().slice(-3000)).toBe(0);

    // Rows under each definition, while no relay reads the binlog: the catalogue ends at the third.
    await write(100100, 5);
    await src.query('ALTER TABLE shop.orders ADD COLUMN qty INT NOT NULL DEFAULT 7 AFTER id');
    await src.query("INSERT INTO shop.orders (id, qty, note) VALUES (100200, 1, 'q1'), (100201, 2, 'q2')");
    await src.query('UPDATE shop.orders SET qty = 3 WHERE id <= 10');
    await src.query('ALTER TABLE shop.orders RENAME COLUMN note TO remark, MODIFY qty BIGINT NOT NULL DEFAULT 7');
    await src.query("INSERT INTO shop.orders (id, qty, remark) VALUES (100300, 9000000000, 'r1')");
    await src.query("UPDATE shop.orders SET remark = 'r2' WHERE id = 100200");
    await src.query('DELETE FROM shop.orders WHERE id = 100101');

    relay = start(relayArgs());
    await inStep('the sync in step after the relay resumed across both ALTERs', same, [relay, sync]);
    expect(relay.stderr().split('\n').filter((l) => l.includes('resumes decoding')).join('\n')).toMatch(/relay resumes decoding with the definitions of its last record: (shop\.)?orders \(changed since\)/);
    // An ALTER while it streams, then its binlog connection cut: the reconnect decodes with the
    // definitions its records left, not with those it started with.
    await src.query('ALTER TABLE shop.orders ADD COLUMN extra VARCHAR(10) NULL');
    await src.query("INSERT INTO shop.orders (id, qty, remark, extra) VALUES (100350, 5, 'x', 'e')");
    await inStep('the sync in step after an ALTER while streaming', same, [relay, sync]);
    const [dumps] = await src.query("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'");
    for (const d of dumps as { ID: number }[]) await src.query(`KILL ${d.ID}`);
    await src.query("INSERT INTO shop.orders (id, qty, remark, extra) VALUES (100351, 6, 'y', 'f')");
    await inStep('the sync in step after the relay reconnected', same, [relay, sync]);
    expect(relay.stderr()).toContain('reconnecting from the last durable transaction');
    // Restarted again past the ALTERs: its definitions are now the ones the records left.
    relay.child.kill('SIGTERM');
    expect(await relay.exited).toBe(0);
    await src.query("INSERT INTO shop.orders (id, qty, remark) VALUES (100400, 4, 'after')");
    relay = start(relayArgs());
    await inStep('the sync in step after a restart past the ALTERs', same, [relay, sync]);
    expect(relay.stderr()).not.toMatch(/changed since/);
    expect(relay.stderr() + sync.stderr()).not.toContain('"level":50');
    for (const r of [sync, relay]) {
      r.child.kill('SIGTERM');
      expect(await r.exited, r.stderr().slice(-3000)).toBe(0);
    }
  }, 120_000);
});
