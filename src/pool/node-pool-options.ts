import type { PoolClient, PoolConfig } from 'pg';
import type { DisabledInternal } from './pg-internals.js';

/** Sizing, timing and caching of one node's pool. */
export interface NodePoolOptions {
  /** The node's name in errors and statistics (`'primary'`, `'replica-0'`). */
  readonly name: string;
  /** Connection settings for pg; pool sizing fields here win over the ones below. */
  readonly connection: PoolConfig;
  readonly min: number;
  readonly max: number;
  readonly idleTimeoutMs: number;
  readonly maxLifetimeMs: number;
  readonly acquireTimeoutMs: number;
  /** Prepared statements kept per connection; `0` runs every statement unnamed. */
  readonly statementCacheMax: number;
  readonly applicationName: string;
  /** Default statement timeout in milliseconds (`0`: none); see {@link NodePool.execute}. */
  readonly statementTimeoutMs: number;
  /** Called for errors on idle connections (a node restart, a network cut), which would otherwise crash Node. */
  readonly onIdleError?: (error: Error) => void;
  /** Ping each connection before use (see `PoolOptions.prePing`). */
  readonly prePing: boolean;
  /** A connection from {@link NodePool.acquire} held longer than this, in milliseconds, is reported; `0`: never. */
  readonly leakTimeoutMs: number;
  readonly leakStackTraces: boolean;
  /** Called when a connection is held past `leakTimeoutMs`. */
  readonly onLeak?: (leak: ConnectionLeak) => void;
  /**
   * Called, before queueing, when a caller must wait for a connection because every connection is busy and the
   * pool is at its current ceiling ({@link NodePool.resize}): `waiting` counts the caller itself.
   */
  readonly onPressure?: (waiting: number, busy: number, opening: number) => void;
  /** Runs on every new connection before its first use (e.g. `SET search_path`); a rejection discards the connection and fails the caller. */
  readonly onConnect?: (client: PoolClient) => void | Promise<void>;
  /** Told of each statement, hand-out and return, for metrics and hooks. */
  readonly observer?: PoolObserver;
  /** A connection whose health score (0–100) is below this at check-in is closed; `0` never closes one for health. */
  readonly healthThreshold?: number;
  /** Retries of a connection attempt that failed at connection level (see `connect-retry.ts`); default `0`. */
  readonly connectRetries?: number;
  /** Delay before the first such retry, in milliseconds, doubled for each next one (with jitter); default `100`. */
  readonly connectRetryDelayMs?: number;
  /** Called before each retry of a connection attempt: which retry (1-based), its delay and the error that caused it. */
  readonly onConnectRetry?: (retry: number, delayMs: number, error: unknown) => void;
}

/** Told of each connection hand-out and return, for hooks (called synchronously on the hot path). */
export interface PoolObserver {
  /** A connection was handed out after the caller waited `waitedMs`. */
  checkout?(waitedMs: number): void;
  /** A connection came back after being held `heldMs`. */
  checkin?(heldMs: number): void;
  /**
   * Some of pg's internals the pool relies on are not as expected, so the features built on them are off (each
   * with why and what the pool does instead). Told at most once per pool, when its first connection opens, and
   * only when the list is not empty. It runs inside pg-pool's connect, so an exception it throws is ignored.
   */
  internalsMissing?(disabled: readonly DisabledInternal[]): void;
}

/** A connection held past `leakTimeoutMs`. */
export interface ConnectionLeak {
  readonly node: string;
  readonly heldMs: number;
  /** Where it was taken, when `leakStackTraces` is on. */
  readonly stack: string | undefined;
}
