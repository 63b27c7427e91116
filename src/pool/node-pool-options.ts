import type { PoolClient, PoolConfig } from 'pg';
import type { PoolOptions } from '../config/index.js';
import type { DisabledInternal } from './pg-internals.js';
import type { StatementCacheDisabled } from './statement-cache-switch.js';

/**
 * One node's pool: the router's resolved pool options (sizes, timeouts, health and retry settings, each documented
 * with its default and unit in {@link PoolOptions}) plus what the router knows of the node and wants to hear.
 */
export interface NodePoolOptions extends Readonly<Required<PoolOptions>> {
  /** The node's name in errors and statistics (`'primary'`, `'replica-0'`). */
  readonly name: string;
  /** Connection settings for pg; pool sizing fields here win over the pool options. */
  readonly connection: PoolConfig;
  /** Prepared statements kept per connection; `0` runs every statement unnamed. */
  readonly statementCacheMax: number;
  readonly applicationName: string;
  /** Default statement timeout in milliseconds (`0`: none); see {@link NodePool.execute}. */
  readonly statementTimeoutMs: number;
  /** Called for errors on idle connections (a node restart, a network cut), which would otherwise crash Node. */
  readonly onIdleError?: (error: Error) => void;
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
  /**
   * Called once, when the node's statement cache turns off because its server connections do not keep prepared
   * statements (a pooler in transaction mode, see `statement-cache-switch.ts`), with a message for operators.
   */
  readonly onStatementCacheDisabled?: (disabled: StatementCacheDisabled, message: string) => void;
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
  /** A new connection opened (pg-pool's `connect`), before its first use. */
  opened?(client: PoolClient): void;
  /** A connection closed, whatever the reason (pg-pool's `remove`). */
  closed?(client: PoolClient): void;
  /** An idle connection failed (a node restart, a network cut) and is being removed (pg-pool's `error`). */
  failedIdle?(error: Error, client: PoolClient): void;
}

/** A connection held past `leakTimeoutMs`. */
export interface ConnectionLeak {
  readonly node: string;
  readonly heldMs: number;
  /** Where it was taken, when `leakStackTraces` is on. */
  readonly stack: string | undefined;
}
