import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The files that take longest, slowest first: CI's per-file times of 2026-12-05 (/tmp/ci16, from
 * about 118 s for ddl-stream-postgres down to about 20 s), each file changed by that day's second
 * test-time pass scaled by its time alone under the lock before and after (contract, verify, cluster,
 * sync, keyless, binlog-heartbeat, mysql-to-postgres; pagila and sakila also start and load their
 * servers in beforeAll, which the per-file time leaves out). On a clean checkout vitest has no
 * timings cached and orders by file size, so one of these could start last and leave a worker idle
 * for minutes at the end of the run; started first, they leave the short files (seconds each) for
 * the tail.
 */
const SLOW_FIRST = [
  'ddl-stream-postgres', 'memory', 'contract', 'ddl-stream', 'verify', 'standby', 'etcd-target', 'sync', 'cluster', 'postgres-relation-change',
  'move', 'check', 'keyless', 'terminal', 'copy-order', 'demo', 'dashboard', 'sakila', 'binlog-heartbeat', 'multi-database', 'mysql-to-postgres',
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
