/**
 * Selective sync from a real PostgreSQL source into etcd (issue 14): a table rewritten and a column
 * excluded, under writes and an ADD COLUMN, through kill -9 during the stream: the keys are under the
 * target name, the objects lack the column, verify is clean with the same rules, and a restart with
 * other rules is refused by name.
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
let src: pg.Client | undefined;
const running: CliRun[] = [];
const RULES = ['--table-rewrites', 'accounts=members', '--exclude-columns', 'accounts.secret'];

beforeAll(async () => {
  [postgres, etcd] = await Promise.all([startPostgres(), startEtcd()]);
  admin = new pg.Client({ connectionString: postgres.url('postgres') });
  await admin.connect();
  client = new Etcd3({ hosts: `http://127.0.0.1:${etcd.port}` });
}, 120_000);

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  client?.close();
  await src?.end().catch(() => undefined);
  await admin?.end();
  await Promise.all([postgres?.stop(), etcd?.stop()]);
});

function sync(rules = RULES): CliRun {
  const run = startCli(['sync', '--source', postgres.url('selsrc'), '--target', etcd.url('sel'), '--id', 'sel-etcd', '--flush-interval', '100ms', ...rules]);
  running.push(run);
  return run;
}

it('writes the rewritten table without the excluded column, through kill -9 and a schema change', async () => {
  await admin.query('CREATE DATABASE selsrc');
  const c = new pg.Client({ connectionString: postgres.url('selsrc') });
  src = c;
  await c.connect();
  await c.query(`CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL, secret text, n int NOT NULL DEFAULT 0);
    INSERT INTO accounts SELECT g, 'a' || g, 's' || g FROM generate_series(1, 5000) g;`);
  let writing = true;
  let i = 0;
  const writes = (async () => {
    while (writing) {
      i++;
      await c.query(`INSERT INTO accounts (id, name, secret) VALUES (${5000 + i}, 'new', 'hidden') ON CONFLICT (id) DO UPDATE SET n = accounts.n + 1`);
      await c.query(`UPDATE accounts SET secret = 'x' || ${i}, n = n + 1 WHERE id = ${(i * 31) % 5000 + 1}`);
      await c.query(`DELETE FROM accounts WHERE id = ${(i * 17) % 5000 + 1}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  const first = sync();
  await waitUntil('copy done', () => first.stderr().includes('initial copy done') || first.child.exitCode !== null, 90_000);
  expect(first.child.exitCode, first.stderr().slice(-3000)).toBeNull();
  await c.query('ALTER TABLE accounts ADD COLUMN tag text');
  await c.query("UPDATE accounts SET tag = 't' WHERE id < 50");
  await new Promise((r) => setTimeout(r, 1500));
  first.child.kill('SIGKILL');
  await first.exited;

  // Other rules than the checkpoint's are refused before anything is written.
  const other = await runCli(['sync', '--source', postgres.url('selsrc'), '--target', etcd.url('sel'), '--id', 'sel-etcd', '--table-rewrites', 'accounts=members'], {}, 60_000);
  expect(other.code, other.stderr).not.toBe(0);
  expect(other.stderr).toContain('was synced under other --table-rewrites or --exclude-columns');

  const second = sync();
  await new Promise((r) => setTimeout(r, 1500));
  writing = false;
  await writes;
  const want = async () => {
    const r = await c.query<{ id: number; name: string; n: number; tag: string | null }>('SELECT id, name, n, tag FROM accounts ORDER BY id');
    return r.rows;
  };
  const got = async () => {
    const all = await client.getAll().prefix('/sel/members/').strings();
    return Object.values(all)
      .map((text) => JSON.parse(text) as Record<string, unknown>)
      .sort((a, b) => Number(a.id) - Number(b.id));
  };
  await waitUntil('etcd in step', async () => {
    const [w, g] = await Promise.all([want(), got()]);
    return w.length === g.length && w.every((r, j) => String(g[j]?.id) === String(r.id) && g[j]?.n === r.n && g[j]?.name === r.name && (g[j]?.tag ?? null) === r.tag);
  }, 90_000).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${second.stderr().slice(-3000)}`);
  });
  const objects = await got();
  expect(objects.every((o) => !('secret' in o))).toBe(true);
  expect(objects[0]).toHaveProperty('tag');
  expect(await client.getAll().prefix('/sel/accounts/').count()).toBe(0);
  second.child.kill('SIGTERM');
  expect(await second.exited, second.stderr().slice(-3000)).toBe(0);
  const v = await runCli(['verify', '--source', postgres.url('selsrc'), '--target', etcd.url('sel'), '--id', 'sel-etcd', ...RULES], {}, 120_000);
  expect(v.code, v.stdout + v.stderr).toBe(0);
}, 300_000);
