import pg from 'pg';
import postgres from 'postgres';
import { QueryRouter } from '../../src/index.js';
import type { Contender } from '../lib/rounds.js';

/**
 * The contenders of the benchmark. Every one gets the same connection URL and the same pool size, and each
 * calls its library the way its documentation shows, so the difference measured is the library's own cost.
 */

/** How every pool is sized and kept. */
export interface PoolParams {
  /** Connections per pool (`max` of pg.Pool, the router's `pool.max`, postgres.js's `max`). */
  readonly max: number;
}

// The router's default; pg.Pool's own default (10 s) could close a contender's connections while it waits
// through the other contenders' runs, so it would pay for reconnecting and the router would not.
const IDLE_TIMEOUT_MS = 30_000;

/** A {@link Contender} for `router.query(text, params)`, and the router itself (for `stats()`). */
export interface RouterContender extends Contender {
  readonly router: QueryRouter;
}

/**
 * `router.query(text, params)` through a router whose only node is `url`, so it runs where the raw baselines
 * run. `statementCacheMax` is the router's `statementCache.max` (its default is 500).
 */
export function routerContender(name: string, url: string, pool: PoolParams, statementCacheMax = 500): RouterContender {
  const router = new QueryRouter({
    primary: url,
    pool: { max: pool.max, min: 0, idleTimeoutMs: IDLE_TIMEOUT_MS },
    statementCache: { max: statementCacheMax },
  });
  return {
    name,
    router,
    query: (step) => router.query(step.text, step.params),
    close: () => router.close(),
  };
}

function rawPool(url: string, pool: PoolParams): pg.Pool {
  const client = new pg.Pool({ connectionString: url, max: pool.max, min: 0, idleTimeoutMillis: IDLE_TIMEOUT_MS });
  // An idle connection fails when the server stops (Ctrl-C stops the cluster under the running benchmark);
  // pg.Pool re-emits that as 'error', which would crash the process before the cluster is cleaned up.
  client.on('error', () => undefined);
  return client;
}

/** `pg.Pool#query(text, params)`: unnamed statements, parsed and planned by the server on every call. */
export function pgPoolContender(url: string, pool: PoolParams): Contender {
  const client = rawPool(url, pool);
  return {
    name: 'pg.Pool#query',
    query: (step) => client.query(step.text, step.params as unknown[]),
    close: () => client.end(),
  };
}

/**
 * `pg.Pool#query({ name, text, values })`: pg's own named prepared statements, the same protocol the router's
 * statement cache uses, so the gap between this and the router is the router's own work per query.
 */
export function pgPreparedContender(url: string, pool: PoolParams): Contender {
  const client = rawPool(url, pool);
  return {
    name: 'pg.Pool#query (named)',
    query: (step) => client.query(step.config),
    close: () => client.end(),
  };
}

/** postgres.js: `sql.unsafe(text, params, { prepare: true })`, prepared and pipelined as postgres.js does. */
export function postgresJsContender(url: string, pool: PoolParams): Contender {
  const sql = postgres(url, { max: pool.max, idle_timeout: IDLE_TIMEOUT_MS / 1000, onnotice: () => undefined });
  const options = { prepare: true };
  return {
    name: 'postgres.js unsafe',
    query: (step) => sql.unsafe(step.text, step.params as postgres.ParameterOrJSON<never>[], options),
    close: () => sql.end({ timeout: 5 }),
  };
}
