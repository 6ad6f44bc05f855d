/**
 * A range-partitioned PostgreSQL table synced through the CLI into PostgreSQL and into MariaDB, on
 * real servers: the parent is one table (its partitions are not synced again), the copy reads
 * every partition through it, and the stream (published via the partition root) carries inserts,
 * updates, a row moving between partitions, and deletes under the parent's name. A publication
 * the user named that does not publish via the root is refused before anything is written.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { connect, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import { postgresSourceRig, type Engine, type EngineName } from '../helpers/engines.js';

const COLUMNS = ['id', 'at', 'v', 'n'] as const;
const rig = postgresSourceRig();
const running = rig.running;
const target = (name: EngineName): Engine => rig.target(name);

/** Three yearly partitions of `m`, 40 rows in each, and an ordinary table beside it. */
async function createSource(db: string): Promise<void> {
  await rig.source.createDatabase(db);
  await rig.source.exec(
    db,
    `CREATE TABLE m (id bigint NOT NULL, at date NOT NULL, v text, n numeric(10,2), PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
     CREATE TABLE m_2023 PARTITION OF m FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
     CREATE TABLE m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
     CREATE TABLE m_2025 PARTITION OF m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
     INSERT INTO m SELECT s, date '2023-01-01' + ((s % 3) * 366 + s) * interval '1 day', 'v' || s, s / 4.0 FROM generate_series(1, 120) s;
     CREATE TABLE plain (id int PRIMARY KEY, v text);
     INSERT INTO plain VALUES (1, 'one');`,
  );
}

/** Rows per partition, so the test knows every partition holds some. */
async function perPartition(db: string): Promise<Record<string, number>> {
  const c = new pg.Client({ connectionString: rig.source.url(db) });
  await c.connect();
  try {
    const r = await c.query<{ p: string; n: string }>('SELECT tableoid::regclass::text AS p, count(*) AS n FROM m GROUP BY 1 ORDER BY 1');
    return Object.fromEntries(r.rows.map((x) => [x.p, Number(x.n)]));
  } finally {
    await c.end();
  }
}

async function sourceValue(db: string, sql: string): Promise<unknown> {
  const c = new pg.Client({ connectionString: rig.source.url(db) });
  await c.connect();
  try {
    return (await c.query<{ v: unknown }>(sql)).rows[0]?.v;
  } finally {
    await c.end();
  }
}

/** The tables the target database holds (tributary's checkpoint table left out). */
async function targetTables(name: EngineName, db: string): Promise<string[]> {
  const url = target(name).url(db);
  if (name === 'mysql') {
    const c = await connect(url);
    try {
      const [rows] = await c.query<Array<{ t: string } & import('mysql2/promise').RowDataPacket>>(
        'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1',
        [db],
      );
      return rows.map((r) => String(r.t)).filter((t) => !t.startsWith('_tributary'));
    } finally {
      await c.end();
    }
  }
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ t: string }>("SELECT relname AS t FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') ORDER BY 1");
    return r.rows.map((x) => x.t).filter((t) => !t.startsWith('_tributary'));
  } finally {
    await c.end();
  }
}

async function diff(name: EngineName, db: string): Promise<string> {
  const a = await rig.source.rows(db, 'm', COLUMNS, 'id, at');
  const b = await target(name).rows(db, 'm', COLUMNS, 'id, at');
  if (a.length === b.length && a.every((r, i) => r === b[i])) return '';
  const sb = new Set(b);
  const sa = new Set(a);
  return `source ${a.length} rows, target ${b.length}; only in source: ${a.filter((r) => !sb.has(r)).slice(0, 3).join(' ; ')}; only in target: ${b.filter((r) => !sa.has(r)).slice(0, 3).join(' ; ')}`;
}

async function waitSame(name: EngineName, db: string, run: CliRun): Promise<void> {
  let last = '';
  await waitUntil('m to converge', async () => (last = await diff(name, db)) === '' || run.child.exitCode !== null, 30_000, 300).catch((err: Error) => {
    throw new Error(`${err.message}: ${last}\n${run.stderr().slice(-3000)}`, { cause: err });
  });
  if (last !== '') throw new Error(`tributary exited before m converged: ${last}\n${run.stderr().slice(-3000)}`);
}

describe.each(['postgres', 'mysql'] as EngineName[])('partitioned PostgreSQL table → %s', (name) => {
  it('copies every partition through the parent once, then streams inserts, updates, a row moving partitions and deletes', async () => {
    const db = `part_${name}`;
    await createSource(db);
    expect(await perPartition(db)).toEqual({ m_2023: 40, m_2024: 40, m_2025: 40 });
    await target(name).createDatabase(db);
    const run = startCli(['sync', '--source', rig.source.url(db), '--target', target(name).url(db), '--flush-interval', '200ms', '--chunk-size', '7']);
    running.push(run);
    await waitUntil('the initial copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 60_000);
    expect(run.stderr()).toContain('initial copy done');
    // COPY (SELECT … FROM m …) TO STDOUT reads a partitioned parent (COPY m TO would not).
    if (name === 'postgres') expect(run.stderr()).toMatch(/"table":"m","format":"postgres-copy-[a-z]+".*rendered by the source/);
    expect(await sourceValue(db, "SELECT string_agg(pubviaroot::text, ',') AS v FROM pg_publication WHERE pubname LIKE 'tributary%'")).toBe('true');
    // One table for the partitioned parent; its partitions are not tables of their own.
    expect(await targetTables(name, db)).toEqual(['m', 'plain']);
    expect(await diff(name, db)).toBe('');
    expect(await target(name).count(db, 'm')).toBe(120);

    await rig.source.exec(
      db,
      `BEGIN;
       INSERT INTO m VALUES (1001, '2023-05-05', 'new 2023', 1.25), (1002, '2024-05-05', 'new 2024', 2.5), (1003, '2025-05-05', 'new 2025', NULL);
       UPDATE m SET v = 'updated', n = n + 100 WHERE id IN (3, 4, 5);
       COMMIT;
       UPDATE m SET at = '2025-12-31', v = 'moved' WHERE id = 1;
       UPDATE m SET at = '2023-01-02' WHERE id = 1003;
       DELETE FROM m WHERE id IN (10, 11, 12, 1002);`,
    );
    await waitSame(name, db, run);
    expect(await perPartition(db)).toEqual({ m_2023: 41, m_2024: 38, m_2025: 40 });
    const moved = await target(name).rows(db, 'm', COLUMNS, 'id, at');
    expect(moved).toContain('1|2025-12-31|moved|0.25');
    expect(moved.filter((r) => r.startsWith('1|'))).toHaveLength(1);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });
});

describe('partitioned table and a publication the user named', () => {
  it('refuses a publication without publish_via_partition_root, naming it, the setting and the fix, and writes nothing', async () => {
    const db = 'part_userpub';
    await createSource(db);
    await rig.source.exec(db, 'CREATE PUBLICATION userpub FOR TABLE m, plain');
    const dst = target('postgres');
    await dst.createDatabase(db);
    const refused = startCli(['sync', '--source', rig.source.url(db), '--target', dst.url(db), '--publication', 'userpub']);
    running.push(refused);
    expect(await refused.exited).not.toBe(0);
    const err = refused.stderr();
    expect(err).toContain('TRIB_SOURCE_SETTING');
    expect(err).toMatch(/publication userpub has publish_via_partition_root = false, but synced table m is partitioned/);
    expect(err).toContain('ALTER PUBLICATION "userpub" SET (publish_via_partition_root = true)');
    expect(await targetTables('postgres', db)).toEqual([]);

    // With the setting the same publication is used as it is.
    await rig.source.exec(db, 'ALTER PUBLICATION userpub SET (publish_via_partition_root = true)');
    const run = startCli(['sync', '--source', rig.source.url(db), '--target', dst.url(db), '--publication', 'userpub', '--flush-interval', '200ms']);
    running.push(run);
    await waitUntil('the initial copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 60_000);
    await rig.source.exec(db, "INSERT INTO m VALUES (2001, '2024-02-29', 'leap', 0)");
    await waitSame('postgres', db, run);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });
});

describe('partitioned table whose partition cannot deliver the key', () => {
  it('refuses a partition with REPLICA IDENTITY NOTHING by name, before anything is written', async () => {
    const db = 'part_ident';
    await createSource(db);
    await rig.source.exec(db, 'ALTER TABLE m_2024 REPLICA IDENTITY NOTHING');
    const dst = target('postgres');
    await dst.createDatabase(db);
    const refused = startCli(['sync', '--source', rig.source.url(db), '--target', dst.url(db)]);
    running.push(refused);
    expect(await refused.exited).not.toBe(0);
    expect(refused.stderr()).toContain('TRIB_TABLE_UNSUPPORTED');
    expect(refused.stderr()).toContain('partition m_2024 of table m replica identity is NOTHING; fix: ALTER TABLE "m_2024" REPLICA IDENTITY DEFAULT');
    expect(await targetTables('postgres', db)).toEqual([]);
  });
});
