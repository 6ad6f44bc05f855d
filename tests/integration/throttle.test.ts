/**
 * Copy throttling and dry runs on real servers (MariaDB source, MariaDB and PostgreSQL targets, a
 * third MariaDB made a replica of the source half-way through a test): `--copy-rate-limit` holds
 * the copy to its rate on average; `--replica` makes the copy wait while the replica's lag cannot
 * be read and go on once it can; `sync --dry-run` prints tables and DDL and changes nothing on
 * either side (MySQL → PostgreSQL and PostgreSQL → MySQL).
 */
import type { RowDataPacket } from 'mysql2/promise';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { connect, diffTables, runCli, startCli, waitUntil, type CliRun, type Pair } from '../helpers/mysql.js';
import { pgClient } from '../helpers/postgres.js';
import { createWriterTable } from '../helpers/workload.js';

let pair: Pair;
let replica: Server;
let postgres: Server;
let pgAdmin: pg.Client;
const running: CliRun[] = [];

beforeAll(async () => {
  // gtid-strict-mode off on the replica: its own bootstrap transactions are in its binlog, and the
  // source's events it receives later need not be ordered after them.
  const [source, target, rep, pgs] = await Promise.all([
    startMariaDb({ serverId: 1 }),
    startMariaDb({ serverId: 2 }),
    startMariaDb({ serverId: 3, args: ['--gtid-strict-mode=0'] }),
    startPostgres(),
  ]);
  replica = rep;
  postgres = pgs;
  const src = await connect(source.url());
  const dst = await connect(target.url());
  pair = {
    source,
    target,
    src,
    dst,
    srcUrl: (db) => source.url(db),
    dstUrl: (db) => target.url(db),
    async stop() {
      await src.end().catch(() => undefined);
      await dst.end().catch(() => undefined);
      await Promise.all([source.stop(), target.stop()]);
    },
  };
  pgAdmin = await pgClient(postgres.url('postgres'));
}, 60_000);

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await pgAdmin?.end().catch(() => undefined);
  await Promise.all([pair?.stop(), replica?.stop(), postgres?.stop()]);
});

async function countRows(db: string, table: string): Promise<number> {
  const [exists] = await pair.dst.query<RowDataPacket[]>('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [db, table]);
  if (exists.length === 0) return 0;
  const [rows] = await pair.dst.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${db}\`.\`${table}\``);
  return Number(rows[0]?.n);
}

describe('copy throttling', () => {
  it('--copy-rate-limit holds a 20k-row copy to 5000 rows/s on average, and the copy converges', async () => {
    await createWriterTable(pair.src, 'rate', 'items', 20_000);
    await pair.dst.query('CREATE DATABASE rate');
    const started = Date.now();
    const res = await runCli(['sync', '--source', pair.srcUrl('rate'), '--target', pair.dstUrl('rate'), '--copy-only', '--copy-rate-limit', '5000', '--threads', '4', '--chunk-size', '5000'], {}, 60_000);
    const elapsed = Date.now() - started;
    expect(res.code, res.stderr).toBe(0);
    // 20000 rows at 5000 rows/s from an empty bucket: 4 s of tokens. A lower bound only.
    expect(elapsed).toBeGreaterThanOrEqual(3500);
    expect(await diffTables(pair, 'rate', 'rate', 'items')).toBe('');
  }, 60_000);

  it('--replica: the copy waits while the lag cannot be read, saying why, and goes on once the server replicates', async () => {
    await createWriterTable(pair.src, 'lagged', 'items', 3000);
    await pair.dst.query('CREATE DATABASE lagged');
    const rep = await connect(replica.url());
    try {
      // A user with a password: it must not appear in any log line.
      await rep.query("CREATE USER 'watcher'@'127.0.0.1' IDENTIFIED BY 'sekret-pw-42'");
      await rep.query("GRANT ALL PRIVILEGES ON *.* TO 'watcher'@'127.0.0.1'");
      const replicaUrl = `mysql://watcher:sekret-pw-42@127.0.0.1:${replica.port}/mysql`;
      const run = startCli(['sync', '--source', pair.srcUrl('lagged'), '--target', pair.dstUrl('lagged'), '--copy-only', '--replica', replicaUrl, '--replica-max-lag', '5s']);
      running.push(run);
      await waitUntil('the copy to wait for the replica', () => run.stderr().includes('copy waiting'), 30_000);
      expect(run.stderr()).toMatch(/replica lag cannot be read: SHOW REPLICA STATUS returns no row/);
      await new Promise((r) => setTimeout(r, 3000));
      expect(await countRows('lagged', 'items')).toBe(0);
      expect(run.stderr().match(/copy waiting/g)?.length).toBe(1);

      // Make it a replica of the source from the source's current binlog position.
      const [status] = await pair.src.query<RowDataPacket[]>('SHOW MASTER STATUS');
      const file = String(status[0]?.File);
      const pos = Number(status[0]?.Position);
      await rep.query(`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${pair.source.port}, MASTER_USER='root', MASTER_PASSWORD='', MASTER_LOG_FILE='${file}', MASTER_LOG_POS=${pos}, MASTER_USE_GTID=no`);
      await rep.query('START SLAVE');
      expect(await run.exited).toBe(0);
      expect(run.stderr()).toContain('copy going on');
      expect(run.stderr()).not.toContain('sekret-pw-42');
      expect(await diffTables(pair, 'lagged', 'lagged', 'items')).toBe('');
    } finally {
      await rep.query('STOP SLAVE').catch(() => undefined);
      await rep.end();
    }
  }, 60_000);
  it('--replica: the copy waits while the replica lags more than --replica-max-lag, and goes on once it caught up', async () => {
    const rep = await connect(replica.url());
    try {
      // Delayed replication: every event the replica receives from now on is applied an hour late,
      // so its Seconds_Behind_Master grows with the time since the source wrote it.
      await rep.query('STOP SLAVE');
      await rep.query('CHANGE MASTER TO MASTER_DELAY = 3600');
      await rep.query('START SLAVE');
      await createWriterTable(pair.src, 'behind', 'items', 3000);
      await pair.dst.query('CREATE DATABASE behind');
      const lag = async () => {
        const [rows] = await rep.query<RowDataPacket[]>('SHOW SLAVE STATUS');
        const v = rows[0]?.Seconds_Behind_Master as number | null | undefined;
        return v === null || v === undefined ? -1 : Number(v);
      };
      await waitUntil('the replica to lag more than 2 s', async () => (await lag()) > 2, 30_000, 250);
      const run = startCli(['sync', '--source', pair.srcUrl('behind'), '--target', pair.dstUrl('behind'), '--copy-only', '--replica', `mysql://root@127.0.0.1:${replica.port}/mysql`, '--replica-max-lag', '1s']);
      running.push(run);
      await waitUntil('the copy to wait for the lagging replica', () => run.stderr().includes('copy waiting'), 30_000);
      expect(run.stderr()).toMatch(/copy waiting: replica lag \d+(\.\d+)?s is above the maximum 1s/);
      await new Promise((r) => setTimeout(r, 2000));
      expect(await countRows('behind', 'items')).toBe(0);
      // The replica catches up: the copy goes on by itself.
      await rep.query('STOP SLAVE');
      await rep.query('CHANGE MASTER TO MASTER_DELAY = 0');
      await rep.query('START SLAVE');
      expect(await run.exited).toBe(0);
      expect(run.stderr()).toContain('copy going on');
      expect(await diffTables(pair, 'behind', 'behind', 'items')).toBe('');
    } finally {
      await rep.query('STOP SLAVE').catch(() => undefined);
      await rep.query('CHANGE MASTER TO MASTER_DELAY = 0').catch(() => undefined);
      await rep.end();
    }
  }, 90_000);
});

async function mysqlTables(conn: Pair['src'], db: string): Promise<string[]> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1', [db]);
  return rows.map((r) => String(r.t));
}

async function pgState(c: pg.Client): Promise<string[]> {
  const r = await c.query<{ x: string }>(
    `SELECT 'table ' || schemaname || '.' || tablename AS x FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
     UNION ALL SELECT 'slot ' || slot_name FROM pg_replication_slots
     UNION ALL SELECT 'publication ' || pubname FROM pg_publication
     UNION ALL SELECT 'type ' || typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype = 'e'
     ORDER BY 1`,
  );
  return r.rows.map((row) => row.x);
}

describe('sync --dry-run', () => {
  it('MySQL → PostgreSQL: prints tables and DDL, changes nothing on either side', async () => {
    await createWriterTable(pair.src, 'plan1', 'items', 500);
    await pgAdmin.query('CREATE DATABASE plan1');
    const dst = await pgClient(postgres.url('plan1'));
    try {
      const before = { src: await mysqlTables(pair.src, 'plan1'), dst: await pgState(dst) };
      const res = await runCli(['sync', '--dry-run', '--source', pair.srcUrl('plan1'), '--target', postgres.url('plan1')]);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toMatch(/items: ~\d+ rows/);
      expect(res.stdout).toContain('CREATE TABLE IF NOT EXISTS "public"."items"');
      expect(res.stdout).toMatch(/stream start position: \S+/);
      expect(res.stdout).toContain('nothing was changed');
      const json = await runCli(['sync', '--dry-run', '--json', '--source', pair.srcUrl('plan1'), '--target', postgres.url('plan1')]);
      expect(json.code, json.stderr).toBe(0);
      const plan = JSON.parse(json.stdout) as { tables: { table: string }[]; ddl: string[]; problems: string[] };
      expect(plan.tables.map((t) => t.table)).toEqual(['items']);
      expect(plan.problems).toEqual([]);
      expect(await mysqlTables(pair.src, 'plan1')).toEqual(before.src);
      expect(await pgState(dst)).toEqual(before.dst);
    } finally {
      await dst.end();
    }
  }, 60_000);

  it('PostgreSQL → MySQL: prints tables and DDL, creates no slot, publication or table', async () => {
    await pgAdmin.query('CREATE DATABASE plan2');
    const src = await pgClient(postgres.url('plan2'));
    try {
      await src.query("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')");
      await src.query('CREATE TABLE orders (id bigint PRIMARY KEY, note text, m mood, amount numeric(12,2))');
      await src.query("INSERT INTO orders SELECT g, 'n' || g, 'ok', g * 1.5 FROM generate_series(1, 1000) g");
      await src.query('ANALYZE orders');
      await pair.dst.query('CREATE DATABASE plan2');
      const before = { src: await pgState(src), dst: await mysqlTables(pair.dst, 'plan2') };
      const res = await runCli(['sync', '--dry-run', '--source', postgres.url('plan2'), '--target', pair.dstUrl('plan2')]);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toMatch(/orders: ~1000 rows/);
      expect(res.stdout).toContain('CREATE TABLE IF NOT EXISTS `orders`');
      expect(res.stdout).toMatch(/stream start position: \S+/);
      expect(await pgState(src)).toEqual(before.src);
      expect(await mysqlTables(pair.dst, 'plan2')).toEqual(before.dst);
      expect(before.dst).toEqual([]);
    } finally {
      await src.end();
    }
  }, 60_000);
});
