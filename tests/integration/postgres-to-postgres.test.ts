/**
 * PostgreSQL → PostgreSQL on real servers, through the CLI: the copy's fast path (the source's own
 * COPY text loaded as it is) keeps every edge value exactly, the stream after it too, an unchanged
 * TOASTed value survives an UPDATE of another column, and a table whose target types the user
 * overrode is copied through canonical values instead.
 */
import { Readable } from 'node:stream';
import { streamedChunk } from '../../src/core/encoded.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type Server } from '../../src/testing/servers.js';
import { startCli, waitUntil, type CliRun } from '../helpers/mysql.js';

let source: Server;
let target: Server;
const clients: pg.Client[] = [];
const running: CliRun[] = [];

async function client(server: Server, db: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: server.url(db), options: '-c TimeZone=UTC -c IntervalStyle=postgres -c DateStyle=ISO,YMD -c extra_float_digits=1' });
  c.on('error', () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

async function createDb(server: Server, db: string): Promise<pg.Client> {
  const admin = await client(server, 'postgres');
  await admin.query(`CREATE DATABASE "${db}"`);
  return client(server, db);
}

/**
 * Every row as a JSON array of each column's ::text (md5 for bytea, so a value with 0x00 in it is
 * compared byte for byte without any client decoding), ordered by the primary key.
 */
async function rows(c: pg.Client, table: string): Promise<string[]> {
  const cols = await c.query<{ name: string; type: string }>(
    `SELECT a.attname AS name, t.typname AS type FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = ('public.' || quote_ident($1))::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [table],
  );
  const q = (n: string) => `"${n.replace(/"/g, '""')}"`;
  const list = cols.rows.map((x) => (x.type === 'bytea' ? `md5(${q(x.name)})` : `${q(x.name)}::text`)).join(', ');
  const r = await c.query<{ r: string }>(`SELECT json_build_array(${list})::text AS r FROM ${q(table)} ORDER BY 1`);
  return r.rows.map((x) => x.r);
}

async function diff(src: pg.Client, dst: pg.Client, table: string): Promise<string> {
  const a = await rows(src, table);
  const b = await rows(dst, table);
  if (a.length === b.length && a.every((r, i) => r === b[i])) return '';
  const cut = (r: string | undefined) => (r && r.length > 300 ? r.slice(0, 300) + '…' : r);
  const i = a.findIndex((r, j) => r !== b[j]);
  return `${table}: source ${a.length} rows, target ${b.length}; first difference: ${cut(a[i])} vs ${cut(b[i])}`;
}

async function waitSame(src: pg.Client, dst: pg.Client, table: string, run: CliRun): Promise<void> {
  let last = '';
  const converged = async () => (last = await diff(src, dst, table)) === '' || run.child.exitCode !== null;
  await waitUntil(`${table} to converge`, converged, 60_000, 300).catch((err: Error) => {
    throw new Error(`${err.message}: ${last}\n${run.stderr().slice(-3000)}`, { cause: err });
  });
  if (last !== '') throw new Error(`tributary exited before ${table} converged: ${last}\n${run.stderr().slice(-3000)}`);
}

function sync(src: string, dst: string, extra: string[] = []): CliRun {
  const run = startCli(['sync', '--source', source.url(src), '--target', target.url(dst), '--flush-interval', '200ms', ...extra], { TZ: 'Asia/Kolkata' });
  running.push(run);
  return run;
}

const EDGE = `
  id bigint PRIMARY KEY,
  n40 numeric, n40s numeric(45,5), nnan numeric, i8 bigint, i4 integer, i2 smallint,
  f8 double precision, f4 real,
  tz timestamptz, tz6 timestamptz(6), ts timestamp, d date, tm time, ttz timetz, iv interval,
  b bytea, j jsonb, js json, bo boolean, u uuid,
  t text, vc varchar(20), c char(5), bits bit(5), vb varbit, ip inet, cidr cidr, mac macaddr,
  pt point, rng int4range, tsr tstzrange, x xml
`;

const ARRAYS = 'id int PRIMARY KEY, ia int[], ta text[], na numeric[], m int[][]';
const ARRAY_ROWS = `(1, '{1,NULL,-3}', '{"a\\"b","c,d",NULL,"NULL","tab\\\\x",""}', '{NaN,1.50}', '{{1,2},{3,4}}'), (2, '{}', '{}', NULL, '{}'), (3, NULL, '{x}', '{0}', '[0:1]={5,6}')`;

function edgeValues(id: number): string {
  return `(${id},
    '1234567890123456789012345678901234567890', '-1234567890123456789012345678901234567890.12345', 'NaN',
    -9223372036854775808, -2147483648, -32768,
    'NaN', '-Infinity',
    '2024-02-29 23:59:59.123456+05:30', 'infinity', '-infinity', 'infinity', '24:00:00', '23:59:59.999999+05:30',
    '1 year 2 mons -3 days 04:05:06.789', '\\x00ff0000fe'::bytea,
    '{"a": [1, 2.50, "x\\ty", null], "ü": {"n": 1e400}}', '{"keep":  "spacing" , "dup": 1, "dup": 2}', true,
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    E'tab\\there\\nnewline\\\\backslash\\rcr \\\\N', 'ünïcödé 😀', 'ab', B'10101', B'1', '::ffff:10.0.0.1', '10.0.0.0/8',
    '08:00:2b:01:02:03', '(1.5,-2)', '[1,10)', '[2024-01-01 00:00+05:30,infinity)', '<a b="1">x &amp; y</a>')`;
}

function maxValues(id: number): string {
  return `(${id},
    '0.00000000000000000000000000000000000001', '0.00000', '-0.0',
    9223372036854775807, 2147483647, 32767,
    1.7976931348623157e308, 3.4028235e38,
    '1970-01-01 00:00:00+00', '0001-01-01 00:00:00+00 BC', '294276-12-31 23:59:59.999999', '4713-01-01 BC', '00:00:00', '00:00:00-15:59',
    '-178000000 years', '\\x'::bytea, '[]', '""', false, '00000000-0000-0000-0000-000000000000',
    '', '', '', B'00000', B'', '0.0.0.0', '::/0', 'ff:ff:ff:ff:ff:ff', '(0,0)', 'empty', 'empty', '<x/>')`;
}

beforeAll(async () => {
  [source, target] = await Promise.all([startPostgres(), startPostgres()]);
});

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  for (const c of clients) await c.end().catch(() => undefined);
  await Promise.all([source?.stop(), target?.stop()]);
});

describe('sync PostgreSQL → PostgreSQL', () => {
  it('copies edge values through the binary COPY fast path (and the text one for a table with a user type) exactly, then streams inserts, updates and deletes', async () => {
    const src = await createDb(source, 'edge');
    await src.query(`CREATE TABLE t (${EDGE});
      INSERT INTO t VALUES ${edgeValues(1)}, ${maxValues(2)};
      INSERT INTO t (id) VALUES (3);
      INSERT INTO t (id, t, b, n40) SELECT 100 + s, md5(s::text) || E'\\n\\t\\\\', decode(md5(s::text), 'hex') || '\\x00'::bytea, s * 1.5 FROM generate_series(1, 40) s;
      -- Keys that must be written as literals in COPY (SELECT … WHERE key > …): quotes, backslashes, bytes.
      CREATE TABLE k_text (k text PRIMARY KEY, v int);
      INSERT INTO k_text VALUES ('a', 1), (E'b''q', 2), (E'c\\\\x', 3), ('d $1 $2', 4), (E'e\\nf', 5), ('ü', 6), ('', 7);
      CREATE TABLE k_comp (a bytea, b numeric, c timestamptz, v text, PRIMARY KEY (a, b, c));
      INSERT INTO k_comp SELECT decode(lpad(to_hex(s % 3), 2, '0'), 'hex'), s / 7.0, '2024-01-01 00:00:00.000001+05:30'::timestamptz + s * interval '1 ms', 'v' || s
        FROM generate_series(1, 30) s;
      CREATE TABLE k_float (k double precision PRIMARY KEY, v int);
      INSERT INTO k_float VALUES ('-Infinity', 1), (-1.5e300, 2), (0.1, 3), (1e-320, 4), (0.30000000000000004, 5), ('Infinity', 6), ('NaN', 7);
      CREATE TABLE arr (${ARRAYS});
      INSERT INTO arr VALUES ${ARRAY_ROWS};
      -- A user type's binary form carries its server-local OID: this table takes the COPY text path.
      CREATE TYPE mood AS ENUM ('calm', 'x y');
      CREATE TABLE t_text (${EDGE}, e mood);
      INSERT INTO t_text SELECT *, 'x y' FROM t;`);
    const dst = await createDb(target, 'edge');
    const run = sync('edge', 'edge', ['--chunk-size', '2', '--threads', '2']);
    await waitUntil('the initial copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 60_000);
    expect(run.stderr()).toContain('initial copy done');
    // Every table went through the fast path.
    for (const t of ['t', 'k_text', 'k_comp', 'k_float', 'arr']) {
      expect(run.stderr()).toMatch(new RegExp(`"table":"${t}","format":"postgres-copy-binary".*rendered by the source`));
    }
    expect(run.stderr()).toMatch(/"table":"t_text","format":"postgres-copy-text".*rendered by the source/);
    for (const t of ['t', 'k_text', 'k_comp', 'k_float', 'arr', 't_text']) expect(await diff(src, dst, t), `copy of ${t}`).toBe('');
    // A few values checked by name, as the target prints them.
    const v = async (sql: string) => Object.values((await dst.query<Record<string, string>>(sql)).rows[0] ?? {})[0];
    expect(await v('SELECT n40::text FROM t WHERE id = 1')).toBe('1234567890123456789012345678901234567890');
    expect(await v('SELECT tz::text FROM t WHERE id = 1')).toBe('2024-02-29 18:29:59.123456+00');
    expect(await v("SELECT encode(b, 'hex') FROM t WHERE id = 1")).toBe('00ff0000fe');
    expect(await v('SELECT t FROM t WHERE id = 1')).toBe('tab\there\nnewline\\backslash\rcr \\N');
    expect(await v('SELECT t IS NULL AND b IS NULL FROM t WHERE id = 3')).toBe(true);

    // The stream after the copy: the same kinds of values inserted, updated, deleted.
    await src.query(`INSERT INTO t VALUES ${edgeValues(10)};
      UPDATE t SET t = E'x\\ty\\nz\\\\', nnan = 'NaN', tz = '2000-01-01 00:00:00.000001-03:30', b = '\\x0000', iv = '-1 day +02:00' WHERE id = 2;
      UPDATE t SET i8 = 9223372036854775807, n40 = '-0.000000000000000000000000000000000000000001' WHERE id = 1;
      DELETE FROM t WHERE id = 3 OR id BETWEEN 101 AND 110;
      INSERT INTO k_text VALUES (E'new\\\\''x', 8); DELETE FROM k_text WHERE k = E'b''q'; UPDATE k_text SET v = 0 WHERE k = '';
      UPDATE k_comp SET v = NULL WHERE b > 2; DELETE FROM k_float WHERE k = 'NaN';`);
    for (const t of ['t', 'k_text', 'k_comp', 'k_float']) await waitSame(src, dst, t, run);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('keeps a TOASTed value intact when another column is updated after the copy (REPLICA IDENTITY DEFAULT)', async () => {
    const src = await createDb(source, 'toast');
    // md5 chains do not compress: the value is stored out of line, and pgoutput sends no value
    // for it in an UPDATE that leaves it unchanged.
    await src.query(`CREATE TABLE docs (id bigint PRIMARY KEY, v int NOT NULL, big text, blob bytea);
      INSERT INTO docs SELECT s, s, (SELECT string_agg(md5(s::text || g::text), '') FROM generate_series(1, 300) g),
        decode((SELECT string_agg(md5(g::text || s::text), '') FROM generate_series(1, 200) g), 'hex') FROM generate_series(1, 60) s`);
    const stored = await src.query<{ n: string }>("SELECT count(*) AS n FROM docs WHERE pg_column_size(big) > 2000");
    expect(stored.rows[0]?.n).toBe('60');
    const dst = await createDb(target, 'toast');
    const run = sync('toast', 'toast', ['--chunk-size', '7']);
    await waitUntil('the initial copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 60_000);
    expect(run.stderr()).toMatch(/"table":"docs","format":"postgres-copy-binary"/);
    expect(await diff(src, dst, 'docs')).toBe('');
    await src.query('UPDATE docs SET v = v + 1000 WHERE id <= 30');
    await src.query('UPDATE docs SET v = -1 WHERE id = 60; UPDATE docs SET big = big || \'!\' WHERE id = 59');
    await waitSame(src, dst, 'docs', run);
    const intact = await dst.query<{ n: string }>('SELECT count(*) AS n FROM docs WHERE length(big) >= 9600 AND length(blob) = 3200');
    expect(intact.rows[0]?.n).toBe('60');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('copies a table whose target types were overridden through canonical values instead', async () => {
    const src = await createDb(source, 'override');
    await src.query(`CREATE TABLE o (id int PRIMARY KEY, j jsonb, n numeric(10,2));
      INSERT INTO o VALUES (1, '{"b": 1, "a": [1.50]}', 1.5), (2, NULL, -3);
      CREATE TABLE same (id int PRIMARY KEY, v text); INSERT INTO same VALUES (1, E'a\\tb');`);
    const dst = await createDb(target, 'override');
    const run = sync('override', 'override', ['--copy-only', '--column-types', 'o.j=text', '--log-level', 'debug']);
    expect(await run.exited).toBe(0);
    expect(run.stderr()).toMatch(/"table":"o".*copying as canonical rows/);
    expect(run.stderr()).toMatch(/"table":"same","format":"postgres-copy-binary"/);
    const r = await dst.query<{ j: string; t: string }>("SELECT j, format_type(atttypid, atttypmod) AS t FROM o, pg_attribute WHERE attrelid = 'o'::regclass AND attname = 'j' AND id = 1");
    expect(r.rows[0]).toEqual({ j: '{"a": [1.50], "b": 1}', t: 'text' });
    expect(await diff(src, dst, 'same')).toBe('');
  });

  it('writes a chunk whose keys are on the target already as an upsert (the direct COPY refused, nothing of it kept)', async () => {
    const { PostgresTarget } = await import('../../src/engines/postgres/target.js');
    const { parseDsn } = await import('../../src/config/dsn.js');
    const { createLogger } = await import('../../src/core/logger.js');
    const dst = await createDb(target, 'rewrite');
    const t = new PostgresTarget({ dsn: parseDsn(target.url('rewrite'), 'target'), syncId: 'rewrite', logger: createLogger({ level: 'silent', pretty: false }), poolSize: 1 });
    await t.connect();
    try {
      await t.lock();
      const table = {
        name: 'r',
        engine: 'postgres',
        generated: [],
        primaryKey: [0],
        uniqueKeys: [],
        columns: [
          { name: 'id', dataType: 'int8', columnType: 'bigint', nullable: false, unsigned: false },
          { name: 'v', dataType: 'text', columnType: 'text', nullable: true, unsigned: false },
        ],
      };
      await t.ensureSchema([table], { recreate: false });
      expect(t.acceptsEncoded(table, 'postgres-copy-text')).toBe(true);
      expect(t.acceptsEncoded({ ...table, name: 'other' }, 'postgres-copy-text')).toBe(false);
      expect(t.acceptsEncoded(table, 'mysql-load-data-tsv')).toBe(false);
      let commits = 0;
      const commit = { checkpoint: () => Promise.resolve({ watermark: null, done: false, rowsCopied: 0 }), committed: () => void commits++, failed: () => undefined };
      expect(t.acceptsEncoded(table, 'postgres-copy-binary')).toBe(true);
      let opens = 0;
      // A streamed chunk, in two pieces split inside a row, as a source's COPY output arrives.
      const chunk = (text: string) =>
        streamedChunk('postgres-copy-text', () => {
          opens++;
          const b = Buffer.from(text);
          return { pieces: Readable.from([b.subarray(0, 3), b.subarray(3)]), rows: () => text.split('\n').length - 1 };
        });
      await t.writeEncodedChunk(table, chunk('1\ta\n2\tb\n'), commit);
      expect(opens).toBe(1);
      // Keys 2 and 3: 2 is there, so COPY into the table fails and the chunk is read again and upserted.
      await t.writeEncodedChunk(table, chunk('2\tB\\tx\n3\t\\N\n'), commit);
      expect(opens).toBe(3);
      expect(commits).toBe(2);
      const r = await dst.query<{ s: string }>("SELECT string_agg(id || '=' || coalesce(v, 'NULL'), ',' ORDER BY id) AS s FROM r");
      expect(r.rows[0]?.s).toBe('1=a,2=B\tx,3=NULL');
    } finally {
      await t.close();
    }
  });

  // The stream's upserts send each column as one element of a typed array parameter
  // (unnest($n::int[][])), and unnest flattens an array of arrays: array columns fail to stream
  // (src/engines/postgres/apply.ts). Expected to fail until the applier sends them another way.
  it('streams changes to array columns', async () => {
    const src = await createDb(source, 'arrays');
    await src.query(`CREATE TABLE arr (${ARRAYS}); INSERT INTO arr VALUES ${ARRAY_ROWS};`);
    const dst = await createDb(target, 'arrays');
    const run = sync('arrays', 'arrays');
    await waitUntil('the initial copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 60_000);
    expect(await diff(src, dst, 'arr')).toBe('');
    await src.query("UPDATE arr SET ia = '{-2147483648}' WHERE id = 1; INSERT INTO arr VALUES (4, '{7}', '{y}', '{1e-20}', '{{9}}')");
    await waitSame(src, dst, 'arr', run);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });
});
