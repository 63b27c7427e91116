import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The router behind PgBouncer: a suite of its own (npm run test:pgbouncer, vitest.pgbouncer.config.ts).
    exclude: ['test/pgbouncer/**', 'node_modules/**'],
    // One shared primary + 2 replicas for the whole suite; URLs reach tests through inject().
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    // Files that start a cluster of their own do it in beforeAll.
    hookTimeout: 120_000,
    // Child processes, not worker threads: tests spawn and signal servers, and a crashed fork is contained.
    pool: 'forks',
    fileParallelism: true,
    // A 2-core machine also runs the PostgreSQL servers.
    maxWorkers: 2,
  },
});
