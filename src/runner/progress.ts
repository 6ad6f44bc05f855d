import type { CheckerStatus } from '../checksum/continuous.js';
import { displayWidth, padToWidth, truncateToWidth } from './width.js';

import type { Member } from '../coordination/leadership.js';

/** Phases of a sync, in order; `standby` (coordinator mode) while another instance leads. */
export type Phase = 'starting' | 'standby' | 'copy' | 'stream' | 'stopping' | 'stopped' | 'failed';

/** Coordinator mode (docs/standby.md): this instance's role, its leadership and the instances campaigning. */
export interface CoordinationStatus {
  /** 'coordinator etcd://…/prefix' (no password). */
  readonly coordinator: string;
  readonly role: 'leader' | 'standby';
  /** The epoch of this instance's leadership (the current one while it leads, the last one while it stands by); null before its first. */
  readonly epoch: string | null;
  /** How often this instance took the lead since it started. */
  readonly leaderships: number;
  /** The lease time to live, seconds. */
  readonly ttlSeconds: number;
  /** Every instance campaigning, the leader first, as last read from the coordinator. */
  readonly members: readonly Member[];
}

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

/** A schema change the stream applied, as the status shows it. */
export interface SchemaChangeStatus {
  readonly statement: string;
  readonly tables: readonly string[];
  readonly position: string;
  readonly at: string;
}

/** Operational state beside Progress (Runner.health()): for the HTTP API and health checks. */
export interface RunnerHealth {
  readonly paused: boolean;
  /** True from a retryable failure (a lost connection) until the next attempt has reconnected. */
  readonly retrying: boolean;
  /** Restarts after retryable failures since the run began. */
  readonly reconnects: number;
  /** The source host:port in use when the source URL names several (docs/failover.md); absent otherwise. */
  readonly sourceHost?: string;
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  /** The last failure, retried or fatal; its message never holds a password. */
  readonly lastError: { readonly message: string; readonly code: string; readonly fatal: boolean; readonly at: string | null } | null;
  /** Bytes of stream changes read and not yet written to the target. */
  readonly bufferBytes: number;
  /** Schema changes the stream applied to the target (or went past by --skip-ddl) since the run began. */
  readonly schemaChanges: number;
  /** The last of them: its statement (at most 300 characters), tables, position after it, and when. */
  readonly lastSchemaChange: SchemaChangeStatus | null;
  /** Committed row changes per table and kind (one per source row change, before coalescing). */
  readonly changesByTable: Readonly<Record<string, { readonly insert: number; readonly update: number; readonly delete: number; readonly upsert: number; readonly truncate: number }>>;
  /** Coordinator mode only: role, epoch, instances; null otherwise. */
  readonly coordination: CoordinationStatus | null;
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

/** The space a terminal progress block may take (the printer passes the terminal's size). */
export interface BlockSize {
  /** Most columns any line may take (display width, see width.ts). */
  readonly width: number;
  /** Most lines the block may take. */
  readonly height: number;
}

/** Below this width the block is laid out compactly: abbreviated numbers, shorter words and bars. */
const COMPACT_BELOW = 100;

function bar(frac: number, width: number): string {
  const n = Math.round(Math.min(1, Math.max(0, frac)) * width);
  return '█'.repeat(n) + '░'.repeat(width - n);
}

/** 6984 → "6984" (wide) or "6.98k" (compact): at most 5 characters compact, so columns line up. */
function num(n: number, compact: boolean): string {
  n = Math.round(n);
  if (!compact || Math.abs(n) < 1000) return String(n);
  for (const [div, unit] of [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']] as const) {
    if (Math.abs(n) >= div) {
      const v = n / div;
      return (Math.abs(v) < 10 ? v.toFixed(2) : Math.abs(v) < 100 ? v.toFixed(1) : v.toFixed(0)) + unit;
    }
  }
  return String(n);
}

/** The copy's throttle, when the snapshot carries one (Runner.progress() does). */
function throttleOf(p: Progress): { readonly waiting: boolean; readonly reason: string | null } | undefined {
  const t = (p as { throttle?: { waiting?: unknown; reason?: unknown } }).throttle;
  return t && typeof t.waiting === 'boolean' ? { waiting: t.waiting, reason: typeof t.reason === 'string' ? t.reason : null } : undefined;
}

/** The block's first line, from the snapshot's fields (not `summary`, so it can be laid out per width). */
function statusLine(p: Progress, compact: boolean): string {
  const lag = `lag ${p.lagSeconds.toFixed(1)}s`;
  if (p.phase === 'copy') {
    const pct = (p.rowsTotal ? Math.min(99.9, (100 * p.rowsCopied) / p.rowsTotal) : 0).toFixed(1);
    const eta = p.etaSeconds === undefined ? '?' : formatDuration(p.etaSeconds);
    const rows = `${num(p.rowsCopied, compact)}/${num(p.rowsTotal, compact)}`;
    let s = compact
      ? `copy ${pct}% ${rows} ${num(p.copyRowsPerSecond, true)} rows/s ETA ${eta} | ${num(p.changesPerSecond, true)} chg/s ${lag}`
      : `copy ${pct}% ${rows} rows ${num(p.copyRowsPerSecond, false)} rows/s ETA ${eta} | stream ${num(p.changesPerSecond, false)} changes/s ${lag}`;
    const throttle = throttleOf(p);
    if (throttle?.waiting) s += ` | copy waiting: ${throttle.reason ?? 'replica'}`;
    return `tributary ${s}`;
  }
  if (p.phase === 'stream') {
    let s = compact
      ? `stream ${num(p.changesApplied, true)} applied ${num(p.changesPerSecond, true)}/s ${lag}`
      : `stream ${p.changesApplied} changes applied ${num(p.changesPerSecond, false)} changes/s ${lag}${p.appliedPosition ? ` at ${p.appliedPosition}` : ''}`;
    const c = p.checksum;
    if (c && c.pass > 0) s += compact ? ` | checksum #${c.pass} ${c.state}${c.repairs ? ` ${c.repairs} fixed` : ''}` : ` | checksum pass ${c.pass} ${c.state}, ${c.repairs} repaired`;
    return `tributary ${s}`;
  }
  // A clean stop: what was done, not the last retried error (which the summary would name).
  if (p.phase === 'stopped') return `tributary stopped: ${num(p.rowsCopied, compact)} rows copied, ${num(p.changesApplied, compact)} changes applied`;
  return `tributary ${p.summary}`;
}

/**
 * Renders progress for a terminal (a block: a status line and a bar per table) or as one plain line.
 * On a terminal every line fits `size.width` columns by display width, and the block has at most
 * `size.height` lines: a redraw in place counts on both (cli/progress-printer.ts). Below 100 columns
 * the layout is compact (abbreviated numbers, shorter bars); tables that do not fit are summed up in
 * one last line, those still copying shown first.
 */
export function renderProgress(p: Progress, tty: boolean, size: BlockSize = { width: 120, height: 40 }): string {
  if (!tty) {
    const tables = p.phase === 'copy' ? ' ' + p.tables.map((t) => `${t.table}=${pct(t)}`).join(' ') : '';
    return `[tributary] ${p.summary}${tables}`;
  }
  const width = Math.max(1, Math.floor(size.width));
  const height = Math.max(1, Math.floor(size.height));
  const compact = width < COMPACT_BELOW;
  const lines = [statusLine(p, compact)];
  if ((p.phase === 'copy' || p.tables.some((t) => !t.done)) && height > 1) {
    // Tables still copying first, so the ones that matter stay in view when the block is cut.
    const ordered = [...p.tables.filter((t) => !t.done), ...p.tables.filter((t) => t.done)];
    const room = height - 1;
    const shown = ordered.length <= room ? p.tables : ordered.slice(0, room - 1);
    const counts = shown.map((t) => `${num(t.rowsCopied, compact)}/${num(t.rowsTotal, compact)}`);
    const countW = Math.max(0, ...counts.map((c) => c.length));
    const nameW = Math.min(Math.max(5, ...shown.map((t) => displayWidth(t.table))), compact ? 16 : 32);
    // "  name bar pct counts": what is left for the bar, within 8..30 columns (none when too narrow).
    const left = width - (2 + nameW + 1 + 1 + 6 + 1 + countW);
    const barW = left >= 8 ? Math.min(left, compact ? 20 : 30) : 0;
    shown.forEach((t, i) => {
      const frac = t.rowsTotal ? t.rowsCopied / t.rowsTotal : t.done ? 1 : 0;
      const name = padToWidth(truncateToWidth(t.table, nameW), nameW);
      lines.push(`  ${name} ${barW ? bar(t.done ? 1 : frac, barW) + ' ' : ''}${pct(t).padStart(6)} ${(counts[i] ?? '').padStart(countW)}`);
    });
    if (shown.length < ordered.length) {
      const hidden = ordered.slice(shown.length);
      const done = hidden.filter((t) => t.done).length;
      lines.push(`  … ${hidden.length} more table${hidden.length > 1 ? 's' : ''} (${done} done)`);
    }
  }
  return lines.map((l) => truncateToWidth(l, width)).join('\n');
}
function pct(t: TableProgress): string {
  if (t.done) return '100%';
  return `${(t.rowsTotal ? Math.min(99.9, (100 * t.rowsCopied) / t.rowsTotal) : 0).toFixed(1)}%`;
}
