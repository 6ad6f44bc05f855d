import type { Phase } from '../runner/progress.js';
import type { StatusJson } from './status.js';

const PHASES: readonly Phase[] = ['starting', 'copy', 'stream', 'stopping', 'stopped', 'failed'];
const KINDS = ['insert', 'update', 'delete', 'upsert', 'truncate'] as const;

type Labels = Readonly<Record<string, string>>;

/** Collects metric families and renders them in the Prometheus text format (version 0.0.4). */
class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: 'gauge' | 'counter', help: string, samples: readonly (readonly [Labels, number])[]): void {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) this.lines.push(`${name}${renderLabels(labels)} ${renderValue(value)}`);
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

function renderLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function renderValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** The content type of the text format, for the response header. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** GET /metrics: the status as Prometheus metrics, every name prefixed `tributary_`. */
export function renderMetrics(s: StatusJson): string {
  const m = new Exposition();
  const none: Labels = {};
  m.family('tributary_phase', 'gauge', 'Phase of the sync: 1 for the current phase, 0 for the others.', PHASES.map((p) => [{ phase: p }, p === s.phase ? 1 : 0]));
  m.family('tributary_ready', 'gauge', 'Whether the sync is ready (1) or not (0), as GET /readyz answers.', [[none, s.readiness.ready ? 1 : 0]]);
  m.family('tributary_paused', 'gauge', 'Whether the sync is paused (POST /pause).', [[none, s.paused ? 1 : 0]]);
  m.family('tributary_uptime_seconds', 'gauge', 'Seconds since the sync started.', [[none, s.uptimeSeconds]]);
  m.family('tributary_lag_seconds', 'gauge', "Seconds the target is behind the source's commit time; 0 when idle and caught up.", [[none, s.stream.lagSeconds]]);
  m.family('tributary_rows_copied_total', 'counter', 'Rows copied by the initial copy, per table.', s.copy.tables.map((t) => [{ table: t.table }, t.rowsCopied]));
  m.family('tributary_rows_estimated', 'gauge', "Rows to copy per table, from the source's estimate.", s.copy.tables.map((t) => [{ table: t.table }, t.rowsTotal]));
  m.family('tributary_copy_rows_per_second', 'gauge', 'Copy rate over the last seconds.', [[none, s.copy.rowsPerSecond]]);
  const changes: [Labels, number][] = [];
  for (const [table, c] of Object.entries(s.stream.changesByTable)) {
    for (const kind of KINDS) if (c[kind] > 0 || kind === 'insert' || kind === 'update' || kind === 'delete') changes.push([{ table, kind }, c[kind]]);
  }
  m.family('tributary_changes_applied_total', 'counter', 'Source row changes committed to the target, per table and kind (insert, update, delete; upsert when the source did not tell; truncate).', changes);
  m.family('tributary_changes_per_second', 'gauge', 'Stream apply rate over the last seconds (after coalescing).', [[none, s.stream.changesPerSecond]]);
  m.family('tributary_buffer_bytes', 'gauge', 'Bytes of stream changes read and not yet written to the target.', [[none, s.stream.bufferBytes]]);
  m.family('tributary_reconnects_total', 'counter', 'Restarts from the checkpoint after a retryable failure (lost connection).', [[none, s.stream.reconnects]]);
  m.family('tributary_retrying', 'gauge', 'Whether the sync is retrying after a failure (1) or not (0).', [[none, s.stream.retrying ? 1 : 0]]);
  const c = s.checksum;
  m.family('tributary_checksum_passes_total', 'counter', 'Continuous checksum passes completed.', [[none, c?.passesCompleted ?? 0]]);
  m.family('tributary_checksum_chunks_total', 'counter', 'Chunks the continuous checksum compared.', [[none, c?.chunksChecked ?? 0]]);
  m.family('tributary_checksum_mismatches_total', 'counter', 'Keys that still differed once the stream had passed their read (drift).', [[none, c?.mismatches ?? 0]]);
  m.family('tributary_checksum_repairs_total', 'counter', 'Rows the continuous checksum repaired.', [[none, c?.repairs ?? 0]]);
  const t = s.throttle;
  m.family('tributary_copy_rate_limit_rows', 'gauge', 'Rows per second the copy may read at most (0: no limit).', [[none, t.copyRateLimit]]);
  m.family('tributary_copy_throttled', 'gauge', 'Whether the copy waits for the watched replica (1) or not (0).', [[none, t.waiting ? 1 : 0]]);
  if (t.replicaLagSeconds !== null) {
    m.family('tributary_replica_lag_seconds', 'gauge', 'The watched replica\'s lag behind the source, as it last read.', [[none, t.replicaLagSeconds]]);
  }
  if (s.stream.retainedBytes !== null) {
    m.family('tributary_source_retained_bytes', 'gauge', 'Log the source retains for this sync (PostgreSQL: WAL from the slot restart_lsn to the current WAL position).', [[none, s.stream.retainedBytes]]);
  }
  return m.text();
}
