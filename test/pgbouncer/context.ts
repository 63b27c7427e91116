import { inject } from 'vitest';

/** The PgBouncer suite's shared cluster and PgBouncers (see `global-setup.ts`). Never stop or pause its nodes. */
export interface BouncedCluster {
  /** Why the suite is skipped, or `null`. */
  readonly missing: string | null;
  readonly primaryUrl: string;
  readonly replicaUrls: readonly string[];
  readonly directPrimaryUrl: string;
  readonly directReplicaUrls: readonly string[];
  readonly adminUrls: readonly string[];
  readonly version: string;
  /** The nodes' own ports: what `inet_server_port()` answers through PgBouncer. */
  readonly primaryPort: number;
  readonly replicaPorts: readonly number[];
}

const portOf = (url: string): number => Number(new URL(url).port);

/** Reads the global setup's values with `inject()`. */
export function bouncedCluster(): BouncedCluster {
  const directPrimaryUrl = inject('directPrimaryUrl');
  const directReplicaUrls = inject('directReplicaUrls');
  return {
    missing: inject('pgbouncerMissing'),
    primaryUrl: inject('bouncerPrimaryUrl'),
    replicaUrls: inject('bouncerReplicaUrls'),
    directPrimaryUrl,
    directReplicaUrls,
    adminUrls: inject('bouncerAdminUrls'),
    version: inject('pgbouncerVersion'),
    primaryPort: directPrimaryUrl === '' ? 0 : portOf(directPrimaryUrl),
    replicaPorts: directReplicaUrls.map(portOf),
  };
}
