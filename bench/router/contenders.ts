import postgres from 'postgres';
import { QueryRouter } from '../../src/index.js';
import { IDLE_TIMEOUT_MS, rawPgPool, routerPoolOptions, type PoolParams } from '../lib/pools.js';
import type { Contender } from '../lib/rounds.js';

/**
 * The contenders of the benchmark. Every one gets the same connection URL and the same pool size, and each
 * calls its library the way its documentation shows, so the difference measured is the library's own cost.
 */

/** A {@link Contender} for `router.query(text, params)`, and the router itself (for `stats()`). */
export interface RouterContender extends Contender {
  readonly router: QueryRouter;
}

/**
 * `router.query(text, params)` through a router whose only node is `url`, so it runs where the raw baselines
 * run. `statementCacheMax` is the router's `statementCache.max` (its default is 500); `healthCheckIntervalMs` its
 * `pool.healthCheckIntervalMs` (default: the router's).
 */
export function routerContender(
  name: string,
  url: string,
  pool: PoolParams,
  statementCacheMax = 500,
  healthCheckIntervalMs?: number,
): RouterContender {
  const router = new QueryRouter({
    primary: url,
    pool: { ...routerPoolOptions(pool), healthCheckIntervalMs },
    statementCache: { max: statementCacheMax },
  });
  return {
    name,
    router,
    query: (step) => router.query(step.text, step.params),
    close: () => router.close(),
  };
}

/** `pg.Pool#query(text, params)`: unnamed statements, parsed and planned by the server on every call. */
export function pgPoolContender(url: string, pool: PoolParams): Contender {
  const client = rawPgPool(url, pool);
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
  const client = rawPgPool(url, pool);
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
