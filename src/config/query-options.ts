import type { CustomTypesConfig } from 'pg';
import { ConfigError } from '../errors.js';
import type { FallbackFunction } from './options.js';
import type { Route } from '../sql/classification.js';

/** Per-call options of {@link QueryRouter.query}. */
export interface QueryOptions {
  /**
   * `'auto'` (default) routes by classification; `'primary'` forces the primary (e.g. to read your own write);
   * `'replica'` forces a replica even for a statement not proven to be a read (the replica will reject a write
   * with SQLSTATE 25006). With no replicas configured every statement runs on the primary.
   */
  route?: 'auto' | Route;
  /**
   * Turns a node failure of this statement (after the read fallbacks) into a result of your own; wins over the
   * router's `fallback` option. Never called for the caller's own errors (syntax, constraints, permissions).
   */
  fallback?: FallbackFunction;
  /** Statement timeout for this call, in milliseconds (`0`: none); default `breaker.timeoutMs`. */
  timeoutMs?: number;
  /**
   * Aborting it cancels the statement: a cancel request goes to the server if it is running, and waiting for a
   * connection stops. The call then rejects with a `QueryError` whose `code` is `'57014'` (query_canceled); a
   * statement that finished first keeps its result. Never retried on another node, never counted by a breaker.
   */
  signal?: AbortSignal;
  /** `'array'`: rows come back as arrays of values in column order, as pg's `rowMode: 'array'` (`fields` names them). */
  rowMode?: 'array';
  /** Type parsers for this statement's result, as pg's per-query `types` (`{ getTypeParser(oid, format) }`). */
  types?: CustomTypesConfig;
  /**
   * A token from {@link QueryRouter.consistencyToken} (another request's, another process's): a read runs on a
   * replica only if it has replayed every write the token covers, else on the primary.
   */
  after?: string;
}

/** Options of {@link QueryRouter.close}. */
export interface CloseOptions {
  /**
   * How long to wait for running statements, transactions and pipelines, in milliseconds; connections still
   * busy then are cut. Default: wait for them however long they take.
   */
  timeoutMs?: number;
}

/** The `timeoutMs` of {@link CloseOptions}, checked: throws {@link ConfigError} for anything but an integer ≥ 0. */
export function closeTimeoutOf(options: CloseOptions | undefined): number | undefined {
  const timeoutMs = options?.timeoutMs;
  if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs < 0))
    throw new ConfigError('close.timeoutMs', `must be an integer ≥ 0, got ${JSON.stringify(timeoutMs)}`);
  return timeoutMs;
}
