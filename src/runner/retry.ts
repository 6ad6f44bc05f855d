/**
 * The reconnect policy a long-running process (the sync's runner, the relay) follows when its
 * source or target fails for a retryable reason: wait, then start again from its last durable
 * point. Attempts count failures in a row without progress; one that made progress resets them.
 */

/** Failures in a row without progress after which the process gives up and reports the last one. */
export const MAX_ATTEMPTS = 8;

/** The wait before attempt `attempt` (1-based): 1 s, 2 s, 4 s, … doubling, at most 30 s. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(30_000, 500 * 2 ** attempt);
}

/** Waits `ms`, or less when `signal` aborts first (resolving either way). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
