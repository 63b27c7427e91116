import { inject } from 'vitest';
import { waitForReplicaReplay } from '../../src/testing.js';

/** The suite's shared cluster, started once by test/global-setup.ts. Never stop, kill or pause its nodes. */
export interface SharedCluster {
  readonly primaryUrl: string;
  readonly replicaUrls: readonly string[];
  /** Resolves once both replicas have replayed everything written on the primary so far. */
  waitForReplication(timeoutMs?: number): Promise<void>;
}

/** The shared cluster's URLs, read with `inject()`. */
export function sharedCluster(): SharedCluster {
  const primaryUrl = inject('primaryUrl');
  const replicaUrls = inject('replicaUrls');
  return {
    primaryUrl,
    replicaUrls,
    waitForReplication: (timeoutMs?: number) => waitForReplicaReplay(primaryUrl, replicaUrls, timeoutMs),
  };
}
