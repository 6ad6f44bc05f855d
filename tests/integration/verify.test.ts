/**
 * `tributary verify` against real servers, for every engine pair: drift injected on the target
 * (an update, a delete, an extra row) is found in one pass and repaired, for a numeric key (key
 * ranges on both sides) and a character key (the target read by the source's keys); duplicate rows
 * in a table without a key do not hide a difference; and a target kept in step by a running
 * `tributary sync` verifies clean while writes continue on the source.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TableReport, VerifyResult } from '../../src/checksum/report.js';
import { runCli, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import {
  ENGINE_PAIRS,
  EnginePool,
  contractTableSql,
  diffContract,
  fillContractTable,
  startContractWriter,
  type Engine,
  type EngineName,
} from '../helpers/engines.js';

const PAIRS = ENGINE_PAIRS;

const pool = new EnginePool();
const running: CliRun[] = [];
let dbSeq = 0;

const engine = (role: 'source' | 'target', name: EngineName): Promise<Engine> => pool.get(role, name);

beforeAll(async () => {
  // Every server the pairs use, started at once.
  await Promise.all([engine('source', 'mysql'), engine('source', 'postgres'), engine('target', 'mysql'), engine('target', 'postgres')]);
});

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await pool.stopAll();
});

const q = (e: Engine, name: string) => (e.name === 'mysql' ? `\`${name}\`` : `"${name}"`);

function table(r: VerifyResult, name: string): TableReport {
  const t = r.tables.find((x) => x.table === name);
  if (!t) throw new Error(`no report for table ${name} in ${JSON.stringify(r.tables.map((x) => x.table))}`);
  return t;
}

function keysOf(t: TableReport, kind: string): unknown[] {
  return t.ranges.flatMap((r) => r.keys.filter((k) => k.kind === kind).map((k) => Object.values(k.key)[0]));
}

describe.each(PAIRS)('verify %s → %s', (srcName, dstName) => {
  let src: Engine;
  let dst: Engine;

  beforeAll(async () => {
    src = await engine('source', srcName);
    dst = await engine('target', dstName);
  });

  const fresh = async (rows: number): Promise<string> => {
    const db = `v${++dbSeq}_${srcName.slice(0, 2)}${dstName.slice(0, 2)}`;
    await src.createDatabase(db);
    await src.exec(db, contractTableSql(srcName, 'items'));
    if (rows > 0) await fillContractTable(src, db, 'items', rows);
    await dst.createDatabase(db);
    return db;
  };

  const verify = async (db: string, extra: string[] = []) => {
    const r = await runCli(['verify', '--source', src.url(db), '--target', dst.url(db), '--chunk-size', '500', ...extra], {}, 60_000);
    return { ...r, result: extra.includes('--json') ? (JSON.parse(r.stdout) as VerifyResult) : undefined };
  };

  it('finds an update, a delete and an extra row on the target in one pass, and repairs them', async () => {
    const db = await fresh(3000);
    // A character key: across engines the target is read by the source's keys (collations differ).
    await src.exec(db, `CREATE TABLE ${q(src, 'names')} (name VARCHAR(32) NOT NULL PRIMARY KEY, n INT NOT NULL)`);
    await src.exec(db, `INSERT INTO ${q(src, 'names')} VALUES ('alpha', 1), ('Beta', 2), ('beta-2', 3), ('_gamma', 4), ('Zeta', 5), ('ä', 6), ('a b', 7)`);
    const copied = await runCli(['sync', '--copy-only', '--source', src.url(db), '--target', dst.url(db)]);
    expect(copied.code, copied.stderr.slice(-2000)).toBe(0);

    const clean = await verify(db, ['--rechecks', '0']);
    expect(clean.code, clean.stdout + clean.stderr.slice(-2000)).toBe(0);
    expect(clean.stdout).toMatch(/items: 3000 rows checked in \d+ chunks \(range\): equal/);
    expect(clean.stdout).toMatch(/names: 7 rows checked in 1 chunk \((range|keys)\): equal/);

    await dst.exec(db, `UPDATE ${q(dst, 'items')} SET v = v + 1 WHERE id = 1234`);
    await dst.exec(db, `DELETE FROM ${q(dst, 'items')} WHERE id = 2345`);
    await dst.exec(db, `INSERT INTO ${q(dst, 'items')} (id, k, v) VALUES (999999, 'extra', 1)`);
    await dst.exec(db, `UPDATE ${q(dst, 'names')} SET n = 20 WHERE name = 'Beta'`);
    await dst.exec(db, `DELETE FROM ${q(dst, 'names')} WHERE name = 'ä'`);
    await dst.exec(db, `INSERT INTO ${q(dst, 'names')} VALUES ('omega', 9)`);

    const found = await verify(db, ['--json', '--rechecks', '0']);
    expect(found.code).toBe(1);
    expect(found.stderr).toContain('TRIB_VERIFY_MISMATCH');
    const r = found.result!;
    expect(r.equal).toBe(false);
    const items = table(r, 'items');
    expect([items.missing, items.extra, items.changed, items.remaining]).toEqual([1, 1, 1, 3]);
    expect(keysOf(items, 'changed')).toEqual([1234]);
    expect(keysOf(items, 'missing')).toEqual([2345]);
    expect(keysOf(items, 'extra')).toEqual([999999]);
    expect(items.ranges.find((x) => x.keys.some((k) => k.kind === 'changed'))?.keys[0]?.columns).toEqual(['v']);
    const names = table(r, 'names');
    expect([names.missing, names.extra, names.changed]).toEqual([1, 1, 1]);
    expect(keysOf(names, 'changed')).toEqual(['Beta']);
    expect(keysOf(names, 'missing')).toEqual(['ä']);
    expect(keysOf(names, 'extra')).toEqual(['omega']);
    expect(JSON.stringify(r)).not.toMatch(/:[^:@/]*@127/); // no credentials in URLs

    // Logs in the format asked for, piped or not (here: text, though stderr is a pipe).
    const repaired = await verify(db, ['--repair', '--rechecks', '0', '--log-format', 'pretty', '--log-level', 'debug']);
    expect(repaired.code, repaired.stdout + repaired.stderr.slice(-2000)).toBe(0);
    const logLines = repaired.stderr.split('\n').filter((l) => /^\S/.test(l));
    expect(logLines.length, repaired.stderr).toBeGreaterThan(0);
    for (const l of logLines) expect(l, repaired.stderr).toMatch(/^\d\d:\d\d:\d\d (TRACE|DEBUG|INFO|WARN) /);
    expect(repaired.stdout).toMatch(/items: .*3 differences .*3 repaired; none remaining/);
    expect(repaired.stdout).toMatch(/names: .*3 differences .*3 repaired; none remaining/);

    // Both tables equal again, read back from the servers (a verify that says so is the clean run above).
    expect(await diffContract(src, db, dst, db, 'items')).toBe('');
    expect(await dst.rows(db, 'names', ['name', 'n'], 'n')).toEqual(await src.rows(db, 'names', ['name', 'n'], 'n'));
  });

  it('does not let duplicate rows of a table without a key hide a difference', async () => {
    // Three tables without a key, checked in one run: each table is compared on its own.
    const db = await fresh(0);
    const bag = (e: Engine, name: string) => `CREATE TABLE ${q(e, name)} (a INT, b VARCHAR(8))`;
    for (const name of ['bag1', 'bag2', 'bag3']) {
      await src.exec(db, bag(src, name));
      await dst.exec(db, bag(dst, name));
    }
    // bag1: same row count on both sides, and every row hash appears an even number of times on
    // each: an XOR of row hashes would call these equal.
    await src.exec(db, `INSERT INTO ${q(src, 'bag1')} VALUES (1, 'x'), (1, 'x'), (2, 'y'), (2, 'y'), (5, NULL)`);
    await dst.exec(db, `INSERT INTO ${q(dst, 'bag1')} VALUES (3, 'z'), (3, 'z'), (4, 'w'), (4, 'w'), (5, NULL)`);
    // bag2: one copy more of one row, one fewer of another: same count again.
    await src.exec(db, `INSERT INTO ${q(src, 'bag2')} VALUES (1, 'x'), (1, 'x'), (2, 'y'), (2, 'y'), (5, NULL)`);
    await dst.exec(db, `INSERT INTO ${q(dst, 'bag2')} VALUES (1, 'x'), (2, 'y'), (2, 'y'), (2, 'y'), (5, NULL)`);
    // bag3: bag2's target put right (the missing copy inserted, the extra one deleted): equal.
    await src.exec(db, `INSERT INTO ${q(src, 'bag3')} VALUES (1, 'x'), (1, 'x'), (2, 'y'), (2, 'y'), (5, NULL)`);
    await dst.exec(db, `INSERT INTO ${q(dst, 'bag3')} VALUES (1, 'x'), (2, 'y'), (2, 'y'), (2, 'y'), (5, NULL)`);
    await dst.exec(db, `INSERT INTO ${q(dst, 'bag3')} VALUES (1, 'x')`);
    await dst.exec(db, dst.name === 'mysql' ? 'DELETE FROM bag3 WHERE a = 2 LIMIT 1' : 'DELETE FROM bag3 WHERE ctid = (SELECT ctid FROM bag3 WHERE a = 2 LIMIT 1)');
    const r = await verify(db, ['--tables', 'bag*', '--json', '--rechecks', '0']);
    expect(r.code).toBe(1);
    expect(r.result!.tables.map((t) => t.table).sort()).toEqual(['bag1', 'bag2', 'bag3']);
    const t1 = table(r.result!, 'bag1');
    expect(t1.mode).toBe('multiset');
    expect([t1.rowsChecked, t1.targetRows, t1.missing, t1.extra]).toEqual([5, 5, 4, 4]);
    const t2 = table(r.result!, 'bag2');
    expect([t2.missing, t2.extra]).toEqual([1, 1]);
    const listed = t2.ranges[0]!.keys.map((k) => `${k.kind} ${JSON.stringify(k.key)} ×${k.count}`).sort();
    expect(listed).toEqual(['extra {"a":2,"b":"y"} ×1', 'missing {"a":1,"b":"x"} ×1']);
    const t3 = table(r.result!, 'bag3');
    expect(t3.mode).toBe('multiset');
    expect([t3.equal, t3.rowsChecked, t3.targetRows, t3.missing, t3.extra, t3.changed]).toEqual([true, 5, 5, 0, 0, 0]);
    expect(r.stderr).toContain('TRIB_VERIFY_MISMATCH');
    expect(r.stderr).toContain('2 of 3 tables differ');
  });

  it('verifies clean while writes continue on the source and a sync keeps the target in step', async () => {
    // 6000 rows: at least 12 chunks of 500, more than the 10 asked.
    const db = await fresh(6000);
    const sync = startCli(['sync', '--source', src.url(db), '--target', dst.url(db), '--flush-interval', '200ms']);
    running.push(sync);
    await waitUntil('the copy', () => sync.stderr().includes('initial copy done'), 60_000);
    const writer = await startContractWriter(src, db, 'items', 6600, 2);
    try {
      await new Promise((r) => setTimeout(r, 500));
      // The sync is held (SIGSTOP) while the verify reads its chunks, so that chunks are read between
      // a write on the source and its arrival on the target, whatever the machine's speed; it goes on
      // 3 s into the verify, well inside the re-checks' 19.75 s (250 ms doubling to 2 s, 12 times).
      sync.child.kill('SIGSTOP');
      const ops = writer.ops();
      await waitUntil('writes while the sync is held', () => writer.ops() >= ops + 20, 30_000, 50);
      const run = startCli(['verify', '--source', src.url(db), '--target', dst.url(db), '--chunk-size', '500', '--json', '--threads', '2', '--rechecks', '12']);
      await new Promise((r) => setTimeout(r, 3000));
      sync.child.kill('SIGCONT');
      const code = await run.exited;
      expect(code, `${run.stdout().slice(0, 3000)}\n${run.stderr().slice(-2000)}\n--- sync ---\n${sync.stderr().slice(-2000)}`).toBe(0);
      const items = table(JSON.parse(run.stdout()) as VerifyResult, 'items');
      expect(items.equal).toBe(true);
      expect(items.chunks).toBeGreaterThan(10);
      // The source changed under the verify: chunks were caught between a write and its arrival
      // on the target, and re-read until they agreed (without re-checks they would be reported).
      expect(items.rechecks).toBeGreaterThan(0);
    } finally {
      sync.child.kill('SIGCONT');
      await writer.stop();
    }
    expect(writer.ops()).toBeGreaterThan(20);
    // A repair beside a running sync could overwrite changes the sync applies: refused, nothing written.
    const refused = await verify(db, ['--repair', '--rechecks', '0']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('TRIB_ALREADY_RUNNING');
    sync.child.kill('SIGTERM');
    expect(await sync.exited).toBe(0);
  });
});
