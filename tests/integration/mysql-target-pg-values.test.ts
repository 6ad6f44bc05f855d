/**
 * PostgreSQL canonical values written through MysqlTarget into a real MariaDB: a hand-built
 * PostgreSQL TableSchema (with each column's logical type, as the PostgreSQL describe gives it), the copy path (writeChunk → LOAD DATA) and the stream path (begin /
 * write / commit → INSERT … ON DUPLICATE KEY UPDATE, DELETE), every value checked exactly.
 */
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDsn } from '../../src/config/dsn.js';
import type { Column, TableSchema } from '../../src/core/schema.js';
import type { ChunkCommit } from '../../src/core/target.js';
import type { Row } from '../../src/core/values.js';
import { MysqlTarget } from '../../src/engines/mysql/target.js';
import { withLogical } from '../../src/engines/postgres/types.js';
import { startMariaDb, type Server } from '../../src/testing/servers.js';

function col(name: string, dataType: string, columnType = dataType, extra: Partial<Column> = {}): Column {
  return { name, dataType, columnType, nullable: true, unsigned: false, ...extra };
}

const T: TableSchema = withLogical({
  name: 'pg_values',
  engine: 'postgres',
  generated: [],
  primaryKey: [0],
  uniqueKeys: [[16]],
  columns: [
    col('id', 'int8', 'bigint', { nullable: false }),
    col('i2', 'int2', 'smallint'),
    col('n', 'numeric', 'numeric(10,2)'),
    col('f4', 'float4', 'real'),
    col('f8', 'float8', 'double precision'),
    col('ok', 'bool', 'boolean'),
    col('txt', 'text'),
    col('vc', 'varchar', 'character varying(5)'),
    col('raw', 'bytea', 'bytea', { charset: 'binary' }),
    col('js', 'json'),
    col('jb', 'jsonb'),
    col('ts', 'timestamptz', 'timestamp with time zone'),
    col('lts', 'timestamp', 'timestamp(3) without time zone'),
    col('d', 'date'),
    col('tm', 'time', 'time without time zone'),
    col('arr', '_int4', 'integer[]'),
    col('u', 'uuid'),
    col('bits', 'bit', 'bit(5)'),
    col('iv', 'interval'),
    col('wide', 'numeric', 'numeric'),
  ],
});

/** Text keys: 'a', 'A' and 'a ' are three keys in PostgreSQL and must stay three. */
const K: TableSchema = withLogical({
  name: 'pg_text_key',
  engine: 'postgres',
  generated: [],
  primaryKey: [0],
  columns: [col('k', 'text', 'text', { nullable: false }), col('v', 'int4', 'integer')],
});

/** Wide varchar columns: those past MySQL's 65535-byte row become TEXT; a composite text key shares the 3072-byte key limit. */
const W: TableSchema = withLogical({
  name: 'pg_wide',
  engine: 'postgres',
  generated: [],
  primaryKey: [0, 1],
  columns: [
    col('a', 'text', 'text', { nullable: false }),
    col('b', '_text', 'text[]', { nullable: false }),
    ...Array.from({ length: 8 }, (_, i) => col(`v${i}`, 'varchar', 'character varying(4000)')),
  ],
});

const ROW1: Row = [
  1n, -32768n, '-12345678.90', 3.1415927410125732, 0.1, true, 'tab\there\\ 😀', 'ünïcö', Buffer.from([0, 1, 0, 255]),
  '{"b": 1, "a": [1.0, 2]}', '{"a": 1.0, "bb": null}', '2024-01-01 05:30:00+05:30', '2024-02-29 23:59:59.123', '0001-01-01',
  '24:00:00', '{1,2,NULL}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '01011', '1 day 02:00:00', '1234567890123456789012345678901234.5',
];
const ROW2: Row = [2n, null, null, null, null, false, '', '', Buffer.alloc(0), null, null, '2024-01-01 00:00:00.5+00', null, null, null, '{}', null, '00000', null, null];

/** The row as MariaDB holds it: each column as HEX or text, so no driver conversion hides anything. */
async function stored(conn: Connection, db: string, table: string, id: number): Promise<Record<string, string | null>> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT i2, n, f4 + 0e0 AS f4, f8, ok, HEX(txt) AS txt, vc, HEX(raw) AS raw, js, jb, ts, lts, d, tm, arr, u, CAST(bits + 0 AS CHAR) AS bits, iv, wide
       FROM \`${db}\`.\`${table}\` WHERE id = ?`,
    [id],
  );
  return rows[0] as Record<string, string | null>;
}

function commitStub(): ChunkCommit {
  return { checkpoint: () => Promise.resolve({ watermark: null, done: false, rowsCopied: 0 }), committed: () => undefined, failed: () => undefined };
}

describe('MySQL target: PostgreSQL values', () => {
  let server: Server;
  let conn: Connection;
  let target: MysqlTarget;
  const db = 'pgvals';

  beforeAll(async () => {
    server = await startMariaDb();
    conn = await mysql.createConnection({ uri: server.url(), timezone: 'Z', dateStrings: true, supportBigNumbers: true, bigNumberStrings: true, jsonStrings: true });
    await conn.query(`CREATE DATABASE ${db}`);
    target = new MysqlTarget({
      dsn: parseDsn(server.url(db), 'target'),
      syncId: 'pgtest',
      logger: pino({ level: 'silent' }),
      poolSize: 2,
      columnTypes: { 'pg_values.wide': 'DECIMAL(65,30)' },
    });
    await target.connect();
  });

  afterAll(async () => {
    await target?.close();
    await conn?.end().catch(() => undefined);
    await server?.stop();
  });

  it('refuses an unmappable column before writing anything, naming it and the override', async () => {
    const bare = new MysqlTarget({ dsn: parseDsn(server.url(db), 'target'), syncId: 'pgtest2', logger: pino({ level: 'silent' }), poolSize: 1 });
    await bare.connect();
    try {
      await expect(bare.ensureSchema([T], { recreate: false })).rejects.toThrow(/pg_values\.wide \(numeric\): numeric without precision .*--column-types pg_values\.wide=DECIMAL\(65,30\)/);
      const [tables] = await conn.query<RowDataPacket[]>('SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [db]);
      expect(tables).toEqual([]);
    } finally {
      await bare.close();
    }
  });

  it('creates the table from the map', async () => {
    await target.ensureSchema([T, K, W], { recreate: false });
    const [rows] = await conn.query<RowDataPacket[]>(
      'SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t, COLLATION_NAME AS coll FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [db, 'pg_values'],
    );
    expect(Object.fromEntries(rows.map((r) => [r.c, r.t]))).toMatchObject({
      id: 'bigint(20)', i2: 'smallint(6)', n: 'decimal(10,2)', f4: 'float', f8: 'double', ok: 'tinyint(1)', txt: 'longtext',
      vc: 'varchar(5)', raw: 'longblob', js: 'longtext', ts: 'datetime(6)', lts: 'datetime(3)', d: 'date', tm: 'time(6)',
      arr: 'longtext', u: 'char(36)', bits: 'bit(5)', iv: 'varchar(100)', wide: 'decimal(65,30)',
    });
    expect(rows.find((r) => r.c === 'txt')?.coll).toBe('utf8mb4_nopad_bin');
    const [wide] = await conn.query<RowDataPacket[]>(
      'SELECT COLUMN_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [db, 'pg_wide'],
    );
    expect(wide.map((r) => String(r.t))).toEqual(['varchar(383)', 'varchar(383)', ...Array(3).fill('varchar(4000)'), ...Array(5).fill('text')]);
  });

  it('copies every value exactly through LOAD DATA', async () => {
    await target.writeChunk(T, [ROW1, ROW2], commitStub());
    expect(await stored(conn, db, 'pg_values', 1)).toEqual({
      i2: -32768, n: '-12345678.90', f4: 3.1415927410125732, f8: 0.1, ok: 1, txt: Buffer.from('tab\there\\ 😀').toString('hex').toUpperCase(),
      vc: 'ünïcö', raw: '000100FF', js: '{"b": 1, "a": [1.0, 2]}', jb: '{"a": 1.0, "bb": null}', ts: '2024-01-01 00:00:00.000000',
      lts: '2024-02-29 23:59:59.123', d: '0001-01-01', tm: '24:00:00.000000', arr: '{1,2,NULL}', u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      bits: '11', iv: '1 day 02:00:00', wide: '1234567890123456789012345678901234.500000000000000000000000000000',
    });
    expect(await stored(conn, db, 'pg_values', 2)).toMatchObject({ i2: null, ok: 0, txt: '', vc: '', raw: '', ts: '2024-01-01 00:00:00.500000', arr: '{}', bits: '0' });
  });

  it('refuses a 40-digit numeric, NaN and infinity on the copy path, naming the column, and writes nothing', async () => {
    const bad: [number, Row[number], RegExp][] = [
      [19, '1234567890123456789012345678901234567890', /pg_values\.wide .*40 integer and 0 fraction digits, beyond DECIMAL\(65,30\)/],
      [4, NaN, /pg_values\.f8 \(double precision → MySQL DOUBLE\): value NaN/],
      [2, 'Infinity', /pg_values\.n .*value 'Infinity'/],
      [11, 'infinity', /pg_values\.ts .*no infinite dates/],
    ];
    for (const [i, v, re] of bad) {
      const row = [...ROW1];
      row[0] = 10n;
      row[16] = null;
      row[i] = v;
      await expect(target.writeChunk(T, [row], commitStub())).rejects.toThrow(re);
    }
    const [rows] = await conn.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${db}.pg_values WHERE id = 10`);
    expect(Number(rows[0]?.n)).toBe(0);
  });

  // MariaDB refuses it in strict mode; MySQL turns LOAD DATA LOCAL data errors into warnings, which the target refuses.
  it('fails a chunk whose value the server would have changed, naming the column', async () => {
    const row = [...ROW1];
    row[0] = 11n;
    row[16] = null;
    row[7] = 'longer than five';
    await expect(target.writeChunk(T, [row], commitStub())).rejects.toThrow(/pg_values.*'vc'/);
  });

  it('applies stream changes exactly, and refuses NaN naming the column', async () => {
    const tx = await target.begin();
    const row = [...ROW1];
    row[0] = 3n;
    row[16] = 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
    row[11] = '2024-03-01 01:00:00.123456+05:30';
    row[5] = true;
    await tx.write(new Map([[T.name, T]]), [
      { kind: 'upsert', table: T.name, key: [3n], row },
      { kind: 'delete', table: T.name, key: [2n] },
    ]);
    await tx.commit(null);
    expect(await stored(conn, db, 'pg_values', 3)).toMatchObject({ ok: 1, ts: '2024-02-29 19:30:00.123456', raw: '000100FF', bits: '11', wide: '1234567890123456789012345678901234.500000000000000000000000000000', jb: '{"a": 1.0, "bb": null}', arr: '{1,2,NULL}' });
    const [gone] = await conn.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${db}.pg_values WHERE id = 2`);
    expect(Number(gone[0]?.n)).toBe(0);

    const tx2 = await target.begin();
    const nan = [...ROW1];
    nan[0] = 4n;
    nan[16] = null;
    nan[3] = NaN;
    await expect(tx2.write(new Map([[T.name, T]]), [{ kind: 'upsert', table: T.name, key: [4n], row: nan }])).rejects.toThrow(/pg_values\.f4 \(real → MySQL FLOAT\): value NaN/);
    await tx2.rollback();
  });

  it('keeps text keys that differ only in case or trailing spaces apart', async () => {
    await target.writeChunk(K, [['a', 1n], ['A', 2n], ['a ', 3n]], commitStub());
    const tx = await target.begin();
    await tx.write(new Map([[K.name, K]]), [{ kind: 'upsert', table: K.name, key: ['a'], row: ['a', 10n] }, { kind: 'delete', table: K.name, key: ['a '] }]);
    await tx.commit(null);
    const [rows] = await conn.query<RowDataPacket[]>(`SELECT HEX(k) AS k, v FROM ${db}.pg_text_key ORDER BY k`);
    expect(rows.map((r) => `${String(r.k)}=${String(r.v)}`)).toEqual(['41=2', '61=10']);
  });
});
