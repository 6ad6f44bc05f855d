/**
 * The schema follows a PostgreSQL source while streaming (issue 12), to a PostgreSQL and to a
 * MariaDB target, on real servers. Through pgoutput's Relation messages (no event trigger): ADD
 * COLUMN with a default under writes (old rows get the default on the target), DROP COLUMN, ALTER
 * COLUMN TYPE (int → bigint, varchar(10) → text), a change in a transaction after rows of another
 * table, catch-up across DDL made while the sync was stopped (the last with no row after it, found
 * in the catalogue once the stream caught up), and a drop and an add of columns in
 * one change (a rename or not: the Relation message cannot tell) stopping the sync by name.
 * Through the event trigger (installed by the sync as a superuser): RENAME COLUMN with no row
 * written after it, SET DEFAULT, SET NOT NULL, and a drop and an add in one statement.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import { converged } from '../helpers/converge.js';
import { contractTableSql, EnginePool, fillContractTable, startContractWriter, type Engine, type EngineName } from '../helpers/engines.js';

const pool = new EnginePool();
const running: CliRun[] = [];
let dbSeq = 0;

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await pool.stopAll();
});

describe.each([['postgres'] as const, ['mysql'] as const])('DDL while streaming postgres → %s (Relation messages, --pg-ddl-trigger off)', (dstName: EngineName) => {
  let src: Engine;
  let dst: Engine;

  beforeAll(async () => {
    src = await pool.get('source', 'postgres');
    dst = await pool.get('target', dstName);
  });

  const fresh = async (rows: number, tables = ['items']): Promise<string> => {
    const db = `p${++dbSeq}_${dstName.slice(0, 2)}`;
    await src.createDatabase(db);
    for (const t of tables) {
      await src.exec(db, contractTableSql('postgres', t));
      if (rows > 0) await fillContractTable(src, db, t, rows);
    }
    await dst.createDatabase(db);
    return db;
  };

  const sync = (db: string, extra: string[] = []): CliRun => {
    const run = startCli(['sync', '--source', src.url(db), '--target', dst.url(db), '--flush-interval', '100ms', '--checksum-interval', '1s', '--pg-ddl-trigger', 'off', ...extra]);
    running.push(run);
    return run;
  };

  const stop = async (run: CliRun): Promise<void> => {
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr().slice(-3000)).toBe(0);
  };

  /** The server allows 10 replication slots: each case drops its database's once its syncs ended. */
  const dropSlots = (db: string) => src.exec('postgres', `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '${db}' AND NOT active`);

  it('ADD COLUMN with a default under writes: old rows get the default on the target, new rows their values', async () => {
    const db = await fresh(2000);
    const run = sync(db);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 60_000);
    const writer = await startContractWriter(src, db, 'items', 3000, 2);
    await new Promise((r) => setTimeout(r, 400));
    await src.exec(db, "ALTER TABLE items ADD COLUMN note varchar(20) NOT NULL DEFAULT 'none'");
    const c = await src.client(db);
    for (let i = 0; i < 50; i++) await c.query(`INSERT INTO items (id, k, v, note) VALUES (${10_000 + i}, 'added', ${i}, 'n${i}')`);
    await c.query("UPDATE items SET note = 'touched' WHERE id BETWEEN 1 AND 10");
    await c.end();
    await new Promise((r) => setTimeout(r, 400));
    await writer.stop();
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'pad', 'note'], run);
    expect(await dst.rows(db, 'items', ['note'], 'id').then((r) => r.filter((n) => n === 'none').length)).toBeGreaterThan(1000);
    expect(run.stderr()).toContain('schema change applied to the target');
    expect(run.stderr()).not.toContain('repaired what differed');
    await stop(run);
    await dropSlots(db);
  });

  it('DROP COLUMN and ALTER COLUMN TYPE (int → bigint, varchar(10) → text) under writes', async () => {
    const db = await fresh(0);
    await src.exec(db, "CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL, s varchar(10), gone text); INSERT INTO t SELECT g, g, 's' || g, 'g' FROM generate_series(1, 300) g");
    const run = sync(db);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 60_000);
    const writer = await startContractWriter(src, db, 'items', 500, 1);
    await src.exec(db, 'ALTER TABLE t DROP COLUMN gone');
    await src.exec(db, "INSERT INTO t VALUES (301, 301, 'after drop')");
    await src.exec(db, 'ALTER TABLE t ALTER COLUMN n TYPE bigint, ALTER COLUMN s TYPE text');
    await src.exec(db, "INSERT INTO t VALUES (302, 9007199254740993, repeat('long text ', 5)); UPDATE t SET n = n + 4000000000 WHERE id <= 10");
    await writer.stop();
    await converged(src, dst, db, 't', ['id', 'n', 's'], run);
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'pad'], run);
    expect(run.stderr()).toMatch(/column \\?"gone\\?" dropped/);
    expect(run.stderr()).toMatch(/column \\?"n\\?" changed type from integer to bigint/);
    await stop(run);
    await dropSlots(db);
  });

  it('a change in a transaction after rows of another table is applied between the two parts', async () => {
    const db = await fresh(100, ['items', 'other']);
    const run = sync(db);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 60_000);
    await src.exec(db, "BEGIN; INSERT INTO other (id, k, v) VALUES (500, 'first', 1); ALTER TABLE items ADD COLUMN extra int DEFAULT 7; INSERT INTO items (id, k, v, extra) VALUES (500, 'second', 2, 8); COMMIT");
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'extra'], run);
    await converged(src, dst, db, 'other', ['id', 'k', 'v'], run);
    await stop(run);
    await dropSlots(db);
  });

  it('catches up across DDL made while it was stopped: rows, DROP COLUMN, rows, ADD COLUMN, rows', async () => {
    const db = await fresh(500);
    const first = sync(db);
    await waitUntil('the copy', () => first.stderr().includes('initial copy done') || first.child.exitCode !== null, 60_000);
    await stop(first);
    const c = await src.client(db);
    await c.query("INSERT INTO items (id, k, v, amount, pad) VALUES (1001, 'a', 1, 1.50, 'p1')");
    await c.query("UPDATE items SET pad = 'before drop' WHERE id = 1");
    await c.query('ALTER TABLE items DROP COLUMN pad');
    await c.query("INSERT INTO items (id, k, v, amount) VALUES (1002, 'b', 2, 2.50)");
    await c.query('DELETE FROM items WHERE id = 2');
    await c.query('ALTER TABLE items ADD COLUMN extra int NOT NULL DEFAULT 7');
    await c.query("INSERT INTO items (id, k, v, amount, extra) VALUES (1003, 'c', 3, 3.50, 42)");
    await c.query('UPDATE items SET extra = 8 WHERE id = 3');
    // No row is written after this one: it is found in the catalogue once the stream caught up.
    await c.query("ALTER TABLE items ADD COLUMN late text DEFAULT 'late'");
    await c.end();
    const second = sync(db);
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'extra', 'late'], second);
    // A restart with nothing new starts where it stopped, with the definitions it stored.
    await stop(second);
    const third = sync(db);
    await src.exec(db, "INSERT INTO items (id, k, v, amount, extra) VALUES (1004, 'd', 4, 4.50, 9)");
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'extra'], third);
    await stop(third);
    await dropSlots(db);
  });

  it('a column dropped and another added in one change stops the sync naming both (a rename or not)', async () => {
    const db = await fresh(50);
    const run = sync(db);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 60_000);
    await src.exec(db, "ALTER TABLE items DROP COLUMN pad, ADD COLUMN pad2 text; INSERT INTO items (id, k, v, pad2) VALUES (900, 'x', 1, 'y')");
    const timer = setTimeout(() => run.child.kill('SIGKILL'), 60_000);
    const code = await run.exited;
    clearTimeout(timer);
    expect(code).not.toBe(0);
    expect(run.stderr()).toContain('TRIB_DDL_UNSUPPORTED');
    expect(run.stderr()).toMatch(/\\?"pad\\?" dropped and \\?"pad2\\?" added/);
    await dropSlots(db);
  });
});

describe.each([['postgres'] as const, ['mysql'] as const])('DDL while streaming postgres → %s (event trigger)', (dstName: EngineName) => {
  let src: Engine;
  let dst: Engine;

  beforeAll(async () => {
    src = await pool.get('source', 'postgres');
    dst = await pool.get('target', dstName);
  });

  const fresh = async (rows: number): Promise<string> => {
    const db = `t${++dbSeq}_${dstName.slice(0, 2)}`;
    await src.createDatabase(db);
    await src.exec(db, contractTableSql('postgres', 'items'));
    if (rows > 0) await fillContractTable(src, db, 'items', rows);
    await dst.createDatabase(db);
    return db;
  };

  const sync = (db: string): CliRun => {
    const run = startCli(['sync', '--source', src.url(db), '--target', dst.url(db), '--flush-interval', '100ms', '--checksum-interval', '1s']);
    running.push(run);
    return run;
  };

  const stop = async (run: CliRun): Promise<void> => {
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr().slice(-3000)).toBe(0);
  };

  const dropSlots = (db: string) => src.exec('postgres', `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '${db}' AND NOT active`);

  it('installs the trigger; RENAME COLUMN with no later row, SET DEFAULT, SET NOT NULL, and a drop and an add in one statement follow', async () => {
    const db = await fresh(300);
    const run = sync(db);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 60_000);
    expect(run.stderr()).toContain('event trigger tributary_ddl_v1 installed');
    // Rows written until just before it; none after it: only the trigger's message shows it.
    const writer = await startContractWriter(src, db, 'items', 400, 1);
    await new Promise((r) => setTimeout(r, 300));
    await writer.stop();
    await src.exec(db, 'ALTER TABLE items RENAME COLUMN pad TO padding');
    await waitUntil('the rename on the target', async () => /column \\?"pad\\?" renamed to \\?"padding\\?"/.test(run.stderr()) || run.child.exitCode !== null, 30_000);
    expect(run.child.exitCode, run.stderr().slice(-3000)).toBeNull();
    await src.exec(db, "ALTER TABLE items ALTER COLUMN k SET DEFAULT 'dk'");
    await src.exec(db, 'ALTER TABLE items ALTER COLUMN padding SET NOT NULL');
    await src.exec(db, 'ALTER TABLE items DROP COLUMN amount, ADD COLUMN amount2 numeric(14,3) DEFAULT 2.5');
    await src.exec(db, "INSERT INTO items (id, v, padding) VALUES (9001, 1, 'p')");
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'padding', 'amount2'], run);
    expect(await dst.rows(db, 'items', ['k'], 'id').then((r) => r.at(-1))).toBe('dk');
    expect(run.stderr()).toMatch(/column \\?"k\\?" SET DEFAULT/);
    expect(run.stderr()).toMatch(/column \\?"padding\\?" SET NOT NULL/);
    expect(run.stderr()).toMatch(/column \\?"amount\\?" dropped; column \\?"amount2\\?" numeric\(14,3\) added/);
    // The target's NOT NULL: a row without padding is refused there too.
    const c = await dst.client(db);
    await expect(c.query('INSERT INTO items (id, v, amount2) VALUES (9999, 1, 1)')).rejects.toThrow();
    await c.end();
    await stop(run);
    await dropSlots(db);
  });
});
