import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { SyncObserver } from '../core/observer.js';
import type { Phase } from '../runner/progress.js';
import { HistogramObserver } from './metrics-histograms.js';
import type { StatusJson } from './status.js';

const PHASES: readonly Phase[] = ['starting', 'standby', 'copy', 'stream', 'stopping', 'stopped', 'failed'];
const KINDS = ['insert', 'update', 'delete', 'upsert', 'truncate'] as const;

type Labels = Record<string, string>;

/** prom-client default metrics left out (see the constructor). */
const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** The content type of the text format (version 0.0.4), for the response header. */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export interface SyncMetricsOptions {
  /**
   * Also expose prom-client's process and Node.js metrics (process_cpu_seconds_total,
   * process_resident_memory_bytes, nodejs_eventloop_lag_seconds, nodejs_gc_duration_seconds, …).
   * Default true. They install an event-loop delay monitor and a GC observer that live as long
   * as the process.
   */
  readonly defaultMetrics?: boolean;
}

/**
 * The metrics of one sync, in a registry of its own (never prom-client's global one, so two
 * syncs in one process keep theirs apart):
 * - the `tributary_*` families read from the status at each scrape (render());
 * - histograms fed while the sync works: pass this object as the Runner's `observer`
 *   (RunnerOptions.observer) and to the HttpApi (HttpApiOptions.metrics);
 * - prom-client's default process and Node.js metrics (see SyncMetricsOptions).
 *
 * docs/metrics.md lists every series; deploy/grafana and deploy/prometheus use them, and a test
 * checks that every name they use is exposed.
 */
export class SyncMetrics implements SyncObserver {
  readonly registry = new Registry();
  private readonly histograms: HistogramObserver;
  private readonly gauges: Readonly<Record<GaugeName, Gauge>>;
  private readonly counters: Readonly<Record<CounterName, Counter>>;
  /** Gauges exposed only while their value is known (the family is absent otherwise, as before). */
  private readonly optional: Readonly<Record<OptionalName, Gauge>>;

  constructor(opts: SyncMetricsOptions = {}) {
    const registers = [this.registry];
    const gauge = (name: string, help: string, labelNames: string[] = [], into = registers) => new Gauge({ name, help, labelNames, registers: into });
    const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers });
    this.gauges = {
      phase: gauge('tributary_phase', 'Phase of the sync: 1 for the current phase, 0 for the others.', ['phase']),
      ready: gauge('tributary_ready', 'Whether the sync is ready (1) or not (0), as GET /readyz answers.'),
      paused: gauge('tributary_paused', 'Whether the sync is paused (POST /pause).'),
      uptime: gauge('tributary_uptime_seconds', 'Seconds since the sync started.'),
      lag: gauge('tributary_lag_seconds', "Seconds the target is behind the source's commit time; 0 when idle and caught up."),
      rowsEstimated: gauge('tributary_rows_estimated', "Rows to copy per table, from the source's estimate.", ['table']),
      copyRate: gauge('tributary_copy_rows_per_second', 'Copy rate over the last seconds.'),
      changeRate: gauge('tributary_changes_per_second', 'Stream apply rate over the last seconds (after coalescing).'),
      buffer: gauge('tributary_buffer_bytes', 'Bytes of stream changes read and not yet written to the target.'),
      retrying: gauge('tributary_retrying', 'Whether the sync is retrying after a failure (1) or not (0).'),
      rateLimit: gauge('tributary_copy_rate_limit_rows', 'Rows per second the copy may read at most (0: no limit).'),
      throttled: gauge('tributary_copy_throttled', 'Whether the copy waits for the watched replica (1) or not (0).'),
    };
    this.counters = {
      rowsCopied: counter('tributary_rows_copied_total', 'Rows copied by the initial copy, per table.', ['table']),
      changes: counter('tributary_changes_applied_total', 'Source row changes committed to the target, per table and kind (insert, update, delete; upsert when the source did not tell; truncate).', ['table', 'kind']),
      reconnects: counter('tributary_reconnects_total', 'Restarts from the checkpoint after a retryable failure (lost connection).'),
      schemaChanges: counter('tributary_schema_changes_total', 'Schema changes of synced tables the stream applied to the target (or went past by --skip-ddl).'),
      passes: counter('tributary_checksum_passes_total', 'Continuous checksum passes completed.'),
      chunks: counter('tributary_checksum_chunks_total', 'Chunks the continuous checksum compared.'),
      mismatches: counter('tributary_checksum_mismatches_total', 'Keys that still differed once the stream had passed their read (drift).'),
      repairs: counter('tributary_checksum_repairs_total', 'Rows the continuous checksum repaired.'),
    };
    this.optional = {
      replicaLag: gauge('tributary_replica_lag_seconds', "The watched replica's lag behind the source, as it last read.", [], []),
      leader: gauge('tributary_leader', 'Coordinator mode: 1 while this instance leads the sync, 0 while it stands by; label sync: the sync id, the same on every instance of the sync.', ['sync'], []),
      epoch: gauge('tributary_leader_epoch', "Coordinator mode: the epoch of this instance's current (or last) leadership; 0 before its first.", ['sync'], []),
      retained: gauge('tributary_source_retained_bytes', 'Log the source retains for this sync (PostgreSQL: WAL from the slot restart_lsn to the current WAL position).', [], []),
    };
    this.histograms = new HistogramObserver(this.registry);
    if (opts.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters, which `promtool check metrics` rejects; each is the sum of
      // the family of the same name without `_total` (per resource type), which stays.
      for (const name of LINT_FAILING_DEFAULTS) this.registry.removeSingleMetric(name);
    }
  }

  /** The exposition (Prometheus text format) with the status families set from `s`. */
  async render(s: StatusJson): Promise<string> {
    this.update(s);
    return this.registry.metrics();
  }

  streamCommitted(batch: { readonly changes: number; readonly applySeconds: number; readonly commitSeconds: number }): void {
    this.histograms.streamCommitted(batch);
  }

  changeCommitted(latencySeconds: number): void {
    this.histograms.changeCommitted(latencySeconds);
  }

  chunkCopied(chunk: { readonly table: string; readonly rows: number; readonly seconds: number }): void {
    this.histograms.chunkCopied(chunk);
  }

  /**
   * Sets every status family from one status, synchronously, so a scrape never sees half of one
   * status and half of another. Families with a label are emptied first: a table that left the
   * status leaves the exposition.
   */
  private update(s: StatusJson): void {
    const g = this.gauges;
    g.phase.reset();
    for (const p of PHASES) g.phase.set({ phase: p }, p === s.phase ? 1 : 0);
    g.ready.set(s.readiness.ready ? 1 : 0);
    g.paused.set(s.paused ? 1 : 0);
    g.uptime.set(s.uptimeSeconds);
    g.lag.set(s.stream.lagSeconds);
    g.rowsEstimated.reset();
    for (const t of s.copy.tables) g.rowsEstimated.set({ table: t.table }, t.rowsTotal);
    g.copyRate.set(s.copy.rowsPerSecond);
    g.changeRate.set(s.stream.changesPerSecond);
    g.buffer.set(s.stream.bufferBytes);
    g.retrying.set(s.stream.retrying ? 1 : 0);
    g.rateLimit.set(s.throttle.copyRateLimit);
    g.throttled.set(s.throttle.waiting ? 1 : 0);

    const c = this.counters;
    setCounter(c.rowsCopied, s.copy.tables.map((t) => [{ table: t.table }, t.rowsCopied]));
    const changes: [Labels, number][] = [];
    for (const [table, n] of Object.entries(s.stream.changesByTable)) {
      // insert, update and delete always (a rate over them works from the first scrape); the
      // rarer kinds once they happen.
      for (const kind of KINDS) if (n[kind] > 0 || kind === 'insert' || kind === 'update' || kind === 'delete') changes.push([{ table, kind }, n[kind]]);
    }
    setCounter(c.changes, changes);
    setCounter(c.reconnects, [[{}, s.stream.reconnects]]);
    setCounter(c.schemaChanges, [[{}, s.stream.schemaChanges]]);
    const ck = s.checksum;
    setCounter(c.passes, [[{}, ck?.passesCompleted ?? 0]]);
    setCounter(c.chunks, [[{}, ck?.chunksChecked ?? 0]]);
    setCounter(c.mismatches, [[{}, ck?.mismatches ?? 0]]);
    setCounter(c.repairs, [[{}, ck?.repairs ?? 0]]);

    this.setOptional('tributary_replica_lag_seconds', this.optional.replicaLag, s.throttle.replicaLagSeconds);
    this.setOptional('tributary_source_retained_bytes', this.optional.retained, s.stream.retainedBytes);
    const co = s.coordination;
    this.setOptional('tributary_leader', this.optional.leader, co ? (co.role === 'leader' ? 1 : 0) : null, { sync: s.syncId });
    this.setOptional('tributary_leader_epoch', this.optional.epoch, co ? Number(co.epoch ?? 0) : null, { sync: s.syncId });
  }

  private setOptional(name: string, g: Gauge, value: number | null, labels: Record<string, string> = {}): void {
    if (value === null) {
      this.registry.removeSingleMetric(name);
      return;
    }
    if (!this.registry.getSingleMetric(name)) this.registry.registerMetric(g);
    g.set(labels, value);
  }
}

type GaugeName = 'phase' | 'ready' | 'paused' | 'uptime' | 'lag' | 'rowsEstimated' | 'copyRate' | 'changeRate' | 'buffer' | 'retrying' | 'rateLimit' | 'throttled';
type CounterName = 'rowsCopied' | 'changes' | 'reconnects' | 'schemaChanges' | 'passes' | 'chunks' | 'mismatches' | 'repairs';
type OptionalName = 'replicaLag' | 'retained' | 'leader' | 'epoch';

/**
 * A counter set to the totals the sync keeps itself (the status holds totals, not increments).
 * They only grow while the process lives, so Prometheus's rate() sees a counter; a restart starts
 * them again from the checkpoint's totals or 0, which rate() reads as a counter reset.
 */
function setCounter(c: Counter, samples: readonly (readonly [Labels, number])[]): void {
  c.reset();
  for (const [labels, value] of samples) {
    const v = Math.max(0, value);
    if (Object.keys(labels).length) c.inc(labels, v);
    else c.inc(v);
  }
}

/**
 * The status alone as a Prometheus exposition, in a registry of its own: the `tributary_*`
 * families (the histograms empty) without process metrics. For a program that serves its own /metrics
 * from a status; the HTTP API uses a SyncMetrics.
 */
export async function renderMetrics(s: StatusJson): Promise<string> {
  return new SyncMetrics({ defaultMetrics: false }).render(s);
}
