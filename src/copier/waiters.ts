/** Waiting on a list of callbacks: how the copier and the convergence gates wake each other. */

/** Wakes every waiter in the list (the caller empties it first, e.g. with splice(0)). */
export function wakeAll(waiters: readonly (() => void)[]): void {
  for (const w of waiters) w();
}

/** Resolves when woken through `waiters` (wakeAll) or when `signal` aborts, removing itself from the list. */
export function waitFor(waiters: (() => void)[], signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      signal?.removeEventListener('abort', done);
      const i = waiters.indexOf(done);
      if (i >= 0) waiters.splice(i, 1);
      resolve();
    };
    waiters.push(done);
    signal?.addEventListener('abort', done, { once: true });
  });
}
