import type { Column, TableSchema } from '../core/schema.js';
import type { Row, Value } from '../core/values.js';
import type { Mode } from './plan.js';

/**
 * What a verify found, as plain data: the CLI prints it (one line per table, then bounded lists of
 * differing ranges and keys) or writes it as one JSON document, and library callers read it.
 * Counts are exact; lists are bounded (MAX_KEYS_PER_RANGE keys per range, MAX_RANGES ranges per
 * table), so a badly drifted table cannot flood the output or memory.
 */

export const MAX_KEYS_PER_RANGE = 100;
export const MAX_RANGES = 20;

/** A value as JSON: integers as numbers while exact, else as strings; bytes as '0x…' hex. */
export type JsonValue = null | boolean | number | string;

/** Column name → value, for a key (or, in a table without a key, a whole row). */
export type KeyJson = Record<string, JsonValue>;

export interface KeyReport {
  readonly kind: 'missing' | 'extra' | 'changed';
  readonly key: KeyJson;
  /** changed: the columns whose values differ. */
  readonly columns?: readonly string[];
  /** Tables without a key: how many more copies of this row one side has. */
  readonly count?: number;
  /** Whether --repair fixed it (a re-read after the repair agreed). */
  readonly repaired: boolean;
}

export interface RangeReport {
  /**
   * range: a chunk (after, upTo]; target-keys: rows only the target has, found by the pass over
   * its keys (keys mode); table: a whole table without a key.
   */
  readonly scope: 'range' | 'target-keys' | 'table';
  /** Keys > after (null: from the start) and ≤ upTo (null: to the end); null both for a whole table. */
  readonly after: KeyJson | null;
  readonly upTo: KeyJson | null;
  readonly sourceRows: number;
  readonly targetRows: number;
  /** Differing keys in the range (exact). */
  readonly differences: number;
  /** The first MAX_KEYS_PER_RANGE of them. */
  readonly keys: readonly KeyReport[];
}

export interface TableReport {
  readonly table: string;
  readonly mode: Mode;
  readonly reason: string;
  /** Rows read on the source (the first read of each chunk). */
  readonly rowsChecked: number;
  /** Rows read on the target (the first read of each chunk; in keys mode, rows found by the source's keys). */
  readonly targetRows: number;
  readonly chunks: number;
  /** Chunks that still differed after their re-checks. */
  readonly chunksDiffering: number;
  /**
   * Chunks settled as equal by digests computed inside both databases, without reading their rows
   * (checksum/chunk.ts digestKind: natively for the same engine and identical column types, in comparable forms otherwise). Absent in reports
   * written before digests existed.
   */
  readonly chunksByDigest?: number;
  /** Re-reads of differing chunks (mostly rows in flight while the source takes writes). */
  readonly rechecks: number;
  readonly missing: number;
  readonly extra: number;
  readonly changed: number;
  readonly repaired: number;
  /** Differences left (not repaired, or not repairable). */
  readonly remaining: number;
  /** Differing ranges, the first MAX_RANGES (keys mode lists rows only the target has in a range of its own, after: null, upTo: null). */
  readonly ranges: readonly RangeReport[];
  readonly rangesTruncated: boolean;
  readonly notes: readonly string[];
  /** Why the table could not be compared (missing on the target, a column missing, …). */
  readonly error?: { readonly code: string; readonly message: string };
  readonly equal: boolean;
}

export interface VerifyTotals {
  readonly tables: number;
  readonly tablesDiffering: number;
  readonly rowsChecked: number;
  readonly chunks: number;
  readonly missing: number;
  readonly extra: number;
  readonly changed: number;
  readonly repaired: number;
  readonly remaining: number;
}

export interface VerifyResult {
  /** True when every table is equal: nothing differed, or everything that did was repaired and re-read equal. */
  readonly equal: boolean;
  readonly repair: boolean;
  /** Printable endpoints, without passwords. */
  readonly source: string;
  readonly target: string;
  readonly tables: readonly TableReport[];
  readonly totals: VerifyTotals;
  readonly durationMs: number;
}

export function jsonValue(v: Value): JsonValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0) ? v : String(Object.is(v, -0) ? '-0' : v);
  return '0x' + v.toString('hex');
}

/** A key's values by key column name. */
export function keyJson(table: TableSchema, key: readonly Value[]): KeyJson {
  const out: KeyJson = {};
  table.primaryKey.forEach((ci, j) => (out[(table.columns[ci] as Column).name] = jsonValue(key[j] ?? null)));
  return out;
}

/** A whole row by column name (tables without a key). */
export function rowJson(table: TableSchema, row: Row): KeyJson {
  const out: KeyJson = {};
  table.columns.forEach((c, i) => (out[c.name] = jsonValue(row[i] ?? null)));
  return out;
}

export function totalsOf(tables: readonly TableReport[]): VerifyTotals {
  const sum = (f: (t: TableReport) => number) => tables.reduce((n, t) => n + f(t), 0);
  return {
    tables: tables.length,
    tablesDiffering: tables.filter((t) => !t.equal).length,
    rowsChecked: sum((t) => t.rowsChecked),
    chunks: sum((t) => t.chunks),
    missing: sum((t) => t.missing),
    extra: sum((t) => t.extra),
    changed: sum((t) => t.changed),
    repaired: sum((t) => t.repaired),
    remaining: sum((t) => t.remaining),
  };
}

function shown(v: JsonValue): string {
  if (v === null) return 'NULL';
  if (typeof v === 'string' && !/^0x[0-9a-f]*$/.test(v)) return `'${v.length > 40 ? v.slice(0, 40) + '…' : v}'`;
  return String(v);
}

export function formatKey(k: KeyJson): string {
  return Object.entries(k)
    .map(([c, v]) => `${c}=${shown(v)}`)
    .join(', ');
}

function formatRange(r: RangeReport): string {
  if (r.scope === 'table') return 'whole table';
  if (r.scope === 'target-keys') return "target's keys";
  return `range (${r.after ? formatKey(r.after) : 'start'} .. ${r.upTo ? formatKey(r.upTo) : 'end'}]`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** One line per table. */
export function formatTableLine(t: TableReport): string {
  if (t.error) return `${t.table}: not compared: ${t.error.message} (${t.error.code})`;
  const head = `${t.table}: ${plural(t.rowsChecked, 'row')} checked in ${plural(t.chunks, 'chunk')} (${t.mode})`;
  const found = t.missing + t.extra + t.changed;
  if (found === 0) return `${head}: equal`;
  const kinds = [
    t.missing ? `${t.missing} missing on target` : '',
    t.extra ? `${t.extra} extra on target` : '',
    t.changed ? `${t.changed} changed` : '',
  ].filter(Boolean);
  const repaired = t.repaired ? `; ${t.repaired} repaired` : '';
  const left = t.remaining ? `; ${t.remaining} remaining` : '; none remaining';
  return `${head}: ${plural(found, 'difference')} in ${plural(t.chunksDiffering, 'chunk')} (${kinds.join(', ')})${repaired}${left}`;
}

/** The human report: a line per table, then the differing ranges and keys (bounded), then a summary. */
export function formatReport(r: VerifyResult): string {
  const lines: string[] = [`verify ${r.source} → ${r.target}${r.repair ? ' (repair)' : ''}`];
  for (const t of r.tables) lines.push(formatTableLine(t));
  for (const t of r.tables) {
    if (t.ranges.length === 0 && t.notes.length === 0) continue;
    lines.push('', `${t.table}:`);
    for (const range of t.ranges) {
      lines.push(`  ${formatRange(range)}: ${plural(range.differences, 'difference')} (source ${range.sourceRows} rows, target ${range.targetRows})`);
      for (const k of range.keys) {
        const what = k.kind === 'changed' ? `changed ${formatKey(k.key)}${k.columns?.length ? ` (${k.columns.join(', ')})` : ''}` : `${k.kind === 'missing' ? 'missing on target' : 'extra on target'} ${formatKey(k.key)}${k.count !== undefined && k.count > 1 ? ` ×${k.count}` : ''}`;
        lines.push(`    ${what}${k.repaired ? ' — repaired' : ''}`);
      }
      if (range.keys.length < range.differences) lines.push(`    … ${range.differences - range.keys.length} more`);
    }
    if (t.rangesTruncated) lines.push('  … more ranges differ');
    for (const n of t.notes) lines.push(`  note: ${n}`);
  }
  const s = r.totals;
  const found = s.missing + s.extra + s.changed;
  const secs = (r.durationMs / 1000).toFixed(1);
  lines.push(
    '',
    r.equal
      ? `verify: ${plural(s.tables, 'table')}, ${plural(s.rowsChecked, 'row')} checked in ${secs} s: ${found === 0 ? 'equal' : `equal after repairing ${plural(s.repaired, 'difference')}`}`
      : `verify: ${plural(s.tables, 'table')}, ${plural(s.rowsChecked, 'row')} checked in ${secs} s: ${s.tablesDiffering === 1 ? "1 table differs" : `${s.tablesDiffering} tables differ`}, ${plural(s.remaining, 'difference')} remaining${s.repaired ? ` (${s.repaired} repaired)` : ''}`,
  );
  return lines.join('\n') + '\n';
}
