/**
 * Typed errors of pg-query-router.
 *
 * Every error has a stable `code`. Errors raised by PostgreSQL keep their SQLSTATE in `code` (for example
 * `'23505'` for a unique violation), exactly as `pg` reports it; errors raised by the router itself use codes
 * that start with `PGR_`. Messages never contain connection strings or passwords.
 *
 * `instanceof` fails when two copies of the package are installed, so each class has a guard
 * (`isRouterError(e)`, `isQueryError(e)`, …) that checks a brand instead.
 */

const BRAND = Symbol.for('pg-query-router.error');

/** Stable codes of errors raised by the router itself (PostgreSQL errors use their SQLSTATE instead). */
export type RouterErrorCode =
  | 'PGR_CONFIG'
  | 'PGR_ROUTER_CLOSED'
  | 'PGR_INVALID_QUERY'
  | 'PGR_PARAMETER_COUNT'
  | 'PGR_TRANSACTION_FINISHED'
  | 'PGR_CLIENT_RELEASED'
  | 'PGR_ACQUIRE_TIMEOUT'
  | 'PGR_CIRCUIT_OPEN'
  | 'PGR_PIPELINE_FULL'
  | 'PGR_PIPELINE_CLOSED'
  | 'PGR_BATCH_ABORTED'
  | 'PGR_TRANSACTION_ROLLED_BACK'
  | 'PGR_QUERY_FAILED'
  | 'PGR_NO_PRIMARY'
  | 'PGR_NODE_TIMEOUT';

/** Base class of every error the router raises. */
export class RouterError extends Error {
  /** A `PGR_…` code for the router's own errors, or PostgreSQL's SQLSTATE / Node's errno code for query failures. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(redactSecrets(message), options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: new.target.name, enumerable: false });
  }

  /**
   * `instanceof` also holds for a PostgreSQL error that `asPool()` hands out as pg's own `DatabaseError` with the
   * router's fields on it (see {@link QueryError.asServerError}): it is a `QueryError` and a `RouterError` too.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return (this === RouterError || this === QueryError) && hasBrand(value, 'QueryError');
  }
}

/**
 * An option was missing, unknown or had a value of the wrong type or range.
 *
 * @example
 * new QueryRouter({ primary: url, pool: { max: 0 } }); // ConfigError: pool.max must be an integer ≥ 1, got 0
 */
export class ConfigError extends RouterError {
  /** The option at fault, as a dotted path (`'pool.max'`) or an environment variable name. */
  readonly key: string;

  constructor(key: string, message: string) {
    super('PGR_CONFIG', `${key}: ${message}`);
    this.key = key;
  }
}

/** The router (or the transaction) was used after `close()`. */
export class RouterClosedError extends RouterError {
  constructor(what = 'the router') {
    super('PGR_ROUTER_CLOSED', `${what} is closed`);
  }
}

/** Where a failed statement ran. */
export interface QueryErrorContext {
  /** The node's name (`'primary'`, `'replica-0'`, …), when the statement reached a node. */
  readonly node?: string;
  /** The statement's fingerprint hash, when it was classified. */
  readonly fingerprintHash?: string;
  /** The statement was sent and its result never came back: see {@link QueryError.outcomeUnknown}. */
  readonly outcomeUnknown?: boolean;
}

/**
 * A statement was rejected: either before it was sent (empty or non-string SQL, wrong parameter count;
 * `code` starts with `PGR_`) or by PostgreSQL or the connection (`code` is the SQLSTATE, e.g. `'42601'`, or a
 * Node errno such as `'ECONNREFUSED'`). PostgreSQL's diagnostic fields are copied; the original error is `cause`.
 */
export class QueryError extends RouterError {
  /** PostgreSQL's severity (`ERROR`, `FATAL`, …), when the server reported the error. */
  readonly severity: string | undefined;
  /** PostgreSQL's DETAIL line. */
  readonly detail: string | undefined;
  /** PostgreSQL's HINT line. */
  readonly hint: string | undefined;
  /** 1-based character position of the error in the statement, as PostgreSQL reports it. */
  readonly position: string | undefined;
  /** Schema, table, column, data type and constraint names that PostgreSQL attached, if any. */
  readonly schema: string | undefined;
  readonly table: string | undefined;
  readonly column: string | undefined;
  readonly dataType: string | undefined;
  readonly constraint: string | undefined;
  /** The node the statement ran on, when it reached one. */
  readonly node: string | undefined;
  /** The statement's fingerprint hash (never the SQL text, which may carry secrets). */
  readonly fingerprintHash: string | undefined;
  /**
   * `true` when the statement was sent and then its connection was lost, or its node stopped answering, before
   * its result arrived: it may or may not have taken effect (a COMMIT may have landed). The router never re-sends
   * such a statement; retry it only if it is idempotent, or after checking whether it happened. A rejection
   * without this flag means the statement did not take effect.
   */
  readonly outcomeUnknown: boolean;

  constructor(code: string, message: string, options?: { cause?: unknown; context?: QueryErrorContext }) {
    super(code, message, options);
    const source = (options?.cause ?? {}) as Partial<Record<string, unknown>>;
    const text = (key: string): string | undefined =>
      typeof source[key] === 'string' ? (source[key] as string) : undefined;
    this.severity = text('severity');
    this.detail = text('detail');
    this.hint = text('hint');
    this.position = text('position');
    this.schema = text('schema');
    this.table = text('table');
    this.column = text('column');
    this.dataType = text('dataType');
    this.constraint = text('constraint');
    this.node = options?.context?.node;
    this.fingerprintHash = options?.context?.fingerprintHash;
    this.outcomeUnknown = options?.context?.outcomeUnknown === true;
  }

  /**
   * `error` as a QueryError marked {@link outcomeUnknown} (the same one when it already is): for a statement that
   * was sent on a connection that then failed.
   */
  static outcomeUnknown(error: unknown, node?: string): QueryError {
    if (isQueryError(error)) {
      if (error.outcomeUnknown) return error;
      return new QueryError(error.code, error.message, {
        cause: error.cause ?? error,
        context: { node: error.node ?? node, fingerprintHash: error.fingerprintHash, outcomeUnknown: true },
      });
    }
    return QueryError.from(error, { node, outcomeUnknown: true });
  }

  /**
   * For code written against pg (`asPool()`): a QueryError that wraps a PostgreSQL error becomes that error itself
   * (`instanceof pg.DatabaseError`, as pg code and query builders check), carrying the router's `node`,
   * `fingerprintHash` and `outcomeUnknown`, and still a QueryError to `isQueryError` and `instanceof`. Anything
   * else is returned as it is.
   */
  static asServerError(error: unknown): unknown {
    if (!isQueryError(error)) return error;
    const server = error.cause as Record<string | symbol, unknown> | undefined;
    if (typeof server !== 'object' || server === null || typeof server['severity'] !== 'string') return error;
    if (!(server instanceof Error) || isRouterError(server)) return error;
    server['node'] = error.node;
    server['fingerprintHash'] = error.fingerprintHash;
    server['outcomeUnknown'] = error.outcomeUnknown;
    Object.defineProperty(server, BRAND, { value: 'QueryError', enumerable: false, configurable: true });
    return server;
  }

  /** Wraps whatever a node threw (a `pg` DatabaseError, a socket error, …) into a QueryError, keeping its code. */
  static from(error: unknown, context?: QueryErrorContext): QueryError {
    if (isQueryError(error)) return error;
    const code =
      typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'PGR_QUERY_FAILED';
    const message = error instanceof Error ? error.message : String(error);
    return new QueryError(code, message, { cause: error, context });
  }
}

/**
 * No connection could be taken from a node's pool within `pool.acquireTimeoutMs`: every connection was busy and
 * `pool.max` reached, or the node did not accept a new connection in time.
 */
export class AcquireTimeoutError extends RouterError {
  /** The node whose pool was exhausted. */
  readonly node: string;
  /** How long the caller waited, in milliseconds. */
  readonly waitedMs: number;

  constructor(
    node: string,
    waitedMs: number,
    options?: { cause?: unknown; pool?: { total: number; max: number; idle: number; waiting: number } },
  ) {
    const pool = options?.pool;
    const state =
      pool === undefined
        ? 'pool exhausted or node not answering'
        : `pool ${pool.total - pool.idle}/${pool.max} in use, ${pool.idle} idle, ${pool.waiting} waiting`;
    super('PGR_ACQUIRE_TIMEOUT', `no connection to ${node} within ${waitedMs} ms (${state})`, options);
    this.node = node;
    this.waitedMs = waitedMs;
  }
}

/** A node's circuit breaker is open: calls fail at once until `retryAt`. */
export class CircuitOpenError extends RouterError {
  /** The node whose breaker is open. */
  readonly node: string;
  /** When the breaker lets a trial call through again (epoch milliseconds). */
  readonly retryAt: number;

  constructor(node: string, retryAt: number, options?: { cause?: unknown }) {
    super(
      'PGR_CIRCUIT_OPEN',
      `circuit open for ${node}; next attempt after ${new Date(retryAt).toISOString()}`,
      options,
    );
    this.node = node;
    this.retryAt = retryAt;
  }
}

/** A pipeline's queue held `maxQueueSize` statements and `onFull` is `'reject'`. */
export class PipelineFullError extends RouterError {
  /** The queue's capacity. */
  readonly maxQueueSize: number;

  constructor(maxQueueSize: number) {
    super('PGR_PIPELINE_FULL', `pipeline queue is full (${maxQueueSize} statements waiting)`);
    this.maxQueueSize = maxQueueSize;
  }
}

/** `addQuery` was called on a pipeline after `close()`. */
export class PipelineClosedError extends RouterError {
  constructor() {
    super('PGR_PIPELINE_CLOSED', 'pipeline is closed');
  }
}

/** In an atomic batch another statement failed, so this one was rolled back with the rest of the batch. */
export class BatchAbortedError extends RouterError {
  /** Index, within the batch, of the statement whose failure aborted it. */
  readonly failedIndex: number;

  constructor(failedIndex: number, options?: { cause?: unknown }) {
    super('PGR_BATCH_ABORTED', `batch rolled back: statement ${failedIndex} of the batch failed`, options);
    this.failedIndex = failedIndex;
  }
}

/**
 * `transaction()`'s COMMIT was answered with ROLLBACK: a statement of the transaction had failed (its error was
 * caught inside the callback, which then returned normally), so PostgreSQL kept nothing of the transaction.
 * `cause` is that statement's error, when it ran through the transaction handle.
 */
export class TransactionRolledBackError extends RouterError {
  /** The node the transaction ran on. */
  readonly node: string;

  constructor(node: string, options?: { cause?: unknown }) {
    super(
      'PGR_TRANSACTION_ROLLED_BACK',
      `COMMIT on ${node} was answered with ROLLBACK: a statement of the transaction had failed, so none of it was kept`,
      options,
    );
    this.node = node;
  }
}

function hasBrand(error: unknown, name?: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const brand = (error as Record<symbol, unknown>)[BRAND];
  return typeof brand === 'string' && (name === undefined || brand === name);
}

/** True for any error raised by pg-query-router (works across duplicate installs, unlike `instanceof`). */
export const isRouterError = (error: unknown): error is RouterError => hasBrand(error);
/** True for a {@link ConfigError}. */
export const isConfigError = (error: unknown): error is ConfigError => hasBrand(error, 'ConfigError');
/** True for a {@link QueryError}. */
export const isQueryError = (error: unknown): error is QueryError => hasBrand(error, 'QueryError');
/** True for a {@link RouterClosedError}. */
export const isRouterClosedError = (error: unknown): error is RouterClosedError => hasBrand(error, 'RouterClosedError');
/** True for an {@link AcquireTimeoutError}. */
export const isAcquireTimeoutError = (error: unknown): error is AcquireTimeoutError =>
  hasBrand(error, 'AcquireTimeoutError');
/** True for a {@link CircuitOpenError}. */
export const isCircuitOpenError = (error: unknown): error is CircuitOpenError => hasBrand(error, 'CircuitOpenError');
/** True for a {@link PipelineFullError}. */
export const isPipelineFullError = (error: unknown): error is PipelineFullError => hasBrand(error, 'PipelineFullError');
/** True for a {@link PipelineClosedError}. */
export const isPipelineClosedError = (error: unknown): error is PipelineClosedError =>
  hasBrand(error, 'PipelineClosedError');
/** True for a {@link BatchAbortedError}. */
export const isBatchAbortedError = (error: unknown): error is BatchAbortedError => hasBrand(error, 'BatchAbortedError');
/**
 * True when `error` says its statement may or may not have taken effect ({@link QueryError.outcomeUnknown}): the
 * one case where a caller must check before retrying a write.
 */
export const isOutcomeUnknown = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { outcomeUnknown?: unknown }).outcomeUnknown === true;
/** True for a {@link TransactionRolledBackError}. */
export const isTransactionRolledBackError = (error: unknown): error is TransactionRolledBackError =>
  hasBrand(error, 'TransactionRolledBackError');

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^/@\s:]*)(:[^/@\s]*)?@/gi;
const KEYWORD_PASSWORD = /\b(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi;

/**
 * Removes credentials from a text: `postgres://user:secret@host` becomes `postgres://user:***@host`, and
 * `password=secret` in a keyword/value connection string becomes `password=***`.
 */
export function redactSecrets(text: string): string {
  if (!text.includes('@') && !/password/i.test(text)) return text;
  return text
    .replace(
      URL_CREDENTIALS,
      (_m, scheme: string, user: string, pass: string | undefined) =>
        `${scheme}${user}${pass === undefined ? '' : ':***'}@`,
    )
    .replace(KEYWORD_PASSWORD, '$1***');
}
