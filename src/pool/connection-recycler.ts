import type { PoolClient } from 'pg';
import { stateOf, type ClientState } from './client-state.js';
import {
  LatencyReference,
  type ConnectionHealthStats,
  type RecycleCounts,
  type RecycleReason,
} from './connection-health.js';

/**
 * How a statement that ends at check-in counts towards the connection's health score: none ended there (a
 * transaction's or a batch's statements are counted as they end), it ended well (or with the caller's own error),
 * or it failed through the connection's fault (see `isConnectionFault`).
 */
export type CheckinStatement = typeof NO_STATEMENT | typeof STATEMENT_OK | typeof STATEMENT_FAULT;
/** See {@link CheckinStatement}. */
export const NO_STATEMENT = 0;
/** See {@link CheckinStatement}. */
export const STATEMENT_OK = 1;
/** See {@link CheckinStatement}. */
export const STATEMENT_FAULT = 2;

/** Passed to `release` to close a connection whose health score fell below the threshold. */
const UNHEALTHY = new Error('connection recycled: health score below pool.healthThreshold');
/** Passed to check-in to close a connection that a statement left session state on. */
export const SESSION_LEFT = new Error('connection closed: a statement left session state on it');

/**
 * Which of a pool's connections close, and why: it scores each connection by its statements against the node's
 * median, closes one whose score falls below the threshold at check-in, and counts every close by reason.
 */
export class ConnectionRecycler {
  /** Connections closed since start, by reason. */
  readonly counts: RecycleCounts = { lifetime: 0, idle: 0, health: 0, error: 0, shrink: 0, session: 0 };
  /** The node's median statement time, against which each connection's latency is scored. */
  private readonly reference = new LatencyReference();

  /**
   * `healthThreshold`: a score (0–100) below which a connection is closed at check-in, `0` never. `lifetimeMs`:
   * pg-pool's maximum connection lifetime (`0`: none), by which its lifetime closes are told apart by age.
   */
  constructor(
    private readonly healthThreshold: number,
    readonly lifetimeMs: number,
  ) {}

  /** Counts a connection the pool is about to close, and why; pg-pool's own lifetime and idle closes are counted as they happen. */
  recycle(state: ClientState, reason: RecycleReason): void {
    if (state.recycle !== undefined) return;
    state.recycle = reason;
    this.counts[reason]++;
  }

  /** pg-pool closed a connection on its own (not while it is ending): counted unless the pool had decided to already. */
  closedByPool(state: ClientState): void {
    if (state.recycle === undefined) this.counts[this.expiredOrIdle(state)]++;
  }

  /**
   * Why pg-pool closed a connection on its own: its lifetime ended (pg-pool's timer runs from the connect, so the
   * connection is at least that old; 50 ms of slack for timer granularity) or it sat idle too long.
   */
  private expiredOrIdle(state: ClientState): RecycleReason {
    return this.lifetimeMs > 0 && performance.now() - state.health.connectedAt >= this.lifetimeMs - 50
      ? 'lifetime'
      : 'idle';
  }

  /** Counts one statement of `ms` on a connection towards its health score and its node's median. */
  score(state: ClientState, ms: number, fault: boolean, now: number): void {
    state.health.record(ms, fault, this.reference.medianMs, now);
    if (ms >= 0) this.reference.observe(ms);
  }

  /**
   * A connection comes back after being held `heldMs`: a statement that ended here counts towards its health
   * score (O(1), no allocation). Returns what to pass to `release`: `error` (the connection closes for it), the
   * health verdict when its score is now below the threshold, or `undefined` to keep it.
   */
  checkedIn(
    state: ClientState,
    heldMs: number,
    statement: CheckinStatement,
    error: Error | undefined,
    now: number,
  ): Error | undefined {
    if (statement !== NO_STATEMENT) this.score(state, heldMs, statement === STATEMENT_FAULT, now);
    if (error !== undefined) {
      this.recycle(state, error === SESSION_LEFT ? 'session' : 'error');
      return error;
    }
    if (this.healthThreshold > 0 && state.health.score(now, this.lifetimeMs) < this.healthThreshold) {
      this.recycle(state, 'health');
      return UNHEALTHY;
    }
    return undefined;
  }

  /** Each open connection's health, lowest score first (connections the pool is closing are left out). */
  snapshot(clients: Iterable<PoolClient>): ConnectionHealthStats[] {
    const now = performance.now();
    const connections: ConnectionHealthStats[] = [];
    for (const client of clients) {
      const state = stateOf(client);
      if (state.recycle === undefined) connections.push(state.health.snapshot(now, this.lifetimeMs, state.active));
    }
    return connections.sort((a, b) => a.score - b.score);
  }
}
