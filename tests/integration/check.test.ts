/**
 * `tributary check` against real servers, through the CLI: healthy pairs in both directions print
 * only ✔ lines and exit 0; each misconfiguration is named on its ✘ line with the value and the fix,
 * and the run exits 1. Nothing is created on either side (slots, publications, tables are listed
 * before and after). One MariaDB and one PostgreSQL serve every case; settings that change at run
 * time are set and restored around their case, and a server of its own has wal_level=replica.
 */
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { connect, runCli } from '../helpers/mysql.js';
import { pgClient } from '../helpers/postgres.js';

let maria: Server;
let postgres: Server;
let my: Connection;
let admin: pg.Client;
const clients: pg.Client[] = [];
let seq = 0;

beforeAll(async () => {
  // Retention and WAL bounds as an operator would set them, so a healthy pair has no warning either.
  [maria, postgres] = await Promise.all([
    startMariaDb({ serverId: 1, args: ['--binlog-expire-logs-seconds=604800'] }),
    startPostgres({ args: ['-c', 'max_slot_wal_keep_size=10GB'] }),
  ]);
  my = await connect(maria.url());
  admin = await pgClient(postgres.url('postgres'));
});

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await my?.end().catch(() => undefined);
  await admin?.end().catch(() => undefined);
  await Promise.all([maria?.stop(), postgres?.stop()]);
});

function name(label: string): string {
  return `chk_${label}_${process.pid}_${++seq}`;
}

async function mysqlDb(label: string, sql = ''): Promise<string> {
  const db = name(label);
  await my.query(`CREATE DATABASE \`${db}\``);
  if (sql) await my.query(`USE \`${db}\`; ${sql}`);
  return db;
}

async function pgDb(label: string, sql = ''): Promise<{ db: string; c: pg.Client }> {
  const db = name(label);
  await admin.query(`CREATE DATABASE "${db}"`);
  const c = await pgClient(postgres.url(db));
  clients.push(c);
  if (sql) await c.query(sql);
  return { db, c };
}

async function mysqlTables(db: string): Promise<string[]> {
  const [rows] = await my.query<RowDataPacket[]>('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1', [db]);
  return rows.map((r) => String(r.n));
}

/** Tables, slots and publications of a PostgreSQL database: what check must leave as it found. */
async function pgState(c: pg.Client): Promise<string[]> {
  const r = await c.query<{ x: string }>(
    `SELECT 'table ' || relname AS x FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')
     UNION ALL SELECT 'slot ' || slot_name FROM pg_replication_slots
     UNION ALL SELECT 'publication ' || pubname FROM pg_publication ORDER BY 1`,
  );
  return r.rows.map((x) => x.x);
}

function check(source: string, target: string, ...extra: string[]) {
  return runCli(['check', '--source', source, '--target', target, ...extra]);
}

/** The report's line for a requirement (by its name), or '' when there is none. */
function line(stdout: string, requirement: string): string {
  return stdout.split('\n').find((l) => /^ {2}[✔✘⚠ℹ] /.test(l) && l.slice(4).startsWith(`${requirement}: `)) ?? '';
}

function expectHealthy(res: { code: number; stdout: string; stderr: string }): void {
  expect(res.stdout, res.stderr).not.toMatch(/[✘⚠]/);
  expect(res.stdout).toMatch(/ready: every requirement is met/);
  expect(res.code, res.stdout + res.stderr).toBe(0);
}

function expectFailed(res: { code: number; stdout: string; stderr: string }): void {
  expect(res.code, res.stdout + res.stderr).toBe(1);
  expect(res.stderr).toContain('error TRIB_CHECK_FAILED:');
  expect(res.stdout).toMatch(/not ready: \d+ requirements? not met/);
}

describe('tributary check: healthy pairs', () => {
  it('MySQL → PostgreSQL: only ✔, type mapping with its policies, no password, nothing created', async () => {
    const src = await mysqlDb(
      'm2p',
      `CREATE TABLE orders (id BIGINT UNSIGNED PRIMARY KEY, placed TIMESTAMP(3) NULL, due DATE, t TIME, paid TINYINT(1), total DECIMAL(10,2), doc JSON);
       INSERT INTO orders VALUES (1, '2024-01-02 03:04:05.678', '2024-02-03', '-12:00:00', 1, 9.99, '{"a":1}');`,
    );
    await my.query(`CREATE USER IF NOT EXISTS 'chk'@'127.0.0.1' IDENTIFIED BY 'Sekrit-pw-42'`);
    await my.query(`GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'chk'@'127.0.0.1'`);
    const { db: dst, c } = await pgDb('m2p_dst');
    const before = await pgState(c);
    const url = maria.url(src).replace('root@', 'chk:Sekrit-pw-42@');
    const res = await check(url, postgres.url(dst));
    expectHealthy(res);
    for (const r of ['binlog_format', 'binlog_row_image', 'binlog_row_metadata', 'log_bin', 'privilege REPLICATION SLAVE', 'privilege REPLICATION CLIENT', 'privilege SELECT', 'binlog retention']) {
      expect(line(res.stdout, r), r).toMatch(/✔/);
    }
    expect(line(res.stdout, 'binlog_format')).toContain('ROW');
    expect(line(res.stdout, 'table orders')).toMatch(/✔ table orders: can be synced \(primary key id/);
    expect(line(res.stdout, 'orders.placed')).toMatch(/timestamp\(3\) → timestamptz\(3\) \(the instant, in UTC; zero dates .* refused by name \(--zero-dates error/);
    expect(line(res.stdout, 'orders.id')).toContain('bigint(20) unsigned → numeric(20,0)');
    expect(line(res.stdout, 'orders.t')).toContain('time → interval');
    expect(line(res.stdout, 'free space')).toMatch(/unknown/);
    expect(res.stdout).toMatch(/^source mysql:\/\/chk@127\.0\.0\.1:/m);
    expect(res.stdout + res.stderr).not.toContain('Sekrit-pw-42');
    expect(await pgState(c)).toEqual(before);

    const zero = await check(url, postgres.url(dst), '--zero-dates', 'null');
    expect(line(zero.stdout, 'orders.due')).toMatch(/written as NULL \(--zero-dates null/);
  });

  it('PostgreSQL → MySQL: only ✔, no slot, publication or table created', async () => {
    const { db: src, c } = await pgDb(
      'p2m',
      `CREATE TABLE events (id int PRIMARY KEY, at timestamptz, body jsonb, n numeric(12,3), tags text[], u uuid);
       INSERT INTO events VALUES (1, now(), '{"a": 1}', 1.5, '{a,b}', gen_random_uuid());`,
    );
    const dst = await mysqlDb('p2m_dst');
    const before = await pgState(c);
    const res = await check(postgres.url(src), maria.url(dst));
    expectHealthy(res);
    for (const r of ['wal_level', 'role postgres REPLICATION attribute', 'max_replication_slots', 'max_wal_senders', 'max_slot_wal_keep_size', `privileges on ${dst}`, 'local_infile']) {
      expect(line(res.stdout, r), r).toMatch(/✔/);
    }
    expect(line(res.stdout, 'events.at')).toMatch(/timestamp with time zone → DATETIME\(6\) \(converted to UTC/);
    expect(line(res.stdout, 'events.body')).toMatch(/jsonb → JSON/);
    expect(line(res.stdout, 'events.tags')).toMatch(/text\[\] → LONGTEXT/);
    expect(await pgState(c)).toEqual(before);
    expect(await mysqlTables(dst)).toEqual([]);
  });
});

describe('tributary check: misconfigured servers', () => {
  it('MariaDB with binlog_format=MIXED, then binlog_row_image=MINIMAL: the ✘ line names value and fix', async () => {
    const src = await mysqlDb('mixed', 'CREATE TABLE t (id INT PRIMARY KEY);');
    const { db: dst } = await pgDb('mixed_dst');
    await my.query("SET GLOBAL binlog_format = 'MIXED'");
    try {
      const res = await check(maria.url(src), postgres.url(dst));
      expectFailed(res);
      expect(line(res.stdout, 'binlog_format')).toBe("  ✘ binlog_format: MIXED; fix: SET GLOBAL binlog_format = 'ROW' (and binlog_format=ROW in my.cnf)");
      expect(line(res.stdout, 'binlog_row_image')).toMatch(/✔/);
    } finally {
      await my.query("SET GLOBAL binlog_format = 'ROW'");
    }
    await my.query("SET GLOBAL binlog_row_image = 'MINIMAL'");
    try {
      const res = await check(maria.url(src), postgres.url(dst));
      expectFailed(res);
      expect(line(res.stdout, 'binlog_row_image')).toMatch(/✘ binlog_row_image: MINIMAL; fix: SET GLOBAL binlog_row_image = 'FULL'/);
      expect(line(res.stdout, 'binlog_format')).toMatch(/✔/);
    } finally {
      await my.query("SET GLOBAL binlog_row_image = 'FULL'");
    }
  });

  it('PostgreSQL with wal_level=replica', async () => {
    const replica = await startPostgres({ args: ['-c', 'wal_level=replica'] });
    try {
      const c = await pgClient(replica.url('postgres'));
      await c.query('CREATE TABLE k (id int PRIMARY KEY)');
      await c.end();
      const dst = await mysqlDb('walrep_dst');
      const res = await check(replica.url('postgres'), maria.url(dst));
      expectFailed(res);
      expect(line(res.stdout, 'wal_level')).toBe('  ✘ wal_level: replica; fix: ALTER SYSTEM SET wal_level = logical, then restart the server');
    } finally {
      await replica.stop();
    }
  });

  it('a PostgreSQL role without REPLICATION', async () => {
    const { db: src } = await pgDb('norepl', `CREATE TABLE ok (id int PRIMARY KEY); DO $$ BEGIN CREATE ROLE chk_norepl LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$; GRANT SELECT ON ALL TABLES IN SCHEMA public TO chk_norepl;`);
    const dst = await mysqlDb('norepl_dst');
    const res = await check(postgres.url(src).replace('postgres@', 'chk_norepl@'), maria.url(dst));
    expectFailed(res);
    expect(line(res.stdout, 'role chk_norepl REPLICATION attribute')).toBe('  ✘ role chk_norepl REPLICATION attribute: NOREPLICATION; fix: ALTER ROLE "chk_norepl" WITH REPLICATION');
  });

  it('tables without a primary key are named with the reason, on either source', async () => {
    const src = await mysqlDb('nopk', 'CREATE TABLE logs (msg TEXT); CREATE TABLE good (id INT PRIMARY KEY);');
    const { db: dst } = await pgDb('nopk_dst');
    const res = await check(maria.url(src), postgres.url(dst));
    expectFailed(res);
    expect(line(res.stdout, 'table logs primary key')).toBe('  ✘ table logs primary key: none; fix: add a primary key, or leave the table out with --tables');
    expect(line(res.stdout, 'table good')).toMatch(/✔ table good: can be synced/);
    expect(await pgState(await pgClient(postgres.url(dst)).then((c) => (clients.push(c), c)))).toEqual([]);

    const { db: psrc } = await pgDb('nopk_pg', 'CREATE TABLE nokey (a int, b text); CREATE TABLE ok (id int PRIMARY KEY);');
    const mdst = await mysqlDb('nopk_pg_dst');
    const pres = await check(postgres.url(psrc), maria.url(mdst));
    expectFailed(pres);
    expect(line(pres.stdout, 'table nokey primary key')).toMatch(/✘ table nokey primary key: none \(replica identity default\); fix: ALTER TABLE "nokey" ADD PRIMARY KEY/);
    // Passing --tables leaves it out: the rest is ready.
    expectHealthy(await check(postgres.url(psrc), maria.url(mdst), '--tables', 'ok'));
  });

  it('an unmappable column is named with the override, and the override makes it ✔', async () => {
    const { db: src } = await pgDb('money', 'CREATE TABLE prices (id int PRIMARY KEY, p money, n numeric);');
    const dst = await mysqlDb('money_dst');
    const res = await check(postgres.url(src), maria.url(dst));
    expectFailed(res);
    expect(line(res.stdout, 'column prices.p')).toMatch(/✘ column prices\.p: money .*lc_monetary .*; fix: set columnTypes \{"prices\.p": "LONGTEXT"\}/);
    expect(line(res.stdout, 'column prices.n')).toMatch(/✘ column prices\.n: numeric without precision .*; fix: set columnTypes \{"prices\.n": "DECIMAL\(65,30\)"\}/);
    expect(line(res.stdout, 'prices.p')).toBe('');

    const fixed = await check(postgres.url(src), maria.url(dst), '--column-types', 'prices.p=VARCHAR(40),prices.n=DECIMAL(65,30)');
    expectHealthy(fixed);
    expect(line(fixed.stdout, 'prices.n')).toMatch(/✔ prices\.n: numeric → DECIMAL\(65,30\) \(override/);

    // A spatial column maps by the spatial policy, shown on its line: bytea here (no PostGIS in the target database).
    const geo = await mysqlDb('geo', 'CREATE TABLE places (id INT PRIMARY KEY, g POINT);');
    const { db: pdst } = await pgDb('geo_dst');
    const gres = await check(maria.url(geo), postgres.url(pdst));
    expectHealthy(gres);
    expect(line(gres.stdout, 'places.g')).toMatch(/✔ places\.g: point → bytea \(spatial as bytea \(EWKB\): PostGIS is not installed in the target database/);
  });

  it('PostgreSQL values a MySQL target cannot hold are named per column', async () => {
    const { db: src } = await pgDb('nan', "CREATE TABLE m (id int PRIMARY KEY, x numeric(10,2), f float8); INSERT INTO m VALUES (1, 'NaN', 'Infinity');");
    const dst = await mysqlDb('nan_dst');
    const res = await check(postgres.url(src), maria.url(dst));
    expectFailed(res);
    expect(line(res.stdout, 'table m values')).toMatch(/✘ table m values: .*m\.x \(numeric\(10,2\)\): 1 NaN/);
    expect(line(res.stdout, 'table m values')).toMatch(/m\.f \(double precision\)/);
  });
});
