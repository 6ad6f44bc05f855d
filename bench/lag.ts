/**
 * Lag under load (issue 15, goal 2), MariaDB → MariaDB: sysbench `oltp_write_only` at fixed rates
 * on the source, streamed by tributary and, in the same run, by a native MariaDB replica of the
 * same source. Lag is the age of a heartbeat row: the bench sets `hb.ts` on the source to the time
 * now every 200 ms (this machine's clock, which the servers share), and every 200 ms the target and
 * the replica are asked `NOW(6) - ts`, at jittered times so as not to lock in phase with the writer. The age
 * includes the heartbeat period (a row just updated reads ~0, one about to be updated ~200 ms: about
 * 100 ms on average), for both alike. tributary's `/status` lag is sampled beside it.
 *
 * The age is the issue's measure; it cannot agree with `/status` (the age of the oldest change not
 * yet applied, 0 when caught up), which has no heartbeat period in it. So the bench also measures
 * each heartbeat's **latency**: it writes the value from its own clock (the servers' clock too),
 * polls the target and the replica every LATENCY_POLL_MS, and notes when each value first shows:
 * seen at − written. That is what `/status` reports for the change it is waiting on.
 *
 * For each rate: p50/p99 of both ages, their ratio, and the /status lag; the run goes up the rates
 * until the source no longer sustains one (achieved < 90% of asked). At the end the target is
 * checked against the source (row counts and a CRC32 sum of every sysbench table).
 *
 *   node --import tsx bench/lag.ts
 *   BENCH_LAG_RATES=500,1000,2000  BENCH_LAG_SECONDS=30  BENCH_LAG_TABLES=4  BENCH_LAG_ROWS=10000
 *
 * Writes bench/results/lag.json. Goals: p99 ≤ 1 s, p50 ≤ 200 ms, /status within 100 ms of the heartbeat.
 */
import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import type { Connection } from 'mysql2/promise';
import { freePort, startMariaDb, type Server } from '../src/testing/servers.js';
import { assertClean, buildTributary, connect, log, machine, printTable, queryRows, sleep, startTributary, warnIfBusy, writeResult } from './lib/harness.js';

const RATES = (process.env.BENCH_LAG_RATES ?? '500,1000,2000,4000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_LAG_SECONDS ?? 30);
const TABLES = Number(process.env.BENCH_LAG_TABLES ?? 4);
const ROWS = Number(process.env.BENCH_LAG_ROWS ?? 10_000);
/** The first seconds of each rate are left out of the percentiles (sysbench ramping up). */
const WARMUP_MS = 3000;
const PERIOD_MS = 200;
const DB = 'sbtest';

interface Sample {
  readonly at: number;
  readonly ms: number;
}

function pct(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

const fmt = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(3)} s` : '-');

function sysbench(port: number, args: readonly string[]): Promise<string> {
  const base = ['oltp_write_only', '--db-driver=mysql', '--mysql-host=127.0.0.1', `--mysql-port=${port}`, '--mysql-user=root', `--mysql-db=${DB}`, `--tables=${TABLES}`, `--table-size=${ROWS}`];
  return new Promise((resolve, reject) => {
    execFile('sysbench', [...base, ...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`sysbench ${args.join(' ')} failed: ${err.message}\n${stderr}\n${stdout}`));
      else resolve(stdout);
    });
  });
}

/**
 * Polls `read` every PERIOD_MS on average until stopped, keeping the samples. The period is
 * jittered (uniform 0.5–1.5×): a reader locked in phase with the heartbeat writer would read every
 * heartbeat at the same point of its 200 ms, and the age would show that phase rather than the lag.
 */
function sampler(read: () => Promise<number | undefined>): { samples: Sample[]; stop: () => Promise<void> } {
  const samples: Sample[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const t = Date.now();
      const v = await read().catch(() => undefined);
      if (v !== undefined && Number.isFinite(v)) samples.push({ at: t, ms: v });
      await sleep(Math.max(0, PERIOD_MS * (0.5 + Math.random()) - (Date.now() - t)));
    }
  })();
  return {
    samples,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** How often the latency watchers read the heartbeat (its resolution). */
const LATENCY_POLL_MS = 20;

/**
 * Reads the heartbeat on `c` every LATENCY_POLL_MS until stopped; for each value the first time it
 * shows, a sample of its latency (seen at − the value, which the bench wrote from its own clock).
 */
function latencyWatcher(c: Connection): { samples: Sample[]; stop: () => Promise<void> } {
  const samples: Sample[] = [];
  let stopped = false;
  let last = -Infinity;
  const loop = (async () => {
    while (!stopped) {
      const r = await queryRows(c, `SELECT ROUND(UNIX_TIMESTAMP(ts) * 1000) AS ms FROM \`${DB}\`.hb WHERE id = 1`).catch(() => []);
      const at = Date.now();
      const v = Number(r[0]?.ms);
      if (Number.isFinite(v) && v > last) {
        if (last !== -Infinity) samples.push({ at, ms: at - v });
        last = v;
      }
      await sleep(LATENCY_POLL_MS);
    }
  })();
  return {
    samples,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

async function hbAge(c: Connection): Promise<number | undefined> {
  const r = await queryRows(c, `SELECT TIMESTAMPDIFF(MICROSECOND, ts, NOW(6)) AS us FROM \`${DB}\`.hb WHERE id = 1`);
  const us = r[0]?.us;
  return us === undefined || us === null ? undefined : Number(us) / 1000;
}

async function fingerprint(c: Connection): Promise<string> {
  const parts: string[] = [];
  for (let i = 1; i <= TABLES; i++) {
    const r = await queryRows(c, `SELECT COUNT(*) AS n, COALESCE(SUM(CRC32(CONCAT_WS('|', id, k, c, pad))), 0) AS s FROM \`${DB}\`.sbtest${i}`);
    parts.push(`${String(r[0]?.n)}/${String(r[0]?.s)}`);
  }
  return parts.join(' ');
}

async function main(): Promise<void> {
  buildTributary();
  const loadBefore = warnIfBusy();
  log('starting source, target and native replica (MariaDB)');
  const servers: Server[] = [];
  try {
    const [src, dst, rep] = await Promise.all([startMariaDb({ serverId: 1 }), startMariaDb({ serverId: 2 }), startMariaDb({ serverId: 3 })]);
    servers.push(src, dst, rep);
    const s = await connect(src.url());
    const t = await connect(dst.url());
    const r = await connect(rep.url());
    const version = String((await queryRows(s, 'SELECT VERSION() AS v'))[0]?.v);
    // The replica follows the source from its first event (before the database exists).
    await r.query(`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${src.port}, MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos`);
    await r.query('START SLAVE');
    await s.query(`CREATE DATABASE ${DB}`);
    await s.query(`CREATE TABLE ${DB}.hb (id INT PRIMARY KEY, ts DATETIME(6) NOT NULL)`);
    await s.query(`INSERT INTO ${DB}.hb VALUES (1, NOW(6))`);
    log(`sysbench prepare: ${TABLES} tables × ${ROWS} rows`);
    await sysbench(src.port, ['prepare']);
    await t.query(`CREATE DATABASE ${DB}`);

    const httpPort = await freePort();
    const run = startTributary('lag', ['sync', '--source', src.url(DB), '--target', dst.url(DB), '--progress', 'none', '--http', `127.0.0.1:${httpPort}`]);
    let exited = false;
    void run.exited.then(() => (exited = true));
    const status = async (): Promise<{ phase?: string; stream?: { lagSeconds?: number } }> => {
      const res = await fetch(`http://127.0.0.1:${httpPort}/status`);
      return (await res.json()) as { phase?: string; stream?: { lagSeconds?: number } };
    };
    for (let i = 0; ; i++) {
      const st = await status().catch(() => undefined);
      if (st?.phase === 'stream') break;
      if (exited) assertClean('sync', await run.exited);
      if (i > 600) throw new Error('tributary did not reach the stream phase in 120 s');
      await sleep(200);
    }
    log('tributary streaming; heartbeat every 200 ms');

    let beating = true;
    const beat = (async () => {
      while (beating) {
        const t0 = Date.now();
        // The value from this clock (latencyWatcher); NOW(6) on the readers is the same machine's clock.
        await s.query(`UPDATE ${DB}.hb SET ts = FROM_UNIXTIME(?) WHERE id = 1`, [Date.now() / 1000]);
        await sleep(Math.max(0, PERIOD_MS - (Date.now() - t0)));
      }
    })();

    const results: Record<string, unknown>[] = [];
    const rows: string[][] = [['rate asked', 'tps', 'tributary p50', 'p99', 'replica p50', 'p99', 'ratio p50', 'p99', '/status p50', 'p99', 'latency trib p50', 'p99', 'replica p50', 'p99', 'catch-up']];
    for (const rate of RATES) {
      await sleep(1000);
      const trib = sampler(() => hbAge(t));
      const repl = sampler(() => hbAge(r));
      const [tribLatency, replLatency] = [latencyWatcher(t), latencyWatcher(r)];
      const stat = sampler(async () => {
        const v = (await status()).stream?.lagSeconds;
        return v === undefined ? undefined : v * 1000;
      });
      const startedAt = Date.now();
      log(`rate ${rate} tps for ${SECONDS} s`);
      const out = await sysbench(src.port, ['run', `--rate=${rate}`, `--time=${SECONDS}`, '--threads=16', '--report-interval=0']);
      const endedAt = Date.now();
      await Promise.all([trib.stop(), repl.stop(), stat.stop(), tribLatency.stop(), replLatency.stop()]);
      const tps = Number(/transactions:\s+\d+\s+\(([\d.]+) per sec/.exec(out)?.[1] ?? NaN);
      const during = (xs: Sample[]) => xs.filter((x) => x.at >= startedAt + WARMUP_MS && x.at <= endedAt).map((x) => x.ms);
      const [a, b, c] = [during(trib.samples), during(repl.samples), during(stat.samples)];
      const [la, lb] = [during(tribLatency.samples), during(replLatency.samples)];
      // Both caught up again before the next rate (and how long that took: a backlog left behind).
      const t0 = Date.now();
      for (;;) {
        const [x, y] = [await hbAge(t), await hbAge(r)];
        if ((x ?? Infinity) < 1000 && (y ?? Infinity) < 1000) break;
        if (Date.now() - t0 > 300_000) throw new Error('no catch-up within 300 s');
        await sleep(PERIOD_MS);
      }
      const catchUp = Date.now() - t0;
      const res = {
        rate,
        tps,
        tributary: { p50: pct(a, 50), p99: pct(a, 99), samples: a.length },
        replica: { p50: pct(b, 50), p99: pct(b, 99), samples: b.length },
        status: { p50: pct(c, 50), p99: pct(c, 99), samples: c.length },
        latency: { tributary: { p50: pct(la, 50), p99: pct(la, 99), samples: la.length }, replica: { p50: pct(lb, 50), p99: pct(lb, 99), samples: lb.length } },
        catchUpMs: catchUp,
      };
      results.push(res);
      rows.push([
        String(rate),
        tps.toFixed(0),
        fmt(res.tributary.p50),
        fmt(res.tributary.p99),
        fmt(res.replica.p50),
        fmt(res.replica.p99),
        `${(res.tributary.p50 / res.replica.p50).toFixed(2)}×`,
        `${(res.tributary.p99 / res.replica.p99).toFixed(2)}×`,
        fmt(res.status.p50),
        fmt(res.status.p99),
        fmt(res.latency.tributary.p50),
        fmt(res.latency.tributary.p99),
        fmt(res.latency.replica.p50),
        fmt(res.latency.replica.p99),
        fmt(catchUp),
      ]);
      log(`rate ${rate}: ${tps.toFixed(0)} tps; tributary p50 ${fmt(res.tributary.p50)} p99 ${fmt(res.tributary.p99)}; replica p50 ${fmt(res.replica.p50)} p99 ${fmt(res.replica.p99)}; /status p50 ${fmt(res.status.p50)} p99 ${fmt(res.status.p99)}; heartbeat latency tributary p50 ${fmt(res.latency.tributary.p50)} p99 ${fmt(res.latency.tributary.p99)}, replica p50 ${fmt(res.latency.replica.p50)} p99 ${fmt(res.latency.replica.p99)}`);
      if (!(tps >= 0.9 * rate)) {
        log(`the source sustained ${tps.toFixed(0)} of ${rate} tps asked: saturated, stopping here`);
        break;
      }
    }
    beating = false;
    await beat;
    await sleep(2000);
    const [want, got, native] = [await fingerprint(s), await fingerprint(t), await fingerprint(r)];
    if (want !== got) throw new Error(`target differs from the source: ${got} against ${want}`);
    if (want !== native) log(`warning: the native replica differs from the source: ${native} against ${want}`);
    log('target equals source');
    run.signal('SIGINT');
    assertClean('sync', await run.exited);
    const loadAfter = loadavg()[0] ?? 0;
    printTable(`\nlag under sysbench oltp_write_only (${TABLES} tables × ${ROWS} rows, ${SECONDS} s per rate), ${version} → same, heartbeat age every ${PERIOD_MS} ms, ${machine().cpus} cores, load ${loadBefore.toFixed(2)}→${loadAfter.toFixed(2)}`, rows);
    process.stdout.write('goals: tributary p99 ≤ 1 s, p50 ≤ 0.2 s (heartbeat age); /status within 0.1 s of the heartbeat (compare it with the heartbeat latency: the age holds the heartbeat period, /status does not)\n');
    const file = writeResult('lag', { benchmark: 'lag', date: new Date().toISOString(), machine: { ...machine(), loadAverageBefore1m: loadBefore, loadAverageAfter1m: loadAfter }, server: version, tables: TABLES, rows: ROWS, secondsPerRate: SECONDS, heartbeatMs: PERIOD_MS, results });
    log(`wrote ${file}`);
    await Promise.all([s.end(), t.end(), r.end()]);
  } finally {
    await Promise.all(servers.map((x) => x.stop().catch(() => undefined)));
  }
}

main().catch((err: unknown) => {
  log(`lag benchmark failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
