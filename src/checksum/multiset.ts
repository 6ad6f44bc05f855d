import { ErrorCode, TributaryError } from '../core/errors.js';
import type { Row } from '../core/values.js';
import { sleep, type ChunkContext } from './chunk.js';
import { Digest, RowHasher } from './hash.js';
import { normaliseSource, normaliseTarget, type TablePlan } from './plan.js';

/**
 * Tables without a primary key, compared as multisets of rows: no key orders or matches rows, so
 * each side is read whole (streamed, in no particular order) and summed per hash bucket: 256
 * buckets by the row hash's first byte, each a Digest (count and sum mod 2^128), so a duplicated
 * row counts twice and an extra copy of a row cannot be hidden by anything.
 *
 * Listing what differs takes a second read of both sides keeping only the rows of buckets that
 * differ, counted per distinct row (source copies minus target copies), so memory grows with the
 * differing buckets, never the whole table; past MAX_ENTRIES distinct rows the listing is partial.
 */

const BUCKETS = 256;
const MAX_ENTRIES = 100_000;

export interface MultisetDifference {
  /** missing: the source has more copies of the row; extra: the target has. */
  readonly kind: 'missing' | 'extra';
  /** The row as read (the source's for missing, the target's for extra). */
  readonly row: Row;
  /** How many more copies. */
  readonly count: number;
}

export interface MultisetComparison {
  readonly sourceRows: number;
  readonly targetRows: number;
  readonly equal: boolean;
  /**
   * Copies of rows the source has more of, and the target has more of: exact when every differing
   * row is listed; otherwise counted from the hash buckets (at least one per differing bucket).
   */
  readonly missingRows: number;
  readonly extraRows: number;
  /** The differences listed (at most `limit`). */
  readonly differences: MultisetDifference[];
  /** True when more differ than are listed. */
  readonly truncated: boolean;
  readonly rechecks: number;
}

function buckets(): Digest[] {
  return Array.from({ length: BUCKETS }, () => new Digest());
}

/** One side of a table without a key, summed: a Digest per hash bucket (see above). */
export type MultisetDigest = readonly Digest[];

/** One side's multiset digest, read whole (streamed). */
export async function scanMultiset(ctx: ChunkContext, plan: TablePlan, side: 'source' | 'target'): Promise<MultisetDigest> {
  const { source, target } = ctx;
  if (!source.capabilities.checksumReads || !target.capabilities.readBack) {
    throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `table ${plan.table.name} has no primary key; comparing it needs scanRows on both sides`);
  }
  const sums = buckets();
  const hasher = new RowHasher();
  const normalise = side === 'source' ? normaliseSource : normaliseTarget;
  await (side === 'source' ? source : target).scanRows(plan.table, (rows: Row[]) => {
    for (const row of rows) {
      const h = hasher.hash(normalise(plan, row));
      (sums[h[0] as number] as Digest).add(h);
    }
  });
  return sums;
}

/** Whether two sides hold the same multiset of rows. */
export function sameMultiset(a: MultisetDigest, b: MultisetDigest): boolean {
  return a.every((d, i) => d.equals(b[i] as Digest));
}

/** How many rows a side holds. */
export function multisetRows(d: MultisetDigest): number {
  return total(d);
}

async function scanDigests(ctx: ChunkContext, plan: TablePlan): Promise<{ source: MultisetDigest; target: MultisetDigest }> {
  const [source, target] = await Promise.all([scanMultiset(ctx, plan, 'source'), scanMultiset(ctx, plan, 'target')]);
  return { source, target };
}

function differingBuckets(d: { source: MultisetDigest; target: MultisetDigest }): Set<number> {
  const out = new Set<number>();
  for (let b = 0; b < BUCKETS; b++) if (!(d.source[b] as Digest).equals(d.target[b] as Digest)) out.add(b);
  return out;
}

function total(ds: MultisetDigest): number {
  return ds.reduce((n, d) => n + d.count, 0);
}

/** Compares a table without a key as two multisets of rows; lists at most `limit` differing rows. */
export async function compareMultiset(ctx: ChunkContext, plan: TablePlan, limit: number): Promise<MultisetComparison> {
  let digests = await scanDigests(ctx, plan);
  const sourceRows = total(digests.source);
  const targetRows = total(digests.target);
  let differing = differingBuckets(digests);
  let rechecks = 0;
  let delay = ctx.recheck.delayMs;
  while (differing.size && rechecks < ctx.recheck.attempts) {
    await sleep(delay, ctx.signal);
    delay = Math.min(ctx.recheck.maxDelayMs, delay * 2);
    rechecks++;
    digests = await scanDigests(ctx, plan);
    differing = differingBuckets(digests);
  }
  if (differing.size === 0) return { sourceRows, targetRows, equal: true, missingRows: 0, extraRows: 0, differences: [], truncated: false, rechecks };

  // Second read: per distinct row of a differing bucket, source copies minus target copies.
  const entries = new Map<string, { count: number; row: Row; side: 'source' | 'target' }>();
  let full = false;
  const collect = (side: 'source' | 'target') => {
    const hasher = new RowHasher();
    const normalise = side === 'source' ? normaliseSource : normaliseTarget;
    return (rows: Row[]) => {
      for (const row of rows) {
        const h = hasher.hash(normalise(plan, row));
        if (!differing.has(h[0] as number)) continue;
        const id = h.toString('hex');
        const e = entries.get(id);
        if (e) e.count += side === 'source' ? 1 : -1;
        else if (entries.size < MAX_ENTRIES) entries.set(id, { count: side === 'source' ? 1 : -1, row, side });
        else full = true;
      }
    };
  };
  await Promise.all([ctx.source.scanRows(plan.table, collect('source')), ctx.target.scanRows(plan.table, collect('target'))]);
  const differences: MultisetDifference[] = [];
  let missingRows = 0;
  let extraRows = 0;
  let distinct = 0;
  for (const e of entries.values()) {
    if (e.count === 0) continue;
    distinct++;
    if (e.count > 0) missingRows += e.count;
    else extraRows -= e.count;
    if (differences.length < limit) differences.push({ kind: e.count > 0 ? 'missing' : 'extra', row: e.row, count: Math.abs(e.count) });
  }
  if (full || distinct === 0) {
    // The listing is partial (or the second read saw the tables agree): count from the buckets.
    missingRows = 0;
    extraRows = 0;
    for (const b of differing) {
      const n = (digests.source[b] as Digest).count - (digests.target[b] as Digest).count;
      if (n < 0) extraRows -= n;
      else missingRows += Math.max(1, n);
    }
  }
  return { sourceRows, targetRows, equal: false, missingRows, extraRows, differences, truncated: full || distinct > differences.length, rechecks };
}
