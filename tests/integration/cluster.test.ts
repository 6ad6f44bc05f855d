/**
 * A cluster of workers coordinated through etcd (docs/cluster.md), through the CLI on real
 * servers: a 3-member etcd cluster, MariaDB source and target, 3 workers and 9 declared syncs (a
 * database each). All 9 stream, spread by capacity; kill -9 of a worker moves its syncs, which
 * keep streaming; a worker that joins takes syncs one at a time; kill -9 of the scheduler's worker
 * elects another and stops nothing; `cluster status` shows it all; `cluster delete` stops a sync.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaredSyncFile } from '../../src/cluster/declare.js';
import { clusterStatus, type ClusterStatus } from '../../src/cluster/status.js';
import type { ClusterStore } from '../../src/cluster/store.js';
import { createLogger } from '../../src/core/logger.js';
import { parseDsn } from '../../src/config/dsn.js';
import { openClusterStore } from '../../src/engines/registry.js';
import { freePort, startEtcdCluster, type EtcdCluster } from '../../src/testing/servers.js';
import { assertForwardOnly, auditCommits } from '../helpers/audit.js';
import { runCli, startCli, startPair, waitUntil, type CliRun, type Pair } from '../helpers/mysql.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';

let pair: Pair;
let etcd: EtcdCluster;
let store: ClusterStore;
const running: CliRun[] = [];
const workers = new Map<string, { run: CliRun; http: string }>();
const dir = mkdtempSync(join(tmpdir(), 'trib-cluster-'));
const SYNCS = Array.from({ length: 9 }, (_, i) => `c${i + 1}`);
const ttl = '2s';

beforeAll(async () => {
  [pair, etcd] = await Promise.all([startPair(), startEtcdCluster(3)]);
  store = await openClusterStore({ dsn: parseDsn(etcd.url('cl'), 'coordinator'), ttlSeconds: 2, logger: createLogger({ level: 'silent' }) });
  for (const db of SYNCS) {
    await pair.src.query(`CREATE DATABASE ${db}; CREATE TABLE ${db}.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO ${db}.t VALUES (1,'a'),(2,'b'),(3,'c')`);
    await pair.dst.query(`CREATE DATABASE ${db}`);
  }
}, 120_000);

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await store?.close();
  await Promise.all([pair?.stop(), etcd?.stop()]);
});

async function startWorker(name: string, capacity: number): Promise<void> {
  const http = `127.0.0.1:${await freePort()}`;
  const run = startCli(['worker', '--coordinator', etcd.url('cl'), '--name', name, '--capacity', String(capacity), '--leader-ttl', ttl, '--http', http, '--log-format', 'json']);
  running.push(run);
  workers.set(name, { run, http });
}

async function status(): Promise<ClusterStatus> {
  return clusterStatus(await store.state(), 'cl', await store.scheduler());
}

function loads(s: ClusterStatus): Record<string, number> {
  return Object.fromEntries(s.workers.filter((w) => w.load > 0).map((w) => [w.name, w.load]));
}

/** Waits until every declared sync streams on its assigned worker, and `check` holds; prints the workers' logs on a timeout. */
async function converged(what: string, check: (s: ClusterStatus) => boolean = () => true, timeoutMs = 90_000): Promise<ClusterStatus> {
  let last: ClusterStatus | undefined;
  await waitUntil(what, async () => {
    last = await status();
    return last.syncs.length > 0 && last.syncs.every((y) => y.worker !== null && y.phase === 'stream') && check(last);
  }, timeoutMs, 250).catch((err: unknown) => {
    const logs = [...workers].map(([n, w]) => `--- ${n} ---\n${w.run.stderr().slice(-2500)}`).join('\n');
    throw new Error(`${(err as Error).message}\n${JSON.stringify(last, null, 1)}\n${logs}`, { cause: err });
  });
  return last as ClusterStatus;
}

/** Inserts a row into every listed database and waits until each target has it. */
async function changesArrive(dbs: readonly string[], id: number): Promise<void> {
  for (const db of dbs) await pair.src.query(`INSERT INTO ${db}.t VALUES (?, 'x')`, [id]);
  await waitUntil(`row ${id} on the target of ${dbs.join(', ')}`, async () => {
    for (const db of dbs) {
      const [rows] = await pair.dst.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${db}.t WHERE id = ?`, [id]);
      if (Number(rows[0]?.n) !== 1) return false;
    }
    return true;
  }, 60_000, 200);
}

function declare(name: string, extra = ''): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\nsource: ${pair.srcUrl(name)}\ntarget: ${pair.dstUrl(name)}\nchecksum: off\nflush-interval: 100ms\n${extra}`);
  return file;
}

describe('a cluster of workers coordinated through etcd', () => {
  it('refuses a declared sync that would store a password in etcd, by name, exit 2', async () => {
    const file = join(dir, 'secret.yaml');
    writeFileSync(file, `name: secret\nsource: mysql://root:hunter2@127.0.0.1:1/x\ntarget: ${pair.dstUrl('x')}\n`);
    const r = await runCli(['cluster', 'apply', '-f', file, '--coordinator', etcd.url('cl')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('declared sync secret: the source URL carries a password');
    expect(r.stderr).not.toContain('hunter2');
    const keyed = join(dir, 'keyed.yaml');
    writeFileSync(keyed, `name: keyed\nsource: ${pair.srcUrl('x')}\ntarget: ${pair.dstUrl('x')}\ntarget-password: hunter2\n`);
    const k = await runCli(['cluster', 'apply', '-f', keyed, '--coordinator', etcd.url('cl')]);
    expect(k.code).toBe(2);
    expect(k.stderr).toContain('declared sync keyed: target-password would be stored in the coordinator in clear');
    expect((await store.state()).syncs).toEqual([]);
  });

  it('9 syncs on 3 workers: spread by capacity; kill -9 a worker, add one, kill the scheduler; status; delete', async () => {
    await Promise.all([startWorker('a', 6), startWorker('b', 5), startWorker('c', 4)]);
    await waitUntil('3 workers registered and a scheduler elected', async () => {
      const s = await status();
      return s.workers.length === 3 && s.scheduler !== null;
    }, 60_000, 200);
    // The first through the CLI (its output checked), the other eight as the CLI declares them, in
    // this process: eight more CLI processes would check nothing new (the CLI's apply runs again below).
    const applied = await runCli(['cluster', 'apply', '-f', declare(SYNCS[0] as string), '--coordinator', etcd.url('cl')]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toBe(`sync ${SYNCS[0]} declared; the scheduler assigns it to a worker\n`);
    for (const db of SYNCS.slice(1)) await store.declare(declaredSyncFile(declare(db)));
    // Most free capacity first, ties by name, in name order: a 4, b 3, c 2.
    const first = await converged('9 syncs streaming on a, b, c');
    expect(loads(first)).toEqual({ a: 4, b: 3, c: 2 });
    await changesArrive(SYNCS, 100);

    // kill -9 of c: its syncs move to a and b at once and keep streaming.
    const onC = first.syncs.filter((y) => y.worker === 'c').map((y) => y.name);
    workers.get('c')?.run.child.kill('SIGKILL');
    const killedAt = Date.now();
    await workers.get('c')?.run.exited;
    await pair.src.query(`INSERT INTO ${onC[0]}.t VALUES (200, 'after kill')`);
    const afterKill = await converged("c's syncs streaming on a and b", (s) => s.workers.length === 2 && s.syncs.every((y) => y.worker !== 'c'));
    console.log(`kill -9 of a worker (lease TTL 2 s): its ${onC.length} syncs streaming elsewhere after ${Date.now() - killedAt} ms (as reported every 2 s)`);
    expect(loads(afterKill)).toEqual({ a: 5, b: 4 });
    await changesArrive(onC, 201);
    const [r200] = await pair.dst.query<RowDataPacket[]>(`SELECT v FROM ${onC[0]}.t WHERE id = 200`);
    expect(r200[0]?.v).toBe('after kill');

    // A worker joins: syncs move to it one at a time, never two in transit at once (sampled throughout).
    let maxInTransit = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = await status();
        maxInTransit = Math.max(maxInTransit, s.syncs.filter((y) => y.phase !== 'stream').length);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await startWorker('d', 4);
    const joinedAt = Date.now();
    await converged('2 syncs moved to d and streaming', (s) => s.syncs.filter((y) => y.worker === 'd').length === 2);
    console.log(`a worker joined: 2 syncs moved to it, one at a time, in ${Date.now() - joinedAt} ms`);
    sampling = false;
    await sampler;
    expect(maxInTransit).toBe(1);
    const settled = await converged('settled after the join');
    expect(loads(settled)).toEqual({ a: 4, b: 3, d: 2 });
    // Each moved sync drained on its old worker before it resigned: the new leader had nothing of it in flight, so no write of the old one was refused.
    const others = [...workers].filter(([n]) => n !== 'd').map(([, w]) => w.run.stderr()).join('\n').split('\n');
    for (const name of settled.syncs.filter((y) => y.worker === 'd').map((y) => y.name)) {
      expect(others.filter((l) => l.includes(`"sync":"${name}"`) && l.includes('drained: resigning')).length, `${name} drained before it resigned`).toBe(1);
    }
    expect(others.filter((l) => l.includes('TRIB_FENCED'))).toEqual([]);
    await changesArrive(SYNCS, 300);

    // kill -9 of the scheduler's worker: another worker becomes scheduler; the others' syncs never move.
    const before = await status();
    const boss = before.scheduler as string;
    const kept = before.syncs.filter((y) => y.worker !== boss).map((y) => [y.name, y.worker]);
    workers.get(boss)?.run.child.kill('SIGKILL');
    const bossKilledAt = Date.now();
    await workers.get(boss)?.run.exited;
    await waitUntil('a new scheduler', async () => ![null, boss].includes((await status()).scheduler), 30_000, 100);
    console.log(`kill -9 of the scheduler's worker: a new scheduler after ${Date.now() - bossKilledAt} ms`);
    const afterBoss = await converged('a new scheduler and every sync streaming', (s) => s.scheduler !== null && s.scheduler !== boss && s.workers.length === 2);
    console.log(`kill -9 of the scheduler's worker: every sync streaming again after ${Date.now() - bossKilledAt} ms`);
    for (const [name, worker] of kept) expect(afterBoss.syncs.find((y) => y.name === name)?.worker).toBe(worker);
    await changesArrive(SYNCS, 400);

    // cluster status, as the CLI prints it.
    const text = await runCli(['cluster', 'status', '--coordinator', etcd.url('cl')]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`scheduler ${afterBoss.scheduler}`);
    for (const y of afterBoss.syncs) expect(text.stdout).toMatch(new RegExp(`^${y.name}\\s+${y.worker}\\s+stream\\s+\\d+\\.\\ds`, 'm'));
    const json = await runCli(['cluster', 'status', '--json', '--coordinator', etcd.url('cl')]);
    const parsed = JSON.parse(json.stdout) as ClusterStatus;
    expect(parsed.syncs.map((y) => y.name)).toEqual(SYNCS);
    expect(parsed.workers.map((w) => [w.name, w.load, w.capacity])).toEqual(afterBoss.workers.map((w) => [w.name, w.load, w.capacity]));

    // cluster delete: the sync stops everywhere; the others go on.
    const del = await runCli(['cluster', 'delete', 'c1', '--coordinator', etcd.url('cl')]);
    expect(del.code, del.stderr).toBe(0);
    await waitUntil('no worker runs c1', async () => {
      const lists = await Promise.all(
        [...workers].filter(([n]) => afterBoss.workers.some((w) => w.name === n)).map(async ([, w]) => ((await (await fetch(`http://${w.http}/status`)).json()) as { syncs: { sync: string }[] }).syncs.map((y) => y.sync)),
      );
      return lists.every((l) => !l.includes('c1')) && !(await store.state()).reports.some((r) => r.sync === 'c1');
    }, 30_000, 200);
    await pair.src.query("INSERT INTO c1.t VALUES (500, 'after delete')");
    await changesArrive(['c2'], 501);
    const [r500] = await pair.dst.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM c1.t WHERE id = 500');
    expect(Number(r500[0]?.n)).toBe(0);
    expect((await status()).syncs.map((y) => y.name)).toEqual(SYNCS.slice(1));
    const missing = await runCli(['cluster', 'delete', 'c1', '--coordinator', etcd.url('cl')]);
    expect(missing.code).toBe(2);

    // cluster apply of a new version: its worker starts it again with the new keys; it resumes and streams.
    const c2At = (await status()).syncs.find((y) => y.name === 'c2')?.appliedAt;
    expect((await runCli(['cluster', 'apply', '-f', declare('c2', 'batch-size: 5000\n'), '--coordinator', etcd.url('cl')])).code).toBe(0);
    await converged('c2 streaming in its new version', (s) => s.syncs.find((y) => y.name === 'c2')?.appliedAt !== c2At);
    await changesArrive(['c2'], 600);

    // A sync that fails shows its phase and last error; it is not moved for it.
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, `name: bad\nsource: ${pair.srcUrl('nope')}\ntarget: ${pair.dstUrl('c9')}\nchecksum: off\n`);
    expect((await runCli(['cluster', 'apply', '-f', bad, '--coordinator', etcd.url('cl')])).code).toBe(0);
    let failed: ClusterStatus['syncs'][number] | undefined;
    await waitUntil('the bad sync reported failed', async () => {
      failed = (await status()).syncs.find((y) => y.name === 'bad');
      return failed?.phase === 'failed';
    }, 60_000, 250);
    expect(failed?.lastError?.code).toBe('TRIB_DATABASE_MISSING');
    expect(failed?.lastError?.message).toContain('nope');
    const shown = await runCli(['cluster', 'status', '--coordinator', etcd.url('cl')]);
    expect(shown.stdout).toMatch(/^bad\s+\S+\s+failed\s+-\s+TRIB_DATABASE_MISSING: /m);
    expect((await runCli(['cluster', 'delete', 'bad', '--coordinator', etcd.url('cl')])).code).toBe(0);

    // SIGTERM of a worker: its syncs resign at once and stream elsewhere; it exits 0.
    await startWorker('e', 4);
    const withE = await converged('syncs moved to e', (s) => s.syncs.some((y) => y.worker === 'e') && s.syncs.length === 8);
    const onE = withE.syncs.filter((y) => y.worker === 'e').map((y) => y.name);
    const e = workers.get('e');
    e?.run.child.kill('SIGTERM');
    const termAt = Date.now();
    expect(await e?.run.exited).toBe(0);
    await converged("e's syncs streaming elsewhere", (s) => s.workers.every((w) => w.name !== 'e'));
    console.log(`SIGTERM of a worker: its ${onE.length} syncs streaming elsewhere after ${Date.now() - termAt} ms`);
    await changesArrive(onE, 700);
  });

  it("a deposed scheduler writes nothing: its assignments are guarded by its election key", async () => {
    const dsn = parseDsn(etcd.url('guard'), 'coordinator');
    const logger = createLogger({ level: 'silent' });
    const [one, two] = await Promise.all([openClusterStore({ dsn, ttlSeconds: 5, logger }), openClusterStore({ dsn, ttlSeconds: 5, logger })]);
    const raw = new Etcd3({ hosts: etcd.members.map((m) => m.endpoint) });
    try {
      const first = await one.campaignScheduler(new AbortController().signal, 'w1');
      expect(await first.assign([{ sync: 's1', worker: 'w1' }])).toBe(true);
      expect(await one.scheduler()).toBe('w1');
      // Its election key vanishes as when its lease expired unseen; another worker is elected.
      await raw.delete().prefix('/guard/%tributary/%scheduler/').exec();
      const second = await two.campaignScheduler(new AbortController().signal, 'w2');
      expect(await two.scheduler()).toBe('w2');
      // The first still believes it leads (its own clock says the lease holds), but etcd refuses it.
      expect(first.over).toBe(false);
      expect(await first.assign([{ sync: 's1', worker: 'w9' }])).toBe(false);
      expect((await two.state()).assignments.get('s1')).toBe('w1');
      expect(await second.assign([{ sync: 's1', worker: 'w2' }])).toBe(true);
      expect((await two.state()).assignments.get('s1')).toBe('w2');
    } finally {
      raw.close();
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('a worker cut off from etcd loses its lease: its syncs move to another worker, it exits TRIB_LOCK_LOST, and nothing of it lands after the takeover', async () => {
    const dbs = ['lx1', 'lx2'];
    for (const db of dbs) {
      await pair.src.query(`CREATE DATABASE ${db}; CREATE TABLE ${db}.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO ${db}.t VALUES (1,'a')`);
      await pair.dst.query(`CREATE DATABASE ${db}`);
    }
    const url = etcd.url('lost');
    const lostStore = await openClusterStore({ dsn: parseDsn(url, 'coordinator'), ttlSeconds: 2, logger: createLogger({ level: 'silent' }) });
    const proxies: Proxy[] = await Promise.all(etcd.members.map((m) => startProxy(m.port)));
    const worker = async (name: string, coordinator: string) => {
      const run = startCli(['worker', '--coordinator', coordinator, '--name', name, '--capacity', '2', '--leader-ttl', ttl, '--http', `127.0.0.1:${await freePort()}`, '--log-format', 'json']);
      running.push(run);
      return run;
    };
    try {
      // x reaches etcd through proxies only, so it alone can be cut off; it runs both syncs.
      const x = await worker('x', `etcd://${proxies.map((p) => `127.0.0.1:${p.port}`).join(',')}/lost`);
      for (const db of dbs) {
        const file = join(dir, `${db}.yaml`);
        writeFileSync(file, `name: ${db}\nsource: ${pair.srcUrl(db)}\ntarget: ${pair.dstUrl(db)}\nchecksum: off\nflush-interval: 100ms\n`);
        const applied = await runCli(['cluster', 'apply', '-f', file, '--coordinator', url]);
        expect(applied.code, applied.stderr).toBe(0);
      }
      const lostStatus = async () => clusterStatus(await lostStore.state(), 'lost', await lostStore.scheduler());
      const streamingOn = (w: string) => async () => {
        const st = await lostStatus();
        return st.syncs.length === dbs.length && st.syncs.every((y) => y.worker === w && y.phase === 'stream');
      };
      await waitUntil('both syncs streaming on x', streamingOn('x'), 60_000, 250);
      const y = await worker('y', url);
      await waitUntil('y registered', async () => (await lostStatus()).workers.some((w) => w.name === 'y'), 30_000, 100);
      // A steady trickle of writes into both while x is cut off.
      let n = 100;
      let writing = true;
      const writes = (async () => {
        while (writing) {
          for (const db of dbs) await pair.src.query(`INSERT INTO ${db}.t VALUES (?, 'w')`, [n]);
          n++;
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      for (const p of proxies) p.blackhole();
      const cutAt = Date.now();
      // It notices by its own clock within the TTL, stops writing at once, and exits once its syncs and the scheduler
      // stopped (each wait for etcd bounded: 8–10 s seen).
      const code = await Promise.race([x.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 30_000))]);
      expect(code, x.stderr().slice(-4000)).toBe(1);
      console.log(`a worker cut off from etcd (lease TTL 2 s): exited after ${Date.now() - cutAt} ms`);
      expect(x.stderr()).toContain('TRIB_LOCK_LOST');
      expect(x.stderr()).toMatch(/worker x lost its lease/);
      await waitUntil("x's syncs streaming on y", streamingOn('y'), 60_000, 250).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n--- x ---\n${x.stderr().slice(-3000)}\n--- y ---\n${y.stderr().slice(-3000)}`, { cause: err });
      });
      console.log(`a worker cut off from etcd (lease TTL 2 s): its syncs streaming on another worker after ${Date.now() - cutAt} ms`);
      writing = false;
      await writes;
      await changesArrive(dbs, 5_000);
      for (const db of dbs) {
        const [[src], [dst]] = await Promise.all([pair.src.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${db}.t`), pair.dst.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${db}.t`)]);
        expect(Number(dst[0]?.n), db).toBe(Number(src[0]?.n));
        assertForwardOnly(auditCommits(pair.target, db, db));
      }
      y.child.kill('SIGTERM');
      expect(await y.exited).toBe(0);
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
      await lostStore.close();
    }
  });

  it("a declared sync takes its password from the worker's environment; etcd never holds it", async () => {
    const secret = 'Wk-env-9f2Qx-never-stored';
    await pair.dst.query(`CREATE USER 'tw'@'127.0.0.1' IDENTIFIED BY '${secret}'; GRANT ALL PRIVILEGES ON *.* TO 'tw'@'127.0.0.1'; CREATE DATABASE sec`);
    await pair.src.query("CREATE DATABASE sec; CREATE TABLE sec.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO sec.t VALUES (1, 'a')");
    const url = etcd.url('sec');
    const http = `127.0.0.1:${await freePort()}`;
    const run = startCli(['worker', '--coordinator', url, '--name', 'w', '--capacity', '2', '--leader-ttl', ttl, '--http', http, '--log-format', 'json'], { TRIBUTARY_TARGET_PASSWORD: secret });
    running.push(run);
    const file = join(dir, 'sec.yaml');
    writeFileSync(file, `name: sec\nsource: ${pair.srcUrl('sec')}\ntarget: mysql://tw@127.0.0.1:${pair.target.port}/sec\nchecksum: off\nflush-interval: 100ms\n`);
    const applied = await runCli(['cluster', 'apply', '-f', file, '--coordinator', url]);
    expect(applied.code, applied.stderr).toBe(0);
    await pair.src.query("INSERT INTO sec.t VALUES (2, 'b')");
    await waitUntil('the sync streaming as tw', async () => {
      const [rows] = await pair.dst.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sec' AND TABLE_NAME = 't'");
      if (Number(rows[0]?.n) === 0) return false;
      const [n] = await pair.dst.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM sec.t');
      return Number(n[0]?.n) === 2;
    }, 60_000, 200).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${run.stderr().slice(-3000)}`, { cause: err });
    });
    // Nothing under the cluster's prefix, nor in the worker's output, holds the password.
    const raw = new Etcd3({ hosts: etcd.members.map((m) => m.endpoint) });
    try {
      const all = await raw.getAll().prefix('/sec/').strings();
      expect(Object.keys(all).length).toBeGreaterThan(0);
      for (const [k, v] of Object.entries(all)) expect(`${k}=${v}`).not.toContain(secret);
    } finally {
      raw.close();
    }
    expect(run.stderr()).not.toContain(secret);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });
});
