/**
 * binlog-rows.ts reads row images straight into values; zongji's decoder followed by each column's
 * codec is what it must equal. On a real MariaDB, rows of every column type (the boundaries of each,
 * NULLs, zero dates, long and multibyte text, random values) are written, updated and deleted, and
 * every row image of the binlog is read both ways, from the same bytes, and compared.
 */
import ZongJi from '@vlasky/zongji';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDsn } from '../../src/config/dsn.js';
import type { TableSchema } from '../../src/core/schema.js';
import { memberWriter, writeRow } from '../../src/core/json-row.js';
import { rowJson } from '../../src/core/slab.js';
import type { Value } from '../../src/core/values.js';
import { valueConventions } from '../../src/engines/registry.js';
import { installRowReader, planRows, zongjiRow, type RowPlan, type RowsTableMap, type ZongjiWithRows } from '../../src/engines/mysql/binlog-rows.js';
import { connectionOptions } from '../../src/engines/mysql/connection.js';
import { describeTable } from '../../src/engines/mysql/schema.js';
import { quoteId } from '../../src/engines/mysql/sql.js';
import { codecFor, keepSpatialBytes, type ZongjiTableMapEntry } from '../../src/engines/mysql/values.js';
import { startMariaDb, type Server } from '../../src/testing/servers.js';
import { prng } from '../helpers/fakes.js';
import { connect } from '../helpers/mysql.js';

let server: Server;
const MYSQL = valueConventions('mysql');

beforeAll(async () => {
  server = await startMariaDb({ serverId: 1 });
});

afterAll(async () => {
  await server?.stop();
});

const COLUMNS = `
  id INT AUTO_INCREMENT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED, bo BOOL,
  f FLOAT, d DOUBLE,
  d1 DECIMAL(10,2), d2 DECIMAL(65,30), d3 DECIMAL(5,5), d4 DECIMAL(18,0), d5 DECIMAL(38,10), d6 DECIMAL(1,0), d7 DECIMAL(19,9) UNSIGNED,
  dt DATE, dtm DATETIME, dtm1 DATETIME(1), dtm3 DATETIME(3), dtm6 DATETIME(6),
  ts TIMESTAMP NULL DEFAULT NULL, ts2 TIMESTAMP(2) NULL DEFAULT NULL, ts6 TIMESTAMP(6) NULL DEFAULT NULL,
  y YEAR, tm TIME(3), e ENUM('a','b','ç',''), st SET('x','y','z'),
  c CHAR(10), vc VARCHAR(300), vs VARCHAR(20), tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT, j JSON,
  vb VARBINARY(20), bn BINARY(4), tb TINYBLOB, bl BLOB, mb MEDIUMBLOB,
  bt BIT(10), l1 VARCHAR(10) CHARACTER SET latin1, u UUID, i6 INET6, g POINT
`;

/** Columns binlog-rows.ts must read itself (zongji reads TIME, SET, BIT, latin1, BINARY, UUID, INET6). */
const READ_HERE = 'id ti tiu si siu mi miu i iu bi biu bo f d d1 d2 d3 d4 d5 d6 d7 dt dtm dtm1 dtm3 dtm6 ts ts2 ts6 y e c vc vs tt tx mt lt j vb tb bl mb g'.split(' ');

const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** A random row: each column NULL one time in eight, else a value anywhere in its range. */
function randomRow(rnd: () => number): Record<string, string | number | null> {
  const int = (lo: bigint, hi: bigint) => String(lo + (BigInt(Math.floor(rnd() * 2 ** 30)) * BigInt(Math.floor(rnd() * 2 ** 30)) * BigInt(Math.floor(rnd() * 2 ** 10))) % (hi - lo + 1n));
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 10)).join('');
  const dec = (p: number, s: number, unsigned = false) => `${!unsigned && rnd() < 0.5 ? '-' : ''}${digits(Math.floor(rnd() * (p - s + 1))) || '0'}${s > 0 ? '.' + digits(s) : ''}`;
  const date = () => `${pad(1000 + Math.floor(rnd() * 9000), 4)}-${pad(1 + Math.floor(rnd() * 12), 2)}-${pad(1 + Math.floor(rnd() * 28), 2)}`;
  const time = () => `${pad(Math.floor(rnd() * 24), 2)}:${pad(Math.floor(rnd() * 60), 2)}:${pad(Math.floor(rnd() * 60), 2)}`;
  const frac = (n: number) => (n > 0 ? '.' + digits(n) : '');
  const ts = (n: number) => {
    const t = new Date(1000 + Math.floor(rnd() * (2 ** 31 - 2)) * 1000).toISOString();
    return `${t.slice(0, 10)} ${t.slice(11, 19)}${frac(n)}`;
  };
  const text = (max: number) => {
    const alphabet = ['a', 'Z', ' ', '0', 'é', 'ß', '漢', '😀', "'", '\\', '\n', '\u0000'];
    return Array.from({ length: Math.floor(rnd() * max) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
  };
  const byte = () => Math.floor(rnd() * 256).toString(16).padStart(2, '0');
  const hex = (max: number) => Array.from({ length: Math.floor(rnd() * max) }, byte).join('');
  const values: Record<string, () => string | number> = {
    ti: () => int(-128n, 127n), tiu: () => int(0n, 255n), si: () => int(-32768n, 32767n), siu: () => int(0n, 65535n),
    mi: () => int(-8388608n, 8388607n), miu: () => int(0n, 16777215n), i: () => int(-2147483648n, 2147483647n), iu: () => int(0n, 4294967295n),
    bi: () => int(-(2n ** 63n), 2n ** 63n - 1n), biu: () => int(0n, 2n ** 64n - 1n), bo: () => int(0n, 1n),
    f: () => (rnd() - 0.5) * 10 ** Math.floor(rnd() * 30 - 15), d: () => (rnd() - 0.5) * 10 ** Math.floor(rnd() * 600 - 300),
    d1: () => dec(10, 2), d2: () => dec(65, 30), d3: () => dec(5, 5), d4: () => dec(18, 0), d5: () => dec(38, 10), d6: () => dec(1, 0), d7: () => dec(19, 9, true),
    dt: date, dtm: () => `${date()} ${time()}`, dtm1: () => `${date()} ${time()}${frac(1)}`, dtm3: () => `${date()} ${time()}${frac(3)}`, dtm6: () => `${date()} ${time()}${frac(6)}`,
    ts: () => ts(0), ts2: () => ts(2), ts6: () => ts(6),
    y: () => int(1901n, 2155n), tm: () => `${rnd() < 0.5 ? '-' : ''}${Math.floor(rnd() * 839)}:${pad(Math.floor(rnd() * 60), 2)}:${pad(Math.floor(rnd() * 60), 2)}${frac(3)}`,
    e: () => ['a', 'b', 'ç', ''][Math.floor(rnd() * 4)] as string, st: () => ['', 'x', 'y,z', 'x,y,z'][Math.floor(rnd() * 4)] as string,
    c: () => text(10).trimEnd(), vc: () => text(300), vs: () => text(20), tt: () => text(60), tx: () => text(400), mt: () => text(rnd() < 0.1 ? 30000 : 100), lt: () => text(100),
    j: () => JSON.stringify({ k: text(5), n: Math.floor(rnd() * 1000), a: [1, 'x', null] }),
    bt: () => int(0n, 1023n), l1: () => ['abc', 'é', 'ÿ', ''][Math.floor(rnd() * 4)] as string,
  };
  const row: Record<string, string | number | null> = {};
  for (const [name, make] of Object.entries(values)) row[name] = rnd() < 0.125 ? null : make();
  for (const [name, max] of [['vb', 20], ['bn', 4], ['tb', 200], ['bl', 2000], ['mb', 100]] as const) row[name] = rnd() < 0.125 ? null : `0x${hex(max)}`;
  const uuid = Array.from({ length: 16 }, byte).join('');
  row.u = rnd() < 0.125 ? null : `${uuid.slice(0, 8)}-${uuid.slice(8, 12)}-${uuid.slice(12, 16)}-${uuid.slice(16, 20)}-${uuid.slice(20)}`;
  row.i6 = rnd() < 0.125 ? null : ['::1', '2001:db8::ff00:42:8329', '::ffff:1.2.3.4'][Math.floor(rnd() * 3)] as string;
  row.g = rnd() < 0.125 ? null : `POINT(${(rnd() * 360 - 180).toFixed(6)} ${(rnd() * 180 - 90).toFixed(6)})`;
  return row;
}

/** An INSERT of `row`: hex literals, POINT text and plain values in their SQL form. */
function insertSql(row: Record<string, string | number | null>): string {
  const names = Object.keys(row);
  const values = names.map((n) => {
    const v = row[n];
    if (v === null || v === undefined) return 'NULL';
    if (typeof v === 'number') return String(v);
    if (n === 'g') return `ST_GeomFromText('${v}')`;
    if (/^0x[0-9a-f]*$/.test(v) && ['vb', 'bn', 'tb', 'bl', 'mb'].includes(n)) return v === '0x' ? "''" : v;
    if (n === 'bt') return `b'${BigInt(v).toString(2)}'`;
    return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''").replaceAll('\u0000', '\\0')}'`;
  });
  return `INSERT INTO t (${names.map((n) => quoteId(n)).join(', ')}) VALUES (${values.join(', ')})`;
}

/** Reads every row event of database `db` from `start`, each row both ways, until `rows` images were compared. */
async function readBothWays(db: string, schema: TableSchema, start: { file: string; pos: number }, images: number): Promise<{ compared: number; readHere: readonly string[]; mismatches: string[] }> {
  installRowReader();
  const codecs = schema.columns.map((c) => codecFor(c, quoteId(c.name)));
  const client = new ZongJi(connectionOptions(parseDsn(server.url(db), 'source'), { database: undefined }));
  let compared = 0;
  let readHere: readonly string[] = [];
  const mismatches: string[] = [];
  let first: RowPlan | undefined;
  // readKey of the table's own key, and of a wider one: columns of several kinds, one of them
  // (TIME) read by zongji.
  const wide = { ...schema, primaryKey: ['tm', 'vc', 'd2', 'dtm6', 'id'].map((n) => schema.columns.findIndex((c) => c.name === n)) };
  (client as ZongjiWithRows).tributaryRows = (entry: RowsTableMap): RowPlan | undefined => {
    const plan = planRows(entry, schema, codecs);
    const widePlan = planRows(entry, wide, codecs);
    if (!plan) {
      mismatches.push('no plan for the table map');
      return undefined;
    }
    // zongji builds an entry per TABLE_MAP event: a plan made for the first fits every later one.
    first ??= plan;
    if (!first.fits(entry)) mismatches.push('the first plan does not fit a later table map of the same table');
    readHere = plan.readHere;
    return {
      ...plan,
      read(parser, present, zongji, current) {
        const at = parser._offset;
        const fast = plan.read(parser, present, zongji, current);
        const end = parser._offset;
        for (const [keyPlan, key] of [[plan, schema.primaryKey], [widePlan, wide.primaryKey]] as const) {
          parser._offset = at;
          const keyOnly = keyPlan!.readKey(parser, present, zongji, current);
          if (parser._offset !== end) mismatches.push(`row ${compared + 1}: readKey (${key.join(',')}) to ${parser._offset}, read to ${end}`);
          const expected = fast.map((v, i) => (key.includes(i) ? v : null));
          try {
            expect(keyOnly).toStrictEqual(expected);
          } catch {
            if (mismatches.length < 20) mismatches.push(`row ${compared + 1}: readKey (${key.join(',')}) gave ${keyOnly.map(String).join('|')}`);
          }
        }
        // readDocument: the JSON document writeRow writes for the values read, and the key's values.
        for (const [docPlan, docSchema] of [[plan, schema], [widePlan!, wide]] as const) {
          parser._offset = at;
          const doc = docPlan.readDocument(parser, present, zongji, current, memberWriter(docSchema, MYSQL));
          if (!doc) {
            mismatches.push('readDocument declined a plan whose columns are the table map\u2019s, in order');
            continue;
          }
          if (parser._offset !== end) mismatches.push(`row ${compared + 1}: readDocument to ${parser._offset}, read to ${end}`);
          const want = rowJson((out) => writeRow(docSchema, fast, MYSQL, out)).toString();
          if (doc.doc.toString() !== want && mismatches.length < 20) mismatches.push(`row ${compared + 1}: readDocument wrote ${doc.doc.toString()}\nwriteRow writes ${want}`);
          try {
            expect(doc.row).toStrictEqual(fast.map((v, i) => (docSchema.primaryKey.includes(i) ? v : null)));
          } catch {
            if (mismatches.length < 20) mismatches.push(`row ${compared + 1}: readDocument's key (${docSchema.primaryKey.join(',')}) ${doc.row.map(String).join('|')}`);
          }
        }
        parser._offset = at;
        const image = zongjiRow(parser, entry, 1, present, zongji as ZongjiWithRows);
        const slow: Value[] = schema.columns.map((c, i) => codecs[i]!.fromBinlog(image[c.name]));
        compared++;
        if (parser._offset !== end) mismatches.push(`row ${compared}: read to ${end}, zongji to ${parser._offset}`);
        for (let i = 0; i < slow.length; i++) {
          try {
            expect(fast[i]).toStrictEqual(slow[i]);
          } catch {
            if (mismatches.length < 20) mismatches.push(`${schema.columns[i]!.name}: ${String(fast[i])} against ${String(slow[i])}`);
          }
        }
        return fast;
      },
    };
  };
  await new Promise<void>((resolve, reject) => {
    client.on('binlog', (evt: { getEventName(): string; tableMap?: Record<number, ZongjiTableMapEntry>; tableId?: number }) => {
      if (evt.getEventName() === 'tablemap') keepSpatialBytes(evt.tableMap?.[evt.tableId as number]);
      if (compared >= images) resolve();
    });
    client.on('error', reject);
    client.start({ serverId: 77, filename: start.file, position: start.pos, includeEvents: ['tablemap', 'writerows', 'updaterows', 'deleterows'], includeSchema: { [db]: ['t'] } });
  }).finally(() => client.stop());
  return { compared, readHere, mismatches };
}

describe('binlog rows read straight into values', () => {
  it('equal zongji and the codecs for every column type, value by value', async () => {
    const conn = await connect(server.url());
    try {
      await conn.query(`CREATE DATABASE brows; USE brows; SET SESSION sql_mode = ''; CREATE TABLE t (${COLUMNS}) CHARACTER SET utf8mb4`);
      const [[status]] = await conn.query<RowDataPacket[]>('SHOW MASTER STATUS');
      const start = { file: String(status?.File), pos: Number(status?.Position) };
      // Boundaries and oddities first: all NULL, the minimum and maximum of each type, zero dates.
      await conn.query('INSERT INTO t () VALUES ()');
      await conn.query(insertSql({ ti: -128, tiu: 0, si: -32768, siu: 0, mi: -8388608, miu: 0, i: -2147483648, iu: 0, bi: '-9223372036854775808', biu: '0', bo: 0, f: -3.4028234663852886e38, d: -1.7976931348623157e308, d1: '-99999999.99', d2: '-' + '9'.repeat(35) + '.' + '9'.repeat(30), d3: '-0.99999', d4: '-999999999999999999', d5: '-' + '9'.repeat(28) + '.' + '9'.repeat(10), d6: '-9', d7: '0', dt: '1000-01-01', dtm: '1000-01-01 00:00:00', dtm1: '1000-01-01 00:00:00.0', dtm3: '1000-01-01 00:00:00.000', dtm6: '1000-01-01 00:00:00.000000', ts: '1970-01-01 00:00:01', ts2: '1970-01-01 00:00:01.01', ts6: '1970-01-01 00:00:01.000001', y: 1901, tm: '-838:59:59.000', e: 'a', st: '', c: '', vc: '', vs: '', tt: '', tx: '', mt: '', lt: '', j: '[]', vb: '0x', bn: '0x00', tb: '0x', bl: '0x', mb: '0x', bt: '0', l1: '' }));
      await conn.query(insertSql({ ti: 127, tiu: 255, si: 32767, siu: 65535, mi: 8388607, miu: 16777215, i: 2147483647, iu: 4294967295, bi: '9223372036854775807', biu: '18446744073709551615', bo: 1, f: 3.4028234663852886e38, d: 1.7976931348623157e308, d1: '99999999.99', d2: '9'.repeat(35) + '.' + '9'.repeat(30), d3: '0.99999', d4: '999999999999999999', d5: '9'.repeat(28) + '.' + '9'.repeat(10), d6: '9', d7: '9999999999.999999999', dt: '9999-12-31', dtm: '9999-12-31 23:59:59', dtm1: '9999-12-31 23:59:59.9', dtm3: '9999-12-31 23:59:59.999', dtm6: '9999-12-31 23:59:59.999999', ts: '2038-01-19 03:14:07', ts2: '2038-01-19 03:14:07.99', ts6: '2038-01-19 03:14:07.999999', y: 2155, tm: '838:59:59.999', e: 'ç', st: 'x,y,z', c: 'ÿÿÿÿÿÿÿÿÿÿ', vc: '😀'.repeat(300), vs: 'x'.repeat(20), tt: 'é'.repeat(127), tx: 'a'.repeat(65535), mt: '漢'.repeat(70000), lt: 'b'.repeat(100000), j: '{"a": 1.5e300, "b": "\\u00e9"}', bt: '1023', l1: 'ÿ' }));
      await conn.query(insertSql({ ti: 0, si: -1, mi: -1, i: -1, bi: '-1', d1: '0.00', d2: '-0.000000000000000000000000000001', d3: '0.00001', d4: '0', d5: '0.0000000001', d6: '0', dt: '0000-00-00', dtm: '0000-00-00 00:00:00', dtm6: '2024-00-15 12:00:00.5', ts: '0000-00-00 00:00:00', ts6: '0000-00-00 00:00:00.000000', y: 0, e: '', f: -0, d: -0 }));
      await conn.query("INSERT INTO t (e, dtm3, d1) VALUES (0, '2024-02-29 23:59:59.5', '-0.01')");
      const rnd = prng(20261205);
      for (let i = 0; i < 400; i++) await conn.query(insertSql(randomRow(rnd)));
      // Updates (two images a row) and deletes.
      const [updated] = await conn.query<ResultSetHeader>("UPDATE t SET vc = CONCAT(IFNULL(vc, ''), 'ü'), d1 = -d1, dtm6 = DATE_ADD(dtm6, INTERVAL 1 SECOND) WHERE id % 3 = 0");
      const [deleted] = await conn.query<ResultSetHeader>('DELETE FROM t WHERE id % 7 = 0');
      const images = 405 + 2 * updated.affectedRows + deleted.affectedRows;
      expect(updated.affectedRows).toBeGreaterThan(100);
      const schema = await describeTable(conn, 'brows', 't');
      const { compared, readHere, mismatches } = await readBothWays('brows', schema, start, images);
      expect(mismatches).toEqual([]);
      expect(compared).toBe(images);
      expect([...readHere].sort()).toEqual([...READ_HERE].sort());
    } finally {
      await conn.end();
    }
  }, 120_000);
});
