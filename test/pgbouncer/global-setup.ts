import type { TestProject } from 'vitest/node';
import { findPgBouncer, startLocalCluster, startPgBouncer } from '../../src/testing.js';

declare module 'vitest' {
  /** What the PgBouncer suite's global setup hands to its test files. */
  export interface ProvidedContext {
    /** Why the suite does not run (no PgBouncer binary), or `null` when it does. */
    pgbouncerMissing: string | null;
    /** The PgBouncer in front of the primary (transaction pooling), and those in front of the two replicas. */
    bouncerPrimaryUrl: string;
    bouncerReplicaUrls: string[];
    /** The nodes' own URLs, past PgBouncer. */
    directPrimaryUrl: string;
    directReplicaUrls: string[];
    /** Admin console URLs of the PgBouncers (`SHOW SERVERS`), in node order. */
    bouncerAdminUrls: string[];
    /** PgBouncer's version, e.g. `1.18.0`. */
    pgbouncerVersion: string;
  }
}

/** Set by CI (`.ci/run` installs PgBouncer): a missing binary is then a failure, not a skip. */
const REQUIRED = process.env.PGROUTER_REQUIRE_PGBOUNCER === '1' || process.env.CI === 'true';

/**
 * One local cluster (a primary and two streaming replicas) and one PgBouncer in transaction mode in front of each
 * node, for the whole PgBouncer suite. Files that stop or pause nodes start their own.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const bin = findPgBouncer();
  if (bin === undefined) {
    const why = 'no PgBouncer binary (PGBOUNCER_BIN, /usr/sbin/pgbouncer, PATH); install it: apt-get install pgbouncer';
    if (REQUIRED) throw new Error(`the PgBouncer suite must run here, but there is ${why}`);
    process.stderr.write(`\n${'!'.repeat(100)}\n!! test:pgbouncer NOT RUN: ${why}\n${'!'.repeat(100)}\n\n`);
    project.provide('pgbouncerMissing', why);
    project.provide('bouncerPrimaryUrl', '');
    project.provide('bouncerReplicaUrls', []);
    project.provide('directPrimaryUrl', '');
    project.provide('directReplicaUrls', []);
    project.provide('bouncerAdminUrls', []);
    project.provide('pgbouncerVersion', '');
    return () => Promise.resolve();
  }
  const log = process.env.TEST_CLUSTER_LOG === '1' ? (line: string) => process.stderr.write(`${line}\n`) : undefined;
  const cluster = await startLocalCluster({ replicas: 2, ...(log === undefined ? {} : { log }) });
  try {
    const bouncers = await startPgBouncer({ cluster, poolMode: 'transaction', poolSize: 10, bin, log });
    project.provide('pgbouncerMissing', null);
    project.provide('bouncerPrimaryUrl', bouncers.primaryUrl);
    project.provide('bouncerReplicaUrls', [...bouncers.replicaUrls]);
    project.provide('directPrimaryUrl', cluster.primaryUrl);
    project.provide('directReplicaUrls', [...cluster.replicaUrls]);
    project.provide(
      'bouncerAdminUrls',
      bouncers.bouncers.map((b) => b.adminUrl),
    );
    project.provide('pgbouncerVersion', bouncers.version);
    return async () => {
      await bouncers.stop();
      await cluster.stop();
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
