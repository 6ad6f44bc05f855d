/**
 * EventQueue.paceRead: a producer on the consumer's thread reads its socket once per turn of the
 * event loop, and the pacing never undoes the queue's own pause (above its bound) nor keeps the
 * socket paused once the queue is drained and the turn is over.
 */
import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../src/stream/queue.js';

/** A socket's reading state as the queue drives it. */
function socket() {
  const s = { reading: true, pauses: 0, resumes: 0 };
  const opts = {
    maxBytes: 100,
    pause: () => {
      s.pauses++;
      s.reading = false;
      return true;
    },
    resume: () => {
      s.resumes++;
      s.reading = true;
    },
  };
  return { s, opts };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('EventQueue.paceRead', () => {
  it('stops reading after a read until the next turn of the event loop, once per turn', async () => {
    const { s, opts } = socket();
    const q = new EventQueue<number>(opts);
    q.push(1, 10);
    q.paceRead();
    q.paceRead();
    expect(s).toMatchObject({ reading: false, pauses: 1 });
    // Microtasks and the rest of this turn do not resume it.
    await Promise.resolve();
    expect(s.reading).toBe(false);
    await nextTurn();
    expect(s).toMatchObject({ reading: true, pauses: 1, resumes: 1 });
    expect(await q.takeRun(() => false)).toEqual([1]);
  });

  it('leaves the socket paused at the next turn while the queue is above its bound, and resumes it once drained', async () => {
    const { s, opts } = socket();
    const q = new EventQueue<number>(opts);
    q.push(1, 60);
    q.paceRead();
    q.push(2, 60); // above the bound: the queue's own pause
    await nextTurn();
    expect(s.reading).toBe(false);
    expect(await q.takeRun(() => false)).toEqual([1, 2]);
    expect(s.reading).toBe(true);
  });

  it('does not resume when the queue drains during the paced turn, but at the turn\'s end', async () => {
    const { s, opts } = socket();
    const q = new EventQueue<number>(opts);
    q.push(1, 120); // above the bound
    q.paceRead();
    expect(await q.takeRun(() => false)).toEqual([1]);
    expect(s.reading).toBe(false);
    await nextTurn();
    expect(s.reading).toBe(true);
  });

  it('does nothing when the producer has no socket to pause, or after a failure', async () => {
    const q = new EventQueue<number>({ maxBytes: 100, pause: () => false, resume: () => expect.unreachable() });
    q.paceRead();
    await nextTurn();
    const { s, opts } = socket();
    const failed = new EventQueue<number>(opts);
    failed.fail(new Error('broken'));
    failed.paceRead();
    await nextTurn();
    expect(s).toMatchObject({ pauses: 0, resumes: 0 });
  });
});
