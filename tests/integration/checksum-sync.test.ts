/**
 * The continuous checksum inside `tributary sync`, for every source/target pair: after the copy it
 * walks every table again and again; a pass while writes run on the source is clean (nothing
 * repaired), and drift written straight onto the target (a changed row, a deleted row, an extra
 * row) is found and repaired, each repair logged with the table and the keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
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

const engine = (role: 'source' | 'target', name: EngineName): Promise<Engine> => pool.get(role, name);

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await pool.stopAll();
});

interface LogLine {
  msg?: string;
  table?: string;
  count?: number;
  keys?: { kind: string; key: Record<string, unknown> }[];
}

function logLines(run: CliRun): LogLine[] {
  return run
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{"level"'))
    .map((l) => JSON.parse(l) as LogLine);
}

const count = (run: CliRun, msg: RegExp) => logLines(run).filter((l) => msg.test(l.msg ?? '')).length;

describe.each(PAIRS)('continuous checksum %s → %s', (srcName, dstName) => {
  let src: Engine;
  let dst: Engine;

  beforeAll(async () => {
    src = await engine('source', srcName);
    dst = await engine('target', dstName);
  });

  it('passes clean while writes run, then finds and repairs drift written on the target', async () => {
    const db = `ck_${srcName.slice(0, 2)}${dstName.slice(0, 2)}`;
    await src.createDatabase(db);
    await src.exec(db, contractTableSql(srcName, 'items'));
    await fillContractTable(src, db, 'items', 20_000);
    await dst.createDatabase(db);
    const run = startCli(['sync', '--source', src.url(db), '--target', dst.url(db), '--flush-interval', '200ms', '--chunk-size', '2000', '--checksum-interval', '300ms', '--progress', 'json']);
    running.push(run);
    await waitUntil('the initial copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 60_000);
    expect(run.stderr()).toContain('initial copy done');

    // Writes on the source while the checker walks: at least one complete pass finds nothing to repair.
    const writer = await startContractWriter(src, db, 'items', 20_000, 2);
    try {
      await waitUntil('a clean checksum pass during writes', () => count(run, /^checksum pass clean/) > 0 || run.child.exitCode !== null, 90_000, 200);
    } finally {
      await writer.stop();
    }
    expect(run.child.exitCode).toBeNull();
    expect(count(run, /^checksum repaired/), logLines(run).filter((l) => /^checksum repaired/.test(l.msg ?? '')).map((l) => JSON.stringify(l)).join('\n')).toBe(0);
    await waitUntil('the target to catch up', async () => (await diffContract(src, db, dst, db, 'items')) === '', 60_000, 300);

    // Drift on the target: a changed row, a deleted row, a row the source does not have (the
    // writer deleted and moved random rows: take two the source still has).
    const [a, b] = (await src.rows(db, 'items', ['id'], 'id')).slice(100, 102);
    const q = (t: string) => (dstName === 'mysql' ? `\`${t}\`` : `"${t}"`);
    await dst.exec(db, `UPDATE ${q('items')} SET v = -1 WHERE id = ${a}`);
    await dst.exec(db, `DELETE FROM ${q('items')} WHERE id = ${b}`);
    await dst.exec(db, `INSERT INTO ${q('items')} (id, k, v, amount, pad) VALUES (999999, 'extra', 1, 1.00, 'x')`);
    expect(await diffContract(src, db, dst, db, 'items')).not.toBe('');
    await waitUntil('the repair of the drift', async () => (await diffContract(src, db, dst, db, 'items')) === '' || run.child.exitCode !== null, 60_000, 300);
    expect(await diffContract(src, db, dst, db, 'items')).toBe('');

    const repairs = logLines(run).filter((l) => /^checksum repaired/.test(l.msg ?? ''));
    const keys = repairs.flatMap((r) => (r.keys ?? []).map((k) => `${k.kind}:${String(k.key.id)}`)).sort();
    expect(keys).toEqual([`changed:${a}`, 'extra:999999', `missing:${b}`].sort());
    expect(repairs.every((r) => r.table === 'items')).toBe(true);

    // The status carries the checker's state.
    await waitUntil('a clean pass after the repair', () => count(run, /^checksum pass clean/) > 1, 30_000, 200);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    const last = run
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{"progress"'))
      .pop();
    const status = (JSON.parse(last ?? '{}') as { progress?: { checksum?: { passesCompleted: number; repairs: number; firstCleanPassAt: string | null } } }).progress?.checksum;
    expect(status?.passesCompleted).toBeGreaterThanOrEqual(2);
    expect(status?.repairs).toBe(3);
    expect(status?.firstCleanPassAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  }, 240_000);
});
