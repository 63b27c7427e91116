import { INSPECT, inspectAs } from '../safe-inspect.js';
import type { InspectOptions } from 'node:util';
import { EventEmitter } from 'node:events';
import type { QueryArrayResult, QueryResult, QueryResultRow } from 'pg';
import { QueryError, RouterError } from '../errors.js';
import { failSubmittable, isConnectionLevelError, type NodeConnection } from '../pool/index.js';
import type { ClassifierEntry } from '../sql/classification-cache.js';
import { SESSION_SETTINGS, SESSION_STATE, UNPINNED, type Pinning } from '../sql/pinning.js';
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

/** What every client of one routed pool shares: the router's routing, classification and connections. */
export interface ClientHost {
  /** Runs a statement wherever the router routes it (`router.query`). */
  route(text: string, values: unknown, options: ResultOptions | undefined): Promise<QueryResult>;
  /** How a SQL text pins a client (cached by text). */
  pinning(text: string): Pinning;
  /** Validates a statement and its parameters and returns its cached classification; throws `QueryError`. */
  entry(text: unknown, values: unknown): ClassifierEntry;
  /** The prepared-statement name for a parameterised statement, or `undefined` to run it unnamed. */
  statementName(text: string, entry: ClassifierEntry): string | undefined;
  /** Takes a connection for a pinned client: the primary, or a replica for a read-only transaction. */
  pin(readOnly: boolean, holder: string | undefined): Promise<{ node: string; connection: NodeConnection }>;
  /** The node `pool.options` describes (the configured primary): the only one whose `processID` a client reports. */
  readonly identifiedNode: string;
  /** Called once per client, when `release()` is called, with what it was given. */
  released(client: RoutedClient, error: Error | undefined): void;
}

/** Events of a {@link RoutedClient}, as pg's client emits them. */
export interface RoutedClientEvents {
  /** The connection this client was pinned to failed; the client's later statements are refused. */
  error: [error: Error];
  /** A `NOTIFY` for a channel this client `LISTEN`s to (pinned clients only). */
  notification: [message: unknown];
  /** A server notice (`RAISE NOTICE`, warnings) on the pinned connection. */
  notice: [message: unknown];
}

// Undoes `SET` / `RESET` / `set_config()` (session authorization and role too, which RESET ALL leaves alone).
const RESET_SETTINGS = 'SET SESSION AUTHORIZATION DEFAULT; RESET ALL';

/**
 * A client handed out by `asPool().connect()`: pg's `PoolClient` as far as query builders and ordinary pg code use
 * it. It holds no connection until a statement needs one: each statement is routed on its own (reads to replicas,
 * writes to the primary) until one opens a transaction or leaves session state, which pins the client to one
 * connection — until `COMMIT`/`ROLLBACK` for a transaction, until `release()` for session state. `BEGIN READ ONLY`
 * (not serializable) may pin to a replica. Statements of one client run in the order they were issued, as on pg.
 */
export class RoutedClient extends EventEmitter<RoutedClientEvents> {
  private connection: NodeConnection | undefined;
  private pinnedNode: string | undefined;
  /** `SESSION_*` flags of what ran on the pinned connection. */
  private session = 0;
  private unnamed = false;
  private unsubscribe: (() => void) | undefined;
  /** The connection-level failure that ended the pinned connection; later statements are refused. */
  private lost: Error | undefined;
  private released = false;
  private destroyOnRelease = false;
  /** Statements issued and not yet settled, and the promise of the last one (to queue behind it). */
  private pending = 0;
  private last: Promise<unknown> | undefined;

  /** @internal Made by `RoutedPool.connect()`. */
  constructor(
    private readonly host: ClientHost,
    private readonly holder: string | undefined,
  ) {
    super();
  }

  /** What `console.log(client)` shows: where it is pinned, never the connection behind it. */
  [INSPECT](depth: number, options: InspectOptions): string {
    return inspectAs('RoutedClient', { pinnedTo: this.pinnedNode, released: this.released }, depth, options);
  }

  /**
   * The backend process id of the connection this client is pinned to, as pg's `client.processID`, when that is the
   * node `pool.options` describes (the configured primary): a control client built from those options then cancels
   * this client's statement, never another node's backend with the same number. `undefined` while the client
   * routes statement by statement, and on a replica. A statement calling `pg_backend_pid()` pins it.
   */
  get processID(): number | undefined {
    return this.pinnedNode === this.host.identifiedNode ? this.connection?.processID : undefined;
  }

  /** As pg's `client.end()` on a pooled client: releases it and closes the connection it was pinned to. */
  end(): Promise<void> {
    if (!this.released) this.release(new Error('client.end() was called'));
    return Promise.resolve();
  }

  /** The node this client is pinned to (`'primary'`, `'replica-0'`, …), or `undefined` while it routes per statement. */
  get pinnedTo(): string | undefined {
    return this.pinnedNode;
  }

  /**
   * Runs a statement, as pg's `client.query`: text or a config object (`text`, `values`, `name`, `rowMode`,
   * `types`), values, and an optional callback (then it returns `undefined`). Results are pg's `QueryResult`.
   * A cursor or stream (pg-cursor, pg-query-stream) is returned as pg returns it and holds a connection until it is
   * done or closed: a replica's for a provable read, else the primary's.
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
    if (isCursor(textOrConfig)) return this.submit(textOrConfig as QueryCursor);
    if (refuseCallbackAlone(textOrConfig, values, callback)) return undefined;
    let done: PgQueryCallback | undefined;
    let promise: Promise<QueryResult>;
    try {
      done = callbackOf(values, callback);
      if (this.released) throw new RouterError('PGR_CLIENT_RELEASED', 'query() on a client that was already released');
      parseQueryCall(textOrConfig, values, scratchCall);
      const { text, values: params, options } = scratchCall;
      this.pending++;
      if (this.pending === 1) promise = this.run(text, params, options);
      else {
        // Queued behind the statements before it, whatever their outcome, as pg queues a client's queries.
        const next = (): Promise<QueryResult> => this.run(text, params, options);
        promise = this.last!.then(next, next);
      }
      this.last = promise;
    } catch (error) {
      promise = Promise.reject(error as Error);
    }
    if (done === undefined) return promise;
    settleCallback(promise, done);
    return undefined;
  }

  /**
   * Gives the client back. A transaction still open is rolled back and session settings are reset before its
   * connection serves anyone else; a connection that holds other session state (LISTEN, temporary tables,
   * advisory locks, prepared statements, cursors) is closed, and so is any connection when `error` is given (as
   * pg-pool does). Calling it twice throws `RouterError` (`PGR_CLIENT_RELEASED`), as pg-pool does.
   */
  release(error?: Error | boolean): void {
    if (this.released)
      throw new RouterError('PGR_CLIENT_RELEASED', 'release() called on a client that was already released');
    this.released = true;
    this.destroyOnRelease = error !== undefined && error !== false;
    this.host.released(this, error instanceof Error ? error : undefined);
    if (this.pending === 0) this.giveBack();
  }

  private async run(text: unknown, values: unknown, options: ResultOptions | undefined): Promise<QueryResult> {
    try {
      if (this.connection === undefined) {
        if (this.lost !== undefined) throw connectionLost(this.lost);
        if (typeof text !== 'string') this.host.entry(text, values); // throws the router's own QueryError
        const pinning = this.host.pinning(text as string);
        if (pinning === UNPINNED) return await this.host.route(text as string, values, options);
        const entry = this.host.entry(text, values);
        const { node, connection } = await this.host.pin(pinning.begins && pinning.readOnly, this.holder);
        this.attach(node, connection);
        return await this.onPinned(text as string, values, options, entry, pinning);
      }
      return await this.onPinned(
        text as string,
        values,
        options,
        this.host.entry(text, values),
        this.host.pinning(text as string),
      );
    } catch (error) {
      // Here rather than in a .then() of its own: no extra promise per statement.
      throw QueryError.asServerError(error);
    } finally {
      if (--this.pending === 0 && this.released) this.giveBack();
    }
  }

  private async onPinned(
    text: string,
    values: unknown,
    options: ResultOptions | undefined,
    entry: ClassifierEntry,
    pinning: Pinning,
  ): Promise<QueryResult> {
    const connection = this.connection!;
    this.session |= pinning.session;
    if (pinning.dropsStatements) this.unnamed = true;
    const name = this.unnamed ? undefined : this.host.statementName(text, entry);
    try {
      return await connection.query(text, values as readonly unknown[] | undefined, name, options);
    } catch (error) {
      if (isConnectionLevelError(error)) this.lose(error as Error);
      throw error;
    } finally {
      // A transaction alone pins until it ends; PostgreSQL's own transaction status says when.
      if (
        this.connection === connection &&
        this.session === 0 &&
        connection.transactionStatus === 'I' &&
        !this.released
      )
        this.detach()?.release();
    }
  }

  /**
   * A cursor or stream (pg-cursor, pg-query-stream): queued behind this client's statements, run on a connection of
   * its own for as long as it is open (a replica's for a provable read, else the primary's), and unpinned once it is
   * done — read to the end, closed early, or failed — unless a transaction or session state holds the connection.
   */
  private submit<C extends QueryCursor>(cursor: C): C {
    if (this.released) throw new RouterError('PGR_CLIENT_RELEASED', 'query() on a client that was already released');
    if (this.lost !== undefined) throw connectionLost(this.lost);
    const before = this.last;
    this.pending++;
    const early = watchEarlyClose(cursor);
    const done = (async () => {
      let connection: NodeConnection | undefined;
      try {
        await before?.catch(() => undefined);
        if (early.closed) return;
        if (this.lost !== undefined) throw connectionLost(this.lost);
        connection = this.connection;
        if (connection === undefined) {
          const { node, connection: pinned } = await this.host.pin(this.readsOnly(cursor), this.holder);
          this.attach(node, pinned);
          connection = pinned;
        }
        early.stop();
        if (early.closed) return;
        const failure = await new Promise<unknown>((resolve) => connection!.submit(cursor, resolve));
        if (failure !== undefined && isConnectionLevelError(failure)) this.lose(failure as Error);
      } catch (error) {
        failSubmittable(cursor, error as Error);
      } finally {
        early.stop();
        if (
          connection !== undefined &&
          this.connection === connection &&
          this.session === 0 &&
          connection.transactionStatus === 'I' &&
          !this.released
        )
          this.detach()?.release();
        if (--this.pending === 0 && this.released) this.giveBack();
      }
    })();
    this.last = done;
    return cursor;
  }

  /** Whether a cursor's statement is a provable read that a replica may serve (its text read as `query()` reads it). */
  private readsOnly(cursor: QueryCursor): boolean {
    const source = cursor as { text?: unknown; values?: unknown; cursor?: { text?: unknown; values?: unknown } };
    const text = typeof source.text === 'string' ? source.text : source.cursor?.text;
    if (typeof text !== 'string') return false;
    try {
      const { classification, misrouted } = this.host.entry(
        text,
        source.text === text ? source.values : source.cursor?.values,
      );
      return (
        classification.kind === 'read' &&
        classification.route === 'replica' &&
        classification.functions.length === 0 &&
        !misrouted
      );
    } catch {
      return false; // pg reports what is wrong with it, from the primary
    }
  }

  private attach(node: string, connection: NodeConnection): void {
    this.connection = connection;
    this.pinnedNode = node;
    const notifications = connection.subscribe('notification', (message) => this.emit('notification', message));
    const notices = connection.subscribe('notice', (message) => this.emit('notice', message));
    this.unsubscribe = () => {
      notifications();
      notices();
    };
  }

  /** Unpins: the connection is no longer this client's; the caller returns or closes it. */
  private detach(): NodeConnection | undefined {
    const connection = this.connection;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.connection = undefined;
    this.pinnedNode = undefined;
    return connection;
  }

  private lose(error: Error): void {
    this.detach()?.release(true);
    this.lost = error;
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** Returns the pinned connection (if any) once nothing of this client is running. */
  private giveBack(): void {
    const settings = (this.session & SESSION_SETTINGS) !== 0;
    const closes = this.destroyOnRelease || (this.session & SESSION_STATE) !== 0;
    this.session = 0;
    const connection = this.detach();
    if (connection === undefined) return;
    if (closes) return connection.release(true);
    const status = connection.transactionStatus;
    const inTransaction = status !== 'I';
    if (!inTransaction && !settings) return connection.release();
    const reset =
      inTransaction && settings ? `ROLLBACK; ${RESET_SETTINGS}` : inTransaction ? 'ROLLBACK' : RESET_SETTINGS;
    connection.query(reset).then(
      () => connection.release(),
      () => connection.release(true),
    );
  }
}

/** Whether a cursor was closed before it reached a connection; see {@link watchEarlyClose}. */
interface EarlyClose {
  readonly closed: boolean;
  /** Stops watching (idempotent): once submitted, `close()` is the cursor's own business. */
  stop(): void;
}

/**
 * Watches `close()` of a cursor (pg-cursor's `Cursor`, or the one inside pg-query-stream's `QueryStream`, which its
 * `destroy()` closes) until it reaches a connection. pg-cursor closed with no connection settles at once and
 * forgets it was closed; submitted afterwards, it would open its portal with no Sync and leave the connection
 * waiting for good. pg submits a cursor synchronously on an idle client, so there this rarely shows; here a
 * cursor waits for the client's earlier statements and for a connection, and a close in that time is common.
 */
function watchEarlyClose(submittable: QueryCursor): EarlyClose {
  const inner = (submittable as { cursor?: unknown }).cursor;
  const target = (typeof inner === 'object' && inner !== null ? inner : submittable) as { close?: unknown };
  const original = target.close;
  if (typeof original !== 'function') return { closed: false, stop: () => undefined };
  const own = Object.hasOwn(target, 'close');
  let watching = true;
  const watch = {
    closed: false,
    stop(): void {
      if (!watching) return;
      watching = false;
      if (own) target.close = original;
      else delete target.close;
    },
  };
  target.close = function (this: unknown, ...args: unknown[]): unknown {
    watch.closed = true;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
  return watch;
}

/** The error for a statement on a client whose pinned connection failed. */
function connectionLost(cause: Error): QueryError {
  return new QueryError('08003', `this client's connection was lost (${cause.message}); release it and take another`, {
    cause,
  });
}
