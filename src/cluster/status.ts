import type { ClusterState } from './store.js';

/** One declared sync as `cluster status` shows it. */
export interface ClusterSyncStatus {
  readonly name: string;
  /** The worker it is assigned to, or null while no worker has room. */
  readonly worker: string | null;
  /** Its phase on that worker as last reported; 'unassigned', or 'assigned' before the first report. */
  readonly phase: string;
  readonly lagSeconds: number | null;
  readonly lastError: { readonly code: string; readonly message: string; readonly at: string | null } | null;
  /** When its report was published, or null. */
  readonly reportedAt: string | null;
  readonly appliedAt: string;
}

/** One live worker as `cluster status` shows it. */
export interface ClusterWorkerStatus {
  readonly name: string;
  readonly host: string;
  readonly pid: number;
  readonly http: string | null;
  readonly capacity: number;
  /** The syncs assigned to it. */
  readonly load: number;
  readonly since: string;
  readonly scheduler: boolean;
}

/** `tributary cluster status --json`. */
export interface ClusterStatus {
  readonly coordinator: string;
  readonly scheduler: string | null;
  readonly syncs: readonly ClusterSyncStatus[];
  readonly workers: readonly ClusterWorkerStatus[];
}

const byName = <T extends { readonly name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The status of the cluster from one reading of its keys: each sync's worker and its report from that worker. */
export function clusterStatus(state: ClusterState, coordinator: string, scheduler: string | undefined): ClusterStatus {
  const load = new Map<string, number>();
  for (const w of state.assignments.values()) load.set(w, (load.get(w) ?? 0) + 1);
  return {
    coordinator,
    scheduler: scheduler ?? null,
    syncs: state.syncs
      .map((s) => {
        const worker = state.assignments.get(s.name) ?? null;
        const report = state.reports.find((r) => r.sync === s.name && r.worker === worker);
        return {
          name: s.name,
          worker,
          phase: report?.phase ?? (worker === null ? 'unassigned' : 'assigned'),
          lagSeconds: report?.lagSeconds ?? null,
          lastError: report?.lastError ?? null,
          reportedAt: report?.at ?? null,
          appliedAt: s.appliedAt,
        };
      })
      .sort(byName),
    workers: state.workers
      .map((w) => ({ name: w.name, host: w.host, pid: w.pid, http: w.http ?? null, capacity: w.capacity, load: load.get(w.name) ?? 0, since: w.since, scheduler: w.name === scheduler }))
      .sort(byName),
  };
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

/** The status for a terminal: a line, the syncs, the workers. */
export function formatClusterStatus(s: ClusterStatus): string {
  const lines = [`cluster ${s.coordinator}: ${s.workers.length} worker${s.workers.length === 1 ? '' : 's'}, ${s.syncs.length} sync${s.syncs.length === 1 ? '' : 's'}, scheduler ${s.scheduler ?? 'none elected'}`, ''];
  lines.push(
    ...table([
      ['SYNC', 'WORKER', 'PHASE', 'LAG', 'LAST ERROR'],
      ...s.syncs.map((y) => [y.name, y.worker ?? '-', y.phase, y.lagSeconds === null ? '-' : `${y.lagSeconds.toFixed(1)}s`, y.lastError ? `${y.lastError.code}: ${y.lastError.message}` : '-']),
    ]),
    '',
    ...table([
      ['WORKER', 'LOAD', 'HOST', 'PID', 'HTTP'],
      ...s.workers.map((w) => [`${w.name}${w.scheduler ? ' (scheduler)' : ''}`, `${w.load}/${w.capacity}`, w.host, String(w.pid), w.http ?? '-']),
    ]),
  );
  return lines.join('\n') + '\n';
}
