/**
 * GET /metrics of a real `tributary sync --http` (PostgreSQL → PostgreSQL, two databases of one
 * throwaway server: a PostgreSQL source is the one that reports the slot's retained WAL) after
 * the copy and some stream transactions:
 * - the exposition passes `promtool check metrics`;
 * - every series the Grafana dashboard (deploy/grafana/tributary.json) and the alert rules
 *   (deploy/prometheus/alerts.yml) use is in it, `up` aside (Prometheus makes it);
 * - the histograms (batch apply, batch size, target commit, copy chunk, end-to-end latency)
 *   have counted what the sync did, beside the status families and the process metrics.
 * The sync runs with --coordinator (a throwaway etcd), as the one instance of a standby group, so
 * the standby series (tributary_leader, tributary_leader_epoch) are there too.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEtcd, startPostgres, type EtcdServer, type Server } from '../../src/testing/servers.js';
import { startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import { alertRules, dashboardExprs, exposedNames, promtool, runPromtool, seriesNames, SYNTHETIC_SERIES } from '../helpers/promql.js';
import { metricSamples } from '../helpers/metrics.js';

let server: Server;
let etcd: EtcdServer;
const clients: pg.Client[] = [];
const running: CliRun[] = [];

beforeAll(async () => {
  [server, etcd] = await Promise.all([startPostgres(), startEtcd()]);
});

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  for (const c of clients) await c.end().catch(() => undefined);
  await Promise.all([server?.stop(), etcd?.stop()]);
});

async function client(db: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: server.url(db) });
  c.on('error', () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return res.text();
}

/** Every series name the dashboard and the alert rules select, and where each is used. */
function usedSeries(): Map<string, string[]> {
  const used = new Map<string, string[]>();
  const add = (expr: string, where: string) => {
    for (const name of seriesNames(expr)) used.set(name, [...(used.get(name) ?? []), where]);
  };
  for (const e of dashboardExprs()) add(e, 'dashboard');
  for (const r of alertRules()) add(r.expr, `alert ${r.alert}`);
  return used;
}

const HISTOGRAMS = ['tributary_stream_batch_apply_seconds', 'tributary_stream_batch_changes', 'tributary_target_commit_seconds', 'tributary_copy_chunk_seconds', 'tributary_change_latency_seconds'];

describe('GET /metrics of a running sync', () => {
  it('passes promtool, has every series the dashboard and the alerts use, and histograms that counted the copy and the stream', async () => {
    const admin = await client('postgres');
    await admin.query('CREATE DATABASE msrc');
    await admin.query('CREATE DATABASE mdst');
    const src = await client('msrc');
    await src.query('CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 3000) g');
    const dst = await client('mdst');
    const port = await freePort();
    const run = startCli(['sync', '--source', server.url('msrc'), '--target', server.url('mdst'), '--http', `127.0.0.1:${port}`, '--flush-interval', '100ms', '--chunk-size', '500', '--coordinator', etcd.url('metrics')]);
    running.push(run);
    const alive = () => {
      if (run.child.exitCode !== null) throw new Error(`the sync exited with ${run.child.exitCode}: ${run.stderr().slice(-2000)}`);
    };
    await waitUntil('the sync to stream', async () => {
      alive();
      const r = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return r?.status === 200 && ((await r.json()) as { phase: string }).phase === 'stream';
    }, 90_000, 200);

    // Stream: several source transactions of each kind.
    for (let i = 0; i < 5; i++) {
      await src.query(`INSERT INTO t SELECT g, 'new' FROM generate_series(${4000 + i * 100}, ${4000 + i * 100 + 49}) g`);
      await src.query(`UPDATE t SET v = 'upd${i}' WHERE id BETWEEN ${i * 10 + 1} AND ${i * 10 + 10}`);
      await src.query(`DELETE FROM t WHERE id = ${2000 + i}`);
    }
    const expected = 3000 + 5 * 50 - 5;
    await waitUntil('the changes on the target', async () => {
      alive();
      const r = await dst.query<{ n: string }>('SELECT count(*) AS n FROM t');
      return Number(r.rows[0]?.n) === expected;
    }, 60_000);

    // The counts reach /metrics with the next status; the GC histogram once the process has
    // collected garbage since the registry was made (it has, by the end of a copy, but give it time).
    const used = usedSeries();
    let text = '';
    let missing: string[] = [];
    await waitUntil('every series used by the dashboard and the alerts, and the stream counted', async () => {
      alive();
      text = await scrape(port);
      const names = exposedNames(text);
      missing = [...used.keys()].filter((n) => !SYNTHETIC_SERIES.has(n) && !names.has(n));
      return missing.length === 0 && (metricSamples(text).get('tributary_changes_applied_total{table="t",kind="delete"}') ?? 0) === 5;
    }, 60_000, 500).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; missing: ${missing.map((n) => `${n} (${(used.get(n) ?? []).join(', ')})`).join('; ')}`);
    });
    expect(missing).toEqual([]);
    // The dashboard and the alerts between them use every family of tributary's own.
    expect(used.size).toBeGreaterThan(25);

    if (promtool()) {
      const r = runPromtool(['check', 'metrics'], text);
      expect(r.output).toBe('');
      expect(r.status).toBe(0);
    } else {
      console.warn('promtool is not installed (scripts/install.sh installs it): promtool check metrics skipped');
    }

    const s = metricSamples(text);
    expect(s.get('tributary_rows_copied_total{table="t"}')).toBe(3000);
    expect(s.get('tributary_changes_applied_total{table="t",kind="insert"}')).toBe(250);
    expect(s.get('tributary_changes_applied_total{table="t",kind="update"}')).toBe(50);
    expect(s.get('tributary_phase{phase="stream"}')).toBe(1);
    expect(s.get('tributary_ready')).toBe(1);
    expect(s.get('tributary_source_retained_bytes')).toBeGreaterThanOrEqual(0);
    for (const h of HISTOGRAMS) expect(s.get(`${h}_count`), `${h}_count`).toBeGreaterThan(0);
    // 3000 rows in chunks of at most 500 (adapting to --chunk-time, never past the byte bound).
    expect(s.get('tributary_copy_chunk_seconds_count')).toBeGreaterThanOrEqual(3);
    // 15 source transactions with changes, each one latency sample.
    expect(s.get('tributary_change_latency_seconds_count')).toBeGreaterThanOrEqual(15);
    // Every change committed by the stream is in a batch: at least the 305 (coalescing aside, none here).
    expect(s.get('tributary_stream_batch_changes_sum')).toBeGreaterThanOrEqual(305);
    expect(s.get('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(s.get('process_resident_memory_bytes')).toBeGreaterThan(0);

    // A clean stop: the API goes with the sync.
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });
});
