/**
 * One pass of the continuous checker (checksum/continuous.ts) over tables that nothing writes to,
 * for tests of how it checks chunks: the stream has "read" up to the source's head, every chunk is
 * expected equal (nothing is held, released or waited for), and a pass that found a difference
 * fails on the stub convergence (its run then rejects).
 */
import type { Logger } from 'pino';
import { ContinuousChecker } from '../../src/checksum/continuous.js';
import type { TablePlan } from '../../src/checksum/plan.js';
import type { Convergence } from '../../src/copier/convergence.js';
import type { ChangeSource } from '../../src/core/source.js';
import type { Target } from '../../src/core/target.js';

/** Runs the checker until its first clean pass and returns its status. */
export async function firstCleanPass(source: ChangeSource, target: Target, plans: TablePlan[], chunkSize: number, logger: Logger): Promise<ReturnType<ContinuousChecker['status']>> {
  const head = await source.headPosition();
  const checker = new ContinuousChecker({
    source,
    target,
    plans,
    convergence: {} as Convergence,
    release: () => undefined,
    appliedPosition: () => head,
    receivedPosition: () => head,
    streamIdle: () => true,
    barrier: () => Promise.resolve(),
    chunkSize,
    chunkBytes: 1 << 20,
    intervalMs: 60_000,
    logger,
  });
  const stop = new AbortController();
  const running = checker.run(stop.signal);
  await Promise.race([checker.firstCleanPass, running]);
  stop.abort();
  await running;
  return checker.status();
}
