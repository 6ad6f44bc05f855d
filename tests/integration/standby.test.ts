/**
 * Standby instances of one sync (docs/standby.md), through the CLI on real servers: MariaDB source
 * and target, a 3-member etcd cluster as the coordinator. Two or three instances of one sync
 * campaign; one leads, the others stand by (never opening the stream). kill -9 of the leader under
 * a steady workload: a standby takes over from the target's checkpoint and the target converges;
 * SIGTERM resigns at once; the killed instance started again stands by; an etcd member killed, the
 * etcd leader among them, changes nothing.
 */
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEtcdCluster, type EtcdCluster } from '../../src/testing/servers.js';
import { ROOT, startCli, startPair, waitEqual, waitUntil, type CliRun, type Pair } from '../helpers/mysql.js';
import { assertForwardOnly, auditCommits, epochsOf } from '../helpers/audit.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';
import { createWriterTable, startWriter } from '../helpers/workload.js';

interface Status {
  phase: string;
  coordination: { role: 'leader' | 'standby'; epoch: string | null; leaderships: number; members: { host: string; pid: number; leader: boolean; epoch: string }[] } | null;
  stream: { changesApplied: number };
}

interface Instance {
  readonly name: string;
  readonly http: string;
  run: CliRun;
}

let pair: Pair;
let etcd: EtcdCluster;
const running: CliRun[] = [];

beforeAll(async () => {
  [pair, etcd] = await Promise.all([startPair(), startEtcdCluster(3)]);
}, 120_000);

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await Promise.all([pair?.stop(), etcd?.stop()]);
});

async function start(name: string, db: string, http?: string, ttl = '2s', coordinator = etcd.url('coord'), target = pair.dstUrl(db), env: NodeJS.ProcessEnv = {}): Promise<Instance> {
  const addr = http ?? `127.0.0.1:${await freePort()}`;
  const run = startCli([
    'sync', '--source', pair.srcUrl(db), '--target', target, '--id', db,
    '--coordinator', coordinator, '--leader-ttl', ttl, '--http', addr, '--http-linger', '0',
    '--flush-interval', '100ms', '--checksum', 'off',
  ], env);
  running.push(run);
  return { name, http: addr, run };
}

async function status(i: Instance): Promise<Status | undefined> {
  try {
    const res = await fetch(`http://${i.http}/status`, { signal: AbortSignal.timeout(3000) });
    return (await res.json()) as Status;
  } catch {
    return undefined;
  }
}

/** The time (ms since the epoch) of the first JSON log line of `run` whose message matches `re`. */
function loggedAt(run: CliRun, re: RegExp): number | undefined {
  for (const line of run.stderr().split('\n')) {
    if (!line.startsWith('{')) continue;
    const rec = JSON.parse(line) as { time?: number; msg?: string; err?: string };
    if (re.test(rec.msg ?? '') || re.test(rec.err ?? '')) return rec.time;
  }
  return undefined;
}

/**
 * The one instance of `among` that leads and streams, once the others stand by and campaign: an
 * instance's phase is 'standby' from before its preflight, its candidate key only once the preflight
 * is through, so the leader's member list is what shows every standby in the race.
 */
async function leaderOf(among: readonly Instance[], what: string, timeoutMs = 60_000): Promise<Instance> {
  let leader: Instance | undefined;
  await waitUntil(what, async () => {
    const all = await Promise.all(among.map(status));
    const leading = among.filter((_, k) => all[k]?.coordination?.role === 'leader' && all[k]?.phase === 'stream');
    const standing = all.filter((s) => s?.phase === 'standby');
    leader = leading[0];
    const k = among.indexOf(leading[0] as Instance);
    return leading.length === 1 && standing.length === among.length - 1 && all[k]?.coordination?.members.length === among.length;
  }, timeoutMs, 100).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${among.map((i) => `--- ${i.name} ---\n${i.run.stderr().slice(-3000)}`).join('\n')}`, { cause: err });
  });
  return leader as Instance;
}

describe('standby instances of one sync, coordinated through etcd', () => {
  it('kill -9 of the leader under a steady workload: a standby takes over from the checkpoint, the target converges; the killed one rejoins as standby', async () => {
    await createWriterTable(pair.src, 'sb', 'items', 20_000);
    await pair.dst.query('CREATE DATABASE sb');
    const writer = await startWriter({ url: pair.srcUrl('sb'), table: 'items', maxId: 24_000, connections: 2 });
    try {
      const a = await start('a', 'sb');
      const b = await start('b', 'sb');
      const first = await leaderOf([a, b], 'one leader streaming, one standby');
      const other = first === a ? b : a;
      const before = (await status(first))?.coordination;
      expect(before?.members.length).toBe(2);
      expect(before?.members[0]?.leader).toBe(true);
      // The standby never opened the stream: its status shows nothing applied.
      expect((await status(other))?.stream.changesApplied).toBe(0);
      const metric = async (i: Instance) => (await (await fetch(`http://${i.http}/metrics`)).text()).split('\n').filter((l) => /^tributary_leader(_epoch)?[ {]/.test(l));
      expect(await metric(first)).toEqual(['tributary_leader{sync="sb"} 1', `tributary_leader_epoch{sync="sb"} ${before?.epoch}`]);
      expect((await metric(other))[0]).toBe('tributary_leader{sync="sb"} 0');
      // The dashboard shows the role, the epoch and both instances.
      const browser = await chromium.launch({ executablePath: process.env.TRIBUTARY_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
      try {
        const page = await browser.newPage();
        await page.goto(`http://${first.http}/`);
        await page.waitForFunction(() => document.querySelectorAll('#instances-table tbody tr').length === 2);
        expect(await page.textContent('#role')).toBe(`leader · epoch ${before?.epoch}`);
        expect(await page.$$eval('#instances-table tbody tr td:first-child', (tds) => tds.map((td) => td.textContent))).toEqual(['leader', 'standby']);
        await page.screenshot({ path: join(ROOT, 'tests', 'artifacts', 'dashboard-standby.png'), fullPage: true });
        await page.goto(`http://${other.http}/`);
        await page.waitForFunction(() => document.getElementById('role')?.textContent?.startsWith('standby'));
        expect(await page.textContent('#phase')).toBe('standby');
      } finally {
        await browser.close();
      }

      first.run.child.kill('SIGKILL');
      const killedAt = Date.now();
      await first.run.exited;
      await leaderOf([other], 'the standby leading after kill -9');
      const took = Date.now() - killedAt;
      const after = (await status(other))?.coordination;
      expect(BigInt(after?.epoch ?? '0')).toBeGreaterThan(BigInt(before?.epoch ?? '0'));
      console.log(`takeover after kill -9 of the leader (lease TTL 2 s): ${took} ms`);

      // The killed instance started again stands by behind the new leader.
      const again = await start(first.name, 'sb', first.http);
      await leaderOf([other, again], 'the restarted instance standing by');
      await writer.stop();
      await waitEqual(pair, 'sb', 'sb', 'items', 60_000);
      // What each instance committed, from the target's binlog: every batch once, in order.
      const commits = auditCommits(pair.target, 'sb', 'sb');
      expect(commits.filter((c) => c.position).length).toBeGreaterThan(10);
      assertForwardOnly(commits);
      // Each commit names its leadership: the killed leader's, then the standby's, never back.
      expect(epochsOf(commits)).toEqual([before?.epoch, after?.epoch]);
    } finally {
      await writer.stop();
    }
  });

  it('SIGTERM resigns at once; an etcd member killed, the etcd leader among them, changes nothing', async () => {
    await createWriterTable(pair.src, 'st', 'items', 5_000);
    await pair.dst.query('CREATE DATABASE st');
    // The default lease TTL: an etcd leader election must not outlast a keepalive's margin.
    const first = await start('a', 'st', undefined, '5s');
    await leaderOf([first], 'the first instance leading');
    // The standby connects as a user of its own, so its connections can be told apart.
    for (const c of [pair.src, pair.dst]) await c.query("CREATE USER IF NOT EXISTS 'warm_b'@'127.0.0.1' IDENTIFIED BY 'Warm-b-pw'; GRANT ALL ON *.* TO 'warm_b'@'127.0.0.1'");
    const own = (url: string) => url.replace('root@', 'warm_b:Warm-b-pw@');
    const args = ['sync', '--source', own(pair.srcUrl('st')), '--target', own(pair.dstUrl('st')), '--id', 'st', '--coordinator', etcd.url('coord'), '--leader-ttl', '5s', '--flush-interval', '100ms', '--checksum', 'off', '--http-linger', '0'];
    const http = `127.0.0.1:${await freePort()}`;
    const other: Instance = { name: 'b', http, run: startCli([...args, '--http', http]) };
    running.push(other.run);
    await leaderOf([first, other], 'a leading, b standing by');
    // b stands by with warm connections to both sides, and no replication stream.
    const sessions = async (c: typeof pair.src) => (await c.query<RowDataPacket[]>("SELECT ID AS id, COMMAND AS cmd FROM information_schema.PROCESSLIST WHERE USER = 'warm_b'"))[0].map((r) => ({ id: Number(r.id), cmd: String(r.cmd) }));
    // Counted once its preflight has passed (a connection the preflight opens for itself is gone by then).
    await waitUntil("the standby's connections open", async () => other.run.stderr().includes('their connections are kept open') && (await sessions(pair.src)).length > 0 && (await sessions(pair.dst)).length > 0, 30_000);
    const warmSource = await sessions(pair.src);
    const warmTarget = await sessions(pair.dst);
    expect(warmSource.filter((x) => x.cmd.startsWith('Binlog Dump'))).toEqual([]);
    first.run.child.kill('SIGTERM');
    const stoppedAt = Date.now();
    expect(await first.run.exited).toBe(0);
    await leaderOf([other], 'the standby leading after SIGTERM');
    console.log(`takeover after SIGTERM of the leader: ${Date.now() - stoppedAt} ms`);
    expect(first.run.stderr()).not.toContain('TRIB_');
    // The leader goes on with the connections it kept while standing by (and opens the stream now).
    const nowTarget = new Set((await sessions(pair.dst)).map((x) => x.id));
    expect(warmTarget.filter((x) => nowTarget.has(x.id)).length, 'warm target connections taken over').toBe(warmTarget.length);
    // The stream opens once leading, in the decoding thread the standby started while it stood by.
    await waitUntil('the new leader streaming', async () => (await sessions(pair.src)).some((x) => x.cmd.startsWith('Binlog Dump')), 10_000);
    expect(other.run.stderr()).toContain('the decoding thread was started ahead');
    const nowSource = await sessions(pair.src);
    expect(nowSource.filter((x) => warmSource.some((w) => w.id === x.id)).length, 'warm source connection taken over').toBe(warmSource.length);
    expect(nowSource.filter((x) => x.cmd.startsWith('Binlog Dump')).length).toBe(1);
    expect(other.run.stderr()).not.toContain('Warm-b-pw');

    // etcd members go one at a time (a majority stays): the leadership holds throughout.
    const epoch = (await status(other))?.coordination?.epoch;
    for (const m of etcd.members) {
      m.kill();
      await pair.src.query('UPDATE st.items SET v = v + 1 WHERE id % 7 = 0');
      await waitEqual(pair, 'st', 'st', 'items', 60_000);
      await m.restart();
    }
    const now = await status(other);
    expect(now?.coordination?.role).toBe('leader');
    expect(now?.coordination?.epoch).toBe(epoch);
    other.run.child.kill('SIGTERM');
    expect(await other.run.exited).toBe(0);
    const [rows] = await pair.dst.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM st.items');
    expect(Number(rows[0]?.n)).toBe(5_000);
  });

  it('a leader cut off from etcd but not from the target fences itself before a standby wins, then stands by again', async () => {
    await createWriterTable(pair.src, 'cut', 'items', 5_000);
    await pair.dst.query('CREATE DATABASE cut');
    const writer = await startWriter({ url: pair.srcUrl('cut'), table: 'items', maxId: 6_000, connections: 1 });
    // The first instance reaches etcd through proxies only, so it alone can be cut off.
    const proxies: Proxy[] = await Promise.all(etcd.members.map((m) => startProxy(m.port)));
    try {
      const a = await start('a', 'cut', undefined, '3s', `etcd://${proxies.map((p) => `127.0.0.1:${p.port}`).join(',')}/coord`);
      await leaderOf([a], 'the first instance leading');
      const b = await start('b', 'cut', undefined, '3s');
      await leaderOf([a, b], 'a leading, b standing by');
      for (const p of proxies) p.blackhole();
      await leaderOf([b], 'b leading once a is cut off from etcd', 60_000);
      const fenced = loggedAt(a.run, /leadership of sync cut .* ended/);
      const won = loggedAt(b.run, /^leading sync cut/);
      expect(fenced, a.run.stderr().slice(-3000)).toBeDefined();
      expect(won).toBeDefined();
      // a stopped writing before b could win (its own clock, a margin before the lease's expiry).
      expect(fenced as number).toBeLessThan(won as number);
      console.log(`self-fenced ${(won as number) - (fenced as number)} ms before the standby won`);
      for (const p of proxies) p.restore();
      await leaderOf([a, b], 'a standing by again behind b', 60_000);
      await writer.stop();
      await waitEqual(pair, 'cut', 'cut', 'items', 60_000);
      assertForwardOnly(auditCommits(pair.target, 'cut', 'cut'));
    } finally {
      await writer.stop();
      await Promise.all(proxies.map((p) => p.close()));
    }
  });

  it("a leader whose monotonic clock runs at half speed, cut off from etcd, fences itself too late: the standby wins first, and the target's fence refuses the old leader's writes", async () => {
    await createWriterTable(pair.src, 'skew', 'items', 5_000);
    await pair.dst.query('CREATE DATABASE skew');
    const writer = await startWriter({ url: pair.srcUrl('skew'), table: 'items', maxId: 6_000, connections: 1, perTxn: 1 });
    const proxies: Proxy[] = await Promise.all(etcd.members.map((m) => startProxy(m.port)));
    try {
      // a's performance.now() runs at half the real rate (tests/helpers/slow-clock.mjs): with a 4 s
      // lease, once cut off it believes its lease valid for ~7 s of real time, past the ~4 s after
      // which etcd lets b win. Its keepalives (real timers) renew the lease in time until then.
      const skewed = { NODE_OPTIONS: `--import ${join(ROOT, 'tests', 'helpers', 'slow-clock.mjs')}`, SLOW_CLOCK_RATE: '0.5' };
      const a = await start('a', 'skew', undefined, '4s', `etcd://${proxies.map((p) => `127.0.0.1:${p.port}`).join(',')}/coord`, pair.dstUrl('skew'), skewed);
      await leaderOf([a], 'the skewed instance leading');
      const b = await start('b', 'skew', undefined, '4s');
      await leaderOf([a, b], 'a leading, b standing by');
      for (const p of proxies) p.blackhole();
      await leaderOf([b], 'b leading once a is cut off from etcd', 60_000);
      // a went on streaming past b's takeover by its slow clock: the target refused its next commit.
      await waitUntil("a's write refused by the target's fence", () => a.run.stderr().includes('TRIB_FENCED') || a.run.child.exitCode !== null, 30_000).catch(() => undefined);
      expect(a.run.stderr(), `${a.run.stderr().slice(-3000)}\n--- b ---\n${b.run.stderr().slice(-3000)}`).toContain('TRIB_FENCED');
      for (const p of proxies) p.restore();
      await leaderOf([a, b], 'a standing by again behind b', 60_000);
      await writer.stop();
      await waitEqual(pair, 'skew', 'skew', 'items', 60_000);
      const commits = auditCommits(pair.target, 'skew', 'skew');
      assertForwardOnly(commits);
      expect(epochsOf(commits).length, 'commits of both leaderships audited').toBe(2);
    } finally {
      await writer.stop();
      await Promise.all(proxies.map((p) => p.close()));
    }
  });

  it('SIGSTOP of the leader for 3× the lease TTL: a standby takes over; the old leader, continued, commits nothing more and stands by', async () => {
    await createWriterTable(pair.src, 'stop', 'items', 5_000);
    await pair.dst.query('CREATE DATABASE stop');
    const writer = await startWriter({ url: pair.srcUrl('stop'), table: 'items', maxId: 6_000, connections: 2, perTxn: 1 });
    try {
      const a = await start('a', 'stop');
      await leaderOf([a], 'the first instance leading');
      const b = await start('b', 'stop');
      await leaderOf([a, b], 'a leading, b standing by');
      a.run.child.kill('SIGSTOP');
      const stoppedAt = Date.now();
      await leaderOf([b], 'b leading while a is stopped', 60_000).catch(async (err: unknown) => {
        a.run.child.kill('SIGCONT');
        throw err;
      });
      console.log(`takeover with the old leader stopped (SIGSTOP): ${Date.now() - stoppedAt} ms`);
      await new Promise((r) => setTimeout(r, Math.max(0, 6_000 - (Date.now() - stoppedAt))));
      a.run.child.kill('SIGCONT');
      await leaderOf([a, b], 'a standing by again behind b', 60_000);
      expect(a.run.stderr()).toMatch(/leadership of sync stop .* ended|TRIB_FENCED/);
      await writer.stop();
      await waitEqual(pair, 'stop', 'stop', 'items', 60_000);
      assertForwardOnly(auditCommits(pair.target, 'stop', 'stop'));
    } finally {
      await writer.stop();
    }
  });

  it('a leader cut off from the target only keeps its leadership (no takeover) and catches up once the target is back', async () => {
    await createWriterTable(pair.src, 'tcut', 'items', 5_000);
    await pair.dst.query('CREATE DATABASE tcut');
    const proxy = await startProxy(pair.target.port);
    const writer = await startWriter({ url: pair.srcUrl('tcut'), table: 'items', maxId: 6_000, connections: 1 });
    try {
      const a = await start('a', 'tcut', undefined, '2s', etcd.url('coord'), `mysql://root@127.0.0.1:${proxy.port}/tcut`);
      await leaderOf([a], 'the first instance leading');
      const b = await start('b', 'tcut');
      await leaderOf([a, b], 'a leading, b standing by');
      const epoch = (await status(a))?.coordination?.epoch;
      proxy.blackhole();
      await new Promise((r) => setTimeout(r, 5_000));
      // No takeover: a's lease is renewed all along; b still stands by.
      expect((await status(b))?.phase).toBe('standby');
      proxy.restore();
      await writer.stop();
      await waitEqual(pair, 'tcut', 'tcut', 'items', 90_000);
      const now = await status(a);
      expect(now?.coordination?.role).toBe('leader');
      expect(now?.coordination?.epoch).toBe(epoch);
      assertForwardOnly(auditCommits(pair.target, 'tcut', 'tcut'));
    } finally {
      await writer.stop();
      await proxy.close();
    }
  });

  it('a standby that could not take over (a refused password) says so at start and exits; the leader goes on', async () => {
    await createWriterTable(pair.src, 'bad', 'items', 100);
    await pair.dst.query('CREATE DATABASE bad');
    const a = await start('a', 'bad');
    await leaderOf([a], 'the first instance leading');
    const b = await start('b', 'bad', undefined, '2s', etcd.url('coord'), pair.dstUrl('bad').replace('root@', 'root:wrong-Pw-71@'));
    expect(await b.run.exited).not.toBe(0);
    expect(b.run.stderr()).toContain('TRIB_AUTH_FAILED');
    expect(b.run.stderr()).not.toContain('wrong-Pw-71');
    expect((await status(a))?.coordination?.role).toBe('leader');
    a.run.child.kill('SIGTERM');
    expect(await a.run.exited).toBe(0);
  });
});
