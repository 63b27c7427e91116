/**
 * Set-up (c) of `bench:instances`, "through PgBouncer": the same K processes, their routers pointed at a PgBouncer
 * in transaction mode in front of the node. Not built here: a PgBouncer launcher plugs in by making
 * {@link pgbouncerSetup} return the URL to connect to (and how to stop it); while it returns `undefined` the set-up is
 * reported as not run.
 */

/** A PgBouncer running in front of `primaryUrl` for one set-up. */
export interface PgBouncerFront {
  /** Where the routers connect instead of the node. */
  readonly url: string;
  /** Stops it once the set-up is done. */
  stop(): Promise<void>;
}

/** Starts a PgBouncer in front of `primaryUrl` allowing `serverConnections`, or `undefined` where there is none. */
export type PgBouncerSetup = (primaryUrl: string, serverConnections: number) => Promise<PgBouncerFront | undefined>;

/** The hook: `undefined` until a PgBouncer launcher exists. */
export const pgbouncerSetup: PgBouncerSetup | undefined = undefined;
