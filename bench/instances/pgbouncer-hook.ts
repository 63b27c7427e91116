/**
 * Set-up (c) of `bench:instances`, "through PgBouncer": the same K processes, their routers pointed at one PgBouncer
 * in transaction mode in front of the node, holding as many server connections as the budget, with the statement
 * cache off (PgBouncer 1.18, Debian's, cannot keep named statements across transactions). Where no PgBouncer binary
 * is found the set-up is reported as not run.
 */
import { findPgBouncer, startPgBouncer } from '../../src/testing.js';

/** A PgBouncer running in front of `primaryUrl` for one set-up. */
export interface PgBouncerFront {
  /** Where the routers connect instead of the node. */
  readonly url: string;
  /** Stops it once the set-up is done. */
  stop(): Promise<void>;
}

/** Starts a PgBouncer in front of `primaryUrl` allowing `serverConnections`, or `undefined` where there is none. */
export type PgBouncerSetup = (primaryUrl: string, serverConnections: number) => Promise<PgBouncerFront | undefined>;

/** The PgBouncer of set-up (c): Debian's binary (or `PGBOUNCER_BIN`), transaction pooling. */
export const pgbouncerSetup: PgBouncerSetup = async (primaryUrl, serverConnections) => {
  if (findPgBouncer() === undefined) return undefined;
  const bouncers = await startPgBouncer({
    targets: [primaryUrl],
    poolMode: 'transaction',
    poolSize: serverConnections,
    // Every server connection PgBouncer opens counts against the node; none beyond the pool.
    settings: { max_db_connections: serverConnections, reserve_pool_size: 0 },
  });
  return { url: bouncers.primaryUrl, stop: () => bouncers.stop() };
};
