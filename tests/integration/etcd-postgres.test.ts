/**
 * PostgreSQL → etcd on real servers, through the CLI (issue 13): the copy (from the slot's exported
 * snapshot) and the stream under concurrent writes, kill -9 during each, converge exactly: every
 * row's object in etcd equals the source's row, and verify exits 0.
 */
import { Etcd3 } from 'etcd3';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEtcd, startPostgres, type Server } from '../../src/testing/servers.js';
import { runCli, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';

let postgres: Server;
let etcd: Server;
let admin: pg.Client;
let client: Etcd3;
const running: CliRun[] = [];

beforeAll(async () => {
  [postgres, etcd] = await Promise.all([startPostgres(), startEtcd()]);
  admin = new pg.Client({ connectionString: postgres.url('postgres') });
  await admin.connect();
  client = new Etcd3({ hosts: `http://127.0.0.1:${etcd.port}` });
}, 120_000);

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  client?.close();
  await admin?.end();
  await Promise.all([postgres?.stop(), etcd?.stop()]);
});

function sync(extra: string[] = []): CliRun {
  const run = startCli(['sync', '--source', postgres.url('pgsrc'), '--target', etcd.url('pg'), '--id', 'pg-etcd', '--flush-interval', '100ms', ...extra]);
  running.push(run);
  return run;
}

it('copies and streams under writes, through kill -9 during the copy and during the stream, losing nothing', async () => {
  await admin.query('CREATE DATABASE pgsrc');
  const src = new pg.Client({ connectionString: postgres.url('pgsrc') });
  await src.connect();
  await src.query(`CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL, n bigint NOT NULL, at timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+00');
    INSERT INTO t SELECT g, 'v' || g, 0 FROM generate_series(1, 20000) g;`);
  let writing = true;
  let seed = 5;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const writes = (async () => {
    while (writing) {
      const id = 1 + Math.floor(rand() * 21000);
      const r = rand();
      if (r < 0.6) await src.query(`INSERT INTO t (id, v, n) VALUES (${id}, 'w', 1) ON CONFLICT (id) DO UPDATE SET v = 'u' || (t.n + 1), n = t.n + 1, at = t.at + interval '1.5 second'`);
      else if (r < 0.8) await src.query(`DELETE FROM t WHERE id = ${id}`);
      else await src.query(`UPDATE t SET n = n + 1 WHERE id BETWEEN ${id} AND ${id + 50}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  const first = sync(['--copy-rate-limit', '4000', '--threads', '2', '--chunk-size', '500']);
  await waitUntil('copy under way', async () => (await client.getAll().prefix('/pg/t/').count()) > 3000, 60_000);
  first.child.kill('SIGKILL');
  await first.exited;
  const second = sync();
  await waitUntil('streaming', () => /copy done|streaming|caught up/i.test(second.stderr() + second.stdout()), 90_000);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  second.child.kill('SIGKILL');
  await second.exited;
  const third = sync();
  await new Promise((resolve) => setTimeout(resolve, 3000));
  writing = false;
  await writes;
  let lastDiff = '';
  await waitUntil('converged', async () => {
    if (third.child.exitCode !== null) throw new Error(`the third run exited: ${third.stderr().slice(-3000)}`);
    const all = await client.getAll().prefix('/pg/t/').strings();
    const { rows } = await src.query<{ id: number; v: string; n: string; at: string }>(`SELECT id, v, n, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at FROM t`);
    const expected = (r: { id: number; v: string; n: string; at: string }) => JSON.stringify({ id: r.id, v: r.v, n: Number(r.n), at: `${r.at.replace(/\.?0+$/, '')}Z` });
    const wrong = rows.filter((r) => all[`/pg/t/${r.id}`] !== expected(r));
    lastDiff = `${rows.length} rows, ${Object.keys(all).length} keys; differ: ${wrong.slice(0, 3).map((r) => `${expected(r)} vs ${all[`/pg/t/${r.id}`]}`).join('; ')}`;
    return rows.length === Object.keys(all).length && wrong.length === 0;
  }, 90_000).catch((err: Error) => {
    throw new Error(`${err.message}: ${lastDiff}`);
  });
  third.child.kill('SIGTERM');
  expect(await third.exited, third.stderr()).toBe(0);
  const v = await runCli(['verify', '--id', 'pg-etcd', '--source', postgres.url('pgsrc'), '--target', etcd.url('pg')], {}, 120_000);
  expect(v.code, v.stdout + v.stderr).toBe(0);
  await src.end();
}, 300_000);
