import { ConfigError } from '../errors.js';
import type { Consistency, LoadBalancing, ProfileName, QueryRouterOptions } from './options.js';
import { describe } from './resolve.js';

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
export const ENV_OPTIONS: Readonly<Record<string, { readonly option: string; readonly set: EnvSetter }>> =
  Object.freeze({
    PGROUTER_POOL_MIN: { option: 'pool.min', set: (o, raw, key) => ((o.pool ??= {}).min = envInteger(raw, key)) },
    PGROUTER_POOL_MAX: { option: 'pool.max', set: (o, raw, key) => ((o.pool ??= {}).max = envInteger(raw, key)) },
    PGROUTER_POOL_IDLE_TIMEOUT_MS: {
      option: 'pool.idleTimeoutMs',
      set: (o, raw, key) => ((o.pool ??= {}).idleTimeoutMs = envInteger(raw, key)),
    },
    PGROUTER_POOL_MAX_LIFETIME_MS: {
      option: 'pool.maxLifetimeMs',
      set: (o, raw, key) => ((o.pool ??= {}).maxLifetimeMs = envInteger(raw, key)),
    },
    PGROUTER_POOL_ACQUIRE_TIMEOUT_MS: {
      option: 'pool.acquireTimeoutMs',
      set: (o, raw, key) => ((o.pool ??= {}).acquireTimeoutMs = envInteger(raw, key)),
    },
    PGROUTER_POOL_HEALTH_THRESHOLD: {
      option: 'pool.healthThreshold',
      set: (o, raw, key) => ((o.pool ??= {}).healthThreshold = envInteger(raw, key)),
    },
    PGROUTER_POOL_CONNECT_RETRIES: {
      option: 'pool.connectRetries',
      set: (o, raw, key) => ((o.pool ??= {}).connectRetries = envInteger(raw, key)),
    },
    PGROUTER_POOL_CONNECT_RETRY_DELAY_MS: {
      option: 'pool.connectRetryDelayMs',
      set: (o, raw, key) => ((o.pool ??= {}).connectRetryDelayMs = envInteger(raw, key)),
    },
    PGROUTER_CONNECTION_BUDGET_GROUP: {
      option: 'connectionBudget.group',
      set: (o, raw) => ((o.connectionBudget ??= { group: '' }).group = raw.trim()),
    },
    PGROUTER_CONNECTION_BUDGET_PER_NODE: {
      option: 'connectionBudget.perNode',
      set: (o, raw, key) =>
        ((o.connectionBudget ??= { group: '' }).perNode = raw.trim() === 'auto' ? 'auto' : envInteger(raw, key)),
    },
    PGROUTER_CONNECTION_BUDGET_RESERVE: {
      option: 'connectionBudget.reserve',
      set: (o, raw, key) => ((o.connectionBudget ??= { group: '' }).reserve = envInteger(raw, key)),
    },
    PGROUTER_CONNECTION_BUDGET_INSTANCE: {
      option: 'connectionBudget.instance',
      set: (o, raw) => ((o.connectionBudget ??= { group: '' }).instance = raw.trim()),
    },
    PGROUTER_PROFILE: { option: 'profile', set: (o, raw) => (o.profile = raw.trim() as ProfileName) },
    PGROUTER_STATEMENT_CACHE_MAX: {
      option: 'statementCache.max',
      set: (o, raw, key) => ((o.statementCache ??= {}).max = envInteger(raw, key)),
    },
    PGROUTER_CLASSIFIER_CACHE_MAX: {
      option: 'classifierCache.max',
      set: (o, raw, key) => ((o.classifierCache ??= {}).max = envInteger(raw, key)),
    },
    PGROUTER_LOAD_BALANCING: {
      option: 'loadBalancing',
      set: (o, raw) => (o.loadBalancing = raw.trim() as LoadBalancing),
    },
    PGROUTER_APPLICATION_NAME: { option: 'applicationName', set: (o, raw) => (o.applicationName = raw) },
    PGROUTER_ADAPTIVE: {
      option: 'adaptive.enabled',
      set: (o, raw, key) => ((o.adaptive ??= {}).enabled = envBoolean(raw, key)),
    },
    PGROUTER_CONSISTENCY: { option: 'consistency', set: (o, raw) => (o.consistency = raw.trim() as Consistency) },
    PGROUTER_MAX_REPLICA_LAG_MS: {
      option: 'maxReplicaLagMs',
      set: (o, raw, key) => (o.maxReplicaLagMs = envInteger(raw, key)),
    },
    PGROUTER_MAX_REPLICA_LAG_BYTES: {
      option: 'maxReplicaLagBytes',
      set: (o, raw, key) => (o.maxReplicaLagBytes = envInteger(raw, key)),
    },
    PGROUTER_WAIT_FOR_REPLICA_MS: {
      option: 'waitForReplicaMs',
      set: (o, raw, key) => (o.waitForReplicaMs = envInteger(raw, key)),
    },
    PGROUTER_FAILOVER: { option: 'failover', set: (o, raw) => (o.failover = raw.trim() as 'off' | 'auto') },
    PGROUTER_ADAPTIVE_STATE_FILE: {
      option: 'adaptive.stateFile',
      set: (o, raw) => ((o.adaptive ??= {}).stateFile = raw),
    },
  });

/**
 * Builds router options from environment variables (see {@link ENV_OPTIONS}); `overrides` win over the
 * environment. An unknown `PGROUTER_*` variable is an error, so a typo is not silently ignored.
 */
export function optionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  overrides: Partial<QueryRouterOptions> = {},
): QueryRouterOptions {
  const primary = env['DATABASE_URL'];
  if ((primary === undefined || primary.trim() === '') && overrides.primary === undefined) {
    throw new ConfigError('DATABASE_URL', "is not set (the primary's connection URL)");
  }
  const options: QueryRouterOptions = { primary: primary ?? '' };
  const replicas = env['DATABASE_REPLICA_URLS'];
  if (replicas !== undefined && replicas.trim() !== '') {
    options.replicas = replicas
      .split(',')
      .map((url) => url.trim())
      .filter((url) => url !== '');
  }
  for (const [key, raw] of Object.entries(env)) {
    if (!key.startsWith('PGROUTER_') || raw === undefined) continue;
    const entry = ENV_OPTIONS[key];
    if (entry === undefined)
      throw new ConfigError(key, `unknown variable; expected one of ${Object.keys(ENV_OPTIONS).join(', ')}`);
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
