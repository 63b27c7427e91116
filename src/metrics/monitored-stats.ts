/**
 * What the monitor server and the dashboard read of a stats snapshot.
 *
 * A structural subset of the router's `RouterStats`, declared here so that `src/metrics` never imports
 * `src/router` (the router imports `src/metrics`, and DESIGN.md forbids the cycle). Anything shaped like this
 * can be monitored, which is also what lets the tests hand the server a fake.
 */

/** A node's connection pool, as the monitor reads it. */
export interface MonitoredPool {
  /** Connections open, idle and checked out. */
  readonly total: number;
  readonly idle: number;
  readonly active: number;
  /** Callers waiting for a connection. */
  readonly waiting: number;
  /** The pool's ceiling. */
  readonly max: number;
  /** The size the adaptive sizer aims for, when adaptive sizing reports one. */
  readonly target?: number;
}

/** One node of a {@link MonitoredStats}. */
export interface MonitoredNode {
  /** `'primary'`, `'replica-0'`, … */
  readonly name: string;
  readonly role: 'primary' | 'replica';
  /** `host:port/database`; never credentials. */
  readonly url: string;
  /** Whether the node passed its last health check. */
  readonly healthy: boolean;
  /** Why its last health check failed, if it did. */
  readonly lastHealthError?: string | undefined;
  /** The node's circuit breaker. */
  readonly breaker: 'closed' | 'open' | 'halfOpen';
  readonly pool: MonitoredPool;
  /** Statements run on this node since the router started: a counter, so rates come from its deltas. */
  readonly queries: number;
  /** Statements that failed on this node (any cause): a counter. */
  readonly errors: number;
  /** Statements running or waiting for a connection now. */
  readonly inFlight: number;
  /** Weighted mean time per statement, in milliseconds. */
  readonly latencyMs: number;
  /** Median statement time since the router started, in milliseconds, when the router measures it. */
  readonly latencyP50Ms?: number;
  /** 99th percentile statement time since the router started, in milliseconds, when the router measures it. */
  readonly latencyP99Ms?: number;
  /** Median statement time over the last minute, in milliseconds (`0`: none ended in it), when the router measures it. */
  readonly recentLatencyP50Ms?: number;
  /** 99th percentile statement time over the last minute, in milliseconds (`0`: none ended in it), when the router measures it. */
  readonly recentLatencyP99Ms?: number;
  /** Replay lag of a replica, in milliseconds; `null` when it could not be measured, absent on a primary. */
  readonly lagMs?: number | null;
  /** True while the replica is out of the balancer for lagging more than `maxReplicaLagMs` / `maxReplicaLagBytes`. */
  readonly lagging?: boolean;
  /** Why a replica is out of the balancer for holding another history than the primary's (cluster or timeline), if it is. */
  readonly diverged?: string | null;
}

/** A statement shape the router has learnt, by fingerprint. */
export interface MonitoredPattern {
  /** The normalised SQL (literals replaced): data, never trusted markup. */
  readonly fingerprint: string;
  readonly count: number;
  readonly ratePerSecond: number;
  readonly meanMs: number;
  readonly p95Ms: number;
  /** Where the router sends it (`'primary'`, `'replica'`). */
  readonly route: string;
}

/** The subset of `router.stats()` that the monitor server and dashboard read. */
export interface MonitoredStats {
  /** Whether the router has been closed. */
  readonly closed: boolean;
  readonly nodes: readonly MonitoredNode[];
  /** Routing decisions so far (counters), and whether any replica can take reads now. */
  readonly routing: {
    readonly primary: number;
    readonly replica: number;
    readonly forced: number;
    readonly readFallbacks: number;
    readonly callerFallbacks: number;
    readonly selfHealed: number;
    /** Replicas healthy with their breaker not open. */
    readonly replicasAvailable: number;
    /** True when reads run on the primary because no replica can take them. */
    readonly readsOnPrimary: boolean;
    /** Why, replica by replica, when the router says so. */
    readonly readsOnPrimaryReason?: string | null;
  };
  /** The classification cache; `hitRate` is in [0, 1]. */
  readonly classifierCache: { readonly size: number; readonly max: number; readonly hitRate: number };
  /** Prepared statements over all nodes; `hitRate` is in [0, 1]. */
  readonly statementCache: { readonly hits: number; readonly misses: number; readonly hitRate: number };
  /** Open pipelines, summed. */
  readonly pipelines: {
    readonly open: number;
    readonly queued: number;
    readonly held: number;
    readonly batches: number;
    readonly statements: number;
    readonly failed: number;
    readonly coalesced: number;
  };
  /** The most frequent statement shapes, when pattern learning reports them. */
  readonly patterns?: readonly MonitoredPattern[];
}
