/**
 * DirectCopyBet (engines/postgres/load.ts): whether a stream batch of a table tries COPY straight
 * into it before the load table. Tries at first and after every success; after a refusal it
 * skips the next 2, 4, … batches, at most 64, and one success starts over.
 */
import { describe, expect, it } from 'vitest';
import { DirectCopyBet } from '../../src/engines/postgres/load.js';

/** Runs `n` batches whose direct COPY would be accepted when `accept(i)`; the indexes that tried. */
function play(bet: DirectCopyBet, n: number, accept: (i: number) => boolean): number[] {
  const tried: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!bet.tries) continue;
    tried.push(i);
    bet.record(accept(i));
  }
  return tried;
}

describe('DirectCopyBet', () => {
  it('tries every batch of an append-only stream', () => {
    expect(play(new DirectCopyBet(), 10, () => true)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('backs off after each refusal (2, 4, 8 … batches), never beyond 64', () => {
    const tried = play(new DirectCopyBet(), 400, () => false);
    expect(tried.slice(0, 7)).toEqual([0, 3, 8, 17, 34, 67, 132]);
    const gaps = tried.slice(1).map((t, i) => t - (tried[i] as number) - 1);
    expect(Math.max(...gaps)).toBe(64);
  });

  it('starts over after a success: a stream that turns append-only is tried every batch again', () => {
    const bet = new DirectCopyBet();
    // Refused for the first 40 batches (updates), accepted after.
    const tried = play(bet, 120, (i) => i >= 40);
    const after = tried.filter((t) => t >= 40);
    const first = after[0] as number;
    expect(first).toBeLessThanOrEqual(40 + 64);
    expect(after).toEqual(Array.from({ length: 120 - first }, (_, k) => first + k));
  });
});
