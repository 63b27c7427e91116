import pg from 'pg';
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import { sendableValues } from './parameter-values.js';
import { QueryError } from '../errors.js';
import type { LatencyHistogram } from '../metrics/latency-histogram.js';
import { probeInternals, supportsStatementCache, type InternalFeature } from './pg-internals.js';
import { connectIdle } from './pg-pool-internals.js';
import { ConnectionStatementCache, type StatementCacheCounters } from './statement-cache.js';
import { StatementCacheSwitch } from './statement-cache-switch.js';
import { pgPoolConfig } from './pool-config.js';
import { ConnectionHealth, isConnectionFault } from './connection-health.js';
import { ConnectionSource } from './connection-source.js';
import { PoolSizing } from './pool-sizing.js';
import { attachState, leftSessionState, stateIfAny, stateOf, type ClientState } from './client-state.js';
import { isConnectionLevelError } from './connection-errors.js';
import {
  ConnectionRecycler,
  NO_STATEMENT,
  SESSION_LEFT,
  STATEMENT_FAULT,
  STATEMENT_OK,
  type CheckinStatement,
} from './connection-recycler.js';
import {
  RETIRED,
  StatementDeadlines,
  abortedError,
  connectUnlessAborted,
  endBy,
  isAborted,
  statementError,
  unwatch,
} from './statement-deadlines.js';
import { prepareAgain, runStatement, sendStatement, type StatementOptions } from './statement-run.js';
import { leanBodyOf, sendEach, sendLean, type BatchOutcome, type BatchStatement } from './pipelined-batch.js';
import { nodeConnection, type ConnectionOwner, type NodeConnection } from './node-connection.js';
import type { NodePoolOptions } from './node-pool-options.js';
import { PoolMeter, type NodePoolStats } from './node-pool-stats.js';

// The pool's vocabulary lives in files of its own; importers keep reading it from here.
export { isConnectionLevelError } from './connection-errors.js';
export type { NodePoolOptions, PoolObserver, ConnectionLeak } from './node-pool-options.js';
export type { DisabledInternal, InternalFeature } from './pg-internals.js';
export type { NodePoolStats } from './node-pool-stats.js';
export type { StatementOptions, StatementProbe } from './statement-run.js';
export type { NodeConnection } from './node-connection.js';
export type { BatchStatement, BatchOutcome } from './pipelined-batch.js';

const LATENCY_WEIGHT = 0.2;
const NONE_DISABLED: readonly InternalFeature[] = Object.freeze([]);

/**
 * One node's connection pool: a `pg.Pool` plus a bounded prepared-statement cache per connection, typed
 * acquisition timeouts and the counters the balancer and `stats()` read. Knows nothing of routing.
 */
export class NodePool {
  readonly name: string;
  private readonly pool: pg.Pool;
  private readonly counters: StatementCacheCounters = { hits: 0, misses: 0, evictions: 0 };
  /** Off once the node's server connections are seen not to keep prepared statements (a pooler in transaction mode). */
  private readonly cacheSwitch: StatementCacheSwitch;
  private readonly statementCacheMax: number;
  private readonly max: number;
  private readonly min: number;
  private readonly statementTimeoutMs: number;
  private readonly options: NodePoolOptions;
  /** Every open connection, so the sweeper can find expired statements and a late shutdown can cut the busy ones. */
  private readonly clients = new Set<PoolClient>();
  private readonly deadlines = new StatementDeadlines(this.clients);
  private readonly meter = new PoolMeter();
  /** Statements running or waiting for a connection right now. */
  inFlight = 0;
  /** Exponentially weighted mean latency, in milliseconds (see {@link NodePoolStats.latencyMs}). */
  latencyMs = 0;
  /** Connections handed out now (the rest of the open ones are idle or still being opened). */
  private checkedOut = 0;
  private readonly recycler: ConnectionRecycler;
  private readonly source: ConnectionSource;
  private readonly sizing: PoolSizing;
  private leanBatches = 0;
  /** How the connections handed out by {@link acquire} report back. */
  private readonly owner: ConnectionOwner;
  /** See {@link NodePoolStats.disabledInternals}; `undefined` until the first connection opened and was probed. */
  private disabledInternals: readonly InternalFeature[] | undefined;

  constructor(options: NodePoolOptions) {
    this.name = options.name;
    this.statementCacheMax = options.statementCacheMax;
    this.statementTimeoutMs = options.statementTimeoutMs;
    this.options = options;
    this.cacheSwitch = new StatementCacheSwitch(options.name, options.onStatementCacheDisabled);
    const connection = options.connection;
    this.max = connection.max ?? options.max;
    this.min = connection.min ?? options.min;
    this.recycler = new ConnectionRecycler(
      options.healthThreshold,
      (connection.maxLifetimeSeconds ?? Math.ceil(options.maxLifetimeMs / 1000)) * 1000,
    );
    this.owner = {
      name: this.name,
      began: () => void this.inFlight++,
      finished: (client, startedAt, ok, fault) => {
        this.inFlight--;
        const now = performance.now();
        this.recycler.score(stateOf(client), now - startedAt, fault, now);
        this.meter.ended(now - startedAt, ok);
      },
      giveBack: (client, error) => this.checkin(client, error),
    };
    this.pool = new pg.Pool(pgPoolConfig(options));
    this.source = new ConnectionSource(this.pool, this.recycler, {
      name: this.name,
      max: this.max,
      retryPolicy: { retries: options.connectRetries, delayMs: options.connectRetryDelayMs },
      acquireTimeoutMs: connection.connectionTimeoutMillis ?? options.acquireTimeoutMs,
      onConnectRetry: options.onConnectRetry,
      cap: (ceiling) => this.sizing.limit('refusal', ceiling),
      established: () => this.clients.size,
    });
    this.sizing = new PoolSizing(this.pool, this.recycler, {
      min: this.min,
      max: this.max,
      connect: () => this.source.connect(),
      onError: (error) => this.options.onIdleError?.(error),
    });
    this.pool.on('connect', (client) => {
      // A checked-out client whose connection dies emits 'error' besides failing its query; pg-pool listens
      // only while the client is idle, and an unheard 'error' would crash the process.
      client.on('error', () => undefined);
      const cache =
        this.statementCacheMax > 0 && supportsStatementCache(client)
          ? new ConnectionStatementCache(client, this.statementCacheMax, this.counters, this.cacheSwitch)
          : undefined;
      const onConnect = options.onConnect;
      const ready = onConnect === undefined ? undefined : Promise.resolve().then(() => onConnect(client));
      ready?.catch(() => undefined); // awaited (and reported) at the connection's first hand-out
      attachState(client, cache, ready, new ConnectionHealth(performance.now()));
      this.clients.add(client);
      if (this.disabledInternals === undefined) this.probe(client);
      options.observer?.opened?.(client);
    });
    this.pool.on('remove', (client) => {
      this.clients.delete(client);
      const state = stateIfAny(client);
      if (state !== undefined && !this.pool.ending) this.recycler.closedByPool(state);
      options.observer?.closed?.(client);
    });
    this.pool.on('error', (error, client) => {
      const state = stateIfAny(client);
      if (state !== undefined) this.recycler.recycle(state, 'error');
      options.onIdleError?.(error);
      options.observer?.failedIdle?.(error, client);
    });
  }

  /**
   * Checks pg's internals once, on the pool's first connection, and tells the observer of any that are missing. The
   * features built on them already skip themselves where they are used; this makes it visible.
   */
  private probe(client: PoolClient): void {
    const disabled = probeInternals(client, this.pool);
    this.disabledInternals = Object.freeze(disabled.map((internal) => internal.feature));
    if (disabled.length === 0) return;
    try {
      this.options.observer?.internalsMissing?.(Object.freeze(disabled));
    } catch {
      // Inside pg-pool's 'connect' event a throw would fail the connection being opened, for a report.
    }
  }

  /** Opens connections until `count` (default `min`, at most the ceiling) are open, so the first queries do not pay for connecting. */
  warm(count: number = this.min): Promise<void> {
    return this.sizing.warm(count);
  }

  /** Sets the most connections the pool opens; see {@link PoolSizing.resize}. */
  resize(target: number, keepWarm = false): void {
    this.sizing.resize(target, keepWarm);
  }

  /** Caps the ceiling at this pool's share of a cluster-wide connection budget (`undefined`: no cap); see {@link PoolSizing.limit}. */
  limit(cap: number | undefined): number {
    return this.sizing.limit('budget', cap);
  }

  /** Keeps at least `count` more connections allowed and opens them now; see {@link PoolSizing.reserve}. */
  reserve(count: number): Promise<void> {
    return this.sizing.reserve(count);
  }

  /** Gives back what {@link reserve} took; see {@link PoolSizing.unreserve}. */
  unreserve(count: number): void {
    this.sizing.unreserve(count);
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
    values = sendableValues(values);
    this.inFlight++;
    const started = performance.now();
    let client: PoolClient;
    try {
      this.signalPressure();
      try {
        // pool.connect() directly, not through checkout(): one promise hop fewer on the hot path.
        client = await (signal === undefined
          ? connectIdle(this.pool)
          : connectUnlessAborted(this.pool, signal, this.name));
      } catch (error) {
        client = await this.source.reconnect(error, started, signal);
      }
      if (stateOf(client).ready !== undefined) await this.source.whenReady(client);
      if (this.options.prePing) client = await this.source.pinged(client);
    } catch (error) {
      this.inFlight--;
      this.meter.ended(performance.now() - started, false);
      throw this.source.acquireError(error, started);
    }
    const state = this.handedOut(client, started);
    if (timeoutMs > 0) this.deadlines.watch(state, timeoutMs, state.acquiredAt);
    const watched = timeoutMs > 0 || signal !== undefined;
    const onAbort = signal === undefined ? undefined : () => this.deadlines.cancel(client, state);
    if (onAbort !== undefined) signal!.addEventListener('abort', onAbort, { once: true });
    let ok = false;
    let ended = 0;
    try {
      // runStatement() inlined for a statement without a probe: its async frame cost a promise and a hop per statement.
      let result: QueryResult<R>;
      if (options?.probe !== undefined)
        result = await runStatement<R>(client, text, values, statementName, true, options);
      else {
        try {
          result = await sendStatement<R>(client, text, values, statementName, options);
        } catch (error) {
          state.cache?.settle();
          result = await prepareAgain<R>(error, client, text, values, statementName, options);
        }
        state.cache?.settle();
      }
      // A cancel request still on its way would hit whatever this connection runs next: retire it.
      ended = performance.now();
      this.checkin(
        client,
        watched && unwatch(state)
          ? RETIRED
          : leftSessionState(client, options?.leavesSession)
            ? SESSION_LEFT
            : undefined,
        STATEMENT_OK,
        ended,
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
      ended = performance.now();
      this.checkin(client, retire, isConnectionFault(error) ? STATEMENT_FAULT : STATEMENT_OK, ended);
      const timedOut = state.timedOutMs;
      state.timedOutMs = 0;
      throw statementError(error, this.name, signal, timedOut);
    } finally {
      if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
      this.inFlight--;
      // The time the connection came back, read once for the health score, the latency and its windowed histogram.
      if (ended === 0) ended = performance.now();
      const elapsed = ended - started;
      this.latencyMs += (elapsed - this.latencyMs) * LATENCY_WEIGHT;
      this.meter.ended(elapsed, ok, ended);
    }
  }

  /** Marks a connection as handed out and counts the wait for it. */
  private handedOut(client: PoolClient, started: number): ClientState {
    const state = stateOf(client);
    const now = performance.now();
    state.active = true;
    state.acquiredAt = now;
    this.checkedOut++;
    this.meter.acquireWait.observe(now - started);
    this.options.observer?.checkout?.(now - started);
    return state;
  }

  /** Tells `onPressure` when this caller is about to wait: no idle connection, and the pool at its ceiling. */
  private signalPressure(): void {
    if (this.options.onPressure === undefined || this.pool.idleCount > 0 || this.pool.totalCount < this.sizing.ceiling)
      return;
    const busy = this.checkedOut;
    this.options.onPressure?.(
      this.pool.waitingCount + 1,
      busy,
      Math.max(0, this.pool.totalCount - this.pool.idleCount - busy),
    );
  }

  /** Takes a client from the pool, pinging it first with `prePing` (a dead one is discarded and replaced once). */
  private async checkout(): Promise<PoolClient> {
    const started = performance.now();
    this.signalPressure();
    let client = await this.source.connect();
    if (stateOf(client).ready !== undefined) await this.source.whenReady(client);
    if (this.options.prePing) client = await this.source.pinged(client);
    this.handedOut(client, started);
    return client;
  }

  /**
   * Returns a connection to the pool. A statement that ended here counts towards its health score; a connection
   * whose score is then below `healthThreshold` is closed instead of kept.
   */
  private checkin(
    client: PoolClient,
    error?: Error,
    statement: CheckinStatement = NO_STATEMENT,
    now: number = performance.now(),
  ): void {
    const state = stateOf(client);
    state.active = false;
    this.checkedOut--;
    const held = now - state.acquiredAt;
    this.meter.heldMs += held;
    this.options.observer?.checkin?.(held);
    const discard = this.recycler.checkedIn(state, held, statement, error, now);
    // Above a lowered ceiling (a connection budget's share, adaptive sizing), a connection coming back closes instead
    // of going to the next caller in line: with callers always waiting it would never be idle, so never closed.
    if (discard === undefined && this.clients.size > this.sizing.ceiling) {
      this.recycler.recycle(state, 'shrink');
      client.release(true);
      return;
    }
    client.release(discard);
  }

  /**
   * Takes a connection for several statements (a transaction). `holder` is the stack to report if the
   * connection leaks; capture it before the caller's first `await`, or it will not name the caller.
   */
  acquire(holder?: string): Promise<NodeConnection> {
    // Not async, and checkout() written out: a transaction starts here, and every async frame and await would cost
    // it a promise (two with promise hooks on, as a transaction's AsyncLocalStorage turns them on).
    const started = performance.now();
    this.signalPressure();
    return connectIdle(this.pool).then(
      (client) =>
        stateOf(client).ready === undefined && !this.options.prePing
          ? this.held(client, started, holder)
          : this.acquireSlowly(client, undefined, started, holder),
      (error: unknown) => this.acquireSlowly(undefined, error, started, holder),
    );
  }

  /** {@link acquire} when the connection came but must first be readied or pinged, or did not come (`error`). */
  private async acquireSlowly(
    client: PoolClient | undefined,
    error: unknown,
    started: number,
    holder: string | undefined,
  ): Promise<NodeConnection> {
    try {
      client ??= await this.source.reconnect(error, started);
      if (stateOf(client).ready !== undefined) await this.source.whenReady(client);
      if (this.options.prePing) client = await this.source.pinged(client);
    } catch (failure) {
      // The transaction's BEGIN never ran: it counts as a failed statement.
      this.meter.ended(performance.now() - started, false);
      throw this.source.acquireError(failure, started);
    }
    return this.held(client, started, holder);
  }

  /** A connection {@link acquire} took, handed out to its holder. */
  private held(client: PoolClient, started: number, holder: string | undefined): NodeConnection {
    this.handedOut(client, started);
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
    return nodeConnection(this.owner, client, leakTimer);
  }

  /**
   * Runs statements on ONE connection in one round trip (see `pipelined-batch.ts`): as one lean batch when it is
   * a `BEGIN … COMMIT` of prepared writes, else through pg's pipeline mode. Never rejects: each statement's outcome
   * is returned in order; a connection lost mid-batch fails every statement not yet answered, and the connection
   * is discarded.
   */
  async runPipelined(statements: readonly BatchStatement[]): Promise<BatchOutcome[]> {
    try {
      // The router's pipelines convert at addQuery already: copy the batch only when a statement needed it here.
      let converted: BatchStatement[] | undefined;
      statements.forEach((statement, i) => {
        const values = sendableValues(statement.values);
        if (values !== statement.values) (converted ??= statements.slice())[i] = { ...statement, values };
      });
      if (converted !== undefined) statements = converted;
    } catch (error) {
      // Nothing was sent: a batch is one round trip, and it holds a value pg cannot send.
      return statements.map(() => ({ ok: false, error: error as Error }));
    }
    this.inFlight += statements.length;
    const started = performance.now();
    let client: PoolClient;
    try {
      client = await this.checkout();
    } catch (error) {
      this.inFlight -= statements.length;
      const waited = performance.now() - started;
      for (let i = 0; i < statements.length; i++) this.meter.ended(waited, false);
      const failure = this.source.acquireError(error, started);
      return statements.map(() => ({ ok: false, error: failure }));
    }
    // The batch has the statement deadline: on a node that stops answering, a cancel, then the connection is cut
    // and every statement not answered fails (outcome unknown), instead of the batch waiting forever.
    const state = stateOf(client);
    if (this.statementTimeoutMs > 0) this.deadlines.watch(state, this.statementTimeoutMs);
    const lean = leanBodyOf(client, statements);
    if (lean !== undefined) this.leanBatches++;
    const settled = lean !== undefined ? await sendLean(client, lean) : await sendEach(client, statements);
    // A cancel request still on its way would hit whatever this connection runs next: it is retired then.
    let broken = this.statementTimeoutMs > 0 && unwatch(state);
    state.timedOutMs = 0;
    // A batch's statements share one round trip, so their times say nothing of the connection: only their outcomes count.
    const answered = performance.now();
    const outcomes = settled.map((outcome, i): BatchOutcome => {
      // A statement refused for a prepared statement its server connection lacked did not run; it is not re-sent.
      if (outcome.status === 'rejected') this.cacheSwitch.noteFailure(outcome.reason, statements[i]?.statementName);
      const fault = outcome.status === 'rejected' && isConnectionFault(outcome.reason, true);
      this.recycler.score(state, -1, fault, answered);
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
    for (const outcome of outcomes) this.meter.ended(perStatement, outcome.ok);
    return outcomes;
  }

  /** Time per statement (waiting for a connection included) and time waited for a connection, since start; live, read-only. */
  get histograms(): {
    readonly statements: Readonly<LatencyHistogram>;
    readonly acquisitions: Readonly<LatencyHistogram>;
  } {
    return { statements: this.meter.latency, acquisitions: this.meter.acquireWait };
  }

  /** A snapshot of this node's counters. */
  stats(): NodePoolStats {
    const total = this.pool.totalCount;
    const idle = this.pool.idleCount;
    const recent = this.meter.recentLatency.snapshot();
    return {
      total,
      idle,
      active: total - idle,
      waiting: this.pool.waitingCount,
      max: this.max,
      target: this.sizing.ceiling,
      queries: this.meter.queries,
      errors: this.meter.errors,
      inFlight: this.inFlight,
      latencyMs: this.latencyMs,
      latencyP50Ms: this.meter.latency.quantile(0.5),
      latencyP99Ms: this.meter.latency.quantile(0.99),
      recentLatencyP50Ms: recent.quantile(0.5),
      recentLatencyP99Ms: recent.quantile(0.99),
      acquireMeanMs: this.meter.acquireWait.meanMs,
      acquireP99Ms: this.meter.acquireWait.quantile(0.99),
      acquisitions: this.meter.acquireWait.count,
      heldMs: this.meter.heldMs,
      opening: Math.max(0, total - idle - this.checkedOut),
      connectMs: this.sizing.connectMs,
      statementCache: { ...this.counters },
      connections: this.recycler.snapshot(this.clients),
      recycled: { ...this.recycler.counts },
      connectRetries: this.source.retries,
      connectionRefusals: this.source.refusals.refusals,
      leanBatches: this.leanBatches,
      reserved: this.sizing.reserved,
      disabledInternals: this.disabledInternals ?? NONE_DISABLED,
      statementCacheDisabled: this.cacheSwitch.disabled ?? null,
    };
  }

  /**
   * Closes every connection once the ones in use are returned. With `deadline` (epoch ms), connections still in
   * use then are cut, so shutdown never waits on a statement that does not end.
   */
  async end(deadline?: number): Promise<void> {
    if (this.pool.ended || this.pool.ending) return;
    this.deadlines.stop();
    this.source.refusals.stop();
    return endBy(this.pool, this.clients, deadline);
  }
}
