/**
 * `tributary move` for every source/target pair: under a running workload (an application user the
 * read-only switch stops) the move completes and the final checksum is clean; a cutover whose
 * final checksum fails (a privileged session kept writing) aborts and leaves the source writable;
 * a cutover command that fails aborts before anything is set.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/mysql.js';
import {
  ENGINE_PAIRS,
  EnginePool,
  contractTableSql,
  diffContract,
  fillContractTable,
  startContractWriter,
  type Engine,
  type EngineClient,
  type EngineName,
  type Writer,
} from '../helpers/engines.js';

const PAIRS = ENGINE_PAIRS;

const pool = new EnginePool();

const engine = (role: 'source' | 'target', name: EngineName): Promise<Engine> => pool.get(role, name);

afterAll(async () => {
  await pool.stopAll();
});

/** A client of the source as `user` (the application), for the contract writer. */
async function clientAs(e: Engine, db: string, user: 'app' | 'admin'): Promise<EngineClient> {
  if (e.name === 'mysql') {
    const c = await mysql.createConnection(user === 'app' ? `mysql://app:app@127.0.0.1:${e.server.port}/${db}` : e.url(db));
    return { query: async (sql, params) => void (await c.query(sql, params)), end: () => c.end() };
  }
  const c = new pg.Client({ connectionString: user === 'app' ? `postgres://app@127.0.0.1:${e.server.port}/${db}` : e.url(db) });
  await c.connect();
  // A session that sets its own default is not stopped by the cutover's read-only default.
  if (user === 'admin') await c.query('SET default_transaction_read_only = off');
  return { query: async (sql, params) => void (await c.query(sql, params)), end: () => c.end() };
}

function writerAs(e: Engine, db: string, user: 'app' | 'admin', maxId: number): Promise<Writer> {
  return startContractWriter({ name: e.name, client: (d: string) => clientAs(e, d, user) } as unknown as Engine, db, 'items', maxId, 2);
}

/** Whether a fresh application session may write to the source. */
async function writable(e: Engine, db: string): Promise<boolean> {
  const c = await clientAs(e, db, 'app');
  try {
    await c.query(e.name === 'mysql' ? 'UPDATE items SET v = v WHERE id = 1' : 'UPDATE items SET v = v WHERE id = 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end();
  }
}

describe.each(PAIRS)('move %s → %s', (srcName, dstName) => {
  let src: Engine;
  let dst: Engine;
  let seq = 0;

  beforeAll(async () => {
    src = await engine('source', srcName);
    dst = await engine('target', dstName);
  });

  const fresh = async (rows = 5000): Promise<string> => {
    const db = `mv${++seq}_${srcName.slice(0, 2)}${dstName.slice(0, 2)}`;
    await src.createDatabase(db);
    await src.exec(db, contractTableSql(srcName, 'items'));
    await fillContractTable(src, db, 'items', rows);
    if (srcName === 'mysql') {
      await src.exec(db, `CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY 'app'; GRANT SELECT, INSERT, UPDATE, DELETE ON \`${db}\`.* TO 'app'@'%'`);
    } else {
      await src.exec(db, `DO $$ BEGIN CREATE ROLE app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$; GRANT SELECT, INSERT, UPDATE, DELETE ON items TO app`);
    }
    await dst.createDatabase(db);
    return db;
  };

  const args = (db: string, extra: string[]) => [
    'move',
    '--source',
    src.url(db),
    '--target',
    dst.url(db),
    '--flush-interval',
    '200ms',
    '--checksum-interval',
    '300ms',
    '--json',
    '--ready-timeout',
    '90s',
    ...extra,
  ];

  it('moves under a running workload: read-only cutover, drain, clean final checksum', async () => {
    // More rows than the copy's 5,000-row chunk: the final checksum's chunks are verify's own.
    const db = await fresh(8000);
    const writer = await writerAs(src, db, 'app', 8000);
    let result: Awaited<ReturnType<typeof runCli>>;
    try {
      result = await runCli(args(db, ['--cutover', 'read-only']), {}, 180_000);
      expect(writer.ops()).toBeGreaterThan(0);
    } finally {
      await writer.stop();
    }
    try {
      expect(result.code, result.stderr.slice(-3000)).toBe(0);
      const report = JSON.parse(result.stdout) as { result: string; checksum: { equal: boolean; rowsChecked: number; chunks: number }; finalPosition: string; steps: { step: string }[]; writesStopped: string };
      expect(report.result).toBe('moved');
      expect(report.checksum.equal).toBe(true);
      expect(report.checksum.rowsChecked).toBeGreaterThan(5500);
      // The final checksum digests in verify's own 20,000-row chunks (no --chunk-size named), not the copy's 5,000.
      if (srcName === dstName) expect(report.checksum.chunks).toBe(1);
      expect(report.finalPosition).toBeTruthy();
      expect(report.writesStopped).toMatch(/read_only/);
      expect(report.steps.map((s) => s.step)).toEqual(['sync', 'ready', 'stop-writes', 'drain', 'final-checksum']);
      // Writes stay stopped after a move; the target holds the source's final state.
      expect(await writable(src, db)).toBe(false);
      expect(await diffContract(src, db, dst, db, 'items')).toBe('');
    } finally {
      // Other tests use this server: allow writes again.
      if (srcName === 'mysql') await src.exec(db, 'SET GLOBAL read_only = OFF');
      else {
        await src.exec(db, 'ALTER SYSTEM RESET default_transaction_read_only');
        await src.exec(db, 'SELECT pg_reload_conf()');
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    expect(await writable(src, db).catch(() => false)).toBe(true);
  }, 240_000);

  it('aborts when the final checksum differs (a privileged session kept writing) and leaves the source writable', async () => {
    const db = await fresh();
    const writer = await writerAs(src, db, 'admin', 5000);
    let result: Awaited<ReturnType<typeof runCli>>;
    try {
      result = await runCli(args(db, ['--cutover', 'read-only']), {}, 180_000);
    } finally {
      await writer.stop();
    }
    expect(result.code, result.stderr.slice(-3000)).toBe(1);
    expect(result.stderr).toContain('TRIB_CUTOVER_ABORTED');
    const report = JSON.parse(result.stdout) as { result: string; failedStep: string; reason: string; writesRestored: boolean };
    expect(report.result).toBe('aborted');
    expect(report.failedStep).toBe('final-checksum');
    expect(report.reason).toMatch(/differences: items/);
    expect(report.writesRestored).toBe(true);
    expect(await writable(src, db)).toBe(true);
  }, 240_000);

  it('aborts when the cutover command fails, naming it, and changes nothing on the source', async () => {
    const db = await fresh();
    const result = await runCli(args(db, ['--cutover', 'command', '--cutover-command', 'echo no way; exit 3']), {}, 180_000);
    expect(result.code, result.stderr.slice(-3000)).toBe(1);
    const report = JSON.parse(result.stdout) as { result: string; failedStep: string; reason: string };
    expect(report).toMatchObject({ result: 'aborted', failedStep: 'stop-writes' });
    expect(report.reason).toMatch(/exited with 3: no way/);
    expect(await writable(src, db)).toBe(true);
  }, 240_000);
});
