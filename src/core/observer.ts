/**
 * What the copy and the stream report as they work, for metrics (latency and size histograms):
 * the seam between the engine's loops and whatever records them (server/metrics.ts records them
 * with prom-client). The copier and the applier take one in their options and call it; they know
 * nothing of how it is recorded.
 *
 * Contract for implementations: every method is called on the hot path (once per stream commit,
 * per source transaction, per copy chunk), so it must be cheap and synchronous, and it must not
 * throw: an observer never changes what the sync does.
 */
export interface SyncObserver {
  /**
   * The stream committed a target transaction (with its checkpoint). Called after every commit,
   * checkpoint-only ones included (then `changes` is 0).
   * - `changes`: row changes written by it, after coalescing (spilled writes included);
   * - `applySeconds`: from its first write to the target (its begin) to the end of its commit;
   * - `commitSeconds`: the target's COMMIT alone (with the checkpoint row).
   */
  streamCommitted(batch: { readonly changes: number; readonly applySeconds: number; readonly commitSeconds: number }): void;

  /**
   * A source transaction with changes to synced tables is committed on the target: seconds from
   * its commit on the source (the source's clock, at the precision the source logs: whole
   * seconds for a MySQL/MariaDB binlog) to the target's commit (this machine's clock).
   */
  changeCommitted(latencySeconds: number): void;

  /** A copy chunk is written and committed on the target: its table, rows and seconds from its read to its commit. */
  chunkCopied(chunk: { readonly table: string; readonly rows: number; readonly seconds: number }): void;
}

/** The observer used when none is given: records nothing. */
export const NO_OBSERVER: SyncObserver = {
  streamCommitted: () => undefined,
  changeCommitted: () => undefined,
  chunkCopied: () => undefined,
};
