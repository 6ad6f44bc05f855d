import { Histogram, type Registry } from 'prom-client';
import type { SyncObserver } from '../core/observer.js';

/** Seconds, from a millisecond commit on a local database to a slow one. */
const COMMIT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Changes per stream commit: one row to a full --batch-size and beyond (a flush interval's worth). */
const BATCH_BUCKETS = [1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 50_000, 100_000];
/** Seconds per copy chunk: --chunk-time (default 500 ms) is the aim, so buckets cluster around it. */
const CHUNK_BUCKETS = [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 5, 10, 30, 60];
/** Seconds from source commit to target commit: caught up (MySQL logs whole seconds) to an hour behind. */
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/**
 * The SyncObserver that records into histograms of one registry (server/metrics.ts owns it). The
 * histograms have no labels: a label per table would multiply every bucket by the number of
 * tables, and the status families already count per table. Without labels, each histogram is
 * exposed (with zero counts) from the start, so dashboards and alerts never see it absent.
 */
export class HistogramObserver implements SyncObserver {
  private readonly batchApply: Histogram;
  private readonly batchChanges: Histogram;
  private readonly targetCommit: Histogram;
  private readonly changeLatency: Histogram;
  private readonly chunk: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    this.batchApply = new Histogram({
      name: 'tributary_stream_batch_apply_seconds',
      help: 'Seconds a stream batch took on the target, from its first write to the end of its commit (batches with changes only).',
      buckets: COMMIT_BUCKETS,
      registers,
    });
    this.batchChanges = new Histogram({
      name: 'tributary_stream_batch_changes',
      help: 'Row changes per stream batch committed, after coalescing (batches with changes only).',
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.targetCommit = new Histogram({
      name: 'tributary_target_commit_seconds',
      help: "Seconds of the target's COMMIT of a stream transaction (with its checkpoint), checkpoint-only commits included.",
      buckets: COMMIT_BUCKETS,
      registers,
    });
    this.changeLatency = new Histogram({
      name: 'tributary_change_latency_seconds',
      help: "End-to-end latency: seconds from a source transaction's commit (source clock; whole seconds from a MySQL/MariaDB binlog) to the target commit that applied it, one sample per source transaction with changes to synced tables.",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.chunk = new Histogram({
      name: 'tributary_copy_chunk_seconds',
      help: 'Seconds per copy chunk, from the start of its read on the source to its commit on the target.',
      buckets: CHUNK_BUCKETS,
      registers,
    });
  }

  streamCommitted(batch: { readonly changes: number; readonly applySeconds: number; readonly commitSeconds: number }): void {
    this.targetCommit.observe(batch.commitSeconds);
    // A checkpoint-only commit (a heartbeat moved the position) is no batch: it would pile up in
    // the lowest buckets and hide the real batch sizes.
    if (batch.changes === 0) return;
    this.batchApply.observe(batch.applySeconds);
    this.batchChanges.observe(batch.changes);
  }

  changeCommitted(latencySeconds: number): void {
    this.changeLatency.observe(latencySeconds);
  }

  chunkCopied(chunk: { readonly table: string; readonly rows: number; readonly seconds: number }): void {
    this.chunk.observe(chunk.seconds);
  }
}
