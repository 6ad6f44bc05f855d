/**
 * Where a MySQL/MariaDB transaction really ends, on real MariaDB servers: a failure in the middle
 * of a steady stream stops delivery at the failed event (nothing after it applied or checkpointed,
 * and a restart does not skip it); ROLLBACK TO SAVEPOINT undoes the rows after the savepoint and is
 * not a boundary (also when those rows spill to disk); XA transactions are held from XA PREPARE
 * until XA COMMIT (applied) or XA ROLLBACK (discarded), with the checkpoint never past an
 * undecided one, across a kill -9.
 */
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, diffTables, runCli, startCli, startPair, waitEqual, waitUntil, type CliRun, type Pair } from '../helpers/mysql.js';

let pair: Pair;
const running: CliRun[] = [];

function sync(db: string, extra: string[] = []): CliRun {
  const run = startCli(['sync', '--source', pair.srcUrl(db), '--target', pair.dstUrl(db), '--flush-interval', '100ms', '--checksum', 'off', ...extra]);
  running.push(run);
  return run;
}

async function stop(run: CliRun): Promise<number> {
  run.child.kill('SIGINT');
  return run.exited;
}

async function streamPosition(db: string): Promise<{ file: string; pos: number; gtid?: string }> {
  const [rows] = await pair.dst.query<RowDataPacket[]>(`SELECT body FROM \`${db}\`._tributary_checkpoint WHERE name = ''`);
  const body = JSON.parse(String(rows[0]?.body)) as { position: string };
  return JSON.parse(body.position) as { file: string; pos: number; gtid?: string };
}

/** The sequence number of domain 0 in a MariaDB GTID position. */
function seqOf(gtid: string | undefined): number {
  const m = /(?:^|,)0-\d+-(\d+)/.exec(gtid ?? '');
  return m ? Number(m[1]) : -1;
}

async function ids(db: string, table: string, on: 'src' | 'dst'): Promise<number[]> {
  const [rows] = await pair[on].query<RowDataPacket[]>(`SELECT id FROM \`${db}\`.\`${table}\` ORDER BY id`);
  return rows.map((r) => Number(r.id));
}

async function gtidNow(): Promise<number> {
  const [[row]] = await pair.src.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS g');
  return seqOf(String(row?.g));
}

beforeAll(async () => {
  pair = await startPair();
});

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await pair?.stop();
});

describe('a failure stops delivery at the failed event', () => {
  it('applies and checkpoints nothing after a transaction that fails to decode, and a restart does not skip it', async () => {
    await pair.src.query('CREATE DATABASE fail; CREATE TABLE fail.items (id INT PRIMARY KEY, v INT, w INT); CREATE TABLE fail.ticks (id INT PRIMARY KEY, at INT)');
    await pair.dst.query('CREATE DATABASE fail');
    // --batch-size 1: every transaction end commits at once, so whatever is delivered after the
    // failed change would be committed and checkpointed before the failure surfaces.
    const run = sync('fail', ['--batch-size', '1']);
    await waitUntil('the stream', () => run.stderr().includes('initial copy done'), 60_000);

    // A steady insert stream on another table, before and after the failing transaction.
    const writer = await connect(pair.srcUrl('fail'));
    let tick = 0;
    let writing = true;
    let held = false;
    let idle = false;
    const loop = (async () => {
      while (writing) {
        idle = held;
        if (held) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        tick++;
        await writer.query('INSERT INTO ticks VALUES (?, ?)', [tick, tick]).catch(() => (writing = false));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await waitUntil('ticks on the target', async () => (await ids('fail', 'ticks', 'dst')).length > 50, 30_000);

    // Drop a column the sync knows, outside the binlog: the next row of `items` cannot be decoded
    // against the definition the sync read.
    const admin = await connect(pair.srcUrl('fail'));
    await admin.query('SET SESSION sql_log_bin = 0; ALTER TABLE items DROP COLUMN w; SET SESSION sql_log_bin = 1');
    // The writer is held while the failing transaction commits, so every tick up to
    // lastTickBefore committed before it and every later one after it.
    held = true;
    await waitUntil('the writer to pause', () => idle, 10_000, 5);
    const lastTickBefore = tick;
    const before = await gtidNow();
    await admin.query('BEGIN; INSERT INTO items VALUES (1, 1); INSERT INTO ticks VALUES (1000000, 0); COMMIT');
    const [[last]] = await admin.query<RowDataPacket[]>('SELECT @@last_gtid AS g');
    const failing = seqOf(String(last?.g));
    expect(failing).toBeGreaterThan(before);
    held = false;
    await new Promise((r) => setTimeout(r, 1500));
    writing = false;
    await loop;

    const code = await run.exited;
    expect(code).not.toBe(0);
    expect(run.stderr()).toMatch(/has no column 'w'/);

    // Nothing after the failed change: no tick written after it, and the checkpoint before it.
    const after = (await ids('fail', 'ticks', 'dst')).filter((t) => t > lastTickBefore);
    expect(after).toEqual([]);
    expect(await ids('fail', 'items', 'dst')).toEqual([]);
    const cp = await streamPosition('fail');
    expect(seqOf(cp.gtid)).toBeLessThan(failing);

    // The restart reads the new definition and goes on from the checkpoint: the failing
    // transaction is applied, not skipped, and everything after it too.
    await pair.dst.query('ALTER TABLE fail.items DROP COLUMN w');
    const again = sync('fail');
    await waitEqual(pair, 'fail', 'fail', 'ticks', 60_000);
    await waitEqual(pair, 'fail', 'fail', 'items', 60_000);
    expect(await ids('fail', 'items', 'dst')).toEqual([1]);
    expect(await stop(again)).toBe(0);
    await writer.end();
    await admin.end();
  });
});

describe('savepoints', () => {
  // The binlog is decoded in a thread of its own by default; `--decode-thread off` is the in-thread
  // path, kept as an option: both are run.
  it.each(['on', 'off'])('discards the rows a ROLLBACK TO SAVEPOINT undoes and places no boundary there (--decode-thread %s)', async (mode) => {
    const db = `sp_${mode}`;
    await pair.src.query(`CREATE DATABASE ${db}; CREATE TABLE ${db}.i (id INT PRIMARY KEY, pad VARCHAR(200)) ENGINE=InnoDB; CREATE TABLE ${db}.a (id INT PRIMARY KEY) ENGINE=Aria`);
    await pair.dst.query(`CREATE DATABASE ${db}`);
    // --buffer-mb 1: the rows after a savepoint spill to a file after 128 KiB.
    const run = sync(db, ['--buffer-mb', '1', '--decode-thread', mode]);
    await waitUntil('the stream', () => run.stderr().includes('initial copy done'), 60_000);
    expect(run.stderr()).toContain(mode === 'on' ? 'the binlog is decoded in a thread of its own' : 'the binlog is decoded on the applying thread');
    // A sync starts its decoding thread beside the session's opening, not after it.
    if (mode === 'on') expect(run.stderr()).toContain('the decoding thread was started ahead');
    else expect(run.stderr()).not.toContain('started ahead');
    const c = await connect(pair.srcUrl(db));
    // A non-transactional change makes the server binlog ROLLBACK TO instead of removing the rows.
    await c.query(`BEGIN; INSERT INTO i VALUES (11, 'x'); SAVEPOINT s1; INSERT INTO i VALUES (12, 'x'); INSERT INTO a VALUES (12); ROLLBACK TO SAVEPOINT s1; INSERT INTO i VALUES (13, 'x'); COMMIT`);
    // Nested savepoints, thousands of rows (spilled), a rollback to the inner one only.
    const rows = (from: number, n: number) => Array.from({ length: n }, (_, k) => `(${from + k}, REPEAT('p', 150))`).join(',');
    await c.query(
      `BEGIN; INSERT INTO i VALUES ${rows(100, 100)}; SAVEPOINT outer_sp; INSERT INTO i VALUES ${rows(1000, 3000)}; SAVEPOINT inner_sp; ` +
        `INSERT INTO i VALUES ${rows(5000, 3000)}; UPDATE i SET pad = 'changed' WHERE id < 200; INSERT INTO a VALUES (99); ROLLBACK TO inner_sp; ` +
        `DELETE FROM i WHERE id BETWEEN 1000 AND 1009; INSERT INTO i VALUES (9000, 'last'); COMMIT`,
    );
    await waitEqual(pair, db, db, 'i', 60_000);
    const got = await ids(db, 'i', 'dst');
    expect(got).not.toContain(12);
    expect(got).toContain(11);
    expect(got).toContain(13);
    expect(got.filter((id) => id >= 5000 && id < 8000)).toEqual([]);
    expect(got).toContain(9000);
    expect(await diffTables(pair, db, db, 'i')).toBe('');
    expect(await stop(run)).toBe(0);
    await c.end();
  });
});

describe('XA transactions', () => {
  it('holds a prepared XA transaction until XA COMMIT, discards one rolled back, and never checkpoints past an undecided one', async () => {
    await pair.src.query('CREATE DATABASE xa; CREATE TABLE xa.t (id INT PRIMARY KEY, v VARCHAR(20)); CREATE TABLE xa.other (id INT PRIMARY KEY)');
    await pair.dst.query('CREATE DATABASE xa');
    const run = sync('xa');
    await waitUntil('the stream', () => run.stderr().includes('initial copy done'), 60_000);

    const prepared: number[] = [];
    for (const sql of [
      `XA START 'keep'; INSERT INTO t VALUES (1, 'xa'), (2, 'xa'); UPDATE t SET v = 'xa2' WHERE id = 2; XA END 'keep'; XA PREPARE 'keep'`,
      `XA START 'drop'; INSERT INTO t VALUES (3, 'rolled back'); XA END 'drop'; XA PREPARE 'drop'`,
    ]) {
      const x = await connect(pair.srcUrl('xa'));
      await x.query(sql);
      const [[last]] = await x.query<RowDataPacket[]>('SELECT @@last_gtid AS g');
      prepared.push(seqOf(String(last?.g)));
      await x.end(); // a prepared XA transaction outlives its connection
    }
    // Transactions after the prepared ones are applied while those stay undecided.
    await pair.src.query('INSERT INTO xa.other VALUES (1), (2), (3)');
    await waitUntil('the later transaction', async () => (await ids('xa', 'other', 'dst')).length === 3, 30_000);
    expect(await ids('xa', 't', 'dst')).toEqual([]);
    await new Promise((r) => setTimeout(r, 500));
    expect(prepared[0]).toBeGreaterThan(0);
    expect(seqOf((await streamPosition('xa')).gtid)).toBeLessThan(prepared[0] as number);

    // `check` warns that a sync starting now would not see them.
    const check = await runCli(['check', '--source', pair.srcUrl('xa'), '--target', pair.dstUrl('xa')]);
    expect(check.stdout + check.stderr).toMatch(/prepared XA transactions.*2 prepared \('drop', 'keep'\)/);

    // kill -9 while undecided: the restart reads the prepared transactions again.
    run.child.kill('SIGKILL');
    await run.exited;
    const again = sync('xa');
    // Its start says (as a warning) what check said: XA transactions are prepared now.
    await waitUntil('the warning about prepared XA transactions', () => again.stderr().includes("prepared XA transactions is 2 prepared ('drop', 'keep')"), 60_000);
    await pair.src.query("XA ROLLBACK 'drop'");
    await pair.src.query("XA COMMIT 'keep'");
    await pair.src.query('INSERT INTO xa.other VALUES (4)');
    await waitEqual(pair, 'xa', 'xa', 't', 60_000);
    await waitEqual(pair, 'xa', 'xa', 'other', 60_000);
    expect(await ids('xa', 't', 'dst')).toEqual([1, 2]);
    // Decided: the checkpoint moves past them.
    await waitUntil('the checkpoint past the XA', async () => seqOf((await streamPosition('xa')).gtid) >= (await gtidNow()), 30_000);
    expect(await stop(again)).toBe(0);
  });
});

describe('error 1236', () => {
  it('is TRIB_POSITION_LOST only for a purged position: a GTID the server never had is refused before streaming, naming its own fix, not --force', async () => {
    await pair.src.query('CREATE DATABASE e1236; CREATE TABLE e1236.t (id INT PRIMARY KEY); INSERT INTO e1236.t VALUES (1)');
    await pair.dst.query('CREATE DATABASE e1236');
    const run = sync('e1236');
    await waitUntil('the stream', () => run.stderr().includes('initial copy done'), 60_000);
    expect(await stop(run)).toBe(0);
    // A checkpoint ahead of the source (restored from an older backup, say): same domain, so it
    // passes the identity check, but the server has no such transaction: the GTID containment check
    // (failover.test.ts) refuses it before the dump, which would answer 1236.
    const cp = await streamPosition('e1236');
    const ahead = JSON.stringify({ ...cp, gtid: '0-1-99999999' });
    const [rows] = await pair.dst.query<RowDataPacket[]>("SELECT body FROM e1236._tributary_checkpoint WHERE name = ''");
    const body = JSON.parse(String(rows[0]?.body)) as Record<string, unknown>;
    await pair.dst.query("UPDATE e1236._tributary_checkpoint SET body = ? WHERE name = ''", [JSON.stringify({ ...body, position: ahead })]);
    const again = sync('e1236');
    const code = await again.exited;
    expect(code).toBe(1);
    const err = again.stderr();
    expect(err).toContain('TRIB_SOURCE_BEHIND');
    expect(err).toContain('up to GTID 0-1-99999999');
    expect(err).not.toContain('TRIB_POSITION_LOST');
    expect(err).not.toContain('--force');
  });
});
