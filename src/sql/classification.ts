/**
 * Where a statement may run.
 *
 * `replica` only for statements that are provably reads; everything else is `primary`.
 */
export type Route = 'primary' | 'replica';

/**
 * What a statement does, coarsely:
 *
 * - `read`: SELECT / VALUES / TABLE / read-only EXPLAIN / COPY … TO that neither writes, locks rows nor calls
 *   a function with side effects (the only kind that may go to a replica);
 * - `write`: INSERT, UPDATE, DELETE, MERGE, TRUNCATE, COPY … FROM, writable CTEs, `SELECT … INTO`, locking
 *   reads (`FOR UPDATE` / `FOR SHARE`) and reads that call a function with side effects;
 * - `ddl`: CREATE, ALTER, DROP, COMMENT, GRANT, REVOKE, SECURITY LABEL, REFRESH MATERIALIZED VIEW, REINDEX, CLUSTER;
 * - `transaction`: BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT, RELEASE, PREPARE TRANSACTION;
 * - `session`: SET, RESET, SHOW, DISCARD, LISTEN, UNLISTEN, NOTIFY, PREPARE, EXECUTE, DEALLOCATE, DECLARE, FETCH,
 *   MOVE, CLOSE, LOAD;
 * - `utility`: VACUUM, ANALYZE, CHECKPOINT, LOCK, DO, CALL and other commands;
 * - `empty`: nothing but whitespace, comments and semicolons;
 * - `unknown`: neither the lexical pass nor the parser could read it.
 *
 * A multi-statement string takes the kind of its first statement that is not a read (or `read` when all are);
 * it always goes to the primary, since only a single statement that is provably a read may use a replica.
 */
export type StatementKind = 'read' | 'write' | 'ddl' | 'transaction' | 'session' | 'utility' | 'empty' | 'unknown';

/**
 * The routing verdict for one SQL string, as returned by {@link classifyQuery} and `router.explain()`.
 */
export interface Classification {
  /** Where the statement goes when the caller does not override the route. */
  readonly route: Route;
  /** What the statement does (see {@link StatementKind}). */
  readonly kind: StatementKind;
  /** Why it goes there, for humans: e.g. `"locking clause FOR UPDATE"` or `"read-only SELECT"`. */
  readonly reason: string;
  /**
   * The statement's shape: comments removed, whitespace folded, unquoted words lower-cased, string and number
   * literals replaced by `?` (lists of them folded to `?, ...`); `$n` parameters kept.
   */
  readonly fingerprint: string;
  /** A stable 16-hex-digit hash of {@link fingerprint}: equal shapes give equal hashes, across processes. */
  readonly fingerprintHash: string;
  /** Tables the statement names (lower-cased unless quoted, schema-qualified as written), without CTE names. */
  readonly tables: readonly string[];
  /**
   * Functions the statement calls that are not known built-ins (lower-cased, schema-qualified as written).
   * The router looks their volatility up in `pg_proc` and sends calls of VOLATILE ones to the primary;
   * {@link classifyQuery} alone cannot see the catalog and routes on the other rules only.
   */
  readonly functions: readonly string[];
  /** Number of statements in the string (top-level semicolons split them; empty ones do not count). */
  readonly statementCount: number;
  /** The highest `$n` placeholder used, i.e. how many parameters the statement expects. */
  readonly paramCount: number;
  /** Whether the verdict came from the classification cache. Always `false` from {@link classifyQuery}. */
  readonly cached: boolean;
}
