/**
 * Every type into etcd on real servers, through the CLI (issue 13): each source type's value lands
 * in etcd in the JSON form core/json-row.ts documents (golden object texts below, byte for
 * byte), through the copy and through the stream alike, and `verify` reads every row back into the
 * source's canonical values and finds them equal (exit 0), then finds one value changed by hand in
 * etcd (exit 1). MariaDB 10.11 (integers, DECIMAL(65,30), FLOAT/DOUBLE, zero dates, TIME(6), YEAR,
 * unicode, bytes, JSON, ENUM, SET, BIT, UUID, INET6, spatial) and PostgreSQL (numeric NaN, float
 * NaN/±Infinity/-0, bytea, timestamps with infinity and BC, interval, json/jsonb, uuid, enum, arrays,
 * bit/varbit, inet, a TOASTed value left unchanged by an UPDATE).
 */
import { Etcd3 } from 'etcd3';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { connect, runCli, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';

let mysql: Server;
let postgres: Server;
let etcd: Server;
let src: Connection;
let admin: pg.Client;
let client: Etcd3;
const clients: pg.Client[] = [];
const running: CliRun[] = [];

beforeAll(async () => {
  [mysql, postgres, etcd] = await Promise.all([startMariaDb(), startPostgres(), startEtcd()]);
  src = await connect(mysql.url());
  admin = await pgConnect('postgres');
  client = new Etcd3({ hosts: `http://127.0.0.1:${etcd.port}` });
}, 120_000);

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  client?.close();
  await src?.end().catch(() => undefined);
  for (const c of clients) await c.end().catch(() => undefined);
  await Promise.all([mysql?.stop(), postgres?.stop(), etcd?.stop()]);
});

async function pgConnect(db: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: postgres.url(db), options: '-c TimeZone=UTC' });
  c.on('error', () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

function sync(source: string, prefix: string): CliRun {
  const run = startCli(['sync', '--source', source, '--target', etcd.url(prefix), '--flush-interval', '100ms'], { TZ: 'Asia/Kolkata' });
  running.push(run);
  return run;
}

async function stop(run: CliRun): Promise<void> {
  run.child.kill('SIGTERM');
  expect(await run.exited, run.stderr().slice(-3000)).toBe(0);
}

/** The raw value texts under a table's prefix, by key. */
async function raw(prefix: string): Promise<Record<string, string>> {
  return client.getAll().prefix(prefix).strings();
}

/** A golden object text: the members in column order, each value's JSON text exactly as written. */
function object(members: readonly (readonly [string, string])[]): string {
  return `{${members.map(([n, v]) => `${JSON.stringify(n)}:${v}`).join(',')}}`;
}

const s = (v: string): string => JSON.stringify(v);

async function verify(source: string, prefix: string): Promise<{ code: number; out: string }> {
  const r = await runCli(['verify', '--source', source, '--target', etcd.url(prefix)], { TZ: 'Asia/Kolkata' }, 60_000);
  return { code: r.code, out: (r.stdout + r.stderr).slice(-3000) };
}

// ---------------------------------------------------------------- MariaDB

const MY_COLUMNS = `
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
  b1 BIT(1), b5 BIT(5), b64 BIT(64), bool1 TINYINT(1),
  pt POINT, geo GEOMETRY,
  nul VARCHAR(10), emp VARCHAR(10)
`;

function myRows(base: number): string {
  return [
    `(${base + 1}, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
      -9223372036854775808, 18446744073709551615,
      '-12345678901234567890123456789012345.123456789012345678901234567890', 9999999999, -999.99,
      3.14159274, 0.1,
      '2024-02-29 23:59:59.123456', '1000-01-01 00:00:00', '2038-01-19 03:14:07.999999', '1970-01-01 00:00:01', '9999-12-31',
      '-838:59:59.000000', '838:59:59', 2155,
      'emoji😀', '😀𝄞 ünïcödé', 'café ÿ', 'text\\twith\\ttabs\\nand\\\\backslash\\rcr "q"', REPEAT('x', 5000),
      0x00010000, 0x00fffe80, 0x0001ff80c3,
      '{"big": 12345678901234567890, "f": 1.0, "s": "x\\\\ty", "n": null,  "u": "ü"}',
      'b,c', 'x,z', b'1', b'10101', b'1111111111111111111111111111111111111111111111111111111111111111', 9,
      ST_GeomFromText('POINT(1 2)'), ST_GeomFromText('LINESTRING(0 0,1 1)', 4326),
      NULL, '')`,
    `(${base + 2}, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0,
      9223372036854775807, 0,
      '0.000000000000000000000000000001', -9999999999, 0.00,
      -1e38, 1.7976931348623157e308,
      '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000', NULL, '0000-00-00',
      '-00:00:01.500000', '-00:00:01', 0,
      '', 'trailing  ', '', '', '',
      0x00000000, X'', X'',
      '[]', 'a', '', b'0', b'0', b'0', 0,
      NULL, NULL,
      NULL, NULL)`,
    `(${base + 3}, 0, 128, 0, 32768, 0, 8388608, 0, 2147483648,
      9007199254740991, 9007199254740992,
      '1.5', 0, 1.5,
      1.1, 5e-324,
      '2024-01-01 00:00:00.000001', '2024-06-30 12:00:00', '2024-03-31 01:30:00.500000', '2024-03-31 02:30:00', '2024-02-29',
      '00:00:00.000001', '-12:00:00', 1901,
      'a', 'O''Brien \\\\N', 'ÀÉÎÕÜ', 'null', 'NULL',
      0xffffffff, 0x5c4e, 0x0a0d0900,
      '"just a string"', 'd', 'x,y,z', b'1', b'11111', b'1000000000000000000000000000000000000000000000000000000000000000', -1,
      NULL, NULL,
      'not null', 'x')`,
    `(${base + 4}, ${Array.from({ length: 42 }, () => 'NULL').join(', ')})`,
  ].join(',\n');
}

/** Row base+1's members after `id` (the same for the copied row 1 and the streamed row 101). */
const MY_ROW1: [string, string][] = [
  ['ti', '-128'],
  ['tiu', '255'],
  ['si', '-32768'],
  ['siu', '65535'],
  ['mi', '-8388608'],
  ['miu', '16777215'],
  ['i', '-2147483648'],
  ['iu', '4294967295'],
  ['bi', '"-9223372036854775808"'],
  ['biu', '"18446744073709551615"'],
  ['d65', '"-12345678901234567890123456789012345.123456789012345678901234567890"'],
  ['d10', '"9999999999"'],
  ['dneg', '"-999.99"'],
  ['f', '3.1415927410125732'],
  ['dbl', '0.1'],
  ['dt6', '"2024-02-29T23:59:59.123456"'],
  ['dt', '"1000-01-01T00:00:00"'],
  ['ts6', '"2038-01-19T03:14:07.999999Z"'],
  ['ts', '"1970-01-01T00:00:01Z"'],
  ['dte', '"9999-12-31"'],
  ['tm6', '"-838:59:59.000000"'],
  ['tm', '"838:59:59"'],
  ['yr', '2155'],
  ['c10', '"emoji😀"'],
  ['vc', '"😀𝄞 ünïcödé"'],
  ['vlat', '"café ÿ"'],
  ['txt', '"text\\twith\\ttabs\\nand\\\\backslash\\rcr \\"q\\""'],
  ['lt', s('x'.repeat(5000))],
  ['bin4', '"AAEAAA=="'],
  ['vb', '"AP/+gA=="'],
  ['bl', '"AAH/gMM="'],
  ['js', '{"big": 12345678901234567890, "f": 1.0, "s": "x\\ty", "n": null,  "u": "ü"}'],
  ['en', '"b,c"'],
  ['st', '["x","z"]'],
  ['b1', '"1"'],
  ['b5', '"10101"'],
  ['b64', s('1'.repeat(64))],
  ['bool1', '9'],
  ['pt', '"000000000101000000000000000000f03f0000000000000040"'],
  ['geo', '"e610000001020000000200000000000000000000000000000000000000000000000000f03f000000000000f03f"'],
  ['nul', 'null'],
  ['emp', '""'],
];

const MY_ROW2: [string, string][] = [
  ['ti', '127'],
  ['tiu', '0'],
  ['si', '32767'],
  ['siu', '0'],
  ['mi', '8388607'],
  ['miu', '0'],
  ['i', '2147483647'],
  ['iu', '0'],
  ['bi', '"9223372036854775807"'],
  ['biu', '0'],
  ['d65', '"0.000000000000000000000000000001"'],
  ['d10', '"-9999999999"'],
  ['dneg', '"0.00"'],
  ['f', '-9.999999680285692e+37'],
  ['dbl', '1.7976931348623157e+308'],
  ['dt6', '"0000-00-00T00:00:00.000000"'],
  ['dt', '"0000-00-00T00:00:00"'],
  ['ts6', '"0000-00-00T00:00:00.000000Z"'],
  ['ts', 'null'],
  ['dte', '"0000-00-00"'],
  ['tm6', '"-00:00:01.500000"'],
  ['tm', '"-00:00:01"'],
  ['yr', '0'],
  ['c10', '""'],
  ['vc', '"trailing  "'],
  ['vlat', '""'],
  ['txt', '""'],
  ['lt', '""'],
  ['bin4', '"AAAAAA=="'],
  ['vb', '""'],
  ['bl', '""'],
  ['js', '[]'],
  ['en', '"a"'],
  ['st', '[]'],
  ['b1', '"0"'],
  ['b5', '"00000"'],
  ['b64', s('0'.repeat(64))],
  ['bool1', '0'],
  ['pt', 'null'],
  ['geo', 'null'],
  ['nul', 'null'],
  ['emp', 'null'],
];

const MY_ROW3_SOME: Record<string, unknown> = {
  bi: 9007199254740991,
  biu: '9007199254740992',
  dbl: 5e-324,
  ts6: '2024-03-31T01:30:00.500000Z',
  tm6: '00:00:00.000001',
  tm: '-12:00:00',
  yr: 1901,
  vc: 'O\'Brien \\N',
  txt: 'null',
  lt: 'NULL',
  bin4: '/////w==',
  vb: 'XE4=',
  bl: 'Cg0JAA==',
  js: 'just a string',
  st: ['x', 'y', 'z'],
  b64: '1' + '0'.repeat(63),
  bool1: -1,
};

describe('MariaDB → etcd, every type', () => {
  it('writes each type in its documented JSON form through the copy and the stream, and verify proves every row exact', async () => {
    const url = mysql.url('ty');
    await src.query(`CREATE DATABASE ty; USE ty; SET SESSION sql_mode = '';
      CREATE TABLE t (${MY_COLUMNS}) DEFAULT CHARSET=utf8mb4;
      INSERT INTO t VALUES ${myRows(0)};`);
    const run = sync(url, 'my');
    await waitUntil('the copy', async () => Object.keys(await raw('/my/t/')).length === 4 || run.child.exitCode !== null, 60_000);
    expect(run.child.exitCode, run.stderr().slice(-3000)).toBeNull();

    // The stream: the same edge rows inserted, then rows changed to other edge values.
    await src.query(`USE ty; SET SESSION sql_mode = '';
      INSERT INTO t VALUES ${myRows(100)};
      UPDATE t SET f = 1e38, dbl = -0e0, vc = 'ñ', bin4 = 0x01020304, js = '{"a": [1, 2.50, -0]}', b64 = 0, en = 'd', yr = 0, st = 'y' WHERE id = 1;
      UPDATE t SET ts6 = '2000-01-01 00:00:00.000000', tm6 = '-838:59:59.000000', biu = 18446744073709551614, dt6 = '0000-00-00 00:00:00' WHERE id = 102;
      UPDATE t SET id = 5 WHERE id = 3;
      DELETE FROM t WHERE id = 104;`);
    await waitUntil('the stream', async () => {
      const all = await raw('/my/t/');
      return (Object.keys(all).length === 7 && all['/my/t/5'] !== undefined && all['/my/t/1']?.includes('"vc":"ñ"') === true) || run.child.exitCode !== null;
    }, 60_000);
    expect(run.child.exitCode, run.stderr().slice(-3000)).toBeNull();
    await stop(run);

    const all = await raw('/my/t/');
    expect(Object.keys(all).sort()).toEqual(['/my/t/1', '/my/t/101', '/my/t/102', '/my/t/103', '/my/t/2', '/my/t/4', '/my/t/5']);
    // Copied and streamed, the same values give the same text.
    expect(all['/my/t/101']).toBe(object([['id', '101'], ...MY_ROW1]));
    expect(await client.get('/my/t/2').string()).toBe(object([['id', '2'], ...MY_ROW2]));
    expect(all['/my/t/4']).toBe(object([['id', '4'], ...MY_ROW1.map(([n]) => [n, 'null'] as [string, string])]));
    expect(JSON.parse(all['/my/t/5'] as string)).toMatchObject({ id: 5, ...MY_ROW3_SOME });
    expect(JSON.parse(all['/my/t/103'] as string)).toMatchObject({ id: 103, ...MY_ROW3_SOME });
    // The updated row 1: FLOAT 1e38 as the float it is, DOUBLE -0 as "-0", a JSON document's spelling kept.
    // DOUBLE -0e0: "-0" if MariaDB keeps the sign (it prints 0 when it does not).
    const [neg] = await src.query<RowDataPacket[]>('SELECT CAST(dbl AS CHAR) AS v FROM ty.t WHERE id = 1');
    const negZero = String(neg[0]?.v) === '-0' ? '"-0"' : '0';
    const updated = new Map<string, string>([...MY_ROW1, ['f', '9.999999680285692e+37'], ['dbl', negZero], ['vc', '"ñ"'], ['bin4', '"AQIDBA=="'], ['js', '{"a": [1, 2.50, -0]}'], ['b64', s('0'.repeat(64))], ['en', '"d"'], ['yr', '0'], ['st', '["y"]']]);
    expect(all['/my/t/1']).toBe(object([['id', '1'], ...updated]));
    expect(JSON.parse(all['/my/t/102'] as string)).toMatchObject({ ts6: '2000-01-01T00:00:00.000000Z', tm6: '-838:59:59.000000', biu: '18446744073709551614', dt6: '0000-00-00T00:00:00.000000' });

    // verify: every row (copied and streamed) read back exactly.
    const clean = await verify(url, 'my');
    expect(clean.code, clean.out).toBe(0);
    // One DECIMAL digit changed by hand in etcd: found.
    await client.put('/my/t/2').value((all['/my/t/2'] as string).replace('"d65":"0.000000000000000000000000000001"', '"d65":"0.000000000000000000000000000002"'));
    const tampered = await verify(url, 'my');
    expect(tampered.code, tampered.out).toBe(1);
  }, 120_000);

  // MariaDB logs UUID and INET6 as their stored bytes and the copy reads their text: the stream
  // prints the bytes as the server does (mysql values.ts uuidText, inet6Text). Every INET6 form the
  // server prints differently (compressed, IPv4-compatible and -mapped, none to compress) and UUIDs
  // of several versions, each compared with what the server itself prints by verify.
  it('UUID and INET6 reach etcd as their text through the copy and the stream', async () => {
    const url = mysql.url('tyu');
    await src.query(`CREATE DATABASE tyu; USE tyu;
      CREATE TABLE uu (id INT NOT NULL PRIMARY KEY, u UUID, i6 INET6);
      INSERT INTO uu VALUES (1, '123e4567-e89b-12d3-a456-426614174000', '::ffff:10.0.0.1'), (2, NULL, '::');`);
    const run = sync(url, 'myu');
    try {
      await waitUntil('the copy', async () => Object.keys(await raw('/myu/uu/')).length === 2 || run.child.exitCode !== null, 60_000);
      expect(await client.get('/myu/uu/1').string()).toBe('{"id":1,"u":"123e4567-e89b-12d3-a456-426614174000","i6":"::ffff:10.0.0.1"}');
      await src.query(`USE tyu; INSERT INTO uu VALUES (3, '123e4567-e89b-12d3-a456-426614174000', '2001:db8::1'),
        (4, '6ba7b810-9dad-41d1-80b4-00c04fd430c8', '::1'), (5, '017f22e2-79b0-7cc3-98c4-dc0c0c07398f', '::10.0.0.1'),
        (6, '00000000-0000-0000-0000-000000000000', '1:2:3:4:5:6:7:8'), (7, 'a0eebc99-9c0b-1ef8-bb6d-6bb9bd380a11', '1:0:0:2:0:0:0:3'),
        (8, 'a0eebc99-9c0b-2ef8-0b6d-6bb9bd380a11', 'fe80::ffff:0:0'), (9, NULL, '::ffff:255.255.255.255');
        UPDATE uu SET u = 'ffffffff-ffff-ffff-ffff-ffffffffffff' WHERE id = 2;`);
      await waitUntil('the stream', async () => Object.keys(await raw('/myu/uu/')).length === 9 || run.child.exitCode !== null, 60_000);
      await waitUntil('the update', async () => (await client.get('/myu/uu/2').string()) !== '{"id":2,"u":null,"i6":"::"}', 30_000);
    } finally {
      await stop(run);
    }
    const clean = await verify(url, 'myu');
    expect(clean.code, clean.out).toBe(0);
    expect(await client.get('/myu/uu/3').string()).toBe('{"id":3,"u":"123e4567-e89b-12d3-a456-426614174000","i6":"2001:db8::1"}');
    expect(await client.get('/myu/uu/2').string()).toBe('{"id":2,"u":"ffffffff-ffff-ffff-ffff-ffffffffffff","i6":"::"}');
  }, 90_000);

  // The server prints a ZEROFILL number padded ('000042', '0034.750'); the binlog holds the number.
  // Copied and streamed, the key and the JSON are the number's own text, and verify finds them equal.
  it('ZEROFILL numbers reach etcd unpadded through the copy and the stream', async () => {
    const url = mysql.url('tyz');
    await src.query(`CREATE DATABASE tyz; USE tyz;
      CREATE TABLE zf (id INT(6) ZEROFILL NOT NULL PRIMARY KEY, s SMALLINT ZEROFILL, d DECIMAL(8,3) ZEROFILL, f DOUBLE ZEROFILL, bu BIGINT ZEROFILL);
      INSERT INTO zf VALUES (42, 7, 34.75, 2.5, 18446744073709551615), (1, NULL, 0, 0, 0);`);
    const run = sync(url, 'myz');
    try {
      await waitUntil('the copy', async () => Object.keys(await raw('/myz/zf/')).length === 2 || run.child.exitCode !== null, 60_000);
      await src.query(`USE tyz; INSERT INTO zf VALUES (43, 7, 34.75, 2.5, 18446744073709551615); UPDATE zf SET d = 1.5 WHERE id = 1;`);
      await waitUntil('the stream', async () => Object.keys(await raw('/myz/zf/')).length === 3 && (await client.get('/myz/zf/1').string())?.includes('"1.500"') === true, 30_000);
    } finally {
      await stop(run);
    }
    const all = await raw('/myz/zf/');
    expect(all['/myz/zf/42']).toBe('{"id":42,"s":7,"d":"34.750","f":2.5,"bu":"18446744073709551615"}');
    expect(all['/myz/zf/43']).toBe('{"id":43,"s":7,"d":"34.750","f":2.5,"bu":"18446744073709551615"}');
    expect(all['/myz/zf/1']).toBe('{"id":1,"s":null,"d":"1.500","f":0,"bu":0}');
    const clean = await verify(url, 'myz');
    expect(clean.code, clean.out).toBe(0);
  }, 90_000);
});

// ---------------------------------------------------------------- PostgreSQL

const PG_COLUMNS = `
  id int PRIMARY KEY,
  i2 int2, i4 int4, i8 int8,
  n numeric, n45 numeric(45,5), nnan numeric,
  f4 real, f8 double precision, f8nan double precision, f8inf double precision, f8neg0 double precision,
  bo boolean, t text, vc varchar(20), c char(5), ba bytea,
  d date, ts timestamp(6), tz timestamptz, tzinf timestamptz, tzbc timestamptz, tsbc timestamp,
  tm time, iv interval, j json, jb jsonb, u uuid, en mood,
  ia int[], ta text[], bits bit(5), vb varbit, ip inet,
  big text
`;

function pgRows(base: number): string {
  return [
    `(${base + 1}, -32768, -2147483648, -9223372036854775808,
      '1234567890123456789012345678901234567890.0123456789', '-1234567890123456789012345678901234567890.12345', 'NaN',
      3.1415927, 0.1, 'NaN', 'Infinity', '-0',
      true, E'tab\\there\\nnewline\\\\backslash "q" 😀', 'ünïcödé', 'ab', '\\x00ff0000fe'::bytea,
      '2024-02-29', '2024-02-29 23:59:59.123456', '2024-01-01 10:00:00.123456+05:30', 'infinity', '0044-03-15 12:00:00+00 BC', '4713-01-01 00:00:00 BC',
      '24:00:00', '1 year 2 mons -3 days 04:05:06.789', '{"keep":  "spacing" , "big": 12345678901234567890, "dup": 1, "dup": 2}', '{"b": 1.0, "a": [1, 2]}',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'happy',
      '{1,NULL,-3}', '{"a\\"b","c,d",NULL,"NULL",""}', B'10101', B'', '::ffff:10.0.0.1/128',
      repeat(md5('x'), 300))`,
    `(${base + 2}, 32767, 2147483647, 9223372036854775807,
      '0.00000000000000000000000000000000000001', '0.00000', '-0.0',
      3.4028235e38, 1.7976931348623157e308, '-Infinity', '-Infinity', 5e-324,
      false, '', '', '', '\\x'::bytea,
      '4713-01-01 BC', '294276-12-31 23:59:59.999999', '1970-01-01 00:00:00+00', '-infinity', '2000-01-01 00:00:00.5+00', '2000-01-01 00:00:00',
      '00:00:00', '0 days', '[]', '""', '00000000-0000-0000-0000-000000000000', 'sad',
      '{}', '{}', B'00000', B'1', '10.0.0.1',
      NULL)`,
    `(${base + 3}${', NULL'.repeat(34)})`,
  ].join(',\n');
}

const PG_ROW1: [string, string][] = [
  ['i2', '-32768'],
  ['i4', '-2147483648'],
  ['i8', '"-9223372036854775808"'],
  ['n', '"1234567890123456789012345678901234567890.0123456789"'],
  ['n45', '"-1234567890123456789012345678901234567890.12345"'],
  ['nnan', '"NaN"'],
  ['f4', '3.1415927410125732'],
  ['f8', '0.1'],
  ['f8nan', '"NaN"'],
  ['f8inf', '"Infinity"'],
  ['f8neg0', '"-0"'],
  ['bo', 'true'],
  ['t', s('tab\there\nnewline\\backslash "q" 😀')],
  ['vc', '"ünïcödé"'],
  ['c', '"ab   "'],
  ['ba', '"AP8AAP4="'],
  ['d', '"2024-02-29"'],
  ['ts', '"2024-02-29T23:59:59.123456"'],
  ['tz', '"2024-01-01T04:30:00.123456Z"'],
  ['tzinf', '"infinity"'],
  ['tzbc', '"0044-03-15T12:00:00Z BC"'],
  ['tsbc', '"4713-01-01T00:00:00 BC"'],
  ['tm', '"24:00:00"'],
  ['iv', '"1 year 2 mons -3 days +04:05:06.789"'],
  ['j', '{"keep":  "spacing" , "big": 12345678901234567890, "dup": 1, "dup": 2}'],
  ['jb', '{"a": [1, 2], "b": 1.0}'],
  ['u', '"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"'],
  ['en', '"happy"'],
  ['ia', '"{1,NULL,-3}"'],
  ['ta', s('{"a\\"b","c,d",NULL,"NULL",""}')],
  ['bits', '"10101"'],
  ['vb', '""'],
  ['ip', '"::ffff:10.0.0.1"'],
];

const PG_ROW2: [string, string][] = [
  ['i2', '32767'],
  ['i4', '2147483647'],
  ['i8', '"9223372036854775807"'],
  ['n', '"0.00000000000000000000000000000000000001"'],
  ['n45', '"0.00000"'],
  ['nnan', '"0.0"'],
  ['f4', '3.4028234663852886e+38'],
  ['f8', '1.7976931348623157e+308'],
  ['f8nan', '"-Infinity"'],
  ['f8inf', '"-Infinity"'],
  ['f8neg0', '5e-324'],
  ['bo', 'false'],
  ['t', '""'],
  ['vc', '""'],
  ['c', '"     "'],
  ['ba', '""'],
  ['d', '"4713-01-01 BC"'],
  ['ts', '"294276-12-31T23:59:59.999999"'],
  ['tz', '"1970-01-01T00:00:00Z"'],
  ['tzinf', '"-infinity"'],
  ['tzbc', '"2000-01-01T00:00:00.5Z"'],
  ['tsbc', '"2000-01-01T00:00:00"'],
  ['tm', '"00:00:00"'],
  ['iv', '"00:00:00"'],
  ['j', '[]'],
  ['jb', '""'],
  ['u', '"00000000-0000-0000-0000-000000000000"'],
  ['en', '"sad"'],
  ['ia', '"{}"'],
  ['ta', '"{}"'],
  ['bits', '"00000"'],
  ['vb', '"1"'],
  ['ip', '"10.0.0.1"'],
  ['big', 'null'],
];

describe('PostgreSQL → etcd, every type', () => {
  it('writes each type in its documented JSON form through the copy and the stream, and verify proves every row exact', async () => {
    await admin.query('CREATE DATABASE ty');
    const c = await pgConnect('ty');
    const url = postgres.url('ty');
    await c.query(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
      CREATE TABLE t (${PG_COLUMNS});
      ALTER TABLE t ALTER COLUMN big SET STORAGE EXTERNAL;
      INSERT INTO t VALUES ${pgRows(0)};`);
    const run = sync(url, 'pg');
    await waitUntil('the copy', async () => Object.keys(await raw('/pg/t/')).length === 3 || run.child.exitCode !== null, 60_000);
    expect(run.child.exitCode, run.stderr().slice(-3000)).toBeNull();

    await c.query(`INSERT INTO t VALUES ${pgRows(100)}`);
    // The TOASTed 'big' is not in the UPDATE's change: the stored text is kept.
    await c.query(`UPDATE t SET f8 = 'Infinity', f8neg0 = 0, nnan = '-1.50', tz = '2024-06-30 23:59:59.999999-07', iv = '-178000000 years', jb = '{"z": [true, false, null]}', ia = '{{1,2},{3,4}}', en = 'ok', bo = false WHERE id = 1`);
    await c.query('UPDATE t SET id = 4 WHERE id = 3');
    await c.query('DELETE FROM t WHERE id = 103');
    await waitUntil('the stream', async () => {
      const all = await raw('/pg/t/');
      return (Object.keys(all).length === 5 && all['/pg/t/4'] !== undefined && all['/pg/t/1']?.includes('"en":"ok"') === true) || run.child.exitCode !== null;
    }, 60_000);
    expect(run.child.exitCode, run.stderr().slice(-3000)).toBeNull();
    await stop(run);

    const all = await raw('/pg/t/');
    expect(Object.keys(all).sort()).toEqual(['/pg/t/1', '/pg/t/101', '/pg/t/102', '/pg/t/2', '/pg/t/4']);
    const big = s('9dd4e461268c8034f5c8564e155c67a6'.repeat(300));
    expect(all['/pg/t/101']).toBe(object([['id', '101'], ...PG_ROW1, ['big', big]]));
    expect(all['/pg/t/2']).toBe(object([['id', '2'], ...PG_ROW2]));
    expect(all['/pg/t/102']).toBe(object([['id', '102'], ...PG_ROW2]));
    expect(all['/pg/t/4']).toBe(object([['id', '4'], ...PG_ROW1.map(([n]) => [n, 'null'] as [string, string]), ['big', 'null']]));
    const updated = new Map<string, string>([...PG_ROW1, ['f8', '"Infinity"'], ['f8neg0', '0'], ['nnan', '"-1.50"'], ['tz', '"2024-07-01T06:59:59.999999Z"'], ['iv', '"-178000000 years"'], ['jb', '{"z": [true, false, null]}'], ['ia', '"{{1,2},{3,4}}"'], ['en', '"ok"'], ['bo', 'false'], ['big', big]]);
    expect(all['/pg/t/1']).toBe(object([['id', '1'], ...updated]));

    const clean = await verify(url, 'pg');
    expect(clean.code, clean.out).toBe(0);
    await client.put('/pg/t/2').value((all['/pg/t/2'] as string).replace('"f4":3.4028234663852886e+38', '"f4":3.4028232635611926e+38'));
    const tampered = await verify(url, 'pg');
    expect(tampered.code, tampered.out).toBe(1);
  }, 120_000);
});
