/**
 * Several databases in one sync (issue 14): `--databases` with a MySQL source URL that names none,
 * `--database-rewrites`, `db.table` patterns in --tables and the other rules, on real MariaDB servers
 * (and etcd), while both databases take writes and schema changes; verify clean; resume after
 * kill -9; and every refusal before anything is written.
 */
import { Etcd3 } from 'etcd3';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { pgClient } from '../helpers/postgres.js';
import { connect, runCli, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import { copyDone, inStep } from '../helpers/converge.js';

let source: Server;
let target: Server;
let etcd: Server;
let pgServer: Server;
let src: Connection;
let dst: Connection;
const running: CliRun[] = [];

const SCHEMA = `
  CREATE TABLE orders (id INT PRIMARY KEY, tenant INT NOT NULL, note VARCHAR(40));
  CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(40) NOT NULL);
  INSERT INTO orders SELECT seq, seq % 5, CONCAT('n', seq) FROM seq_1_to_3000;
  INSERT INTO users SELECT seq, CONCAT('u', seq) FROM seq_1_to_500;`;

/** Writes into every table of `dbs` until stopped: inserts, updates, deletes. */
function writer(dbs: readonly string[]): { stop: () => Promise<number> } {
  let on = true;
  let n = 0;
  const done = (async () => {
    const c = await connect(source.url());
    try {
      while (on) {
        n++;
        for (const db of dbs) {
          await c.query(`INSERT INTO ${db}.orders (id, tenant, note) VALUES (${3000 + n}, ${n % 5}, 'new') ON DUPLICATE KEY UPDATE note = 'again'`);
          await c.query(`UPDATE ${db}.orders SET note = CONCAT('u', ${n}) WHERE id = ${(n * 37) % 3000 + 1}`);
          await c.query(`DELETE FROM ${db}.orders WHERE id = ${(n * 53) % 3000 + 1}`);
          await c.query(`UPDATE ${db}.users SET name = CONCAT('w', ${n}) WHERE id = ${(n * 7) % 500 + 1}`);
        }
      }
    } finally {
      await c.end();
    }
    return n;
  })();
  return {
    stop: async () => {
      on = false;
      return done;
    },
  };
}

async function rows(c: Connection, sql: string): Promise<string> {
  return c.query(sql).then(([r]) => JSON.stringify(r)).catch((err: unknown) => `error: ${(err as Error).message}`);
}


const tablesOf = async (db: string) => rows(dst, `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db}' ORDER BY TABLE_NAME`);

beforeAll(async () => {
  [source, target, etcd, pgServer] = await Promise.all([startMariaDb({ serverId: 151 }), startMariaDb({ serverId: 152 }), startEtcd(), startPostgres()]);
  src = await connect(source.url());
  dst = await connect(target.url());
  for (const db of ['shop1', 'shop2', 'other', 'kv1', 'kv2', 'pg1', 'pg2', 'refuse1', 'refuse2']) await src.query(`CREATE DATABASE ${db}; USE ${db}; ${SCHEMA}`);
}, 180_000);

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await src?.end();
  await dst?.end();
  await Promise.all([source?.stop(), target?.stop(), etcd?.stop(), pgServer?.stop()]);
});

describe('--databases', () => {
  it('MariaDB → MariaDB: two databases into one target under rewritten names while both take writes and schema changes; kill -9 and resume; verify clean', async () => {
    const ARGS = ['--source', source.url(), '--target', target.url('tributary_meta'), '--databases', 'shop*', '--database-rewrites', 'shop1=copy1,shop2=copy2'];
    const w = writer(['shop1', 'shop2', 'other']);
    let run = startCli(['sync', ...ARGS, '--flush-interval', '100ms', '--checksum-interval', '1s']);
    running.push(run);
    await copyDone(run, 90_000);
    // Schema changes in both databases: a column, a table created with rows, a rename within one, a
    // table renamed from one synced database into the other.
    await src.query('ALTER TABLE shop1.orders ADD COLUMN extra INT NULL');
    await src.query('UPDATE shop1.orders SET extra = id WHERE id < 100');
    const writes = await w.stop();
    expect(writes).toBeGreaterThan(0);
    await src.query('CREATE TABLE shop2.fresh (id INT PRIMARY KEY, v VARCHAR(10))');
    await src.query("INSERT INTO shop2.fresh VALUES (1, 'a'), (2, 'b')");
    await src.query('RENAME TABLE shop2.users TO shop2.people');
    await src.query('CREATE TABLE shop1.moving (id INT PRIMARY KEY)');
    await src.query('INSERT INTO shop1.moving VALUES (1), (2), (3)');
    await src.query('RENAME TABLE shop1.moving TO shop2.moved');
    await src.query('INSERT INTO shop2.moved VALUES (4)');
    // Killed mid-stream once the schema changes are on the target, resumed from the checkpoint in tributary_meta.
    await waitUntil('the schema changes applied', async () => (await rows(dst, 'SELECT id FROM copy2.moved ORDER BY id')) === JSON.stringify([1, 2, 3, 4].map((id) => ({ id }))) && (await tablesOf('copy2')).includes('people'), 60_000);
    run.child.kill('SIGKILL');
    await run.exited;
    await src.query("UPDATE shop2.people SET name = 'while down' WHERE id = 1");
    run = startCli(['sync', ...ARGS, '--flush-interval', '100ms', '--checksum-interval', '1s']);
    running.push(run);
    const same = async (a: string, b: string) => (await rows(src, a)) === (await rows(dst, b));
    await inStep(
      'both target databases in step',
      async () =>
        (await same('SELECT * FROM shop1.orders ORDER BY id', 'SELECT * FROM copy1.orders ORDER BY id')) &&
        (await same('SELECT * FROM shop1.users ORDER BY id', 'SELECT * FROM copy1.users ORDER BY id')) &&
        (await same('SELECT * FROM shop2.orders ORDER BY id', 'SELECT * FROM copy2.orders ORDER BY id')) &&
        (await same('SELECT * FROM shop2.people ORDER BY id', 'SELECT * FROM copy2.people ORDER BY id')) &&
        (await same('SELECT * FROM shop2.fresh ORDER BY id', 'SELECT * FROM copy2.fresh ORDER BY id')) &&
        (await same('SELECT * FROM shop2.moved ORDER BY id', 'SELECT * FROM copy2.moved ORDER BY id')),
      run,
      90_000,
    );
    expect(run.stderr()).toContain('resuming from checkpoint');
    expect(await rows(dst, 'SELECT name FROM copy2.people WHERE id = 1')).toBe(JSON.stringify([{ name: 'while down' }]));
    // Each database's tables in its own target database, nothing under the source names, nothing of `other`.
    expect(await tablesOf('copy1')).toBe(JSON.stringify([{ TABLE_NAME: 'orders' }, { TABLE_NAME: 'users' }]));
    expect(await tablesOf('copy2')).toBe(JSON.stringify(['fresh', 'moved', 'orders', 'people'].map((TABLE_NAME) => ({ TABLE_NAME }))));
    for (const db of ['shop1', 'shop2', 'other']) expect(await tablesOf(db)).toBe('[]');
    // The checkpoint lives in the target URL's database only.
    expect(await tablesOf('tributary_meta')).toBe(JSON.stringify([{ TABLE_NAME: '_tributary_checkpoint' }]));
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toBe(0);
    const v = await runCli(['verify', ...ARGS], {}, 120_000);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain('copy1.orders: 3000 rows checked');
    // A row changed behind the sync's back is found by the same verify.
    await dst.query("UPDATE copy2.orders SET note = 'tampered' WHERE id = 2");
    const dirty = await runCli(['verify', ...ARGS, '--rechecks', '0'], {}, 120_000);
    expect(dirty.code, dirty.stdout).not.toBe(0);
    expect(dirty.stdout).toContain('copy2.orders');
  }, 360_000);

  it('a sync of one database resumes after kill -9 past a followed ALTER (its stored definition has no CREATE text)', async () => {
    await src.query(`CREATE DATABASE single; USE single; ${SCHEMA}`);
    const args = ['sync', '--source', source.url('single'), '--target', target.url('single'), '--flush-interval', '100ms', '--checksum', 'off'];
    const first = startCli(args);
    running.push(first);
    await copyDone(first, 60_000);
    await src.query('ALTER TABLE single.orders ADD COLUMN extra INT NULL');
    await src.query('UPDATE single.orders SET extra = 7 WHERE id = 1');
    await waitUntil('the ALTER and its row on the target', async () => (await rows(dst, 'SELECT extra FROM single.orders WHERE id = 1')) === JSON.stringify([{ extra: 7 }]), 30_000);
    first.child.kill('SIGKILL');
    await first.exited;
    await src.query('UPDATE single.orders SET extra = 8 WHERE id = 2');
    const second = startCli(args);
    running.push(second);
    await waitUntil('the row written while it was down', async () => (await rows(dst, 'SELECT extra FROM single.orders WHERE id = 2')) === JSON.stringify([{ extra: 8 }]) || second.child.exitCode !== null, 60_000);
    expect(second.child.exitCode, second.stderr()).toBe(null);
    expect(second.stderr()).toContain('resuming from checkpoint');
    second.child.kill('SIGTERM');
    expect(await second.exited, second.stderr()).toBe(0);
  }, 120_000);

  it('a selected database without tables gets its target database (rewritten), so a table created there while streaming is synced', async () => {
    await src.query(`CREATE DATABASE lazy1; USE lazy1; ${SCHEMA} CREATE DATABASE lazy2`);
    const run = startCli(['sync', '--source', source.url(), '--target', target.url('lazy_meta'), '--databases', 'lazy*', '--database-rewrites', 'lazy2=late2', '--flush-interval', '100ms', '--checksum', 'off']);
    running.push(run);
    await copyDone(run, 60_000);
    expect(await tablesOf('late2')).toBe('[]');
    expect(await rows(dst, "SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'late2'")).toBe(JSON.stringify([{ s: 'late2' }]));
    await src.query("CREATE TABLE lazy2.born (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO lazy2.born VALUES (1, 'a'), (2, 'b'); UPDATE lazy2.born SET v = 'c' WHERE id = 2");
    await inStep('the table created in the empty database on the target', async () => (await rows(dst, 'SELECT id, v FROM late2.born ORDER BY id')) === JSON.stringify([{ id: 1, v: 'a' }, { id: 2, v: 'c' }]), run, 60_000);
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toBe(0);
  }, 120_000);

  it('db.table patterns in --tables and the rules; a bare pattern takes the table in every database; into etcd under qualified keys', async () => {
    const prefix = '/multi';
    const run = startCli([
      'sync', '--source', source.url(), '--target', etcd.url('multi'), '--databases', 'kv1,kv2', '--tables', 'orders,kv2.users',
      '--database-rewrites', 'kv2=k2', '--table-rewrites', 'kv1.orders=o1', '--where', 'kv2.orders: tenant = 1', '--flush-interval', '100ms', '--checksum', 'off',
    ]);
    running.push(run);
    await copyDone(run, 90_000);
    await src.query("UPDATE kv1.orders SET note = 'streamed' WHERE id = 5");
    await src.query("UPDATE kv2.orders SET note = 'streamed' WHERE id = 6");
    await src.query("UPDATE kv1.users SET name = 'not synced' WHERE id = 1");
    const client = new Etcd3({ hosts: `http://127.0.0.1:${etcd.port}` });
    const keys = (table: string) => client.getAll().prefix(`${prefix}/${table}/`).count();
    await waitUntil('the copy into etcd', async () => (await keys('kv1.o1')) === 3000 && (await keys('k2.orders')) === 600 && (await keys('k2.users')) === 500, 60_000);
    expect(await keys('kv1.users')).toBe(0);
    expect(await keys('kv1.orders')).toBe(0);
    const get = async (key: string) => {
      const v = await client.get(key).string();
      return v === null ? undefined : (JSON.parse(v) as Record<string, unknown>);
    };
    await waitUntil('the stream into etcd', async () => (await get(`${prefix}/kv1.o1/5`))?.note === 'streamed' && (await get(`${prefix}/k2.orders/6`))?.note === 'streamed', 30_000);
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toBe(0);
    client.close();
  }, 240_000);

  it('--dry-run prints qualified source and target names and the database rewrites', async () => {
    const plan = await runCli(['sync', '--dry-run', '--source', source.url(), '--target', target.url('meta_plan'), '--databases', 'refuse*', '--database-rewrites', 'refuse1=r1'], {}, 60_000);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('refuse1.orders → r1.orders: ~');
    expect(plan.stdout).toContain('database refuse1 → r1');
    expect(plan.stdout).toMatch(/CREATE TABLE IF NOT EXISTS `r1`\.`orders`/);
    expect(plan.stdout).toMatch(/CREATE TABLE IF NOT EXISTS `refuse2`\.`users`/);
    expect(plan.stdout).toMatch(/CREATE DATABASE `r1`/);
    expect(await tablesOf('r1')).toBe('[]');
    // --force names every database it would drop, not only the target URL's.
    const forced = await runCli(['sync', '--dry-run', '--force', '--source', source.url(), '--target', target.url('meta_plan'), '--databases', 'refuse*', '--database-rewrites', 'refuse1=r1'], {}, 60_000);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('--force: database meta_plan (every table in it, the checkpoints of other syncs into it included), and databases r1, refuse2 (every table in them) would be dropped and recreated');
  }, 60_000);

  it('check reads every target database (schema) of the sync: exists or may be created, may be written', async () => {
    await dst.query("CREATE USER 'limited'@'%' IDENTIFIED BY 'lpw'");
    await dst.query("GRANT ALL ON `chk_meta`.* TO 'limited'@'%'");
    await dst.query("GRANT ALL ON `chk1`.* TO 'limited'@'%'");
    const limited = `mysql://limited:lpw@127.0.0.1:${target.port}/chk_meta`;
    const r = await runCli(['check', '--source', source.url(), '--databases', 'refuse*', '--database-rewrites', 'refuse1=chk1,refuse2=chk2', '--target', limited], {}, 60_000);
    expect(r.code, r.stdout + r.stderr).not.toBe(0);
    expect(r.stdout).toMatch(/✔ target database chk1: does not exist: sync will create it/);
    expect(r.stdout).toMatch(/✔ privileges on chk1: SELECT, INSERT/);
    expect(r.stdout).toMatch(/✘ target database chk2: does not exist, and user 'limited' may not create it; fix: CREATE DATABASE `chk2`.* as a user that may, or GRANT CREATE ON `chk2`\.\* TO/);
    expect(r.stdout).toMatch(/✘ privileges on chk2: missing SELECT/);
    expect(r.stdout).not.toContain('lpw');
    // A PostgreSQL target: each schema.
    const pgc = await pgClient(pgServer.url('postgres'));
    await pgc.query('CREATE DATABASE chkpg');
    await pgc.end();
    const pg = await runCli(['check', '--source', source.url(), '--databases', 'refuse*', '--database-rewrites', 'refuse1=s1', '--target', pgServer.url('chkpg')], {}, 60_000);
    expect(pg.stdout).toMatch(/✔ schema s1: does not exist: sync will create it \(CREATE SCHEMA "s1"\)/);
    expect(pg.stdout).toMatch(/✔ schema refuse2: does not exist: sync will create it/);
  }, 120_000);

  it.each([
    [['--source', 'SOURCE/refuse1', '--databases', 'refuse1'], "names database 'refuse1' and --databases refuse1 is given"],
    [['--source', 'SOURCE/refuse1', '--database-rewrites', 'refuse1=x'], 'is given without --databases'],
    [['--source', 'SOURCE', '--databases', 'nosuch*'], "--databases 'nosuch*' matches no database"],
    [['--source', 'SOURCE', '--databases', 'refuse*', '--database-rewrites', 'refuse1=x,refuse2=x'], "maps both 'refuse1' and 'refuse2' onto target database 'x'"],
    [['--source', 'SOURCE', '--databases', 'refuse*', '--database-rewrites', 'refuse1=refuse2'], "writes database refuse1 into 'refuse2', a synced database that keeps its own name"],
    [['--source', 'SOURCE/refuse1', '--table-rewrites', 'orders=prod.orders'], "names 'prod.orders': a table as db.table is for a sync of several databases"],
    [['--source', 'SOURCE', '--databases', 'refuse*', '--database-rewrites', 'refuse1=mysql'], "target database 'mysql' of a sync of several databases is one of the server's own databases"],
    [['--source', 'SOURCE', '--databases', 'refuse*', '--tables', 'refuse3.orders'], "pattern 'refuse3.orders' matches no table"],
    [['--source', 'SOURCE', '--databases', 'refuse*', '--database-rewrites', 'nosuch=x'], "names database 'nosuch', which the sync does not take"],
  ])('refuses %j before writing anything', async (args, message) => {
    const r = await runCli(['sync', ...args.map((a) => (a.startsWith('SOURCE') ? a.replace('SOURCE', source.url().replace(/\/$/, '')) : a)), '--target', target.url('refused')], {}, 60_000);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(message);
    const [dbs] = await dst.query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('refused', 'x', 'refuse1', 'refuse2')");
    expect(dbs).toEqual([]);
  }, 60_000);

  it('MariaDB → PostgreSQL: each database into a schema of its name (rewritten), a table moved between them; verify clean', async () => {
    const pgc = await pgClient(pgServer.url('postgres'));
    await pgc.query('CREATE DATABASE multi');
    await pgc.end();
    // --column-types by source names: db.table.column for one table, a bare table.column in every database.
    const ARGS = ['--source', source.url(), '--target', pgServer.url('multi'), '--databases', 'pg1,pg2', '--database-rewrites', 'pg1=first', '--column-types', 'pg1.orders.note=text,users.name=varchar(100)'];
    const w = writer(['pg1', 'pg2']);
    const run = startCli(['sync', ...ARGS, '--flush-interval', '100ms', '--checksum-interval', '1s']);
    running.push(run);
    await copyDone(run, 90_000);
    await w.stop();
    await src.query('ALTER TABLE pg2.users ADD COLUMN extra INT NULL');
    await src.query('UPDATE pg2.users SET extra = id WHERE id < 10');
    await src.query('RENAME TABLE pg1.users TO pg2.users_from_1');
    await src.query("UPDATE pg2.users_from_1 SET name = 'moved' WHERE id = 3");
    const t = await pgClient(pgServer.url('multi'));
    try {
      const same = async (mysqlSql: string, pgSql: string) => {
        const [want] = await src.query(mysqlSql);
        const got = await t.query(pgSql).catch(() => ({ rows: ['(not yet)'] }));
        return JSON.stringify(want) === JSON.stringify(got.rows);
      };
      await inStep(
        'PostgreSQL in step',
        async () =>
          (await same('SELECT id, tenant, note FROM pg1.orders ORDER BY id', 'SELECT id, tenant, note FROM first.orders ORDER BY id')) &&
          (await same('SELECT id, tenant, note FROM pg2.orders ORDER BY id', 'SELECT id, tenant, note FROM pg2.orders ORDER BY id')) &&
          (await same('SELECT id, name, extra FROM pg2.users ORDER BY id', 'SELECT id, name, extra FROM pg2.users ORDER BY id')) &&
          (await same('SELECT id, name FROM pg2.users_from_1 ORDER BY id', 'SELECT id, name FROM pg2.users_from_1 ORDER BY id')),
        run,
        90_000,
      );
      const tables = await t.query("SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1");
      expect(tables.rows.map((r: { t: string }) => r.t)).toEqual(['first.orders', 'pg2.orders', 'pg2.users', 'pg2.users_from_1', 'public._tributary_checkpoint']);
      const types = await t.query("SELECT table_schema || '.' || table_name || '.' || column_name || ' ' || data_type || coalesce('(' || character_maximum_length || ')', '') AS c FROM information_schema.columns WHERE column_name IN ('note', 'name') AND table_schema IN ('first', 'pg2') ORDER BY 1");
      expect(types.rows.map((r: { c: string }) => r.c)).toEqual([
        'first.orders.note text',
        'pg2.orders.note character varying(40)',
        'pg2.users.name character varying(100)',
        'pg2.users_from_1.name character varying(100)',
      ]);
    } finally {
      await t.end();
    }
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toBe(0);
    const v = await runCli(['verify', ...ARGS], {}, 120_000);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain('first.orders');
  }, 300_000);

  it('gh-ost under --databases: the shadow of one database\'s table is followed to the swap, never created on the target; the other database alike-named table untouched', async () => {
    for (const db of ['osc1', 'osc2']) await src.query(`CREATE DATABASE ${db}; USE ${db}; ${SCHEMA}`);
    const ARGS = ['--source', source.url(), '--target', target.url('osc_meta'), '--databases', 'osc1,osc2'];
    const run = startCli(['sync', ...ARGS, '--flush-interval', '100ms']);
    running.push(run);
    await copyDone(run, 90_000);
    const w = writer(['osc1', 'osc2']);
    // gh-ost's statements on osc2.orders, run from another database (the session's is osc1).
    const c = await connect(source.url('osc1'));
    const q = (sql: string) => c.query(sql);
    await q('create /* gh-ost */ table `osc2`.`_orders_ghc` (id bigint auto_increment, hint varchar(64) not null, value varchar(4096) not null, primary key(id), unique key hint_uidx(hint))');
    await q('create /* gh-ost */ table `osc2`.`_orders_gho` like `osc2`.`orders`');
    await q("alter /* gh-ost */ table `osc2`.`_orders_gho` ADD COLUMN grade VARCHAR(8) NOT NULL DEFAULT 'b'");
    await q("insert /* gh-ost */ into `osc2`.`_orders_ghc` (hint, value) values ('state', 'GhostTableMigrated')");
    await q('insert /* gh-ost */ ignore into `osc2`.`_orders_gho` (id, tenant, note) (select id, tenant, note from `osc2`.`orders` lock in share mode)');
    await w.stop();
    await q('replace /* gh-ost */ into `osc2`.`_orders_gho` (id, tenant, note) select id, tenant, note from `osc2`.`orders`');
    await q('delete /* gh-ost */ from `osc2`.`_orders_gho` where id not in (select id from `osc2`.`orders`)');
    await q('rename /* gh-ost */ table `osc2`.`orders` to `osc2`.`_orders_del`, `osc2`.`_orders_gho` to `osc2`.`orders`');
    await q('drop /* gh-ost */ table if exists `osc2`.`_orders_ghc`');
    await q("INSERT INTO osc2.orders (id, tenant, note, grade) VALUES (99001, 1, 'after', 'a')");
    await c.end();
    const same = async (sql: string) => (await rows(src, sql)) === (await rows(dst, sql));
    await inStep('both databases in step after the swap', async () => (await same('SELECT * FROM osc2.orders ORDER BY id')) && (await same('SELECT * FROM osc1.orders ORDER BY id')), run);
    expect(await rows(dst, "SELECT grade FROM osc2.orders WHERE id = 99001")).toBe(JSON.stringify([{ grade: 'a' }]));
    expect(await tablesOf('osc2')).toBe(JSON.stringify([{ TABLE_NAME: 'orders' }, { TABLE_NAME: 'users' }]));
    expect(await rows(dst, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'osc1' AND TABLE_NAME = 'orders' ORDER BY ORDINAL_POSITION")).not.toContain('grade');
    // Never created on the target: no statement nor row event of the target's binlog names a tool's
    // table, but for the shadow's definition the checkpoint stores while the tool runs.
    const [events] = (await dst.query('SHOW BINLOG EVENTS')) as unknown as [{ Info: string }[]];
    const [logs] = (await dst.query('SHOW BINARY LOGS')) as unknown as [{ Log_name: string }[]];
    const all = [...events];
    for (const l of logs.slice(1)) all.push(...((await dst.query(`SHOW BINLOG EVENTS IN '${l.Log_name}'`)) as unknown as [{ Info: string }[]])[0]);
    expect(all.filter((e) => /_orders_(gho|ghc|del)/.test(e.Info) && !e.Info.includes('_tributary_checkpoint')).map((e) => e.Info)).toEqual([]);
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toBe(0);
  }, 240_000);
});
