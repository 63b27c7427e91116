import type { PoolClient } from 'pg';
import type { ConnectionHealth, RecycleReason } from './connection-health.js';
import type { ConnectionStatementCache } from './statement-cache.js';

/**
 * What the pool keeps on each of its connections, on the connection object itself: the hot path reads it with one
 * property access instead of looking the connection up in maps.
 */
export interface ClientState {
  /** The connection's prepared statements; `undefined` when the cache is off or pg's internals are not as expected. */
  readonly cache: ConnectionStatementCache | undefined;
  /** Checked out now (a shutdown past its deadline cuts it). */
  active: boolean;
  /** When the running statement's timeout expires (performance.now() ms), or 0. */
  deadlineAt: number;
  timeoutMs: number;
  /** When the grace period after a cancel request ends, or 0 when no cancel is pending. */
  cancelAt: number;
  /** Non-zero when the connection was cut because its node answered neither the statement nor the cancel: that timeout. */
  timedOutMs: number;
  /** When it was handed out (performance.now() ms). */
  acquiredAt: number;
  /** The `onConnect` hook still running (or failed) for this new connection; `undefined` once it succeeded. */
  ready: Promise<void> | undefined;
  /** Its health score's inputs, and its id in `stats()`. */
  readonly health: ConnectionHealth;
  /** Why the pool is closing it, once decided; `undefined` for pg-pool's own lifetime and idle closes. */
  recycle: RecycleReason | undefined;
}

// A symbol, not a WeakMap: the state is read on every statement, and a property read is the cheapest lookup.
const STATE: unique symbol = Symbol('pg-query-router.connection-state');
type StatefulClient = PoolClient & { [STATE]: ClientState };

/** Gives a newly opened connection its state: idle, no deadline, no cancel pending. */
export function attachState(
  client: PoolClient,
  cache: ConnectionStatementCache | undefined,
  ready: Promise<void> | undefined,
  health: ConnectionHealth,
): ClientState {
  const state: ClientState = {
    cache,
    active: false,
    deadlineAt: 0,
    timeoutMs: 0,
    cancelAt: 0,
    timedOutMs: 0,
    acquiredAt: 0,
    ready,
    health,
    recycle: undefined,
  };
  (client as StatefulClient)[STATE] = state;
  return state;
}

/** The state of a connection this pool opened (see {@link attachState}). */
export const stateOf = (client: PoolClient): ClientState => (client as StatefulClient)[STATE];

/** The state of `client` if this pool gave it one: pg-pool's events may name a client that failed before it did. */
export const stateIfAny = (client: PoolClient | undefined): ClientState | undefined =>
  (client as Partial<StatefulClient> | undefined)?.[STATE];

/**
 * Whether a pooled statement left its connection unfit for the next caller: it said it leaves session state, or
 * the connection is inside a transaction (a BEGIN, or a string that opens one, sent as one statement).
 */
export function leftSessionState(client: PoolClient, declared: boolean | undefined): boolean {
  if (declared === true) return true;
  const status = client.getTransactionStatus();
  return status === 'T' || status === 'E';
}
