import type { QueryResult, QueryResultRow } from 'pg';
import type { QueryOptions } from '../config/index.js';
import type { NodeConnection, NodePool, StatementProbe } from '../pool/index.js';
import type { ClassifierEntry } from '../sql/index.js';
import type { RoutedNode } from './node-set.js';

/** A caller's options plus, for read-your-writes, a WAL-position probe riding in the same round trip. */
export type SentOptions = QueryOptions & { readonly probe?: StatementProbe; readonly leavesSession?: boolean };

/**
 * One `query()` call as the router runs it, on one node or (after a failure, a stale read) on another: the
 * statement's cached verdict, its text and parameters, its prepared-statement name and the caller's options.
 */
export class StatementCall {
  constructor(
    readonly entry: ClassifierEntry,
    readonly sql: string,
    readonly params: readonly unknown[] | undefined,
    /** The prepared-statement name, or `undefined` to run it unnamed. */
    readonly name: string | undefined,
    readonly options: QueryOptions | undefined,
  ) {}
}

// Module-level actions for the breakers: passed with their arguments, so a call allocates no closure.
/** Runs `call` on `pool` (no breaker): the action {@link fireOn} passes to the breaker. */
export const execute = <R extends QueryResultRow>(
  pool: NodePool,
  call: StatementCall,
  options: SentOptions | undefined,
): Promise<QueryResult<R>> => pool.execute<R>(call.sql, call.params, call.name, options?.timeoutMs, options);

/**
 * Runs `call` on `node` through its breaker (which, open, answers with its fail-fast error), with `options` in
 * place of the caller's when given (a probe riding along).
 */
export function fireOn<R extends QueryResultRow>(
  node: RoutedNode,
  call: StatementCall,
  options: SentOptions | undefined = call.options,
): Promise<QueryResult<R>> {
  return node.breaker.fire(execute<R>, node.pool, call, options);
}

/** Runs `call` on `node` through its breaker, rejecting with `CircuitOpenError` while it is open. */
export function callOn<R extends QueryResultRow>(node: RoutedNode, call: StatementCall): Promise<QueryResult<R>> {
  return node.breaker.call(execute<R>, node.pool, call, call.options);
}

const executeInternal = <R extends QueryResultRow>(
  pool: NodePool,
  sql: string,
  params: readonly unknown[] | undefined,
): Promise<QueryResult<R>> => pool.execute<R>(sql, params, undefined);

/** Runs a statement of the router's own (positions, catalog look-ups) on `node` through its breaker. */
export function fireInternal<R extends QueryResultRow>(
  node: RoutedNode,
  sql: string,
  params?: readonly unknown[],
): Promise<QueryResult<R>> {
  return node.breaker.fire(executeInternal<R>, node.pool, sql, params);
}

const acquire = (pool: NodePool, holder: string | undefined): Promise<NodeConnection> => pool.acquire(holder);

/**
 * Checks out one connection of `node` through its breaker (rejecting with `CircuitOpenError` while it is open), for
 * work that holds it: a transaction, a pinned client. `holder` is where the caller asked for it (leak reports).
 */
export function acquireFrom(node: RoutedNode, holder: string | undefined): Promise<NodeConnection> {
  const breaker = node.breaker;
  if (!breaker.admit()) return breaker.call(acquire, node.pool, holder);
  // A closed breaker told of the call directly, as statements are: one promise fewer than call()'s.
  return node.pool.acquire(holder).then(
    (connection) => {
      breaker.succeeded(connection);
      return connection;
    },
    (error: unknown) => {
      breaker.failed(error);
      throw error;
    },
  );
}
