/**
 * Which changes of a MySQL/MariaDB stream carry the row's old image (`before`, core/change.ts), as
 * the consumer asks (core/change-log.ts StreamRequest.oldImages). By default only the tables a
 * foreign key references with a referential action get it, by the definitions of the moment (the
 * applier derives the cascades the binlog does not log from it), and tables without a key (their
 * whole row is their key); every other old image is read for its key only. 'whole' gives every one.
 * Read through the decoding thread, as a sync reads it.
 */
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamRequest } from '../../src/core/change-log.js';
import type { StreamEvent } from '../../src/core/change.js';
import { parseDsn } from '../../src/config/dsn.js';
import { createLogger } from '../../src/core/logger.js';
import { MysqlSource } from '../../src/engines/mysql/source.js';
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

/** What a change event says of its row, in a form to compare: table, op, kind, key and before. */
const shown = (e: ChangeEvent) => ({ table: e.change.table, op: e.op, kind: e.change.kind, key: e.change.key, ...(e.before ? { before: e.before } : {}) });

/**
 * Runs `statements` on database `db` and returns the change events a stream from the position
 * before them yields, up to the insert into `done` the last statement makes.
 */
async function changesOf(db: string, statements: readonly string[], request?: StreamRequest): Promise<ChangeEvent[]> {
  const source = new MysqlSource({ dsn: parseDsn(server.url(db), 'source'), logger: createLogger({ level: 'silent', pretty: false }), poolSize: 1, serverId: 78, positionMode: 'auto', maxBufferBytes: 1 << 20 });
  await source.connect();
  const abort = new AbortController();
  try {
    const tables = await Promise.all((await source.listTables()).map((t) => source.describe(t)));
    const from = await source.currentPosition();
    for (const sql of statements) await conn.query(`USE ${db}; ${sql}`);
    await conn.query(`USE ${db}; INSERT INTO done VALUES (1)`);
    const out: ChangeEvent[] = [];
    for await (const evs of source.stream(from, tables, abort.signal, request)) {
      for (const ev of evs) {
        if (ev.type !== 'change') continue;
        if (ev.change.table === 'done') return out;
        out.push(ev);
      }
    }
    return out;
  } finally {
    abort.abort();
    await source.close();
  }
}

const SCHEMA = `
  CREATE TABLE parent (id INT PRIMARY KEY, code INT UNIQUE, name VARCHAR(20), amount DECIMAL(10,2), at DATETIME(6));
  CREATE TABLE child (id INT PRIMARY KEY, pcode INT, KEY (pcode));
  CREATE TABLE plain (id INT, k VARCHAR(10), v TEXT, PRIMARY KEY (id, k));
  CREATE TABLE keyless (a INT, b VARCHAR(10));
  CREATE TABLE done (id INT PRIMARY KEY);
  INSERT INTO parent VALUES (1, 10, 'one', 1.50, '2024-01-01 00:00:00.000001'), (2, 20, 'two', -2.25, NULL), (3, 30, NULL, 0, '2024-02-29 12:00:00.5');
  INSERT INTO plain VALUES (1, 'a', 'x'), (2, 'b', NULL);
  INSERT INTO keyless VALUES (1, 'p'), (2, 'q');
`;

async function fresh(db: string): Promise<void> {
  await conn.query(`DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db}; ${SCHEMA}`);
}

describe('old images of a MySQL stream', () => {
  it('by default: a key for tables nothing cascades from, the whole row once a foreign key with an action references the table, and a keyless table whole', async () => {
    await fresh('oi1');
    const events = await changesOf('oi1', [
      "UPDATE parent SET name = 'uno' WHERE id = 1",
      'DELETE FROM parent WHERE id = 2',
      "UPDATE plain SET k = 'c', v = 'y' WHERE id = 1",
      'DELETE FROM plain WHERE id = 2',
      "UPDATE keyless SET b = 'r' WHERE a = 1",
      'DELETE FROM keyless WHERE a = 2',
      // From here on the binlog's DELETE of a parent row does not show what InnoDB deleted in child.
      'ALTER TABLE child ADD CONSTRAINT fk FOREIGN KEY (pcode) REFERENCES parent (code) ON DELETE CASCADE',
      "UPDATE parent SET name = 'tres' WHERE id = 3",
      'DELETE FROM parent WHERE id = 3',
      "UPDATE plain SET v = 'z' WHERE id = 1",
    ]);
    expect(events.map(shown)).toEqual([
      { table: 'parent', op: 'update', kind: 'upsert', key: [1n] },
      { table: 'parent', op: 'delete', kind: 'delete', key: [2n] },
      // A key update: the old key, read from the old image, is deleted.
      { table: 'plain', op: undefined, kind: 'delete', key: [1n, 'a'] },
      { table: 'plain', op: 'update', kind: 'upsert', key: [1n, 'c'] },
      { table: 'plain', op: 'delete', kind: 'delete', key: [2n, 'b'] },
      { table: 'keyless', op: undefined, kind: 'delete', key: [1n, 'p'] },
      { table: 'keyless', op: 'update', kind: 'upsert', key: [1n, 'r'], before: [1n, 'p'] },
      { table: 'keyless', op: 'delete', kind: 'delete', key: [2n, 'q'], before: [2n, 'q'] },
      { table: 'parent', op: 'update', kind: 'upsert', key: [3n], before: [3n, 30n, null, '0.00', '2024-02-29 12:00:00.500000'] },
      { table: 'parent', op: 'delete', kind: 'delete', key: [3n], before: [3n, 30n, 'tres', '0.00', '2024-02-29 12:00:00.500000'] },
      { table: 'plain', op: 'update', kind: 'upsert', key: [1n, 'c'] },
    ]);
    // The new images are whole whatever happens to the old ones.
    const upserts = events.filter((e) => e.change.kind === 'upsert').map((e) => (e.change.kind === 'upsert' ? e.change.row : []));
    expect(upserts).toEqual([
      [1n, 10n, 'uno', '1.50', '2024-01-01 00:00:00.000001'],
      [1n, 'c', 'y'],
      [1n, 'r'],
      [3n, 30n, 'tres', '0.00', '2024-02-29 12:00:00.500000'],
      [1n, 'c', 'z'],
    ]);
  }, 60_000);

  it("with oldImages 'whole': every UPDATE and DELETE carries the whole old row", async () => {
    await fresh('oi2');
    const events = await changesOf('oi2', ["UPDATE parent SET name = 'uno' WHERE id = 1", 'DELETE FROM parent WHERE id = 2', "UPDATE plain SET v = 'y' WHERE id = 1", 'DELETE FROM plain WHERE id = 2'], { oldImages: 'whole' });
    expect(events.map(shown)).toEqual([
      { table: 'parent', op: 'update', kind: 'upsert', key: [1n], before: [1n, 10n, 'one', '1.50', '2024-01-01 00:00:00.000001'] },
      { table: 'parent', op: 'delete', kind: 'delete', key: [2n], before: [2n, 20n, 'two', '-2.25', null] },
      { table: 'plain', op: 'update', kind: 'upsert', key: [1n, 'a'], before: [1n, 'a', 'x'] },
      { table: 'plain', op: 'delete', kind: 'delete', key: [2n, 'b'], before: [2n, 'b', null] },
    ]);
  }, 60_000);
});
