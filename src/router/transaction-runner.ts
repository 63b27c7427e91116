import { AsyncLocalStorage } from 'node:async_hooks';
import type { QueryResult } from 'pg';
import { TransactionRolledBackError } from '../errors.js';
import type { RouterTracing } from '../metrics/index.js';
import { isConnectionLevelError } from '../pool/index.js';
import type { NodeChoice } from './node-choice.js';
import type { NodeSet, RoutedNode } from './node-set.js';
import { COMMIT_WITH_POSITION_SQL, type SessionState } from './read-consistency.js';
import type { ReadYourWrites } from './read-your-writes.js';
import { acquireFrom } from './statement-call.js';
import type { StatementRouting } from './statement-routing.js';
import {
  Transaction,
  parseTransactionOptions,
  type TransactionClient,
  type TransactionOptions,
} from './transaction.js';
import { enterScopes, leaveScopes, type WorkloadScopes } from './workload-scope.js';

/** What running a transaction works with. */
export interface TransactionRunnerParts {
  readonly nodes: NodeSet;
  readonly choice: NodeChoice;
  readonly readYourWrites: ReadYourWrites;
  readonly statements: StatementRouting;
  readonly scopes: WorkloadScopes;
  readonly tracing: RouterTracing | undefined;
}

/**
 * `transaction()`: the node (the primary, or a replica for a read-only one that read-your-writes allows), one
 * connection for `BEGIN`, the callback and `COMMIT` (with the commit's WAL position for a session), `ROLLBACK` on
 * any failure, and a SAVEPOINT instead of a second connection for a transaction opened inside another's callback.
 */
export class TransactionRunner {
  /** The transaction whose callback is running (across awaits): a `transaction()` inside it becomes a SAVEPOINT. */
  private readonly open = new AsyncLocalStorage<Transaction>();
  /**
   * Callbacks running now. When the last one ends, {@link open} is disabled: on Node 20 an enabled
   * AsyncLocalStorage hooks every promise the process makes (the application's, pg's, the router's), which costs
   * several microseconds a statement, so a router whose transactions are occasional pays for them only while one
   * is open. A callback's work that outlives it finds no transaction either way (a finished one is no outer).
   */
  private callbacks = 0;

  constructor(private readonly parts: TransactionRunnerParts) {}

  /** Runs `fn` in a transaction; `holder` is where the caller asked for it (for leak reports). */
  async run<T>(
    fn: (tx: TransactionClient) => Promise<T>,
    options: TransactionOptions | undefined,
    holder: string | undefined,
  ): Promise<T> {
    // Called inside a transaction's callback: a SAVEPOINT on that transaction's connection, as query builders do,
    // never a second connection (whose work would commit even if the outer one rolled back, or wait for its locks).
    const outer = this.callbacks === 0 ? undefined : this.open.getStore();
    if (outer !== undefined && !outer.isFinished) return outer.transaction(fn, options);
    const { begin, readOnly, serializable } = parseTransactionOptions(options);
    // In a read-your-writes session a read-only transaction needs a replica known to have the session's writes;
    // a writing one reports its commit's position.
    const session = this.parts.readYourWrites.current();
    const rywSession = session?.consistency === 'read-your-writes' ? session : undefined;
    const target = this.parts.choice.forConnection(
      readOnly && !serializable,
      this.parts.readYourWrites.positionOf(rywSession),
    );
    const track = rywSession !== undefined && target === this.parts.nodes.primary && !readOnly ? rywSession : undefined;
    const { scopes } = this.parts;
    const active = scopes.used ? scopes.current() : undefined;
    if (active === undefined) return this.runOn(target, fn, begin, holder, track);
    // A transaction holds one connection of its node throughout: it counts as one statement in flight there.
    const node = this.parts.nodes.indexOf(target);
    enterScopes(active, node);
    try {
      return await this.runOn(target, fn, begin, holder, track);
    } finally {
      leaveScopes(active, node);
    }
  }

  /** {@link runTransaction}, in a span when tracing is on (without it, the transaction's own promise, no extra hop). */
  private runOn<T>(
    target: RoutedNode,
    fn: (tx: TransactionClient) => Promise<T>,
    begin: string,
    holder: string | undefined,
    track: SessionState | undefined,
  ): Promise<T> {
    const span = this.parts.tracing?.transaction(target, begin);
    const running = this.runTransaction(target, fn, begin, holder, track);
    if (span === undefined) return running;
    return running.then(
      (result) => {
        span.end();
        return result;
      },
      (error: unknown) => {
        span.end(error);
        throw error;
      },
    );
  }

  private async runTransaction<T>(
    target: RoutedNode,
    fn: (tx: TransactionClient) => Promise<T>,
    begin: string,
    holder: string | undefined,
    track: SessionState | undefined,
  ): Promise<T> {
    const connection = await acquireFrom(target, holder);
    const { classifier, statementCacheEnabled } = this.parts.statements;
    const tx = new Transaction(target.node.name, connection, classifier, statementCacheEnabled);
    let begun = false;
    let result: T;
    let committed: string | undefined;
    try {
      await connection.query(begin);
      begun = true;
      this.callbacks++;
      try {
        result = await this.open.run(tx, fn, tx);
      } finally {
        if (--this.callbacks === 0) this.open.disable();
      }
      tx.finish();
      if (track === undefined) committed = (await connection.query('COMMIT')).command;
      else {
        // COMMIT and the position covering it in one round trip; pg answers a multi-statement string with one result each.
        const results = (await connection.query(COMMIT_WITH_POSITION_SQL)) as unknown;
        committed = Array.isArray(results) ? (results[0] as QueryResult | undefined)?.command : undefined;
        this.parts.readYourWrites.noteWrite(
          track,
          Array.isArray(results) ? (results[1] as QueryResult<{ lsn: string }> | undefined)?.rows[0]?.lsn : undefined,
        );
      }
    } catch (error) {
      tx.finish();
      if (!begun) {
        connection.release(isConnectionLevelError(error));
        throw error;
      }
      try {
        await connection.query('ROLLBACK');
        connection.release();
      } catch {
        connection.release(true);
      }
      throw error;
    }
    connection.release();
    // PostgreSQL answers COMMIT of a failed transaction with the tag ROLLBACK, not an error: nothing was kept.
    if (committed === 'ROLLBACK') throw new TransactionRolledBackError(target.node.name, { cause: tx.failure });
    return result;
  }
}
