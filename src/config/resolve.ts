import type { PoolConfig } from 'pg';
import { resolveConnectionBudget } from './connection-budget-options.js';
import { ConfigError } from '../errors.js';
import { BREAKER_DEFAULTS } from '../resilience/index.js';
import { isLogger, silentLogger } from '../metrics/index.js';
import { PROFILES, withProfile } from './profiles.js';
import type {
  ConnectionHooks,
  Consistency,
  FallbackFunction,
  LoadBalancing,
  ProfileName,
  ResolvedNode,
  ResolvedOptions,
} from './options.js';

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

const TOP_LEVEL_KEYS = [
  'profile',
  'primary',
  'replicas',
  'pool',
  'statementCache',
  'classifierCache',
  'loadBalancing',
  'applicationName',
  'breaker',
  'readFallback',
  'fallback',
  'adaptive',
  'metrics',
  'logger',
  'slowQueryMs',
  'tracing',
  'hooks',
  'consistency',
  'maxReplicaLagMs',
  'maxReplicaLagBytes',
  'lagCheckIntervalMs',
  'waitForReplicaMs',
  'failover',
  'connectionBudget',
] as const;
const LOAD_BALANCING: readonly LoadBalancing[] = ['round-robin', 'least-busy', 'latency'];

type Plain = Record<string, unknown>;

const isPlainObject = (value: unknown): value is Plain =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null);

/** A short, secret-free description of a bad value for an error message. */
export function describe(value: unknown): string {
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

function fraction(
  value: unknown,
  key: string,
  fallback: number,
  min: number,
  max: number,
  minIncluded: boolean,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value > max ||
    (minIncluded ? value < min : value <= min)
  ) {
    throw new ConfigError(
      key,
      `must be a number ${minIncluded ? '≥' : '>'} ${min} and ≤ ${max}, got ${describe(value)}`,
    );
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
    if (value.trim() === '')
      throw new ConfigError(key, 'must be a connection URL or a pg.PoolConfig, got an empty string');
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ConfigError(
        key,
        'is not a valid connection URL (expected postgres://user:password@host:port/database)',
      );
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
  if (input['primary'] === undefined)
    throw new ConfigError('primary', 'is required (a connection URL or a pg.PoolConfig)');
  const primary = resolveNode(input['primary'], 'primary', 'primary', 'primary');
  const replicasInput = input['replicas'] ?? [];
  if (!Array.isArray(replicasInput))
    throw new ConfigError(
      'replicas',
      `must be an array of connection URLs or pg.PoolConfig objects, got ${describe(replicasInput)}`,
    );
  const replicas = replicasInput.map((value: unknown, i) =>
    resolveNode(value, `replicas[${i}]`, `replica-${i}`, 'replica'),
  );

  const poolInput = section(input, 'pool', Object.keys(DEFAULTS.pool));
  const pool = Object.freeze({
    min: integer(poolInput['min'], 'pool.min', DEFAULTS.pool.min, 0),
    max: integer(poolInput['max'], 'pool.max', DEFAULTS.pool.max, 1),
    idleTimeoutMs: integer(poolInput['idleTimeoutMs'], 'pool.idleTimeoutMs', DEFAULTS.pool.idleTimeoutMs, 0),
    maxLifetimeMs: integer(poolInput['maxLifetimeMs'], 'pool.maxLifetimeMs', DEFAULTS.pool.maxLifetimeMs, 0),
    acquireTimeoutMs: integer(
      poolInput['acquireTimeoutMs'],
      'pool.acquireTimeoutMs',
      DEFAULTS.pool.acquireTimeoutMs,
      0,
    ),
    healthCheckIntervalMs: integer(
      poolInput['healthCheckIntervalMs'],
      'pool.healthCheckIntervalMs',
      DEFAULTS.pool.healthCheckIntervalMs,
      0,
    ),
    prePing: boolean(poolInput['prePing'], 'pool.prePing', DEFAULTS.pool.prePing),
    leakTimeoutMs: integer(poolInput['leakTimeoutMs'], 'pool.leakTimeoutMs', DEFAULTS.pool.leakTimeoutMs, 0),
    leakStackTraces: boolean(poolInput['leakStackTraces'], 'pool.leakStackTraces', DEFAULTS.pool.leakStackTraces),
    healthThreshold: fraction(
      poolInput['healthThreshold'],
      'pool.healthThreshold',
      DEFAULTS.pool.healthThreshold,
      0,
      100,
      true,
    ),
    connectRetries: integer(poolInput['connectRetries'], 'pool.connectRetries', DEFAULTS.pool.connectRetries, 0),
    connectRetryDelayMs: integer(
      poolInput['connectRetryDelayMs'],
      'pool.connectRetryDelayMs',
      DEFAULTS.pool.connectRetryDelayMs,
      1,
    ),
  });
  if (pool.min > pool.max) throw new ConfigError('pool.min', `must not exceed pool.max (${pool.max}), got ${pool.min}`);

  const statementInput = section(input, 'statementCache', ['max']);
  const statementCache = Object.freeze({
    max: integer(statementInput['max'], 'statementCache.max', DEFAULTS.statementCache.max, 0),
  });
  const classifierInput = section(input, 'classifierCache', ['max']);
  const classifierCache = Object.freeze({
    max: integer(classifierInput['max'], 'classifierCache.max', DEFAULTS.classifierCache.max, 1),
  });

  const loadBalancing = input['loadBalancing'] ?? DEFAULTS.loadBalancing;
  if (!LOAD_BALANCING.includes(loadBalancing as LoadBalancing)) {
    throw new ConfigError(
      'loadBalancing',
      `must be one of ${LOAD_BALANCING.join(', ')}, got ${describe(loadBalancing)}`,
    );
  }
  const applicationName = input['applicationName'] ?? DEFAULTS.applicationName;
  if (typeof applicationName !== 'string' || applicationName.length > 63) {
    throw new ConfigError(
      'applicationName',
      `must be a string of at most 63 characters, got ${describe(applicationName)}`,
    );
  }
  const breakerInput = section(input, 'breaker', Object.keys(BREAKER_DEFAULTS));
  const breaker = Object.freeze({
    timeoutMs: integer(breakerInput['timeoutMs'], 'breaker.timeoutMs', BREAKER_DEFAULTS.timeoutMs, 0),
    errorThresholdPercentage: integer(
      breakerInput['errorThresholdPercentage'],
      'breaker.errorThresholdPercentage',
      BREAKER_DEFAULTS.errorThresholdPercentage,
      1,
    ),
    resetTimeoutMs: integer(
      breakerInput['resetTimeoutMs'],
      'breaker.resetTimeoutMs',
      BREAKER_DEFAULTS.resetTimeoutMs,
      1,
    ),
    volumeThreshold: integer(
      breakerInput['volumeThreshold'],
      'breaker.volumeThreshold',
      BREAKER_DEFAULTS.volumeThreshold,
      0,
    ),
    rollingWindowMs: integer(
      breakerInput['rollingWindowMs'],
      'breaker.rollingWindowMs',
      BREAKER_DEFAULTS.rollingWindowMs,
      100,
    ),
    consecutiveFailures: integer(
      breakerInput['consecutiveFailures'],
      'breaker.consecutiveFailures',
      BREAKER_DEFAULTS.consecutiveFailures,
      1,
    ),
  });
  if (breaker.errorThresholdPercentage > 100)
    throw new ConfigError(
      'breaker.errorThresholdPercentage',
      `must be at most 100, got ${breaker.errorThresholdPercentage}`,
    );
  const readFallback = input['readFallback'] ?? DEFAULTS.readFallback;
  if (readFallback !== 'primary' && readFallback !== 'replicas-only') {
    throw new ConfigError('readFallback', `must be 'primary' or 'replicas-only', got ${describe(readFallback)}`);
  }
  const fallback = input['fallback'];
  if (fallback !== undefined && typeof fallback !== 'function')
    throw new ConfigError('fallback', `must be a function (error, sql) => result, got ${describe(fallback)}`);
  const adaptiveInput = section(input, 'adaptive', Object.keys(DEFAULTS.adaptive));
  const stateFile = adaptiveInput['stateFile'];
  if (stateFile !== undefined && (typeof stateFile !== 'string' || stateFile.trim() === '')) {
    throw new ConfigError('adaptive.stateFile', `must be a file path, got ${describe(stateFile)}`);
  }
  const adaptive = Object.freeze({
    enabled: boolean(adaptiveInput['enabled'], 'adaptive.enabled', DEFAULTS.adaptive.enabled),
    intervalMs: integer(adaptiveInput['intervalMs'], 'adaptive.intervalMs', DEFAULTS.adaptive.intervalMs, 10),
    targetUtilization: fraction(
      adaptiveInput['targetUtilization'],
      'adaptive.targetUtilization',
      DEFAULTS.adaptive.targetUtilization,
      0,
      1,
      false,
    ),
    hysteresis: fraction(
      adaptiveInput['hysteresis'],
      'adaptive.hysteresis',
      DEFAULTS.adaptive.hysteresis,
      0,
      0.95,
      true,
    ),
    cooldownMs: integer(adaptiveInput['cooldownMs'], 'adaptive.cooldownMs', DEFAULTS.adaptive.cooldownMs, 0),
    peakHoldMs: integer(adaptiveInput['peakHoldMs'], 'adaptive.peakHoldMs', DEFAULTS.adaptive.peakHoldMs, 0),
    maxPatterns: integer(adaptiveInput['maxPatterns'], 'adaptive.maxPatterns', DEFAULTS.adaptive.maxPatterns, 0),
    stateFile: stateFile as string | undefined,
    saveIntervalMs: integer(
      adaptiveInput['saveIntervalMs'],
      'adaptive.saveIntervalMs',
      DEFAULTS.adaptive.saveIntervalMs,
      100,
    ),
  });
  const metricsInput = section(input, 'metrics', ['defaultMetrics']);
  const metrics = Object.freeze({
    defaultMetrics: boolean(metricsInput['defaultMetrics'], 'metrics.defaultMetrics', false),
  });
  const logger = input['logger'] ?? silentLogger;
  if (!isLogger(logger))
    throw new ConfigError('logger', 'must have debug, info, warn and error methods (a pino logger fits)');
  const slowQueryMs = integer(input['slowQueryMs'], 'slowQueryMs', 0, 0);
  const hooksInput = section(input, 'hooks', ['onConnect', 'onCheckout', 'onCheckin']);
  for (const [key, hook] of Object.entries(hooksInput)) {
    if (hook !== undefined && typeof hook !== 'function')
      throw new ConfigError(`hooks.${key}`, `must be a function, got ${describe(hook)}`);
  }
  const consistency = input['consistency'] ?? DEFAULTS.consistency;
  if (consistency !== 'eventual' && consistency !== 'read-your-writes') {
    throw new ConfigError('consistency', `must be 'eventual' or 'read-your-writes', got ${describe(consistency)}`);
  }
  const failover = input['failover'] ?? DEFAULTS.failover;
  if (failover !== 'off' && failover !== 'auto')
    throw new ConfigError('failover', `must be 'off' or 'auto', got ${describe(failover)}`);
  const connectionBudget = resolveConnectionBudget(input['connectionBudget']);
  if (connectionBudget !== undefined && pool.healthCheckIntervalMs === 0)
    throw new ConfigError(
      'connectionBudget',
      'needs pool.healthCheckIntervalMs > 0: the budget is shared on the health-check connections, once per round',
    );
  // The pool's minimum and its health-check connection are this instance's floor.
  if (connectionBudget !== undefined && connectionBudget.perNode !== 'auto' && connectionBudget.perNode < pool.min + 1)
    throw new ConfigError(
      'connectionBudget.perNode',
      `must leave room for this instance's pool.min (${pool.min}) and its health check: at least ${pool.min + 1}, got ${connectionBudget.perNode}`,
    );
  return Object.freeze({
    connectionBudget,
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
    tracing: boolean(input['tracing'], 'tracing', false),
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
