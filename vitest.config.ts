import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The files that take longest (measured in CI: minutes each, against seconds for most), started
 * first. On a clean checkout vitest has no timings cached and orders by file size, so one of these
 * could start last and leave a worker idle for minutes at the end of the run.
 */
const SLOW_FIRST = ['memory', 'ddl-stream', 'keyless', 'pagila', 'sakila', 'ddl-stream-postgres', 'contract', 'verify', 'sync', 'check', 'move', 'postgres-relation-change', 'mysql-to-postgres', 'terminal', 'etcd-target', 'etcd-postgres', 'etcd-types'];

class SlowFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = SLOW_FIRST.findIndex((name) => f.moduleId.endsWith(`/integration/${name}.test.ts`));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    return sorted.map((f, i) => [f, i] as const).sort((a, b) => rank(a[0]) - rank(b[0]) || a[1] - b[1]).map(([f]) => f);
  }
}

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    // Integration tests start their own throwaway servers; a failure must not leave them running.
    teardownTimeout: 30_000,
    reporters: ['default'],
    sequence: { sequencer: SlowFirst },
  },
});
