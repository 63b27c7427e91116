import { AsyncLocalStorage } from 'node:async_hooks';
import type { Consistency } from '../config/index.js';
import { ConfigError } from '../errors.js';
import { formatLsn, parseLsn } from '../resilience/index.js';

/**
 * The primary's WAL position once a statement has committed, asked on the same connection right after it.
 * With `synchronous_commit` on (or `local`, `remote_write`, `remote_apply`) a commit is flushed before the client
 * hears of it, so the flush position covers it and is what replicas can receive. With it `off` the commit may
 * not be flushed yet: only the insert position is sure to cover it (replicas reach it once the WAL writer
 * flushes, within `wal_writer_delay`).
 */
export const WRITE_POSITION_SQL =
  "SELECT (CASE WHEN current_setting('synchronous_commit') = 'off' THEN pg_current_wal_insert_lsn() ELSE pg_current_wal_flush_lsn() END)::text AS lsn";

/**
 * A replica's replayed position, asked on the same connection just before a read: replay only moves forward,
 * so the read's snapshot (taken after) sees at least everything up to it. Null on a node not in recovery.
 */
export const REPLAY_POSITION_SQL = 'SELECT pg_last_wal_replay_lsn()::text AS lsn';

/** `COMMIT` and the position covering it, in one round trip (a simple-protocol multi-statement string). */
export const COMMIT_WITH_POSITION_SQL = `COMMIT; ${WRITE_POSITION_SQL}`;

/**
 * A position no replica will report: a session whose write position could not be read sends its reads to the
 * primary rather than risk a stale one.
 */
export const UNKNOWN_POSITION = (1n << 64n) - 1n;

/** Options of `router.session()`. */
export interface SessionOptions {
  /** What reads in this session may see: `'read-your-writes'` (default) or `'eventual'`. */
  consistency?: Consistency;
  /**
   * A token from `router.consistencyToken()` (e.g. another request's, carried in a cookie): reads in this session
   * also see every write the token covers.
   */
  after?: string;
  /** How long a read may wait for a replica to catch up before it goes to the primary; default: the router's `waitForReplicaMs`. */
  waitForReplicaMs?: number;
}

/** One session's state: what its reads must see. */
export interface SessionState {
  readonly consistency: Consistency;
  readonly waitForReplicaMs: number;
  /** The WAL position every later read must see: the highest of the session's writes and tokens. */
  position: bigint | undefined;
}

/**
 * Turns a consistency token back into a WAL position; throws {@link ConfigError} naming `key` for anything that
 * is not one (tokens come from clients: a tampered cookie gets a clear error, not a stale read).
 */
export function positionOfToken(token: unknown, key: string): bigint {
  const position = parseLsn(token);
  if (position === undefined)
    throw new ConfigError(
      key,
      `must be a token from router.consistencyToken() (a WAL position such as "0/16B3748"), got ${typeof token === 'string' ? JSON.stringify(token.slice(0, 40)) : typeof token}`,
    );
  return position;
}

/** The token for a position: PostgreSQL's own text form of it, so it can be compared in SQL if need be. */
export function tokenOfPosition(position: bigint): string {
  return formatLsn(position);
}

/** The later of two positions, `undefined` counting as "nothing to wait for". */
export function laterPosition(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}

/**
 * Read-your-writes sessions: an AsyncLocalStorage scope per session, so every statement started inside it,
 * across awaits, finds the session's state. AsyncLocalStorage is only switched on by the first session, so an
 * application that never opens one pays nothing for it.
 */
export class Sessions {
  private readonly storage = new AsyncLocalStorage<SessionState>();
  /** Whether any session was ever opened: until then statements skip the AsyncLocalStorage read. */
  used = false;

  /** `waitForReplicaMs` is the router's; a session reads its own writes unless its options say `'eventual'`. */
  constructor(private readonly defaults: { readonly waitForReplicaMs: number }) {}

  /** The session the caller runs in, if any. */
  current(): SessionState | undefined {
    return this.used ? this.storage.getStore() : undefined;
  }

  /** Validates `options` and builds the state of a new session. */
  create(options: SessionOptions | undefined): SessionState {
    if (options !== undefined && (typeof options !== 'object' || options === null))
      throw new ConfigError('session options', 'must be an object');
    for (const key of Object.keys(options ?? {})) {
      if (key !== 'consistency' && key !== 'after' && key !== 'waitForReplicaMs')
        throw new ConfigError(`session.${key}`, 'unknown option; expected one of consistency, after, waitForReplicaMs');
    }
    const consistency = options?.consistency ?? 'read-your-writes';
    if (consistency !== 'eventual' && consistency !== 'read-your-writes') {
      throw new ConfigError(
        'session.consistency',
        `must be 'eventual' or 'read-your-writes', got ${JSON.stringify(consistency)}`,
      );
    }
    const wait = options?.waitForReplicaMs ?? this.defaults.waitForReplicaMs;
    if (typeof wait !== 'number' || !Number.isInteger(wait) || wait < 0)
      throw new ConfigError('session.waitForReplicaMs', `must be an integer ≥ 0, got ${JSON.stringify(wait)}`);
    const position = options?.after === undefined ? undefined : positionOfToken(options.after, 'session.after');
    return { consistency, waitForReplicaMs: wait, position };
  }

  /** Runs `fn` inside `state`'s session. */
  run<T>(state: SessionState, fn: () => T): T {
    this.used = true;
    return this.storage.run(state, fn);
  }
}
