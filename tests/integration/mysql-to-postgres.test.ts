/**
 * MariaDB → PostgreSQL on real servers, through the CLI: every MySQL type copied and streamed
 * exactly (the tributary process in a non-UTC zone), both zero-date policies, NUL refused by name,
 * convergence under concurrent writes (the copied table analyzed), a unique value moving between rows inside one batch, and
 * kill -9 while streaming.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import { diffMysqlPg, startPgPair, waitEqualPg, type PgPair } from '../helpers/postgres.js';
import { createWriterTable, startWriter } from '../helpers/workload.js';

const COLUMNS = `
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
  bi BIGINT, biu BIGINT UNSIGNED,
  d65 DECIMAL(65,30), d10 DECIMAL(10,0), dneg DECIMAL(5,2),
  f FLOAT, dbl DOUBLE,
  dt6 DATETIME(6), dt DATETIME, ts6 TIMESTAMP(6) NULL, ts TIMESTAMP NULL, dte DATE,
  tm6 TIME(6), tm TIME, yr YEAR,
  c10 CHAR(10), vc VARCHAR(50), vlat VARCHAR(50) CHARACTER SET latin1, txt TEXT, lt LONGTEXT,
  bin4 BINARY(4), vb VARBINARY(20), bl BLOB,
  js JSON,
  en ENUM('a','b,c','d'), st SET('x','y','z'),
  b1 BIT(1), b5 BIT(5), b8 BIT(8), b64 BIT(64), bool1 TINYINT(1),
  nul VARCHAR(10), emp VARCHAR(10),
  gen_stored BIGINT AS (i * 2) STORED,
  gen_virtual VARCHAR(60) AS (CONCAT(vc, '!')) VIRTUAL
`;

const COLS =
  'id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, d65, d10, dneg, f, dbl, dt6, dt, ts6, ts, dte, tm6, tm, yr, c10, vc, vlat, txt, lt, bin4, vb, bl, js, en, st, b1, b5, b8, b64, bool1, nul, emp';

function edgeRows(base: number): string[] {
  return [
    `(${base + 1}, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
      -9223372036854775808, 18446744073709551615,
      '-12345678901234567890123456789012345.123456789012345678901234567890', 9999999999, -999.99,
      3.14159274, 0.1,
      '2024-02-29 23:59:59.123456', '1000-01-01 00:00:00', '2038-01-19 03:14:07.999999', '1970-01-01 00:00:01', '9999-12-31',
      '-838:59:59.000000', '838:59:59', 2155,
      'emoji😀', '😀𝄞 ünïcödé', 'café ÿ', 'text\\twith\\ttabs\\nand\\\\backslash\\rcr', REPEAT('x', 70000),
      0x00010000, 0x00fffe80, 0x0001ff80c3,
      '{"big": 12345678901234567890, "f": 1.0, "s": "x", "n": null}',
      'b,c', 'x,z', b'1', b'10101', b'10100101', b'1111111111111111111111111111111111111111111111111111111111111111', 9,
      NULL, '')`,
    `(${base + 2}, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0,
      9223372036854775807, 0,
      '0.000000000000000000000000000001', -9999999999, 0.00,
      -1e38, 1.7976931348623157e308,
      '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000', NULL, '0000-00-00',
      '-00:00:01.500000', '-00:00:01', 0,
      '', 'trailing  ', '', '', '',
      0x00000000, X'', X'',
      '[]', 'a', '', b'0', b'0', b'0', b'0', 0,
      NULL, NULL)`,
    `(${base + 3}, 0, 128, 0, 32768, 0, 8388608, 0, 2147483648,
      0, 9223372036854775808,
      '1.5', 0, 1.5,
      1.1, 5e-324,
      '2024-01-01 00:00:00.000001', '2024-06-30 12:00:00', '2024-03-31 01:30:00.500000', '2024-03-31 02:30:00', '2024-02-29',
      '00:00:00.000001', '-12:00:00', 1901,
      'a', 'O''Brien "q" \\\\ \\\\N', 'ÀÉÎÕÜ', 'null', 'NULL',
      0xffffffff, 0x5c4e, 0x0a0d0900,
      '"just a string"', 'd', 'x,y,z', b'1', b'11111', b'11111111', b'1000000000000000000000000000000000000000000000000000000000000000', -1,
      'not null', 'x')`,
  ];
}

const TABLES = ['t', 'k_str', 'k_bin', 'k_comp', 'k_big', 'k_dec', 'k_enum', 'k_set', 'Mixed Case', 'order', 'k_uuid'];

let pair: PgPair;
const running: CliRun[] = [];

function sync(src: string, dst: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): CliRun {
  const run = startCli(['sync', '--source', pair.srcUrl(src), '--target', pair.dstUrl(dst), '--flush-interval', '200ms', ...extra], env);
  running.push(run);
  return run;
}

async function stopCli(run: CliRun): Promise<number> {
  run.child.kill('SIGINT');
  return run.exited;
}

/**
 * What the MySQL source logged (at debug) about the COPY text fast path, per table: `renders` when
 * it renders the table's chunks itself, and one `canonical` per chunk it handed to the canonical
 * path (a zero date or NUL inside).
 */
function fastPath(stderr: string): Map<string, { renders: boolean; canonical: number }> {
  const out = new Map<string, { renders: boolean; canonical: number }>();
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const o = JSON.parse(line) as { table?: string; format?: string; msg?: string };
    if (o.format !== 'postgres-copy-text' || !o.table) continue;
    const e = out.get(o.table) ?? { renders: false, canonical: 0 };
    if (o.msg === 'the source renders chunks in the target format') e.renders = true;
    if (o.msg?.startsWith('chunk holds a zero date or a NUL')) e.canonical++;
    out.set(o.table, e);
  }
  return out;
}

async function pgValue(db: string, sql: string): Promise<unknown> {
  const c = await pair.pg(db);
  const r = await c.query<Record<string, unknown>>(sql);
  return r.rows[0] ? Object.values(r.rows[0])[0] : undefined;
}

/**
 * Inserts marker row `id` (beyond every id the writer uses) into `db`.items on the source and
 * resolves once the target holds it: the sync `run` streams changes made now, after everything
 * committed before (helpers/engines.ts markerStreamed, for this MariaDB → PostgreSQL pair).
 */
async function markerStreamed(db: string, id: number, run: CliRun): Promise<void> {
  await pair.src.query(`INSERT INTO \`${db}\`.items (id, k, v) VALUES (?, 'marker', 0)`, [id]);
  const arrived = async () => Number(await pgValue(db, `SELECT count(*) FROM items WHERE id = ${id}`)) === 1;
  await waitUntil(`marker row ${id} streamed to the target`, async () => (await arrived().catch(() => false)) || run.child.exitCode !== null, 60_000, 50);
  if (!(await arrived())) throw new Error(`the sync exited (code ${run.child.exitCode}) before marker row ${id} reached the target\n${run.stderr().slice(-3000)}`);
}

beforeAll(async () => {
  pair = await startPgPair();
});

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await pair?.stop();
});

describe('sync MariaDB → PostgreSQL', () => {
  it('copies and streams every MySQL type exactly (zero dates as NULL), with tributary in TZ=Asia/Kolkata', async () => {
    await pair.src.query(`CREATE DATABASE types; USE types; SET SESSION sql_mode = '';
      CREATE TABLE t (${COLUMNS}) DEFAULT CHARSET=utf8mb4;
      CREATE TABLE k_str (k VARCHAR(20) NOT NULL, v INT, PRIMARY KEY (k)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
      CREATE TABLE k_bin (k VARBINARY(16) NOT NULL PRIMARY KEY, v INT);
      CREATE TABLE k_comp (a INT NOT NULL, b VARCHAR(10) NOT NULL, c DATETIME(6) NOT NULL, v TEXT, PRIMARY KEY (a, b, c));
      CREATE TABLE k_big (k BIGINT UNSIGNED NOT NULL PRIMARY KEY, v INT);
      CREATE TABLE k_dec (k DECIMAL(30,10) NOT NULL PRIMARY KEY, v INT);
      CREATE TABLE \`Mixed Case\` (\`Id\` INT NOT NULL PRIMARY KEY, \`select\` VARCHAR(10), \`naïve "q"\` INT, \`Ünï\` TEXT);
      CREATE TABLE \`order\` (\`user\` INT NOT NULL PRIMARY KEY, \`from\` TINYINT(1) NOT NULL);
      INSERT INTO t (${COLS}) VALUES ${edgeRows(0).join(',')};
      INSERT INTO k_str VALUES ('a', 1), ('B', 2), ('ü', 3), ('😀', 4), ('z ', 5);
      INSERT INTO k_bin VALUES (0x00, 1), (0xff, 2), (0x0000, 3), (0x80, 4);
      INSERT INTO k_comp VALUES (1, 'a', '2024-01-01 00:00:00.000001', 'x'), (1, 'b', '2024-01-01 00:00:00', 'y'), (2, 'a', '1000-01-01 00:00:00', 'z');
      INSERT INTO k_big VALUES (18446744073709551615, 1), (0, 2), (9223372036854775808, 3);
      INSERT INTO k_dec VALUES (-99999999999999999999.9999999999, 1), (0.0000000001, 2), (1, 3);
      INSERT INTO k_dec SELECT 12345678901234567890.1234567000 + seq * 0.0000000001, seq FROM types.seq_1_to_45;
      CREATE TABLE k_enum (e ENUM('z','b','a') NOT NULL, n INT NOT NULL, PRIMARY KEY (e, n));
      INSERT INTO k_enum SELECT ELT(1 + seq % 3, 'z', 'b', 'a'), seq FROM types.seq_1_to_40;
      CREATE TABLE k_set (s SET('z','b','a') NOT NULL PRIMARY KEY, n INT);
      INSERT INTO k_set VALUES ('', 0), ('z', 1), ('b', 2), ('z,b', 3), ('a', 4), ('z,a', 5), ('b,a', 6), ('z,b,a', 7);
      INSERT INTO \`Mixed Case\` VALUES (1, 'x', 2, 'ü'); INSERT INTO \`order\` VALUES (1, 9), (2, 0);
      -- NULL in a UUID or INET6 column: the COPY text keeps its \\N marker (a type-aware IFNULL once lost it).
      CREATE TABLE k_uuid (id INT NOT NULL PRIMARY KEY, u UUID, i6 INET6, v INT);
      INSERT INTO k_uuid VALUES (1, NULL, NULL, 1), (2, '123e4567-e89b-12d3-a456-426614174000', '::ffff:10.0.0.1', 2), (3, NULL, '2001:db8::1', NULL);`);
    await pair.createDb('types');
    // One row per chunk (--chunk-time 1ms keeps the size at 1), so rows 1 and 3 of t take the COPY
    // text fast path and row 2 (zero dates) alone is handed to the canonical path.
    const cli = sync('types', 'types', ['--chunk-size', '1', '--chunk-time', '1ms', '--threads', '2', '--zero-dates', 'null', '--log-level', 'debug'], { TZ: 'Asia/Kolkata' });
    await waitUntil('the initial copy', () => cli.stderr().includes('initial copy done') || cli.child.exitCode !== null, 60_000);
    expect(cli.stderr()).toContain('initial copy done');
    for (const t of TABLES) expect(await diffMysqlPg(pair, 'types', 'types', t), `copy of ${t}`).toBe('');
    const fast = fastPath(cli.stderr());
    for (const t of TABLES) expect(fast.get(t)?.renders, `fast path for ${t}`).toBe(true);
    expect(fast.get('t')?.canonical).toBe(1);
    expect([...fast].filter(([name, e]) => name !== 't' && e.canonical > 0)).toEqual([]);

    // The schema the type map produced.
    const types = await (await pair.pg('types')).query<{ c: string; t: string }>(
      "SELECT a.attname AS c, format_type(a.atttypid, a.atttypmod) AS t FROM pg_attribute a WHERE a.attrelid = 'public.t'::regclass AND a.attnum > 0 AND NOT a.attisdropped",
    );
    const typeOf = Object.fromEntries(types.rows.map((r) => [r.c, r.t]));
    expect(typeOf).toMatchObject({
      ti: 'smallint', tiu: 'smallint', siu: 'integer', miu: 'integer', iu: 'bigint', biu: 'numeric(20,0)', d65: 'numeric(65,30)',
      f: 'real', dbl: 'double precision', dt6: 'timestamp(6) without time zone', ts6: 'timestamp(6) with time zone', dte: 'date',
      tm6: 'interval', yr: 'smallint', c10: 'character(10)', vc: 'character varying(50)', txt: 'text', bin4: 'bytea', js: 'json',
      en: 'text', st: 'text', b1: 'bit(1)', b64: 'bit(64)', bool1: 'smallint',
    });
    expect(typeOf.gen_stored).toBeUndefined();

    // Values checked one by one, as PostgreSQL prints them.
    const v = (sql: string) => pgValue('types', sql);
    expect(await v('SELECT biu::text FROM t WHERE id = 1')).toBe('18446744073709551615');
    expect(await v('SELECT d65::text FROM t WHERE id = 1')).toBe('-12345678901234567890123456789012345.123456789012345678901234567890');
    expect(await v('SELECT f::float8::text FROM t WHERE id = 1')).toBe('3.1415927410125732');
    expect(await v('SELECT dbl::text FROM t WHERE id = 3')).toBe('5e-324');
    expect(await v('SELECT dt6::text FROM t WHERE id = 1')).toBe('2024-02-29 23:59:59.123456');
    expect(await v('SELECT ts6::text FROM t WHERE id = 1')).toBe('2038-01-19 03:14:07.999999+00');
    expect(await v('SELECT tm6::text FROM t WHERE id = 1')).toBe('-838:59:59');
    expect(await v('SELECT yr::text FROM t WHERE id = 2')).toBe('0');
    expect(await v('SELECT vc FROM t WHERE id = 1')).toBe('😀𝄞 ünïcödé');
    expect(await v('SELECT vlat FROM t WHERE id = 1')).toBe('café ÿ');
    expect(await v("SELECT encode(bl, 'hex') FROM t WHERE id = 1")).toBe('0001ff80c3');
    expect(await v("SELECT encode(bl, 'hex') FROM t WHERE id = 3")).toBe('0a0d0900');
    expect(await v('SELECT js::text FROM t WHERE id = 1')).toBe('{"big": 12345678901234567890, "f": 1.0, "s": "x", "n": null}');
    expect(await v('SELECT en || st FROM t WHERE id = 1')).toBe('b,cx,z');
    expect(await v('SELECT b5::text || b64::text FROM t WHERE id = 1')).toBe('10101' + '1'.repeat(64));
    expect(await v('SELECT bool1::text FROM t WHERE id = 1')).toBe('9');
    expect(await v("SELECT (nul IS NULL)::text || '/' || (emp = '')::text FROM t WHERE id = 1")).toBe('true/true');
    expect(await v('SELECT (dt6 IS NULL AND dte IS NULL AND ts6 IS NULL)::text FROM t WHERE id = 2')).toBe('true');
    expect(await v('SELECT txt FROM t WHERE id = 1')).toBe('text\twith\ttabs\nand\\backslash\rcr');

    // Stream path: the same edge values inserted, rows updated to other edge values, deleted.
    await pair.src.query(`USE types; SET SESSION sql_mode = '';
      INSERT INTO t (${COLS}) VALUES ${edgeRows(100).join(',')};
      UPDATE t SET f = 1e38, dbl = -0e0, vc = 'ñ', bin4 = 0x01020304, js = '{"a": [1, 2.50, -0]}', b64 = 0, en = 'd', yr = 0 WHERE id = 1;
      UPDATE t SET ts6 = '2000-01-01 00:00:00.000000', tm6 = '-838:59:59.000000', biu = 18446744073709551614 WHERE id = 102;
      DELETE FROM t WHERE id = 3;
      INSERT INTO k_str VALUES ('c', 6); UPDATE k_str SET k = 'b2' WHERE k = 'B'; DELETE FROM k_str WHERE k = 'a';
      INSERT INTO k_bin VALUES (0x000000, 5); UPDATE k_bin SET v = 9 WHERE k = 0x00; DELETE FROM k_bin WHERE k = 0xff;
      UPDATE k_comp SET b = 'c' WHERE a = 1 AND b = 'a'; INSERT INTO k_comp VALUES (3, '', '2024-01-01 00:00:00.5', NULL);
      UPDATE k_big SET v = 10 WHERE k = 18446744073709551615; INSERT INTO k_big VALUES (18446744073709551614, 4);
      UPDATE k_dec SET k = 2.5 WHERE k = 1;
      DELETE FROM k_dec WHERE k = 12345678901234567890.1234567003; UPDATE k_dec SET v = -1 WHERE k = 12345678901234567890.1234567004;
      DELETE FROM k_enum WHERE e = 'b' AND n < 20; UPDATE k_enum SET n = n + 100 WHERE e = 'a' AND n > 30;
      UPDATE \`Mixed Case\` SET \`select\` = 'y', \`Ünï\` = '😀' WHERE \`Id\` = 1; UPDATE \`order\` SET \`from\` = 8 WHERE \`user\` = 2;`);
    for (const t of TABLES) {
      await waitEqualPg(pair, 'types', 'types', t, 30_000).catch((err: Error) => {
        throw new Error(`${err.message}\n--- tributary stderr ---\n${cli.stderr().slice(-3000)}`);
      });
    }
    expect(await v('SELECT f::float8::text FROM t WHERE id = 101')).toBe('3.1415927410125732');
    // Whatever sign of zero MariaDB kept, PostgreSQL has the same.
    const [[z]] = await pair.src.query<import('mysql2').RowDataPacket[]>('SELECT CONCAT(dbl) AS z, 1 / dbl < 0 AS neg FROM types.t WHERE id = 1');
    expect(await v('SELECT dbl::text FROM t WHERE id = 1')).toBe(String(z?.z) === '-0' || Number(z?.neg) === 1 ? '-0' : '0');
    expect(await v('SELECT js::text FROM t WHERE id = 101')).toBe('{"big": 12345678901234567890, "f": 1.0, "s": "x", "n": null}');
    expect(await v('SELECT ts6::text FROM t WHERE id = 102')).toBe('2000-01-01 00:00:00+00');
    expect(await v('SELECT biu::text FROM t WHERE id = 102')).toBe('18446744073709551614');
    expect(await v('SELECT bool1::text FROM t WHERE id = 101')).toBe('9');
    expect(await v('SELECT tm6::text FROM t WHERE id = 103')).toBe('00:00:00.000001');
    // The stream path wrote what the copy path wrote: row 102 (streamed) equals row 2 (copied) in every column not updated since.
    const same = 'ti, tiu, si, siu, mi, miu, i, iu, bi, d65, d10, dneg, f, dbl, dt6, dt, ts, dte, tm, yr, c10, vc, vlat, txt, lt, bin4, vb, bl, js, en, st, b1, b5, b8, b64, bool1, nul, emp';
    expect(await v(`SELECT (SELECT row(${same})::text FROM t WHERE id = 2) = (SELECT row(${same})::text FROM t WHERE id = 102)`)).toBe(true);
    expect(await stopCli(cli)).toBe(0);
  });

  it('refuses zero dates by name under the default policy, and a NUL character in text', async () => {
    await pair.src.query(`CREATE DATABASE zd; USE zd; SET SESSION sql_mode = '';
      CREATE TABLE ev (id INT PRIMARY KEY, at DATETIME NOT NULL); INSERT INTO ev VALUES (1, '2024-01-01 00:00:00'), (7, '0000-00-00 00:00:00');
      CREATE DATABASE nul; CREATE TABLE nul.s (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO nul.s VALUES (1, 'ok'), (42, CONCAT('a', CHAR(0), 'b'));`);
    await pair.createDb('zd');
    await pair.createDb('nul');
    // The COPY text fast path is active and finds each refused value, which the canonical path names.
    const debug = ['--copy-only', '--log-level', 'debug'];
    const zd = sync('zd', 'zd', debug);
    expect(await zd.exited).not.toBe(0);
    expect(zd.stderr()).toContain('TRIB_TARGET_WRITE_FAILED');
    expect(zd.stderr()).toMatch(/table ev, column at, row id=7: MySQL zero date '0000-00-00 00:00:00'.*--zero-dates null/);
    expect(fastPath(zd.stderr()).get('ev')?.renders).toBe(true);
    expect(fastPath(zd.stderr()).get('ev')?.canonical).toBeGreaterThan(0);
    const nul = sync('nul', 'nul', debug);
    expect(await nul.exited).not.toBe(0);
    expect(nul.stderr()).toMatch(/table s, column name, row id=42: the value contains a NUL character/);
    expect(fastPath(nul.stderr()).get('s')?.canonical).toBeGreaterThan(0);
    // The same data with --zero-dates null: NULL stands in for the zero date.
    const again = sync('zd', 'zd', [...debug, '--zero-dates', 'null']);
    expect(await again.exited).toBe(0);
    expect(fastPath(again.stderr()).get('ev')?.canonical).toBeGreaterThan(0);
    expect(await pgValue('zd', "SELECT string_agg(id || '=' || coalesce(at::text, 'NULL'), ',' ORDER BY id) FROM ev")).toBe('1=2024-01-01 00:00:00,7=NULL');
  });

  it('refuses a column PostgreSQL cannot hold by name before writing anything, and takes --column-types', async () => {
    // Every MariaDB 10.11 type maps now (spatial ones too: tests/integration/spatial.test.ts), so the
    // refused column is one whose 64-byte name PostgreSQL would truncate.
    const long = 'c'.repeat(64);
    await pair.src.query(`CREATE DATABASE geo; CREATE TABLE geo.p (id INT PRIMARY KEY, g POINT, ${long} INT); INSERT INTO geo.p VALUES (1, NULL, 1)`);
    await pair.createDb('geo');
    const run = sync('geo', 'geo', ['--copy-only']);
    expect(await run.exited).not.toBe(0);
    expect(run.stderr()).toContain('TRIB_TABLE_UNSUPPORTED');
    expect(run.stderr()).toContain(`column name p. '${long}' is 64 bytes long`);
    expect(await pgValue('geo', "SELECT count(*)::int FROM pg_tables WHERE schemaname = 'public'")).toBe(0);
    await pair.src.query(`ALTER TABLE geo.p DROP COLUMN ${long}`);
    // Neither a table with an override nor one the user created with other kinds of columns (text
    // for a DATETIME) takes the COPY text fast path: the target declines it, the source is not asked.
    await pair.src.query("CREATE TABLE geo.pre (id INT PRIMARY KEY, at DATETIME, n INT); INSERT INTO geo.pre VALUES (1, '2024-01-01 00:00:00', 5)");
    await (await pair.pg('geo')).query('CREATE TABLE pre (id integer PRIMARY KEY, at text, n integer)');
    const ok = sync('geo', 'geo', ['--copy-only', '--column-types', 'p.g=bytea', '--log-level', 'debug']);
    expect(await ok.exited).toBe(0);
    expect(await pgValue('geo', "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'p'::regclass AND attname = 'g'")).toBe('bytea');
    expect(await pgValue('geo', "SELECT at || '/' || n FROM pre")).toBe('2024-01-01 00:00:00/5');
    expect([...fastPath(ok.stderr()).keys()]).toEqual([]);
  });

  it('converges with inserts, updates, deletes and key updates running before, during and after the copy', async () => {
    await createWriterTable(pair.src, 'conv', 'items', 30_000);
    await pair.createDb('conv');
    const writer = await startWriter({ url: pair.srcUrl('conv'), table: 'items', maxId: 40_000 });
    await waitUntil('writes before the sync starts', () => writer.ops() >= 30, 30_000, 20);
    const run = sync('conv', 'conv', ['--threads', '4', '--chunk-size', '1000', '--chunk-time', '50ms']);
    await waitUntil('the copy to finish', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 90_000);
    expect(run.stderr()).toContain('initial copy done');
    // The copied table was analyzed (a table loaded by COPY has no statistics, reltuples -1, until
    // autovacuum gets to it), so the stream's keyed deletes are planned as index lookups.
    const stats = await (await pair.pg('conv')).query<{ reltuples: number }>("SELECT reltuples::float8 AS reltuples FROM pg_class WHERE oid = 'public.items'::regclass");
    expect(Number(stats.rows[0]?.reltuples)).toBeGreaterThan(20_000);
    const opsAtCopyEnd = writer.ops();
    // Writes after the copy, until the stream has caught up with them.
    await markerStreamed('conv', 1e9 + 1, run);
    await writer.stop();
    expect(opsAtCopyEnd).toBeGreaterThan(100);
    await waitEqualPg(pair, 'conv', 'conv', 'items', 60_000);
    expect(await stopCli(run)).toBe(0);
  });

  it('keeps secondary unique keys consistent when a value moves between rows inside one batch', async () => {
    await pair.src.query(`CREATE DATABASE uniq; CREATE TABLE uniq.users (id INT PRIMARY KEY, email VARCHAR(50) NOT NULL, v INT NOT NULL, UNIQUE KEY (email));
      INSERT INTO uniq.users VALUES (1, 'x', 0), (2, 'y', 0), (3, 'z', 0)`);
    await pair.createDb('uniq');
    const run = sync('uniq', 'uniq', ['--flush-interval', '2s']);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done'), 60_000);
    await pair.src.query(`UPDATE uniq.users SET email = 't' WHERE id = 1;
      UPDATE uniq.users SET email = 'x' WHERE id = 2;
      UPDATE uniq.users SET v = v + 1 WHERE id = 1;
      UPDATE uniq.users SET email = 'tmp' WHERE id = 3;
      UPDATE uniq.users SET email = 'z2' WHERE id = 1;
      UPDATE uniq.users SET email = 'z' WHERE id = 1;
      UPDATE uniq.users SET email = 'q' WHERE id = 3;
      INSERT INTO uniq.users VALUES (4, 'y', 9);`);
    await waitEqualPg(pair, 'uniq', 'uniq', 'users', 30_000);
    expect(await pgValue('uniq', "SELECT condeferrable::text FROM pg_constraint WHERE conrelid = 'users'::regclass AND contype = 'u'")).toBe('true');
    expect(await stopCli(run)).toBe(0);
  });

  it('resumes after kill -9 while streaming, losing and doubling nothing; a second instance is refused', async () => {
    await createWriterTable(pair.src, 'crash', 'items', 30_000);
    await pair.createDb('crash');
    const writer = await startWriter({ url: pair.srcUrl('crash'), table: 'items', maxId: 35_000, connections: 2 });
    const first = sync('crash', 'crash', ['--id', 'crash']);
    await waitUntil('the copy', () => first.stderr().includes('initial copy done'), 60_000);
    const rival = sync('crash', 'crash', ['--id', 'crash']);
    expect(await rival.exited).not.toBe(0);
    expect(rival.stderr()).toContain('TRIB_ALREADY_RUNNING');
    // Streaming under writes: killed once it applied a change made after its copy.
    await markerStreamed('crash', 1e9 + 1, first);
    first.child.kill('SIGKILL');
    await first.exited;
    // Writes while no sync runs.
    const opsAtKill = writer.ops();
    await waitUntil('writes while the sync is down', () => writer.ops() >= opsAtKill + 150, 30_000, 20);
    const second = sync('crash', 'crash', ['--id', 'crash']);
    await waitUntil('the stream to resume', () => second.stderr().includes('resuming from checkpoint'), 60_000);
    await markerStreamed('crash', 1e9 + 2, second);
    await writer.stop();
    await waitEqualPg(pair, 'crash', 'crash', 'items', 60_000);
    expect(await stopCli(second)).toBe(0);
    const cp = await (await pair.pg('crash')).query<{ name: string; body: string }>('SELECT name, body FROM _tributary_checkpoint');
    const rows = new Map(cp.rows.map((r) => [r.name, JSON.parse(r.body) as Record<string, unknown>]));
    expect(rows.get('')?.phase).toBe('stream');
    expect(rows.get('t:items')?.done).toBe(true);
  });

  it('as a library Target: reads only before ensureSchema, locks, keeps unchanged (TOAST) columns, describes from the catalogue', async () => {
    const { PostgresTarget } = await import('../../src/engines/postgres/target.js');
    const { parseDsn } = await import('../../src/config/dsn.js');
    const { createLogger } = await import('../../src/core/logger.js');
    const { withLogical } = await import('../../src/engines/mysql/types.js');
    await pair.createDb('lib');
    const logger = createLogger({ level: 'silent', pretty: false });
    const make = () => new PostgresTarget({ dsn: parseDsn(pair.dstUrl('lib'), 'target'), syncId: 'lib', logger, poolSize: 2 });
    const target = make();
    const rival = make();
    await target.connect();
    await rival.connect();
    try {
      expect(await target.loadCheckpoint()).toEqual({ stream: null, tables: new Map() });
      await target.lock();
      await expect(rival.lock()).rejects.toThrow(/another tributary instance is running sync 'lib'/);
      expect(await pgValue('lib', "SELECT count(*)::int FROM pg_tables WHERE schemaname = 'public'")).toBe(0);
      // A MySQL table built by hand, with the logical types the MySQL engine's describe would give it.
      const table = withLogical({
        name: 'docs',
        engine: 'mysql',
        generated: [],
        primaryKey: [0],
        uniqueKeys: [[1]],
        columns: [
          { name: 'id', dataType: 'bigint', columnType: 'bigint(20)', nullable: false, unsigned: false },
          { name: 'slug', dataType: 'varchar', columnType: 'varchar(20)', nullable: false, unsigned: false },
          { name: 'body', dataType: 'longtext', columnType: 'longtext', nullable: true, unsigned: false },
        ],
      });
      await target.ensureSchema([table], { recreate: false });
      const commit = { checkpoint: () => Promise.resolve({ watermark: null, done: true, rowsCopied: 2 }), committed: () => undefined, failed: () => undefined };
      await target.writeChunk(table, [[1n, 'a', 'big body'], [2n, 'b', 'other']], commit);
      const tx = await target.begin();
      await tx.write(new Map([['docs', table]]), [
        { kind: 'upsert', table: 'docs', key: [1n], row: [1n, 'a2', null], unchanged: [2] },
        { kind: 'upsert', table: 'docs', key: [9n], row: [9n, 'z', null], unchanged: [2] },
        { kind: 'upsert', table: 'docs', key: [2n], row: [2n, 'b', null] },
      ]);
      await tx.commit({ version: 1, position: 'p1', sourceId: 's', phase: 'stream' });
      expect(await pgValue('lib', "SELECT string_agg(id || ':' || slug || ':' || coalesce(body, 'NULL'), ',' ORDER BY id) FROM docs")).toBe('1:a2:big body,2:b:NULL');
      const cp = await target.loadCheckpoint();
      expect(cp.stream?.position).toBe('p1');
      expect(cp.tables.get('docs')).toEqual({ watermark: null, done: true, rowsCopied: 2 });
      const d = await target.describe('docs');
      expect(d).toMatchObject({ engine: 'postgres', primaryKey: [0], uniqueKeys: [[1]] });
      expect(d?.columns.map((c) => `${c.name}:${c.dataType}:${c.columnType}`)).toEqual(['id:int8:bigint', 'slug:varchar:character varying(20)', 'body:text:text']);
      expect(await target.describe('nope')).toBeNull();
      expect(await target.countRows(table)).toBe(2);
      expect(await target.nonEmptyTables([table, { ...table, name: 'absent' }])).toEqual(['docs']);
    } finally {
      await target.close();
      await rival.close();
    }
  });
});
