import { defineConfig } from 'vitest/config';

/**
 * `npm run test:pgbouncer`: the router behind a real PgBouncer in transaction mode, one in front of each node of a
 * local cluster. A suite of its own, because it needs the `pgbouncer` binary besides PostgreSQL; `.ci/run` installs
 * it and runs this after `npm test`. Without the binary it prints a NOT RUN banner and skips (fails under CI).
 */
export default defineConfig({
  test: {
    include: ['test/pgbouncer/**/*.test.ts'],
    globalSetup: ['test/pgbouncer/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
