import { describe, expect, it } from 'vitest';
import { place, type PlacementInput } from '../../src/cluster/placement.js';
import { placementInput } from '../../src/cluster/scheduler.js';
import type { AssignmentOp } from '../../src/cluster/store.js';

const W = (name: string, capacity: number) => ({ name, capacity });
const names = (n: number) => Array.from({ length: n }, (_, i) => `s${i + 1}`);

/** Applies ops to the assignments, as the scheduler's transaction does. */
function apply(assignments: Map<string, string>, ops: readonly AssignmentOp[]): Map<string, string> {
  const next = new Map(assignments);
  for (const op of ops) {
    if (op.worker === undefined) next.delete(op.sync);
    else next.set(op.sync, op.worker);
  }
  return next;
}

function loads(assignments: ReadonlyMap<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of assignments.values()) out[w] = (out[w] ?? 0) + 1;
  return out;
}

/** Runs placement to a fixed point, each round settling every move (as workers that report streaming). */
function settle(input: Omit<PlacementInput, 'inTransit'>, rounds = 50): { assignments: Map<string, string>; steps: AssignmentOp[][] } {
  let assignments = new Map(input.assignments);
  const steps: AssignmentOp[][] = [];
  for (let i = 0; i < rounds; i++) {
    const ops = place({ ...input, assignments, inTransit: new Set() });
    if (ops.length === 0) return { assignments, steps };
    steps.push(ops);
    assignments = apply(assignments, ops);
  }
  throw new Error('placement did not settle');
}

describe('placement (pure)', () => {
  it('places new syncs by most free capacity, ties by name, in name order', () => {
    const ops = place({ syncs: names(9), workers: [W('c', 4), W('a', 6), W('b', 5)], assignments: new Map(), inTransit: new Set() });
    expect(ops.map((o) => `${o.sync}>${o.worker}`)).toEqual(['s1>a', 's2>a', 's3>b', 's4>a', 's5>b', 's6>c', 's7>a', 's8>b', 's9>c']);
    expect(loads(apply(new Map(), ops))).toEqual({ a: 4, b: 3, c: 2 });
  });

  it('never places beyond capacity: a sync waits unassigned while no worker has room', () => {
    const ops = place({ syncs: names(5), workers: [W('a', 2), W('b', 2)], assignments: new Map(), inTransit: new Set() });
    expect(ops).toHaveLength(4);
    expect(ops.find((o) => o.sync === 's5')).toBeUndefined();
  });

  it('is stable: a placed cluster gives no ops, and the same reading gives the same ops', () => {
    const input = { syncs: names(9), workers: [W('a', 6), W('b', 5), W('c', 4)], assignments: new Map<string, string>() };
    const { assignments } = settle(input);
    expect(place({ ...input, assignments, inTransit: new Set() })).toEqual([]);
    const moved = new Map(assignments);
    moved.delete('s3');
    expect(place({ ...input, assignments: moved, inTransit: new Set() })).toEqual(place({ ...input, assignments: moved, inTransit: new Set() }));
  });

  it("reassigns a dead worker's syncs at once, even while a move is in flight, and only those", () => {
    const input = { syncs: names(9), workers: [W('a', 6), W('b', 5), W('c', 4)], assignments: new Map<string, string>() };
    const { assignments } = settle(input);
    const ops = place({ syncs: names(9), workers: [W('a', 6), W('b', 5)], assignments, inTransit: new Set(['s1']) });
    const cs = [...assignments].filter(([, w]) => w === 'c').map(([s]) => s);
    expect(ops.map((o) => o.sync).sort()).toEqual(cs.sort());
    expect(ops.every((o) => o.worker === 'a' || o.worker === 'b')).toBe(true);
    expect(loads(apply(assignments, ops))).toEqual({ a: 5, b: 4 });
  });

  it('moves ONE sync at a time to a worker that joins, and waits while a move is in transit', () => {
    const base = { syncs: names(9), workers: [W('a', 6), W('b', 5)], assignments: new Map<string, string>() };
    const { assignments } = settle(base);
    expect(loads(assignments)).toEqual({ a: 5, b: 4 });
    const joined = { ...base, workers: [...base.workers, W('d', 4)] };
    const first = place({ ...joined, assignments, inTransit: new Set() });
    expect(first).toHaveLength(1);
    expect(first[0]?.worker).toBe('d');
    const after = apply(assignments, first);
    // The moved sync has not reported from d yet: nothing else moves.
    expect(place({ ...joined, assignments: after, inTransit: new Set([first[0]?.sync ?? '']) })).toEqual([]);
    const { assignments: final, steps } = settle({ ...joined, assignments: after });
    expect(steps.every((s) => s.length === 1)).toBe(true);
    expect(loads(final)).toEqual({ a: 4, b: 3, d: 2 });
  });

  it('unassigns a sync no longer declared', () => {
    const ops = place({ syncs: ['s1'], workers: [W('a', 2)], assignments: new Map([['s1', 'a'], ['gone', 'a']]), inTransit: new Set() });
    expect(ops).toEqual([{ sync: 'gone', worker: undefined }]);
  });

  it('counts a sync in transit until its assigned worker reports it copying, streaming or failed', () => {
    const state = {
      syncs: [{ name: 's1', config: {}, appliedAt: '' }, { name: 's2', config: {}, appliedAt: '' }],
      workers: [{ name: 'a', host: 'h', pid: 1, capacity: 2, since: '' }],
      assignments: new Map([['s1', 'a'], ['s2', 'a']]),
      reports: [
        { sync: 's1', worker: 'a', phase: 'stream', lagSeconds: 0, lastError: null, at: '' },
        { sync: 's2', worker: 'old', phase: 'stream', lagSeconds: 0, lastError: null, at: '' },
      ],
    };
    expect([...placementInput(state).inTransit]).toEqual(['s2']);
  });
});
