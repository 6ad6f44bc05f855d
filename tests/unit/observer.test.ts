/**
 * The SyncObserver seam on in-memory fakes: the applier reports each commit (its changes after
 * coalescing, its timings) and one end-to-end latency per source transaction with changes, none
 * for a heartbeat; the copier reports each chunk committed. SyncMetrics turns them into
 * histograms of its own registry, apart from every other SyncMetrics in the process.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Change, StreamEvent } from '../../src/core/change.js';
import type { SyncObserver } from '../../src/core/observer.js';
import { Copier } from '../../src/copier/copier.js';
import { Convergence } from '../../src/copier/convergence.js';
import { StreamApplier } from '../../src/stream/applier.js';
import { SyncMetrics } from '../../src/server/metrics.js';
import { HttpApi } from '../../src/server/server.js';
import type { StatusJson } from '../../src/server/status.js';
import { FakeSource, FakeTarget, TABLE, until } from '../helpers/fakes.js';
import { exposedNames, promtool, runPromtool } from '../helpers/promql.js';
import { metricSamples } from '../helpers/metrics.js';

const logger = pino({ level: 'silent' });
const up = (id: number, v: string): Change => ({ kind: 'upsert', table: 't', key: [BigInt(id)], row: [BigInt(id), v] });

class Recorder implements SyncObserver {
  readonly commits: { changes: number; applySeconds: number; commitSeconds: number }[] = [];
  readonly latencies: number[] = [];
  readonly chunks: { table: string; rows: number; seconds: number }[] = [];
  streamCommitted(b: { changes: number; applySeconds: number; commitSeconds: number }): void {
    this.commits.push(b);
  }
  changeCommitted(s: number): void {
    this.latencies.push(s);
  }
  chunkCopied(c: { table: string; rows: number; seconds: number }): void {
    this.chunks.push(c);
  }
}


const STATUS = {
  phase: 'stream', paused: false, readiness: { ready: true, reason: null }, uptimeSeconds: 1,
  copy: { rowsPerSecond: 0, tables: [{ table: 't', rowsCopied: 3, rowsTotal: 3, state: 'done' }] },
  stream: { lagSeconds: 0, changesPerSecond: 0, bufferBytes: 0, reconnects: 0, retrying: false, retainedBytes: 4096, changesByTable: {} },
  checksum: null,
  throttle: { copyRateLimit: 0, replica: null, replicaLagSeconds: null, waiting: false, reason: null },
} as unknown as StatusJson;

describe('StreamApplier observer', () => {
  it('reports each commit with its coalesced changes and timings, and one latency per source transaction with changes', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    const obs = new Recorder();
    const applier = new StreamApplier({
      source: source.asSource(), target: target.asTarget(), tables: [TABLE], from: '0', sourceId: 'fake',
      // The batch commits once 3 changes are pending at a boundary: after the second transaction,
      // whatever the machine's load; the heartbeat's commit comes after the flush interval.
      convergence: new Convergence(), batchSize: 3, flushIntervalMs: 1000, bufferBytes: 1 << 20, logger, observer: obs,
    });
    const now = Date.now();
    // Two transactions, committed on the source 5 s and 2 s ago; key 1 twice: coalesced to one write.
    const events: StreamEvent[] = [
      { type: 'begin' }, { type: 'change', change: up(1, 'a') }, { type: 'change', change: up(2, 'a') }, { type: 'commit', position: '1', timestamp: now - 5000 },
      { type: 'begin' }, { type: 'change', change: up(1, 'b') }, { type: 'change', change: up(3, 'b') }, { type: 'commit', position: '2', timestamp: now - 2000 },
    ];
    const running = applier.run();
    source.push(...events);
    await until('the batch to commit', () => applier.snapshot().appliedPosition === '2');
    expect(obs.commits.filter((c) => c.changes > 0)).toHaveLength(1);
    const batch = obs.commits.find((c) => c.changes > 0);
    expect(batch?.changes).toBe(3);
    expect(batch?.applySeconds).toBeGreaterThanOrEqual(batch?.commitSeconds ?? Infinity);
    expect(obs.latencies).toHaveLength(2);
    const [l1, l2] = [...obs.latencies].sort((a, b) => b - a);
    expect(l1).toBeGreaterThanOrEqual(5);
    expect(l1).toBeLessThan(15);
    expect(l2).toBeGreaterThanOrEqual(2);
    expect(l2).toBeLessThan(l1 as number);
    // A heartbeat moves the position: a checkpoint-only commit, no latency.
    source.push({ type: 'heartbeat', position: '3', timestamp: Date.now() });
    await until('the heartbeat commit', () => applier.snapshot().appliedPosition === '3');
    expect(obs.latencies).toHaveLength(2);
    expect(obs.commits.at(-1)?.changes).toBe(0);
    applier.stop();
    await running;
  });
});

describe('Copier observer', () => {
  it('reports every chunk committed with its rows', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    for (let i = 1; i <= 250; i++) source.table('t').put([BigInt(i), 'v']);
    const obs = new Recorder();
    const copier = new Copier({
      source: source.asSource(), target: target.asTarget(), tables: [TABLE], resume: new Map(), threads: 2, chunkTimeMs: 1000,
      initialChunkSize: 100, chunkBytes: 1 << 20, convergence: new Convergence(), release: () => undefined, logger,
      signal: new AbortController().signal, observer: obs,
    });
    await copier.run();
    expect(obs.chunks.length).toBeGreaterThanOrEqual(3);
    expect(obs.chunks.reduce((n, c) => n + c.rows, 0)).toBe(250);
    for (const c of obs.chunks) {
      expect(c.table).toBe('t');
      expect(c.seconds).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('SyncMetrics', () => {
  it('records the observer calls in histograms, in a registry of its own per instance', async () => {
    const a = new SyncMetrics({ defaultMetrics: false });
    const b = new SyncMetrics({ defaultMetrics: false });
    a.streamCommitted({ changes: 120, applySeconds: 0.03, commitSeconds: 0.004 });
    a.streamCommitted({ changes: 0, applySeconds: 0.001, commitSeconds: 0.001 });
    a.changeCommitted(1.5);
    a.chunkCopied({ table: 't', rows: 1000, seconds: 0.4 });
    const sa = metricSamples(await a.render(STATUS));
    const sb = metricSamples(await b.render(STATUS));
    expect(sa.get('tributary_target_commit_seconds_count')).toBe(2);
    // The checkpoint-only commit is no batch.
    expect(sa.get('tributary_stream_batch_changes_count')).toBe(1);
    expect(sa.get('tributary_stream_batch_changes_sum')).toBe(120);
    expect(sa.get('tributary_stream_batch_changes_bucket{le="100"}')).toBe(0);
    expect(sa.get('tributary_stream_batch_changes_bucket{le="250"}')).toBe(1);
    expect(sa.get('tributary_stream_batch_apply_seconds_count')).toBe(1);
    expect(sa.get('tributary_change_latency_seconds_bucket{le="2"}')).toBe(1);
    expect(sa.get('tributary_change_latency_seconds_bucket{le="1"}')).toBe(0);
    expect(sa.get('tributary_copy_chunk_seconds_count')).toBe(1);
    for (const name of ['tributary_target_commit_seconds_count', 'tributary_change_latency_seconds_count', 'tributary_copy_chunk_seconds_count']) {
      expect(sb.get(name), name).toBe(0);
    }
  });

  it('follows the status: a table gone leaves the exposition, optional gauges only while known, counters set to totals', async () => {
    const m = new SyncMetrics({ defaultMetrics: false });
    let s = metricSamples(await m.render(STATUS));
    expect(s.get('tributary_rows_copied_total{table="t"}')).toBe(3);
    expect(s.get('tributary_source_retained_bytes')).toBe(4096);
    expect(s.has('tributary_replica_lag_seconds')).toBe(false);
    const next = {
      ...STATUS,
      copy: { ...STATUS.copy, tables: [{ table: 'u', rowsCopied: 7, rowsTotal: 9, state: 'copying' }] },
      stream: { ...STATUS.stream, retainedBytes: null, reconnects: 4 },
      throttle: { ...STATUS.throttle, replicaLagSeconds: 2.5 },
    } as unknown as StatusJson;
    const text = await m.render(next);
    s = metricSamples(text);
    expect(s.has('tributary_rows_copied_total{table="t"}')).toBe(false);
    expect(s.get('tributary_rows_copied_total{table="u"}')).toBe(7);
    expect(s.get('tributary_rows_estimated{table="u"}')).toBe(9);
    expect(s.get('tributary_reconnects_total')).toBe(4);
    expect(s.get('tributary_replica_lag_seconds')).toBe(2.5);
    expect(text).not.toContain('tributary_source_retained_bytes');
    s = metricSamples(await m.render(STATUS));
    expect(s.get('tributary_source_retained_bytes')).toBe(4096);
    expect(s.get('tributary_reconnects_total')).toBe(0);
  });

  it('exposes the process and Node.js metrics, and passes promtool check metrics', async () => {
    const text = await new SyncMetrics().render(STATUS);
    const names = exposedNames(text);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(names.has(name), name).toBe(true);
    }
    expect(text).toContain('# TYPE nodejs_gc_duration_seconds histogram');
    if (!promtool()) {
      console.warn('promtool is not installed (scripts/install.sh installs it): promtool check metrics skipped');
      return;
    }
    const r = runPromtool(['check', 'metrics'], text);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('lets two HTTP APIs with default metrics live in one process (no global registry)', () => {
    const runner = {} as ConstructorParameters<typeof HttpApi>[0]['runner'];
    expect(() => [new HttpApi({ runner, listen: '127.0.0.1:0' }), new HttpApi({ runner, listen: '127.0.0.1:0' })]).not.toThrow();
  });
});
