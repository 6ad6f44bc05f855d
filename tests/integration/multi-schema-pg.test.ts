/**
 * Several schemas of a PostgreSQL source in one sync (issue 14): `--databases` selects schemas of
 * the source URL's database, tables are named `schema.table` as a MySQL source's `db.table`, into a
 * MariaDB target (a database per schema) and a PostgreSQL target (a schema per schema, rewritten),
 * on real servers, under writes, with tables created, altered and moved while streaming, a kill -9
 * and a resume, verify clean; a schema not selected is never copied nor streamed.
 */
import type { Connection } from 'mysql2/promise';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { pgClient } from '../helpers/postgres.js';
import { connect, runCli, startCli, type CliRun } from '../helpers/mysql.js';
import { copyDone, inStep } from '../helpers/converge.js';

let pgServer: Server;
let maria: Server;
let dst: Connection;
const running: CliRun[] = [];
const clients: pg.Client[] = [];

/** Two selected schemas with a table of the same name, and one schema no sync selects. */
const LAYOUT = `
  CREATE SCHEMA s1; CREATE SCHEMA s2; CREATE SCHEMA hidden;
  CREATE TABLE s1.orders (id int PRIMARY KEY, tenant int NOT NULL, note varchar(40));
  CREATE TABLE s2.orders (id int PRIMARY KEY, tenant int NOT NULL, note varchar(40));
  CREATE TABLE hidden.orders (id int PRIMARY KEY, tenant int NOT NULL, note varchar(40));
  CREATE TABLE s1.users (id int PRIMARY KEY, name varchar(40) NOT NULL);
  CREATE TABLE s2.users (id int PRIMARY KEY, name varchar(40) NOT NULL);
  INSERT INTO s1.orders SELECT g, g % 5, 'a' || g FROM generate_series(1, 3000) g;
  INSERT INTO s2.orders SELECT g, g % 7, 'b' || g FROM generate_series(1, 2000) g;
  INSERT INTO hidden.orders SELECT g, 0, 'h' || g FROM generate_series(1, 100) g;
  INSERT INTO s1.users SELECT g, 'u' || g FROM generate_series(1, 300) g;
  INSERT INTO s2.users SELECT g, 'v' || g FROM generate_series(1, 200) g;`;

async function sourceDb(name: string): Promise<pg.Client> {
  const admin = await pgClient(pgServer.url('postgres'));
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const c = await pgClient(pgServer.url(name));
  clients.push(c);
  await c.query(LAYOUT);
  return c;
}

/** Writes into the orders of `schemas` until stopped. */
function writer(url: string, schemas: readonly string[]): { stop: () => Promise<number> } {
  let on = true;
  let n = 0;
  const done = (async () => {
    const c = await pgClient(url);
    try {
      while (on) {
        n++;
        for (const s of schemas) {
          await c.query(`INSERT INTO ${s}.orders VALUES (${5000 + n}, ${n % 5}, 'new') ON CONFLICT (id) DO UPDATE SET note = 'again'`);
          await c.query(`UPDATE ${s}.orders SET note = 'w' || ${n} WHERE id = ${((n * 37) % 1900) + 1}`);
          await c.query(`DELETE FROM ${s}.orders WHERE id = ${((n * 53) % 1900) + 1}`);
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


const json = (x: unknown) => JSON.stringify(x);

beforeAll(async () => {
  [pgServer, maria] = await Promise.all([startPostgres(), startMariaDb({ serverId: 171 })]);
  dst = await connect(maria.url());
}, 120_000);

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  for (const c of clients) await c.end().catch(() => undefined);
  await dst?.end();
  await Promise.all([pgServer?.stop(), maria?.stop()]);
});

describe('--databases on a PostgreSQL source (schemas)', () => {
  it('PostgreSQL → MariaDB: two schemas into two databases under writes; CREATE TABLE, ADD COLUMN and SET SCHEMA while streaming; kill -9 and resume; verify clean; the unselected schema never arrives', async () => {
    const src = await sourceDb('shop');
    await src.query('CREATE TABLE s1.moving (id int PRIMARY KEY); INSERT INTO s1.moving VALUES (1), (2), (3)');
    const ARGS = ['--source', pgServer.url('shop'), '--target', maria.url('meta1'), '--databases', 's?'];
    const w = writer(pgServer.url('shop'), ['s1', 's2', 'hidden']);
    let run = startCli(['sync', ...ARGS, '--flush-interval', '100ms', '--checksum', 'off']);
    running.push(run);
    await copyDone(run, 60_000);
    expect(await w.stop()).toBeGreaterThan(0);
    await src.query('ALTER TABLE s1.orders ADD COLUMN extra int');
    await src.query('UPDATE s1.orders SET extra = id WHERE id < 50');
    await src.query("CREATE TABLE s2.fresh (id int PRIMARY KEY, v text); INSERT INTO s2.fresh VALUES (1, 'a'), (2, 'b')");
    // Moved from one selected schema to the other: followed as a rename.
    await src.query('ALTER TABLE s1.moving SET SCHEMA s2');
    await src.query('INSERT INTO s2.moving VALUES (4)');
    await src.query("CREATE TABLE hidden.fresh (id int PRIMARY KEY); INSERT INTO hidden.fresh VALUES (1); UPDATE hidden.orders SET note = 'x'");
    const q = (sql: string) => dst.query(sql).then(([r]) => json(r)).catch((err: unknown) => `error: ${(err as Error).message}`);
    await inStep('the schema changes on the target', async () => (await q('SELECT id FROM s2.moving ORDER BY id')) === json([1, 2, 3, 4].map((id) => ({ id }))), run);
    run.child.kill('SIGKILL');
    await run.exited;
    await src.query("UPDATE s2.orders SET note = 'while down' WHERE id = 1999; UPDATE s1.orders SET extra = -1 WHERE id = 1000");
    run = startCli(['sync', ...ARGS, '--flush-interval', '100ms', '--checksum', 'off']);
    running.push(run);
    const same = async (table: string, cols: string) => json((await src.query(`SELECT ${cols} FROM ${table} ORDER BY id`)).rows) === (await q(`SELECT ${cols} FROM ${table} ORDER BY id`));
    await inStep(
      'both target databases in step',
      async () =>
        (await same('s1.orders', 'id, tenant, note, extra')) &&
        (await same('s2.orders', 'id, tenant, note')) &&
        (await same('s1.users', 'id, name')) &&
        (await same('s2.users', 'id, name')) &&
        (await same('s2.fresh', 'id, v')) &&
        (await same('s2.moving', 'id')),
      run,
    );
    expect(run.stderr()).toContain('resuming from checkpoint');
    expect(await q("SELECT note FROM s2.orders WHERE id = 1999")).toBe(json([{ note: 'while down' }]));
    const tables = await q("SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ('s1', 's2', 'hidden', 'meta1', 'public') ORDER BY 1");
    expect(tables).toBe(json(['meta1._tributary_checkpoint', 's1.orders', 's1.users', 's2.fresh', 's2.moving', 's2.orders', 's2.users'].map((t) => ({ t }))));
    expect(await q("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'hidden'")).toBe('[]');
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toBe(0);
    const v = await runCli(['verify', ...ARGS], {}, 60_000);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/s1\.orders: \d+ rows checked/);
    expect(v.stdout).toContain('s2.orders:');
    expect(v.stdout).not.toContain('hidden');
  }, 180_000);

  it('PostgreSQL → PostgreSQL: schemas rewritten, --tables with schema.table; a table created in a selected schema is followed, one the patterns leave out is not', async () => {
    const src = await sourceDb('shop2');
    const admin = await pgClient(pgServer.url('postgres'));
    await admin.query('CREATE DATABASE copy2');
    await admin.end();
    const ARGS = ['--source', pgServer.url('shop2'), '--target', pgServer.url('copy2'), '--databases', 's1,s2', '--database-rewrites', 's1=c1,s2=c2', '--tables', 'orders,s1.*'];
    const w = writer(pgServer.url('shop2'), ['s1', 's2', 'hidden']);
    const run = startCli(['sync', ...ARGS, '--flush-interval', '100ms', '--checksum', 'off']);
    running.push(run);
    await copyDone(run, 60_000);
    await w.stop();
    await src.query('ALTER TABLE s2.orders ADD COLUMN extra int; UPDATE s2.orders SET extra = 2 * id WHERE id < 30');
    await src.query("CREATE TABLE s1.later (id int PRIMARY KEY, v text); INSERT INTO s1.later VALUES (1, 'x'), (2, 'y')");
    await src.query("CREATE TABLE s2.later (id int PRIMARY KEY); INSERT INTO s2.later VALUES (1); UPDATE s2.users SET name = 'not synced'");
    const t = await pgClient(pgServer.url('copy2'));
    clients.push(t);
    const same = async (table: string, target: string, cols: string) =>
      json((await src.query(`SELECT ${cols} FROM ${table} ORDER BY id`)).rows) === json((await t.query(`SELECT ${cols} FROM ${target} ORDER BY id`).catch(() => ({ rows: ['(not yet)'] }))).rows);
    await inStep(
      'the PostgreSQL target in step',
      async () =>
        (await same('s1.orders', 'c1.orders', 'id, tenant, note')) &&
        (await same('s2.orders', 'c2.orders', 'id, tenant, note, extra')) &&
        (await same('s1.users', 'c1.users', 'id, name')) &&
        (await same('s1.later', 'c1.later', 'id, v')),
      run,
    );
    const tables = await t.query("SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1");
    expect(tables.rows.map((r: { t: string }) => r.t)).toEqual(['c1.later', 'c1.orders', 'c1.users', 'c2.orders', 'public._tributary_checkpoint']);
    // The publication holds the selected tables of both schemas, and nothing of the others.
    const published = await src.query("SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname LIKE 'tributary_%' ORDER BY 1");
    expect(published.rows.map((r: { t: string }) => r.t)).toEqual(['s1.later', 's1.orders', 's1.users', 's2.orders']);
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toBe(0);
    const v = await runCli(['verify', ...ARGS], {}, 60_000);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain('c2.orders');
  }, 180_000);

  it('without the event trigger: a column change follows from pgoutput Relation messages per schema, and a rename stops the sync naming schema.table', async () => {
    const src = await sourceDb('plain');
    const admin = await pgClient(pgServer.url('postgres'));
    await admin.query('CREATE DATABASE copy4');
    await admin.end();
    const ARGS = ['--source', pgServer.url('plain'), '--target', pgServer.url('copy4'), '--databases', 's1,s2', '--pg-ddl-trigger', 'off'];
    const run = startCli(['sync', ...ARGS, '--flush-interval', '100ms', '--checksum', 'off']);
    running.push(run);
    await copyDone(run, 60_000);
    await src.query('ALTER TABLE s2.orders ADD COLUMN extra int; UPDATE s2.orders SET extra = id WHERE id <= 5');
    await src.query("UPDATE s1.orders SET note = 'same name, other schema' WHERE id <= 5");
    const t = await pgClient(pgServer.url('copy4'));
    clients.push(t);
    const got = (sql: string) => t.query(sql).then((r) => json(r.rows)).catch((err: unknown) => `error: ${(err as Error).message}`);
    await inStep(
      'both orders tables in step',
      async () =>
        (await got('SELECT id, extra FROM s2.orders WHERE id <= 6 ORDER BY id')) === json([1, 2, 3, 4, 5, null].map((x, i) => ({ id: i + 1, extra: x }))) &&
        (await got("SELECT count(*)::int AS n FROM s1.orders WHERE note = 'same name, other schema'")) === json([{ n: 5 }]),
      run,
    );
    expect(await got("SELECT count(*)::int AS n FROM s2.orders WHERE note = 'same name, other schema'")).toBe(json([{ n: 0 }]));
    await src.query('ALTER TABLE s1.users RENAME TO people; INSERT INTO s1.people VALUES (1000, $$x$$)');
    expect(await run.exited).not.toBe(0);
    expect(run.stderr()).toContain('table s1.users ("s1"."users", relation OID');
    expect(run.stderr()).toContain('was renamed to "s1"."people"');
  }, 120_000);

  it('a selected schema without tables gets its target database (rewritten), so a table created there while streaming is synced', async () => {
    const src = await sourceDb('lazy');
    await src.query('CREATE SCHEMA s3');
    const ARGS = ['--source', pgServer.url('lazy'), '--target', maria.url('meta3'), '--databases', 's1,s3', '--database-rewrites', 's1=lazy1,s3=lazy3'];
    const run = startCli(['sync', ...ARGS, '--flush-interval', '100ms', '--checksum', 'off']);
    running.push(run);
    await copyDone(run, 60_000);
    expect(json((await dst.query("SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'lazy%' ORDER BY 1"))[0])).toBe(json([{ s: 'lazy1' }, { s: 'lazy3' }]));
    await src.query("CREATE TABLE s3.born (id int PRIMARY KEY, v text); INSERT INTO s3.born VALUES (1, 'a'), (2, 'b')");
    await src.query("UPDATE s3.born SET v = 'c' WHERE id = 2");
    const q = (sql: string) => dst.query(sql).then(([r]) => json(r)).catch((err: unknown) => `error: ${(err as Error).message}`);
    await inStep('the table created in the empty schema on the target', async () => (await q('SELECT id, v FROM lazy3.born ORDER BY id')) === json([{ id: 1, v: 'a' }, { id: 2, v: 'c' }]), run);
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toBe(0);
  }, 120_000);

  it.each([
    [['--databases', 's1', '--source', 'PG/refuse?schema=s1'], "names schema 's1' and --databases s1 is given"],
    [['--databases', 'nosuch*', '--source', 'PG/refuse'], "--databases 'nosuch*' matches no schema"],
    [['--databases', 's1', '--source', 'PG/refuse', '--tables', 's3.orders'], "pattern 's3.orders' matches no table"],
  ])('refuses %j before writing anything', async (args, message) => {
    if (!clients.some((c) => c.database === 'refuse')) await sourceDb('refuse');
    const r = await runCli(['sync', ...args.map((a) => a.replace('PG/', pgServer.url(''))), '--target', maria.url('refused')], {}, 60_000);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(message);
    const [dbs] = await dst.query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'refused'");
    expect(dbs).toEqual([]);
  }, 60_000);
});
