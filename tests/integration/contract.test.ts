/**
 * The contract suite: the same promises, run for every source/target pair — copy and stream converge
 * under concurrent writes; kill -9 during the copy and during streaming loses and doubles nothing;
 * a big transaction applies; bad input is refused. Per-direction type exactness lives in
 * types.test.ts (MySQL → MySQL), mysql-to-postgres.test.ts and the PostgreSQL source/target tests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import {
  ENGINE_PAIRS,
  EnginePool,
  contractTableSql,
  diffContract,
  fillContractTable,
  markerStreamed,
  startContractWriter,
  type Engine,
  type EngineName,
} from '../helpers/engines.js';

const PAIRS = ENGINE_PAIRS;

const pool = new EnginePool();
const running: CliRun[] = [];
let dbSeq = 0;

const engine = (role: 'source' | 'target', name: EngineName): Promise<Engine> => pool.get(role, name);

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await pool.stopAll();
});

async function waitConverged(src: Engine, srcDb: string, dst: Engine, dstDb: string, table: string, run: CliRun, ms = 90_000): Promise<void> {
  let last = '';
  try {
    await waitUntil(`${table} to converge`, async () => (last = await diffContract(src, srcDb, dst, dstDb, table)) === '', ms, 500);
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${last}\n--- tributary stderr ---\n${run.stderr().slice(-3000)}`, { cause: err });
  }
}

describe.each(PAIRS)('contract %s → %s', (srcName, dstName) => {
  let src: Engine;
  let dst: Engine;
  let db: string;

  beforeAll(async () => {
    src = await engine('source', srcName);
    dst = await engine('target', dstName);
  });

  const fresh = async (rows: number): Promise<string> => {
    db = `c${++dbSeq}_${srcName.slice(0, 2)}${dstName.slice(0, 2)}`;
    await src.createDatabase(db);
    await src.exec(db, contractTableSql(srcName, 'items'));
    if (rows > 0) await fillContractTable(src, db, 'items', rows);
    await dst.createDatabase(db);
    return db;
  };

  const sync = (database: string, extra: string[] = []): CliRun => {
    const run = startCli(['sync', '--source', src.url(database), '--target', dst.url(database), '--flush-interval', '200ms', ...extra]);
    running.push(run);
    return run;
  };

  it('converges with inserts, updates, deletes and key updates during and after the copy', async () => {
    const d = await fresh(30_000);
    const writer = await startContractWriter(src, d, 'items', 35_000);
    await waitUntil('writes before the sync starts', () => writer.ops() >= 30, 30_000, 20);
    const run = sync(d, ['--threads', '3', '--chunk-size', '1000', '--chunk-time', '50ms']);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done'), 120_000);
    // Writes after the copy, until the stream has caught up with them.
    await markerStreamed(src, dst, d, 'items', 1e9 + 1, run);
    await writer.stop();
    expect(writer.ops()).toBeGreaterThan(50);
    await waitConverged(src, d, dst, d, 'items', run);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('resumes after kill -9 during the copy and during streaming', async () => {
    // Enough rows that the copy of small chunks is far from done at the kill (5,000 rows in).
    const d = await fresh(30_000);
    const writer = await startContractWriter(src, d, 'items', 34_000, 2);
    const slow = ['--threads', '1', '--chunk-size', '500', '--chunk-time', '10ms'];
    const first = sync(d, slow);
    await waitUntil('a few chunks on the target', async () => (await dst.count(d, 'items').catch(() => 0)) >= 5000, 60_000, 50);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(first.stderr()).not.toContain('initial copy done');
    // Only the first run must be slow (killed mid-copy); the resumed copy takes chunks of the usual
    // size, several of them, under the same writes.
    const second = sync(d, ['--threads', '2', '--chunk-size', '2000']);
    await waitUntil('the resumed copy', () => second.stderr().includes('initial copy done'), 120_000);
    expect(second.stderr()).toContain('resuming copy after the last checkpointed chunk');
    // Streaming under writes: killed once it applied a change made after its copy.
    await markerStreamed(src, dst, d, 'items', 1e9 + 1, second);
    second.child.kill('SIGKILL');
    await second.exited;
    const third = sync(d);
    await waitUntil('the resumed stream', () => third.stderr().includes('resuming from checkpoint'), 60_000);
    await markerStreamed(src, dst, d, 'items', 1e9 + 2, third);
    await writer.stop();
    await waitConverged(src, d, dst, d, 'items', third);
    // Equal by the copy and the stream: not by the continuous checksum repairing a loss.
    expect(third.stderr()).not.toContain('repaired what differed');
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  });

  it('applies a 50k-row transaction', async () => {
    const d = await fresh(0);
    const run = sync(d, ['--buffer-mb', '8']);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done'), 60_000);
    if (srcName === 'mysql') {
      await src.exec(d, "BEGIN; INSERT INTO items SELECT seq, CONCAT('k', seq), seq, seq / 4, 'big' FROM seq_1_to_50000; UPDATE items SET v = v + 1 WHERE id % 2 = 0; COMMIT");
    } else {
      await src.exec(d, "BEGIN; INSERT INTO items SELECT s, 'k' || s, s, s / 4.0, 'big' FROM generate_series(1, 50000) s; UPDATE items SET v = v + 1 WHERE id % 2 = 0; COMMIT");
    }
    await waitConverged(src, d, dst, d, 'items', run, 120_000);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('refuses a non-empty target without a checkpoint, and a wrong source password, changing nothing', async () => {
    const d = await fresh(100);
    await dst.exec(d, contractTableSql(dstName, 'items'));
    await dst.exec(d, "INSERT INTO items (id, k, v) VALUES (1, 'mine', 1)");
    const refused = startCli(['sync', '--source', src.url(d), '--target', dst.url(d)]);
    expect(await refused.exited).not.toBe(0);
    expect(refused.stderr()).toContain('TRIB_TARGET_NOT_EMPTY');
    expect(await dst.count(d, 'items')).toBe(1);
    const badUrl = src.url(d).replace(/^(\w+:\/\/)(\w+)@/, '$1$2:wrong-secret@');
    const denied = startCli(['sync', '--source', badUrl, '--target', dst.url(d)]);
    expect(await denied.exited).not.toBe(0);
    if (srcName === 'mysql') expect(denied.stderr()).toContain('TRIB_AUTH_FAILED');
    expect(denied.stderr()).not.toContain('wrong-secret');
  });
});

describe.each([
  ['postgres', 'postgres'],
  ['postgres', 'mysql'],
] as [EngineName, EngineName][])('PostgreSQL source specifics %s → %s', (srcName, dstName) => {
  it('leaves an unchanged TOASTed value intact when another column of the row is updated', async () => {
    const src = await engine('source', srcName);
    const dst = await engine('target', dstName);
    const d = `toast${++dbSeq}_${dstName.slice(0, 2)}`;
    await src.createDatabase(d);
    // md5 chains do not compress, so the value is stored out of line (TOAST) and pgoutput sends
    // no value for it in an UPDATE that does not change it.
    await src.exec(d, `CREATE TABLE items (id BIGINT PRIMARY KEY, v INT NOT NULL, big TEXT);
      INSERT INTO items SELECT s, s, (SELECT string_agg(md5(s::text || g::text), '') FROM generate_series(1, 200) g) FROM generate_series(1, 50) s`);
    await dst.createDatabase(d);
    const run = startCli(['sync', '--source', src.url(d), '--target', dst.url(d), '--flush-interval', '200ms']);
    running.push(run);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done'), 60_000);
    await src.exec(d, 'UPDATE items SET v = v + 100 WHERE id <= 25');
    await src.exec(d, "INSERT INTO items VALUES (100, 1, repeat(md5('x'), 100)); UPDATE items SET v = 7 WHERE id = 100");
    let last = '';
    await waitUntil('the updates', async () => {
      const a = await src.rows(d, 'items', ['id', 'v', 'big'], 'id');
      const b = await dst.rows(d, 'items', ['id', 'v', 'big'], 'id');
      last = `${a.length}/${b.length} ${b.find((r, i) => r !== a[i])?.slice(0, 80) ?? ''}`;
      return a.length === b.length && a.every((r, i) => r === b[i]);
    }, 60_000, 500).catch((err: Error) => {
      throw new Error(`${err.message}: ${last}\n${run.stderr().slice(-2000)}`, { cause: err });
    });
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });
});

describe('PostgreSQL → MySQL preflight of values', () => {
  it('refuses NaN and digits MySQL cannot hold, per column, before writing anything', async () => {
    const src = await engine('source', 'postgres');
    const dst = await engine('target', 'mysql');
    const d = `pfv${++dbSeq}`;
    await src.createDatabase(d);
    await src.exec(d, `CREATE TABLE m (id INT PRIMARY KEY, f DOUBLE PRECISION, n NUMERIC(40,2));
      INSERT INTO m VALUES (1, 'NaN', 1.5), (2, 1.0, 12345678901234567890123456789012345678.25)`);
    await dst.createDatabase(d);
    const run = startCli(['sync', '--source', src.url(d), '--target', dst.url(d), '--column-types', 'm.n=DECIMAL(65,30)']);
    running.push(run);
    expect(await run.exited).not.toBe(0);
    const err = run.stderr();
    expect(err).toContain('TRIB_TABLE_UNSUPPORTED');
    expect(err).toMatch(/m\.f \(double precision\): 1 NaN/);
    expect(err).toMatch(/m\.n \(numeric\(40,2\)\): values with 38 integer and 2 fraction digits do not fit/);
    expect(await dst.count(d, 'm').catch(() => -1)).toBe(-1);
  });
});
