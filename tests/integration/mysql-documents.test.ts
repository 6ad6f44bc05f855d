/**
 * Rows rendered as JSON documents where a MySQL/MariaDB stream decodes them (core/change-log.ts
 * StreamRequest.documents): asked for, an INSERT's or UPDATE's upsert carries its new image as
 * core/json-row.ts writeRow's bytes (`doc`) instead of values, rendered in the decoding thread.
 * The bytes must be those the consumer would render from the values itself: every column type is
 * compared with a stream of the same binlog read without documents. Upserts whose old image goes
 * whole (a parent of a cascading foreign key, a table without a key) keep their values: the
 * applier reads a cascade's new values.
 */
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamRequest } from '../../src/core/change-log.js';
import { rowOf, type StreamEvent } from '../../src/core/change.js';
import { parseDsn } from '../../src/config/dsn.js';
import { writeRow } from '../../src/core/json-row.js';
import { createLogger } from '../../src/core/logger.js';
import type { TableSchema } from '../../src/core/schema.js';
import { rowJson } from '../../src/core/slab.js';
import { MysqlSource } from '../../src/engines/mysql/source.js';
import { valueConventions } from '../../src/engines/registry.js';
import { startMariaDb, type Server } from '../../src/testing/servers.js';
import { connect } from '../helpers/mysql.js';

let server: Server;
let conn: Connection;

beforeAll(async () => {
  server = await startMariaDb({ serverId: 1 });
  conn = await connect(server.url());
});

afterAll(async () => {
  await conn?.end();
  await server?.stop();
});

type ChangeEvent = Extract<StreamEvent, { type: 'change' }>;

const MYSQL = valueConventions('mysql');

/** The source as a sync opens it (engines/mysql/index.ts), with or without its conventions. */
function sourceOf(db: string, conventions = true): MysqlSource {
  return new MysqlSource({ dsn: parseDsn(server.url(db), 'source'), logger: createLogger({ level: 'silent', pretty: false }), poolSize: 1, serverId: 79, positionMode: 'auto', maxBufferBytes: 1 << 20, ...(conventions ? { conventions: MYSQL } : {}) });
}

/** The change events of the stream from `from` up to the insert into `done`, as asked, with the definitions. */
async function changesFrom(db: string, from: string, request: StreamRequest | undefined, conventions = true): Promise<{ events: ChangeEvent[]; tables: Map<string, TableSchema> }> {
  const source = sourceOf(db, conventions);
  await source.connect();
  const abort = new AbortController();
  try {
    const tables = await Promise.all((await source.listTables()).map((t) => source.describe(t)));
    const events: ChangeEvent[] = [];
    for await (const evs of source.stream(from, tables, abort.signal, request)) {
      for (const ev of evs) {
        if (ev.type !== 'change') continue;
        if (ev.change.table === 'done') return { events, tables: new Map(tables.map((t) => [t.name, t])) };
        events.push(ev);
      }
    }
    throw new Error('the stream ended before the insert into done');
  } finally {
    abort.abort();
    await source.close();
  }
}

/** Runs `statements` on a fresh database `db` made of `schema`; returns the position before them. */
async function written(db: string, schema: string, statements: readonly string[]): Promise<string> {
  await conn.query(`DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db}; ${schema}; CREATE TABLE done (id INT PRIMARY KEY);`);
  const source = sourceOf(db);
  await source.connect();
  const from = await source.currentPosition();
  await source.close();
  for (const sql of statements) await conn.query(`USE ${db}; ${sql}`);
  await conn.query(`USE ${db}; INSERT INTO done VALUES (1)`);
  return from;
}

const TYPES = `CREATE TABLE t (
  id INT PRIMARY KEY, ti TINYINT, u BIGINT UNSIGNED, big BIGINT, d DECIMAL(65,30), f FLOAT, db DOUBLE,
  s VARCHAR(40) CHARACTER SET utf8mb4, l1 VARCHAR(10) CHARACTER SET latin1, tx TEXT, b VARBINARY(10), bl BLOB,
  dt DATE, ts DATETIME(6), tz TIMESTAMP(3) NULL, tm TIME(6), y YEAR, j JSON, e ENUM('a','b c'), st SET('x','y','z'),
  bt BIT(5), g POINT, uu UUID, ip INET6
)`;

const ROWS = [
  `INSERT INTO t VALUES (1, -128, 18446744073709551615, -9223372036854775808, -12345678901234567890.123456789012345678901234567890, 1.5, -0.1,
     'quote " back \\\\ tab \t nl \n é 😀', 'café', REPEAT('x', 300), X'00ff22', X'', '0000-00-00', '2024-02-29 23:59:59.000001',
     '1970-01-01 00:00:01.5', '-838:59:59.000000', 1901, '{"a": [1, 2.50, "\\\\u00e9"], "b": null}', 'b c', 'x,z', b'10101',
     ST_GeomFromText('POINT(1 2)'), '6ccd780c-baba-1026-9564-5b8c656024db', '::ffff:1.2.3.4')`,
  `INSERT INTO t (id) VALUES (2)`,
  `INSERT INTO t VALUES (3, 127, 0, 9007199254740993, 0.000000000000000000000000000001, -3.4e38, 1e308, '', '', '', '', NULL,
     '9999-12-31', '1000-01-01 00:00:00', '2038-01-19 03:14:07.999', '00:00:00', 2155, 'null', 'a', '', b'0', NULL, NULL, '::')`,
  `UPDATE t SET s = CONCAT(s, '!'), d = -d, j = JSON_OBJECT('k', 'v') WHERE id = 1`,
  `UPDATE t SET id = 4 WHERE id = 3`,
  `DELETE FROM t WHERE id = 2`,
];

describe('rows rendered as JSON documents by a MySQL stream', () => {
  it('renders every column type to the very bytes the consumer renders from the values, in the decoding thread', async () => {
    const from = await written('docs', TYPES, ROWS);
    const plain = await changesFrom('docs', from, undefined);
    const docs = await changesFrom('docs', from, { documents: true });
    expect(docs.events.map((e) => [e.op, e.change.kind, e.change.key])).toEqual(plain.events.map((e) => [e.op, e.change.kind, e.change.key]));
    const table = plain.tables.get('t') as TableSchema;
    let rendered = 0;
    for (const [i, ev] of docs.events.entries()) {
      const was = (plain.events[i] as ChangeEvent).change;
      if (ev.change.kind !== 'upsert' || was.kind !== 'upsert') continue;
      expect(ev.change.row).toBeUndefined();
      expect(ev.change.doc, `change ${i}`).toBeInstanceOf(Buffer);
      const want = rowJson((out) => writeRow(table, rowOf(was), MYSQL, out));
      expect((ev.change.doc as Buffer).toString(), `change ${i}`).toBe(want.toString());
      rendered++;
    }
    // Three inserts, two updates (the key change's upsert included).
    expect(rendered).toBe(5);
    // Not asked, or without the conventions to render with: values.
    const unasked = await changesFrom('docs', from, { documents: true }, false);
    expect(unasked.events.every((e) => e.change.kind !== 'upsert' || e.change.row !== undefined)).toBe(true);
  });

  it('keeps the values of upserts whose old image goes whole: a cascading parent, a table without a key, or every one when asked', async () => {
    const schema = `
      CREATE TABLE parent (id INT PRIMARY KEY, code INT UNIQUE, name VARCHAR(20));
      CREATE TABLE child (id INT PRIMARY KEY, pcode INT, FOREIGN KEY (pcode) REFERENCES parent (code) ON UPDATE CASCADE);
      CREATE TABLE keyless (a INT, b VARCHAR(10));
      CREATE TABLE plain (id INT PRIMARY KEY, v VARCHAR(10))`;
    const from = await written('docs2', schema, [
      `INSERT INTO parent VALUES (1, 10, 'one')`,
      `INSERT INTO child VALUES (1, 10)`,
      `INSERT INTO keyless VALUES (1, 'p')`,
      `INSERT INTO plain VALUES (1, 'x')`,
      `UPDATE parent SET code = 11, name = 'uno' WHERE id = 1`,
      `UPDATE keyless SET b = 'q'`,
      `UPDATE plain SET v = 'y'`,
    ]);
    const form = (events: readonly ChangeEvent[]) => events.filter((e) => e.change.kind === 'upsert').map((e) => `${e.op} ${e.change.table} ${e.change.kind === 'upsert' && e.change.doc ? 'doc' : 'row'}${e.before ? ' before' : ''}`);
    const { events } = await changesFrom('docs2', from, { documents: true });
    expect(form(events)).toEqual([
      // An insert has no old image: rendered, a parent's too (no cascade follows an insert).
      'insert parent doc',
      'insert child doc',
      'insert keyless row',
      'insert plain doc',
      'update parent row before',
      'update keyless row before',
      'update plain doc',
    ]);
    const whole = await changesFrom('docs2', from, { documents: true, oldImages: 'whole' });
    expect(form(whole.events).filter((f) => f.startsWith('update'))).toEqual(['update parent row before', 'update keyless row before', 'update plain row before']);
  });
});
