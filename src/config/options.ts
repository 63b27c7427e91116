import type { PoolClient, PoolConfig, QueryResult } from 'pg';
import type { BreakerOptions } from '../resilience/index.js';
import type { Logger } from '../metrics/index.js';
import type { ConnectionBudgetOptions, ResolvedConnectionBudget } from './connection-budget-options.js';

/**
 * How to reach one node: a connection URL (`postgres://user:pass@host:5432/db`) or a `pg.PoolConfig`.
 * Pool-sizing fields inside a `PoolConfig` (`max`, `min`, `idleTimeoutMillis`, …) override {@link PoolOptions}
 * for that node only.
 */
export type NodeConfig = string | PoolConfig;

/** Sizing and timing of each node's connection pool. */
export interface PoolOptions {
  /** Connections kept open even when idle. Default `0`. */
  min?: number;
  /** Most connections open to one node at once. Default `10`. */
  max?: number;
  /** An idle connection above `min` is closed after this long, in milliseconds; `0` keeps it. Default `30_000`. */
  idleTimeoutMs?: number;
  /** A connection is closed after this long in use, in milliseconds, so server memory is returned; `0` = never. Default `0`. */
  maxLifetimeMs?: number;
  /**
   * How long a query waits for a connection (a free one, or a new one being opened) before it fails with
   * `AcquireTimeoutError`, in milliseconds; `0` waits forever. Default `10_000`.
   */
  acquireTimeoutMs?: number;
  /**
   * Every node is checked (`SELECT 1` on a connection of its own) this often, in milliseconds; a replica that
   * fails a check leaves the balancer until it passes one (events `replicaDown` / `replicaUp`). `0` disables the
   * checks. Default `5_000`. A check fails after `min(2_000, healthCheckIntervalMs)` ms without an answer.
   */
  healthCheckIntervalMs?: number;
  /** Ping a connection (an empty statement) before using it, replacing it if dead. Costs a round trip. Default `false`. */
  prePing?: boolean;
  /**
   * A connection held by a `transaction()` callback longer than this, in milliseconds, emits `leak`. `0`
   * disables it. Default `0`.
   */
  leakTimeoutMs?: number;
  /** Capture the stack of each checkout so `leak` can say who holds it (costs ~2 µs per transaction). Default `false`. */
  leakStackTraces?: boolean;
  /**
   * A connection whose health score (0–100: its recent success rate, its latency against its node's median, its
   * recent errors and its age; see `docs/operations.md`, "Connection health scores") is below this when it is returned is
   * closed instead of kept. `0` never closes one for its health. Default `50`.
   */
  healthThreshold?: number;
  /**
   * Opening a connection that fails at connection level (refused, reset, "the database system is starting up",
   * too many clients) is retried this many times, with exponential backoff and jitter, within `acquireTimeoutMs`.
   * Authentication and configuration errors fail at once. Default `0`.
   */
  connectRetries?: number;
  /** Delay before the first connect retry, in milliseconds; each next one doubles it (half of it random). Default `100`. */
  connectRetryDelayMs?: number;
}

/** The per-connection cache of named prepared statements. */
export interface StatementCacheOptions {
  /**
   * Most prepared statements kept per connection; the least recently used one is closed on the server when a
   * new one needs room, so server memory stays bounded. `0` disables prepared statements. Default `500`.
   */
  max?: number;
}

/** The cache of classification results, keyed by SQL text. */
export interface ClassifierCacheOptions {
  /** Most distinct SQL texts remembered. Default `10_000`. Each entry costs roughly its SQL text plus ~300 bytes. */
  max?: number;
}

/**
 * How a replica is chosen for a read:
 * - `round-robin`: in turn;
 * - `least-busy`: the one with the fewest queries in flight (ties: in turn);
 * - `latency`: the one with the lowest recent mean latency (an exponentially weighted average).
 */
export type LoadBalancing = 'round-robin' | 'least-busy' | 'latency';

/** Workload learning and adaptive pool sizing (see `docs/operations.md`, "Adaptive pool sizing"). */
export interface AdaptiveOptions {
  /**
   * Size each node's pool to its workload within [pool.min, pool.max] instead of letting it grow to `pool.max`.
   * The workload (patterns, hourly profile, forecast) is learned either way. Default `false`.
   */
  enabled?: boolean;
  /** How often sizes are recomputed and the hourly profile is fed, in milliseconds. Default `5_000`. */
  intervalMs?: number;
  /** Share of a pool's connections that should be busy on average (0 < u ≤ 1); the rest is head-room. Default `0.7`. */
  targetUtilization?: number;
  /** A pool shrinks only when its new target is below `current × (1 − hysteresis)` (0 ≤ h < 1). Default `0.25`. */
  hysteresis?: number;
  /** After a resize, a pool does not shrink for this long, in milliseconds (it may always grow). Default `15_000`. */
  cooldownMs?: number;
  /**
   * A pool does not shrink below the largest size its load needed in the last `peakHoldMs` milliseconds, so
   * recurring bursts find it open; `0`: no hold. Default `120_000`.
   */
  peakHoldMs?: number;
  /** Most query patterns (fingerprints) tracked; the least recently seen is forgotten. `0` turns pattern tracking off. Default `1_000`. */
  maxPatterns?: number;
  /**
   * A JSON file where the learned hourly profile is saved (every `saveIntervalMs` and on `close()`) and read at
   * start, so a restarted service pre-warms its pools to what this hour needed before. A corrupt or foreign file
   * is ignored with a `warning` event. Default: none.
   */
  stateFile?: string;
  /** How often the state file is saved, in milliseconds. Default `60_000`. */
  saveIntervalMs?: number;
}

/** Callbacks around each node's connections. They run synchronously on the hot path except `onConnect`: keep them cheap. */
export interface ConnectionHooks {
  /**
   * Runs once on every new connection before its first statement, e.g. `SET search_path` or
   * `SET statement_timeout`. A rejection discards the connection and fails the statement that needed it.
   */
  onConnect?: (
    client: PoolClient,
    node: { readonly node: string; readonly role: 'primary' | 'replica' },
  ) => void | Promise<void>;
  /** A connection was handed out, after the caller waited `waitedMs`. */
  onCheckout?: (event: { readonly node: string; readonly waitedMs: number }) => void;
  /** A connection came back after being held `heldMs`. */
  onCheckin?: (event: { readonly node: string; readonly heldMs: number }) => void;
}

/** Prometheus metrics (`router.metrics`, `router.metricsText()`). */
export interface MetricsOptions {
  /** Also collect prom-client's default process metrics (CPU, memory, event loop lag) on the router's registry, prefixed `pgrouter_`. Default `false`. */
  defaultMetrics?: boolean;
}

/** Options of {@link QueryRouter}. Only `primary` is required. */
export interface QueryRouterOptions {
  /**
   * A configuration profile (`QueryRouter.profiles`) merged under these options, section by section: what you set
   * here wins over the profile, what you leave out comes from it. Default: none (the documented defaults).
   */
  profile?: ProfileName;
  /** The primary: every write, and every statement that is not provably a read, runs here. */
  primary: NodeConfig;
  /** Streaming replicas of the primary, for reads. Default `[]` (everything runs on the primary). */
  replicas?: readonly NodeConfig[];
  /** Pool sizing and timing, for every node. */
  pool?: PoolOptions;
  /** Prepared-statement cache, per connection. */
  statementCache?: StatementCacheOptions;
  /** Classification cache. */
  classifierCache?: ClassifierCacheOptions;
  /** Replica selection. Default `'round-robin'`. */
  loadBalancing?: LoadBalancing;
  /** `application_name` of every connection, seen in `pg_stat_activity`. Default `'pg-query-router'`. */
  applicationName?: string;
  /** One circuit breaker per node; these settings apply to each. */
  breaker?: BreakerOptions;
  /**
   * Where a read goes when its replica fails at connection level or its breaker is open, after one other
   * healthy replica was tried: `'primary'` (default) or `'replicas-only'` (the read fails instead).
   */
  readFallback?: 'primary' | 'replicas-only';
  /**
   * Called when a statement finally fails because of a node (connection refused or lost, breaker open) —
   * never for the caller's own errors such as a syntax error. Its return value becomes the statement's result
   * (a cached value, a default); to fail after all, throw. A per-call `fallback` wins over this one.
   */
  fallback?: FallbackFunction;
  /** Workload learning and adaptive pool sizing. */
  adaptive?: AdaptiveOptions;
  /** Prometheus metrics. */
  metrics?: MetricsOptions;
  /** Where the router logs (pino-compatible: `debug/info/warn/error(fields, message)`). Default: silent. */
  logger?: Logger;
  /** A `query()` taking at least this long, in milliseconds, emits `slowQuery` and is logged (by fingerprint); `0` disables. Default `0`. */
  slowQueryMs?: number;
  /**
   * OpenTelemetry spans for every `query()`, `transaction()` and pipeline batch, through `@opentelemetry/api` (an
   * optional peer dependency: install it, and register an OpenTelemetry SDK to export the spans). They follow
   * OpenTelemetry's database conventions; the statement text is its fingerprint, never the SQL with its literals.
   * Default `false`.
   */
  tracing?: boolean;
  /** Connection callbacks. */
  hooks?: ConnectionHooks;
  /**
   * What a read outside a `router.session()` may see. `'eventual'` (default): any replica in the balancer, however
   * far behind this process's own writes. `'read-your-writes'`: the whole process reads its own writes — every read
   * sees every write this process made, from a replica that has replayed it, else the primary (or after waiting up
   * to `waitForReplicaMs`); for code without request scopes (scripts, migrations, test suites). Sessions read their
   * own writes either way, unless opened with `{ consistency: 'eventual' }`.
   */
  consistency?: Consistency;
  /**
   * A replica that trails the primary by more than this, in milliseconds, leaves the balancer until it catches
   * up (events `replicaLagging` / `replicaCaughtUp`); `0` disables the check. Default `1_000`.
   */
  maxReplicaLagMs?: number;
  /** The same in bytes of WAL not replayed yet; `0` (default) disables it. */
  maxReplicaLagBytes?: number;
  /**
   * How often every node's WAL position is read (the health check does it), in milliseconds: the freshness of
   * the lag figures. The checks run every `min(lagCheckIntervalMs, pool.healthCheckIntervalMs)`. Default `1_000`.
   */
  lagCheckIntervalMs?: number;
  /**
   * In `read-your-writes`, how long a read may wait for a replica to replay the session's writes before it runs
   * on the primary instead, in milliseconds. `0` (default) never waits.
   */
  waitForReplicaMs?: number;
  /**
   * `'auto'`: when the primary stops answering (or reports being in recovery) and exactly one other configured
   * node reports it is not in recovery (it was promoted), that node becomes the primary (event `primaryChanged`).
   * `'off'` (default): the primary is the configured one, always.
   */
  failover?: 'off' | 'auto';
  /**
   * A budget of connections per node shared by every instance of the application (every router with the same
   * `group`), coordinated through `pg_stat_activity`: each instance's pool ceiling follows its share of the group's
   * demand, and the group never holds more than the budget. The router then names its connections
   * `<group>/<instance>` (instead of `applicationName`). Needs `pool.healthCheckIntervalMs` > 0: the budget is
   * shared once per health round. Default: none.
   */
  connectionBudget?: ConnectionBudgetOptions;
}

/** What a read may see of earlier writes: see {@link QueryRouterOptions.consistency}. */
export type Consistency = 'eventual' | 'read-your-writes';

/** A caller's fallback: turns the node failure of a statement into a result of its own, or throws. */
export type FallbackFunction = (error: Error, sql: string) => QueryResult | Promise<QueryResult>;

/** One node after validation. `config.password` is not enumerable, so logging the object never shows it. */
export interface ResolvedNode {
  /** `'primary'`, `'replica-0'`, `'replica-1'`, … */
  readonly name: string;
  readonly role: 'primary' | 'replica';
  /** `host:port/database`, never with credentials. */
  readonly label: string;
  readonly config: PoolConfig;
}

/** Options after defaults and validation; frozen. */
export interface ResolvedOptions {
  /** The profile the options were merged over, if one was named. */
  readonly profile: ProfileName | undefined;
  readonly primary: ResolvedNode;
  readonly replicas: readonly ResolvedNode[];
  readonly pool: Readonly<Required<PoolOptions>>;
  readonly statementCache: Readonly<Required<StatementCacheOptions>>;
  readonly classifierCache: Readonly<Required<ClassifierCacheOptions>>;
  readonly loadBalancing: LoadBalancing;
  readonly applicationName: string;
  readonly breaker: Readonly<Required<BreakerOptions>>;
  readonly readFallback: 'primary' | 'replicas-only';
  readonly fallback: FallbackFunction | undefined;
  readonly adaptive: Readonly<Required<Omit<AdaptiveOptions, 'stateFile'>>> & {
    readonly stateFile: string | undefined;
  };
  readonly metrics: Readonly<Required<MetricsOptions>>;
  readonly logger: Logger;
  readonly slowQueryMs: number;
  readonly tracing: boolean;
  readonly hooks: Readonly<ConnectionHooks>;
  readonly consistency: Consistency;
  readonly maxReplicaLagMs: number;
  readonly maxReplicaLagBytes: number;
  readonly lagCheckIntervalMs: number;
  readonly waitForReplicaMs: number;
  readonly failover: 'off' | 'auto';
  /** The connection budget, or `undefined` for none. */
  readonly connectionBudget: ResolvedConnectionBudget | undefined;
}

/**
 * A preset of router options for one kind of deployment: everything but the nodes. Spread it under your own
 * options (`new QueryRouter({ ...QueryRouter.profiles.production, primary, replicas })`) or name it
 * (`profile: 'production'`); naming it merges section by section, so `pool: { max: 50 }` keeps the profile's other
 * pool settings, where a spread would replace its whole `pool`.
 */
export type ConfigurationProfile = Readonly<
  Pick<
    QueryRouterOptions,
    'pool' | 'breaker' | 'statementCache' | 'classifierCache' | 'loadBalancing' | 'adaptive' | 'slowQueryMs'
  >
>;

/** The names of the {@link PROFILES}. */
export type ProfileName = 'development' | 'production' | 'highThroughput' | 'lowLatency' | 'reliable';
