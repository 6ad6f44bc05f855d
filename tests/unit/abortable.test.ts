import { describe, expect, it } from 'vitest';
import { unlessAborted } from '../../src/core/abortable.js';
import { AbortedError } from '../../src/core/errors.js';

const never = new Promise<never>(() => undefined);

describe('unlessAborted', () => {
  it('answers with the promise while the signal stays quiet, its rejection included, and leaves no listener behind', async () => {
    const ctl = new AbortController();
    let added = 0;
    let removed = 0;
    const add = ctl.signal.addEventListener.bind(ctl.signal);
    const remove = ctl.signal.removeEventListener.bind(ctl.signal);
    ctl.signal.addEventListener = ((...a: Parameters<typeof add>) => (added++, add(...a))) as typeof add;
    ctl.signal.removeEventListener = ((...a: Parameters<typeof remove>) => (removed++, remove(...a))) as typeof remove;
    expect(await unlessAborted(Promise.resolve(7), ctl.signal, () => 'aborted')).toBe(7);
    await expect(unlessAborted(Promise.reject(new Error('boom')), ctl.signal, () => 'aborted')).rejects.toThrow('boom');
    expect([added, removed]).toEqual([2, 2]);
    expect(await unlessAborted(Promise.resolve(8), undefined, () => 'aborted')).toBe(8);
  });

  it('takes onAbort as soon as the signal aborts (a value, or what it throws), and at once when already aborted', async () => {
    const ctl = new AbortController();
    const waiting = unlessAborted(never, ctl.signal, () => undefined);
    const throwing = unlessAborted(never, ctl.signal, () => {
      throw new AbortedError('stopped while waiting for etcd');
    });
    ctl.abort();
    expect(await waiting).toBeUndefined();
    await expect(throwing).rejects.toBeInstanceOf(AbortedError);
    expect(await unlessAborted(never, ctl.signal, () => 'late')).toBe('late');
  });
});
