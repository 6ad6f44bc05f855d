/**
 * MariaDB → etcd on real servers, through the CLI (issue 13): the copy and the stream land as one
 * JSON object per row under `<prefix>/<table>/<key>`; composite and string keys; TRUNCATE; a
 * source transaction larger than --max-txn-ops; verify finds and repairs a key changed behind the
 * sync's back; a second instance is refused.
 */
import { Etcd3 } from 'etcd3';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, startMariaDb, type Server } from '../../src/testing/servers.js';
import { connect, runCli, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';

let mysql: Server;
let etcd: Server;
let src: Connection;
let client: Etcd3;
const running: CliRun[] = [];

beforeAll(async () => {
  [mysql, etcd] = await Promise.all([startMariaDb(), startEtcd()]);
  src = await connect(mysql.url());
  client = new Etcd3({ hosts: `http://127.0.0.1:${etcd.port}` });
}, 120_000);

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  client?.close();
  await src?.end();
  await Promise.all([mysql?.stop(), etcd?.stop()]);
});

function sync(db: string, prefix: string, extra: string[] = []): CliRun {
  const run = startCli(['sync', '--source', mysql.url(db), '--target', etcd.url(prefix), '--flush-interval', '100ms', '--checksum-interval', '1s', ...extra]);
  running.push(run);
  return run;
}

/** Every key under a prefix with its parsed value. */
async function keysUnder(prefix: string): Promise<Map<string, Record<string, unknown>>> {
  const all = await client.getAll().prefix(prefix).strings();
  return new Map(Object.entries(all).map(([k, v]) => [k, JSON.parse(v) as Record<string, unknown>]));
}

async function stop(run: CliRun): Promise<void> {
  run.child.kill('SIGTERM');
  expect(await run.exited, run.stderr()).toBe(0);
}

describe('MariaDB → etcd', () => {
  it('copies and streams rows as JSON objects, composite and string keys, TRUNCATE and a transaction larger than one etcd txn', async () => {
    await src.query(`CREATE DATABASE e1; USE e1;
      CREATE TABLE t (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(40), price DECIMAL(10,2), at DATETIME(6), ts TIMESTAMP(3) NULL, f DOUBLE, b VARBINARY(8), js JSON, st SET('x','y','z'), bits BIT(5), en ENUM('a','b'));
      CREATE TABLE comp (a INT, b VARCHAR(20), v INT, PRIMARY KEY (a, b));
      CREATE TABLE big (id INT PRIMARY KEY, v INT);
      INSERT INTO t VALUES (1, 'one', 1.50, '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.500', 0.1, 0x00ff, '{"a": [1, 2.0], "big": 12345678901234567890}', 'x,z', b'00101', 'b'),
                           (18446744073709551615, 'max/%', NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL);
      INSERT INTO comp VALUES (1, 'a/b', 10), (1, 'c%d', 11), (2, 'x', 12);`);
    const run = sync('e1', 'e1');
    await waitUntil('copied', async () => (await keysUnder('/e1/t/')).size === 2 && (await keysUnder('/e1/comp/')).size === 3, 60_000);
    const t = await keysUnder('/e1/t/');
    expect(t.get('/e1/t/1')).toEqual({
      id: 1,
      name: 'one',
      price: '1.50',
      at: '2024-01-02T03:04:05.123456',
      ts: '2024-01-02T03:04:05.500Z',
      f: 0.1,
      b: Buffer.from([0, 255]).toString('base64'),
      js: { a: [1, 2], big: expect.any(Number) as unknown },
      st: ['x', 'z'],
      bits: '00101',
      en: 'b',
    });
    // The JSON column is embedded as the source stores it: its text is in the value byte for byte.
    expect(await client.get('/e1/t/1').string()).toContain('"js":{"a": [1, 2.0], "big": 12345678901234567890}');
    expect(t.get('/e1/t/18446744073709551615')).toMatchObject({ id: '18446744073709551615', name: 'max/%', st: [] });
    expect([...(await keysUnder('/e1/comp/')).keys()].sort()).toEqual(['/e1/comp/1/a%2Fb', '/e1/comp/1/c%25d', '/e1/comp/2/x']);

    // Streaming: update, delete, a key change, then a 300-row transaction (> 127 ops), then TRUNCATE.
    await src.query(`USE e1; UPDATE t SET name = 'uno' WHERE id = 1; DELETE FROM comp WHERE a = 2; UPDATE comp SET b = 'moved' WHERE a = 1 AND b = 'a/b';`);
    await src.query(`USE e1; BEGIN; INSERT INTO big SELECT seq, seq * 2 FROM seq_1_to_300; COMMIT;`);
    await waitUntil('streamed', async () => (await keysUnder('/e1/big/')).size === 300 && (await keysUnder('/e1/comp/')).size === 2, 60_000);
    expect((await keysUnder('/e1/t/')).get('/e1/t/1')).toMatchObject({ name: 'uno' });
    expect([...(await keysUnder('/e1/comp/')).keys()].sort()).toEqual(['/e1/comp/1/c%25d', '/e1/comp/1/moved']);
    expect((await keysUnder('/e1/big/')).get('/e1/big/300')).toEqual({ id: 300, v: 600 });
    await src.query('USE e1; TRUNCATE big; INSERT INTO big VALUES (1, 1);');
    await waitUntil('truncated', async () => (await keysUnder('/e1/big/')).size === 1, 60_000);

    // The checkpoint lives in the reserved subtree, beside the lock.
    const meta = await keysUnder('/e1/%tributary/').catch(() => new Map());
    expect(meta.size).toBe(0); // values there are not JSON objects: read them as text
    const metaKeys = Object.keys(await client.getAll().prefix('/e1/%tributary/').strings());
    expect(metaKeys.some((k) => k.endsWith('/lock'))).toBe(true);
    expect(metaKeys.some((k) => /\/cp\/$/.test(k))).toBe(true);

    // A second instance is refused while the first holds the lease.
    const second = await runCli(['sync', '--source', mysql.url('e1'), '--target', etcd.url('e1')], {}, 60_000);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('TRIB_ALREADY_RUNNING');
    await stop(run);
  }, 180_000);

  it('verify finds a key changed behind the sync and --repair puts it back', async () => {
    await src.query(`CREATE DATABASE e2; USE e2; CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20), d DATE); INSERT INTO t SELECT seq, CONCAT('s', seq), '2024-01-01' + INTERVAL seq DAY FROM seq_1_to_50;`);
    const copy = await runCli(['sync', '--copy-only', '--source', mysql.url('e2'), '--target', etcd.url('e2')], {}, 120_000);
    expect(copy.code, copy.stderr).toBe(0);
    const clean = await runCli(['verify', '--source', mysql.url('e2'), '--target', etcd.url('e2')], {}, 120_000);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    await client.put('/e2/t/7').value(JSON.stringify({ id: 7, s: 'tampered', d: '2024-01-08' }));
    await client.delete().key('/e2/t/9');
    await client.put('/e2/t/999').value(JSON.stringify({ id: 999, s: 'extra', d: '2024-01-01' }));
    const found = await runCli(['verify', '--source', mysql.url('e2'), '--target', etcd.url('e2')], {}, 120_000);
    expect(found.code, found.stdout + found.stderr).toBe(1);
    const repaired = await runCli(['verify', '--repair', '--source', mysql.url('e2'), '--target', etcd.url('e2')], {}, 120_000);
    expect(repaired.code, repaired.stdout + repaired.stderr).toBe(0);
    const after = await runCli(['verify', '--source', mysql.url('e2'), '--target', etcd.url('e2')], {}, 120_000);
    expect(after.code, after.stdout + after.stderr).toBe(0);
    const rows = await keysUnder('/e2/t/');
    expect(rows.size).toBe(50);
    expect(rows.get('/e2/t/7')).toEqual({ id: 7, s: 's7', d: '2024-01-08' });
  }, 180_000);
});
