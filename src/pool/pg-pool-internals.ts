import type pg from 'pg';
import type { PoolClient } from 'pg';

/**
 * The parts of pg-pool's internals the pool relies on (pg-pool 3.x `index.js`): its `options`, which it reads
 * afresh each time it decides whether to open a connection and how long a caller may wait for one. Not public
 * API, so every access goes through this file (pg's own internals: `pg-internals.ts`, `pg-query.ts`).
 */
interface PoolInternals {
  options?: { max?: number; min?: number; connectionTimeoutMillis?: number };
}

/**
 * Changes the most connections a `pg.Pool` opens. pg-pool reads `options.max` each time it decides whether to
 * open a connection, so a new value applies at once. Callers already waiting are not served by raising it
 * (pg-pool would hand each one a connection of its own still to be opened): the caller opens connections for
 * them. Connections above a lowered ceiling stay until they are closed.
 * With `keepIdle`, also sets `options.min`, below which pg-pool's idle timeout closes nothing.
 * Returns false when the pool does not look as expected (the ceiling then stays as configured).
 */
export function setPoolCeiling(pool: pg.Pool, max: number, keepIdle?: number): boolean {
  if (!supportsPoolCeiling(pool)) return false;
  const internals = (pool as unknown as Required<PoolInternals>).options;
  internals.max = max;
  // pg-pool's idle timeout closes only connections above options.min: raising it keeps that many warm.
  if (keepIdle !== undefined) internals.min = keepIdle;
  return true;
}

/** True when `pool` has the `options.max` that {@link setPoolCeiling} rewrites; otherwise resizing does nothing. */
export function supportsPoolCeiling(pool: pg.Pool): boolean {
  return typeof (pool as unknown as PoolInternals).options?.max === 'number';
}

/**
 * `pool.connect()`, without the timer pg-pool arms (and clears a tick later) for every checkout when its
 * `connectionTimeoutMillis` is set, in the one case it cannot fire: more idle connections than callers waiting.
 * pg-pool hands idle connections to its queue in order, one per pulse, and each checkout that finds one idle
 * schedules its own pulse for the next tick; nothing that closes an idle connection (its idle timer, a socket
 * error, a resize) can run before that tick. The timeout is set back before this returns, so a connection pg-pool
 * still has to open (and every other checkout) keeps its bound.
 */
export function connectIdle(pool: pg.Pool): Promise<PoolClient> {
  const options = (pool as unknown as PoolInternals).options;
  const timeoutMs = options?.connectionTimeoutMillis;
  if (timeoutMs === undefined || timeoutMs === 0 || pool.idleCount <= pool.waitingCount) return pool.connect();
  options!.connectionTimeoutMillis = 0;
  try {
    return pool.connect();
  } finally {
    options!.connectionTimeoutMillis = timeoutMs;
  }
}
