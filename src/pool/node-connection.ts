import { sendableValues } from './parameter-values.js';
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import { QueryError } from '../errors.js';
import { isConnectionLevelError, mayHaveTakenEffect } from './connection-errors.js';
import { isConnectionFault } from './connection-health.js';
import { backendKeyOf, submitWatched } from './pg-internals.js';
import { runStatement, type StatementOptions } from './statement-run.js';

/** A connection taken from a {@link NodePool}, for a transaction. Release it exactly once. */
export interface NodeConnection {
  /** Runs one statement on this connection (prepared under `statementName` when given and cached). */
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: readonly unknown[],
    statementName?: string,
    options?: StatementOptions,
  ): Promise<QueryResult<R>>;
  /** The backend's process id (what `pg_backend_pid()` answers), or `undefined` where pg does not expose it. */
  readonly processID: number | undefined;
  /** PostgreSQL's transaction status after the last statement: idle, in a transaction, or in a failed one. */
  readonly transactionStatus: 'I' | 'T' | 'E' | undefined;
  /**
   * Runs a Submittable (a pg-cursor `Cursor`, a pg-query-stream `QueryStream`) on this connection, queued behind its
   * statements as pg queues them; `settled` is called once it is done (`undefined`) or its connection failed.
   */
  submit(submittable: object, settled: (error: unknown) => void): void;
  /** Hands the connection's LISTEN notifications or server notices to `listener` until the returned function is called. */
  subscribe(event: 'notification' | 'notice', listener: (message: unknown) => void): () => void;
  /** Returns the connection; with `destroy`, closes it instead (after a connection-level failure). */
  release(destroy?: boolean): void;
}

/** What a held connection tells the pool it came from: one object per pool, so a connection costs no closures of its own for it. */
export interface ConnectionOwner {
  /** The node's name, in errors. */
  readonly name: string;
  /** A statement starts on `client`. */
  began(): void;
  /**
   * That statement, begun at `startedAt` (performance.now() ms), ended: `ok`, or failed (`fault`: through the
   * connection's fault, see `isConnectionFault`).
   */
  finished(client: PoolClient, startedAt: number, ok: boolean, fault: boolean): void;
  /** The holder released `client`; `error` closes it instead of keeping it. */
  giveBack(client: PoolClient, error: Error | undefined): void;
}

/**
 * `client`, checked out of `owner`, as a {@link NodeConnection}: its statements run without the stale-plan retry
 * (inside a caller's transaction nothing may run twice), and a lost connection makes a statement that may have
 * taken effect reject as outcome-unknown. `leakTimer` is cleared at release.
 */
export function nodeConnection(
  owner: ConnectionOwner,
  client: PoolClient,
  leakTimer: NodeJS.Timeout | undefined,
): NodeConnection {
  let released = false;
  return {
    query: async <R extends QueryResultRow = QueryResultRow>(
      text: string,
      values?: readonly unknown[],
      statementName?: string,
      options?: StatementOptions,
    ) => {
      values = sendableValues(values);
      owner.began();
      const began = performance.now();
      const status = client.getTransactionStatus() ?? undefined;
      let ok = false;
      let fault = false;
      try {
        const result = await runStatement<R>(client, text, values, statementName, false, options);
        ok = true;
        return result;
      } catch (error) {
        fault = isConnectionFault(error, true);
        if (isConnectionLevelError(error) && mayHaveTakenEffect(text, status))
          throw QueryError.outcomeUnknown(error, owner.name);
        throw QueryError.from(error, { node: owner.name });
      } finally {
        owner.finished(client, began, ok, fault);
      }
    },
    submit: (submittable, settled) => {
      owner.began();
      const began = performance.now();
      submitWatched(client, submittable, (error) => {
        owner.finished(client, began, error === undefined, error !== undefined && isConnectionFault(error, true));
        settled(error);
      });
    },
    get processID() {
      return backendKeyOf(client)?.processID;
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
      owner.giveBack(client, destroy ? new Error('released after a connection-level error') : undefined);
    },
  };
}
