import type pg from 'pg';
import type { PoolClient } from 'pg';
import { AcquireTimeoutError, QueryError } from '../errors.js';
import { stateOf } from './client-state.js';
import { isAcquireTimeout, isConnectionRefusal } from './connection-errors.js';
import { RefusalBackoff } from './connection-refusals.js';
import type { ConnectionRecycler } from './connection-recycler.js';
import { isRetryableConnectError, loginRefusal, retryConnect, type ConnectRetryPolicy } from './connect-retry.js';
import { abortedError, connectUnlessAborted } from './statement-deadlines.js';
import { connectIdle } from './pg-pool-internals.js';

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
  /**
   * Caps the pool's ceiling while the node refuses connections for lack of room (a number), or lifts the cap
   * (`undefined`); returns the ceiling then in force. Without it the pool keeps its ceiling and refused callers
   * retry after a backoff.
   */
  readonly cap?: (ceiling: number | undefined) => number;
  /** Told of each connection attempt the node refused for lack of room (53300, 53400). */
  readonly onRefused?: (error: unknown) => void;
  /** Connections open now, those still being opened not counted (default: the pool's total). */
  readonly established?: () => number;
}

/** What {@link connectWithin} rejects with when its time ran out. */
const OUT_OF_TIME = Symbol('out of time');

/**
 * Where a pool's callers get their connections: pg-pool's `connect()`, retried after a connection-level failure,
 * the new connection's `onConnect` hook awaited, a pre-ping, and the typed error when none comes in time. The
 * caller decides which steps a hand-out takes, so a connection that needs none costs no await.
 */
export class ConnectionSource {
  /** Connection attempts retried since start. */
  retries = 0;
  /** Back-pressure while the node refuses connections for lack of room; see {@link RefusalBackoff}. */
  readonly refusals: RefusalBackoff;

  constructor(
    private readonly pool: pg.Pool,
    private readonly recycler: ConnectionRecycler,
    private readonly options: ConnectionSourceOptions,
  ) {
    this.refusals = new RefusalBackoff(pool, {
      delayMs: options.retryPolicy.delayMs,
      acquireTimeoutMs: options.acquireTimeoutMs,
      cap: (ceiling) => options.cap?.(ceiling) ?? options.max,
      established: options.established ?? (() => pool.totalCount),
    });
  }

  /**
   * Opens a connection, or takes an idle one, retrying a connection-level failure as `connectRetries` says. The
   * hot path calls `pool.connect()` itself and {@link reconnect} only after a failure (one promise hop fewer).
   */
  async connect(): Promise<PoolClient> {
    const started = performance.now();
    try {
      return await connectIdle(this.pool);
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
    if (isConnectionRefusal(error)) return this.throughRefusals(error, started, signal);
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
    ).catch((next: unknown) => {
      // A node back from a restart may be full at once: that is back-pressure too.
      if (isConnectionRefusal(next)) return this.throughRefusals(next, started, signal);
      throw next;
    });
  }

  /**
   * The node refused a connection for lack of room (53300 "too many clients", 53400): it is up, only full. The
   * caller waits in the pool's queue for a connection another caller releases or one the backoff's probe opens
   * (see {@link RefusalBackoff}), until its acquisition deadline; then it gets an {@link AcquireTimeoutError} whose
   * cause is the refusal. It never sees the refusal itself, and neither does a breaker.
   */
  private async throughRefusals(error: unknown, started: number, signal?: AbortSignal): Promise<PoolClient> {
    const { acquireTimeoutMs, name } = this.options;
    const deadline = acquireTimeoutMs > 0 ? started + acquireTimeoutMs : undefined;
    let refusal = error;
    for (;;) {
      const capped = this.refusals.refused(refusal);
      this.options.onRefused?.(refusal);
      // Where the pool is not full after all (it cannot be capped, or connections closed meanwhile), a new attempt
      // would start at once: wait a backoff first instead of hammering a full node.
      if (!capped) await pause(Math.max(1, this.options.retryPolicy.delayMs), deadline);
      const remaining = deadline === undefined ? undefined : deadline - performance.now();
      if (remaining !== undefined && remaining <= 0) throw this.refusedTooLong(refusal, started);
      try {
        return await connectWithin(this.pool, remaining, signal, name);
      } catch (next) {
        if (next === OUT_OF_TIME) throw this.refusedTooLong(refusal, started);
        if (!isConnectionRefusal(next)) throw next;
        refusal = next;
      }
    }
  }

  private refusedTooLong(refusal: unknown, started: number): AcquireTimeoutError {
    return new AcquireTimeoutError(this.options.name, Math.round(performance.now() - started), {
      cause: refusal,
      pool: this.poolCounts(),
    });
  }

  private poolCounts(): { total: number; max: number; idle: number; waiting: number } {
    return {
      total: this.pool.totalCount,
      max: this.options.max,
      idle: this.pool.idleCount,
      waiting: this.pool.waitingCount,
    };
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
    const { name } = this.options;
    if (error instanceof AcquireTimeoutError) return error;
    if (isAcquireTimeout(error)) {
      // While the node refuses connections, the refusal is why the caller waited: it is the cause to report.
      const cause = this.refusals.active ? (this.refusals.lastRefusal ?? error) : error;
      return new AcquireTimeoutError(name, Math.round(performance.now() - started), { cause, pool: this.poolCounts() });
    }
    return loginRefusal(error, name) ?? QueryError.from(error, { node: name });
  }
}

/** Waits `ms`, but not past `deadline` (a `performance.now()` time). */
function pause(ms: number, deadline: number | undefined): Promise<void> {
  const wait = deadline === undefined ? ms : Math.max(0, Math.min(ms, deadline - performance.now()));
  return new Promise((resolve) => setTimeout(resolve, wait));
}

/**
 * `pool.connect()`, given up after `ms` (rejecting with {@link OUT_OF_TIME}) or when `signal` aborts; a connection
 * that comes after that is released at once. pg-pool's own timeout counts from this call, not from the caller's
 * first attempt, so it cannot enforce the caller's deadline. The timer is not unref()ed: it stands for a caller's
 * pending statement.
 */
function connectWithin(
  pool: pg.Pool,
  ms: number | undefined,
  signal: AbortSignal | undefined,
  node: string,
): Promise<PoolClient> {
  return new Promise<PoolClient>((resolve, reject) => {
    let settled = false;
    const finish = (): void => {
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      finish();
      reject(abortedError(signal!, node));
    };
    const timer =
      ms === undefined
        ? undefined
        : setTimeout(() => {
            finish();
            reject(OUT_OF_TIME);
          }, ms);
    if (signal !== undefined) {
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
    }
    pool.connect().then(
      (client) => {
        if (settled) client.release();
        else {
          finish();
          resolve(client);
        }
      },
      (error: unknown) => {
        if (settled) return;
        finish();
        reject(error);
      },
    );
  });
}
