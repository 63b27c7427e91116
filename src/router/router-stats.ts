import type { StatementCacheCounters } from '../pool/index.js';
import type { PatternSnapshot } from '../adaptive/index.js';

/** One node in {@link RouterStats}. */
export interface NodeStats {
  /** `'primary'`, `'replica-0'`, … */
  readonly name: string;
  readonly role: 'primary' | 'replica';
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
   * size when `adaptive.enabled`, else `max`) and the configured `max`.
   */
  readonly pool: { readonly total: number; readonly idle: number; readonly active: number; readonly waiting: number; readonly target: number; readonly max: number };
  /** Statements run on this node, and how many failed (any cause). */
  readonly queries: number;
  readonly errors: number;
  /** Statements running or waiting for a connection now. */
  readonly inFlight: number;
  /** Exponentially weighted mean time per statement, acquisition included, in milliseconds. */
  readonly latencyMs: number;
  /** Median and 99th percentile time per statement since start, acquisition included, in milliseconds (±19 %: log buckets). */
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /** Time waited for a connection since start: mean and 99th percentile, in milliseconds. */
  readonly acquireMeanMs: number;
  readonly acquireP99Ms: number;
  /**
   * How far this replica trails the primary, from the last health checks (every `pool.healthCheckIntervalMs`):
   * `lagMs` is 0 when it has replayed all the primary had written, else the time since it replayed its last
   * transaction; `lagBytes` is the WAL not replayed yet. `null` for the primary and before both were checked.
   */
  readonly lagMs: number | null;
  readonly lagBytes: number | null;
  /** This node's prepared-statement cache: hits, misses (statement prepared) and evictions (closed on the server). */
  readonly statementCache: Readonly<StatementCacheCounters>;
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
  readonly pipelines: { readonly open: number; readonly queued: number; readonly held: number; readonly batches: number; readonly statements: number; readonly failed: number; readonly coalesced: number };
  /**
   * Routing decisions: statements (and transactions) sent to the primary and to replicas, how many had their
   * route forced by the caller, how many reads went to the primary because of a VOLATILE (or unknown) function,
   * and how many catalog look-ups that took.
   */
  readonly routing: {
    readonly primary: number;
    readonly replica: number;
    readonly forced: number;
    readonly volatileFunction: number;
    readonly catalogLookups: number;
    /** Reads retried on another replica or the primary after their replica failed. */
    readonly readFallbacks: number;
    /** Statements answered by a caller's `fallback`. */
    readonly callerFallbacks: number;
    /** Writes a replica refused (SQLSTATE 25006) that were re-run on the primary, their verdict corrected. */
    readonly selfHealed: number;
    /** Replicas in the balancer now: healthy, breaker not open. */
    readonly replicasAvailable: number;
    /** True when no replica can take reads, so reads run on the primary (unless `readFallback: 'replicas-only'`). */
    readonly readsOnPrimary: boolean;
  };
  /** The classification cache (keyed by SQL text). */
  readonly classifierCache: { readonly size: number; readonly max: number; readonly hits: number; readonly misses: number; readonly hitRate: number };
  /** Prepared statements over all nodes and connections. */
  readonly statementCache: { readonly hits: number; readonly misses: number; readonly evictions: number; readonly maxPerConnection: number; readonly hitRate: number };
  /** Whether adaptive sizing is on; how many query patterns are tracked and how many were forgotten for room. */
  readonly adaptive: { readonly enabled: boolean; readonly patternsTracked: number; readonly patternsEvicted: number };
  /** The ten most frequent query patterns now (see `router.patterns()`). */
  readonly patterns: readonly PatternSnapshot[];
}
