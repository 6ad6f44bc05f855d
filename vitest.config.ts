import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The files that take longest, slowest first (standby, cluster and the failover files placed by their
 * times alone on 2026-12-05): CI's per-file times of 2026-12-04 (/tmp/ci8), scaled by
 * each changed file's time alone before and after that day's test-time fixes, from about 155 s for
 * contract down to about 20 s (pagila and sakila also start and load their servers in beforeAll,
 * which the per-file time leaves out). On a clean checkout vitest has no timings cached and orders
 * by file size, so one of these could start last and leave a worker idle for minutes at the end of
 * the run; started first, they leave the short files (seconds each) for the tail.
 */
const SLOW_FIRST = [
  'contract', 'ddl-stream-postgres', 'standby', 'verify', 'memory', 'ddl-stream', 'cluster', 'sync', 'etcd-target', 'postgres-relation-change',
  'terminal', 'check', 'keyless', 'move', 'copy-order', 'binlog-heartbeat', 'mysql-to-postgres', 'demo', 'sakila', 'dashboard',
  'pagila', 'etcd-postgres', 'relay-failover', 'failover', 'secrets', 'lock-lost', 'etcd-check', 'checksum-sync', 'throttle', 'etcd-types', 'spatial',
];

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
