import { INSPECT, inspectAs } from '../safe-inspect.js';
import type { InspectOptions } from 'node:util';
import { EventEmitter } from 'node:events';
import type { PoolClient, PoolConfig, QueryArrayResult, QueryResult, QueryResultRow } from 'pg';
import { RouterClosedError } from '../errors.js';
import { rejectAsPg } from './pg-errors.js';
import { withoutConnectionString, type NodeConnection, type NodePoolStats } from '../pool/index.js';
import type { ClassifierEntry } from '../sql/classification-cache.js';
import { UNPINNED, pinningOf, type Pinning } from '../sql/pinning.js';
import {
  callbackOf,
  refuseCallbackAlone,
  isCursor,
  parseQueryCall,
  scratchCall,
  settleCallback,
  type PgQueryCallback,
  type PgQueryConfig,
  type QueryCursor,
  type ResultOptions,
} from './query-arguments.js';
import type { ResolvedOptions } from '../config/index.js';
import type { QueryOptions } from '../config/query-options.js';
import { RoutedClient, type ClientHost } from './routed-client.js';

/** What a pool from `asPool()` needs of its router, and nothing more (so it does not depend on `QueryRouter`). */
export interface PoolRouter {
  readonly options: Pick<ResolvedOptions, 'pool' | 'classifierCache' | 'primary'>;
  query(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult>;
  close(): Promise<void>;
}

/** The connections behind the pool view, told as pg-pool tells of its own (see {@link RoutedPoolEvents}). */
export interface PoolConnectionEvents {
  connect: [client: PoolClient];
  remove: [client: PoolClient];
  error: [error: Error, client: PoolClient];
}

/** What the router lends its pool view: its classifier, statement names and connections. Not public API. */
export interface PoolBackend {
  /** Every node's connections opening, closing and failing while idle. */
  readonly connections: EventEmitter<PoolConnectionEvents>;
  /** Validates a statement and its parameters and returns its cached classification. */
  entry(sql: unknown, params: unknown): ClassifierEntry;
  /** The prepared-statement name for a parameterised statement, or `undefined` when the statement cache is off. */
  statementName(sql: string, entry: ClassifierEntry): string | undefined;
  /** A connection of the primary, or (`readOnly`) of a replica chosen as for a read, through the node's breaker. */
  pin(readOnly: boolean, holder: string | undefined): Promise<{ node: string; connection: NodeConnection }>;
  /** Each node's pool counters. */
  pools(): readonly NodePoolStats[];
}

/** Events of a {@link RoutedPool}, as `pg.Pool` emits them. */
export interface RoutedPoolEvents {
  /**
   * A connection opened on one of the nodes: its pg client, before its first statement. What must hold on every
   * connection (`SET search_path`, …) belongs in the router's `hooks.onConnect`, which is awaited; this is told as
   * pg-pool tells it, and a statement sent here may run after the connection's first.
   */
  connect: [client: PoolClient];
  /** {@link RoutedPool.connect} handed out a client. */
  acquire: [client: RoutedClient];
  /** A client was released, with what `release()` was given. */
  release: [error: Error | undefined, client: RoutedClient];
  /** A connection closed (idle timeout, lifetime, health score, error, a smaller pool): its pg client. */
  remove: [client: PoolClient];
  /** An idle connection failed (its node restarted, the network dropped it); it was discarded. */
  error: [error: Error, client: PoolClient];
}

type ForwardedEvent = keyof PoolConnectionEvents;

/**
 * pg-pool's options as a `RoutedPool` reports them: the router's pool sizing under pg-pool's names, and the
 * configured primary's connection settings (`host`, `port`, `database`, `user`, `ssl`, … and a `password` that is
 * not enumerable, as pg keeps its own), so code that builds a control `pg.Client` from `pool.options` (to cancel or
 * end a statement from another connection) reaches the primary. A client pinned there reports its `processID`.
 */
export interface RoutedPoolOptions extends Readonly<
  Omit<PoolConfig, 'max' | 'min' | 'idleTimeoutMillis' | 'connectionTimeoutMillis' | 'connectionString'>
> {
  /** Connections per node, at most. */
  readonly max: number;
  readonly min: number;
  readonly idleTimeoutMillis: number;
  readonly connectionTimeoutMillis: number;
}

/** The sizing part of a pool's options: what `console.log(pool)` shows (never credentials or TLS keys). */
const sizingOf = ({ max, min, idleTimeoutMillis, connectionTimeoutMillis }: RoutedPoolOptions): object => ({
  max,
  min,
  idleTimeoutMillis,
  connectionTimeoutMillis,
});

const FORWARDED: readonly ForwardedEvent[] = ['connect', 'remove', 'error'];
const isForwarded = (event: string | symbol): event is ForwardedEvent => FORWARDED.includes(event as ForwardedEvent);

// Texts this long are generated (inlined bulk data) and do not repeat: the classifier does not cache them either.
const MAX_CACHED_TEXT_LENGTH = 16_384;

/**
 * The router seen as a `pg.Pool`: what Drizzle's node-postgres driver, Kysely's `PostgresDialect` and ordinary
 * `pg.Pool` code call. Made by `router.asPool()`.
 *
 * - `query()` routes each statement as `router.query()` does (reads to replicas, everything else to the primary);
 *   a statement that opens a transaction or sets session state runs on a connection of its own that is cleaned
 *   up afterwards, so nothing of it reaches other callers.
 * - `connect()` costs no connection: the {@link RoutedClient} routes per statement until a transaction or session
 *   state pins it to one connection.
 * - `end()` closes the router.
 *
 * The class name contains "Pool" on purpose: Drizzle tells a pool from a client by it, and takes a client of its
 * own for each transaction only from a pool.
 */
export class RoutedPool extends EventEmitter<RoutedPoolEvents> {
  /** The router's pool sizing, under pg-pool's names (Kysely reads `options`). */
  readonly options: RoutedPoolOptions;
  private readonly host: ClientHost;
  private readonly pinnings = new Map<string, Pinning>();
  private readonly pinningsMax: number;
  private readonly leakStackTraces: boolean;
  private clients = 0;
  private closing: Promise<void> | undefined;
  private isEnded = false;
  /** The listeners this pool keeps on its router's connection events, while someone listens to its own. */
  private readonly forwarders: { [E in ForwardedEvent]: (...args: PoolConnectionEvents[E]) => void } = {
    connect: (client) => void this.emit('connect', client),
    remove: (client) => void this.emit('remove', client),
    error: (error, client) => void (this.listenerCount('error') > 0 && this.emit('error', error, client)),
  };

  /** @internal Made by `router.asPool()`. */
  constructor(
    private readonly router: PoolRouter,
    private readonly backend: PoolBackend,
  ) {
    super();
    const { pool, classifierCache, primary } = router.options;
    const { password, ...connection } = withoutConnectionString(primary.config);
    const options: RoutedPoolOptions = {
      ...connection,
      // A URL's port is text; pg.Pool users read a number.
      ...(connection.port === undefined ? {} : { port: Number(connection.port) }),
      max: pool.max,
      min: pool.min,
      idleTimeoutMillis: pool.idleTimeoutMs,
      connectionTimeoutMillis: pool.acquireTimeoutMs,
    };
    // Readable by `new pg.Client(pool.options)`, never shown by util.inspect or JSON.stringify.
    Object.defineProperty(options, 'password', { value: password, enumerable: false });
    this.options = Object.freeze(options);
    this.pinningsMax = Math.max(1, classifierCache.max);
    this.leakStackTraces = pool.leakStackTraces;
    this.host = {
      route: (text, values, options) => router.query(text, values as readonly unknown[] | undefined, options),
      pinning: (text) => this.pinningOf(text),
      entry: backend.entry,
      statementName: backend.statementName,
      pin: backend.pin,
      identifiedNode: primary.name,
      released: (client, error) => {
        this.clients--;
        this.emit('release', error, client);
      },
    };
    // Subscribed only while someone listens, so a pool nobody listens to costs its router nothing (and an unheard
    // 'error' is not re-emitted, which would crash the process, as pg.Pool's does).
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (isForwarded(event) && this.listenerCount(event) === 0 && this.closing === undefined)
        (backend.connections as EventEmitter).on(event, this.forwarders[event]);
    });
    (this as EventEmitter).on('removeListener', (event: string | symbol) => {
      if (isForwarded(event) && this.listenerCount(event) === 0)
        (backend.connections as EventEmitter).off(event, this.forwarders[event]);
    });
  }

  /** What `console.log(pool)` shows: its sizing and state, never the router's connections behind it. */
  [INSPECT](depth: number, options: InspectOptions): string {
    return inspectAs(
      'RoutedPool',
      { options: sizingOf(this.options), clients: this.clients, ended: this.isEnded },
      depth,
      options,
    );
  }

  /**
   * Runs one statement, as `pg.Pool#query`: text or a config object (`text`, `values`, `name`, `rowMode: 'array'`,
   * `types`), values, and an optional callback (then it returns `undefined`). Resolves with pg's `QueryResult`;
   * rejects with the router's errors (a PostgreSQL error is pg's `DatabaseError`). A cursor or stream (pg-cursor,
   * pg-query-stream) runs on a client of its own, a replica's connection for a provable read, returned once the
   * cursor is done or closed.
   */
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
  query<R extends unknown[] = unknown[]>(
    config: PgQueryConfig & { rowMode: 'array' },
    values?: readonly unknown[],
  ): Promise<QueryArrayResult<R>>;
  query<R extends QueryResultRow = QueryResultRow>(
    config: PgQueryConfig,
    values?: readonly unknown[],
  ): Promise<QueryResult<R>>;
  query<R extends QueryResultRow = QueryResultRow>(
    textOrConfig: string | PgQueryConfig,
    callback: PgQueryCallback<R>,
  ): void;
  query<R extends QueryResultRow = QueryResultRow>(
    textOrConfig: string | PgQueryConfig,
    values: readonly unknown[] | undefined,
    callback: PgQueryCallback<R>,
  ): void;
  query<C extends QueryCursor>(cursor: C): C;
  query(textOrConfig: unknown, values?: unknown, callback?: unknown): unknown {
    if (isCursor(textOrConfig)) {
      // A client of its own, given back once the cursor is done (pg.Pool would keep its connection for good).
      const client = this.checkOut();
      try {
        return client.query(textOrConfig as QueryCursor);
      } finally {
        client.release();
      }
    }
    if (refuseCallbackAlone(textOrConfig, values, callback)) return undefined;
    let done: PgQueryCallback | undefined;
    let promise: Promise<QueryResult>;
    try {
      done = callbackOf(values, callback);
      parseQueryCall(textOrConfig, values, scratchCall);
      const { text, values: params, options } = scratchCall;
      if (typeof text === 'string' && this.pinningOf(text) !== UNPINNED) promise = this.runAlone(text, params, options);
      else promise = this.router.query(text as string, params as readonly unknown[] | undefined, options);
      promise = promise.then(undefined, rejectAsPg);
    } catch (error) {
      promise = Promise.reject(error as Error);
    }
    if (done === undefined) return promise;
    settleCallback(promise, done);
    return undefined;
  }

  /**
   * A client for several statements, as `pg.Pool#connect`. It holds no connection until a statement pins it (see
   * {@link RoutedClient}), so taking one per statement, as Kysely does, costs next to nothing. Release it exactly
   * once. With a callback, it is called with `(error, client, release)`. After {@link end}, fails with
   * `RouterClosedError`.
   */
  connect(): Promise<RoutedClient>;
  connect(
    callback: (
      error: Error | undefined,
      client: RoutedClient | undefined,
      release: (error?: Error | boolean) => void,
    ) => void,
  ): void;
  connect(
    callback?: (
      error: Error | undefined,
      client: RoutedClient | undefined,
      release: (error?: Error | boolean) => void,
    ) => void,
  ): Promise<RoutedClient> | undefined {
    if (this.closing !== undefined) {
      const error = new RouterClosedError('the pool');
      if (callback === undefined) return Promise.reject(error);
      queueMicrotask(() => callback(error, undefined, () => undefined));
      return undefined;
    }
    const client = this.checkOut();
    if (callback === undefined) return Promise.resolve(client);
    queueMicrotask(() => callback(undefined, client, (error) => client.release(error)));
    return undefined;
  }

  /**
   * Closes the router (every node's connections), as `pg.Pool#end` closes the pool. A second call fails with
   * `RouterClosedError`, as pg.Pool's does.
   */
  end(): Promise<void>;
  end(callback: (error?: Error) => void): void;
  end(callback?: (error?: Error) => void): Promise<void> | undefined {
    if (this.closing !== undefined) {
      const error = new RouterClosedError('the pool (end() was called before)');
      if (callback === undefined) return Promise.reject(error);
      queueMicrotask(() => callback(error));
      return undefined;
    }
    this.closing = this.router.close().then(() => {
      this.isEnded = true;
    });
    for (const event of FORWARDED) (this.backend.connections as EventEmitter).off(event, this.forwarders[event]);
    if (callback === undefined) return this.closing;
    // Outside the promise chain, so a throwing callback is an uncaught exception, as with pg.Pool.
    this.closing.then(
      () => process.nextTick(callback),
      (error: unknown) => process.nextTick(callback, error as Error),
    );
    return undefined;
  }

  /** True once {@link end} was called. */
  get ending(): boolean {
    return this.closing !== undefined;
  }

  /** True once {@link end} finished. */
  get ended(): boolean {
    return this.isEnded;
  }

  /** Connections open now, over every node. */
  get totalCount(): number {
    return this.backend.pools().reduce((sum, pool) => sum + pool.total, 0);
  }

  /** Connections open and idle now, over every node. */
  get idleCount(): number {
    return this.backend.pools().reduce((sum, pool) => sum + pool.idle, 0);
  }

  /** Callers waiting for a connection now, over every node. */
  get waitingCount(): number {
    return this.backend.pools().reduce((sum, pool) => sum + pool.waiting, 0);
  }

  /** Clients handed out by {@link connect} and not released yet (pinned or not). Not in pg. */
  get checkedOutCount(): number {
    return this.clients;
  }

  private checkOut(): RoutedClient {
    this.clients++;
    const client = new RoutedClient(
      this.host,
      this.leakStackTraces ? new Error('connection checked out here').stack : undefined,
    );
    this.emit('acquire', client);
    return client;
  }

  /** A pinning statement given to the pool itself runs on a client of its own, released (and cleaned) at once. */
  private async runAlone(text: string, values: unknown, options: ResultOptions | undefined): Promise<QueryResult> {
    const client = this.checkOut();
    try {
      return await client.query({ text, values: values as readonly unknown[] | undefined, ...options });
    } finally {
      client.release();
    }
  }

  private pinningOf(text: string): Pinning {
    let pinning = this.pinnings.get(text);
    if (pinning === undefined) {
      pinning = pinningOf(text);
      if (text.length <= MAX_CACHED_TEXT_LENGTH) {
        // Forgetting everything at once is crude, but only workloads of more distinct texts than the classifier
        // caches ever get here, and relexing a text costs about what classifying it does.
        if (this.pinnings.size >= this.pinningsMax) this.pinnings.clear();
        this.pinnings.set(text, pinning);
      }
    }
    return pinning;
  }
}
