/**
 * `--copy-order desc` (issue 14) on real servers, MariaDB → MariaDB and PostgreSQL → PostgreSQL:
 * tables keyed by collated strings, binary strings, decimals, unsigned integers, ENUM/SET, UUIDs
 * and composite keys copied down in chunks of a few rows arrive exactly; tables copied from their highest key down (an integer key and a composite key) while inserts,
 * updates, deletes and key updates run over the whole key range converge, and `verify` finds
 * them equal; the copy really goes down (the checkpoint's watermark, read from the target while
 * the copy runs, starts in the top half and only decreases); and a sync killed with SIGKILL
 * mid-copy resumes downward from its watermark even when restarted with `--copy-order asc`.
 */
import { describe, expect, it } from 'vitest';
import { decodeValues } from '../../src/core/values.js';
import { contractTableSql, diffContract, enginePoolRig, fillContractTable, startContractWriter, type Engine, type EngineClient, type EngineName } from '../helpers/engines.js';
import { runCli, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';

const rig = enginePoolRig();
const ROWS = 30_000;
const TENANTS = 40;
const NAMES = 250;

interface TableCp {
  readonly watermark: bigint | null;
  readonly order?: string;
  readonly rowsCopied: number;
  readonly done: boolean;
}

/** The copy checkpoint of `table` on the target, read as the sync stored it; undefined before its first chunk. */
async function tableCheckpoint(dst: Engine, db: string, table: string): Promise<TableCp | undefined> {
  const rows = await dst.rows(db, '_tributary_checkpoint', ['name', 'body'], 'name').catch(() => [] as string[]);
  const line = rows.find((r) => r.startsWith(`t:${table}|`));
  if (!line) return undefined;
  const body = JSON.parse(line.slice(line.indexOf('|') + 1)) as { watermark: string | null; below?: string | null; order?: string; rowsCopied: number; done: boolean };
  const stored = body.order === 'desc' ? body.below : body.watermark;
  const wm = stored ? decodeValues(stored)[0] : null;
  return { watermark: typeof wm === 'bigint' ? wm : wm === null || wm === undefined ? null : BigInt(String(wm)), ...(body.order ? { order: body.order } : {}), rowsCopied: body.rowsCopied, done: body.done };
}

/** Watches the table's checkpoint every 20 ms until stopped: the distinct watermarks seen, in order. */
function watchWatermarks(dst: Engine, db: string, table: string): { seen: TableCp[]; stop: () => void } {
  const seen: TableCp[] = [];
  let stopped = false;
  void (async () => {
    while (!stopped) {
      const cp = await tableCheckpoint(dst, db, table);
      const last = seen.at(-1);
      if (cp && !cp.done && cp.watermark !== null && cp.watermark !== last?.watermark) seen.push(cp);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return { seen, stop: () => (stopped = true) };
}

function compositeSql(engine: EngineName): string {
  const q = (s: string) => (engine === 'mysql' ? `\`${s}\`` : `"${s}"`);
  return `CREATE TABLE ${q('pairs')} (tenant INT NOT NULL, name VARCHAR(20) NOT NULL, v INT NOT NULL, PRIMARY KEY (tenant, name))`;
}

async function fillComposite(e: Engine, db: string): Promise<void> {
  if (e.name === 'mysql') {
    await e.exec(db, `INSERT INTO pairs SELECT t.seq, CONCAT('n', LPAD(n.seq, 5, '0')), t.seq * 1000 + n.seq FROM seq_1_to_${TENANTS} t, seq_1_to_${NAMES} n`);
  } else {
    await e.exec(db, `INSERT INTO pairs SELECT t, 'n' || lpad(n::text, 5, '0'), t * 1000 + n FROM generate_series(1, ${TENANTS}) t, generate_series(1, ${NAMES}) n`);
  }
}

/** Random upserts, updates and deletes on `pairs` across every tenant, in small transactions, until stopped. */
async function startCompositeWriter(e: Engine, db: string): Promise<{ ops: () => number; stop: () => Promise<void> }> {
  const my = e.name === 'mysql';
  const p = (i: number) => (my ? '?' : `$${i}`);
  const insert = my ? 'INSERT INTO pairs (tenant, name, v) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)' : 'INSERT INTO pairs (tenant, name, v) VALUES ($1, $2, $3) ON CONFLICT (tenant, name) DO UPDATE SET v = EXCLUDED.v';
  const update = `UPDATE pairs SET v = v + 1 WHERE tenant = ${p(1)} AND name = ${p(2)}`;
  const del = `DELETE FROM pairs WHERE tenant = ${p(1)} AND name = ${p(2)}`;
  const c: EngineClient = await e.client(db);
  let stopped = false;
  let ops = 0;
  const rnd = (n: number) => 1 + Math.floor(Math.random() * n);
  const name = () => `n${String(rnd(NAMES + 50)).padStart(5, '0')}`;
  const loop = (async () => {
    while (!stopped) {
      try {
        await c.query('BEGIN');
        for (let j = 0; j < 3; j++) {
          const r = Math.random();
          if (r < 0.4) await c.query(insert, [rnd(TENANTS + 2), name(), rnd(1_000_000)]);
          else if (r < 0.75) await c.query(update, [rnd(TENANTS), name()]);
          else await c.query(del, [rnd(TENANTS), name()]);
          ops++;
        }
        await c.query('COMMIT');
      } catch {
        await c.query('ROLLBACK').catch(() => undefined);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  })();
  return {
    ops: () => ops,
    async stop() {
      stopped = true;
      await loop;
      await c.end().catch(() => undefined);
    },
  };
}

async function setUp(engine: EngineName, db: string): Promise<{ src: Engine; dst: Engine }> {
  const src = await rig.pool.get('source', engine);
  const dst = await rig.pool.get('target', engine);
  await src.createDatabase(db);
  await dst.createDatabase(db);
  await src.exec(db, contractTableSql(engine, 'items'));
  await fillContractTable(src, db, 'items', ROWS);
  await src.exec(db, compositeSql(engine));
  await fillComposite(src, db);
  return { src, dst };
}

function sync(src: Engine, dst: Engine, db: string, extra: readonly string[]): CliRun {
  return rig.track(startCli(['sync', '--source', src.url(db), '--target', dst.url(db), '--flush-interval', '200ms', '--checksum', 'off', ...extra]));
}

/** '' when `pairs` holds the same rows on both sides, else the first differences. */
async function pairsDiffer(src: Engine, dst: Engine, db: string): Promise<string> {
  const cols = ['tenant', 'name', 'v'];
  const a = await src.rows(db, 'pairs', cols, 'tenant, name');
  const b = await dst.rows(db, 'pairs', cols, 'tenant, name').catch((err: unknown) => [`(target: ${(err as Error).message})`]);
  if (a.length === b.length && a.every((r, i) => r === b[i])) return '';
  const [sa, sb] = [new Set(a), new Set(b)];
  return `pairs: source ${a.length} rows, target ${b.length}; only in source: ${a.filter((r) => !sb.has(r)).slice(0, 3).join(' ; ')}; only in target: ${b.filter((r) => !sa.has(r)).slice(0, 3).join(' ; ')}`;
}

async function convergedAll(src: Engine, dst: Engine, db: string, run: CliRun): Promise<void> {
  let last = '';
  await waitUntil(
    'both tables to converge',
    async () => (last = (await diffContract(src, db, dst, db, 'items')) + (await pairsDiffer(src, dst, db))) === '' || run.child.exitCode !== null,
    90_000,
    300,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}: ${last}\n${run.stderr().slice(-3000)}`, { cause: err });
  });
  expect(last, run.stderr().slice(-3000)).toBe('');
}

async function verifyClean(src: Engine, dst: Engine, db: string): Promise<void> {
  const v = await runCli(['verify', '--source', src.url(db), '--target', dst.url(db)], {}, 120_000);
  expect(v.code, v.stdout + v.stderr).toBe(0);
}

/** The watermarks seen go strictly down, start in the top half of the keys, and all say desc. */
function expectDownward(seen: readonly TableCp[], top: bigint): void {
  expect(seen.length, JSON.stringify(seen, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).toBeGreaterThanOrEqual(3);
  expect(seen.every((c) => c.order === 'desc')).toBe(true);
  expect(seen[0]!.watermark! > top / 2n).toBe(true);
  for (let i = 1; i < seen.length; i++) expect(seen[i]!.watermark! < seen[i - 1]!.watermark!).toBe(true);
}

/** Tables keyed by types whose order is the database's own (collations, binary, decimals, ENUM, SET, composites), and their rows. */
const KEY_TABLES: Record<EngineName, { sql: string; tables: Record<string, string[]> }> = {
  mysql: {
    sql: `SET SESSION sql_mode = '';
      CREATE TABLE k_str (k VARCHAR(20) NOT NULL, v INT, PRIMARY KEY (k)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
      CREATE TABLE k_bin (k VARBINARY(16) NOT NULL PRIMARY KEY, v INT);
      CREATE TABLE k_comp (a INT NOT NULL, b VARCHAR(10) NOT NULL, c DATETIME(6) NOT NULL, v TEXT, PRIMARY KEY (a, b, c));
      CREATE TABLE k_big (k BIGINT UNSIGNED NOT NULL PRIMARY KEY, v INT);
      CREATE TABLE k_dec (k DECIMAL(30,10) NOT NULL PRIMARY KEY, v INT);
      CREATE TABLE k_enum (e ENUM('z','b','a') NOT NULL, n INT NOT NULL, PRIMARY KEY (e, n));
      CREATE TABLE k_set (s SET('z','b','a') NOT NULL PRIMARY KEY, n INT);
      INSERT INTO k_str VALUES ('a', 1), ('B', 2), ('ü', 3), ('😀', 4), ('z ', 5), ('c', 6), ('D', 7);
      INSERT INTO k_bin VALUES (0x00, 1), (0xff, 2), (0x0000, 3), (0x80, 4), (0x7f00, 5);
      INSERT INTO k_comp VALUES (1, 'a', '2024-01-01 00:00:00.000001', 'x'), (1, 'b', '2024-01-01 00:00:00', 'y'), (2, 'a', '0000-00-00 00:00:00', 'z'), (1, 'a', '2024-01-01 00:00:00', 'w'), (2, 'A', '2024-01-01 00:00:00', 'u');
      INSERT INTO k_big VALUES (18446744073709551615, 1), (0, 2), (9223372036854775808, 3), (9223372036854775807, 4);
      INSERT INTO k_dec VALUES (-99999999999999999999.9999999999, 1), (0.0000000001, 2), (1, 3);
      INSERT INTO k_dec SELECT 12345678901234567890.1234567000 + seq * 0.0000000001, seq FROM seq_1_to_45;
      INSERT INTO k_enum SELECT ELT(1 + seq % 3, 'z', 'b', 'a'), seq FROM seq_1_to_40;
      INSERT INTO k_set VALUES ('', 0), ('z', 1), ('b', 2), ('z,b', 3), ('a', 4), ('z,a', 5), ('b,a', 6), ('z,b,a', 7)`,
    tables: { k_str: ['k', 'v'], k_bin: ['k', 'v'], k_comp: ['a', 'b', 'c', 'v'], k_big: ['k', 'v'], k_dec: ['k', 'v'], k_enum: ['e', 'n'], k_set: ['s', 'n'] },
  },
  postgres: {
    sql: `CREATE TABLE k_text (k text PRIMARY KEY, v int);
      CREATE TABLE k_bytea (k bytea PRIMARY KEY, v int);
      CREATE TABLE k_num (k numeric(30,10) PRIMARY KEY, v int);
      CREATE TABLE k_comp (a int, b text, c timestamptz, v text, PRIMARY KEY (a, b, c));
      CREATE TABLE k_uuid (k uuid PRIMARY KEY, v int);
      INSERT INTO k_text VALUES ('a', 1), ('B', 2), ('ü', 3), ('😀', 4), ('z ', 5), ('c', 6), ('D', 7), ('', 8);
      INSERT INTO k_bytea VALUES ('\\x00', 1), ('\\xff', 2), ('\\x0000', 3), ('\\x80', 4), ('\\x', 5);
      INSERT INTO k_num VALUES (-99999999999999999999.9999999999, 1), (0.0000000001, 2), (1, 3);
      INSERT INTO k_num SELECT 12345678901234567890.1234567000 + s * 0.0000000001, s FROM generate_series(1, 45) s;
      INSERT INTO k_comp VALUES (1, 'a', '2024-01-01 00:00:00.000001+00', 'x'), (1, 'b', '2024-01-01 00:00:00+00', 'y'), (2, 'a', '-infinity', 'z'), (1, 'a', '2024-01-01 00:00:00+00', 'w'), (2, 'A', 'infinity', 'u');
      INSERT INTO k_uuid SELECT md5(s::text)::uuid, s FROM generate_series(1, 30) s`,
    tables: { k_text: ['k', 'v'], k_bytea: ['k', 'v'], k_num: ['k', 'v'], k_comp: ['a', 'b', 'c', 'v'], k_uuid: ['k', 'v'] },
  },
};

describe.each(['mysql', 'postgres'] as const)('--copy-order desc, %s → same engine', (engine) => {
  it('copies tables keyed by every kind of key down in chunks of a few rows, exactly', async () => {
    const db = 'desc_keys';
    const src = await rig.pool.get('source', engine);
    const dst = await rig.pool.get('target', engine);
    await src.createDatabase(db);
    await dst.createDatabase(db);
    const { sql, tables } = KEY_TABLES[engine];
    for (const stmt of sql.split(/;\n/)) await src.exec(db, stmt);
    const run = rig.track(startCli(['sync', '--copy-only', '--source', src.url(db), '--target', dst.url(db), '--copy-order', 'desc', '--chunk-size', '3', '--chunk-time', '1ms', '--threads', '2'], { TZ: 'Asia/Kolkata' }));
    expect(await run.exited, run.stderr().slice(-3000)).toBe(0);
    for (const [table, cols] of Object.entries(tables)) {
      const order = cols.slice(0, -1).join(', ');
      const [a, b] = [await src.rows(db, table, cols, order), await dst.rows(db, table, cols, order)];
      expect(b, table).toEqual(a);
      expect(a.length, table).toBeGreaterThan(3);
      expect(await tableCheckpoint(dst, db, table).catch(() => undefined), table).toMatchObject({ done: true, order: 'desc', rowsCopied: a.length });
    }
    await verifyClean(src, dst, db);
  }, 180_000);


  it('copies from the highest key down and converges with writes over the whole key range, composite key included', async () => {
    const db = 'desc_conv';
    const { src, dst } = await setUp(engine, db);
    const writer = await startContractWriter(src, db, 'items', ROWS);
    const pairsWriter = await startCompositeWriter(src, db);
    await new Promise((r) => setTimeout(r, 300));
    const run = sync(src, dst, db, ['--copy-order', 'desc', '--threads', '2', '--chunk-size', '500', '--chunk-time', '20ms']);
    const watch = watchWatermarks(dst, db, 'items');
    await waitUntil('the copy to finish', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 120_000);
    watch.stop();
    expect(run.stderr(), run.stderr().slice(-3000)).toContain('initial copy done');
    await new Promise((r) => setTimeout(r, 1000));
    await writer.stop();
    await pairsWriter.stop();
    expect(writer.ops()).toBeGreaterThan(100);
    expect(pairsWriter.ops()).toBeGreaterThan(100);
    expectDownward(watch.seen, BigInt(ROWS));
    await convergedAll(src, dst, db, run);
    const pairsCp = await tableCheckpoint(dst, db, 'pairs');
    expect(pairsCp).toMatchObject({ done: true, order: 'desc' });
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    await verifyClean(src, dst, db);
  }, 300_000);

  it('resumes a desc copy killed with SIGKILL downward from its watermark, also when restarted with --copy-order asc', async () => {
    const db = 'desc_crash';
    const { src, dst } = await setUp(engine, db);
    const writer = await startContractWriter(src, db, 'items', ROWS, 2);
    const args = ['--threads', '1', '--chunk-size', '500', '--chunk-time', '10ms'];
    const first = sync(src, dst, db, ['--copy-order', 'desc', ...args]);
    await waitUntil('copy progress in the checkpoint', async () => ((await tableCheckpoint(dst, db, 'items'))?.rowsCopied ?? 0) >= 10_000 || first.child.exitCode !== null, 90_000, 50);
    first.child.kill('SIGKILL');
    await first.exited;
    const saved = await tableCheckpoint(dst, db, 'items');
    expect(saved, first.stderr().slice(-3000)).toMatchObject({ done: false, order: 'desc' });
    expect(saved!.watermark).not.toBeNull();
    expect(saved!.watermark! < BigInt(ROWS)).toBe(true);

    const second = sync(src, dst, db, ['--copy-order', 'asc', ...args]);
    const watch = watchWatermarks(dst, db, 'items');
    await waitUntil('the resumed copy to finish', () => second.stderr().includes('initial copy done') || second.child.exitCode !== null, 120_000);
    watch.stop();
    expect(second.stderr(), second.stderr().slice(-3000)).toContain('initial copy done');
    // It went on downward from the watermark, and said why it did not turn around.
    expect(second.stderr()).toMatch(/copy goes on descending as its checkpoint began it/);
    // (The first watermark seen may still be the one the killed run stored.)
    const below = watch.seen.filter((c) => c.watermark !== saved!.watermark);
    expect(below.length).toBeGreaterThanOrEqual(2);
    expect(watch.seen.every((c) => c.order === 'desc' && c.watermark! <= saved!.watermark!)).toBe(true);
    for (let i = 1; i < watch.seen.length; i++) expect(watch.seen[i]!.watermark! < watch.seen[i - 1]!.watermark!).toBe(true);
    await writer.stop();
    await convergedAll(src, dst, db, second);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
    await verifyClean(src, dst, db);
  }, 300_000);
});
