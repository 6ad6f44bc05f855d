import { defineConfig } from 'vitest/config';

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
  },
});
