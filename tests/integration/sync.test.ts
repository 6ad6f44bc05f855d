/**
 * The sync's core promises on real MariaDB servers: copy and stream converge under concurrent
 * writes; kill -9 during the copy and during streaming loses and doubles nothing and resumes the
 * copy; a 100k-row transaction applies with bounded memory; a purged binlog is a clear refusal.
 */
import { readFileSync } from 'node:fs';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, diffTables, startCli, startPair, waitEqual, waitUntil, type CliRun, type Pair } from '../helpers/mysql.js';
import { createWriterTable, startWriter } from '../helpers/workload.js';

let pair: Pair;
const running: CliRun[] = [];

function sync(src: string, dst: string, extra: string[] = []): CliRun {
  const run = startCli(['sync', '--source', pair.srcUrl(src), '--target', pair.dstUrl(dst), '--flush-interval', '200ms', ...extra]);
  running.push(run);
  return run;
}

async function stopCli(run: CliRun): Promise<number> {
  run.child.kill('SIGINT');
  const code = await run.exited;
  // What a failed stop left is only in the process's own words.
  if (code !== 0) console.log(`tributary exited ${code} on SIGINT; the end of its stderr:\n${run.stderr().slice(-3000)}`);
  return code;
}

/**
 * Inserts marker row `id` (beyond every id the writer uses) into `db`.items on the source and
 * resolves once the target holds it: the sync `run` streams changes made now, after everything
 * committed before (helpers/engines.ts markerStreamed, for these MariaDB connections).
 */
async function markerStreamed(db: string, id: number, run: CliRun): Promise<void> {
  await pair.src.query(`INSERT INTO \`${db}\`.items (id, k, v) VALUES (?, 'marker', 0)`, [id]);
  const arrived = async () => Number((await pair.dst.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${db}\`.items WHERE id = ?`, [id]))[0][0]?.n) === 1;
  await waitUntil(`marker row ${id} streamed to the target`, async () => (await arrived().catch(() => false)) || run.child.exitCode !== null, 60_000, 50);
  if (!(await arrived())) throw new Error(`the sync exited (code ${run.child.exitCode}) before marker row ${id} reached the target\n${run.stderr().slice(-3000)}`);
}

async function checkpointRows(db: string): Promise<Map<string, Record<string, unknown>>> {
  const [rows] = await pair.dst.query<RowDataPacket[]>(`SELECT name, body FROM \`${db}\`._tributary_checkpoint`);
  return new Map(rows.map((r) => [String(r.name), JSON.parse(String(r.body)) as Record<string, unknown>]));
}

function peakRssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : 0;
}

beforeAll(async () => {
  pair = await startPair();
});

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await pair?.stop();
});

describe('sync MariaDB → MariaDB', () => {
  it('converges with inserts, updates, deletes and key updates running before, during and after the copy', async () => {
    await createWriterTable(pair.src, 'conv', 'items', 60_000);
    await pair.dst.query('CREATE DATABASE conv');
    const writer = await startWriter({ url: pair.srcUrl('conv'), table: 'items', maxId: 78_000 });
    await waitUntil('writes before the sync starts', () => writer.ops() >= 30, 30_000, 20);
    const run = sync('conv', 'conv', ['--threads', '4', '--chunk-size', '2000', '--chunk-time', '100ms']);
    await waitUntil('the copy to finish', () => run.stderr().includes('initial copy done'), 120_000);
    const opsAtCopyEnd = writer.ops();
    // Writes after the copy, until the stream has caught up with them.
    await markerStreamed('conv', 1e9 + 1, run);
    await writer.stop();
    expect(opsAtCopyEnd).toBeGreaterThan(100);
    await waitEqual(pair, 'conv', 'conv', 'items', 60_000);
    expect(await stopCli(run)).toBe(0);
  });

  it('resumes after kill -9 during the copy and during streaming, losing and doubling nothing', async () => {
    await createWriterTable(pair.src, 'crash', 'items', 60_000);
    await pair.dst.query('CREATE DATABASE crash');
    const writer = await startWriter({ url: pair.srcUrl('crash'), table: 'items', maxId: 66_000, connections: 2 });
    const copyArgs = ['--threads', '1', '--chunk-size', '1000', '--chunk-time', '20ms'];

    // kill -9 in the middle of the copy, once a few chunks are checkpointed
    const first = sync('crash', 'crash', copyArgs);
    await waitUntil('copy progress in the checkpoint', async () => {
      const cp = await checkpointRows('crash').catch(() => new Map<string, Record<string, unknown>>());
      return Number(cp.get('t:items')?.rowsCopied ?? 0) >= 20_000;
    }, 60_000, 50);
    first.child.kill('SIGKILL');
    await first.exited;
    const before = Number((await checkpointRows('crash')).get('t:items')?.rowsCopied);
    expect(before).toBeLessThan(60_000);

    // restart: the copy resumes from its watermark instead of starting over (in chunks of the usual
    // size: only the killed run had to be slow)
    const second = sync('crash', 'crash', ['--threads', '2', '--chunk-size', '2000']);
    await waitUntil('the resumed copy to finish', () => second.stderr().includes('initial copy done'), 120_000);
    expect(second.stderr()).toContain('resuming copy after the last checkpointed chunk');
    expect(second.stderr()).not.toContain('starting a new sync');

    // kill -9 while streaming under writes, once it applied a change made after its copy
    await markerStreamed('crash', 1e9 + 1, second);
    second.child.kill('SIGKILL');
    await second.exited;
    // Writes while no sync runs.
    const opsAtKill = writer.ops();
    await waitUntil('writes while the sync is down', () => writer.ops() >= opsAtKill + 150, 30_000, 20);

    const third = sync('crash', 'crash');
    await waitUntil('the stream to resume', () => third.stderr().includes('resuming from checkpoint'), 60_000);
    await markerStreamed('crash', 1e9 + 2, third);
    await writer.stop();
    await waitEqual(pair, 'crash', 'crash', 'items', 60_000);
    // Equal by the copy and the stream: not by the continuous checksum repairing a loss.
    expect(third.stderr()).not.toContain('repaired what differed');
    expect(await stopCli(third)).toBe(0);
    const cp = await checkpointRows('crash');
    expect(cp.get('')?.phase).toBe('stream');
    expect(cp.get('t:items')?.done).toBe(true);
  });

  it('applies a 100k-row transaction atomically with bounded memory', async () => {
    await pair.src.query('CREATE DATABASE big; CREATE TABLE big.t (id INT PRIMARY KEY, a VARCHAR(100), b BIGINT)');
    await pair.dst.query('CREATE DATABASE big');
    const run = sync('big', 'big', ['--buffer-mb', '16']);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done'), 60_000);
    await pair.src.query("BEGIN; INSERT INTO big.t SELECT seq, REPEAT('a', 100), seq * 1000 FROM big.seq_1_to_100000; COMMIT");
    await waitEqual(pair, 'big', 'big', 't', 120_000);
    await pair.src.query("BEGIN; UPDATE big.t SET a = REPEAT('b', 100), b = b + 1; DELETE FROM big.t WHERE id % 3 = 0; COMMIT");
    await waitEqual(pair, 'big', 'big', 't', 120_000);
    const rss = peakRssMb(run.child.pid);
    expect(rss).toBeGreaterThan(0);
    expect(rss).toBeLessThan(400);
    expect(await stopCli(run)).toBe(0);
  });

  it('refuses, naming the position, when the checkpoint binlog was purged while stopped, and writes nothing', async () => {
    await pair.src.query('CREATE DATABASE purged; CREATE TABLE purged.t (id INT PRIMARY KEY, v INT); INSERT INTO purged.t SELECT seq, seq FROM purged.seq_1_to_1000');
    await pair.dst.query('CREATE DATABASE purged');
    const run = sync('purged', 'purged');
    await waitUntil('the copy', () => run.stderr().includes('initial copy done'), 60_000);
    expect(await stopCli(run)).toBe(0);
    await pair.src.query('INSERT INTO purged.t VALUES (5000, 1); FLUSH BINARY LOGS');
    const [[master]] = await pair.src.query<RowDataPacket[]>('SHOW MASTER STATUS');
    await waitUntil('the purge', async () => {
      await pair.src.query(`PURGE BINARY LOGS TO '${String(master?.File)}'`);
      const [logs] = await pair.src.query<RowDataPacket[]>('SHOW BINARY LOGS');
      return logs.length === 1;
    }, 10_000, 500);
    const cpBefore = await checkpointRows('purged');
    const again = sync('purged', 'purged');
    const code = await again.exited;
    expect(code).not.toBe(0);
    expect(again.stderr()).toContain('TRIB_POSITION_LOST');
    expect(again.stderr()).toMatch(/binlog\.0000\d\d/);
    expect(await checkpointRows('purged')).toEqual(cpBefore);
    const [[count]] = await pair.dst.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM purged.t');
    expect(Number(count?.n)).toBe(1000);
    expect(await diffTables(pair, 'purged', 'purged', 't')).not.toBe('');
  });

  it('refuses a checkpoint taken from another source server, naming both', async () => {
    const { startMariaDb } = await import('../../src/testing/servers.js');
    const other = await startMariaDb({ serverId: 77 });
    try {
      for (const url of [pair.srcUrl(''), other.url('')]) {
        const { connect } = await import('../helpers/mysql.js');
        const c = await connect(url);
        await c.query('CREATE DATABASE ident; CREATE TABLE ident.t (id INT PRIMARY KEY); INSERT INTO ident.t VALUES (1), (2)');
        await c.end();
      }
      await pair.dst.query('CREATE DATABASE ident');
      const first = startCli(['sync', '--id', 'ident', '--source', pair.srcUrl('ident'), '--target', pair.dstUrl('ident'), '--copy-only']);
      expect(await first.exited).toBe(0);
      const second = startCli(['sync', '--id', 'ident', '--source', other.url('ident'), '--target', pair.dstUrl('ident')]);
      expect(await second.exited).not.toBe(0);
      // In GTID mode the lineage decides (failover.test.ts): the other server never had this one's
      // transactions, so it is behind the checkpoint, named with both identities.
      expect(second.stderr()).toContain('TRIB_SOURCE_BEHIND');
      expect(second.stderr()).toContain('server_id=1');
      expect(second.stderr()).toContain('server_id=77');
    } finally {
      await other.stop();
    }
  });

  it('keeps secondary unique keys consistent when a value moves between rows inside one batch', async () => {
    await pair.src.query(`CREATE DATABASE uniq; CREATE TABLE uniq.users (id INT PRIMARY KEY, email VARCHAR(50) NOT NULL, v INT NOT NULL, UNIQUE KEY (email));
      INSERT INTO uniq.users VALUES (1, 'x', 0), (2, 'y', 0), (3, 'z', 0)`);
    await pair.dst.query('CREATE DATABASE uniq');
    const run = sync('uniq', 'uniq', ['--flush-interval', '2s']);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done'), 60_000);
    // Within one flush interval: 1 gives up 'x', 2 takes it, then 1 changes again (so 1's last change
    // comes after 2's in the batch); 3 and 2 swap through a temporary value.
    await pair.src.query(`UPDATE uniq.users SET email = 't' WHERE id = 1;
      UPDATE uniq.users SET email = 'x' WHERE id = 2;
      UPDATE uniq.users SET v = v + 1 WHERE id = 1;
      UPDATE uniq.users SET email = 'tmp' WHERE id = 3;
      UPDATE uniq.users SET email = 'z2' WHERE id = 1;
      UPDATE uniq.users SET email = 'z' WHERE id = 1;
      UPDATE uniq.users SET email = 'q' WHERE id = 3;
      INSERT INTO uniq.users VALUES (4, 'y', 9);`);
    await waitEqual(pair, 'uniq', 'uniq', 'users', 30_000);
    expect(await stopCli(run)).toBe(0);
  });

  it('rides out a source restart while streaming: reconnects with backoff and resumes from the checkpoint', async () => {
    const { startMariaDb } = await import('../../src/testing/servers.js');
    const { connect } = await import('../helpers/mysql.js');
    const src = await startMariaDb({ serverId: 5 });
    let restarted: Awaited<ReturnType<typeof startMariaDb>> | undefined;
    try {
      const c = await connect(src.url());
      await c.query('CREATE DATABASE rs; CREATE TABLE rs.t (id INT PRIMARY KEY, v INT); INSERT INTO rs.t SELECT seq, seq FROM rs.seq_1_to_1000');
      await c.end();
      await pair.dst.query('CREATE DATABASE rs');
      const run = startCli(['sync', '--source', src.url('rs'), '--target', pair.dstUrl('rs'), '--flush-interval', '100ms']);
      running.push(run);
      await waitUntil('the copy', () => run.stderr().includes('initial copy done'), 60_000);
      src.kill();
      await new Promise((r) => setTimeout(r, 2000));
      restarted = await startMariaDb({ serverId: 5, dir: src.dir, port: src.port });
      const c2 = await connect(restarted.url());
      await c2.query('INSERT INTO rs.t VALUES (5000, 1); UPDATE rs.t SET v = 0 WHERE id <= 10; DELETE FROM rs.t WHERE id = 20');
      await waitUntil('the change after the restart', async () => {
        const [rows] = await pair.dst.query<RowDataPacket[]>('SELECT COUNT(*) AS n, SUM(v = 0) AS z FROM rs.t');
        return Number(rows[0]?.n) === 1000 && Number(rows[0]?.z) === 10;
      }, 90_000, 500).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n--- tributary stderr ---\n${run.stderr().slice(-4000)}`, { cause: err });
      });
      await c2.end();
      expect(run.stderr()).toContain('sync interrupted; resuming from the checkpoint');
      expect(await stopCli(run)).toBe(0);
    } finally {
      await (restarted ?? src).stop();
    }
  });

  it('first signal drains and checkpoints (exit 0, copy resumes later); a second signal exits at once', async () => {
    await createWriterTable(pair.src, 'sig', 'items', 150_000);
    await pair.dst.query('CREATE DATABASE sig');
    const args = ['--threads', '2', '--chunk-size', '1000', '--chunk-time', '20ms'];
    const first = sync('sig', 'sig', args);
    await waitUntil('copy progress', async () => {
      const cp = await checkpointRows('sig').catch(() => new Map<string, Record<string, unknown>>());
      return Number(cp.get('t:items')?.rowsCopied ?? 0) > 5000;
    }, 60_000, 50);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.stderr()).toContain('stopping: finishing work in flight');
    const cp = (await checkpointRows('sig')).get('t:items');
    expect(cp?.done).toBe(false);
    const [[count]] = await pair.dst.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM sig.items');
    expect(Number(count?.n)).toBeGreaterThanOrEqual(Number(cp?.rowsCopied));

    // The target table is locked, so the resumed copy's first chunk write waits on it: the drain
    // after the first signal then has work in flight that cannot finish, and the second signal
    // must cut it short. (Without the lock, a drain that ends between the two signals exits 0.)
    const locker = await connect(pair.dstUrl('sig'));
    await locker.query('LOCK TABLES items WRITE');
    try {
      const second = sync('sig', 'sig', ['--threads', '1', '--chunk-size', '140000', '--chunk-time', '60s']);
      await waitUntil('the resumed copy', () => second.stderr().includes('resuming copy'), 60_000);
      await waitUntil('a chunk write waiting for the lock', async () => {
        const [rows] = await pair.dst.query<RowDataPacket[]>("SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE '%items%' AND STATE LIKE '%lock%'");
        return rows.length > 0;
      }, 60_000, 20);
      second.child.kill('SIGINT');
      await waitUntil('the drain', () => second.stderr().includes('stopping: finishing work in flight'), 10_000, 20);
      second.child.kill('SIGINT');
      expect(await second.exited).toBe(130);
    } finally {
      await locker.query('UNLOCK TABLES');
      await locker.end();
    }

    const third = sync('sig', 'sig');
    await waitUntil('the copy', () => third.stderr().includes('initial copy done'), 120_000);
    await waitEqual(pair, 'sig', 'sig', 'items', 60_000);
    expect(await stopCli(third)).toBe(0);
  });

  it('resumes by binlog file and position with --position-mode file', async () => {
    await pair.src.query('CREATE DATABASE fpos; CREATE TABLE fpos.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO fpos.t SELECT seq, seq FROM fpos.seq_1_to_500');
    await pair.dst.query('CREATE DATABASE fpos');
    const run = sync('fpos', 'fpos', ['--position-mode', 'file']);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done'), 60_000);
    await pair.src.query("UPDATE fpos.t SET v = 'a' WHERE id < 50");
    await waitEqual(pair, 'fpos', 'fpos', 't');
    expect(await stopCli(run)).toBe(0);
    const pos = JSON.parse(String((await checkpointRows('fpos')).get('')?.position)) as Record<string, unknown>;
    expect(pos.file).toMatch(/^binlog\.\d+$/);
    expect(pos.gtid).toBeUndefined();
    await pair.src.query("FLUSH BINARY LOGS; UPDATE fpos.t SET v = 'b' WHERE id > 450; DELETE FROM fpos.t WHERE id = 1");
    const again = sync('fpos', 'fpos', ['--position-mode', 'file']);
    await waitEqual(pair, 'fpos', 'fpos', 't');
    expect(await stopCli(again)).toBe(0);
  });

  it('applies TRUNCATE in stream order with the changes around it', async () => {
    await pair.src.query('CREATE DATABASE trunc; CREATE TABLE trunc.t (id INT PRIMARY KEY, v INT); INSERT INTO trunc.t SELECT seq, seq FROM trunc.seq_1_to_2000');
    await pair.dst.query('CREATE DATABASE trunc');
    const run = sync('trunc', 'trunc', ['--flush-interval', '1s']);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done'), 60_000);
    await pair.src.query('UPDATE trunc.t SET v = 0 WHERE id < 10; TRUNCATE TABLE trunc.t; INSERT INTO trunc.t VALUES (1, 1), (7, 7); USE trunc; TRUNCATE t; INSERT INTO t VALUES (3, 3)');
    await waitEqual(pair, 'trunc', 'trunc', 't');
    const [[count]] = await pair.dst.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM trunc.t');
    expect(Number(count?.n)).toBe(1);
    expect(await stopCli(run)).toBe(0);
  });

  it('keeps keys exact: case-only and trailing-space key changes, and keys JavaScript would fold together', async () => {
    await pair.src.query(`CREATE DATABASE ckeys; CREATE TABLE ckeys.t (k VARCHAR(20) NOT NULL PRIMARY KEY, v INT) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
      INSERT INTO ckeys.t VALUES ('abc', 1), ('pad', 2)`);
    await pair.dst.query('CREATE DATABASE ckeys');
    const run = sync('ckeys', 'ckeys', ['--flush-interval', '1s']);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done'), 60_000);
    await pair.src.query(`BEGIN; INSERT INTO ckeys.t VALUES ('k', 3), ('\u212a', 4); UPDATE ckeys.t SET k = 'ABC' WHERE k = 'abc'; UPDATE ckeys.t SET k = 'pad ' WHERE k = 'pad'; COMMIT`);
    await waitEqual(pair, 'ckeys', 'ckeys', 't');
    expect(await stopCli(run)).toBe(0);
  });

  it('follows two-phase XA transactions on a synced table: a rolled-back one is not applied, a committed one is; XA elsewhere is fine', async () => {
    await pair.src.query('CREATE DATABASE xa; CREATE TABLE xa.t (id INT PRIMARY KEY, v INT); INSERT INTO xa.t VALUES (1, 1); CREATE DATABASE xa_other; CREATE TABLE xa_other.t (id INT PRIMARY KEY)');
    await pair.dst.query('CREATE DATABASE xa');
    const run = sync('xa', 'xa');
    await waitUntil('the copy', () => run.stderr().includes('initial copy done'), 60_000);
    await pair.src.query("XA START 'other'; INSERT INTO xa_other.t VALUES (1); XA END 'other'; XA PREPARE 'other'; XA COMMIT 'other'");
    await pair.src.query('UPDATE xa.t SET v = 2 WHERE id = 1');
    await waitEqual(pair, 'xa', 'xa', 't');
    await pair.src.query("XA START 'x1'; INSERT INTO xa.t VALUES (2, 2); UPDATE xa.t SET v = 99 WHERE id = 1; XA END 'x1'; XA PREPARE 'x1'; XA ROLLBACK 'x1'");
    await pair.src.query("XA START 'x2'; INSERT INTO xa.t VALUES (3, 3); UPDATE xa.t SET v = 7 WHERE id = 1; XA END 'x2'; XA PREPARE 'x2'; XA COMMIT 'x2'");
    await waitEqual(pair, 'xa', 'xa', 't');
    const [rows] = await pair.dst.query<RowDataPacket[]>('SELECT id, v FROM xa.t ORDER BY id');
    expect(rows.map((r) => [Number(r.id), Number(r.v)])).toEqual([[1, 7], [3, 3]]);
    expect(await stopCli(run)).toBe(0);
  });

  it('rides out a target restart while streaming', async () => {
    const { startMariaDb } = await import('../../src/testing/servers.js');
    const { connect } = await import('../helpers/mysql.js');
    const dst = await startMariaDb({ serverId: 9 });
    let restarted: Awaited<ReturnType<typeof startMariaDb>> | undefined;
    try {
      await pair.src.query('CREATE DATABASE tr; CREATE TABLE tr.t (id INT PRIMARY KEY, v INT); INSERT INTO tr.t SELECT seq, seq FROM tr.seq_1_to_1000');
      const c = await connect(dst.url());
      await c.query('CREATE DATABASE tr');
      await c.end();
      const run = startCli(['sync', '--source', pair.srcUrl('tr'), '--target', dst.url('tr'), '--flush-interval', '100ms']);
      running.push(run);
      await waitUntil('the copy', () => run.stderr().includes('initial copy done'), 60_000);
      dst.kill();
      await pair.src.query('UPDATE tr.t SET v = 0 WHERE id <= 10');
      await new Promise((r) => setTimeout(r, 1500));
      restarted = await startMariaDb({ serverId: 9, dir: dst.dir, port: dst.port });
      await pair.src.query('DELETE FROM tr.t WHERE id = 20');
      const c2 = await connect(restarted.url());
      await waitUntil('the changes after the restart', async () => {
        const [rows] = await c2.query<RowDataPacket[]>('SELECT COUNT(*) AS n, SUM(v = 0) AS z FROM tr.t');
        return Number(rows[0]?.n) === 999 && Number(rows[0]?.z) === 10;
      }, 90_000, 500);
      await c2.end();
      expect(await stopCli(run)).toBe(0);
    } finally {
      await (restarted ?? dst).stop();
    }
  });

  it('a Runner cancelled before the copy starts copies nothing and returns', async () => {
    const { Runner } = await import('../../src/runner/runner.js');
    const { createLogger } = await import('../../src/core/logger.js');
    await createWriterTable(pair.src, 'precancel', 'items', 50_000);
    await pair.dst.query('CREATE DATABASE precancel');
    const ac = new AbortController();
    ac.abort();
    const runner = new Runner({ source: pair.srcUrl('precancel'), target: pair.dstUrl('precancel') }, { logger: createLogger({ level: 'silent', pretty: false }) });
    await runner.run(ac.signal);
    expect(runner.phase).toBe('stopped');
    expect(runner.progress().rowsCopied).toBe(0);
  });
});
