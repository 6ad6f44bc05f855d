/**
 * Failover by GTID (issue 16) on real MariaDB servers: a primary and a replica that logs what it
 * applies (log_slave_updates, gtid_strict_mode), and a target. A checkpoint's GTID names the
 * lineage, so a sync resumes on the promoted replica; each refusal class is produced on purpose
 * (behind, purged, unknown domain, diverged), and a file+position checkpoint stays refused on
 * another server. The scenarios run in order: the promotion kills the primary, which comes back
 * afterwards as the old primary that the last two scenarios need.
 */
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startMariaDb, type Server } from '../../src/testing/servers.js';
import { connect, runCli, startCli, tableRows, waitUntil, type CliRun } from '../helpers/mysql.js';
import { promotionWorkload } from '../helpers/workload.js';

let primary: Server;
let replica: Server;
let target: Server;
let p: Connection;
let r: Connection;
let t: Connection;
const running: CliRun[] = [];

function sync(id: string, source: Server, db: string, extra: string[] = []): CliRun {
  const run = startCli(['sync', '--id', id, '--source', source.url(db), '--target', target.url(db), '--flush-interval', '100ms', '--checksum', 'off', ...extra]);
  running.push(run);
  return run;
}

async function copyOnly(id: string, source: Server, db: string, extra: string[] = []): Promise<void> {
  const run = await runCli(['sync', '--id', id, '--source', source.url(db), '--target', target.url(db), '--copy-only', ...extra], {}, 60_000);
  expect(run.code, run.stderr).toBe(0);
}

/** The replica has applied everything the primary logged. */
async function caughtUp(): Promise<void> {
  const [[pos]] = await p.query<RowDataPacket[]>('SELECT @@GLOBAL.gtid_binlog_pos AS g');
  const [[w]] = await r.query<RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, 30) AS w', [String(pos?.g)]);
  expect(Number(w?.w)).toBe(0);
}

async function equalTo(source: Connection, db: string, table: string, timeoutMs = 30_000): Promise<void> {
  let last = '';
  await waitUntil(`${db}.${table} on the target to equal the source`, async () => {
    const a = await tableRows(source, db, table);
    const b = await tableRows(t, db, table).catch(() => []);
    last = `source ${a.length} rows, target ${b.length}`;
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }, timeoutMs, 300).catch((err: Error) => {
    throw new Error(`${err.message}: ${last}`);
  });
}

beforeAll(async () => {
  [primary, replica, target] = await Promise.all([startMariaDb({ serverId: 81 }), startMariaDb({ serverId: 82, args: ['--log-slave-updates'] }), startMariaDb({ serverId: 83 })]);
  [p, r, t] = await Promise.all([connect(primary.url()), connect(replica.url()), connect(target.url())]);
  await r.query(`RESET MASTER; SET GLOBAL gtid_slave_pos = ''; CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${primary.port}, MASTER_USER = 'root', MASTER_USE_GTID = slave_pos; START SLAVE`);
  for (const db of ['idle', 'fp', 'behind', 'purged', 'sw', 'live', 'dom', 'split']) {
    await p.query(`CREATE DATABASE ${db}; CREATE TABLE ${db}.t (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO ${db}.t SELECT seq, seq FROM ${db}.seq_1_to_100`);
    await t.query(`CREATE DATABASE ${db}`);
  }
  await caughtUp();
}, 60_000);

afterAll(async () => {
  for (const run of running) run.child.kill('SIGKILL');
  await Promise.all([p, r, t].map((c) => c?.end().catch(() => undefined)));
  await Promise.all([primary?.stop(), replica?.stop(), target?.stop()]);
});

describe('failover by GTID (MariaDB primary and replica)', () => {
  it('a purged binlog FILE of the checkpoint does not refuse a resume while the binlogs after its GTID remain', async () => {
    await copyOnly('fo-idle', primary, 'idle');
    const [[before]] = await p.query<RowDataPacket[]>('SHOW MASTER STATUS');
    await p.query('FLUSH BINARY LOGS');
    const [[st]] = await p.query<RowDataPacket[]>('SHOW MASTER STATUS');
    await waitUntil('the purge', async () => {
      await p.query(`PURGE BINARY LOGS TO '${String(st?.File)}'`);
      const [logs] = await p.query<RowDataPacket[]>('SHOW BINARY LOGS');
      return logs.length === 1;
    }, 10_000, 500);
    expect(String(st?.File)).not.toBe(String(before?.File));
    await p.query('INSERT INTO idle.t VALUES (1000, 1); UPDATE idle.t SET v = 0 WHERE id = 1');
    const run = sync('fo-idle', primary, 'idle');
    await equalTo(p, 'idle', 't');
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.stderr()).not.toContain('another server');
    await caughtUp();
  }, 60_000);

  it('a file+position checkpoint is refused on another server, and the message says to use GTID mode', async () => {
    await copyOnly('fo-fp', primary, 'fp', ['--position-mode', 'file']);
    const run = await runCli(['sync', '--id', 'fo-fp', '--source', replica.url('fp'), '--target', target.url('fp'), '--position-mode', 'file'], {}, 60_000);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('TRIB_SOURCE_CHANGED');
    expect(run.stderr).toContain('for failover between servers, sync in GTID mode');
  });

  it('behind: a replica stopped before the checkpoint is refused; once caught up, the sync resumes on it', async () => {
    await r.query('STOP SLAVE');
    await p.query('INSERT INTO behind.t VALUES (1000, 1)');
    const [[pos]] = await p.query<RowDataPacket[]>('SELECT @@GLOBAL.gtid_binlog_pos AS g');
    await copyOnly('fo-behind', primary, 'behind');
    const refused = await runCli(['sync', '--id', 'fo-behind', '--source', replica.url('behind'), '--target', target.url('behind')], {}, 60_000);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('TRIB_SOURCE_BEHIND');
    expect(refused.stderr).toContain(`up to GTID ${String(pos?.g)}`);
    expect(refused.stderr).toContain('server_id=81');
    expect(refused.stderr).toContain('server_id=82');
    const [[rows]] = await t.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM behind.t');
    expect(Number(rows?.n)).toBe(101);
    await r.query('START SLAVE');
    await caughtUp();
    await p.query('UPDATE behind.t SET v = -v WHERE id <= 10');
    await caughtUp();
    const run = sync('fo-behind', replica, 'behind');
    await equalTo(r, 'behind', 't');
    expect(run.stderr()).toContain('another server than the checkpoint');
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  }, 60_000);

  it('purged: the promoted server no longer holds the binlogs after the checkpoint', async () => {
    await copyOnly('fo-purged', primary, 'purged');
    await p.query('INSERT INTO purged.t VALUES (1000, 1)');
    await caughtUp();
    await r.query('FLUSH BINARY LOGS');
    const [[st]] = await r.query<RowDataPacket[]>('SHOW MASTER STATUS');
    // MariaDB purges a binlog only once InnoDB no longer needs it for crash recovery: ask again.
    await waitUntil('the purge', async () => {
      await r.query(`PURGE BINARY LOGS TO '${String(st?.File)}'`);
      const [logs] = await r.query<RowDataPacket[]>('SHOW BINARY LOGS');
      return logs.length === 1;
    }, 10_000, 500);
    const refused = await runCli(['sync', '--id', 'fo-purged', '--source', replica.url('purged'), '--target', target.url('purged')], {}, 20_000);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('TRIB_POSITION_LOST');
    expect(refused.stderr).toContain(`its oldest binlog ${String(st?.File)} starts domain 0 after`);
  }, 60_000);

  it('switch-source moves a running sync to the replica, refused while the replica is behind', async () => {
    const port = await freePort();
    const http = `127.0.0.1:${port}`;
    const run = sync('fo-sw', primary, 'sw', ['--http', http]);
    const status = async () => (await (await fetch(`http://${http}/status`)).json()) as { phase: string; sourceHost: string | null; stream: { reconnects: number } };
    await equalTo(p, 'sw', 't');
    await waitUntil('streaming', async () => (await status()).phase === 'stream', 30_000);
    await r.query('STOP SLAVE');
    await p.query('INSERT INTO sw.t VALUES (1000, 1)');
    await equalTo(p, 'sw', 't');
    const refused = await fetch(`http://${http}/switch-source`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: `127.0.0.1:${replica.port}` }) });
    expect(refused.status).toBe(409);
    const body = (await refused.json()) as { code: string; error: string };
    expect(body.code).toBe('TRIB_SOURCE_BEHIND');
    expect(body.error).toContain('server_id=82');
    // The sync stays on the primary and goes on streaming.
    await p.query('UPDATE sw.t SET v = 2 WHERE id = 1000');
    await equalTo(p, 'sw', 't');
    expect((await status()).sourceHost).toBeNull();
    await r.query('START SLAVE');
    await caughtUp();
    const cli = await runCli(['switch-source', '--host', `127.0.0.1:${replica.port}`, '--http', http], {}, 60_000);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain(`moving the sync's source to 127.0.0.1:${replica.port}`);
    await waitUntil('the sync on the replica', async () => (await status()).sourceHost === `127.0.0.1:${replica.port}`, 30_000);
    await p.query('UPDATE sw.t SET v = 3 WHERE id <= 50; DELETE FROM sw.t WHERE id = 1000');
    await caughtUp();
    await equalTo(r, 'sw', 't');
    expect((await status()).stream.reconnects).toBeGreaterThanOrEqual(1);
    expect(run.stderr()).toContain('another server than the checkpoint');
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  }, 90_000);

  it('switch-source during the copy: the copy stops at its chunk boundaries and resumes from its watermark on the replica; refused while a table without a key is copied whole', async () => {
    await p.query('CREATE DATABASE swc; CREATE TABLE swc.t (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO swc.t SELECT seq, seq FROM swc.seq_1_to_6000');
    await p.query('CREATE DATABASE swk; CREATE TABLE swk.k (a INT NOT NULL, b INT NOT NULL); INSERT INTO swk.k SELECT seq % 100, seq FROM swk.seq_1_to_6000');
    await t.query('CREATE DATABASE swc; CREATE DATABASE swk');
    await caughtUp();
    const post = (http: string) => fetch(`http://${http}/switch-source`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: `127.0.0.1:${replica.port}` }) });
    type Status = { phase: string; sourceHost: string | null; stream: { reconnects: number } };
    // A table without a key is copied whole, in one snapshot of the server it reads: refused.
    const kHttp = `127.0.0.1:${await freePort()}`;
    const keyless = sync('fo-swk', primary, 'swk', ['--http', kHttp, '--threads', '1', '--copy-rate-limit', '1000']);
    await waitUntil('copying swk.k', async () => ((await fetch(`http://${kHttp}/status`).then((res) => res.json(), () => ({}))) as Status).phase === 'copy', 30_000);
    const refused = await post(kHttp);
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: string }).error).toMatch(/while it copies k \(no primary key nor unique NOT NULL key\) whole/);
    keyless.child.kill('SIGKILL');
    await keyless.exited;

    const http = `127.0.0.1:${await freePort()}`;
    const run = sync('fo-swc', primary, 'swc', ['--http', http, '--threads', '1', '--chunk-size', '200', '--copy-rate-limit', '1000']);
    const status = async () => (await fetch(`http://${http}/status`).then((res) => res.json(), () => ({}))) as Status;
    await waitUntil('some chunks copied', async () => (await status()).phase === 'copy' && Number((await t.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM swc.t').catch(() => [[{ n: 0 }]]))[0][0]?.n) >= 1000, 30_000);
    // Writes during the copy, before and after the move.
    await p.query('UPDATE swc.t SET v = -v WHERE id % 97 = 0; DELETE FROM swc.t WHERE id % 101 = 0; INSERT INTO swc.t VALUES (100000, 1)');
    const moved = await post(http);
    expect(moved.status, await moved.clone().text()).toBe(202);
    await waitUntil('the sync on the replica', async () => (await status()).sourceHost === `127.0.0.1:${replica.port}`, 30_000);
    await p.query('UPDATE swc.t SET v = 7 WHERE id BETWEEN 5000 AND 5100; INSERT INTO swc.t VALUES (100001, 2)');
    await caughtUp();
    await equalTo(r, 'swc', 't', 60_000);
    await waitUntil('streaming', async () => (await status()).phase === 'stream', 30_000);
    expect(run.stderr()).toContain('stopping the copy at its chunk boundaries');
    expect(run.stderr()).toContain('resuming copy after the last checkpointed chunk');
    expect(run.stderr()).toContain('another server than the checkpoint');
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  }, 90_000);

  it('the replica is promoted under a steady workload: a sync given both hosts moves to it by itself, nothing lost', async () => {
    // Both hosts in the source URL: when the primary dies, the sync's retry connects to the next.
    const port = await freePort();
    const both = `mysql://root@127.0.0.1:${primary.port},127.0.0.1:${replica.port}/live`;
    const run = startCli(['sync', '--id', 'fo-live', '--source', both, '--target', target.url('live'), '--flush-interval', '100ms', '--checksum', 'off', '--http', `127.0.0.1:${port}`]);
    running.push(run);
    const status = async () => (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as { sourceHost: string | null; stream: { reconnects: number } };
    await equalTo(p, 'live', 't');
    expect((await status()).sourceHost).toBe(`127.0.0.1:${primary.port}`);
    // The workload: inserts and updates, one transaction each, on whichever server is primary.
    const work = promotionWorkload(p, 'live.t', 1000);
    await waitUntil('the sync streams the workload', async () => {
      const [[n]] = await t.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM live.t');
      return Number(n?.n) > 150;
    }, 30_000);
    // Promotion: the primary stops taking writes, the replica catches up, the primary dies.
    await work.promote(async () => {
      await caughtUp();
      primary.kill();
      await r.query('STOP SLAVE; RESET SLAVE ALL');
      return r;
    });
    await waitUntil('writes on the new primary', () => work.inserted() > 300, 30_000);
    await work.stop();
    const inserted = work.inserted();
    await equalTo(r, 'live', 't');
    const [[n]] = await t.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM live.t');
    expect(Number(n?.n)).toBe(100 + inserted);
    const st = await status();
    expect(st.sourceHost).toBe(`127.0.0.1:${replica.port}`);
    expect(st.stream.reconnects).toBeGreaterThanOrEqual(1);
    expect(run.stderr()).toContain(`source host 127.0.0.1:${primary.port} does not answer; trying the next host`);
    expect(run.stderr()).toContain('another server than the checkpoint');
    // The old primary comes back (not replicating; also for the scenarios below), and the sync's
    // binlog connection to the new one is cut: the reconnect stays on the new primary, where the
    // old one, first in the URL but behind it now, would be refused.
    primary = await startMariaDb({ serverId: 81, dir: primary.dir, port: primary.port });
    p = await connect(primary.url());
    const reconnects = st.stream.reconnects;
    const [dumps] = await r.query<RowDataPacket[]>("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'");
    expect(dumps.length).toBeGreaterThan(0);
    for (const d of dumps) await r.query(`KILL ${Number(d.ID)}`);
    await waitUntil('the reconnect', async () => (await status()).stream.reconnects > reconnects, 60_000);
    await r.query('INSERT INTO live.t VALUES (999999, 7)');
    await equalTo(r, 'live', 't');
    expect((await status()).sourceHost).toBe(`127.0.0.1:${replica.port}`);
    expect(run.stderr()).not.toContain('TRIB_SOURCE_BEHIND');
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  }, 90_000);

  it('unknown domain: the promoted server wrote under a domain the checkpoint lacks; adopted only on request', async () => {
    // The old primary holds 'dom' as it was at the promotion: a checkpoint taken there knows domain 0 only.
    await copyOnly('fo-dom', primary, 'dom');
    await r.query('SET SESSION gtid_domain_id = 7; INSERT INTO dom.t VALUES (7000, 7); SET SESSION gtid_domain_id = 0; UPDATE dom.t SET v = 0 WHERE id = 1');
    const refused = await runCli(['sync', '--id', 'fo-dom', '--source', replica.url('dom'), '--target', target.url('dom')], {}, 60_000);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('TRIB_GTID_DOMAIN_UNKNOWN');
    expect(refused.stderr).toContain('GTID domain 7 (up to 7-82-');
    expect(refused.stderr).toContain('--gtid-adopt-domains');
    const run = sync('fo-dom', replica, 'dom', ['--gtid-adopt-domains']);
    await equalTo(r, 'dom', 't');
    const [[row]] = await t.query<RowDataPacket[]>('SELECT v FROM dom.t WHERE id = 7000');
    expect(Number(row?.v)).toBe(7);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  }, 60_000);

  it('diverged: a row written on each side; the old primary\'s checkpoint is refused on the new one', async () => {
    await p.query('INSERT INTO split.t VALUES (5000, 1)');
    await r.query('INSERT INTO split.t VALUES (5000, 2)');
    await copyOnly('fo-split', primary, 'split');
    const [[pos]] = await p.query<RowDataPacket[]>('SELECT @@GLOBAL.gtid_binlog_pos AS g');
    const refused = await runCli(['sync', '--id', 'fo-split', '--source', replica.url('split'), '--target', target.url('split')], {}, 60_000);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('TRIB_SOURCE_DIVERGED');
    expect(refused.stderr).toContain(`holds GTID ${String(pos?.g)}`);
    const [[row]] = await t.query<RowDataPacket[]>('SELECT v FROM split.t WHERE id = 5000');
    expect(Number(row?.v)).toBe(1);
  }, 60_000);
});
