/**
 * What to do when a node's server connections do not keep the named prepared statements this pool's connections
 * prepared: a connection pooler in transaction (or statement) mode between the router and the node, such as
 * PgBouncer before 1.21, hands each transaction whichever server connection is free. A statement prepared through
 * one is missing on the next (SQLSTATE 26000 at Bind), or a Parse meets the same name prepared by another client on
 * the server connection it got (42P05). Either way the server refused the statement before running it: a Bind or a
 * Parse that fails skips its Execute, and the error's Sync ends the implicit transaction with nothing done.
 *
 * So the first such error turns the node's statement cache off (every statement runs unnamed from then on, which
 * any pooler passes through), is reported once, and the statement is run again unnamed where that is safe: outside
 * a caller's transaction, as a statement of its own (see `statement-run.ts`). Inside a transaction the error has
 * aborted the transaction, so it is the caller's; in a pipelined batch it is that statement's. Neither is re-sent.
 */

/** Why a node's prepared-statement cache was turned off: its server connections did not keep the statements it prepared. */
export interface StatementCacheDisabled {
  /** The SQLSTATE that showed it: `26000` (statement missing) or `42P05` (name already taken). */
  readonly code: '26000' | '42P05';
  /** What happened and what it means, for operators. */
  readonly reason: string;
  /** When, as an ISO 8601 timestamp. */
  readonly at: string;
}

/** SQLSTATEs a pooler that moves statements between server connections produces, with pg's message for each. */
const LOST: Readonly<Record<string, RegExp>> = {
  '26000': /^prepared statement "(.*)" does not exist$/,
  '42P05': /^prepared statement "(.*)" already exists$/,
};

/**
 * The SQLSTATE when `error` says the prepared statement `name` (a name this pool chose) is missing on, or already
 * taken on, the server connection the statement reached; `undefined` for any other error.
 */
export function preparedStatementLost(error: unknown, name: string): '26000' | '42P05' | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code !== 'string' || typeof message !== 'string') return undefined;
  const pattern = LOST[code];
  if (pattern === undefined) return undefined;
  return pattern.exec(message)?.[1] === name ? (code as '26000' | '42P05') : undefined;
}

/**
 * One node's switch for its statement cache, shared by the caches of all its connections: they read
 * {@link disabled} before naming a statement, which costs one property read.
 */
export class StatementCacheSwitch {
  /** Set once the node's server connections were seen not to keep prepared statements; never cleared. */
  disabled: StatementCacheDisabled | undefined;

  constructor(
    private readonly node: string,
    private readonly onDisabled?: (disabled: StatementCacheDisabled, message: string) => void,
  ) {}

  /**
   * Turns the cache off when `error` shows that the node's server connections do not keep the statement `name`
   * (see {@link preparedStatementLost}). Returns true when it did (or had already), so the caller knows the statement
   * never ran and may send it again unnamed where nothing else ran with it.
   */
  noteFailure(error: unknown, name: string | undefined): boolean {
    if (name === undefined) return false;
    const code = preparedStatementLost(error, name);
    if (code === undefined) return false;
    if (this.disabled !== undefined) return true;
    const seen =
      code === '26000'
        ? `a statement prepared on one of its connections was missing at the next use (SQLSTATE 26000)`
        : `a statement's name was already prepared by another client on the server connection it reached (SQLSTATE 42P05)`;
    const reason =
      `${seen}: a pooler in transaction mode (PgBouncer < 1.21) moves statements between server connections, ` +
      'so statements run unnamed on this node from now on';
    this.disabled = Object.freeze({ code, reason, at: new Date().toISOString() });
    try {
      this.onDisabled?.(
        this.disabled,
        `${this.node}: prepared statements turned off: ${reason}. Set statementCache: { max: 0 } for nodes behind ` +
          'such a pooler, or use PgBouncer 1.21+ with max_prepared_statements > 0 (see docs/pgbouncer.md)',
      );
    } catch {
      // A listener's throw must not turn the caller's statement into a failure.
    }
    return true;
  }
}
