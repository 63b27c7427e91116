import type pg from 'pg';
import type { PoolClient } from 'pg';
import { AcquireTimeoutError, QueryError } from '../errors.js';
import { stateOf } from './client-state.js';
import { isAcquireTimeout } from './connection-errors.js';
import type { ConnectionRecycler } from './connection-recycler.js';
import { isRetryableConnectError, loginRefusal, retryConnect, type ConnectRetryPolicy } from './connect-retry.js';
import { connectUnlessAborted } from './statement-deadlines.js';

/** What a {@link ConnectionSource} needs to know of its pool's settings. */
export interface ConnectionSourceOptions {
  /** The node's name, in errors. */
  readonly name: string;
  /** The pool's configured `max`, reported in an {@link AcquireTimeoutError}. */
  readonly max: number;
  /** How many times, and how soon, a connection-level failure to connect is retried. */
  readonly retryPolicy: ConnectRetryPolicy;
  /** How long a caller may wait for a connection, in milliseconds (`0`: forever): connect retries stop at it. */
  readonly acquireTimeoutMs: number;
  /** Called before each retry of a connection attempt. */
  readonly onConnectRetry?: (retry: number, delayMs: number, error: unknown) => void;
}

/**
 * Where a pool's callers get their connections: pg-pool's `connect()`, retried after a connection-level failure,
 * the new connection's `onConnect` hook awaited, a pre-ping, and the typed error when none comes in time. The
 * caller decides which steps a hand-out takes, so a connection that needs none costs no await.
 */
export class ConnectionSource {
  /** Connection attempts retried since start. */
  retries = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly recycler: ConnectionRecycler,
    private readonly options: ConnectionSourceOptions,
  ) {}

  /**
   * Opens a connection, or takes an idle one, retrying a connection-level failure as `connectRetries` says. The
   * hot path calls `pool.connect()` itself and {@link reconnect} only after a failure (one promise hop fewer).
   */
  async connect(): Promise<PoolClient> {
    const started = performance.now();
    try {
      return await this.pool.connect();
    } catch (error) {
      return this.reconnect(error, started);
    }
  }

  /**
   * After `pool.connect()` failed with `error`: retries with exponential backoff while the error is a
   * connection-level one and `connectRetries` allow, never past the caller's acquisition deadline; otherwise
   * rethrows. Authentication and configuration errors are never retried.
   */
  async reconnect(error: unknown, started: number, signal?: AbortSignal): Promise<PoolClient> {
    const { retryPolicy, acquireTimeoutMs, name } = this.options;
    if (retryPolicy.retries === 0 || !isRetryableConnectError(error)) throw error;
    return retryConnect(
      () => (signal === undefined ? this.pool.connect() : connectUnlessAborted(this.pool, signal, name)),
      error,
      retryPolicy,
      {
        deadline: acquireTimeoutMs > 0 ? started + acquireTimeoutMs : undefined,
        onRetry: (retry, delayMs, cause) => {
          this.retries++;
          this.options.onConnectRetry?.(retry, delayMs, cause);
        },
      },
    );
  }

  /**
   * Waits for the `onConnect` hook of a new connection (call it only while `ClientState.ready` is set, so a
   * connection already fit costs no await); if it failed, the connection is discarded and the error thrown.
   */
  async whenReady(client: PoolClient): Promise<void> {
    const state = stateOf(client);
    try {
      await state.ready;
      state.ready = undefined;
    } catch (error) {
      this.recycler.recycle(state, 'error');
      client.release(error as Error);
      throw error;
    }
  }

  /** `client` if it answers an empty statement (for `prePing`); otherwise it is discarded and a fresh one taken. */
  async pinged(client: PoolClient): Promise<PoolClient> {
    try {
      await client.query(';');
      return client;
    } catch (error) {
      this.recycler.recycle(stateOf(client), 'error');
      client.release(error as Error);
      return this.pool.connect();
    }
  }

  /** The error a caller gets when no connection came: a typed timeout with the pool's counts, or the node's refusal. */
  acquireError(error: unknown, started: number): Error {
    const { name, max } = this.options;
    if (isAcquireTimeout(error)) {
      const pool = {
        total: this.pool.totalCount,
        max,
        idle: this.pool.idleCount,
        waiting: this.pool.waitingCount,
      };
      return new AcquireTimeoutError(name, Math.round(performance.now() - started), { cause: error, pool });
    }
    return loginRefusal(error, name) ?? QueryError.from(error, { node: name });
  }
}
