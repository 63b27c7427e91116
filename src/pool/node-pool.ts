import pg from 'pg';
import type { CustomTypesConfig, PoolClient, PoolConfig, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { AcquireTimeoutError, QueryError } from '../errors.js';
import { LatencyHistogram } from '../metrics/latency-histogram.js';
import {
  corkSocket,
  destroySocket,
  setPipelineMode,
  setPoolCeiling,
  supportsPipelining,
  supportsStatementCache,
  uncorkSocket,
} from './pg-internals.js';
import { ConnectionStatementCache, type StatementCacheCounters } from './statement-cache.js';
import { sendCancelRequest } from './cancel-request.js';
import { withoutConnectionString } from './pool-config.js';
import { LeanBatch, encodeLeanBatch, isBodylessWrite, resultOfTag, type LeanStatement } from './lean-batch.js';
import {
  ConnectionHealth,
  LatencyReference,
  isConnectionFault,
  type ConnectionHealthStats,
  type RecycleCounts,
  type RecycleReason,
} from './connection-health.js';
import { isRetryableConnectError, loginRefusal, retryConnect, type ConnectRetryPolicy } from './connect-retry.js';

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
}

/** A connection held past `leakTimeoutMs`. */
export interface ConnectionLeak {
  readonly node: string;
  readonly heldMs: number;
  /** Where it was taken, when `leakStackTraces` is on. */
  readonly stack: string | undefined;
}

/** Counters of one node, read by `stats()`. */
export interface NodePoolStats {
  readonly total: number;
  readonly idle: number;
  readonly active: number;
  readonly waiting: number;
  readonly max: number;
  /** The ceiling now: `max`, or the adaptive target when adaptive sizing is on. */
  readonly target: number;
  readonly queries: number;
  readonly errors: number;
  readonly inFlight: number;
  /** Exponentially weighted mean time per statement, acquisition included, in milliseconds. */
  readonly latencyMs: number;
  /** Statement time (acquisition included) since the pool started: median and 99th percentile, in milliseconds. */
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /** Time waited for a connection: mean and 99th percentile, in milliseconds, and how many hand-outs. */
  readonly acquireMeanMs: number;
  readonly acquireP99Ms: number;
  readonly acquisitions: number;
  /** Total time connections were held by callers, in milliseconds (Little's law: held time ÷ elapsed = busy connections). */
  readonly heldMs: number;
  /** Connections being opened now (counted in `total`, neither idle nor handed out yet). */
  readonly opening: number;
  /** Exponentially weighted mean time to open a connection for {@link NodePool.resize}, in milliseconds (`0`: none opened yet). */
  readonly connectMs: number;
  readonly statementCache: Readonly<StatementCacheCounters>;
  /** Each open connection with its health score. */
  readonly connections: readonly ConnectionHealthStats[];
  /** Connections closed since start, by reason. */
  readonly recycled: Readonly<RecycleCounts>;
  /** Connection attempts retried since start (see {@link NodePoolOptions.connectRetries}). */
  readonly connectRetries: number;
  /** Pipelined `BEGIN … COMMIT` batches sent lean: Bind/Execute per statement and one Sync (see `lean-batch.ts`). */
  readonly leanBatches: number;
  /** Connections reserved by {@link NodePool.reserve} (pre-warmed workload scopes) now. */
  readonly reserved: number;
}

/** What a caller may ask of one statement besides its text: pg's result shape, and cancellation. */
export interface StatementOptions {
  /** `'array'`: each row is an array of values in column order (pg's `rowMode`). */
  readonly rowMode?: 'array';
  /** Type parsers for this statement's result (pg's `types`). */
  readonly types?: CustomTypesConfig;
  /**
   * Aborting it sends a cancel request for the running statement (or stops waiting for a connection); the
   * statement then fails with SQLSTATE 57014. Honoured by {@link NodePool.execute} only.
   */
  readonly signal?: AbortSignal;
  /** A small statement to run next to this one on the same connection, in the same round trip. */
  readonly probe?: StatementProbe;
  /** It leaves session state on its connection: the connection is closed after it rather than handed to anyone else. */
  readonly leavesSession?: boolean;
}

/**
 * A one-value statement pipelined with another on the same connection, so what it reports is tied to that
 * statement: before it (e.g. a replica's replayed WAL position, which the statement then sees at least) or after
 * it (e.g. the primary's WAL position once the statement committed). Costs no extra round trip.
 */
export interface StatementProbe {
  readonly sql: string;
  readonly before: boolean;
  /** Set to the first column of the probe's first row; `undefined` when the probe failed or could not run. */
  value: unknown;
}

/** A connection taken from a {@link NodePool}, for a transaction. Release it exactly once. */
export interface NodeConnection {
  /** Runs one statement on this connection (prepared under `statementName` when given and cached). */
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: readonly unknown[],
    statementName?: string,
    options?: StatementOptions,
  ): Promise<QueryResult<R>>;
  /** PostgreSQL's transaction status after the last statement: idle, in a transaction, or in a failed one. */
  readonly transactionStatus: 'I' | 'T' | 'E' | undefined;
  /** Hands the connection's LISTEN notifications or server notices to `listener` until the returned function is called. */
  subscribe(event: 'notification' | 'notice', listener: (message: unknown) => void): () => void;
  /** Returns the connection; with `destroy`, closes it instead (after a connection-level failure). */
  release(destroy?: boolean): void;
}

/** One statement of a pipelined batch. */
export interface BatchStatement {
  readonly text: string;
  readonly values: readonly unknown[] | undefined;
  /** Prepared-statement name from the statement cache, or `undefined` to run unnamed. */
  readonly statementName: string | undefined;
  /** It leaves session state on its connection (see {@link StatementOptions.leavesSession}). */
  readonly leavesSession?: boolean;
}

/** How one statement of a batch ended. */
export type BatchOutcome =
  { readonly ok: true; readonly result: QueryResult } | { readonly ok: false; readonly error: Error };

const LATENCY_WEIGHT = 0.2;
// How often statement deadlines are checked: a timeout fires up to this much late.
const SWEEP_INTERVAL_MS = 25;
// How long a node has to confirm an aborted statement's cancel before the connection is cut.
const ABORT_GRACE_MS = 1_000;
/** Passed to `release` to close a connection that must not run another statement. */
const RETIRED = new Error('connection retired after a cancel request');

/** What PostgreSQL answers for each statement after a failed one in a transaction. */
function abortedInTransaction(): Error {
  return Object.assign(new Error('current transaction is aborted, commands ignored until end of transaction block'), {
    code: '25P02',
    severity: 'ERROR',
  });
}

/** True for errors after which the connection cannot be trusted: anything but an ordinary server-side error. */
export function isConnectionLevelError(error: unknown): boolean {
  const candidate = error as { severity?: unknown; code?: unknown };
  if (typeof candidate?.severity !== 'string') return true;
  const code = typeof candidate.code === 'string' ? candidate.code : '';
  return (
    code.startsWith('08') || code.startsWith('57P') || candidate.severity === 'FATAL' || candidate.severity === 'PANIC'
  );
}

function isStalePlan(error: unknown): boolean {
  const candidate = error as { code?: unknown; message?: unknown };
  return (
    candidate?.code === '0A000' &&
    typeof candidate.message === 'string' &&
    candidate.message.includes('cached plan must not change result type')
  );
}

// A function, not `signal.aborted` inline: TypeScript would keep the narrowing of an earlier check across awaits.
const isAborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

/** The error of a statement whose AbortSignal fired: SQLSTATE 57014 (query_canceled), as PostgreSQL reports a cancel. */
function abortedError(signal: AbortSignal, node: string, cause?: unknown, outcomeUnknown = false): QueryError {
  return new QueryError('57014', `statement cancelled on ${node}: its AbortSignal was aborted`, {
    cause: cause ?? signal.reason,
    context: { node, outcomeUnknown },
  });
}

/**
 * Whether a statement whose connection was lost after it was sent may have taken effect. Inside a transaction the
 * loss rolls the transaction back, so only the statement that ends it (COMMIT, END, PREPARE TRANSACTION) may have
 * landed; outside one, any statement but BEGIN may have. In a failed transaction nothing can.
 */
function mayHaveTakenEffect(text: string, status: string | undefined): boolean {
  if (status === 'E') return false;
  if (status === 'T') return ENDS_TRANSACTION.test(text);
  return !BEGINS_TRANSACTION.test(text);
}
const ENDS_TRANSACTION = /^\s*(?:commit|end|prepare\s+transaction)\b/i;
const BEGINS_TRANSACTION = /^\s*(?:begin|start\s+transaction)\b/i;

function isAcquireTimeout(error: unknown): boolean {
  const message = error instanceof Error ? error.message : '';
  return message === 'timeout exceeded when trying to connect' || message.includes('due to connection timeout');
}

/**
 * What the pool keeps on each of its connections, on the connection object itself: the hot path reads it with one
 * property access instead of looking the connection up in maps.
 */
interface ClientState {
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

/**
 * How a statement that ends at check-in counts towards the connection's health score: none ended there (a
 * transaction's or a batch's statements are counted as they end), it ended well (or with the caller's own error),
 * or it failed through the connection's fault (see `isConnectionFault`).
 */
type CheckinStatement = typeof NO_STATEMENT | typeof STATEMENT_OK | typeof STATEMENT_FAULT;
const NO_STATEMENT = 0;
const STATEMENT_OK = 1;
const STATEMENT_FAULT = 2;
/** Passed to `release` to close a connection whose health score fell below the threshold. */
const UNHEALTHY = new Error('connection recycled: health score below pool.healthThreshold');
/** Passed to `checkin` to close a connection that a statement left session state on. */
const SESSION_LEFT = new Error('connection closed: a statement left session state on it');

/**
 * Whether a pooled statement left its connection unfit for the next caller: it said it leaves session state, or
 * the connection is inside a transaction (a BEGIN, or a string that opens one, sent as one statement).
 */
function leftSessionState(client: PoolClient, declared: boolean | undefined): boolean {
  if (declared === true) return true;
  const status = client.getTransactionStatus();
  return status === 'T' || status === 'E';
}

const STATE: unique symbol = Symbol('pg-query-router.connection-state');
type StatefulClient = PoolClient & { [STATE]: ClientState };
const stateOf = (client: PoolClient): ClientState => (client as StatefulClient)[STATE];

/** Stops watching the statement's deadline; true if a cancel request was sent for it. */
function unwatch(state: ClientState): boolean {
  state.deadlineAt = 0;
  if (state.cancelAt === 0) return false;
  state.cancelAt = 0;
  return true;
}

/**
 * One node's connection pool: a `pg.Pool` plus a bounded prepared-statement cache per connection, typed
 * acquisition timeouts and the counters the balancer and `stats()` read. Knows nothing of routing.
 */
export class NodePool {
  readonly name: string;
  private readonly pool: pg.Pool;
  private readonly counters: StatementCacheCounters = { hits: 0, misses: 0, evictions: 0 };
  private readonly statementCacheMax: number;
  private readonly max: number;
  private readonly min: number;
  private readonly statementTimeoutMs: number;
  private readonly options: NodePoolOptions;
  /** Every open connection, so the sweeper can find expired statements and a late shutdown can cut the busy ones. */
  private readonly clients = new Set<PoolClient>();
  private sweeper: NodeJS.Timeout | undefined;
  private queries = 0;
  private errors = 0;
  /** Statements running or waiting for a connection right now. */
  inFlight = 0;
  /** Exponentially weighted mean latency, in milliseconds (see {@link NodePoolStats.latencyMs}). */
  latencyMs = 0;
  private readonly latency = new LatencyHistogram();
  private readonly acquireWait = new LatencyHistogram();
  private heldMs = 0;
  /** The most connections opened now: `max`, or a smaller adaptive target. */
  private ceiling: number;
  /** Connections handed out now (the rest of the open ones are idle or still being opened). */
  private checkedOut = 0;
  /** The node's median statement time, against which each connection's latency is scored. */
  private readonly reference = new LatencyReference();
  private readonly healthThreshold: number;
  /** pg-pool's maximum connection lifetime in milliseconds (`0`: none): its lifetime closes are told apart by age. */
  private readonly lifetimeMs: number;
  private readonly recycled: RecycleCounts = { lifetime: 0, idle: 0, health: 0, error: 0, shrink: 0, session: 0 };
  private readonly retryPolicy: ConnectRetryPolicy;
  /** How long a caller may wait for a connection, in milliseconds (`0`: forever): connect retries stop at it. */
  private readonly acquireTimeoutMs: number;
  private connectRetries = 0;
  private leanBatches = 0;
  /** The target last asked of {@link resize}, and whether to keep it warm: re-applied when reservations change. */
  private requested: number;
  private keptWarm = false;
  private reserved = 0;
  /** See {@link NodePoolStats.connectMs}. */
  private connectMs = 0;

  constructor(options: NodePoolOptions) {
    this.name = options.name;
    this.statementCacheMax = options.statementCacheMax;
    this.statementTimeoutMs = options.statementTimeoutMs;
    this.options = options;
    const connection = options.connection;
    this.max = connection.max ?? options.max;
    this.min = connection.min ?? options.min;
    this.ceiling = this.max;
    this.requested = this.max;
    this.healthThreshold = options.healthThreshold ?? 0;
    this.lifetimeMs = (connection.maxLifetimeSeconds ?? Math.ceil(options.maxLifetimeMs / 1000)) * 1000;
    this.retryPolicy = { retries: options.connectRetries ?? 0, delayMs: options.connectRetryDelayMs ?? 100 };
    this.acquireTimeoutMs = connection.connectionTimeoutMillis ?? options.acquireTimeoutMs;
    this.pool = new pg.Pool({
      application_name: options.applicationName,
      ...withoutConnectionString(connection),
      max: this.max,
      min: this.min,
      idleTimeoutMillis: connection.idleTimeoutMillis ?? options.idleTimeoutMs,
      maxLifetimeSeconds: connection.maxLifetimeSeconds ?? Math.ceil(options.maxLifetimeMs / 1000),
      connectionTimeoutMillis: connection.connectionTimeoutMillis ?? options.acquireTimeoutMs,
    });
    this.pool.on('connect', (client) => {
      // A checked-out client whose connection dies emits 'error' besides failing its query; pg-pool listens
      // only while the client is idle, and an unheard 'error' would crash the process.
      client.on('error', () => undefined);
      const cache =
        this.statementCacheMax > 0 && supportsStatementCache(client)
          ? new ConnectionStatementCache(client, this.statementCacheMax, this.counters)
          : undefined;
      const onConnect = options.onConnect;
      const ready = onConnect === undefined ? undefined : Promise.resolve().then(() => onConnect(client));
      ready?.catch(() => undefined); // awaited (and reported) at the connection's first hand-out
      const health = new ConnectionHealth(performance.now());
      (client as StatefulClient)[STATE] = {
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
      this.clients.add(client);
    });
    this.pool.on('remove', (client) => {
      this.clients.delete(client);
      const state = (client as Partial<StatefulClient>)[STATE];
      if (state !== undefined && state.recycle === undefined && !this.pool.ending)
        this.recycled[this.expiredOrIdle(state)]++;
    });
    this.pool.on('error', (error, client) => {
      const state = (client as Partial<StatefulClient> | undefined)?.[STATE];
      if (state !== undefined) this.recycle(state, 'error');
      options.onIdleError?.(error);
    });
  }

  /** Counts a connection the pool is about to close, and why; pg-pool's own lifetime and idle closes are counted as they happen. */
  private recycle(state: ClientState, reason: RecycleReason): void {
    if (state.recycle !== undefined) return;
    state.recycle = reason;
    this.recycled[reason]++;
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

  /** Opens connections until `count` (default `min`, at most the ceiling) are open, so the first queries do not pay for connecting. */
  async warm(count: number = this.min): Promise<void> {
    const missing = Math.min(count, this.ceiling) - this.pool.totalCount;
    if (missing <= 0) return;
    const clients = await Promise.allSettled(Array.from({ length: missing }, () => this.connect()));
    for (const outcome of clients) if (outcome.status === 'fulfilled') outcome.value.release();
    const failure = clients.find((outcome) => outcome.status === 'rejected');
    if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
  }

  /**
   * Runs one statement on a pooled connection and returns pg's result. Parameterised statements with a
   * `statementName` run as named prepared statements from the connection's cache.
   */
  async execute<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values: readonly unknown[] | undefined,
    statementName: string | undefined,
    timeoutMs: number = this.statementTimeoutMs,
    options?: StatementOptions,
  ): Promise<QueryResult<R>> {
    const signal = options?.signal;
    if (isAborted(signal)) throw abortedError(signal!, this.name);
    this.inFlight++;
    const started = performance.now();
    let client: PoolClient;
    try {
      this.signalPressure();
      try {
        // pool.connect() directly, not through checkout(): one promise hop fewer on the hot path.
        client = await (signal === undefined ? this.pool.connect() : this.connectUnlessAborted(signal));
      } catch (error) {
        client = await this.reconnect(error, started, signal);
      }
      if (stateOf(client).ready !== undefined) await this.whenReady(client);
      if (this.options.prePing) client = await this.pinged(client);
    } catch (error) {
      this.inFlight--;
      this.ended(performance.now() - started, false);
      throw this.acquireError(error, started);
    }
    const state = this.handedOut(client, started);
    if (timeoutMs > 0) this.watch(state, timeoutMs);
    const watched = timeoutMs > 0 || signal !== undefined;
    const onAbort = signal === undefined ? undefined : () => this.cancelRunning(client, state);
    if (onAbort !== undefined) signal!.addEventListener('abort', onAbort, { once: true });
    let ok = false;
    try {
      const result = await this.run<R>(client, text, values, statementName, true, options);
      // A cancel request still on its way would hit whatever this connection runs next: retire it.
      this.checkin(
        client,
        watched && unwatch(state)
          ? RETIRED
          : leftSessionState(client, options?.leavesSession)
            ? SESSION_LEFT
            : undefined,
        STATEMENT_OK,
      );
      ok = true;
      return result;
    } catch (error) {
      const code = (error as { code?: unknown })?.code;
      const cancelPending = watched && unwatch(state) && code !== '57014';
      const retire = isConnectionLevelError(error)
        ? (error as Error)
        : cancelPending
          ? RETIRED
          : leftSessionState(client, options?.leavesSession)
            ? SESSION_LEFT
            : undefined;
      this.checkin(client, retire, isConnectionFault(error) ? STATEMENT_FAULT : STATEMENT_OK);
      const timedOut = state.timedOutMs;
      state.timedOutMs = 0;
      // The statement was sent: a connection lost (or a node gone silent) before its answer leaves its outcome unknown.
      const lost = isConnectionLevelError(error);
      if (isAborted(signal) && (code === '57014' || lost)) throw abortedError(signal!, this.name, error, lost);
      if (timedOut > 0) {
        throw new QueryError(
          'PGR_NODE_TIMEOUT',
          `${this.name} did not answer within ${timedOut} ms, nor to a cancel request`,
          {
            cause: error,
            context: { node: this.name, outcomeUnknown: true },
          },
        );
      }
      throw lost ? QueryError.outcomeUnknown(error, this.name) : QueryError.from(error, { node: this.name });
    } finally {
      if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
      this.inFlight--;
      const elapsed = performance.now() - started;
      this.latencyMs += (elapsed - this.latencyMs) * LATENCY_WEIGHT;
      this.ended(elapsed, ok);
    }
  }

  /**
   * Counts one statement that ended after `ms` (waiting for a connection included): the one place `queries`,
   * `errors` and the latency histogram are updated, so they always agree (and the metrics read them as they are).
   */
  private ended(ms: number, ok: boolean): void {
    this.queries++;
    if (!ok) this.errors++;
    this.latency.observe(ms);
  }

  /** Waits for the `onConnect` hook of a new connection; if it failed, the connection is discarded and the error thrown. */
  private async whenReady(client: PoolClient): Promise<void> {
    const state = stateOf(client);
    try {
      await state.ready;
      state.ready = undefined;
    } catch (error) {
      this.recycle(state, 'error');
      client.release(error as Error);
      throw error;
    }
  }

  /**
   * Opens a connection, or takes an idle one, retrying a connection-level failure as `connectRetries` says. Not
   * used by {@link execute}, which calls `pool.connect()` itself and {@link reconnect} only after a failure.
   */
  private async connect(): Promise<PoolClient> {
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
  private async reconnect(error: unknown, started: number, signal?: AbortSignal): Promise<PoolClient> {
    if (this.retryPolicy.retries === 0 || !isRetryableConnectError(error)) throw error;
    return retryConnect(
      () => (signal === undefined ? this.pool.connect() : this.connectUnlessAborted(signal)),
      error,
      this.retryPolicy,
      {
        deadline: this.acquireTimeoutMs > 0 ? started + this.acquireTimeoutMs : undefined,
        onRetry: (retry, delayMs, cause) => {
          this.connectRetries++;
          this.options.onConnectRetry?.(retry, delayMs, cause);
        },
      },
    );
  }

  /** `pool.connect()`, given up when `signal` aborts first (a connection that arrives later goes straight back). */
  private connectUnlessAborted(signal: AbortSignal): Promise<PoolClient> {
    return new Promise<PoolClient>((resolve, reject) => {
      const onAbort = (): void => reject(abortedError(signal, this.name));
      signal.addEventListener('abort', onAbort, { once: true });
      this.pool.connect().then(
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

  /** An AbortSignal fired: the running statement gets a cancel request, and the sweeper cuts a node that ignores it. */
  private cancelRunning(client: PoolClient, state: ClientState): void {
    if (!state.active || state.cancelAt > 0) return;
    state.deadlineAt = 0;
    state.cancelAt = performance.now() + ABORT_GRACE_MS;
    this.startSweeper();
    void sendCancelRequest(client, ABORT_GRACE_MS);
  }

  /** Marks a connection as handed out and counts the wait for it. */
  private handedOut(client: PoolClient, started: number): ClientState {
    const state = stateOf(client);
    const now = performance.now();
    state.active = true;
    state.acquiredAt = now;
    this.checkedOut++;
    this.acquireWait.observe(now - started);
    this.options.observer?.checkout?.(now - started);
    return state;
  }

  /** Tells `onPressure` when this caller is about to wait: no idle connection, and the pool at its ceiling. */
  private signalPressure(): void {
    if (this.options.onPressure === undefined || this.pool.idleCount > 0 || this.pool.totalCount < this.ceiling) return;
    const busy = this.checkedOut;
    this.options.onPressure?.(
      this.pool.waitingCount + 1,
      busy,
      Math.max(0, this.pool.totalCount - this.pool.idleCount - busy),
    );
  }

  /**
   * Sets the most connections the pool opens (clamped to [max(min, 1), max]). Raising it opens connections for
   * the callers already waiting (with `keepWarm`: up to the new ceiling) in the background; lowering it closes
   * idle connections above the new ceiling (busy ones close as they are returned, by the idle timeout). With
   * `keepWarm`, connections up to the ceiling are also kept open when idle (the idle timeout then closes only
   * those above it), so a pool sized for recurring bursts stays ready. Connections {@link reserve}d for a
   * pre-warmed scope are kept on top: the ceiling is never below them.
   */
  resize(target: number, keepWarm = false): void {
    this.requested = target;
    this.keptWarm = keepWarm;
    const ceiling = Math.min(this.max, Math.max(1, this.min, Math.floor(target), this.reserved));
    if (!setPoolCeiling(this.pool, ceiling, keepWarm ? ceiling : this.min)) return;
    this.ceiling = ceiling;
    // A new connection joins the idle ones and goes to the first caller in line, so a waiter takes whichever comes
    // first: a busy connection back in a few ms or the new one. pg-pool left to itself would tie each waiter to a
    // connection of its own and make it wait the whole connect (~30 ms of CPU under load here).
    let opening = Math.min(
      keepWarm ? Number.POSITIVE_INFINITY : this.pool.waitingCount,
      ceiling - this.pool.totalCount,
    );
    while (opening-- > 0) {
      const started = performance.now();
      this.connect().then(
        (client) => {
          const tookMs = performance.now() - started;
          this.connectMs = this.connectMs === 0 ? tookMs : this.connectMs + (tookMs - this.connectMs) * LATENCY_WEIGHT;
          client.release();
        },
        (error: Error) => this.options.onIdleError?.(error),
      );
    }
    let surplus = Math.min(this.pool.totalCount - ceiling, this.pool.idleCount - this.pool.waitingCount);
    while (surplus-- > 0) {
      // Taking an idle connection and discarding it is the public way to close one.
      this.pool.connect().then(
        (client) => {
          this.recycle(stateOf(client), 'shrink');
          client.release(true);
        },
        () => undefined,
      );
    }
  }

  /** Takes a client from the pool, pinging it first with `prePing` (a dead one is discarded and replaced once). */
  private async checkout(): Promise<PoolClient> {
    const started = performance.now();
    this.signalPressure();
    let client = await this.connect();
    if (stateOf(client).ready !== undefined) await this.whenReady(client);
    if (this.options.prePing) client = await this.pinged(client);
    this.handedOut(client, started);
    return client;
  }

  /** `client` if it answers an empty statement; otherwise it is discarded and a fresh one taken. */
  private async pinged(client: PoolClient): Promise<PoolClient> {
    try {
      await client.query(';');
      return client;
    } catch (error) {
      this.recycle(stateOf(client), 'error');
      client.release(error as Error);
      return this.pool.connect();
    }
  }

  /**
   * Keeps at least `count` more connections allowed (the ceiling is never below the reservations) and opens them
   * now; with adaptive sizing they are also kept open while idle. For a workload scope about to start: release
   * them with {@link unreserve} when it ends, and the pool returns to its target.
   */
  async reserve(count: number): Promise<void> {
    this.reserved += Math.max(0, Math.floor(count));
    this.resize(this.requested, this.keptWarm);
    // Holding that many at once is what proves they are open: counting the pool's clients would include ones
    // still connecting.
    const clients = await Promise.allSettled(
      Array.from({ length: Math.min(this.reserved, this.ceiling) }, () => this.connect()),
    );
    for (const outcome of clients) if (outcome.status === 'fulfilled') outcome.value.release();
    const failure = clients.find((outcome) => outcome.status === 'rejected');
    if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
  }

  /** Gives back what {@link reserve} took: the pool returns to the target adaptive sizing set (idle surplus closes at once). */
  unreserve(count: number): void {
    this.reserved = Math.max(0, this.reserved - Math.max(0, Math.floor(count)));
    this.resize(this.requested, this.keptWarm);
  }

  /**
   * Returns a connection to the pool. A statement that ended here counts towards its health score (O(1), no
   * allocation); a connection whose score is then below `healthThreshold` is closed instead of kept.
   */
  private checkin(client: PoolClient, error?: Error, statement: CheckinStatement = NO_STATEMENT): void {
    const state = stateOf(client);
    state.active = false;
    this.checkedOut--;
    const now = performance.now();
    const held = now - state.acquiredAt;
    this.heldMs += held;
    this.options.observer?.checkin?.(held);
    if (statement !== NO_STATEMENT) this.scoreStatement(state, held, statement === STATEMENT_FAULT, now);
    if (error !== undefined) {
      this.recycle(state, error === SESSION_LEFT ? 'session' : 'error');
    } else if (this.healthThreshold > 0 && state.health.score(now, this.lifetimeMs) < this.healthThreshold) {
      this.recycle(state, 'health');
      error = UNHEALTHY;
    }
    client.release(error);
  }

  /** Counts one statement of `ms` on a connection towards its health score and its node's median. */
  private scoreStatement(state: ClientState, ms: number, fault: boolean, now: number): void {
    state.health.record(ms, fault, this.reference.medianMs, now);
    if (ms >= 0) this.reference.observe(ms);
  }

  /**
   * Takes a connection for several statements (a transaction). `holder` is the stack to report if the
   * connection leaks; capture it before the caller's first `await`, or it will not name the caller.
   */
  async acquire(holder?: string): Promise<NodeConnection> {
    const started = performance.now();
    let client: PoolClient;
    try {
      client = await this.checkout();
    } catch (error) {
      // The transaction's BEGIN never ran: it counts as a failed statement.
      this.ended(performance.now() - started, false);
      throw this.acquireError(error, started);
    }
    let released = false;
    let leakTimer: NodeJS.Timeout | undefined;
    if (this.options.leakTimeoutMs > 0 && this.options.onLeak !== undefined) {
      const stack =
        holder ?? (this.options.leakStackTraces ? new Error('connection checked out here').stack : undefined);
      const onLeak = this.options.onLeak;
      leakTimer = setTimeout(
        () => onLeak({ node: this.name, heldMs: Math.round(performance.now() - started), stack }),
        this.options.leakTimeoutMs,
      );
      leakTimer.unref();
    }
    return {
      query: async <R extends QueryResultRow = QueryResultRow>(
        text: string,
        values?: readonly unknown[],
        statementName?: string,
        options?: StatementOptions,
      ) => {
        this.inFlight++;
        const began = performance.now();
        const status = client.getTransactionStatus() ?? undefined;
        let ok = false;
        let fault = false;
        try {
          const result = await this.run<R>(client, text, values, statementName, false, options);
          ok = true;
          return result;
        } catch (error) {
          fault = isConnectionFault(error, true);
          if (isConnectionLevelError(error) && mayHaveTakenEffect(text, status))
            throw QueryError.outcomeUnknown(error, this.name);
          throw QueryError.from(error, { node: this.name });
        } finally {
          this.inFlight--;
          const now = performance.now();
          this.scoreStatement(stateOf(client), now - began, fault, now);
          this.ended(now - began, ok);
        }
      },
      get transactionStatus() {
        const status = client.getTransactionStatus();
        return status === 'I' || status === 'T' || status === 'E' ? status : undefined;
      },
      subscribe: (event, listener) => {
        client.on(event, listener);
        return () => void client.off(event, listener);
      },
      release: (destroy = false) => {
        if (released) return;
        released = true;
        clearTimeout(leakTimer);
        this.checkin(client, destroy ? new Error('released after a connection-level error') : undefined);
      },
    };
  }

  /**
   * Runs statements on ONE connection in one round trip: every statement is written before any reply is read
   * (pg's pipeline mode, with the socket corked so the batch leaves in one write). Each statement has its own
   * Sync, so each succeeds or fails on its own unless the caller wrapped them in BEGIN/COMMIT. Never rejects:
   * each statement's outcome is returned in order; a connection lost mid-batch fails every statement not yet
   * answered, and the connection is discarded.
   */
  async runPipelined(statements: readonly BatchStatement[]): Promise<BatchOutcome[]> {
    this.inFlight += statements.length;
    const started = performance.now();
    let client: PoolClient;
    try {
      client = await this.checkout();
    } catch (error) {
      this.inFlight -= statements.length;
      const waited = performance.now() - started;
      for (let i = 0; i < statements.length; i++) this.ended(waited, false);
      const failure = this.acquireError(error, started);
      return statements.map(() => ({ ok: false, error: failure }));
    }
    // The batch has the statement deadline: on a node that stops answering, a cancel, then the connection is cut
    // and every statement not answered fails (outcome unknown), instead of the batch waiting forever.
    const watchedState = stateOf(client);
    if (this.statementTimeoutMs > 0) this.watch(watchedState, this.statementTimeoutMs);
    const pipelined = supportsPipelining(client);
    const lean = this.leanBody(client, statements);
    let settled: PromiseSettledResult<QueryResult>[];
    if (lean !== undefined) settled = await this.runLean(client, lean);
    else if (pipelined) {
      setPipelineMode(client, true);
      corkSocket(client);
      const sent: Promise<QueryResult>[] = [];
      try {
        for (const statement of statements)
          sent.push(this.send(client, statement.text, statement.values, statement.statementName));
      } finally {
        uncorkSocket(client);
      }
      settled = await Promise.allSettled(sent);
      setPipelineMode(client, false);
      stateOf(client).cache?.settle();
    } else {
      settled = [];
      for (const statement of statements) {
        settled.push(
          await this.send(client, statement.text, statement.values, statement.statementName).then(
            (value) => ({ status: 'fulfilled' as const, value }),
            (reason: unknown) => ({ status: 'rejected' as const, reason }),
          ),
        );
      }
    }
    // A cancel request still on its way would hit whatever this connection runs next: it is retired then.
    let broken = this.statementTimeoutMs > 0 && unwatch(watchedState);
    watchedState.timedOutMs = 0;
    // A batch's statements share one round trip, so their times say nothing of the connection: only their outcomes count.
    const state = watchedState;
    const answered = performance.now();
    const outcomes = settled.map((outcome): BatchOutcome => {
      const fault = outcome.status === 'rejected' && isConnectionFault(outcome.reason, true);
      this.scoreStatement(state, -1, fault, answered);
      if (outcome.status === 'fulfilled') return { ok: true, result: outcome.value };
      if (!isConnectionLevelError(outcome.reason))
        return { ok: false, error: QueryError.from(outcome.reason, { node: this.name }) };
      // Every statement of the batch was written before any answer was read: one not answered may have run.
      broken = true;
      return { ok: false, error: QueryError.outcomeUnknown(outcome.reason, this.name) };
    });
    const leftSession =
      !broken && (statements.some((statement) => statement.leavesSession === true) || leftSessionState(client, false));
    this.checkin(
      client,
      broken
        ? new Error('connection failed or was cancelled during a pipelined batch')
        : leftSession
          ? SESSION_LEFT
          : undefined,
    );
    this.inFlight -= statements.length;
    const perStatement = (performance.now() - started) / Math.max(1, statements.length);
    this.latencyMs += (perStatement - this.latencyMs) * LATENCY_WEIGHT;
    for (const outcome of outcomes) this.ended(perStatement, outcome.ok);
    return outcomes;
  }

  /**
   * The body of `BEGIN, …, COMMIT` when it can go as a {@link LeanBatch}: every statement a write that returns no
   * rows, prepared already on this connection under its cached name. Otherwise `undefined` (the statements then
   * go through pg one by one, which also prepares them for the next batch).
   */
  private leanBody(client: PoolClient, statements: readonly BatchStatement[]): BatchStatement[] | undefined {
    const cache = stateOf(client).cache;
    if (
      cache === undefined ||
      statements.length < 3 ||
      statements[0]!.text !== 'BEGIN' ||
      statements[statements.length - 1]!.text !== 'COMMIT'
    )
      return undefined;
    const body = statements.slice(1, -1);
    for (const { text, values, statementName } of body) {
      if (
        statementName === undefined ||
        values === undefined ||
        values.length === 0 ||
        !isBodylessWrite(text) ||
        !cache.isReady(statementName, text)
      )
        return undefined;
    }
    for (const { text, statementName } of body) cache.use(statementName!, text);
    return body;
  }

  /**
   * Sends a `BEGIN, body…, COMMIT` batch as one {@link LeanBatch} and reports it as the pipelined path would: BEGIN
   * and each completed statement fulfilled; the failing statement's error, the statements after it aborted
   * (25P02) and COMMIT answered `ROLLBACK`; a failure after the last statement is the commit's; a lost connection
   * fails everything not yet answered.
   */
  private async runLean(
    client: PoolClient,
    body: readonly BatchStatement[],
  ): Promise<PromiseSettledResult<QueryResult>[]> {
    this.leanBatches++;
    const batch = new LeanBatch(encodeLeanBatch(body as readonly LeanStatement[]));
    void client.query(batch as unknown as QueryConfig);
    const { completed, error } = await batch.done;
    const fulfilled = (value: QueryResult): PromiseSettledResult<QueryResult> => ({ status: 'fulfilled', value });
    const rejected = (reason: unknown): PromiseSettledResult<QueryResult> => ({ status: 'rejected', reason });
    const settled = [fulfilled(resultOfTag('BEGIN')), ...completed.map((tag) => fulfilled(resultOfTag(tag)))];
    if (error === undefined) return [...settled, fulfilled(resultOfTag('COMMIT'))];
    if (isConnectionLevelError(error))
      return [...settled, ...Array.from({ length: body.length + 1 - completed.length }, () => rejected(error))];
    if (completed.length === body.length) return [...settled, rejected(error)];
    settled.push(rejected(error));
    for (let i = completed.length + 1; i < body.length; i++) settled.push(rejected(abortedInTransaction()));
    return [...settled, fulfilled(resultOfTag('ROLLBACK'))];
  }

  /** Sends one statement, as a named prepared statement from this connection's cache when it has parameters. */
  private send<R extends QueryResultRow>(
    client: PoolClient,
    text: string,
    values: readonly unknown[] | undefined,
    statementName: string | undefined,
    options?: StatementOptions,
  ): Promise<QueryResult<R>> {
    const params = values as unknown[] | undefined;
    let name: string | undefined;
    if (statementName !== undefined && params !== undefined && params.length > 0) {
      const cache = stateOf(client).cache;
      if (cache !== undefined && cache.use(statementName, text) !== 'unnamed') name = statementName;
    }
    if (options !== undefined && (options.rowMode !== undefined || options.types !== undefined)) {
      return client.query<R>({
        name,
        text,
        values: params,
        rowMode: options.rowMode,
        types: options.types,
      } as QueryConfig);
    }
    if (name === undefined) return client.query<R>(text, params);
    return client.query<R>({ name, text, values: params });
  }

  private async run<R extends QueryResultRow>(
    client: PoolClient,
    text: string,
    values: readonly unknown[] | undefined,
    statementName: string | undefined,
    retryable: boolean,
    options?: StatementOptions,
  ): Promise<QueryResult<R>> {
    if (options?.probe !== undefined)
      return this.runProbed<R>(client, text, values, statementName, options, options.probe);
    const cache = stateOf(client).cache;
    try {
      const result = await this.send<R>(client, text, values, statementName, options);
      cache?.settle();
      return result;
    } catch (error) {
      cache?.settle();
      if (!retryable) throw error;
      return this.prepareAgain<R>(error, client, text, values, statementName, options);
    }
  }

  /**
   * After DDL changes a table's shape, PostgreSQL refuses to reuse a statement's old plan. Outside a transaction
   * nothing ran, so the statement is prepared again and retried once, as postgres.js does; any other error is thrown.
   */
  private prepareAgain<R extends QueryResultRow>(
    error: unknown,
    client: PoolClient,
    text: string,
    values: readonly unknown[] | undefined,
    statementName: string | undefined,
    options: StatementOptions | undefined,
  ): Promise<QueryResult<R>> {
    const cache = stateOf(client).cache;
    if (statementName === undefined || cache === undefined || !isStalePlan(error)) throw error;
    cache.forget(statementName);
    return this.send<R>(client, text, values, statementName, options);
  }

  /** {@link run} with a {@link StatementProbe}: both leave in one write when pg can pipeline, else one after the other. */
  private async runProbed<R extends QueryResultRow>(
    client: PoolClient,
    text: string,
    values: readonly unknown[] | undefined,
    statementName: string | undefined,
    options: StatementOptions,
    probe: StatementProbe,
  ): Promise<QueryResult<R>> {
    const plain = { ...options, probe: undefined };
    probe.value = undefined;
    const readProbe = (result: QueryResult): void => {
      const row = result.rows[0] as Record<string, unknown> | undefined;
      probe.value = row === undefined ? undefined : Object.values(row)[0];
    };
    if (!supportsPipelining(client)) {
      if (probe.before) readProbe(await client.query(probe.sql));
      const result = await this.run<R>(client, text, values, statementName, true, plain);
      if (!probe.before) readProbe(await client.query(probe.sql));
      return result;
    }
    setPipelineMode(client, true);
    corkSocket(client);
    let first: Promise<QueryResult>;
    let second: Promise<QueryResult>;
    try {
      first = probe.before ? client.query(probe.sql) : this.send(client, text, values, statementName, plain);
      second = probe.before ? this.send(client, text, values, statementName, plain) : client.query(probe.sql);
    } finally {
      uncorkSocket(client);
    }
    const [a, b] = await Promise.allSettled([first, second]);
    setPipelineMode(client, false);
    const cache = stateOf(client).cache;
    cache?.settle();
    const [probed, main] = probe.before ? [a, b] : [b, a];
    if (probed.status === 'fulfilled') readProbe(probed.value);
    if (main.status === 'fulfilled') return main.value as QueryResult<R>;
    // A probe taken after a statement that failed says nothing about it, nor about a run of it again.
    if (!probe.before) probe.value = undefined;
    return this.prepareAgain<R>(main.reason, client, text, values, statementName, plain);
  }

  /**
   * Statement timeouts, swept by one timer per pool instead of a timer and a promise per statement. A statement
   * past its deadline gets a cancel request and a grace period: a node that is alive cancels it, and it fails with
   * SQLSTATE 57014 (a slow statement: the caller's problem); a node that answers neither is unresponsive, so its
   * connection is cut and the statement fails with `PGR_NODE_TIMEOUT` (the node's problem; the breaker counts it).
   */
  private sweep(): void {
    const now = performance.now();
    for (const client of this.clients) {
      const state = stateOf(client);
      if (state.deadlineAt > 0 && now >= state.deadlineAt) {
        state.deadlineAt = 0;
        const graceMs = Math.min(1_000, Math.max(100, state.timeoutMs));
        state.cancelAt = now + graceMs;
        void sendCancelRequest(client, graceMs);
      } else if (state.cancelAt > 0 && now >= state.cancelAt) {
        state.cancelAt = 0;
        state.timedOutMs = state.timeoutMs;
        // The statement may still be running on a frozen node: cutting the socket fails it at once here.
        destroySocket(client);
      }
    }
  }

  private watch(state: ClientState, timeoutMs: number): void {
    state.deadlineAt = performance.now() + timeoutMs;
    state.timeoutMs = timeoutMs;
    this.startSweeper();
  }

  private startSweeper(): void {
    if (this.sweeper === undefined) {
      this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
      this.sweeper.unref();
    }
  }

  private acquireError(error: unknown, started: number): Error {
    if (isAcquireTimeout(error)) {
      const pool = {
        total: this.pool.totalCount,
        max: this.max,
        idle: this.pool.idleCount,
        waiting: this.pool.waitingCount,
      };
      return new AcquireTimeoutError(this.name, Math.round(performance.now() - started), { cause: error, pool });
    }
    return loginRefusal(error, this.name) ?? QueryError.from(error, { node: this.name });
  }

  /** Time per statement (waiting for a connection included) and time waited for a connection, since start; live, read-only. */
  get histograms(): {
    readonly statements: Readonly<LatencyHistogram>;
    readonly acquisitions: Readonly<LatencyHistogram>;
  } {
    return { statements: this.latency, acquisitions: this.acquireWait };
  }

  /** A snapshot of this node's counters. */
  stats(): NodePoolStats {
    const total = this.pool.totalCount;
    const idle = this.pool.idleCount;
    return {
      total,
      idle,
      active: total - idle,
      waiting: this.pool.waitingCount,
      max: this.max,
      target: this.ceiling,
      queries: this.queries,
      errors: this.errors,
      inFlight: this.inFlight,
      latencyMs: this.latencyMs,
      latencyP50Ms: this.latency.quantile(0.5),
      latencyP99Ms: this.latency.quantile(0.99),
      acquireMeanMs: this.acquireWait.meanMs,
      acquireP99Ms: this.acquireWait.quantile(0.99),
      acquisitions: this.acquireWait.count,
      heldMs: this.heldMs,
      opening: Math.max(0, total - idle - this.checkedOut),
      connectMs: this.connectMs,
      statementCache: { ...this.counters },
      connections: this.connectionHealth(),
      recycled: { ...this.recycled },
      connectRetries: this.connectRetries,
      leanBatches: this.leanBatches,
      reserved: this.reserved,
    };
  }

  /** Each open connection's health, lowest score first (connections the pool is closing are left out). */
  private connectionHealth(): ConnectionHealthStats[] {
    const now = performance.now();
    const connections: ConnectionHealthStats[] = [];
    for (const client of this.clients) {
      const state = stateOf(client);
      if (state.recycle === undefined) connections.push(state.health.snapshot(now, this.lifetimeMs, state.active));
    }
    return connections.sort((a, b) => a.score - b.score);
  }

  /**
   * Closes every connection once the ones in use are returned. With `deadline` (epoch ms), connections still in
   * use then are cut, so shutdown never waits on a statement that does not end.
   */
  async end(deadline?: number): Promise<void> {
    if (this.pool.ended || this.pool.ending) return;
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
    const ending = this.pool.end();
    if (deadline === undefined) return ending;
    let timer: NodeJS.Timeout | undefined;
    const cut = new Promise<'cut'>((resolve) => {
      timer = setTimeout(
        () => {
          for (const client of this.clients) if (stateOf(client).active) destroySocket(client);
          resolve('cut');
        },
        Math.max(0, deadline - Date.now()),
      );
    });
    const first = await Promise.race([ending, cut]);
    clearTimeout(timer);
    // pg-pool's end() also waits for connections held by callers (a transaction whose callback never returns, a
    // client never released) to be released: past the deadline their sockets are cut, and nothing more is waited for.
    if (first !== 'cut') return;
  }
}
