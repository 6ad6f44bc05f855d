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
import { lockName } from '../../src/engines/mysql/lock.js';
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
  // A PostgreSQL role that is no superuser may not install the DDL event trigger: a warning only.
  const lines = res.stdout.split('\n').filter((l) => !l.includes('⚠ event trigger tributary_ddl_'));
  expect(lines.join('\n'), res.stderr).not.toMatch(/[✘⚠]/);
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
    // Local servers: the target's data directory is measured, not 'unknown' with a ✔.
    expect(line(res.stdout, 'free space')).toMatch(/✔ free space: \d+\.\d GiB free in \//);
    expect(line(res.stdout, 'sync lock')).toMatch(/✔ sync lock: free/);
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
    for (const r of ['wal_level', 'role postgres REPLICATION attribute', 'max_replication_slots', 'max_wal_senders', 'max_slot_wal_keep_size', 'synchronous_standby_names', `privileges on ${dst}`, 'local_infile']) {
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

  /** `check` from a PostgreSQL started with `args` (holding a table k) into a fresh MariaDB database `dst`. */
  async function checkPostgresWith(args: readonly string[], dst: string): Promise<Awaited<ReturnType<typeof check>>> {
    const pgServer = await startPostgres({ args });
    try {
      const c = await pgClient(pgServer.url('postgres'));
      await c.query('CREATE TABLE k (id int PRIMARY KEY)');
      await c.end();
      return await check(pgServer.url('postgres'), maria.url(await mysqlDb(dst)));
    } finally {
      await pgServer.stop();
    }
  }

  it('PostgreSQL with wal_level=replica', async () => {
    const res = await checkPostgresWith(['-c', 'wal_level=replica'], 'walrep_dst');
    expectFailed(res);
    expect(line(res.stdout, 'wal_level')).toBe('  ✘ wal_level: replica; fix: ALTER SYSTEM SET wal_level = logical, then restart the server');
  });

  it("PostgreSQL whose synchronous_standby_names names tributary's own connection: a warning naming the value and the fix", async () => {
    // Every session commits locally: the standby named never connects.
    const res = await checkPostgresWith(['-c', 'synchronous_standby_names=FIRST 1 (standby1, tributary)', '-c', 'synchronous_commit=local'], 'syncrep_dst');
    expect(line(res.stdout, 'synchronous_standby_names')).toMatch(
      /^ {2}⚠ synchronous_standby_names: FIRST 1 \(standby1, tributary\); fix: it names tributary's own connection \(application_name 'tributary'\) as a synchronous standby: .*stalls at the first schema change/,
    );
  });

  it('a PostgreSQL role without REPLICATION', async () => {
    const { db: src } = await pgDb('norepl', `CREATE TABLE ok (id int PRIMARY KEY); DO $$ BEGIN CREATE ROLE chk_norepl LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$; GRANT SELECT ON ALL TABLES IN SCHEMA public TO chk_norepl;`);
    const dst = await mysqlDb('norepl_dst');
    const res = await check(postgres.url(src).replace('postgres@', 'chk_norepl@'), maria.url(dst));
    expectFailed(res);
    expect(line(res.stdout, 'role chk_norepl REPLICATION attribute')).toBe('  ✘ role chk_norepl REPLICATION attribute: NOREPLICATION; fix: ALTER ROLE "chk_norepl" WITH REPLICATION');
  });

  it('tables without a primary key say how they sync, and a PostgreSQL one without REPLICA IDENTITY FULL is named with the fix', async () => {
    const src = await mysqlDb('nopk', 'CREATE TABLE logs (msg TEXT); CREATE TABLE good (id INT PRIMARY KEY);');
    const { db: dst } = await pgDb('nopk_dst');
    const res = await check(maria.url(src), postgres.url(dst));
    expectHealthy(res);
    expect(line(res.stdout, 'table logs')).toBe('  ✔ table logs: can be synced (no primary key nor unique NOT NULL key: copied whole in one snapshot, changes applied by full row image, 1 columns)');
    expect(line(res.stdout, 'table good')).toMatch(/✔ table good: can be synced/);
    expect(await pgState(await pgClient(postgres.url(dst)).then((c) => (clients.push(c), c)))).toEqual([]);

    const { db: psrc } = await pgDb('nopk_pg', 'CREATE TABLE nokey (a int, b text); CREATE TABLE ok (id int PRIMARY KEY);');
    const mdst = await mysqlDb('nopk_pg_dst');
    const pres = await check(postgres.url(psrc), maria.url(mdst));
    expectFailed(pres);
    expect(line(pres.stdout, 'table nokey replica identity')).toBe(
      '  ✘ table nokey replica identity: DEFAULT, and the table has no primary key nor unique NOT NULL key; fix: ALTER TABLE "nokey" REPLICA IDENTITY FULL (UPDATE and DELETE of a table without a key must carry the whole old row), or add a key',
    );
    // Passing --tables leaves it out: the rest is ready.
    expectHealthy(await check(postgres.url(psrc), maria.url(mdst), '--tables', 'ok'));
  });

  it('an unmappable column is named with the override, and the override makes it ✔', async () => {
    const { db: src } = await pgDb('money', 'CREATE TABLE prices (id int PRIMARY KEY, p money, n numeric);');
    const dst = await mysqlDb('money_dst');
    const res = await check(postgres.url(src), maria.url(dst));
    expectFailed(res);
    // The fix is typed as the user types it: the flag, and the config file's kebab-case key.
    expect(line(res.stdout, 'column prices.p')).toMatch(/✘ column prices\.p: money .*lc_monetary .*; fix: set its type with --column-types prices\.p=LONGTEXT \(in the config file: column-types: \{prices\.p: "LONGTEXT"\}\)/);
    expect(line(res.stdout, 'column prices.n')).toMatch(/✘ column prices\.n: numeric without precision .*; fix: set its type with --column-types prices\.n=DECIMAL\(65,30\) \(in the config file: column-types: \{prices\.n: "DECIMAL\(65,30\)"\}\)/);
    expect(res.stdout + res.stderr).not.toMatch(/columnTypes/);
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

/** One CLI run's refusal: the exit code and the TRIB_ code it printed on stderr. */
interface Refusal {
  readonly exit: number;
  readonly code: string;
}

/** What `check --json` refuses: its exit code, and the code and text of each failing line. */
async function checkRefusals(args: readonly string[]): Promise<Refusal & { lines: { name: string; code: string; value: string; fix: string }[] }> {
  const res = await runCli(['check', ...args, '--json']);
  const report = JSON.parse(res.stdout || '{"lines":[]}') as { lines: { name: string; ok: boolean; severity: string; code: string; value: string; fix: string }[] };
  const lines = report.lines.filter((l) => !l.ok && l.severity === 'error');
  return { exit: res.code, code: /error (TRIB_[A-Z_]+):/.exec(res.stderr)?.[1] ?? '', lines };
}

/** What `sync --copy-only` refuses (every step before the stream runs in a copy-only sync too). */
async function syncRefusal(args: readonly string[]): Promise<Refusal & { stderr: string }> {
  const res = await runCli(['sync', '--copy-only', '--progress', 'none', ...args]);
  return { exit: res.code, code: /error (TRIB_[A-Z_]+):/.exec(res.stderr)?.[1] ?? '', stderr: res.stderr };
}

/**
 * The codes with which a sync refuses to start (the runner's steps before it streams: connect,
 * preflight, lock, table selection and description, checkpoint resumability, emptiness, the
 * publication and slot). Each must be a ✘ line of check; the cases below show each on real servers.
 * CONFIG_INVALID and DSN_INVALID are refused by both while the configuration loads (the same
 * loadConfig; tests/unit/config.test.ts), CHECKPOINT_INVALID by the same checkpoint read, and the
 * MySQL-only gtid_mode for --position-mode gtid cannot be set on MariaDB (its line is in src/engines/mysql/check.ts).
 */
const SYNC_REFUSALS = [
  'TRIB_CONNECT_FAILED',
  'TRIB_AUTH_FAILED',
  'TRIB_DATABASE_MISSING',
  'TRIB_PRIVILEGE_MISSING',
  'TRIB_SOURCE_SETTING',
  'TRIB_TABLE_UNSUPPORTED',
  'TRIB_NO_TABLES',
  'TRIB_TARGET_NOT_EMPTY',
  'TRIB_ALREADY_RUNNING',
  'TRIB_POSITION_LOST',
  'TRIB_SOURCE_CHANGED',
] as const;

describe('tributary check refuses what sync refuses', () => {
  it('a PostgreSQL role that may not create the publication: ✘ in check, the same code from sync, and the fix makes both pass', async () => {
    const { db: src, c } = await pgDb(
      'pubpriv',
      `CREATE TABLE items (id int PRIMARY KEY, price numeric(10,2)); INSERT INTO items VALUES (1, 9.99);
       DO $$ BEGIN CREATE ROLE chk_pub LOGIN REPLICATION; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
       GRANT SELECT ON items TO chk_pub;`,
    );
    const dst = await mysqlDb('pubpriv_dst');
    const url = postgres.url(src).replace('postgres@', 'chk_pub@');
    const before = await pgState(c);
    const chk = await check(url, maria.url(dst));
    expectFailed(chk);
    const pubLine = chk.stdout.split('\n').find((l) => /^ {2}✘ publication tributary_/.test(l)) ?? '';
    expect(pubLine).toMatch(/does not exist, and role chk_pub may not create it: no CREATE privilege on database chk_pubpriv_\w+; not the owner of table items \(owner postgres\)/);
    expect(pubLine).toMatch(/fix: GRANT CREATE ON DATABASE "chk_pubpriv_\w+" TO "chk_pub"; ALTER TABLE "public"\."items" OWNER TO "chk_pub"; or have a role that may create it/);
    expect(await pgState(c)).toEqual(before);
    const sync = await syncRefusal(['--source', url, '--target', maria.url(dst)]);
    expect(sync, sync.stderr).toMatchObject({ exit: 1, code: 'TRIB_PRIVILEGE_MISSING' });

    // The fix check names: then check is ready, and the sync copies.
    await c.query(`GRANT CREATE ON DATABASE "${src}" TO chk_pub; ALTER TABLE items OWNER TO chk_pub`);
    const ok = await check(url, maria.url(dst));
    expectHealthy(ok);
    expect(ok.stdout).toMatch(/✔ publication tributary_\w+: does not exist: the sync creates it for the 1 synced table/);
    const copied = await runCli(['sync', '--copy-only', '--progress', 'none', '--source', url, '--target', maria.url(dst)]);
    expect(copied.code, copied.stderr).toBe(0);
  });

  it('each code a sync refuses with is a ✘ line of check with the same code (a table of cases)', async () => {
    // Shared fixtures: a healthy MariaDB source table and PostgreSQL ones.
    const msrc = await mysqlDb('ref', 'CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1);');
    const { db: psrc, c: pc } = await pgDb(
      'ref_pg',
      `CREATE TABLE secret (id int PRIMARY KEY); CREATE TABLE open (id int PRIMARY KEY); INSERT INTO open VALUES (1);
       DO $$ BEGIN CREATE ROLE chk_nosel LOGIN REPLICATION; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
       GRANT SELECT ON open TO chk_nosel;`,
    );
    await pc.query(`GRANT CREATE ON DATABASE "${psrc}" TO chk_nosel; ALTER TABLE secret OWNER TO chk_nosel; ALTER TABLE open OWNER TO chk_nosel; REVOKE SELECT ON secret FROM chk_nosel`);
    await my.query(`CREATE USER IF NOT EXISTS 'chk_norep'@'127.0.0.1' IDENTIFIED BY 'Norep-pw-42'`);
    await my.query(`GRANT SELECT ON *.* TO 'chk_norep'@'127.0.0.1'`);
    const closed = maria.url(msrc).replace(/:(\d+)\//, ':1/');

    interface Case {
      readonly what: string;
      readonly code: (typeof SYNC_REFUSALS)[number];
      /** The failing line of check that carries the code. */
      readonly line: RegExp;
      readonly args: () => Promise<string[]>;
      readonly after?: () => Promise<void>;
      /** Exit code of both (2 for usage errors). */
      readonly exit?: number;
    }
    const cases: Case[] = [
      { what: 'source port closed', code: 'TRIB_CONNECT_FAILED', line: /^connection$/, args: async () => ['--source', closed, '--target', postgres.url((await pgDb('ref_d1')).db)] },
      {
        what: 'wrong password',
        code: 'TRIB_AUTH_FAILED',
        line: /^connection$/,
        args: async () => ['--source', maria.url(msrc).replace('root@', 'chk_norep:wrong@'), '--target', postgres.url((await pgDb('ref_d2')).db)],
      },
      { what: 'source database missing', code: 'TRIB_DATABASE_MISSING', line: /^connection$/, args: async () => ['--source', maria.url('chk_nosuchdb'), '--target', postgres.url((await pgDb('ref_d3')).db)] },
      {
        what: 'MySQL user without REPLICATION SLAVE (the fix names the real account)',
        code: 'TRIB_PRIVILEGE_MISSING',
        line: /^privilege REPLICATION SLAVE$/,
        args: async () => ['--source', maria.url(msrc).replace('root@', 'chk_norep:Norep-pw-42@'), '--target', postgres.url((await pgDb('ref_d4')).db)],
      },
      {
        what: 'a PostgreSQL table the role may not read',
        code: 'TRIB_PRIVILEGE_MISSING',
        line: /^table secret SELECT privilege$/,
        args: async () => ['--source', postgres.url(psrc).replace('postgres@', 'chk_nosel@'), '--target', maria.url(await mysqlDb('ref_d5'))],
      },
      {
        what: 'a MySQL table the user sees but may not read',
        code: 'TRIB_PRIVILEGE_MISSING',
        line: /^table hidden$/,
        args: async () => {
          const db = await mysqlDb('ref_hidden', 'CREATE TABLE shown (id INT PRIMARY KEY); CREATE TABLE hidden (id INT PRIMARY KEY);');
          await my.query(`CREATE USER IF NOT EXISTS 'chk_tsel'@'127.0.0.1' IDENTIFIED BY 'Tsel-pw-42'`);
          await my.query(`GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'chk_tsel'@'127.0.0.1'`);
          await my.query(`GRANT SELECT ON \`${db}\`.shown TO 'chk_tsel'@'127.0.0.1'`);
          await my.query(`GRANT INSERT ON \`${db}\`.hidden TO 'chk_tsel'@'127.0.0.1'`);
          return ['--source', maria.url(db).replace('root@', 'chk_tsel:Tsel-pw-42@'), '--target', postgres.url((await pgDb('ref_d11')).db)];
        },
      },
      {
        what: 'binlog_format=MIXED',
        code: 'TRIB_SOURCE_SETTING',
        line: /^binlog_format$/,
        args: async () => {
          await my.query("SET GLOBAL binlog_format = 'MIXED'");
          return ['--source', maria.url(msrc), '--target', postgres.url((await pgDb('ref_d6')).db)];
        },
        after: async () => void (await my.query("SET GLOBAL binlog_format = 'ROW'")),
      },
      {
        what: 'a PostgreSQL table without a key and without REPLICA IDENTITY FULL',
        code: 'TRIB_TABLE_UNSUPPORTED',
        line: /^table logs replica identity$/,
        args: async () => ['--source', postgres.url((await pgDb('ref_nopk', 'CREATE TABLE logs (m text);')).db), '--target', maria.url(await mysqlDb('ref_d7'))],
      },
      {
        what: 'a --tables pattern that matches nothing, beside one that matches',
        code: 'TRIB_NO_TABLES',
        line: /^tables$/,
        exit: 2,
        args: async () => ['--source', maria.url(msrc), '--target', postgres.url((await pgDb('ref_d8')).db), '--tables', 't,nope*'],
      },
      {
        what: 'target tables with rows and no checkpoint',
        code: 'TRIB_TARGET_NOT_EMPTY',
        line: /^target tables$/,
        args: async () => ['--source', maria.url(msrc), '--target', postgres.url((await pgDb('ref_d9', 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (7);')).db)],
      },
      {
        what: 'another instance holds the sync lock',
        code: 'TRIB_ALREADY_RUNNING',
        line: /^sync lock$/,
        args: async () => {
          const dst = await mysqlDb('ref_d10');
          await my.query('SELECT GET_LOCK(?, 0)', [lockName(dst, 'chk-locked')]);
          return ['--source', postgres.url((await pgDb('ref_s10', 'CREATE TABLE x (id int PRIMARY KEY);')).db), '--target', maria.url(dst), '--id', 'chk-locked'];
        },
        after: async () => void (await my.query('SELECT RELEASE_ALL_LOCKS()')),
      },
    ];
    // A checkpoint whose slot was dropped (POSITION_LOST), and one read with another --slot (SOURCE_CHANGED).
    const { db: cpsrc, c: cpc } = await pgDb('ref_cp', 'CREATE TABLE k (id int PRIMARY KEY); INSERT INTO k VALUES (1);');
    const cpdst = await mysqlDb('ref_cp_dst');
    const cpargs = ['--source', postgres.url(cpsrc), '--target', maria.url(cpdst)];
    const first = await runCli(['sync', '--copy-only', '--progress', 'none', ...cpargs]);
    expect(first.code, first.stderr).toBe(0);
    cases.push({ what: 'a checkpoint read with another --slot', code: 'TRIB_SOURCE_CHANGED', line: /^checkpoint$/, args: async () => [...cpargs, '--slot', 'chk_other_slot'] });
    cases.push({
      what: "a checkpoint whose slot was dropped",
      code: 'TRIB_POSITION_LOST',
      line: /^checkpoint$/,
      args: async () => {
        await cpc.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1', [cpsrc]);
        return cpargs;
      },
    });

    const seen = new Set<string>();
    for (const k of cases) {
      const args = await k.args();
      try {
        const chk = await checkRefusals(args);
        const hit = chk.lines.find((l) => k.line.test(l.name));
        expect(hit, `${k.what}: check lines ${JSON.stringify(chk.lines)}`).toBeDefined();
        expect(hit?.code, k.what).toBe(k.code);
        expect(chk.exit, k.what).toBe(k.exit ?? 1);
        const sync = await syncRefusal(args);
        expect({ exit: sync.exit, code: sync.code }, `${k.what}: ${sync.stderr}`).toEqual({ exit: k.exit ?? 1, code: k.code });
        if (k.code === 'TRIB_PRIVILEGE_MISSING' && /REPLICATION/.test(k.what)) expect(hit?.fix).toBe("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'chk_norep'@'127.0.0.1'");
        if (/PostgreSQL table the role may not read/.test(k.what)) expect(hit?.fix).toBe('GRANT SELECT ON "public"."secret" TO "chk_nosel"');
        if (/MySQL table/.test(k.what)) expect(hit?.fix).toMatch(/^GRANT SELECT ON `chk_ref_hidden_\w+`\.`hidden` TO 'chk_tsel'@'127\.0\.0\.1'$/);
        if (k.code === 'TRIB_NO_TABLES') expect(hit?.value).toMatch(/--tables pattern 'nope\*' matches no table/);
        seen.add(k.code);
      } finally {
        await k.after?.();
      }
    }
    expect([...seen].sort()).toEqual([...SYNC_REFUSALS].sort());
  });
});
