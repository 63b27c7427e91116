/**
 * A throwaway local PostgreSQL primary with streaming replicas, for tests, benchmarks and the demo.
 *
 * @packageDocumentation
 */
export type { LocalCluster, LocalClusterOptions, LocalNode, NodeSelector } from './types.js';
export { startLocalCluster } from './local-cluster.js';
export { findPostgresBinaries, type PostgresBinaries, type PostgresBinarySource } from './pg-binaries.js';
export { waitForReplicaReplay } from './pg-queries.js';
export { startPgBouncer } from './pgbouncer.js';
export type { LocalPgBouncer, LocalPgBouncers, PgBouncerOptions, PgBouncerPoolMode } from './pgbouncer.js';
export { findPgBouncer } from './pgbouncer-config.js';
