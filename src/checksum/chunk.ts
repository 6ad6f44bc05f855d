import { sameDialect } from '../engines/registry.js';
import type { Change } from '../core/change.js';
import { COMPARABLE_DIGEST } from '../core/comparable.js';
import { AbortedError, ErrorCode, TributaryError } from '../core/errors.js';
import type { ChangeSource, ChunkDigest, KeyRange } from '../core/source.js';
import type { Target } from '../core/target.js';
import type { Row } from '../core/values.js';
import { compareRows, stillDiffering, type Comparison, type KeyDifference } from './compare.js';
import { RowHasher } from './hash.js';
import type { TablePlan } from './plan.js';

/**
 * One chunk of one table: read both sides, compare, re-check what differs, repair it. Functions of
 * a source, a target and a range, holding no state between calls, so that a checker running
 * inside a sync can call them for a chunk once the stream has passed the moment it was read (its
 * convergence gate decides when; nothing here knows about streams or positions).
 */

/**
 * Source and target are read at slightly different moments: while the source takes writes, a
 * chunk may differ only because a change has not reached the target yet. A differing chunk is
 * read again `attempts` times, waiting `delayMs`, doubling up to `maxDelayMs`, before the keys
 * that differed every time are called differences. With no writes running, a difference found
 * once is found every time, and the re-checks only cost the waits.
 */
export interface RecheckPolicy {
  readonly attempts: number;
  readonly delayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RECHECK: RecheckPolicy = { attempts: 4, delayMs: 250, maxDelayMs: 2000 };

export interface ChunkContext {
  readonly source: ChangeSource;
  readonly target: Target;
  readonly recheck: RecheckPolicy;
  readonly signal?: AbortSignal | undefined;
}

export interface ChunkCheck {
  readonly range: KeyRange;
  /** The first read's comparison (rows on each side, digests). */
  readonly first: Comparison;
  /** Keys that differed at every read. */
  readonly differences: KeyDifference[];
  /** Re-reads made before deciding. */
  readonly rechecks: number;
  /**
   * True when digests computed inside both databases settled the chunk as equal (no rows read:
   * `first.bytes` is 0, and says nothing about the chunk's size).
   */
  readonly byDigest?: boolean;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError());
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', abort);
      resolve();
    };
    const abort = () => {
      clearTimeout(t);
      reject(new AbortedError());
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', abort, { once: true });
  });
}

function unsupported(what: string): TributaryError {
  return new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `${what}; checksums need it`);
}

/**
 * Both sides of a chunk. Range mode reads `range` on each side at once; keys mode reads the
 * source's range, then the target's rows with those keys (plan.ts).
 */
export async function readChunkPair(ctx: ChunkContext, plan: TablePlan, range: KeyRange): Promise<{ source: Row[]; target: Row[] }> {
  const { source, target } = ctx;
  if (plan.mode === 'range') {
    if (!target.capabilities.readBack) throw unsupported(`target engine ${target.engine} cannot read a key range back`);
    const [s, t] = await Promise.all([source.readChunk(plan.table, range), target.readChunk(plan.table, range)]);
    return { source: s, target: t };
  }
  if (!target.capabilities.readBack) throw unsupported(`target engine ${target.engine} cannot read rows by key`);
  const s = await source.readChunk(plan.table, range);
  const keys = s.map((row) => plan.table.primaryKey.map((i) => row[i] ?? null));
  const t = keys.length ? await target.readRowsByKeys(plan.table, keys) : [];
  return { source: s, target: t };
}

/** Plans whose digest failed once (a type the server cannot render so): rows from then on. */
const digestFailed = new WeakSet<TablePlan>();

/**
 * How a chunk of `plan` may be settled by digests computed inside the databases
 * (ChangeSource.chunkDigest, Target.chunkDigest) instead of reading its rows, if at all. Only when
 * equal digests mean the row comparison would find the chunk equal, by construction:
 * - range mode: both sides digest the same key range, the rows readChunk would return;
 * - 'native': every column rule exact (plan.exact: same engine, same declared types), so both
 *   sides decode the same text to the same value and the comparison hashes values as they are
 *   read; the engine's own recipe;
 * - 'comparable': otherwise (another engine, or a column whose type differs), when every column's
 *   rule names a comparable form (plan.forms, core/comparable.ts) whose texts are equal exactly when
 *   the rule's comparable values are;
 * - both digests of the same format (the recipe and the session settings the rendering depends
 *   on), checked per chunk in digestChunk.
 * Digests that differ prove nothing (a value may render two ways and read back alike): the rows
 * are then read and compared as before, which alone lists differences.
 */
export function digestKind(ctx: ChunkContext, plan: TablePlan): 'native' | 'comparable' | undefined {
  if (plan.mode !== 'range' || !ctx.source.capabilities.chunkDigest || !ctx.target.capabilities.chunkDigest || digestFailed.has(plan)) return undefined;
  if (plan.exact && sameDialect(plan.table.engine, plan.onTarget.engine)) return 'native';
  return plan.forms ? 'comparable' : undefined;
}

/** Whether digestKind finds a way to settle chunks of `plan` by digests. */
export function digestApplies(ctx: ChunkContext, plan: TablePlan): boolean {
  return digestKind(ctx, plan) !== undefined;
}

/**
 * The chunk's comparison when both databases' digests say it is equal; undefined when they differ,
 * do not compare (formats), or cannot be had (see digestKind). A digest that fails for a reason
 * other than an abort turns digests off for the plan: the row comparison, which decides anyway,
 * then reports a lost connection as it always has.
 */
export async function digestChunk(ctx: ChunkContext, plan: TablePlan, range: KeyRange): Promise<Comparison | undefined> {
  const kind = digestKind(ctx, plan);
  if (!kind) return undefined;
  const forms = kind === 'comparable' ? plan.forms : undefined;
  let pair: [ChunkDigest | undefined, ChunkDigest | undefined];
  try {
    pair = await Promise.all([ctx.source.chunkDigest(plan.table, range, forms), ctx.target.chunkDigest(plan.table, range, forms)]);
  } catch (err) {
    if (err instanceof AbortedError || ctx.signal?.aborted) throw err;
    digestFailed.add(plan);
    return undefined;
  }
  const [s, t] = pair;
  if (!s || !t || s.format !== t.format || s.rows !== t.rows || s.digest !== t.digest) return undefined;
  if (forms && s.format !== COMPARABLE_DIGEST) return undefined;
  return { sourceRows: s.rows, targetRows: t.rows, equal: true, differences: [], bytes: 0 };
}

/**
 * Reads and compares a chunk, re-reading it while it differs (RecheckPolicy). The first look is
 * by digest where digestApplies; a chunk whose digests differ is read as rows.
 */
export async function checkChunk(ctx: ChunkContext, plan: TablePlan, range: KeyRange, hasher = new RowHasher()): Promise<ChunkCheck> {
  const settled = await digestChunk(ctx, plan, range);
  if (settled) return { range, first: settled, differences: [], rechecks: 0, byDigest: true };
  const read = async () => {
    const { source, target } = await readChunkPair(ctx, plan, range);
    return compareRows(plan, source, target, hasher);
  };
  const first = await read();
  let differences = first.differences;
  let rechecks = 0;
  let delay = ctx.recheck.delayMs;
  while (differences.length && rechecks < ctx.recheck.attempts) {
    await sleep(delay, ctx.signal);
    delay = Math.min(ctx.recheck.maxDelayMs, delay * 2);
    rechecks++;
    differences = stillDiffering(differences, (await read()).differences);
  }
  return { range, first, differences, rechecks };
}

/**
 * Writes the source's rows for the differing keys through the target's own write path, in one
 * transaction: an upsert of the source row for a key missing or changed on the target, a delete
 * for a key only the target has. `commit(null)` leaves the sync's checkpoint as it is (it covers
 * the stream position, which a repair does not move). Every key appears once (the caller passes
 * one chunk's differences, unique by key).
 */
export async function repairDifferences(target: Target, plan: TablePlan, differences: readonly KeyDifference[]): Promise<void> {
  const name = plan.table.name;
  const changes: Change[] = differences.map((d) =>
    d.kind === 'extra' || !d.sourceRow ? { kind: 'delete', table: name, key: d.key } : { kind: 'upsert', table: name, key: d.key, row: d.sourceRow },
  );
  if (changes.length === 0) return;
  const tx = await target.begin();
  try {
    await tx.write(new Map([[name, plan.table]]), changes);
    await tx.commit(null);
  } catch (err) {
    await tx.rollback().catch(() => undefined);
    throw err;
  }
}

/**
 * Repairs a chunk's differences, then reads it once more: the keys that still differ are returned
 * (none when the repair took; some when the source changed them meanwhile).
 */
export async function repairChunk(ctx: ChunkContext, plan: TablePlan, check: ChunkCheck, hasher = new RowHasher()): Promise<KeyDifference[]> {
  if (check.differences.length === 0) return [];
  await repairDifferences(ctx.target, plan, check.differences);
  const { source, target } = await readChunkPair(ctx, plan, check.range);
  return stillDiffering(check.differences, compareRows(plan, source, target, hasher).differences);
}
