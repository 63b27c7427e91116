import type { NodePoolStats } from '../pool/index.js';
import type { ConnectionBudgetStats, PatternSnapshot, ScopeSnapshot } from '../adaptive/index.js';
import type { PipelineStats } from '../pipeline/index.js';
import type { RoutingCounts } from './node-choice.js';
import type { ConsistencyCounts } from './read-your-writes.js';

/** The counts of each pipeline that `stats().pipelines` sums. */
export type SummedPipelineCounts = 'queued' | 'held' | 'batches' | 'statements' | 'failed' | 'coalesced';

/** The counters of a node's pool that `stats()` reports as the pool keeps them. */
export const NODE_POOL_COUNTERS = [
  'queries',
  'errors',
  'inFlight',
  'latencyMs',
  'latencyP50Ms',
  'latencyP99Ms',
  'recentLatencyP50Ms',
  'recentLatencyP99Ms',
  'acquireMeanMs',
  'acquireP99Ms',
  'statementCache',
  'connections',
  'recycled',
  'connectRetries',
  'connectionRefusals',
  'leanBatches',
  'disabledInternals',
  'statementCacheDisabled',
] as const satisfies readonly (keyof NodePoolStats)[];

/** The connection counts of a node's pool in `stats()`. */
export const NODE_POOL_SIZES = [
  'total',
  'idle',
  'active',
  'waiting',
  'target',
  'max',
  'reserved',
] as const satisfies readonly (keyof NodePoolStats)[];

/** One node in {@link RouterStats}. */
export interface NodeStats extends Pick<NodePoolStats, (typeof NODE_POOL_COUNTERS)[number]> {
  /** `'primary'`, `'replica-0'`, … */
  readonly name: string;
  /** Its role now: the configured one, until a failover (`failover: 'auto'`) promotes a replica. */
  readonly role: 'primary' | 'replica';
  /** Whether its last health check said it is in recovery (a standby); `null` before one succeeded and while they fail. */
  readonly inRecovery: boolean | null;
  /** Out of the balancer because it trails the primary by more than `maxReplicaLagMs` / `maxReplicaLagBytes`. */
  readonly lagging: boolean;
  /** `host:port/database`; never credentials. */
  readonly url: string;
  /** Whether the node passed its last health check. */
  readonly healthy: boolean;
  /** Why its last health check failed, if it did. */
  readonly lastHealthError: string | undefined;
  /** The node's circuit breaker: `closed` (healthy), `open` (failing fast) or `halfOpen` (trying one call). */
  readonly breaker: 'closed' | 'open' | 'halfOpen';
  /** How many times the breaker has opened. */
  readonly breakerOpens: number;
  /**
   * Connections: open in all, idle, checked out, callers waiting for one, the ceiling now (`target`: the adaptive
   * size when `adaptive.enabled`, else `max`; never below `reserved`), the configured `max`, and the connections
   * `reserved` for pre-warmed workload scopes (`router.prewarm()`) until their runs end.
   */
  readonly pool: Pick<NodePoolStats, (typeof NODE_POOL_SIZES)[number]>;
  /**
   * How far this replica trails the primary, from the last health checks (every `pool.healthCheckIntervalMs`):
   * `lagMs` is 0 when it has replayed all the primary had written, else the time since it replayed its last
   * transaction; `lagBytes` is the WAL not replayed yet. `null` for the primary and before both were checked.
   */
  readonly lagMs: number | null;
  readonly lagBytes: number | null;
  /** The timeline the node writes (the primary) or receives (a replica): `null` where the server does not say. */
  readonly timeline: number | null;
  /**
   * Why this replica is out of the balancer for holding another history than the primary's: another cluster, or
   * another timeline (it follows an old primary after a failover, or has not switched yet). `null` otherwise.
   */
  readonly diverged: string | null;
  /**
   * The connection budget on this node (option `connectionBudget`): the group's connections by instance, their
   * total and the budget, this instance's ceiling and share; `null` without a budget.
   */
  readonly budget: ConnectionBudgetStats | null;
}

/** The JSON snapshot returned by `router.stats()`. */
export interface RouterStats {
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  readonly nodes: readonly NodeStats[];
  /**
   * The pipelines this router made and that are not closed, summed: `open` pipelines, statements `queued` for a
   * batch, `held` (queued or in flight), `batches`, `statements` and `failed` so far, and `coalesced` statements.
   */
  readonly pipelines: { readonly open: number } & Pick<PipelineStats, SummedPipelineCounts>;
  /**
   * Routing decisions: statements (and transactions) sent to the primary and to replicas, forced routes, reads kept
   * on the primary by a VOLATILE (or unknown) function and the catalog look-ups that took, read and caller
   * fallbacks, self-healed misroutes; and which replicas take reads now.
   */
  readonly routing: Readonly<RoutingCounts> & {
    readonly catalogLookups: number;
    /** Replicas in the balancer now: healthy, breaker not open. */
    readonly replicasAvailable: number;
    /** True when no replica can take reads, so reads run on the primary (unless `readFallback: 'replicas-only'`). */
    readonly readsOnPrimary: boolean;
    /** Why, replica by replica (health, breaker, lag, not a standby), when `readsOnPrimary`; `null` otherwise. */
    readonly readsOnPrimaryReason: string | null;
  };
  /** The node writes go to now (`'primary'` unless a failover promoted another). */
  readonly primary: string;
  /** How many times `failover: 'auto'` changed the primary. */
  readonly failovers: number;
  /** Read-your-writes: the mode, and where reads that had to see a session's writes ran. */
  readonly consistency: { readonly mode: 'eventual' | 'read-your-writes' } & Readonly<ConsistencyCounts>;
  /** The classification cache (keyed by SQL text). */
  readonly classifierCache: {
    readonly size: number;
    readonly max: number;
    readonly hits: number;
    readonly misses: number;
    readonly hitRate: number;
  };
  /** Prepared statements over all nodes and connections. */
  readonly statementCache: {
    readonly hits: number;
    readonly misses: number;
    readonly evictions: number;
    readonly maxPerConnection: number;
    readonly hitRate: number;
  };
  /** Whether adaptive sizing is on; how many query patterns are tracked and how many were forgotten for room. */
  readonly adaptive: { readonly enabled: boolean; readonly patternsTracked: number; readonly patternsEvicted: number };
  /** The ten most frequent query patterns now (see `router.patterns()`). */
  readonly patterns: readonly PatternSnapshot[];
  /** Workload scopes (`router.scope()`), most recently used first: runs, statements in flight and last peak per node. */
  readonly scopes: readonly ScopeSnapshot[];
}
