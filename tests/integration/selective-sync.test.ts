/**
 * Selective sync through the CLI on real servers (issue 14): --table-rewrites and --exclude-columns
 * from MariaDB into MariaDB and into PostgreSQL while the source takes writes and schema changes,
 * verify clean with the same rules, and every refusal before anything is written.
 */
import type { Connection } from 'mysql2/promise';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { connect, runCli, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import { pgClient } from '../helpers/postgres.js';
import { copyDone } from '../helpers/converge.js';

let source: Server;
let target: Server;
let pgServer: Server;
let src: Connection;
let dst: Connection;
let pgc: pg.Client;
const running: CliRun[] = [];

const SCHEMA = `
  CREATE TABLE orders (id INT PRIMARY KEY, tenant INT NOT NULL, secret VARCHAR(40), note VARCHAR(40), KEY k_secret (secret), KEY k_tenant (tenant));
  CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(40) NOT NULL, pw VARBINARY(32));
  CREATE TABLE audit (id INT PRIMARY KEY, what VARCHAR(40));
  INSERT INTO orders SELECT seq, seq % 5, CONCAT('s', seq), CONCAT('n', seq) FROM seq_1_to_3000;
  INSERT INTO users SELECT seq, CONCAT('u', seq), UNHEX(MD5(seq)) FROM seq_1_to_500;
  INSERT INTO audit SELECT seq, 'x' FROM seq_1_to_10;`;

const RULES = ['--table-rewrites', 'orders=orders_copy,users=people', '--exclude-columns', 'orders.secret,users.pw'];

/** Writes spread over the key range until stopped: inserts, updates of kept and excluded columns, deletes. */
function writer(db: string): { stop: () => Promise<void> } {
  let on = true;
  let n = 0;
  const done = (async () => {
    const c = await connect(source.url(db));
    try {
      while (on) {
        n++;
        await c.query(`INSERT INTO orders (id, tenant, secret, note) VALUES (${3000 + n}, ${n % 5}, 'new', 'n') ON DUPLICATE KEY UPDATE note = 'again'`);
        await c.query(`UPDATE orders SET note = CONCAT('u', ${n}), secret = 'changed' WHERE id = ${(n * 37) % 3000 + 1}`);
        await c.query(`DELETE FROM orders WHERE id = ${(n * 53) % 3000 + 1}`);
        await c.query(`UPDATE users SET pw = UNHEX('00'), name = CONCAT('w', ${n}) WHERE id = ${(n * 7) % 500 + 1}`);
      }
    } finally {
      await c.end();
    }
  })();
  return {
    stop: async () => {
      on = false;
      await done;
    },
  };
}

async function mysqlRows(c: Connection, sql: string): Promise<string> {
  const [rows] = await c.query(sql);
  return JSON.stringify(rows);
}

/** mysqlRows, or the error's text while the target has not caught up with a schema change yet (a waitUntil keeps polling). */
async function rowsOrError(c: Connection, sql: string): Promise<string> {
  return mysqlRows(c, sql).catch((err: unknown) => `error: ${(err as Error).message}`);
}

beforeAll(async () => {
  [source, target, pgServer] = await Promise.all([startMariaDb({ serverId: 141 }), startMariaDb({ serverId: 142 }), startPostgres()]);
  src = await connect(source.url());
  dst = await connect(target.url());
  pgc = await pgClient(pgServer.url('postgres'));
  for (const db of ['sel', 'selpg', 'refuse']) await src.query(`CREATE DATABASE ${db}; USE ${db}; ${SCHEMA}`);
  await pgc.query('CREATE DATABASE selpg');
}, 180_000);

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await src?.end();
  await dst?.end();
  await pgc?.end();
  await Promise.all([source?.stop(), target?.stop(), pgServer?.stop()]);
});

describe('--table-rewrites and --exclude-columns', () => {
  it('MariaDB → MariaDB: renamed tables without the excluded columns, through writes and schema changes; verify clean', async () => {
    const w = writer('sel');
    const run = startCli(['sync', '--source', source.url('sel'), '--target', target.url('sel'), '--flush-interval', '100ms', '--checksum-interval', '1s', ...RULES]);
    running.push(run);
    await copyDone(run, 90_000);
    // Schema changes: one on a kept column, ones on excluded columns and their index, a new table.
    await src.query('USE sel');
    await src.query('ALTER TABLE orders ADD COLUMN extra INT NULL AFTER secret');
    await src.query('ALTER TABLE orders MODIFY secret VARCHAR(80)');
    await src.query('ALTER TABLE users ADD INDEX k_pw (pw)');
    await src.query('UPDATE orders SET extra = id WHERE id < 100');
    await w.stop();
    const cols = async (t: string) => (await mysqlRows(dst, `SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'sel' AND TABLE_NAME = '${t}' ORDER BY ORDINAL_POSITION`));
    await waitUntil('the target in step', async () =>
      (await mysqlRows(src, 'SELECT id, tenant, extra, note FROM sel.orders ORDER BY id')) === (await rowsOrError(dst, 'SELECT id, tenant, extra, note FROM sel.orders_copy ORDER BY id')) &&
      (await mysqlRows(src, 'SELECT id, name FROM sel.users ORDER BY id')) === (await rowsOrError(dst, 'SELECT id, name FROM sel.people ORDER BY id')), 60_000);
    expect(await cols('orders_copy')).toBe(JSON.stringify([{ COLUMN_NAME: 'id' }, { COLUMN_NAME: 'tenant' }, { COLUMN_NAME: 'extra' }, { COLUMN_NAME: 'note' }]));
    expect(await cols('people')).toBe(JSON.stringify([{ COLUMN_NAME: 'id' }, { COLUMN_NAME: 'name' }]));
    expect(await cols('orders')).toBe('[]');
    expect(await mysqlRows(dst, "SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'sel' AND TABLE_NAME = 'orders_copy' ORDER BY INDEX_NAME")).not.toContain('k_secret');
    expect(await mysqlRows(src, 'SELECT * FROM sel.audit ORDER BY id')).toBe(await mysqlRows(dst, 'SELECT * FROM sel.audit ORDER BY id'));
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toBe(0);
    const v = await runCli(['verify', '--source', source.url('sel'), '--target', target.url('sel'), ...RULES], {}, 120_000);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    // The same verify without the rules finds the tables it expects missing: the rules are what made them equal.
    const bare = await runCli(['verify', '--source', source.url('sel'), '--target', target.url('sel'), '--tables', 'orders'], {}, 120_000);
    expect(bare.code).not.toBe(0);
  }, 300_000);

  it('MariaDB → PostgreSQL: the same rules, the target created without the columns', async () => {
    const w = writer('selpg');
    const run = startCli(['sync', '--source', source.url('selpg'), '--target', pgServer.url('selpg'), '--flush-interval', '100ms', ...RULES]);
    running.push(run);
    await copyDone(run, 90_000);
    await w.stop();
    const t = await pgClient(pgServer.url('selpg'));
    try {
      await waitUntil('PostgreSQL in step', async () => {
        const [want] = await src.query('SELECT id, tenant, note FROM selpg.orders ORDER BY id');
        const got = await t.query('SELECT id, tenant, note FROM orders_copy ORDER BY id');
        return JSON.stringify(want) === JSON.stringify(got.rows);
      }, 60_000);
      const cols = await t.query("SELECT column_name FROM information_schema.columns WHERE table_name IN ('orders_copy', 'people') ORDER BY table_name, ordinal_position");
      expect(cols.rows.map((r: { column_name: string }) => r.column_name)).toEqual(['id', 'tenant', 'note', 'id', 'name']);
    } finally {
      await t.end();
    }
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toBe(0);
    const v = await runCli(['verify', '--source', source.url('selpg'), '--target', pgServer.url('selpg'), ...RULES], {}, 120_000);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  }, 300_000);

  it('--dry-run and check print the target names and every rule, and the DDL without the excluded columns', async () => {
    const plan = await runCli(['sync', '--dry-run', '--source', source.url('refuse'), '--target', pgServer.url('nowhere'), ...RULES], {}, 60_000);
    expect(plan.stdout).toContain('orders → orders_copy: ~');
    expect(plan.stdout).toContain('users → people: ~');
    expect(plan.stdout).toMatch(/selective sync:\n {2}orders → orders_copy\n {2}users → people\n {2}orders: without secret\n {2}users: without pw/);
    expect(plan.stdout).toMatch(/CREATE TABLE[^;]*"orders_copy"/);
    expect(plan.stdout).not.toMatch(/"secret"|"pw"/);
    const check = await runCli(['check', '--source', source.url('refuse'), '--target', target.url('refuse'), ...RULES], {}, 60_000);
    expect(check.stdout).toContain('table orders_copy');
    expect(check.stdout).toContain('from source table orders');
    expect(check.stdout).toContain('users: without pw');
  }, 120_000);

  it.each([
    [['--table-rewrites', 'orders=x,users=x'], "maps both 'orders' and 'users' onto target table 'x'"],
    [['--table-rewrites', 'orders=audit'], "under the name of synced table 'audit'"],
    [['--table-rewrites', 'ordrs=x'], "names table 'ordrs', which the source database does not have"],
    [['--tables', 'users', '--table-rewrites', 'orders=x'], "names table 'orders', which the sync does not take"],
    [['--exclude-columns', 'orders.id'], 'orders.id: id is a column of the table'],
    [['--exclude-columns', 'orders.nope'], 'table orders has no column nope'],
    [['--exclude-columns', 'orders'], "entry 'orders' is not table.column"],
    [['--where', 'orders tenant = 1'], "is not 'TABLE: EXPRESSION'"],
  ])('refuses %j before writing anything', async (args, message) => {
    const r = await runCli(['sync', '--source', source.url('refuse'), '--target', target.url('refuse'), ...args], {}, 60_000);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(message);
    const [dbs] = await dst.query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'refuse'");
    expect(dbs).toEqual([]);
  }, 60_000);
});
