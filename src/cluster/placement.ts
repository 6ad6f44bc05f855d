import type { AssignmentOp } from './store.js';

/** A live worker as placement sees it. */
export interface PlacementWorker {
  readonly name: string;
  readonly capacity: number;
}

/** What placement decides from: one consistent reading of the cluster. */
export interface PlacementInput {
  /** The declared syncs' names. */
  readonly syncs: readonly string[];
  /** The live workers (their lease keys exist). */
  readonly workers: readonly PlacementWorker[];
  /** sync → worker, as assigned now (possibly to a dead worker, or of a sync no longer declared). */
  readonly assignments: ReadonlyMap<string, string>;
  /**
   * Assigned syncs not yet running on their worker (no report from it in a settled phase): a move
   * in flight. While any is, nothing is moved for balance.
   */
  readonly inTransit: ReadonlySet<string>;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The assignment changes that bring the cluster to its placement rules (docs/cluster.md), as
 * the elected scheduler writes them. Pure and deterministic: the same reading gives the same ops.
 *
 * 1. A sync no longer declared is unassigned.
 * 2. A sync without a live worker (new, or its worker's lease gone) goes at once to the worker
 *    with the most free capacity (capacity − assigned syncs; ties by name); syncs are placed in
 *    name order. A sync stays unplaced while no worker has free capacity.
 * 3. Only when 1 and 2 found nothing and no move is in flight: when the most free worker has at
 *    least 2 more free slots than the least free one, ONE sync (the last by name) moves from the
 *    least free to the most free. The next move waits for this one to settle.
 */
export function place(input: PlacementInput): AssignmentOp[] {
  const ops: AssignmentOp[] = [];
  const declared = new Set(input.syncs);
  const workers = [...input.workers].sort((a, b) => byName(a.name, b.name));
  const alive = new Map(workers.map((w) => [w.name, w]));
  const held = new Map<string, string[]>(workers.map((w) => [w.name, []]));
  for (const [sync, worker] of [...input.assignments].sort((a, b) => byName(a[0], b[0]))) {
    if (!declared.has(sync)) ops.push({ sync, worker: undefined });
    else held.get(worker)?.push(sync);
  }
  const free = (w: PlacementWorker) => w.capacity - (held.get(w.name)?.length ?? 0);
  const mostFree = () => workers.reduce<PlacementWorker | undefined>((best, w) => (best === undefined || free(w) > free(best) ? w : best), undefined);
  for (const sync of [...declared].sort(byName)) {
    const worker = input.assignments.get(sync);
    if (worker !== undefined && alive.has(worker)) continue;
    const to = mostFree();
    if (to === undefined || free(to) <= 0) continue;
    held.get(to.name)?.push(sync);
    ops.push({ sync, worker: to.name });
  }
  if (ops.length > 0 || [...input.inTransit].some((s) => declared.has(s) && alive.has(input.assignments.get(s) ?? ''))) return ops;
  const to = mostFree();
  const from = workers.filter((w) => (held.get(w.name)?.length ?? 0) > 0).reduce<PlacementWorker | undefined>((worst, w) => (worst === undefined || free(w) < free(worst) ? w : worst), undefined);
  if (to === undefined || from === undefined || free(to) - free(from) < 2) return ops;
  const moving = (held.get(from.name) ?? []).sort(byName).at(-1);
  if (moving !== undefined) ops.push({ sync: moving, worker: to.name });
  return ops;
}
