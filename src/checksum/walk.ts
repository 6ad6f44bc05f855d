import type { Logger } from 'pino';
import { Mutex } from '../copier/mutex.js';
import { AbortedError, TributaryError } from '../core/errors.js';
import type { KeyRange } from '../core/source.js';
import type { Value } from '../core/values.js';
import { checkChunk, digestApplies, repairChunk, repairDifferences, sleep, type ChunkCheck, type ChunkContext } from './chunk.js';
import type { KeyDifference } from './compare.js';
import { findExtraRows } from './extras.js';
import { RowHasher } from './hash.js';
import { compareMultiset } from './multiset.js';
import { keyId, keyOf, normaliseTarget, type TablePlan } from './plan.js';
import { keyJson, MAX_KEYS_PER_RANGE, MAX_RANGES, rowJson, type KeyReport, type RangeReport, type TableReport } from './report.js';

/**
 * Walks one table chunk by chunk: boundaries from the source (ChangeSource.chunkBoundary, as the
 * copier takes them), chunks compared `threads` at a time, each re-checked while it differs and
 * repaired when asked; then, in keys mode, the pass over the target's keys for rows only it has.
 * Chunk sizes shrink below `chunkSize` to keep both sides of a chunk under `chunkBytes`.
 */
export interface WalkOptions {
  readonly threads: number;
  readonly chunkSize: number;
  /**
   * Rows per chunk when both databases digest it (src/checksum/chunk.ts digestApplies): such a
   * chunk moves no rows, so it may be larger than `chunkSize`. Absent: `chunkSize`.
   */
  readonly digestChunkSize?: number;
  readonly chunkBytes: number;
  readonly repair: boolean;
  readonly logger: Logger;
}

const MIN_CHUNK = 100;
const READ_ATTEMPTS = 4;

/** Counts and bounded lists of one table, built up as chunks finish (in any order). */
class Tally {
  rowsChecked = 0;
  targetRows = 0;
  chunks = 0;
  chunksDiffering = 0;
  chunksByDigest = 0;
  rechecks = 0;
  missing = 0;
  extra = 0;
  changed = 0;
  repaired = 0;
  remaining = 0;
  /** Rows the repair added for keys missing on the target (keys mode: the target's count grows by these). */
  inserted = 0;
  readonly ranges: RangeReport[] = [];
  rangesTruncated = false;
  readonly notes: string[] = [];

  constructor(private readonly plan: TablePlan) {}

  /** Records one chunk's (or key batch's) differences; `left` are those a repair did not fix. */
  add(scope: RangeReport['scope'], range: KeyRange | null, rows: { source: number; target: number }, found: readonly KeyDifference[], left: readonly KeyDifference[]): void {
    if (found.length === 0) return;
    const leftIds = new Set(left.map((d) => d.id));
    if (scope === 'range') this.chunksDiffering++;
    for (const d of found) {
      if (d.kind === 'missing') this.missing++;
      else if (d.kind === 'extra') this.extra++;
      else this.changed++;
      if (leftIds.has(d.id)) this.remaining++;
      else this.repaired++;
      if (d.kind === 'missing' && !leftIds.has(d.id)) this.inserted++;
    }
    if (this.ranges.length >= MAX_RANGES) {
      this.rangesTruncated = true;
      return;
    }
    const t = this.plan.table;
    const keys: KeyReport[] = found.slice(0, MAX_KEYS_PER_RANGE).map((d) => ({
      kind: d.kind,
      key: keyJson(t, d.key),
      ...(d.columns ? { columns: d.columns } : {}),
      repaired: !leftIds.has(d.id),
    }));
    this.ranges.push({
      scope,
      after: range?.after ? keyJson(t, range.after) : null,
      upTo: range?.upTo ? keyJson(t, range.upTo) : null,
      sourceRows: rows.source,
      targetRows: rows.target,
      differences: found.length,
      keys,
    });
  }

  report(plan: TablePlan): TableReport {
    return {
      table: plan.table.name,
      mode: plan.mode,
      reason: plan.reason,
      rowsChecked: this.rowsChecked,
      targetRows: this.targetRows,
      chunks: this.chunks,
      chunksDiffering: this.chunksDiffering,
      chunksByDigest: this.chunksByDigest,
      rechecks: this.rechecks,
      missing: this.missing,
      extra: this.extra,
      changed: this.changed,
      repaired: this.repaired,
      remaining: this.remaining,
      ranges: this.ranges,
      rangesTruncated: this.rangesTruncated,
      notes: this.notes,
      equal: this.remaining === 0,
    };
  }
}

/** Retries a read that failed with a retryable error (a dropped connection), with backoff. */
async function retrying<T>(ctx: ChunkContext, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const retryable = err instanceof TributaryError && !err.fatal && !(err instanceof AbortedError);
      if (!retryable || attempt >= READ_ATTEMPTS || ctx.signal?.aborted) throw err;
      await sleep(Math.min(5000, 200 * 2 ** attempt), ctx.signal);
    }
  }
}

/** Compares (and with `repair`, repairs) one table; see WalkOptions. */
export async function walkTable(ctx: ChunkContext, plan: TablePlan, opts: WalkOptions): Promise<TableReport> {
  const tally = new Tally(plan);
  const log = opts.logger.child({ table: plan.table.name, mode: plan.mode });
  log.debug({ reason: plan.reason, digest: digestApplies(ctx, plan) }, 'verifying table');
  if (plan.mode === 'multiset') await walkMultiset(ctx, plan, tally);
  else await walkChunks(ctx, plan, opts, tally);
  if (plan.mode === 'keys') await walkTargetKeys(ctx, plan, opts, tally, log);
  const report = tally.report(plan);
  log.info({ rows: report.rowsChecked, chunks: report.chunks, chunksByDigest: report.chunksByDigest, differences: report.missing + report.extra + report.changed, repaired: report.repaired, remaining: report.remaining }, 'table verified');
  return report;
}

async function walkChunks(ctx: ChunkContext, plan: TablePlan, opts: WalkOptions, tally: Tally): Promise<void> {
  const { source } = ctx;
  const claim = new Mutex();
  let after: Value[] | null = null;
  let exhausted = false;
  // A chunk the databases digest moves no rows, so it may be larger (fewer round trips); the byte
  // bound below still holds for the row-level compare of a chunk whose digests differ.
  const maxSize = digestApplies(ctx, plan) ? (opts.digestChunkSize ?? opts.chunkSize) : opts.chunkSize;
  let size = maxSize;
  const stats = await source.tableStats(plan.table.name).catch(() => ({ rows: 0, avgRowBytes: 0 }));
  // Both sides of a chunk are in memory at once: half the budget each.
  if (stats.avgRowBytes > 0) size = Math.max(1, Math.min(size, Math.floor(opts.chunkBytes / 2 / stats.avgRowBytes)));
  let failed = false;

  const next = (): Promise<{ range: KeyRange; size: number } | undefined> =>
    claim.run(async () => {
      if (exhausted || failed || ctx.signal?.aborted) return undefined;
      const upTo = await retrying(ctx, () => source.chunkBoundary(plan.table, after, size));
      const range: KeyRange = { after, upTo };
      after = upTo;
      if (upTo === null) exhausted = true;
      return { range, size };
    });

  const worker = async () => {
    const hasher = new RowHasher();
    for (;;) {
      const c = await next();
      if (!c) return;
      const check: ChunkCheck = await retrying(ctx, () => checkChunk(ctx, plan, c.range, hasher));
      let left = check.differences;
      if (opts.repair && left.length) left = await retrying(ctx, () => repairChunk(ctx, plan, check, hasher));
      tally.chunks++;
      if (check.byDigest) tally.chunksByDigest++;
      tally.rowsChecked += check.first.sourceRows;
      tally.targetRows += check.first.targetRows;
      tally.rechecks += check.rechecks;
      tally.add('range', c.range, { source: check.first.sourceRows, target: check.first.targetRows }, check.differences, left);
      // A chunk settled by digest read no rows: its size says nothing about the byte bound.
      if (check.byDigest) continue;
      // Keep both sides under the byte bound; grow back towards chunkSize only while a chunk
      // uses less than half of it (so the size settles instead of swinging across the bound).
      const bytes = check.first.bytes;
      if (bytes > opts.chunkBytes) size = Math.max(MIN_CHUNK, Math.floor((c.size * opts.chunkBytes) / bytes));
      else if (bytes * 2 <= opts.chunkBytes && size < maxSize) size = Math.min(maxSize, size * 2);
    }
  };
  const results = await Promise.allSettled(
    Array.from({ length: Math.max(1, opts.threads) }, () =>
      worker().catch((err: unknown) => {
        failed = true;
        throw err;
      }),
    ),
  );
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  if (ctx.signal?.aborted) throw new AbortedError('verify interrupted');
}

/**
 * Keys mode: rows only the target has. The target's count against the rows the chunk walk found
 * on it (plus those a repair inserted) says whether there can be any; only then are the target's
 * keys walked.
 */
async function walkTargetKeys(ctx: ChunkContext, plan: TablePlan, opts: WalkOptions, tally: Tally, log: Logger): Promise<void> {
  const count = await retrying(ctx, () => ctx.target.countRows(plan.table));
  const expected = tally.targetRows + tally.inserted;
  if (count === expected) return;
  log.debug({ targetCount: count, foundBySourceKeys: expected }, 'the target holds rows the source keys did not find: walking its keys');
  const batch = Math.max(MIN_CHUNK, opts.chunkSize);
  await retrying(ctx, () =>
    findExtraRows(ctx, plan, batch, async (extras) => {
      let left = extras;
      if (opts.repair) {
        await repairDifferences(ctx.target, plan, extras);
        // Deleted keys the target still has were not repaired.
        const still = await ctx.target.readRowsByKeys(plan.table, extras.map((d) => d.key));
        const ids = new Set(still.map((r) => keyId(keyOf(plan, normaliseTarget(plan, r)))));
        left = extras.filter((d) => ids.has(d.id));
      }
      tally.add('target-keys', null, { source: 0, target: extras.length }, extras, left);
    }),
  );
}

async function walkMultiset(ctx: ChunkContext, plan: TablePlan, tally: Tally): Promise<void> {
  const cmp = await retrying(ctx, () => compareMultiset(ctx, plan, MAX_KEYS_PER_RANGE));
  tally.chunks = 1;
  tally.rowsChecked = cmp.sourceRows;
  tally.targetRows = cmp.targetRows;
  tally.rechecks = cmp.rechecks;
  if (cmp.equal) return;
  // No key to upsert or delete by: reported, never repaired.
  tally.chunksDiffering = 1;
  tally.missing = cmp.missingRows;
  tally.extra = cmp.extraRows;
  tally.remaining = cmp.missingRows + cmp.extraRows;
  tally.ranges.push({
    scope: 'table',
    after: null,
    upTo: null,
    sourceRows: cmp.sourceRows,
    targetRows: cmp.targetRows,
    differences: cmp.missingRows + cmp.extraRows,
    keys: cmp.differences.map((d) => ({ kind: d.kind, key: rowJson(plan.table, d.row), count: d.count, repaired: false })),
  });
  if (cmp.truncated) tally.notes.push('more rows differ than are listed');
  tally.notes.push('a table without a primary key is compared as a multiset of rows and cannot be repaired (there is no key to upsert or delete by)');
}
