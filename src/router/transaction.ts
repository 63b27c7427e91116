import { INSPECT, inspectAs } from '../safe-inspect.js';
import type { InspectOptions } from 'node:util';
import type { QueryResult, QueryResultRow } from 'pg';
import { ConfigError, RouterError } from '../errors.js';
import type { NodeConnection } from '../pool/index.js';
import { statementNameFor, type Classifier } from '../sql/classification-cache.js';
import { checkStatement } from './statement-input.js';

/** SQL isolation levels accepted by {@link TransactionOptions.isolationLevel}. */
export type IsolationLevel = 'read uncommitted' | 'read committed' | 'repeatable read' | 'serializable';

/** Options of `router.transaction()`. */
export interface TransactionOptions {
  /** Isolation level of the transaction. Default: the server's (`read committed` unless configured otherwise). */
  isolationLevel?: IsolationLevel;
  /**
   * A read-only transaction, which may run on a replica (one chosen like a read); `serializable` read-only
   * transactions stay on the primary, because a standby cannot run SERIALIZABLE. Default `false`.
   */
  readOnly?: boolean;
}

/** The handle a transaction callback receives: every statement runs on the transaction's one connection. */
export interface TransactionClient {
  /** The node the transaction runs on (`'primary'` or a replica's name). */
  readonly node: string;
  /** Runs a statement inside the transaction. */
  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /**
   * A nested transaction: `fn` runs inside a SAVEPOINT of this one, on the same connection. Released when `fn`
   * returns; rolled back to (undoing only what `fn` did) and the error rethrown when it throws. The outer
   * transaction commits or rolls back everything. `router.transaction()` called inside a transaction's callback
   * does the same. Isolation level and read-only mode are the outer transaction's.
   */
  transaction<T>(fn: (tx: TransactionClient) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

const ISOLATION_LEVELS: readonly IsolationLevel[] = [
  'read uncommitted',
  'read committed',
  'repeatable read',
  'serializable',
];

/** Validated transaction options and the BEGIN statement they make. */
export function parseTransactionOptions(options: unknown): { begin: string; readOnly: boolean; serializable: boolean } {
  if (options === undefined) return { begin: 'BEGIN', readOnly: false, serializable: false };
  if (typeof options !== 'object' || options === null)
    throw new ConfigError('transaction options', 'must be an object');
  const record = options as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== 'isolationLevel' && key !== 'readOnly')
      throw new ConfigError(`transaction.${key}`, 'unknown option; expected isolationLevel, readOnly');
  }
  const level = record['isolationLevel'];
  if (level !== undefined && !ISOLATION_LEVELS.includes(level as IsolationLevel)) {
    throw new ConfigError(
      'transaction.isolationLevel',
      `must be one of ${ISOLATION_LEVELS.join(', ')}, got ${JSON.stringify(level)}`,
    );
  }
  const readOnly = record['readOnly'] ?? false;
  if (typeof readOnly !== 'boolean')
    throw new ConfigError('transaction.readOnly', `must be a boolean, got ${JSON.stringify(readOnly)}`);
  let begin = 'BEGIN';
  if (level !== undefined) begin += ` ISOLATION LEVEL ${(level as string).toUpperCase()}`;
  if (readOnly) begin += ' READ ONLY';
  return { begin, readOnly, serializable: level === 'serializable' };
}

/** The {@link TransactionClient} given to a callback; refuses statements once the transaction has ended. */
export class Transaction implements TransactionClient {
  private finished = false;
  private savepoints = 0;
  /** The first statement error, which aborted the transaction even if the callback caught it. */
  failure: unknown;

  constructor(
    readonly node: string,
    private readonly connection: NodeConnection,
    private readonly classifier: Classifier,
    private readonly statementCacheEnabled: boolean,
  ) {}

  // Not async: the connection's own promise is returned, and it reports a failure to noteFailure first, so a
  // statement inside a transaction costs no promise of its own here (see nodeConnection's query).
  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    if (this.finished)
      return Promise.reject(
        new RouterError('PGR_TRANSACTION_FINISHED', 'the transaction has already committed or rolled back'),
      );
    let name: string | undefined;
    try {
      const entry = checkStatement(this.classifier, sql, params);
      if (this.statementCacheEnabled && params !== undefined && params.length > 0)
        name = entry.statementName ??= statementNameFor(sql);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.connection.query<R>(sql, params, name, undefined, this.noteFailure);
  }

  /** Keeps the first statement error: it aborted the transaction even if the callback caught it. */
  private readonly noteFailure = (error: unknown): void => {
    this.failure ??= error;
  };

  /** What `console.log(tx)` shows: its node and state, never the connection behind it. */
  [INSPECT](depth: number, options: InspectOptions): string {
    return inspectAs('Transaction', { node: this.node, finished: this.finished }, depth, options);
  }

  async transaction<T>(fn: (tx: TransactionClient) => Promise<T>, options?: TransactionOptions): Promise<T> {
    if (this.finished)
      throw new RouterError('PGR_TRANSACTION_FINISHED', 'the transaction has already committed or rolled back');
    if (typeof fn !== 'function') throw new ConfigError('transaction', 'expects a callback (tx) => Promise');
    const { readOnly, begin } = parseTransactionOptions(options);
    if (readOnly || begin !== 'BEGIN') {
      throw new ConfigError(
        'transaction',
        'a nested transaction is a SAVEPOINT of the outer one: it cannot set isolationLevel or readOnly',
      );
    }
    const savepoint = `pgr_savepoint_${++this.savepoints}`;
    const failure = this.failure;
    await this.connection.query(`SAVEPOINT ${savepoint}`);
    let result: T;
    try {
      result = await fn(this);
    } catch (error) {
      // Undo what the nested part did; the outer transaction goes on (unless the connection itself failed).
      await this.connection.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
      await this.connection.query(`RELEASE SAVEPOINT ${savepoint}`);
      this.failure = failure;
      throw error;
    }
    await this.connection.query(`RELEASE SAVEPOINT ${savepoint}`);
    return result;
  }

  /** Whether the transaction has committed or rolled back. */
  get isFinished(): boolean {
    return this.finished;
  }

  /** Marks the transaction ended; later statements are refused. */
  finish(): void {
    this.finished = true;
  }
}
