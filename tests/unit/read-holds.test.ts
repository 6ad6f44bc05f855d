/** ReadHolds: a reader paused for two reasons reads again only once both are released. */
import { describe, expect, it } from 'vitest';
import { ReadHolds } from '../../src/stream/read-holds.js';

function reader() {
  const calls: string[] = [];
  let paused = false;
  return { calls, paused: () => paused, r: { pause: () => (calls.push('pause'), (paused = true)), resume: () => (calls.push('resume'), (paused = false)) } };
}

describe('ReadHolds', () => {
  it('resumes only when the last reason releases, in either order', () => {
    for (const order of [['queue', 'describe'], ['describe', 'queue']] as const) {
      const { r, paused } = reader();
      const holds = new ReadHolds<'queue' | 'describe'>(r);
      holds.hold('describe');
      holds.hold('queue');
      holds.release(order[0]);
      expect(paused()).toBe(true);
      expect(holds.holding).toBe(true);
      holds.release(order[1]);
      expect(paused()).toBe(false);
      expect(holds.holding).toBe(false);
    }
  });

  it('a release without a hold does not resume a reader another reason holds', () => {
    const { r, paused, calls } = reader();
    const holds = new ReadHolds<'queue' | 'describe'>(r);
    holds.hold('describe');
    holds.release('queue');
    expect(paused()).toBe(true);
    holds.release('describe');
    holds.release('describe');
    expect(calls).toEqual(['pause', 'resume']);
  });

  it('a reason held twice is released once', () => {
    const { r, paused } = reader();
    const holds = new ReadHolds<'queue'>(r);
    holds.hold('queue');
    holds.hold('queue');
    holds.release('queue');
    expect(paused()).toBe(false);
  });
});
