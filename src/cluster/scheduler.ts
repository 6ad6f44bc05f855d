import type { Logger } from 'pino';
import { unlessAborted } from '../core/abortable.js';
import { AbortedError } from '../core/errors.js';
import { sleep } from '../runner/retry.js';
import { place, type PlacementInput } from './placement.js';
import type { ClusterState, ClusterStore, SchedulerLeadership } from './store.js';
import { Wake } from './wake.js';

/** The phases in which a sync runs on its worker: a move to it has settled. */
const SETTLED = new Set(['copy', 'stream', 'failed']);

/** Placement's reading of the cluster's state: a sync is in transit until its assigned worker reports it settled. */
export function placementInput(state: ClusterState): PlacementInput {
  const settled = new Set(state.reports.filter((r) => SETTLED.has(r.phase)).map((r) => `${r.sync}\n${r.worker}`));
  const inTransit = new Set([...state.assignments].filter(([sync, worker]) => !settled.has(`${sync}\n${worker}`)).map(([sync]) => sync));
  return {
    syncs: state.syncs.map((s) => s.name),
    workers: state.workers.map((w) => ({ name: w.name, capacity: w.capacity })),
    assignments: state.assignments,
    inTransit,
  };
}

export interface SchedulerOptions {
  readonly store: ClusterStore;
  /** The worker this scheduler runs in (named in its campaign, shown by cluster status). */
  readonly worker: string;
  readonly logger: Logger;
}

/**
 * The cluster's scheduler, as every worker runs it: campaigns for the role; once elected, reads
 * the cluster's state at each change (and every second) and writes what `place()` decides,
 * through its leadership's guarded transaction. Deposed (the guard failed, or its lease ended),
 * it stops writing and campaigns again.
 */
export class Scheduler {
  constructor(private readonly opts: SchedulerOptions) {}

  /** Runs until `signal` aborts (then resigns at once); never throws. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.opts.logger;
    while (!signal.aborted) {
      let lead: SchedulerLeadership;
      try {
        lead = await this.opts.store.campaignScheduler(signal, this.opts.worker);
      } catch (err) {
        if (err instanceof AbortedError || signal.aborted) return;
        log.warn({ err: (err as Error).message }, 'campaigning for the scheduler role failed; campaigning again');
        await sleep(1000, signal);
        continue;
      }
      log.info({ epoch: lead.epoch }, `this worker is the cluster's scheduler (epoch ${lead.epoch})`);
      try {
        await this.lead(lead, signal);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'the scheduler failed; resigning and campaigning again');
      } finally {
        await lead.resign();
      }
      if (!signal.aborted) log.warn({ epoch: lead.epoch }, 'no longer the scheduler; campaigning again');
    }
  }

  private async lead(lead: SchedulerLeadership, signal: AbortSignal): Promise<void> {
    const wake = new Wake();
    const stop = await this.opts.store.watch(() => wake.ring());
    try {
      while (!signal.aborted && !lead.over) {
        // Stopping does not wait for etcd to answer (a worker cut off from it stops at once).
        const state = await unlessAborted(this.opts.store.state(), signal, () => undefined);
        if (state === undefined) return;
        const ops = place(placementInput(state));
        if (ops.length) {
          if (!(await lead.assign(ops))) return;
          for (const op of ops) {
            const was = state.assignments.get(op.sync);
            this.opts.logger.info(
              { sync: op.sync, from: was ?? null, to: op.worker ?? null },
              op.worker === undefined ? `sync ${op.sync} unassigned (no longer declared)` : was === undefined ? `sync ${op.sync} assigned to ${op.worker}` : `sync ${op.sync} moved from ${was} to ${op.worker}`,
            );
          }
        }
        await wake.wait(1000, signal, lead.ended);
      }
    } finally {
      await stop();
    }
  }
}
