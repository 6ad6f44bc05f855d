/**
 * MariaDB → etcd on real servers, through the CLI (issue 13): the copy and the stream land as one
 * JSON object per row under `<prefix>/<table>/<key>`; composite and string keys; TRUNCATE; a
 * source transaction larger than --max-txn-ops; verify finds and repairs a key changed behind the
 * sync's back; a second instance is refused; connections reset, and a path to etcd that forwards
 * nothing for a while (each call fails at its ?timeout=), are written through.
 */
import { Etcd3 } from 'etcd3';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEtcd, startMariaDb, type Server } from '../../src/testing/servers.js';
import { connect, runCli, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import { startProxy } from '../helpers/proxy.js';

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

/** Waits until the objects under /<db>/r/ are table r's rows (id, n) as the source holds them now; fails with the sync's log tail. */
async function untilEqual(w: Connection, db: string, run: CliRun): Promise<void> {
  const [rows] = await w.query('SELECT id, n FROM r ORDER BY id');
  const want = new Map((rows as { id: number; n: number }[]).map((r) => [`/${db}/r/${r.id}`, JSON.stringify({ id: r.id, n: r.n })]));
  await waitUntil('etcd equal to the source', async () => {
    const got = await client.getAll().prefix(`/${db}/r/`).strings();
    return Object.keys(got).length === want.size && [...want].every(([k, v]) => got[k] === v);
  }, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${run.stderr().slice(-4000)}`, { cause: err });
  });
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
    expect(second.stderr).toContain('a killed one lets go within 10 s');
    await stop(run);
  }, 180_000);

  it('writes through a cluster URL whose other endpoint is down: the copy and the stream go to the live one', async () => {
    await src.query(`CREATE DATABASE ecluster; USE ecluster; CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20)); INSERT INTO t SELECT seq, CONCAT('s', seq) FROM seq_1_to_300;`);
    // Nothing listens on `dead`: the client's calls that pick it fail over to the live endpoint.
    const dead = await freePort();
    const url = etcd.url('ecluster').replace(`127.0.0.1:${etcd.port}`, `127.0.0.1:${dead},127.0.0.1:${etcd.port}`);
    const run = startCli(['sync', '--source', mysql.url('ecluster'), '--target', url, '--flush-interval', '100ms']);
    running.push(run);
    await waitUntil('copied', async () => (await keysUnder('/ecluster/t/')).size === 300, 60_000);
    await src.query(`USE ecluster; UPDATE t SET s = 'changed' WHERE id <= 200; DELETE FROM t WHERE id > 250;`);
    await waitUntil('streamed', async () => {
      const t = await keysUnder('/ecluster/t/');
      return t.size === 250 && t.get('/ecluster/t/200')?.s === 'changed' && t.get('/ecluster/t/201')?.s === 's201';
    }, 60_000);
    await stop(run);
  }, 120_000);

  it('writes on when its connections to etcd are reset mid-stream: the transactions reconnect, and the rows end equal to the source', async () => {
    await src.query(`CREATE DATABASE ereset; USE ereset; CREATE TABLE r (id INT PRIMARY KEY, n INT NOT NULL); INSERT INTO r SELECT seq, 0 FROM seq_1_to_300;`);
    const proxy = await startProxy(etcd.port);
    try {
      // The continuous checksum is off: what reaches etcd is the stream's doing alone.
      const run = startCli(['sync', '--source', mysql.url('ereset'), '--target', `etcd://127.0.0.1:${proxy.port}/ereset`, '--flush-interval', '50ms', '--checksum', 'off']);
      running.push(run);
      await waitUntil('copied', async () => (await client.getAll().prefix('/ereset/r/').count()) === 300, 60_000);
      const w = await connect(mysql.url('ereset'));
      let resets = 0;
      try {
        for (let round = 1; round <= 40; round++) {
          // 100 updates and an insert a transaction: each is a transaction or two in etcd.
          await w.query(`BEGIN; UPDATE r SET n = ${round} WHERE id % 3 = ${round % 3}; INSERT INTO r VALUES (${1000 + round}, ${round}); COMMIT;`);
          if (round % 4 === 0) resets += proxy.drop();
          await new Promise((resolve) => setTimeout(resolve, 30));
        }
        await untilEqual(w, 'ereset', run);
      } finally {
        await w.end();
      }
      expect(resets).toBeGreaterThan(2);
      expect(run.child.exitCode, run.stderr()).toBeNull();
      await stop(run);
    } finally {
      await proxy.close();
    }
  });

  it('writes on after etcd stops answering for a while (a partition: nothing forwarded, nothing closed): each call fails at its ?timeout= and is retried, and the rows end equal to the source', async () => {
    await src.query(`CREATE DATABASE estall; USE estall; CREATE TABLE r (id INT PRIMARY KEY, n INT NOT NULL); INSERT INTO r SELECT seq, 0 FROM seq_1_to_100;`);
    const proxy = await startProxy(etcd.port);
    try {
      const run = startCli(['sync', '--source', mysql.url('estall'), '--target', `etcd://127.0.0.1:${proxy.port}/estall?timeout=1s`, '--flush-interval', '50ms', '--checksum', 'off']);
      running.push(run);
      await waitUntil('copied', async () => (await client.getAll().prefix('/estall/r/').count()) === 100, 60_000);
      const w = await connect(mysql.url('estall'));
      try {
        await w.query('UPDATE r SET n = 1');
        await waitUntil('streamed', async () => JSON.parse((await client.get('/estall/r/100').string()) ?? '{}').n === 1, 30_000);
        proxy.blackhole();
        const t0 = performance.now();
        await w.query('UPDATE r SET n = 2 WHERE id <= 50');
        // The update's transaction fails at its 1 s deadline (each attempt), and the sync starts over
        // from its checkpoint, all while nothing gets through; without a deadline nothing would end
        // before the keepalive found the path dead (20 s).
        await waitUntil('a write failed at its deadline while etcd was out of reach', async () => /sync interrupted/.test(run.stderr()) && /DEADLINE_EXCEEDED/.test(run.stderr()), 15_000);
        expect(performance.now() - t0).toBeLessThan(15_000);
        // The next attempt meets the blackhole too, for a while.
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        proxy.restore();
        await w.query('UPDATE r SET n = 3 WHERE id > 90');
        await untilEqual(w, 'estall', run);
      } finally {
        await w.end();
      }
      expect(run.child.exitCode, run.stderr()).toBeNull();
      await stop(run);
    } finally {
      await proxy.close();
    }
  });

  it('verify finds a key changed behind the sync and --repair puts it back', async () => {
    await src.query(`CREATE DATABASE e2; USE e2; CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20), d DATE); INSERT INTO t SELECT seq, CONCAT('s', seq), '2024-01-01' + INTERVAL seq DAY FROM seq_1_to_50;`);
    const copy = await runCli(['sync', '--copy-only', '--source', mysql.url('e2'), '--target', etcd.url('e2')], {}, 120_000);
    expect(copy.code, copy.stderr).toBe(0);
    const clean = await runCli(['verify', '--source', mysql.url('e2'), '--target', etcd.url('e2')], {}, 120_000);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    await client.put('/e2/t/7').value(JSON.stringify({ id: 7, s: 'tampered', d: '2024-01-08' }));
    await client.delete().key('/e2/t/9');
    await client.put('/e2/t/999').value(JSON.stringify({ id: 999, s: 'extra', d: '2024-01-01' }));
    // Nothing writes to the source: a differing chunk need not be read again after waits (--rechecks 0).
    const found = await runCli(['verify', '--rechecks', '0', '--source', mysql.url('e2'), '--target', etcd.url('e2')], {}, 120_000);
    expect(found.code, found.stdout + found.stderr).toBe(1);
    const repaired = await runCli(['verify', '--repair', '--rechecks', '0', '--source', mysql.url('e2'), '--target', etcd.url('e2')], {}, 120_000);
    expect(repaired.code, repaired.stdout + repaired.stderr).toBe(0);
    const after = await runCli(['verify', '--source', mysql.url('e2'), '--target', etcd.url('e2')], {}, 120_000);
    expect(after.code, after.stdout + after.stderr).toBe(0);
    const rows = await keysUnder('/e2/t/');
    expect(rows.size).toBe(50);
    expect(rows.get('/e2/t/7')).toEqual({ id: 7, s: 's7', d: '2024-01-08' });
  }, 180_000);

  it('a watcher sees every source transaction that fits --max-txn-ops as one revision, never in parts', async () => {
    await src.query(`CREATE DATABASE e3; USE e3; CREATE TABLE w (id INT PRIMARY KEY, grp INT NOT NULL, n INT NOT NULL); INSERT INTO w SELECT seq, 0, 0 FROM seq_1_to_400;`);
    // The continuous checksum is off: a repair it makes (a row it read while the stream was moving)
    // rewrites a key in a revision of its own, which this test would count as a transaction in parts
    // (the likely cause of one failure seen under load, not proven). The subject here is the
    // stream's commits.
    const run = sync('e3', 'e3', ['--checksum', 'off']);
    await waitUntil('copied', async () => (await client.getAll().prefix('/e3/w/').count()) === 400, 60_000);
    // Every put a watcher sees, by the source transaction that wrote it (grp) and etcd revision.
    const revisions = new Map<number, Set<string>>();
    const watcher = await client.watch().prefix('/e3/w/').create();
    watcher.on('put', (kv) => {
      const grp = (JSON.parse(kv.value.toString()) as { grp: number }).grp;
      if (!revisions.has(grp)) revisions.set(grp, new Set());
      revisions.get(grp)?.add(kv.mod_revision);
    });
    const w = await connect(mysql.url('e3'));
    const sizes = new Map<number, number>();
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let txn = 1; txn <= 150; txn++) {
      // 1 to 127 rows (the default --max-txn-ops less the checkpoint's put), a few over it.
      const size = txn % 30 === 0 ? 200 : 1 + Math.floor(rand() * 127);
      const ids = new Set<number>();
      while (ids.size < size) ids.add(1 + Math.floor(rand() * 400));
      sizes.set(txn, size);
      await w.query(`UPDATE w SET grp = ${txn}, n = n + 1 WHERE id IN (${[...ids].join(',')})`);
    }
    await w.end();
    await waitUntil('all seen', () => revisions.has(150), 60_000);
    await waitUntil('settled', async () => {
      const all = await client.getAll().prefix('/e3/w/').strings();
      const [rows] = await src.query('SELECT id, grp, n FROM e3.w');
      return (rows as { id: number; grp: number; n: number }[]).every((r) => all[`/e3/w/${r.id}`] === JSON.stringify({ id: r.id, grp: r.grp, n: r.n }));
    }, 60_000);
    await watcher.cancel();
    const split = [...revisions].filter(([grp, revs]) => (sizes.get(grp) ?? 0) <= 127 && revs.size > 1).map(([grp, revs]) => `${grp}:${revs.size}`);
    expect(split).toEqual([]);
    // A transaction over the limit is written in parts: the watcher sees it so (docs/etcd.md).
    expect(revisions.get(30)?.size).toBeGreaterThan(1);
    await stop(run);
  }, 180_000);

  it('resumes after kill -9 during the copy and during the stream under writes, losing and doubling nothing', async () => {
    await src.query(`CREATE DATABASE e4; USE e4; CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(40), n BIGINT); INSERT INTO t SELECT seq, CONCAT('v', seq), 0 FROM seq_1_to_20000;`);
    const w = await connect(mysql.url('e4'));
    let writing = true;
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const writes = (async () => {
      while (writing) {
        const id = 1 + Math.floor(rand() * 21000);
        const r = rand();
        if (r < 0.6) await w.query(`INSERT INTO t VALUES (${id}, 'w', 1) ON DUPLICATE KEY UPDATE v = CONCAT('u', n + 1), n = n + 1`);
        else if (r < 0.8) await w.query(`DELETE FROM t WHERE id = ${id}`);
        else await w.query(`BEGIN; UPDATE t SET n = n + 1 WHERE id BETWEEN ${id} AND ${id + 50}; COMMIT`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    // A lock lease of 2 s (--lock-ttl): each restart after a kill waits that long at most, not 10 s.
    const ttl = ['--lock-ttl', '2s'];
    const args = ['--copy-rate-limit', '4000', '--threads', '2', '--chunk-size', '500', ...ttl];
    const first = sync('e4', 'e4', args);
    await waitUntil('copy under way', async () => (await client.getAll().prefix('/e4/t/').count()) > 3000, 60_000);
    first.child.kill('SIGKILL');
    await first.exited;
    // The killed holder's lease runs out (2 s) before the next instance can take the lock.
    const second = sync('e4', 'e4', ttl);
    await waitUntil('streaming', () => /copy done|streaming|caught up/i.test(second.stderr() + second.stdout()), 90_000);
    const lockKey = Object.keys(await client.getAll().prefix('/e4/%tributary/').strings()).find((k) => k.endsWith('/lock'));
    const lockKv = (await client.kv.range({ key: Buffer.from(lockKey ?? '') })).kvs[0];
    expect(Number((await client.leaseClient.leaseTimeToLive({ ID: lockKv?.lease ?? '0' })).grantedTTL)).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    second.child.kill('SIGKILL');
    await second.exited;
    const third = sync('e4', 'e4', ttl);
    let lastDiff = '';
    await new Promise((resolve) => setTimeout(resolve, 3000));
    writing = false;
    await writes;
    await w.end();
    await waitUntil('converged', async () => {
      if (third.child.exitCode !== null) throw new Error(`the third run exited: ${third.stderr().slice(-3000)}`);
      const all = await client.getAll().prefix('/e4/t/').strings();
      const [rows] = await src.query('SELECT id, v, n FROM e4.t');
      const list = rows as { id: number; v: string; n: number }[];
      const wrong = list.filter((r) => all[`/e4/t/${r.id}`] !== JSON.stringify({ id: r.id, v: r.v, n: Number(r.n) }));
      lastDiff = `${list.length} rows, ${Object.keys(all).length} keys; differ: ${wrong.slice(0, 5).map((r) => `${r.id}: ${JSON.stringify(r)} vs ${all[`/e4/t/${r.id}`]}`).join('; ')}`;
      return list.length === Object.keys(all).length && wrong.length === 0;
    }, 90_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${lastDiff}\n${third.stderr().slice(-2000)}`);
    });
    await stop(third);
    const v = await runCli(['verify', '--source', mysql.url('e4'), '--target', etcd.url('e4')], {}, 120_000);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  }, 300_000);

  it('follows schema changes: a column renamed and one dropped rewrite the objects, one added with a default copies the table again, a table renamed moves its keys, one dropped deletes them', async () => {
    await src.query(`CREATE DATABASE e5; USE e5; CREATE TABLE a (id INT PRIMARY KEY, old_name VARCHAR(10), gone INT, keep INT); CREATE TABLE b (id INT PRIMARY KEY, v INT);
      INSERT INTO a SELECT seq, CONCAT('n', seq), seq, seq * 10 FROM seq_1_to_300; INSERT INTO b VALUES (1, 1), (2, 2);`);
    const run = sync('e5', 'e5');
    await waitUntil('copied', async () => (await client.getAll().prefix('/e5/a/').count()) === 300 && (await client.getAll().prefix('/e5/b/').count()) === 2, 60_000);
    await src.query(`USE e5; ALTER TABLE a RENAME COLUMN old_name TO name, DROP COLUMN gone, ADD COLUMN extra INT DEFAULT 5; INSERT INTO a (id, name, keep) VALUES (301, 'new', 1);`);
    await waitUntil('rewritten', async () => (await client.get('/e5/a/301').string()) !== null, 60_000);
    expect(JSON.parse((await client.get('/e5/a/301').string()) as string)).toEqual({ id: 301, name: 'new', keep: 1, extra: 5 });
    // The added column's default is the source's to give: the table is read again from it.
    await waitUntil('copied again with the default', async () => [...(await keysUnder('/e5/a/')).values()].every((o) => o.extra === 5), 60_000);
    expect(JSON.parse((await client.get('/e5/a/7').string()) as string)).toEqual({ id: 7, name: 'n7', keep: 70, extra: 5 });
    expect(run.stderr()).toContain('copying the table again from the start while streaming');
    await src.query('USE e5; RENAME TABLE a TO a2; DROP TABLE b;');
    await waitUntil('moved', async () => (await client.getAll().prefix('/e5/a2/').count()) === 301 && (await client.getAll().prefix('/e5/a/').count()) === 0 && (await client.getAll().prefix('/e5/b/').count()) === 0, 60_000);
    await src.query(`USE e5; UPDATE a2 SET name = 'after' WHERE id = 1;`);
    await waitUntil('streams into the new name', async () => JSON.parse((await client.get('/e5/a2/1').string()) ?? '{}').name === 'after', 60_000);
    await stop(run);
  }, 180_000);

  it('follows key and type changes under writes: a nullable column added in place, the key moved to another column, a column narrowed, a new auto-increment key copied afresh; verify is clean', async () => {
    await src.query(`CREATE DATABASE e9; USE e9; CREATE TABLE t (id INT PRIMARY KEY, code VARCHAR(10) NOT NULL, n INT, UNIQUE KEY (code));
      INSERT INTO t SELECT seq, CONCAT('c', seq), seq FROM seq_1_to_400;`);
    const run = sync('e9', 'e9');
    await waitUntil('copied', async () => (await client.getAll().prefix('/e9/t/').count()) === 400, 60_000);
    await src.query('USE e9; ALTER TABLE t ADD COLUMN note VARCHAR(10);');
    await waitUntil('null member added in place', async () => Object.values(await client.getAll().prefix('/e9/t/').strings()).every((v) => v.endsWith(',"note":null}')), 60_000);
    expect(run.stderr()).not.toContain('copying the table again');

    // The key moves to `code`: every object goes to the key its members give, in place.
    await src.query(`USE e9; ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (code); UPDATE t SET n = -1, note = 'moved' WHERE code = 'c7'; INSERT INTO t VALUES (401, 'c401', 1, NULL);`);
    await waitUntil('re-keyed', async () => {
      const keys = Object.keys(await client.getAll().prefix('/e9/t/').strings());
      return keys.length === 401 && keys.every((k) => k.startsWith('/e9/t/c'));
    }, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${run.stderr().slice(-3000)}`);
    });
    await waitUntil('streamed after the move', async () => JSON.parse((await client.get('/e9/t/c7').string()) ?? '{}').note === 'moved', 60_000);
    expect(JSON.parse((await client.get('/e9/t/c7').string()) as string)).toEqual({ id: 7, code: 'c7', n: -1, note: 'moved' });

    // A narrowing MODIFY and a new AUTO_INCREMENT key: the source's values are read again while it takes writes.
    await src.query('USE e9; ALTER TABLE t MODIFY n SMALLINT; UPDATE t SET n = n + 1000 WHERE id <= 50;');
    await src.query('USE e9; ALTER TABLE t DROP PRIMARY KEY, ADD COLUMN seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY; DELETE FROM t WHERE id BETWEEN 100 AND 109; UPDATE t SET note = CONCAT(\'s\', seq) WHERE id > 390;');
    let lastDiff = '';
    await waitUntil('copied afresh under the new keys', async () => {
      const all = await client.getAll().prefix('/e9/t/').strings();
      const [rows] = await src.query('SELECT id, code, n, note, seq FROM e9.t');
      const list = rows as { id: number; code: string; n: number; note: string | null; seq: number | string }[];
      const wrong = list.filter((r) => all[`/e9/t/${r.seq}`] !== JSON.stringify({ id: r.id, code: r.code, n: r.n, note: r.note, seq: Number(r.seq) }));
      lastDiff = `${list.length} rows, ${Object.keys(all).length} keys; differ: ${wrong.slice(0, 3).map((r) => `${r.seq}: ${all[`/e9/t/${r.seq}`]}`).join('; ')}`;
      return list.length === 391 && Object.keys(all).length === 391 && wrong.length === 0;
    }, 90_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${lastDiff}\n${run.stderr().slice(-3000)}`);
    });
    await stop(run);
    const v = await runCli(['verify', '--source', mysql.url('e9'), '--target', etcd.url('e9')], {}, 120_000);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  }, 240_000);

  it('moves the key onto a column added with a default while the table is copied again: objects written before the ADD COLUMN lack it, so the table is read again from the source', async () => {
    await src.query(`CREATE DATABASE e13; USE e13; CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t SELECT seq, seq FROM seq_1_to_3000;`);
    // A slow copy: the copy again that the ADD COLUMN starts is still under way when the key changes.
    const run = sync('e13', 'e13', ['--copy-rate-limit', '1000']);
    await waitUntil('copied', async () => (await client.getAll().prefix('/e13/t/').count()) === 3000, 60_000);
    await src.query('USE e13; ALTER TABLE t ADD COLUMN c INT NOT NULL DEFAULT 7;');
    await waitUntil('copying again', async () => run.stderr().includes('copying the table again'), 30_000);
    await src.query('USE e13; ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (id, c); UPDATE t SET c = 8, v = -v WHERE id <= 10;');
    let lastDiff = '';
    await waitUntil('re-keyed on (id, c)', async () => {
      const all = await client.getAll().prefix('/e13/t/').strings();
      const [rows] = await src.query('SELECT id, v, c FROM e13.t');
      const list = rows as { id: number; v: number; c: number }[];
      const wrong = list.filter((r) => all[`/e13/t/${r.id}/${r.c}`] !== JSON.stringify({ id: r.id, v: r.v, c: r.c }));
      lastDiff = `${list.length} rows, ${Object.keys(all).length} keys; differ: ${wrong.slice(0, 3).map((r) => `${r.id}/${r.c}: ${all[`/e13/t/${r.id}/${r.c}`]}`).join('; ')}`;
      return run.child.exitCode !== null || (Object.keys(all).length === 3000 && wrong.length === 0);
    }, 90_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${lastDiff}\n${run.stderr().slice(-3000)}`);
    });
    expect(run.child.exitCode, run.stderr().slice(-3000)).toBeNull();
    expect(lastDiff).toMatch(/^3000 rows, 3000 keys; differ: $/);
    await stop(run);
    const v = await runCli(['verify', '--source', mysql.url('e13'), '--target', etcd.url('e13'), '--rechecks', '0'], {}, 120_000);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  }, 240_000);

  it('the continuous checksum finds a key changed, deleted or added behind the sync in etcd and repairs it', async () => {
    await src.query(`CREATE DATABASE e6; USE e6; CREATE TABLE t (id VARCHAR(20) PRIMARY KEY, n INT); INSERT INTO t SELECT CONCAT('k', seq), seq FROM seq_1_to_500;`);
    const run = sync('e6', 'e6', ['--checksum-interval', '500ms']);
    await waitUntil('copied', async () => (await client.getAll().prefix('/e6/t/').count()) === 500, 60_000);
    await client.put('/e6/t/k7').value(JSON.stringify({ id: 'k7', n: -1 }));
    await client.delete().key('/e6/t/k9');
    await client.put('/e6/t/zzz').value(JSON.stringify({ id: 'zzz', n: 0 }));
    await waitUntil('repaired', async () => {
      const all = await client.getAll().prefix('/e6/t/').strings();
      return all['/e6/t/k7'] === '{"id":"k7","n":7}' && all['/e6/t/k9'] === '{"id":"k9","n":9}' && all['/e6/t/zzz'] === undefined;
    }, 60_000);
    await stop(run);
  }, 120_000);

  it("writes contrail's layout under --etcd-layout contrail, and verify reads it back with the same option", async () => {
    await src.query(`CREATE DATABASE e7; USE e7; CREATE TABLE virtual_network (uuid CHAR(36) PRIMARY KEY, display_name VARCHAR(40));
      INSERT INTO virtual_network VALUES ('8c0e3e1a-0000-4000-8000-000000000001', 'vn-blue'), ('8c0e3e1a-0000-4000-8000-000000000002', 'vn-red');`);
    const run = sync('e7', 'contrail', ['--etcd-layout', 'contrail']);
    await waitUntil('copied', async () => (await client.getAll().prefix('/contrail/virtual-network/').count()) === 2, 60_000);
    await src.query(`USE e7; UPDATE virtual_network SET display_name = 'vn-green' WHERE uuid LIKE '%1';`);
    await waitUntil('streamed', async () => (await client.get('/contrail/virtual-network/8c0e3e1a-0000-4000-8000-000000000001').string()) === '{"uuid":"8c0e3e1a-0000-4000-8000-000000000001","display_name":"vn-green"}', 60_000);
    await stop(run);
    const v = await runCli(['verify', '--etcd-layout', 'contrail', '--source', mysql.url('e7'), '--target', etcd.url('contrail')], {}, 60_000);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    // The sync's layout is kept beside its checkpoint: another one is refused, naming the one to give.
    const wrong = await runCli(['verify', '--source', mysql.url('e7'), '--target', etcd.url('contrail')], {}, 60_000);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr + wrong.stdout).toContain('with --etcd-layout contrail, and this run has --etcd-layout tributary; give --etcd-layout contrail');
  }, 120_000);

  it("applies the cascades MariaDB runs and does not log, and refuses a row larger than one etcd request by name", async () => {
    await src.query(`CREATE DATABASE e8; USE e8; CREATE TABLE p (id INT PRIMARY KEY, code INT UNIQUE);
      CREATE TABLE c (id INT PRIMARY KEY, pcode INT, FOREIGN KEY (pcode) REFERENCES p (code) ON DELETE CASCADE ON UPDATE CASCADE);
      INSERT INTO p VALUES (1, 10), (2, 20); INSERT INTO c VALUES (1, 10), (2, 10), (3, 20);`);
    // A long flush interval keeps the 126 filler rows below pending when the next transaction comes.
    const run = sync('e8', 'e8', ['--flush-interval', '3s']);
    await waitUntil('copied', async () => (await client.getAll().prefix('/e8/c/').count()) === 3, 60_000);
    await src.query('USE e8; UPDATE p SET code = 11 WHERE id = 1; DELETE FROM p WHERE id = 2;');
    await waitUntil('cascaded', async () => {
      const all = await client.getAll().prefix('/e8/c/').strings();
      return Object.keys(all).length === 2 && all['/e8/c/1'] === '{"id":1,"pcode":11}' && all['/e8/c/2'] === '{"id":2,"pcode":11}';
    }, 60_000);
    // A transaction that does not fit beside the batch before it: its cascade is applied after its
    // own changes (a child inserted, then deleted with its parent), not with the batch before it.
    await src.query(`USE e8; CREATE TABLE filler (id INT PRIMARY KEY); INSERT INTO p VALUES (3, 30); INSERT INTO c VALUES (5, 30);`);
    await waitUntil('child 5', async () => (await client.get('/e8/c/5').string()) !== null, 60_000);
    await src.query(`USE e8; INSERT INTO filler SELECT seq FROM seq_1_to_126; BEGIN; INSERT INTO c VALUES (6, 30); INSERT INTO filler VALUES (1000); DELETE FROM p WHERE id = 3; COMMIT;`);
    await waitUntil('filler', async () => (await client.getAll().prefix('/e8/filler/').count()) === 127, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect([await client.get('/e8/c/5').string(), await client.get('/e8/c/6').string()]).toEqual([null, null]);
    await src.query(`USE e8; CREATE TABLE big (id INT PRIMARY KEY, doc LONGTEXT); INSERT INTO big VALUES (1, REPEAT('x', 2000000));`);
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toMatch(/TRIB_TARGET_WRITE_FAILED.*the row of key \/e8\/big\/1 is 2000\d+ bytes as JSON, more than one etcd request holds/);
  }, 120_000);
});
