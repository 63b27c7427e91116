import type { CustomTypesConfig, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { stateOf } from './client-state.js';
import { queryDirect } from './pg-query.js';
import { corkSocket, setPipelineMode, supportsPipelining, uncorkSocket } from './pg-internals.js';

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

/** Sends one statement, as a named prepared statement from this connection's cache when it has parameters. */
export function sendStatement<R extends QueryResultRow>(
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
  return queryDirect<R>(client, text, params, name, options?.rowMode, options?.types);
}

/**
 * Runs one statement on a checked-out connection (with its {@link StatementProbe}, if any). With `retryable` (no
 * transaction of the caller's around it), a statement whose cached plan went stale is prepared again and re-run.
 */
export async function runStatement<R extends QueryResultRow>(
  client: PoolClient,
  text: string,
  values: readonly unknown[] | undefined,
  statementName: string | undefined,
  retryable: boolean,
  options?: StatementOptions,
): Promise<QueryResult<R>> {
  if (options?.probe !== undefined) return runProbed<R>(client, text, values, statementName, options, options.probe);
  const cache = stateOf(client).cache;
  try {
    const result = await sendStatement<R>(client, text, values, statementName, options);
    cache?.settle();
    return result;
  } catch (error) {
    cache?.settle();
    if (!retryable) {
      // Inside the caller's transaction the error aborted it: note what it shows, re-send nothing.
      cache?.nodeSwitch?.noteFailure(error, statementName);
      throw error;
    }
    return prepareAgain<R>(error, client, text, values, statementName, options);
  }
}

function isStalePlan(error: unknown): boolean {
  const candidate = error as { code?: unknown; message?: unknown };
  return (
    candidate?.code === '0A000' &&
    typeof candidate.message === 'string' &&
    candidate.message.includes('cached plan must not change result type')
  );
}

/**
 * After DDL changes a table's shape, PostgreSQL refuses to reuse a statement's old plan. Outside a transaction
 * nothing ran, so the statement is prepared again and retried once, as postgres.js does. A statement its server
 * connection did not have is retried once unnamed. Any other error is thrown. Only for a statement outside a
 * transaction of the caller's (see `retryable` of {@link runStatement}).
 */
export function prepareAgain<R extends QueryResultRow>(
  error: unknown,
  client: PoolClient,
  text: string,
  values: readonly unknown[] | undefined,
  statementName: string | undefined,
  options: StatementOptions | undefined,
): Promise<QueryResult<R>> {
  const cache = stateOf(client).cache;
  if (statementName === undefined || cache === undefined) throw error;
  // Refused at Parse or Bind by a server connection that lacks it (a pooler in transaction mode): it never ran, and
  // with the node's cache now off it goes unnamed (see statement-cache-switch.ts).
  if (cache.nodeSwitch?.noteFailure(error, statementName) === true && client.getTransactionStatus() === 'I')
    return sendStatement<R>(client, text, values, statementName, options);
  if (!isStalePlan(error)) throw error;
  cache.forget(statementName);
  return sendStatement<R>(client, text, values, statementName, options);
}

/** {@link runStatement} with a {@link StatementProbe}: both leave in one write when pg can pipeline, else one after the other. */
async function runProbed<R extends QueryResultRow>(
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
    const result = await runStatement<R>(client, text, values, statementName, true, plain);
    if (!probe.before) readProbe(await client.query(probe.sql));
    return result;
  }
  setPipelineMode(client, true);
  corkSocket(client);
  let first: Promise<QueryResult>;
  let second: Promise<QueryResult>;
  try {
    first = probe.before ? client.query(probe.sql) : sendStatement(client, text, values, statementName, plain);
    second = probe.before ? sendStatement(client, text, values, statementName, plain) : client.query(probe.sql);
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
  return prepareAgain<R>(main.reason, client, text, values, statementName, plain);
}
