/**
 * A stream batch on a MySQL/MariaDB target (engines/mysql/statements.ts): START TRANSACTION, the
 * batch's writes and its checkpoint reach the server as one multi-statement query, then the lock's
 * check and COMMIT — three round trips, however many tables the batch writes; the query comment is
 * on every statement; a statement failing inside the gathered packet leaves nothing of the batch
 * and the checkpoint where it was. Real MariaDB, its general log read back.
 */
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDsn } from '../../src/config/dsn.js';
import { createLogger } from '../../src/core/logger.js';
import type { TableSchema } from '../../src/core/schema.js';
import type { StreamCheckpoint } from '../../src/core/target.js';
import { ensureCheckpointTable } from '../../src/engines/mysql/checkpoint.js';
import { describeTable } from '../../src/engines/mysql/schema.js';
import { MysqlTarget } from '../../src/engines/mysql/target.js';
import { startMariaDb, type Server } from '../../src/testing/servers.js';
import { connect } from '../helpers/mysql.js';

let server: Server;
let root: Connection;
let target: MysqlTarget;
const DB = 'batchdb';
const COMMENT = 'tributary batch-test';
const cp = (position: string): StreamCheckpoint => ({ version: 1, position, sourceId: 'src', phase: 'stream' });

beforeAll(async () => {
  server = await startMariaDb({ args: ['--general-log=1', '--log-output=TABLE'] });
  root = await connect(server.url());
  await root.query(`CREATE DATABASE ${DB}`);
  await root.query(`CREATE TABLE ${DB}.a (id INT PRIMARY KEY, v VARCHAR(5)); CREATE TABLE ${DB}.b (id INT PRIMARY KEY, v VARCHAR(5))`);
  await root.query(`USE ${DB}`);
  await ensureCheckpointTable(root);
  await root.query(`INSERT INTO ${DB}.a VALUES (1, 'one'), (2, 'two'); INSERT INTO ${DB}.b VALUES (1, 'one')`);
  // The target connects as its own user, so the general log tells its statements from the test's.
  await root.query("CREATE USER trib@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL PRIVILEGES ON *.* TO trib@'127.0.0.1'");
  const url = new URL(server.url(DB));
  url.username = 'trib';
  url.password = '';
  target = new MysqlTarget({ dsn: { ...parseDsn(url.toString(), 'target'), queryComment: COMMENT }, syncId: 'batch', logger: createLogger({ level: 'silent', pretty: false }), poolSize: 1 });
  await target.connect();
  await target.lock();
}, 60_000);

afterAll(async () => {
  await target?.close();
  await root?.end().catch(() => undefined);
  await server?.stop();
});

/** The target's queries since `since` (general log), in order. */
async function queriesSince(since: string): Promise<string[]> {
  const [rows] = await root.query<RowDataPacket[]>(
    "SELECT CONVERT(argument USING utf8mb4) AS q FROM mysql.general_log WHERE user_host LIKE 'trib[trib]%' AND command_type = 'Query' AND event_time > ? ORDER BY event_time",
    [since],
  );
  return rows.map((r) => String(r.q));
}

async function now(): Promise<string> {
  const [rows] = await root.query<RowDataPacket[]>("SELECT DATE_FORMAT(NOW(6), '%Y-%m-%d %H:%i:%s.%f') AS t");
  await new Promise((r) => setTimeout(r, 5));
  return String(rows[0]?.t);
}

/** The test tables as the target's writes take them, by name. */
async function described(...names: string[]): Promise<Map<string, TableSchema>> {
  return new Map(await Promise.all(names.map(async (n) => [n, await describeTable(root, DB, n)] as const)));
}

async function contents(): Promise<string> {
  const [rows] = await root.query<RowDataPacket[]>(`SELECT CONCAT('a', id, '=', v) AS r FROM ${DB}.a UNION ALL SELECT CONCAT('b', id, '=', v) FROM ${DB}.b ORDER BY 1`);
  return rows.map((r) => String(r.r)).join(' ');
}

describe('MySQL target: a stream batch', () => {
  it('reaches the server in three round trips with the comment on every statement, and lands whole', async () => {
    const tables = await described('a', 'b');
    const since = await now();
    const tx = await target.begin();
    await tx.write(tables, [
      { kind: 'delete', table: 'a', key: [1n] },
      { kind: 'upsert', table: 'a', key: [3n], row: [3n, 'three'] },
      { kind: 'upsert', table: 'b', key: [1n], row: [1n, 'uno'] },
      { kind: 'delete', table: 'b', key: [9n] },
    ]);
    await tx.truncate(tables.get('b')!);
    await tx.write(tables, [{ kind: 'upsert', table: 'b', key: [2n], row: [2n, 'dos'] }]);
    await tx.commit(cp('p1'));

    // A connection the pool opened meanwhile sets its session first (connection.ts SESSION_SQL).
    const sent = (await queriesSince(since)).filter((q) => !/^\/\* [^*]* \*\/ SET /.test(q));
    expect(sent).toHaveLength(3);
    const [batch, check, commit] = sent as [string, string, string];
    const statements = batch.split(';\n');
    expect(statements.map((s) => s.replace(/ .*/s, ''))).toEqual(Array(statements.length).fill('/*'));
    expect(statements.map((s) => s.slice(`/* ${COMMENT} */ `.length).replace(/ .*/s, ''))).toEqual(['START', 'DELETE', 'INSERT', 'DELETE', 'INSERT', 'DELETE', 'INSERT', 'REPLACE']);
    expect(statements.every((s) => s.startsWith(`/* ${COMMENT} */ `))).toBe(true);
    expect(check).toMatch(/IS_USED_LOCK/);
    expect(commit).toBe(`/* ${COMMENT} */ COMMIT`);
    expect(await contents()).toBe('a2=two a3=three b2=dos');
    expect((await target.loadCheckpoint()).stream?.position).toBe('p1');
  });

  it('leaves nothing of a batch whose gathered statement fails, naming it, and the checkpoint where it was', async () => {
    const tables = await described('a', 'b');
    const before = await contents();
    const tx = await target.begin();
    // The first statements run on the server before the failing one (too long for VARCHAR(5) in strict mode).
    await tx.write(tables, [
      { kind: 'delete', table: 'a', key: [2n] },
      { kind: 'upsert', table: 'a', key: [4n], row: [4n, 'four'] },
      { kind: 'upsert', table: 'b', key: [5n], row: [5n, 'far too long'] },
    ]);
    const err = await tx.commit(cp('p2')).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err?.message).toMatch(/applying changes and the checkpoint.*Data too long for column 'v'/s);
    expect(await contents()).toBe(before);
    expect((await target.loadCheckpoint()).stream?.position).toBe('p1');

    // The pooled connection is usable for the next batch.
    const next = await target.begin();
    await next.write(tables, [{ kind: 'upsert', table: 'a', key: [4n], row: [4n, 'four'] }]);
    await next.commit(cp('p3'));
    expect(await contents()).toBe(`${before.replace('a3=three', 'a3=three a4=four')}`);
    expect((await target.loadCheckpoint()).stream?.position).toBe('p3');
  });

  it('sends nothing of a batch rolled back before its commit', async () => {
    const tables = await described('a');
    const before = await contents();
    const since = await now();
    const tx = await target.begin();
    await tx.write(tables, [{ kind: 'upsert', table: 'a', key: [7n], row: [7n, 'seven'] }]);
    await tx.rollback();
    expect((await queriesSince(since)).filter((q) => /INSERT|START/.test(q))).toEqual([]);
    expect(await contents()).toBe(before);
  });

  it('refuses changes of a table it was given no definition of, never dropping them quietly', async () => {
    const tables = await described('a');
    const before = await contents();
    const tx = await target.begin();
    await expect(tx.write(tables, [{ kind: 'upsert', table: 'b', key: [9n], row: [9n, 'nine'] }])).rejects.toMatchObject({ message: expect.stringMatching(/no definition for table b: 1 change/) as unknown });
    await tx.rollback();
    expect(await contents()).toBe(before);
  });
});
