import type pg from 'pg';
import type { PoolClient } from 'pg';
import { QueryError } from '../errors.js';
import { sendCancelRequest } from './cancel-request.js';
import { stateOf, type ClientState } from './client-state.js';
import { destroySocket } from './pg-internals.js';
import { isConnectionLevelError } from './connection-errors.js';

// How often deadlines are checked: every 1/20 of the shortest time watched (a timeout, a cancel's grace), so one fires
// at most 5 % late, but never more often than every 25 ms nor less often than every second. A 30 s statement timeout
// is then checked once a second, not forty times: each wake-up of an otherwise waiting process costs CPU.
const SWEEP_FRACTION = 20;
const MIN_SWEEP_MS = 25;
const MAX_SWEEP_MS = 1_000;
// How long a node has to confirm an aborted statement's cancel before the connection is cut.
const ABORT_GRACE_MS = 1_000;

/** Passed to `release` to close a connection that must not run another statement. */
export const RETIRED = new Error('connection retired after a cancel request');

/** How often to sweep while something of `spanMs` is watched. */
const sweepIntervalFor = (spanMs: number): number =>
  Math.min(MAX_SWEEP_MS, Math.max(MIN_SWEEP_MS, Math.floor(spanMs / SWEEP_FRACTION)));

/** The grace a statement past its deadline gets to be cancelled before its node counts as unresponsive. */
const cancelGraceFor = (timeoutMs: number): number => Math.min(1_000, Math.max(100, timeoutMs));

/**
 * Statement timeouts and AbortSignal cancels of one pool, swept by one timer instead of a timer and a promise per
 * statement. A statement past its deadline gets a cancel request and a grace period: a node that is alive cancels
 * it, and it fails with SQLSTATE 57014 (a slow statement: the caller's problem); a node that answers neither is
 * unresponsive, so its connection is cut and the statement fails with `PGR_NODE_TIMEOUT` (the node's problem; the
 * breaker counts it). The deadline itself lives in each connection's {@link ClientState}. The timer runs only while
 * something is watched, at a pace set by the shortest time watched.
 */
export class StatementDeadlines {
  private sweeper: NodeJS.Timeout | undefined;
  private intervalMs = 0;

  /** `clients`: every open connection of the pool, read at each sweep. */
  constructor(private readonly clients: ReadonlySet<PoolClient>) {}

  /** How often the timer checks deadlines now, in milliseconds; `undefined` while nothing is watched. */
  get sweepIntervalMs(): number | undefined {
    return this.sweeper === undefined ? undefined : this.intervalMs;
  }

  /** Starts the clock of a statement about to run on a checked-out connection (`now`: the time it starts); {@link unwatch} stops it. */
  watch(state: ClientState, timeoutMs: number, now: number = performance.now()): void {
    state.deadlineAt = now + timeoutMs;
    state.timeoutMs = timeoutMs;
    this.start(sweepIntervalFor(timeoutMs));
  }

  /** An AbortSignal fired: the running statement gets a cancel request, and the sweeper cuts a node that ignores it. */
  cancel(client: PoolClient, state: ClientState): void {
    if (!state.active || state.cancelAt > 0) return;
    state.deadlineAt = 0;
    state.cancelAt = performance.now() + ABORT_GRACE_MS;
    this.start(sweepIntervalFor(ABORT_GRACE_MS));
    void sendCancelRequest(client, ABORT_GRACE_MS);
  }

  /** Stops the timer (the pool is closing, or nothing is watched); a later {@link watch} starts it again. */
  stop(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Runs the timer at `intervalMs` or faster. */
  private start(intervalMs: number): void {
    if (this.sweeper !== undefined && this.intervalMs <= intervalMs) return;
    this.stop();
    this.intervalMs = intervalMs;
    this.sweeper = setInterval(() => this.sweep(), intervalMs);
    this.sweeper.unref();
  }

  private sweep(): void {
    const now = performance.now();
    // The shortest time still watched after this sweep, to set the next pace (Infinity: nothing is).
    let shortest = Number.POSITIVE_INFINITY;
    for (const client of this.clients) {
      const state = stateOf(client);
      if (state.deadlineAt > 0 && now >= state.deadlineAt) {
        state.deadlineAt = 0;
        const graceMs = cancelGraceFor(state.timeoutMs);
        state.cancelAt = now + graceMs;
        void sendCancelRequest(client, graceMs);
      } else if (state.cancelAt > 0 && now >= state.cancelAt) {
        state.cancelAt = 0;
        state.timedOutMs = state.timeoutMs;
        // The statement may still be running on a frozen node: cutting the socket fails it at once here.
        destroySocket(client);
      }
      if (state.deadlineAt > 0) shortest = Math.min(shortest, state.timeoutMs);
      else if (state.cancelAt > 0)
        shortest = Math.min(shortest, state.timeoutMs > 0 ? cancelGraceFor(state.timeoutMs) : ABORT_GRACE_MS);
    }
    if (shortest === Number.POSITIVE_INFINITY) this.stop();
    else if (sweepIntervalFor(shortest) > this.intervalMs) {
      this.stop();
      this.start(sweepIntervalFor(shortest));
    }
  }
}

/** Stops watching the statement's deadline; true if a cancel request was sent for it. */
export function unwatch(state: ClientState): boolean {
  state.deadlineAt = 0;
  if (state.cancelAt === 0) return false;
  state.cancelAt = 0;
  return true;
}

/** Whether `signal` fired. A function, not `signal.aborted` inline: TypeScript would keep the narrowing of an earlier check across awaits. */
export const isAborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

/** The error of a statement whose AbortSignal fired: SQLSTATE 57014 (query_canceled), as PostgreSQL reports a cancel. */
export function abortedError(signal: AbortSignal, node: string, cause?: unknown, outcomeUnknown = false): QueryError {
  return new QueryError('57014', `statement cancelled on ${node}: its AbortSignal was aborted`, {
    cause: cause ?? signal.reason,
    context: { node, outcomeUnknown },
  });
}

/** The error of a statement whose node answered neither it within `timedOutMs` nor the cancel request after it. */
/**
 * What a statement that was sent and failed with `error` rejects with: an abort the caller asked for, a node that
 * answered neither the statement nor its cancel within `timedOutMs` (0: it did), a connection lost before the answer
 * (its outcome unknown), or the server's own error.
 */
export function statementError(
  error: unknown,
  node: string,
  signal: AbortSignal | undefined,
  timedOutMs: number,
): QueryError {
  const lost = isConnectionLevelError(error);
  if (isAborted(signal) && ((error as { code?: unknown })?.code === '57014' || lost))
    return abortedError(signal!, node, error, lost);
  if (timedOutMs > 0) return nodeTimeoutError(node, timedOutMs, error);
  return lost ? QueryError.outcomeUnknown(error, node) : QueryError.from(error, { node });
}

export function nodeTimeoutError(node: string, timedOutMs: number, cause: unknown): QueryError {
  return new QueryError('PGR_NODE_TIMEOUT', `${node} did not answer within ${timedOutMs} ms, nor to a cancel request`, {
    cause,
    context: { node, outcomeUnknown: true },
  });
}

/** `pool.connect()`, given up when `signal` aborts first (a connection that arrives later goes straight back). */
export function connectUnlessAborted(pool: pg.Pool, signal: AbortSignal, node: string): Promise<PoolClient> {
  return new Promise<PoolClient>((resolve, reject) => {
    const onAbort = (): void => reject(abortedError(signal, node));
    signal.addEventListener('abort', onAbort, { once: true });
    pool.connect().then(
      (client) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) client.release();
        else resolve(client);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Ends `pool`: closes every connection once the ones in use are returned. With `deadline` (epoch ms), the sockets of
 * connections still in use then are cut, so shutdown never waits on a statement that does not end (pg-pool's end()
 * also waits for connections held by callers: a transaction whose callback never returns, a client never released).
 */
export async function endBy(pool: pg.Pool, clients: ReadonlySet<PoolClient>, deadline?: number): Promise<void> {
  const ending = pool.end();
  if (deadline === undefined) return ending;
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<void>((resolve) => {
    timer = setTimeout(
      () => {
        for (const client of clients) if (stateOf(client).active) destroySocket(client);
        resolve();
      },
      Math.max(0, deadline - Date.now()),
    );
  });
  await Promise.race([ending, cut]);
  clearTimeout(timer);
}
