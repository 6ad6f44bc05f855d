/**
 * A source that is itself a replica (issue 14, Ghostferry's users sync from replicas): on real
 * MariaDB servers, a primary and two replicas of it. `check` refuses the replica that does not log
 * what it applies, naming log_slave_updates and its primary; a sync from the replica that does
 * (--log-slave-updates) copies and then streams the changes written on the primary.
 */
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDb, type Server } from '../../src/testing/servers.js';
import { connect, runCli, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';

let primary: Server;
let quiet: Server;
let logging: Server;
let p: Connection;
const running: CliRun[] = [];

async function follow(replica: Server): Promise<void> {
  const c = await connect(replica.url());
  await c.query(`RESET MASTER; SET GLOBAL gtid_slave_pos = ''; CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${primary.port}, MASTER_USER = 'root', MASTER_USE_GTID = slave_pos; START SLAVE`);
  await c.end();
}

beforeAll(async () => {
  [primary, quiet, logging] = await Promise.all([startMariaDb({ serverId: 71 }), startMariaDb({ serverId: 72 }), startMariaDb({ serverId: 73, args: ['--log-slave-updates'] })]);
  p = await connect(primary.url());
  await p.query('CREATE DATABASE shop; USE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO shop.t SELECT seq, CONCAT(\'v\', seq) FROM seq_1_to_500');
  await Promise.all([follow(quiet), follow(logging)]);
  for (const r of [quiet, logging]) {
    const c = await connect(r.url());
    await waitUntil('the replica caught up', async () => {
      const [rows] = await c.query('SELECT COUNT(*) AS n FROM shop.t').catch(() => [[{ n: 0 }]] as const);
      return Number((rows as { n: number }[])[0]?.n) === 500;
    }, 30_000).catch(async (err: Error) => {
      const [st] = await c.query('SHOW SLAVE STATUS');
      const x = (st as Record<string, unknown>[])[0];
      throw new Error(`${err.message}: IO ${String(x?.Slave_IO_Running)} ${String(x?.Last_IO_Error)}; SQL ${String(x?.Slave_SQL_Running)} ${String(x?.Last_SQL_Error)}`);
    });
    await c.end();
  }
}, 120_000);

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await p?.end();
  await Promise.all([primary?.stop(), quiet?.stop(), logging?.stop()]);
});

describe('a replica as the source', () => {
  it('check refuses a replica without log_slave_updates, naming the setting and its primary', async () => {
    const r = await runCli(['check', '--source', quiet.url('shop'), '--target', logging.url('copy1')], {}, 60_000);
    expect(r.code).not.toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).toContain(`log_slave_updates (the source is a replica)`);
    expect(out).toContain(`replica of 127.0.0.1:${primary.port}, log_slave_updates=OFF`);
    expect(out).toContain('set log_slave_updates=ON');
    // Replication stopped (a promoted replica never reset): a warning, not a refusal.
    const q = await connect(quiet.url());
    await q.query('STOP SLAVE');
    const stopped = await runCli(['check', '--source', quiet.url('shop'), '--target', logging.url('copy1')], {}, 60_000);
    expect(stopped.stdout + stopped.stderr).toContain(`replication from 127.0.0.1:${primary.port} configured but stopped, log_slave_updates=OFF`);
    // A user who may not read the replication status: MariaDB's Slaves_running tells (0 now: no line).
    await q.query("CREATE USER 'plain'@'127.0.0.1'; GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'plain'@'127.0.0.1'");
    const plainUrl = quiet.url('shop').replace('root@', 'plain@');
    const plain = await runCli(['check', '--source', plainUrl, '--target', logging.url('copy1')], {}, 60_000);
    expect(plain.stdout + plain.stderr).not.toContain('the source is a replica');
    await q.query('START SLAVE');
    await waitUntil('replication running again', async () => {
      const [st] = await q.query("SHOW GLOBAL STATUS LIKE 'Slaves_running'");
      return Number((st as { Value: string }[])[0]?.Value) > 0;
    }, 30_000);
    const plainRunning = await runCli(['check', '--source', plainUrl, '--target', logging.url('copy1')], {}, 60_000);
    expect(plainRunning.code).not.toBe(0);
    expect(plainRunning.stdout + plainRunning.stderr).toContain('replica (1 replication connection running), log_slave_updates=OFF');
    await q.end();
  }, 120_000);

  it('syncs from a replica that logs what it applies: the primary\'s later writes reach the target', async () => {
    const c = await runCli(['check', '--source', logging.url('shop'), '--target', quiet.url('copy2')], {}, 60_000);
    expect(c.stdout + c.stderr).not.toContain('the source is a replica');
    const run = startCli(['sync', '--source', logging.url('shop'), '--target', quiet.url('copy2'), '--flush-interval', '100ms']);
    running.push(run);
    const dst = await connect(quiet.url());
    await waitUntil('copied', async () => {
      const [rows] = await dst.query('SELECT COUNT(*) AS n FROM copy2.t').catch(() => [[{ n: 0 }]] as const);
      return Number((rows as { n: number }[])[0]?.n) === 500;
    }, 60_000);
    await p.query("UPDATE shop.t SET v = 'from primary' WHERE id <= 5; DELETE FROM shop.t WHERE id > 490; INSERT INTO shop.t VALUES (1000, 'new')");
    await waitUntil('streamed from the primary through the replica', async () => {
      const [rows] = await dst.query("SELECT COUNT(*) AS n, SUM(v = 'from primary') AS u, SUM(id = 1000) AS i FROM copy2.t");
      const r = (rows as { n: number; u: string; i: string }[])[0];
      return Number(r?.n) === 491 && Number(r?.u) === 5 && Number(r?.i) === 1;
    }, 60_000);
    await dst.end();
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toBe(0);
  }, 150_000);
});
