import type { CustomTypesConfig, QueryResult, QueryResultRow } from 'pg';
import { ConfigError, QueryError } from '../errors.js';

/**
 * The arguments of `pg`'s `query(textOrConfig, values?, callback?)`, as the routed pool and its clients accept
 * them, taken apart and checked.
 */

/** A `pg` query config object, as the routed pool accepts it. */
export interface PgQueryConfig {
  /** The SQL. */
  text: string;
  /** Parameter values for `$1`, `$2`, …; a `values` argument given beside the config wins, as in pg. */
  values?: readonly unknown[];
  /**
   * pg's prepared-statement name. Accepted, but the router prepares parameterised statements itself, in its
   * bounded per-connection cache, under names derived from the text.
   */
  name?: string;
  /** `'array'`: rows as arrays in column order. */
  rowMode?: 'array';
  /** Type parsers for this statement's result. */
  types?: CustomTypesConfig;
}

/** pg's node-style callback. */
export type PgQueryCallback<R extends QueryResultRow = QueryResultRow> = (
  error: Error | undefined,
  result: QueryResult<R> | undefined,
) => void;

/** pg's result options, passed on to the statement. */
export interface ResultOptions {
  /** `'array'`: rows as arrays in column order. */
  readonly rowMode?: 'array';
  /** Type parsers for this statement's result. */
  readonly types?: CustomTypesConfig;
}

/** A cursor or stream handed to `query()`: a pg Submittable such as pg-cursor's `Cursor` or pg-query-stream's `QueryStream`. */
export interface QueryCursor {
  /** pg's Submittable contract: pg calls it when the connection is ready for the cursor's messages. */
  submit(connection: unknown): void;
}

/** Checks `rowMode`, `types` and `signal` of a query's options; throws {@link ConfigError} naming the bad one. */
export function checkResultOptions(options: {
  readonly rowMode?: unknown;
  readonly types?: unknown;
  readonly signal?: unknown;
}): void {
  const { rowMode, types, signal } = options;
  if (rowMode !== undefined && rowMode !== 'array')
    throw new ConfigError('query.rowMode', `must be 'array' or undefined, got ${JSON.stringify(rowMode)}`);
  if (
    types !== undefined &&
    (typeof types !== 'object' ||
      types === null ||
      typeof (types as { getTypeParser?: unknown }).getTypeParser !== 'function')
  ) {
    throw new ConfigError('query.types', 'must be an object with a getTypeParser(oid, format) method');
  }
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new ConfigError('query.signal', 'must be an AbortSignal');
}

/** One `query()` call, taken apart. The text is not checked here: the router rejects what is not a string. */
export interface QueryCall {
  /** The SQL as given (a string unless the caller erred). */
  text: unknown;
  /** The parameter values (`undefined` for none). */
  values: unknown;
  /** `rowMode` and `types` when asked for. */
  options: ResultOptions | undefined;
}

/** The one scratch {@link QueryCall}: filled and read in the same synchronous stretch, so it is never shared. */
export const scratchCall: QueryCall = { text: undefined, values: undefined, options: undefined };

/**
 * Takes pg's arguments apart into `call` (normally {@link scratchCall}, read at once, so a call allocates nothing
 * here unless it asks for `rowMode` or `types`). A function in place of `values` is the callback, handled by the
 * caller; cursors are refused before (see {@link isCursor}). Throws {@link ConfigError} for a bad `rowMode`,
 * `types` or `binary`.
 */
export function parseQueryCall(textOrConfig: unknown, values: unknown, call: QueryCall): void {
  let given = typeof values === 'function' || values === null ? undefined : values;
  if (typeof textOrConfig !== 'object' || textOrConfig === null) {
    call.text = textOrConfig;
    call.values = given;
    call.options = undefined;
    return;
  }
  // Every field is read before `call` is written: a getter on the config cannot see or spoil a half-filled call.
  const {
    text,
    values: configValues,
    rowMode,
    types,
    binary,
  } = textOrConfig as Partial<Record<keyof PgQueryConfig | 'binary', unknown>>;
  given ??= configValues ?? undefined;
  if (binary === true) throw new ConfigError('query.binary', 'binary results are not supported by the routed pool');
  let options: ResultOptions | undefined;
  if (rowMode !== undefined || types !== undefined) {
    checkResultOptions({ rowMode, types });
    options = { rowMode: rowMode as 'array' | undefined, types: types as CustomTypesConfig | undefined };
  }
  call.text = text;
  call.values = given;
  call.options = options;
}

/** True for a cursor or stream object (pg's Submittable, or anything with `read()`), which pg runs synchronously. */
export function isCursor(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (typeof (value as { submit?: unknown }).submit === 'function' ||
      typeof (value as { read?: unknown }).read === 'function')
  );
}

/** The callback of a `query()` call: the function in `values`' place, else `callback`; throws if `callback` is not a function. */
/**
 * `query(callback)` with nothing else, which pg.Pool answers with an error through that callback: calls it so, on a
 * later tick, and returns true; false for any other call.
 */
export function refuseCallbackAlone(textOrConfig: unknown, values: unknown, callback: unknown): boolean {
  if (typeof textOrConfig !== 'function' || values !== undefined || callback !== undefined) return false;
  const error = new QueryError('PGR_INVALID_QUERY', 'query() needs SQL text or a config object before its callback');
  setImmediate(() => (textOrConfig as PgQueryCallback)(error, undefined));
  return true;
}

export function callbackOf(values: unknown, callback: unknown): PgQueryCallback | undefined {
  if (typeof values === 'function') return values as PgQueryCallback;
  if (callback === undefined) return undefined;
  if (typeof callback !== 'function')
    throw new QueryError('PGR_INVALID_QUERY', `callback must be a function, got ${typeof callback}`);
  return callback as PgQueryCallback;
}

/**
 * Settles `callback` from `promise`, as pg does for a query given a callback. The callback runs outside the promise
 * chain: what it throws is an uncaught exception, as with pg (where test runners and process handlers expect it),
 * never an unhandled rejection of a promise nobody sees.
 */
export function settleCallback<R extends QueryResultRow>(
  promise: Promise<QueryResult<R>>,
  callback: PgQueryCallback<R>,
): void {
  promise.then(
    (result) => process.nextTick(callback, undefined, result),
    (error: unknown) =>
      process.nextTick(callback, error instanceof Error ? error : new Error(String(error)), undefined),
  );
}
