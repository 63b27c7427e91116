import { sendableValues } from './parameter-values.js';
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import { QueryError } from '../errors.js';
import { isConnectionLevelError, mayHaveTakenEffect } from './connection-errors.js';
import { isConnectionFault } from './connection-health.js';
import { backendKeyOf, submitWatched } from './pg-internals.js';
import { stateOf } from './client-state.js';
import { runStatement, sendStatement, type StatementOptions } from './statement-run.js';

/** A connection taken from a {@link NodePool}, for a transaction. Release it exactly once. */
export interface NodeConnection {
  /**
   * Runs one statement on this connection (prepared under `statementName` when given and cached). `failed`, when
   * given, hears the error a failing statement rejects with before the caller does (a transaction notes the
   * first one so), without another promise around the call.
   */
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: readonly unknown[],
    statementName?: string,
    options?: StatementOptions,
    failed?: (error: unknown) => void,
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
    // Not async, and runStatement() written out for a statement without a probe: inside a transaction every
    // statement passes here, and each async frame and await would cost it a promise (two with promise hooks on, as
    // an AsyncLocalStorage turns them on).
    query: <R extends QueryResultRow = QueryResultRow>(
      text: string,
      values?: readonly unknown[],
      statementName?: string,
      options?: StatementOptions,
      failed?: (error: unknown) => void,
    ): Promise<QueryResult<R>> => {
      let sent: Promise<QueryResult<R>>;
      try {
        values = sendableValues(values);
      } catch (error) {
        failed?.(error);
        return Promise.reject(error as Error);
      }
      owner.began();
      const began = performance.now();
      const status = client.getTransactionStatus() ?? undefined;
      const probed = options?.probe !== undefined;
      const cache = probed ? undefined : stateOf(client).cache;
      try {
        sent = probed
          ? runStatement<R>(client, text, values, statementName, false, options)
          : sendStatement<R>(client, text, values, statementName, options);
      } catch (error) {
        sent = Promise.reject(error as Error);
      }
      return sent.then(
        (result) => {
          cache?.settle();
          owner.finished(client, began, true, false);
          return result;
        },
        (error: unknown) => {
          if (!probed) {
            cache?.settle();
            // Inside the caller's transaction the error aborted it: note what it shows, re-send nothing.
            cache?.nodeSwitch?.noteFailure(error, statementName);
          }
          const fault = isConnectionFault(error, true);
          const thrown =
            isConnectionLevelError(error) && mayHaveTakenEffect(text, status)
              ? QueryError.outcomeUnknown(error, owner.name)
              : QueryError.from(error, { node: owner.name });
          owner.finished(client, began, false, fault);
          failed?.(thrown);
          throw thrown;
        },
      );
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
