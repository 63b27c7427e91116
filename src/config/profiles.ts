import type { ConfigurationProfile, ProfileName } from './options.js';

/**
 * The configuration profiles, frozen. Each setting differs from the defaults for the reason given beside it; what a
 * profile does not set keeps its default. Every profile passes the same validation as your own options.
 */
export const PROFILES: Readonly<Record<ProfileName, ConfigurationProfile>> = deepFreeze<
  Record<ProfileName, ConfigurationProfile>
>({
  /** A laptop or a CI job: small pools, loud about leaks and slow statements, tolerant of a database that restarts. */
  development: {
    pool: {
      max: 5, // the local database is shared by everything you run (tests, watch mode, a REPL): leave it room
      idleTimeoutMs: 10_000, // give connections back quickly between edits
      acquireTimeoutMs: 5_000, // a pool-exhaustion bug shows up as an error within seconds, not as a hang
      prePing: true, // laptops sleep and local databases restart; one extra round trip costs nothing at this volume
      leakTimeoutMs: 10_000, // a transaction() that never returns is reported while the code is fresh in mind
      leakStackTraces: true, // … with the stack that took it (~2 µs per transaction)
      connectRetries: 1, // the database container may still be starting when the application is
      connectRetryDelayMs: 500,
    },
    breaker: { timeoutMs: 15_000 }, // a runaway statement is cancelled before you give up on it
    slowQueryMs: 250, // slow statements are logged (by fingerprint) and emitted as `slowQuery` while you can fix them
  },
  /** A service in production: warm, bounded, sized to its load, riding over short outages without hiding long ones. */
  production: {
    pool: {
      min: 2, // the first requests after a deploy do not wait for connections to open
      max: 20,
      idleTimeoutMs: 60_000,
      maxLifetimeMs: 1_800_000, // connections are renewed every 30 min: server memory is returned and DNS or failover changes are picked up
      acquireTimeoutMs: 10_000,
      prePing: false, // a round trip per statement; breakers, health checks and idle-error handling already find dead connections
      leakTimeoutMs: 60_000, // report transactions held a minute, without the cost of stack traces
      healthThreshold: 50,
      connectRetries: 2, // ride over a restart or failover blip (~0.1 + 0.2 s) before the breaker takes over
      connectRetryDelayMs: 100,
    },
    breaker: { timeoutMs: 30_000, errorThresholdPercentage: 50, resetTimeoutMs: 5_000, volumeThreshold: 10 }, // 10 calls before a percentage means something at production rates
    adaptive: { enabled: true }, // each connection costs the server ~10 MB, times every instance: pools shrink when idle
  },
  /** Many statements per second: bigger, hotter pools that queue rather than fail, and larger caches. */
  highThroughput: {
    pool: {
      min: 10,
      max: 50, // more statements in flight per node; instances × 50 must fit each node's max_connections
      idleTimeoutMs: 300_000, // keep connections between bursts instead of reconnecting for each
      acquireTimeoutMs: 30_000, // under a burst a caller waits in line: throughput over the latency of one call
      prePing: false, // no extra round trip per statement
      connectRetries: 2,
      connectRetryDelayMs: 100,
    },
    statementCache: { max: 1_000 }, // more distinct statements stay prepared per connection
    classifierCache: { max: 50_000 }, // more distinct SQL texts keep their routing verdict
    breaker: { volumeThreshold: 50, rollingWindowMs: 5_000 }, // at thousands of calls per second a small sample says little; a shorter window reacts sooner
    adaptive: { enabled: true, intervalMs: 2_000, targetUtilization: 0.85, cooldownMs: 30_000 }, // size to the load, with less head-room, shrinking slowly
  },
  /** Interactive paths with a tight latency budget: always-warm pools, no extra round trips, fast failure and failover. */
  lowLatency: {
    pool: {
      min: 10, // connections stay open, so no caller pays for opening one
      max: 20,
      idleTimeoutMs: 0, // … however long they sit idle
      acquireTimeoutMs: 1_000, // an error after a second serves the caller better than a queue
      prePing: false, // saves a round trip per statement
      healthCheckIntervalMs: 1_000, // a dead replica leaves the balancer within about two seconds
      connectRetries: 0, // a retry's wait would exceed the budget; reads move to another node instead
    },
    breaker: { timeoutMs: 2_000, consecutiveFailures: 3, resetTimeoutMs: 2_000 }, // stop waiting on a hung node soon, and try it again soon
    loadBalancing: 'latency', // reads go to the replica answering fastest now
  },
  /** Correctness over speed: validated connections, patient retries, aggressive recycling and leak reports. */
  reliable: {
    pool: {
      min: 5,
      max: 30,
      idleTimeoutMs: 60_000,
      maxLifetimeMs: 1_800_000,
      acquireTimeoutMs: 30_000, // wait for a connection rather than fail
      prePing: true, // a connection that died while idle is replaced before a statement uses it
      healthCheckIntervalMs: 2_000,
      leakTimeoutMs: 30_000,
      leakStackTraces: true,
      healthThreshold: 60, // recycle doubtful connections sooner
      connectRetries: 5, // 0.2 + 0.4 + 0.8 + 1.6 + 3.2 s at most: enough for a primary to restart or a failover to finish
      connectRetryDelayMs: 200,
    },
    breaker: { timeoutMs: 60_000, resetTimeoutMs: 2_000, consecutiveFailures: 5 }, // long statements may finish; a recovered node gets traffic back soon
  },
});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

const SECTIONS = ['pool', 'breaker', 'statementCache', 'classifierCache', 'adaptive'] as const;

/**
 * `options` with `PROFILES[name]` merged under it: the caller's top-level values win, and within each section
 * (`pool`, `breaker`, …) the caller's keys win over the profile's. `undefined` values do not override.
 */
export function withProfile(name: ProfileName, options: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const profile = PROFILES[name] as Readonly<Record<string, unknown>>;
  const merged: Record<string, unknown> = { ...profile };
  for (const [key, value] of Object.entries(options)) if (value !== undefined) merged[key] = value;
  for (const section of SECTIONS) {
    const own = options[section];
    const preset = profile[section];
    if (preset === undefined || typeof own !== 'object' || own === null || Array.isArray(own)) continue;
    const combined: Record<string, unknown> = { ...(preset as Record<string, unknown>) };
    for (const [key, value] of Object.entries(own)) if (value !== undefined) combined[key] = value;
    merged[section] = combined;
  }
  return merged;
}
