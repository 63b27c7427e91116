import type { TestProject } from 'vitest/node';
import { startLocalCluster } from '../src/testing.js';

declare module 'vitest' {
  /** Values the global setup hands to every test file through `inject()`. */
  export interface ProvidedContext {
    /** URL of the shared cluster's primary (password included). */
    primaryUrl: string;
    /** URLs of the shared cluster's two streaming replicas. */
    replicaUrls: string[];
  }
}

/**
 * Starts ONE local cluster (a primary and two streaming replicas) for the whole suite and hands its
 * URLs to the test files. Tests must not stop, kill or pause its nodes: those start their own.
 * Set `TEST_CLUSTER_LOG=1` to see the servers' logs.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startLocalCluster({
    replicas: 2,
    ...(process.env.TEST_CLUSTER_LOG === '1' ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
  });
  project.provide('primaryUrl', cluster.primaryUrl);
  project.provide('replicaUrls', [...cluster.replicaUrls]);
  return () => cluster.stop();
}
