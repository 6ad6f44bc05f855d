/**
 * Takeover time of standby instances (issue 17), MariaDB → MariaDB, coordinated through a 3-member
 * etcd cluster on loopback: two instances of one sync (`--coordinator`, `--leader-ttl` from
 * BENCH_TAKEOVER_TTL, default 2s) under a steady write load (a row updated every 20 ms). Each round
 * ends the leader, by kill -9 or by SIGTERM in turn, and measures:
 * - elected: from the end to the standby's /status saying it leads;
 * - streaming: to its phase being `stream` again;
 * - applied: to the first source change committed after the end reaching the target (a heartbeat row).
 * The ended instance is started again (it stands by) before the next round. The anchor is the lease
 * TTL: a killed leader's lease expires at most that long after its last keepalive, so kill -9 cannot
 * be taken over sooner than the time to expiry; SIGTERM resigns and needs no expiry.
 *
 *   node --import tsx bench/takeover.ts        BENCH_TAKEOVER_ROUNDS=20 BENCH_TAKEOVER_TTL=2s
 *                                             BENCH_TAKEOVER_SETTLE_MS=1000 (a standby stands by that long before each round)
 *                                             BENCH_TRIBUTARY_ARGS=… (more options to each instance)
 *
 * Writes bench/results/takeover.json; the target is checked against the source at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Connection } from 'mysql2/promise';
import { freePort, startEtcdCluster, startMariaDb } from '../src/testing/servers.js';
import { buildTributary, connect, ENTRY, log, machine, printTable, queryRows, ROOT, sleep, warnIfBusy, writeResult } from './lib/harness.js';

const ROUNDS = Number(process.env.BENCH_TAKEOVER_ROUNDS ?? 20);
/** How long a standby stands by before each round (BENCH_TAKEOVER_SETTLE_MS). */
const SETTLE_MS = Number(process.env.BENCH_TAKEOVER_SETTLE_MS ?? 1000);
const TTL = process.env.BENCH_TAKEOVER_TTL ?? '2s';

interface Instance {
  readonly http: string;
  child: ChildProcess;
  exited: Promise<void>;
  log: string;
}

interface Status {
  phase: string;
  coordination: { role: string; epoch: string | null } | null;
}

function pct(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

async function status(i: Instance): Promise<Status | undefined> {
  try {
    return (await (await fetch(`http://${i.http}/status`, { signal: AbortSignal.timeout(1000) })).json()) as Status;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  buildTributary();
  const load = warnIfBusy();
  const [src, dst, etcd] = await Promise.all([startMariaDb({ serverId: 1 }), startMariaDb({ serverId: 2 }), startEtcdCluster(3)]);
  const instances: Instance[] = [];
  let s: Connection | undefined;
  let d: Connection | undefined;
  try {
    s = await connect(src.url());
    d = await connect(dst.url());
    await s.query("CREATE DATABASE tk; CREATE TABLE tk.hb (id INT PRIMARY KEY, n BIGINT); INSERT INTO tk.hb VALUES (1, 0); CREATE TABLE tk.t (id INT PRIMARY KEY, v INT); INSERT INTO tk.t SELECT seq, 0 FROM tk.seq_1_to_10000");
    await d.query('CREATE DATABASE tk');
    const launch = (http: string): Instance => {
      const child = spawn(process.execPath, [ENTRY, 'sync', '--source', src.url('tk'), '--target', dst.url('tk'), '--id', 'tk', '--coordinator', etcd.url('bench'), '--leader-ttl', TTL, '--http', http, '--http-linger', '0', '--flush-interval', '50ms', '--checksum', 'off', '--log-format', 'json', ...(process.env.BENCH_TRIBUTARY_ARGS ?? '').split(' ').filter(Boolean)], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      const inst: Instance = { http, child, exited: new Promise((r) => child.on('exit', () => r())), log: '' };
      child.stderr?.on('data', (b: Buffer) => (inst.log = (inst.log + b.toString()).slice(-20_000)));
      return inst;
    };
    instances.push(launch(`127.0.0.1:${await freePort()}`), launch(`127.0.0.1:${await freePort()}`));
    // The heartbeat: one row's counter, bumped every 20 ms, with a random row beside it.
    let beat = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        beat++;
        await s!.query('UPDATE tk.hb SET n = ? WHERE id = 1; UPDATE tk.t SET v = v + 1 WHERE id = ?', [beat, 1 + Math.floor(Math.random() * 10_000)]);
        await sleep(20);
      }
    })();
    const leader = async (timeoutMs = 60_000): Promise<Instance> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const all = await Promise.all(instances.map(status));
        const k = all.findIndex((x) => x?.coordination?.role === 'leader' && x.phase === 'stream');
        if (k >= 0 && all.filter((x) => x?.phase === 'standby').length === instances.length - 1) return instances[k] as Instance;
        if (Date.now() > deadline) throw new Error(`no leader streaming beside a standby after ${timeoutMs} ms:\n${instances.map((i) => i.log.slice(-2000)).join('\n---\n')}`);
        await sleep(50);
      }
    };
    const rounds: { kind: string; electedMs: number; streamingMs: number; appliedMs: number }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const kind = r % 2 === 0 ? 'kill -9' : 'SIGTERM';
      const old = await leader();
      // A standby in service has stood by for a while: what it prepares while it waits (its source's
      // decoding thread) is ready. One relaunched a moment ago, after the previous round, is not yet.
      await sleep(SETTLE_MS);
      const standby = instances.find((i) => i !== old) as Instance;
      const since = beat;
      const t0 = performance.now();
      old.child.kill(kind === 'kill -9' ? 'SIGKILL' : 'SIGTERM');
      let electedMs = NaN;
      let streamingMs = NaN;
      let appliedMs = NaN;
      while (Number.isNaN(appliedMs) || Number.isNaN(streamingMs)) {
        if (performance.now() - t0 > 60_000) throw new Error(`round ${r + 1} (${kind}): no takeover within 60 s:\n${standby.log.slice(-3000)}`);
        const [st, hb] = await Promise.all([status(standby), queryRows(d, 'SELECT n FROM tk.hb WHERE id = 1').catch(() => [])]);
        const now = performance.now() - t0;
        if (Number.isNaN(electedMs) && st?.coordination?.role === 'leader') electedMs = now;
        if (Number.isNaN(streamingMs) && st?.coordination?.role === 'leader' && st.phase === 'stream') streamingMs = now;
        // A heartbeat written after the end of the old leader, applied: only the new one applies it.
        if (Number.isNaN(appliedMs) && Number(hb[0]?.n ?? 0) > since + 2 && !Number.isNaN(electedMs)) appliedMs = now;
        await sleep(20);
      }
      await old.exited;
      rounds.push({ kind, electedMs, streamingMs, appliedMs });
      log(`round ${r + 1}/${ROUNDS} ${kind}: elected ${electedMs.toFixed(0)} ms, streaming ${streamingMs.toFixed(0)} ms, first change applied ${appliedMs.toFixed(0)} ms`);
      const again = launch(old.http);
      instances[instances.indexOf(old)] = again;
    }
    writing = false;
    await writer;
    // The target equals the source once the last change is applied.
    const want = await queryRows(s, 'SELECT COUNT(*) AS n, SUM(v) AS v, (SELECT n FROM tk.hb) AS hb FROM tk.t');
    const deadline = Date.now() + 60_000;
    for (;;) {
      const got = await queryRows(d, 'SELECT COUNT(*) AS n, SUM(v) AS v, (SELECT n FROM tk.hb) AS hb FROM tk.t');
      if (JSON.stringify(got) === JSON.stringify(want)) break;
      if (Date.now() > deadline) throw new Error(`target differs from the source: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
      await sleep(200);
    }
    const ttlMs = Number(TTL.replace(/s$/, '')) * 1000;
    const rows: string[][] = [];
    const result: Record<string, unknown> = { machine: machine(), loadBefore: load, ttl: TTL, rounds };
    for (const kind of ['kill -9', 'SIGTERM']) {
      const of = rounds.filter((x) => x.kind === kind);
      const f = (k: 'electedMs' | 'streamingMs' | 'appliedMs', p: number) => pct(of.map((x) => x[k]), p);
      rows.push([kind, String(of.length), `${f('electedMs', 50).toFixed(0)} / ${f('electedMs', 99).toFixed(0)}`, `${f('streamingMs', 50).toFixed(0)} / ${f('streamingMs', 99).toFixed(0)}`, `${f('appliedMs', 50).toFixed(0)} / ${f('appliedMs', 99).toFixed(0)}`, `${(f('appliedMs', 50) / ttlMs).toFixed(2)}× / ${(f('appliedMs', 99) / ttlMs).toFixed(2)}×`]);
      result[kind] = { runs: of.length, electedP50: f('electedMs', 50), electedP99: f('electedMs', 99), streamingP50: f('streamingMs', 50), streamingP99: f('streamingMs', 99), appliedP50: f('appliedMs', 50), appliedP99: f('appliedMs', 99) };
    }
    printTable(`takeover, ms p50 / p99 (lease TTL ${TTL} = the anchor: a killed leader's lease lives up to that long)`, [['end of leader', 'runs', 'elected', 'streaming', 'first change applied', 'applied ÷ TTL'], ...rows]);
    log(`wrote ${writeResult('takeover', result)}; the target equals the source`);
  } finally {
    for (const i of instances) i.child.kill('SIGKILL');
    await s?.end().catch(() => undefined);
    await d?.end().catch(() => undefined);
    await Promise.all([src.stop(), dst.stop(), etcd.stop()]);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
