import type { CheckerStatus } from '../checksum/continuous.js';

/** Phases of a sync, in order. */
export type Phase = 'starting' | 'copy' | 'stream' | 'stopping' | 'stopped' | 'failed';

export interface TableProgress {
  readonly table: string;
  readonly rowsCopied: number;
  readonly rowsTotal: number;
  readonly done: boolean;
}

/** A structured snapshot of a sync, for programs (and the CLI's progress line). */
export interface Progress {
  readonly phase: Phase;
  /** One human-readable line, e.g. "copy 42.0% 120000 rows/s ETA 1m10s lag 0.4s". */
  readonly summary: string;
  readonly tables: readonly TableProgress[];
  readonly rowsCopied: number;
  readonly rowsTotal: number;
  readonly copyRowsPerSecond: number;
  readonly changesApplied: number;
  readonly changesPerSecond: number;
  readonly lagSeconds: number;
  readonly appliedPosition: string;
  readonly etaSeconds: number | undefined;
  /** The continuous checksum after the copy; null while copying or when turned off. */
  readonly checksum: CheckerStatus | null;
}

/** Operational state beside Progress (Runner.health()): for the HTTP API and health checks. */
export interface RunnerHealth {
  readonly paused: boolean;
  /** True from a retryable failure (a lost connection) until the next attempt has reconnected. */
  readonly retrying: boolean;
  /** Restarts after retryable failures since the run began. */
  readonly reconnects: number;
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  /** The last failure, retried or fatal; its message never holds a password. */
  readonly lastError: { readonly message: string; readonly code: string; readonly fatal: boolean; readonly at: string | null } | null;
  /** Bytes of stream changes read and not yet written to the target. */
  readonly bufferBytes: number;
  /** Committed row changes per table and kind (one per source row change, before coalescing). */
  readonly changesByTable: Readonly<Record<string, { readonly insert: number; readonly update: number; readonly delete: number; readonly upsert: number; readonly truncate: number }>>;
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  s = Math.round(s);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}h${m}m` : m ? `${m}m${sec}s` : `${sec}s`;
}

/** Tracks a rate over a sliding window of samples. */
export class Rate {
  private readonly samples: [number, number][] = [];
  constructor(private readonly windowMs = 5000) {}
  add(total: number, now = Date.now()): number {
    this.samples.push([now, total]);
    while (this.samples.length > 2 && now - (this.samples[0] as [number, number])[0] > this.windowMs) this.samples.shift();
    const [t0, v0] = this.samples[0] as [number, number];
    return now > t0 ? ((total - v0) * 1000) / (now - t0) : 0;
  }
}

function bar(frac: number, width: number): string {
  const n = Math.round(Math.min(1, Math.max(0, frac)) * width);
  return '█'.repeat(n) + '░'.repeat(width - n);
}

/** Renders progress for a terminal (bars) or as one plain line. */
export function renderProgress(p: Progress, tty: boolean): string {
  if (!tty) {
    const tables = p.phase === 'copy' ? ' ' + p.tables.map((t) => `${t.table}=${pct(t)}`).join(' ') : '';
    return `[tributary] ${p.summary}${tables}`;
  }
  const lines = [`tributary ${p.summary}`];
  if (p.phase === 'copy' || p.tables.some((t) => !t.done)) {
    const w = Math.max(...p.tables.map((t) => t.table.length), 5);
    for (const t of p.tables.slice(0, 20)) {
      lines.push(`  ${t.table.padEnd(w)} ${bar(t.rowsTotal ? t.rowsCopied / t.rowsTotal : t.done ? 1 : 0, 30)} ${pct(t).padStart(6)} ${t.rowsCopied}/${t.rowsTotal}`);
    }
  }
  return lines.join('\n');
}

function pct(t: TableProgress): string {
  if (t.done) return '100%';
  return `${(t.rowsTotal ? Math.min(99.9, (100 * t.rowsCopied) / t.rowsTotal) : 0).toFixed(1)}%`;
}
