import { ErrorCode, TributaryError } from '../core/errors.js';
import type { Value } from '../core/values.js';
import { sleep, type ChunkContext } from './chunk.js';
import type { KeyDifference } from './compare.js';
import type { ColumnRule } from './normalise.js';
import { keyId, keyOf, normaliseSource, normaliseTarget, sourceKey, type TablePlan } from './plan.js';

/**
 * Rows only the target has, for a table compared in keys mode (plan.ts): the chunk walk reads
 * the target by the source's keys, so it never sees them. One pass over the target's keys in the
 * target's own order, `batch` at a time, each batch looked up on the source; a key the source
 * lacks is re-checked (RecheckPolicy) before it is called extra: a row the source has just
 * deleted stays on the target until a running sync applies the delete.
 *
 * Calls `onExtras` with each batch's extra keys (to report and repair them as they are found, so
 * memory stays bounded by a batch) and returns the number of target keys walked.
 */
export async function findExtraRows(
  ctx: ChunkContext,
  plan: TablePlan,
  batch: number,
  onExtras: (extras: KeyDifference[]) => Promise<void>,
): Promise<number> {
  const { source, target } = ctx;
  if (!target.capabilities.readBack || !source.capabilities.checksumReads) {
    throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `table ${plan.table.name}: finding rows only the target has needs readKeys on the target and readRowsByKeys on both sides`);
  }
  const keyRules = plan.table.primaryKey.map((i) => plan.rules[i] as ColumnRule);
  const ids = (rows: readonly (readonly Value[])[], side: 'source' | 'target') =>
    new Set(rows.map((r) => keyId(keyOf(plan, side === 'source' ? normaliseSource(plan, r as Value[]) : normaliseTarget(plan, r as Value[])))));
  /** Of `candidates`, those the source lacks (and, with `onTarget`, the target still has). */
  const extrasAmong = async (candidates: readonly KeyDifference[], onTarget: boolean): Promise<KeyDifference[]> => {
    if (candidates.length === 0) return [];
    const keys = candidates.map((d) => d.key);
    const onSource = ids(await source.readRowsByKeys(plan.table, keys), 'source');
    const stillOnTarget = onTarget ? ids(await target.readRowsByKeys(plan.table, keys), 'target') : undefined;
    return candidates.filter((d) => !onSource.has(d.id) && (stillOnTarget?.has(d.id) ?? true));
  };
  let after: Value[] | null = null;
  let walked = 0;
  for (;;) {
    const keys: Value[][] = await target.readKeys(plan.table, after, batch);
    if (keys.length === 0) break;
    walked += keys.length;
    after = keys[keys.length - 1] ?? null;
    const candidates = keys.map((k): KeyDifference => {
      const norm = k.map((v, j) => (keyRules[j] as ColumnRule).target(v));
      return { kind: 'extra', key: sourceKey(plan, norm), id: keyId(norm) };
    });
    let extras = await extrasAmong(candidates, false);
    let delay = ctx.recheck.delayMs;
    for (let attempt = 0; extras.length && attempt < ctx.recheck.attempts; attempt++) {
      await sleep(delay, ctx.signal);
      delay = Math.min(ctx.recheck.maxDelayMs, delay * 2);
      extras = await extrasAmong(extras, true);
    }
    if (extras.length) await onExtras(extras);
    if (keys.length < batch) break;
  }
  return walked;
}
