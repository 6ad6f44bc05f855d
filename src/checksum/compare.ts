import type { Row, Value } from '../core/values.js';
import { rowBytes } from '../core/values.js';
import { Digest, HASH_BYTES, RowHasher } from './hash.js';
import { keyId, keyOf, normaliseSource, normaliseSourceInto, normaliseTarget, normaliseTargetInto, sourceKey, type TablePlan } from './plan.js';

/**
 * Comparing one chunk's rows: pure functions over rows already read, so the one-shot verify and a
 * checker running inside a sync (which decides *when* a chunk is read) share them.
 */

export type DifferenceKind = 'missing' | 'extra' | 'changed';

/** One key whose row differs: missing on the target, extra on the target, or with other values. */
export interface KeyDifference {
  readonly kind: DifferenceKind;
  /**
   * The key as the source reads it: the source row's own key (missing, changed), or the target's
   * key converted back (extra; ColumnRule.toSource), which the target's write path reads too.
   */
  readonly key: Value[];
  /** The comparable key's identity: the same for the same key on both sides and in every re-read. */
  readonly id: string;
  /** Names of the columns whose values differ (changed). */
  readonly columns?: readonly string[];
  /** The source's row (missing, changed): what a repair writes. */
  readonly sourceRow?: Row;
}

export interface Comparison {
  readonly sourceRows: number;
  readonly targetRows: number;
  readonly equal: boolean;
  /** Every differing key (a chunk is bounded in rows, so is this). */
  readonly differences: KeyDifference[];
  /** Approximate memory of both sides' rows, for sizing the next chunk. */
  readonly bytes: number;
}

/** Same comparable value: numbers by Object.is (NaN = NaN, −0 ≠ 0), bytes by content. */
export function sameValue(a: Value, b: Value): boolean {
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b);
  return a === b;
}

interface Hashed {
  readonly digest: Digest;
  /** Row i's hash at i * HASH_BYTES. */
  readonly hashes: Buffer;
  readonly bytes: number;
}

function hashAll(rows: readonly Row[], normalise: (row: Row, into: Value[]) => readonly Value[], hasher: RowHasher): Hashed {
  const digest = new Digest();
  const hashes = Buffer.allocUnsafe(rows.length * HASH_BYTES);
  const scratch: Value[] = [];
  for (let r = 0; r < rows.length; r++) {
    const h = hasher.hash(normalise(rows[r] as Row, scratch));
    h.copy(hashes, r * HASH_BYTES);
    digest.add(h);
  }
  return { digest, hashes, bytes: bytesOf(rows) };
}

function bytesOf(rows: readonly Row[]): number {
  let bytes = 0;
  for (const row of rows) bytes += rowBytes(row);
  return bytes;
}

function sameHash(a: Buffer, i: number, b: Buffer, j: number): boolean {
  return a.compare(b, j * HASH_BYTES, (j + 1) * HASH_BYTES, i * HASH_BYTES, (i + 1) * HASH_BYTES) === 0;
}

/**
 * Compares a chunk's source rows with the target's rows for the same keys. Count and sum of row
 * hashes decide; only when they differ are rows matched by key to list what differs.
 */
export function compareRows(plan: TablePlan, source: readonly Row[], target: readonly Row[], hasher = new RowHasher()): Comparison {
  const into = { source: (r: readonly Value[], s: Value[]) => normaliseSourceInto(plan, r, s), target: (r: readonly Value[], s: Value[]) => normaliseTargetInto(plan, r, s) };
  // In range mode both sides return the chunk in the same key order (plan.ts), so one hash of
  // each side's rows in sequence settles the usual case, equal, at half the cost of a hash per
  // row. Anything else (a difference, or an order that differs after all) takes the per-row,
  // order-independent path below, which alone decides a difference.
  if (plan.mode === 'range' && source.length === target.length && hasher.hashSequence(source, into.source).equals(hasher.hashSequence(target, into.target))) {
    return { sourceRows: source.length, targetRows: target.length, bytes: bytesOf(source) + bytesOf(target), equal: true, differences: [] };
  }
  const src = hashAll(source, into.source, hasher);
  const dst = hashAll(target, into.target, hasher);
  const base = { sourceRows: source.length, targetRows: target.length, bytes: src.bytes + dst.bytes };
  if (src.digest.equals(dst.digest)) return { ...base, equal: true, differences: [] };
  const onTarget = new Map<string, number>();
  const targetNorm: Value[][] = new Array(target.length);
  for (let j = 0; j < target.length; j++) {
    const norm = normaliseTarget(plan, target[j] as Row);
    targetNorm[j] = norm;
    onTarget.set(keyId(keyOf(plan, norm)), j);
  }
  const differences: KeyDifference[] = [];
  const matched = new Set<number>();
  for (let i = 0; i < source.length; i++) {
    const row = source[i] as Row;
    const norm = normaliseSource(plan, row);
    const id = keyId(keyOf(plan, norm));
    const key = plan.table.primaryKey.map((c) => row[c] ?? null);
    const j = onTarget.get(id);
    if (j === undefined) {
      differences.push({ kind: 'missing', key, id, sourceRow: row });
      continue;
    }
    matched.add(j);
    if (sameHash(src.hashes, i, dst.hashes, j)) continue;
    const other = targetNorm[j] as Value[];
    const columns = plan.table.columns.filter((_, c) => !sameValue(norm[c] ?? null, other[c] ?? null)).map((c) => c.name);
    differences.push({ kind: 'changed', key, id, columns, sourceRow: row });
  }
  for (let j = 0; j < target.length; j++) {
    if (matched.has(j)) continue;
    const k = keyOf(plan, targetNorm[j] as Value[]);
    differences.push({ kind: 'extra', key: sourceKey(plan, k), id: keyId(k) });
  }
  return { ...base, equal: differences.length === 0, differences };
}

/**
 * The differences of `earlier` that `later` (a re-read of the same chunk or keys) still has, with
 * `later`'s details. A key that differed at one read and agrees at a later one was only caught
 * between a source write and its arrival on the target; a key that agreed at the first read is
 * not a difference found by this check, whatever a later read says.
 */
export function stillDiffering(earlier: readonly KeyDifference[], later: readonly KeyDifference[]): KeyDifference[] {
  const now = new Map(later.map((d) => [d.id, d]));
  const out: KeyDifference[] = [];
  for (const d of earlier) {
    const n = now.get(d.id);
    if (n) out.push(n);
  }
  return out;
}
