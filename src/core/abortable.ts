/**
 * Waiting on something that may never answer, for as long as a job runs: `p`'s outcome, unless
 * `signal` aborts first, and then `onAbort()`'s (its value, or what it throws). The abort listener is
 * removed either way; `p` itself is not cancelled (it may go on in the background, its outcome
 * ignored). An already aborted signal takes `onAbort()` at once. Without a signal: `p`.
 */
export async function unlessAborted<T, A>(p: Promise<T>, signal: AbortSignal | undefined, onAbort: () => A): Promise<T | A> {
  if (!signal) return p;
  if (signal.aborted) return onAbort();
  let listener: (() => void) | undefined;
  try {
    return await Promise.race([p, new Promise<A>((resolve, reject) => {
      listener = () => {
        try {
          resolve(onAbort());
        } catch (err) {
          reject(err as Error);
        }
      };
      signal.addEventListener('abort', listener, { once: true });
    })]);
  } finally {
    if (listener) signal.removeEventListener('abort', listener);
  }
}
