/**
 * How the benchmarks size and keep the pools they compare, so a raw driver pool and a router's pool differ in
 * the library only.
 */
import pg from 'pg';

/** How every pool of a comparison is sized. */
export interface PoolParams {
  /** Connections per pool (`max` of pg.Pool, the router's `pool.max`, postgres.js's `max`). */
  readonly max: number;
}

/**
 * The router's default idle timeout, given to every pool that waits through the other contenders' runs:
 * pg.Pool's own default (10 s) could close a contender's connections meanwhile, so it would pay for
 * reconnecting and the router would not.
 */
export const IDLE_TIMEOUT_MS = 30_000;

/**
 * `new pg.Pool(config)` that ignores errors of idle connections. One fails when the server stops (Ctrl-C stops the
 * cluster under the running benchmark), and pg.Pool re-emits that as 'error', which would crash the process
 * before the cluster is cleaned up.
 */
export function quietPgPool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool(config);
  pool.on('error', () => undefined);
  return pool;
}

/** A raw pg.Pool on `url` of `pool.max` connections, none kept open, idle ones closed after {@link IDLE_TIMEOUT_MS}. */
export function rawPgPool(url: string, pool: PoolParams): pg.Pool {
  return quietPgPool({ connectionString: url, max: pool.max, min: 0, idleTimeoutMillis: IDLE_TIMEOUT_MS });
}

/** The router's `pool` option sized as {@link rawPgPool}. */
export function routerPoolOptions(pool: PoolParams): { max: number; min: number; idleTimeoutMs: number } {
  return { max: pool.max, min: 0, idleTimeoutMs: IDLE_TIMEOUT_MS };
}
