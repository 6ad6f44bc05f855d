/**
 * A PostgreSQL source table renamed, swapped, recreated, moved to another schema, or with a column
 * renamed, without the event trigger (--pg-ddl-trigger off: with it, renames, drops and new tables
 * are followed, see ddl-stream-postgres.test.ts), while the sync streams, on real servers (PostgreSQL and
 * MariaDB targets): the sync cannot follow these, so it must stop with TRIB_DDL_UNSUPPORTED naming the table, apply
 * nothing of the transaction that showed the change, keep its checkpoint before it, and stop the
 * same way when restarted. A partition renamed under a table synced through its root is not such
 * a change (the stream goes on).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import { EnginePool, type Engine, type EngineName } from '../helpers/engines.js';

const pool = new EnginePool();
const running: CliRun[] = [];
const clients: pg.Client[] = [];
let seq = 0;

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  for (const c of clients) await c.end().catch(() => undefined);
  await pool.stopAll();
});

async function pgClient(e: Engine, db: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: e.url(db) });
  c.on('error', () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

/** The source's current WAL position as a number, to compare with the checkpoint's. */
async function walLsn(c: pg.Client): Promise<bigint> {
  const r = await c.query<{ l: string }>("SELECT pg_current_wal_lsn()::text AS l");
  return lsnValue(r.rows[0]?.l ?? '0/0');
}

function lsnValue(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

/** The LSN of the sync's stream checkpoint on the target. */
async function checkpointLsn(dst: Engine, db: string): Promise<bigint> {
  const rows = await dst.rows(db, '_tributary_checkpoint', ['name', 'body'], 'name');
  const stream = rows.find((r) => r.startsWith('|'));
  const m = stream && /"position":"postgres:[^:]+:([0-9A-F]+\/[0-9A-F]+)"/.exec(stream);
  if (!m) throw new Error(`no stream checkpoint in ${rows.join(' ; ')}`);
  return lsnValue(m[1] as string);
}

/** The server allows 10 replication slots: each case drops its database's once its syncs ended. */
async function dropSlots(src: Engine, db: string): Promise<void> {
  await src.exec('postgres', `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '${db}' AND NOT active`);
}

function sync(src: Engine, dst: Engine, db: string, extra: readonly string[] = []): CliRun {
  const run = startCli(['sync', '--source', src.url(db), '--target', dst.url(db), '--flush-interval', '100ms', '--checksum', 'off', '--pg-ddl-trigger', 'off', ...extra]);
  running.push(run);
  return run;
}

/** Waits for the run to end by itself (a stop), killing it after `ms`. */
async function stopped(run: CliRun, ms = 60_000): Promise<number> {
  const timer = setTimeout(() => run.child.kill('SIGKILL'), ms);
  try {
    return await run.exited;
  } finally {
    clearTimeout(timer);
  }
}

interface Case {
  readonly name: string;
  /** Statements that change the relation of `t` (before the transaction that writes under the change). */
  readonly change: string;
  /** A transaction writing the changed table and `u`: nothing of it may be applied. */
  readonly writes: string;
  /** What the error must say, beside the code and the table. */
  readonly says: RegExp;
  /**
   * The change never reaches the stream (a dropped table's successor is not in the publication):
   * the sync notices it in the catalogue within seconds, and the other tables' changes committed
   * meanwhile may be applied; the changed table's never are.
   */
  readonly fromCatalogue?: boolean;
  /** What a restart stops with (default: the same code). */
  readonly restartCode?: RegExp;
  /** Then `sync --force` starts over (the fix the error prints) and copies the table as it is now. */
  readonly thenForce?: boolean;
  /** More sync flags. */
  readonly flags?: readonly string[];
}

const CASES: Case[] = [
  {
    name: 'renamed and replaced by a new table of the same name',
    change: "ALTER TABLE t RENAME TO t_old; CREATE TABLE t (LIKE t_old INCLUDING ALL); INSERT INTO t VALUES (100, 'in the new t')",
    // u first: the whole transaction is left out, not only what follows the renamed table's change.
    writes: "BEGIN; INSERT INTO u VALUES (100, 'after'); INSERT INTO t_old VALUES (101, 'in t_old'); INSERT INTO t VALUES (102, 'in the new t'); COMMIT",
    says: /renamed to "?public"?\."?t_old"?.*a different relation \(OID \d+\) now has its name/,
    thenForce: true,
  },
  {
    name: 'renamed',
    change: 'ALTER TABLE t RENAME TO t_gone',
    writes: "BEGIN; INSERT INTO u VALUES (100, 'after'); INSERT INTO t_gone VALUES (101, 'renamed'); COMMIT",
    says: /renamed to "?public"?\."?t_gone"?/,
  },
  {
    name: 'dropped and created again',
    change: "DROP TABLE t; CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (100, 'in the new t')",
    writes: "BEGIN; INSERT INTO t VALUES (101, 'in the new t'); INSERT INTO u VALUES (100, 'after'); COMMIT",
    says: /was dropped.*a different relation \(OID \d+\) now has its name/,
    fromCatalogue: true,
  },
  {
    name: 'moved to another schema',
    change: 'CREATE SCHEMA other; ALTER TABLE t SET SCHEMA other',
    writes: "BEGIN; INSERT INTO u VALUES (100, 'after'); INSERT INTO other.t VALUES (101, 'moved'); COMMIT",
    says: /moved to another schema: it is now "?other"?\."?t"?/,
  },
  // A column renamed shows in pgoutput's Relation message as one column dropped and another added:
  // without the event trigger (--pg-ddl-trigger off) the sync cannot tell a rename from a drop and an add, so it stops
  // (before the transaction: the 'ddl' event lies between transactions), and a restart stops the same
  // way. Columns added, dropped and retyped are followed (ddl-stream-postgres.test.ts).
  {
    name: 'with a column renamed',
    change: 'ALTER TABLE t RENAME COLUMN v TO w',
    writes: "BEGIN; INSERT INTO u VALUES (100, 'after'); INSERT INTO t VALUES (101, 'renamed column'); COMMIT",
    says: /"v"? dropped and "?w"? added in one change of t: a rename or a drop and an add/,
  },
];

describe.each([
  ['postgres', CASES],
  ['mysql', CASES.filter((c) => /replaced|dropped and|column renamed/.test(c.name))],
] as [EngineName, Case[]][])('PostgreSQL → %s: a relation change the sync cannot follow', (dstName, cases) => {
  let src: Engine;
  let dst: Engine;

  beforeAll(async () => {
    src = await pool.get('source', 'postgres');
    dst = await pool.get('target', dstName);
  });

  it.each(cases.map((c) => [c.name, c] as const))('stops at a table %s, applies nothing after it, and stops again on restart', async (_name, c) => {
    const db = `rc${++seq}_${dstName.slice(0, 2)}`;
    await src.createDatabase(db);
    await src.exec(
      db,
      `CREATE TABLE t (id int PRIMARY KEY, v text);
       CREATE TABLE u (id int PRIMARY KEY, v text);
       INSERT INTO t SELECT s, 'v' || s FROM generate_series(1, 20) s;
       INSERT INTO u SELECT s, 'u' || s FROM generate_series(1, 20) s;`,
    );
    await dst.createDatabase(db);
    const first = sync(src, dst, db, c.flags);
    await waitUntil('the copy', () => first.stderr().includes('initial copy done') || first.child.exitCode !== null, 60_000);
    expect(first.stderr()).toContain('initial copy done');
    // Streaming works before the change.
    await src.exec(db, "INSERT INTO t VALUES (50, 'streamed'); INSERT INTO u VALUES (50, 'streamed')");
    await waitUntil('the streamed rows', async () => (await dst.count(db, 't')) === 21 && (await dst.count(db, 'u')) === 21, 30_000);
    const s = await pgClient(src, db);

    await src.exec(db, c.change);
    const before = await walLsn(s);
    await src.exec(db, c.writes);
    const code = await stopped(first);
    const err = first.stderr();
    expect(code, err.slice(-3000)).not.toBe(0);
    expect(err).toContain('TRIB_DDL_UNSUPPORTED');
    expect(err).toMatch(/table "?t"?/);
    expect(err).toMatch(c.says);
    // Nothing of the writing transaction was applied, nor anything written to the new or moved table.
    const u = await dst.count(db, 'u');
    if (!c.fromCatalogue) {
      expect(u).toBe(21);
      expect(await checkpointLsn(dst, db)).toBeLessThanOrEqual(before);
    }
    expect(await dst.count(db, 't')).toBe(21);
    const cp = await checkpointLsn(dst, db);

    // A restart stops again, the same way, and still applies nothing.
    const again = sync(src, dst, db, c.flags);
    const code2 = await stopped(again);
    const err2 = again.stderr();
    expect(code2, err2.slice(-3000)).not.toBe(0);
    expect(err2).toMatch(c.restartCode ?? /TRIB_DDL_UNSUPPORTED/);
    expect(err2).toMatch(/table "?(public"?\.)?"?t"?/);
    if (!c.restartCode) expect(err2).toMatch(c.says);
    expect(await dst.count(db, 'u')).toBe(u);
    expect(await dst.count(db, 't')).toBe(21);
    expect(await checkpointLsn(dst, db)).toBe(cp);
    if (c.thenForce) {
      const force = startCli(['sync', '--source', src.url(db), '--target', dst.url(db), '--copy-only', '--force', '--checksum', 'off']);
      running.push(force);
      expect(await stopped(force), force.stderr().slice(-3000)).toBe(0);
      expect(await dst.rows(db, 't', ['id', 'v'], 'id')).toEqual(await src.rows(db, 't', ['id', 'v'], 'id'));
      expect(await dst.count(db, 'u')).toBe(22);
    }
    await dropSlots(src, db);
  });
});

describe.each(['mysql', 'postgres'] as EngineName[])('PostgreSQL → %s: --ddl halt, and the column change applied to the target by hand', (dstName) => {
  it('stops at a dropped column, goes on past it once the target dropped it, and a later restart does not stop again', async () => {
    const src = await pool.get('source', 'postgres');
    const dst = await pool.get('target', dstName);
    const db = `rc${++seq}_fix_${dstName.slice(0, 2)}`;
    const halt = ['--ddl', 'halt'];
    await src.createDatabase(db);
    await src.exec(db, "CREATE TABLE t (id int PRIMARY KEY, v text, w int); INSERT INTO t SELECT s, 'v' || s, s FROM generate_series(1, 20) s;");
    await dst.createDatabase(db);
    const first = sync(src, dst, db, halt);
    await waitUntil('the copy', () => first.stderr().includes('initial copy done') || first.child.exitCode !== null, 60_000);
    await src.exec(db, 'ALTER TABLE t DROP COLUMN v; INSERT INTO t VALUES (21, 21)');
    expect(await stopped(first)).not.toBe(0);
    expect(first.stderr()).toMatch(/TRIB_DDL_UNSUPPORTED.*--ddl halt.*column "v" dropped/);
    // A restart stops again while the target still has the column.
    const stuck = sync(src, dst, db, halt);
    expect(await stopped(stuck)).not.toBe(0);
    expect(stuck.stderr()).toMatch(/TRIB_DDL_UNSUPPORTED.*column "v" dropped/);
    // The same change on the target: the restart goes on past it.
    await dst.exec(db, 'ALTER TABLE t DROP COLUMN v');
    const second = sync(src, dst, db, halt);
    await waitUntil('the row after the change', async () => (await dst.count(db, 't')) === 21 || second.child.exitCode !== null, 60_000);
    expect(second.child.exitCode, second.stderr().slice(-3000)).toBeNull();
    expect(second.stderr()).toContain('the target already has the resulting definition; continuing');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    // The columns it went on with are recorded: the next start has nothing to stop or warn about.
    const third = sync(src, dst, db, halt);
    await src.exec(db, 'INSERT INTO t VALUES (22, 22)');
    await waitUntil('the next row', async () => (await dst.count(db, 't')) === 22 || third.child.exitCode !== null, 60_000);
    expect(third.child.exitCode, third.stderr().slice(-3000)).toBeNull();
    expect(third.stderr()).not.toContain('DDL on a synced table');
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    await dropSlots(src, db);
  });
});

describe('PostgreSQL → postgres: partitions under a table synced through its root', () => {
  it('goes on when a partition is renamed, and stops when the partitioned table is', async () => {
    const src = await pool.get('source', 'postgres');
    const dst = await pool.get('target', 'postgres');
    const db = `rc${++seq}_part`;
    await src.createDatabase(db);
    await src.exec(
      db,
      `CREATE TABLE p (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
       CREATE TABLE p_low PARTITION OF p FOR VALUES FROM (0) TO (1000);
       CREATE TABLE p_high PARTITION OF p FOR VALUES FROM (1000) TO (2000);
       INSERT INTO p SELECT s, 'v' || s FROM generate_series(1, 1990, 10) s;`,
    );
    await dst.createDatabase(db);
    const run = sync(src, dst, db);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 60_000);
    expect(run.stderr()).toContain('initial copy done');
    await src.exec(db, "ALTER TABLE p_low RENAME TO p_low_renamed; INSERT INTO p VALUES (5, 'after the partition rename'), (1005, 'high')");
    await waitUntil('the rows after the partition rename', async () => (await dst.count(db, 'p')) === 201 || run.child.exitCode !== null, 30_000);
    expect(run.child.exitCode, run.stderr().slice(-3000)).toBeNull();
    expect(await dst.count(db, 'p')).toBe(201);
    await src.exec(db, "ALTER TABLE p RENAME TO p_renamed; INSERT INTO p_renamed VALUES (6, 'after the rename')");
    expect(await stopped(run)).not.toBe(0);
    expect(run.stderr()).toContain('TRIB_DDL_UNSUPPORTED');
    expect(run.stderr()).toMatch(/table "?p"?.*renamed to "?public"?\."?p_renamed"?/);
    expect(await dst.count(db, 'p')).toBe(201);
    await dropSlots(src, db);
  });
});
