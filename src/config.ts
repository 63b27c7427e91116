import type { PoolConfig, QueryResult } from 'pg';
import { ConfigError } from './errors.js';
import { BREAKER_DEFAULTS, type BreakerOptions } from './resilience/index.js';
import { isLogger, silentLogger, type Logger } from './metrics/index.js';
import type { PoolClient } from 'pg';
import { PROFILES, withProfile, type ProfileName } from './config-profiles.js';

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
   * recent errors and its age; see the README's "Connection health scores") is below this when it is returned is
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

/** Workload learning and adaptive pool sizing (see the README's "Adaptive pool sizing"). */
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
  onConnect?: (client: PoolClient, node: { readonly node: string; readonly role: 'primary' | 'replica' }) => void | Promise<void>;
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
  /** Connection callbacks. */
  hooks?: ConnectionHooks;
  /**
   * What a read may see: `'eventual'` (default) sends every provable read to any replica in the balancer;
   * `'read-your-writes'` makes reads inside a `router.session()` wait for (or skip) replicas that have not replayed
   * the session's own writes yet. See the README's "Replication lag and read-your-writes".
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
}

/** What a read may see of earlier writes: see {@link QueryRouterOptions.consistency}. */
export type Consistency = 'eventual' | 'read-your-writes';

/** A caller's fallback: turns the node failure of a statement into a result of its own, or throws. */
export type FallbackFunction = (error: Error, sql: string) => QueryResult | Promise<QueryResult>;

function hideSecret(config: PoolConfig, key: 'password' | 'connectionString'): void {
  let secret = config[key];
  delete config[key];
  Object.defineProperty(config, key, {
    get: () => secret,
    set: (value: typeof secret) => {
      secret = value;
    },
    enumerable: false,
    configurable: true,
  });
}

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
  readonly adaptive: Readonly<Required<Omit<AdaptiveOptions, 'stateFile'>>> & { readonly stateFile: string | undefined };
  readonly metrics: Readonly<Required<MetricsOptions>>;
  readonly logger: Logger;
  readonly slowQueryMs: number;
  readonly hooks: Readonly<ConnectionHooks>;
  readonly consistency: Consistency;
  readonly maxReplicaLagMs: number;
  readonly maxReplicaLagBytes: number;
  readonly lagCheckIntervalMs: number;
  readonly waitForReplicaMs: number;
  readonly failover: 'off' | 'auto';
}

/** Defaults of every option, in one place. */
export const DEFAULTS = Object.freeze({
  pool: Object.freeze({
    min: 0,
    max: 10,
    idleTimeoutMs: 30_000,
    maxLifetimeMs: 0,
    acquireTimeoutMs: 10_000,
    healthCheckIntervalMs: 5_000,
    prePing: false,
    leakTimeoutMs: 0,
    leakStackTraces: false,
    healthThreshold: 50,
    connectRetries: 0,
    connectRetryDelayMs: 100,
  }),
  statementCache: Object.freeze({ max: 500 }),
  classifierCache: Object.freeze({ max: 10_000 }),
  loadBalancing: 'round-robin' as LoadBalancing,
  applicationName: 'pg-query-router',
  breaker: BREAKER_DEFAULTS,
  readFallback: 'primary' as 'primary' | 'replicas-only',
  consistency: 'eventual' as Consistency,
  maxReplicaLagMs: 1_000,
  maxReplicaLagBytes: 0,
  lagCheckIntervalMs: 1_000,
  waitForReplicaMs: 0,
  failover: 'off' as 'off' | 'auto',
  adaptive: Object.freeze({
    enabled: false,
    intervalMs: 5_000,
    targetUtilization: 0.7,
    hysteresis: 0.25,
    cooldownMs: 15_000,
    peakHoldMs: 120_000,
    maxPatterns: 1_000,
    stateFile: undefined as string | undefined,
    saveIntervalMs: 60_000,
  }),
});

const TOP_LEVEL_KEYS = ['profile', 'primary', 'replicas', 'pool', 'statementCache', 'classifierCache', 'loadBalancing', 'applicationName', 'breaker', 'readFallback', 'fallback', 'adaptive', 'metrics', 'logger', 'slowQueryMs', 'hooks', 'consistency', 'maxReplicaLagMs', 'maxReplicaLagBytes', 'lagCheckIntervalMs', 'waitForReplicaMs', 'failover'] as const;
const LOAD_BALANCING: readonly LoadBalancing[] = ['round-robin', 'least-busy', 'latency'];

type Plain = Record<string, unknown>;

const isPlainObject = (value: unknown): value is Plain =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null);

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : String(value);
}

function checkKeys(value: Plain, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      const where = path === '' ? key : `${path}.${key}`;
      throw new ConfigError(where, `unknown option; expected one of ${allowed.join(', ')}`);
    }
  }
}

function integer(value: unknown, key: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ConfigError(key, `must be an integer ≥ ${min}, got ${describe(value)}`);
  }
  return value;
}

function fraction(value: unknown, key: string, fallback: number, min: number, max: number, minIncluded: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value > max || (minIncluded ? value < min : value <= min)) {
    throw new ConfigError(key, `must be a number ${minIncluded ? '≥' : '>'} ${min} and ≤ ${max}, got ${describe(value)}`);
  }
  return value;
}

function boolean(value: unknown, key: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ConfigError(key, `must be true or false, got ${describe(value)}`);
  return value;
}

function section(options: Plain, key: string, allowed: readonly string[]): Plain {
  const value = options[key];
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw new ConfigError(key, `must be an object, got ${describe(value)}`);
  checkKeys(value, allowed, key);
  return value;
}

/** `host:port/database` of a node, for messages, metrics and `stats()`: never credentials. */
export function nodeLabel(config: PoolConfig): string {
  if (typeof config.connectionString === 'string') {
    try {
      const url = new URL(config.connectionString);
      const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || (config.database ?? '');
      return `${url.hostname || config.host || 'localhost'}:${url.port || config.port || 5432}/${database}`;
    } catch {
      return 'unparsable-connection-string';
    }
  }
  return `${config.host ?? process.env['PGHOST'] ?? 'localhost'}:${config.port ?? process.env['PGPORT'] ?? 5432}/${config.database ?? process.env['PGDATABASE'] ?? ''}`;
}

function resolveNode(value: unknown, key: string, name: string, role: 'primary' | 'replica'): ResolvedNode {
  let config: PoolConfig;
  if (typeof value === 'string') {
    if (value.trim() === '') throw new ConfigError(key, 'must be a connection URL or a pg.PoolConfig, got an empty string');
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ConfigError(key, 'is not a valid connection URL (expected postgres://user:password@host:port/database)');
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      throw new ConfigError(key, `must use the postgres:// or postgresql:// scheme, got ${url.protocol}//`);
    }
    config = { connectionString: value };
  } else if (isPlainObject(value)) {
    config = { ...(value as PoolConfig) };
  } else {
    throw new ConfigError(key, `must be a connection URL or a pg.PoolConfig, got ${describe(value)}`);
  }
  // Keep the secrets out of console.log, JSON.stringify and util.inspect (even with showHidden, which shows
  // non-enumerable values but not what a getter returns) of the resolved options.
  for (const key of ['password', 'connectionString'] as const) if (key in config) hideSecret(config, key);
  return Object.freeze({ name, role, label: nodeLabel(config), config });
}

/**
 * Applies defaults and validates every option. Throws {@link ConfigError} naming the first bad key and what
 * it expected; the returned object is frozen.
 */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (!isPlainObject(options)) throw new ConfigError('options', `must be an object, got ${describe(options)}`);
  checkKeys(options, TOP_LEVEL_KEYS, '');
  const profile = options['profile'];
  if (profile !== undefined && (typeof profile !== 'string' || !Object.hasOwn(PROFILES, profile))) {
    throw new ConfigError('profile', `must be one of ${Object.keys(PROFILES).join(', ')}, got ${describe(profile)}`);
  }
  const input = profile === undefined ? options : withProfile(profile as ProfileName, options);
  if (input['primary'] === undefined) throw new ConfigError('primary', 'is required (a connection URL or a pg.PoolConfig)');
  const primary = resolveNode(input['primary'], 'primary', 'primary', 'primary');
  const replicasInput = input['replicas'] ?? [];
  if (!Array.isArray(replicasInput)) throw new ConfigError('replicas', `must be an array of connection URLs or pg.PoolConfig objects, got ${describe(replicasInput)}`);
  const replicas = replicasInput.map((value: unknown, i) => resolveNode(value, `replicas[${i}]`, `replica-${i}`, 'replica'));

  const poolInput = section(input, 'pool', Object.keys(DEFAULTS.pool));
  const pool = Object.freeze({
    min: integer(poolInput['min'], 'pool.min', DEFAULTS.pool.min, 0),
    max: integer(poolInput['max'], 'pool.max', DEFAULTS.pool.max, 1),
    idleTimeoutMs: integer(poolInput['idleTimeoutMs'], 'pool.idleTimeoutMs', DEFAULTS.pool.idleTimeoutMs, 0),
    maxLifetimeMs: integer(poolInput['maxLifetimeMs'], 'pool.maxLifetimeMs', DEFAULTS.pool.maxLifetimeMs, 0),
    acquireTimeoutMs: integer(poolInput['acquireTimeoutMs'], 'pool.acquireTimeoutMs', DEFAULTS.pool.acquireTimeoutMs, 0),
    healthCheckIntervalMs: integer(poolInput['healthCheckIntervalMs'], 'pool.healthCheckIntervalMs', DEFAULTS.pool.healthCheckIntervalMs, 0),
    prePing: boolean(poolInput['prePing'], 'pool.prePing', DEFAULTS.pool.prePing),
    leakTimeoutMs: integer(poolInput['leakTimeoutMs'], 'pool.leakTimeoutMs', DEFAULTS.pool.leakTimeoutMs, 0),
    leakStackTraces: boolean(poolInput['leakStackTraces'], 'pool.leakStackTraces', DEFAULTS.pool.leakStackTraces),
    healthThreshold: fraction(poolInput['healthThreshold'], 'pool.healthThreshold', DEFAULTS.pool.healthThreshold, 0, 100, true),
    connectRetries: integer(poolInput['connectRetries'], 'pool.connectRetries', DEFAULTS.pool.connectRetries, 0),
    connectRetryDelayMs: integer(poolInput['connectRetryDelayMs'], 'pool.connectRetryDelayMs', DEFAULTS.pool.connectRetryDelayMs, 1),
  });
  if (pool.min > pool.max) throw new ConfigError('pool.min', `must not exceed pool.max (${pool.max}), got ${pool.min}`);

  const statementInput = section(input, 'statementCache', ['max']);
  const statementCache = Object.freeze({ max: integer(statementInput['max'], 'statementCache.max', DEFAULTS.statementCache.max, 0) });
  const classifierInput = section(input, 'classifierCache', ['max']);
  const classifierCache = Object.freeze({ max: integer(classifierInput['max'], 'classifierCache.max', DEFAULTS.classifierCache.max, 1) });

  const loadBalancing = input['loadBalancing'] ?? DEFAULTS.loadBalancing;
  if (!LOAD_BALANCING.includes(loadBalancing as LoadBalancing)) {
    throw new ConfigError('loadBalancing', `must be one of ${LOAD_BALANCING.join(', ')}, got ${describe(loadBalancing)}`);
  }
  const applicationName = input['applicationName'] ?? DEFAULTS.applicationName;
  if (typeof applicationName !== 'string' || applicationName.length > 63) {
    throw new ConfigError('applicationName', `must be a string of at most 63 characters, got ${describe(applicationName)}`);
  }
  const breakerInput = section(input, 'breaker', Object.keys(BREAKER_DEFAULTS));
  const breaker = Object.freeze({
    timeoutMs: integer(breakerInput['timeoutMs'], 'breaker.timeoutMs', BREAKER_DEFAULTS.timeoutMs, 0),
    errorThresholdPercentage: integer(breakerInput['errorThresholdPercentage'], 'breaker.errorThresholdPercentage', BREAKER_DEFAULTS.errorThresholdPercentage, 1),
    resetTimeoutMs: integer(breakerInput['resetTimeoutMs'], 'breaker.resetTimeoutMs', BREAKER_DEFAULTS.resetTimeoutMs, 1),
    volumeThreshold: integer(breakerInput['volumeThreshold'], 'breaker.volumeThreshold', BREAKER_DEFAULTS.volumeThreshold, 0),
    rollingWindowMs: integer(breakerInput['rollingWindowMs'], 'breaker.rollingWindowMs', BREAKER_DEFAULTS.rollingWindowMs, 100),
    consecutiveFailures: integer(breakerInput['consecutiveFailures'], 'breaker.consecutiveFailures', BREAKER_DEFAULTS.consecutiveFailures, 1),
  });
  if (breaker.errorThresholdPercentage > 100) throw new ConfigError('breaker.errorThresholdPercentage', `must be at most 100, got ${breaker.errorThresholdPercentage}`);
  const readFallback = input['readFallback'] ?? DEFAULTS.readFallback;
  if (readFallback !== 'primary' && readFallback !== 'replicas-only') {
    throw new ConfigError('readFallback', `must be 'primary' or 'replicas-only', got ${describe(readFallback)}`);
  }
  const fallback = input['fallback'];
  if (fallback !== undefined && typeof fallback !== 'function') throw new ConfigError('fallback', `must be a function (error, sql) => result, got ${describe(fallback)}`);
  const adaptiveInput = section(input, 'adaptive', Object.keys(DEFAULTS.adaptive));
  const stateFile = adaptiveInput['stateFile'];
  if (stateFile !== undefined && (typeof stateFile !== 'string' || stateFile.trim() === '')) {
    throw new ConfigError('adaptive.stateFile', `must be a file path, got ${describe(stateFile)}`);
  }
  const adaptive = Object.freeze({
    enabled: boolean(adaptiveInput['enabled'], 'adaptive.enabled', DEFAULTS.adaptive.enabled),
    intervalMs: integer(adaptiveInput['intervalMs'], 'adaptive.intervalMs', DEFAULTS.adaptive.intervalMs, 10),
    targetUtilization: fraction(adaptiveInput['targetUtilization'], 'adaptive.targetUtilization', DEFAULTS.adaptive.targetUtilization, 0, 1, false),
    hysteresis: fraction(adaptiveInput['hysteresis'], 'adaptive.hysteresis', DEFAULTS.adaptive.hysteresis, 0, 0.95, true),
    cooldownMs: integer(adaptiveInput['cooldownMs'], 'adaptive.cooldownMs', DEFAULTS.adaptive.cooldownMs, 0),
    peakHoldMs: integer(adaptiveInput['peakHoldMs'], 'adaptive.peakHoldMs', DEFAULTS.adaptive.peakHoldMs, 0),
    maxPatterns: integer(adaptiveInput['maxPatterns'], 'adaptive.maxPatterns', DEFAULTS.adaptive.maxPatterns, 0),
    stateFile: stateFile as string | undefined,
    saveIntervalMs: integer(adaptiveInput['saveIntervalMs'], 'adaptive.saveIntervalMs', DEFAULTS.adaptive.saveIntervalMs, 100),
  });
  const metricsInput = section(input, 'metrics', ['defaultMetrics']);
  const metrics = Object.freeze({ defaultMetrics: boolean(metricsInput['defaultMetrics'], 'metrics.defaultMetrics', false) });
  const logger = input['logger'] ?? silentLogger;
  if (!isLogger(logger)) throw new ConfigError('logger', 'must have debug, info, warn and error methods (a pino logger fits)');
  const slowQueryMs = integer(input['slowQueryMs'], 'slowQueryMs', 0, 0);
  const hooksInput = section(input, 'hooks', ['onConnect', 'onCheckout', 'onCheckin']);
  for (const [key, hook] of Object.entries(hooksInput)) {
    if (hook !== undefined && typeof hook !== 'function') throw new ConfigError(`hooks.${key}`, `must be a function, got ${describe(hook)}`);
  }
  const consistency = input['consistency'] ?? DEFAULTS.consistency;
  if (consistency !== 'eventual' && consistency !== 'read-your-writes') {
    throw new ConfigError('consistency', `must be 'eventual' or 'read-your-writes', got ${describe(consistency)}`);
  }
  const failover = input['failover'] ?? DEFAULTS.failover;
  if (failover !== 'off' && failover !== 'auto') throw new ConfigError('failover', `must be 'off' or 'auto', got ${describe(failover)}`);
  return Object.freeze({
    profile: profile as ProfileName | undefined,
    consistency: consistency as Consistency,
    maxReplicaLagMs: integer(input['maxReplicaLagMs'], 'maxReplicaLagMs', DEFAULTS.maxReplicaLagMs, 0),
    maxReplicaLagBytes: integer(input['maxReplicaLagBytes'], 'maxReplicaLagBytes', DEFAULTS.maxReplicaLagBytes, 0),
    lagCheckIntervalMs: integer(input['lagCheckIntervalMs'], 'lagCheckIntervalMs', DEFAULTS.lagCheckIntervalMs, 10),
    waitForReplicaMs: integer(input['waitForReplicaMs'], 'waitForReplicaMs', DEFAULTS.waitForReplicaMs, 0),
    failover: failover as 'off' | 'auto',
    metrics,
    logger,
    slowQueryMs,
    hooks: Object.freeze({ ...hooksInput }) as Readonly<ConnectionHooks>,
    adaptive,
    primary,
    replicas: Object.freeze(replicas),
    breaker,
    readFallback,
    fallback: fallback as FallbackFunction | undefined,
    pool,
    statementCache,
    classifierCache,
    loadBalancing: loadBalancing as LoadBalancing,
    applicationName,
  });
}

type EnvSetter = (options: QueryRouterOptions, raw: string, key: string) => void;

function envInteger(raw: string, key: string): number {
  const trimmed = raw.trim();
  if (!/^\d+$/.test(trimmed)) throw new ConfigError(key, `must be a whole number, got ${describe(raw)}`);
  return Number(trimmed);
}

function envBoolean(raw: string, key: string): boolean {
  const value = raw.trim().toLowerCase();
  if (value === '1' || value === 'true' || value === 'on') return true;
  if (value === '0' || value === 'false' || value === 'off') return false;
  throw new ConfigError(key, `must be true or false (or 1 / 0), got ${describe(raw)}`);
}

/**
 * The environment variables {@link QueryRouter.fromEnv} reads, besides `DATABASE_URL` (the primary, required)
 * and `DATABASE_REPLICA_URLS` (comma-separated replica URLs, optional).
 */
export const ENV_OPTIONS: Readonly<Record<string, { readonly option: string; readonly set: EnvSetter }>> = Object.freeze({
  PGROUTER_POOL_MIN: { option: 'pool.min', set: (o, raw, key) => ((o.pool ??= {}).min = envInteger(raw, key)) },
  PGROUTER_POOL_MAX: { option: 'pool.max', set: (o, raw, key) => ((o.pool ??= {}).max = envInteger(raw, key)) },
  PGROUTER_POOL_IDLE_TIMEOUT_MS: { option: 'pool.idleTimeoutMs', set: (o, raw, key) => ((o.pool ??= {}).idleTimeoutMs = envInteger(raw, key)) },
  PGROUTER_POOL_MAX_LIFETIME_MS: { option: 'pool.maxLifetimeMs', set: (o, raw, key) => ((o.pool ??= {}).maxLifetimeMs = envInteger(raw, key)) },
  PGROUTER_POOL_ACQUIRE_TIMEOUT_MS: { option: 'pool.acquireTimeoutMs', set: (o, raw, key) => ((o.pool ??= {}).acquireTimeoutMs = envInteger(raw, key)) },
  PGROUTER_POOL_HEALTH_THRESHOLD: { option: 'pool.healthThreshold', set: (o, raw, key) => ((o.pool ??= {}).healthThreshold = envInteger(raw, key)) },
  PGROUTER_POOL_CONNECT_RETRIES: { option: 'pool.connectRetries', set: (o, raw, key) => ((o.pool ??= {}).connectRetries = envInteger(raw, key)) },
  PGROUTER_POOL_CONNECT_RETRY_DELAY_MS: { option: 'pool.connectRetryDelayMs', set: (o, raw, key) => ((o.pool ??= {}).connectRetryDelayMs = envInteger(raw, key)) },
  PGROUTER_PROFILE: { option: 'profile', set: (o, raw) => (o.profile = raw.trim() as ProfileName) },
  PGROUTER_STATEMENT_CACHE_MAX: { option: 'statementCache.max', set: (o, raw, key) => ((o.statementCache ??= {}).max = envInteger(raw, key)) },
  PGROUTER_CLASSIFIER_CACHE_MAX: { option: 'classifierCache.max', set: (o, raw, key) => ((o.classifierCache ??= {}).max = envInteger(raw, key)) },
  PGROUTER_LOAD_BALANCING: { option: 'loadBalancing', set: (o, raw) => (o.loadBalancing = raw.trim() as LoadBalancing) },
  PGROUTER_APPLICATION_NAME: { option: 'applicationName', set: (o, raw) => (o.applicationName = raw) },
  PGROUTER_ADAPTIVE: { option: 'adaptive.enabled', set: (o, raw, key) => ((o.adaptive ??= {}).enabled = envBoolean(raw, key)) },
  PGROUTER_CONSISTENCY: { option: 'consistency', set: (o, raw) => (o.consistency = raw.trim() as Consistency) },
  PGROUTER_MAX_REPLICA_LAG_MS: { option: 'maxReplicaLagMs', set: (o, raw, key) => (o.maxReplicaLagMs = envInteger(raw, key)) },
  PGROUTER_MAX_REPLICA_LAG_BYTES: { option: 'maxReplicaLagBytes', set: (o, raw, key) => (o.maxReplicaLagBytes = envInteger(raw, key)) },
  PGROUTER_WAIT_FOR_REPLICA_MS: { option: 'waitForReplicaMs', set: (o, raw, key) => (o.waitForReplicaMs = envInteger(raw, key)) },
  PGROUTER_FAILOVER: { option: 'failover', set: (o, raw) => (o.failover = raw.trim() as 'off' | 'auto') },
  PGROUTER_ADAPTIVE_STATE_FILE: { option: 'adaptive.stateFile', set: (o, raw) => ((o.adaptive ??= {}).stateFile = raw) },
});

/**
 * Builds router options from environment variables (see {@link ENV_OPTIONS}); `overrides` win over the
 * environment. An unknown `PGROUTER_*` variable is an error, so a typo is not silently ignored.
 */
export function optionsFromEnv(env: Readonly<Record<string, string | undefined>>, overrides: Partial<QueryRouterOptions> = {}): QueryRouterOptions {
  const primary = env['DATABASE_URL'];
  if ((primary === undefined || primary.trim() === '') && overrides.primary === undefined) {
    throw new ConfigError('DATABASE_URL', 'is not set (the primary\'s connection URL)');
  }
  const options: QueryRouterOptions = { primary: primary ?? '' };
  const replicas = env['DATABASE_REPLICA_URLS'];
  if (replicas !== undefined && replicas.trim() !== '') {
    options.replicas = replicas.split(',').map((url) => url.trim()).filter((url) => url !== '');
  }
  for (const [key, raw] of Object.entries(env)) {
    if (!key.startsWith('PGROUTER_') || raw === undefined) continue;
    const entry = ENV_OPTIONS[key];
    if (entry === undefined) throw new ConfigError(key, `unknown variable; expected one of ${Object.keys(ENV_OPTIONS).join(', ')}`);
    entry.set(options, raw, key);
  }
  return {
    ...options,
    ...overrides,
    pool: { ...options.pool, ...overrides.pool },
    statementCache: { ...options.statementCache, ...overrides.statementCache },
    classifierCache: { ...options.classifierCache, ...overrides.classifierCache },
    adaptive: { ...options.adaptive, ...overrides.adaptive },
  };
}
