import { QueryError } from '../errors.js';

/** How opening a connection is retried (`pool.connectRetries`, `pool.connectRetryDelayMs`). */
export interface ConnectRetryPolicy {
  /** Retries after the first attempt; `0` fails at once. */
  readonly retries: number;
  /** Delay before the first retry, in milliseconds; each later one doubles it (with jitter, see {@link connectRetryDelayMs}). */
  readonly delayMs: number;
}

/** No retry waits longer than this, in milliseconds, however many came before. */
export const MAX_CONNECT_RETRY_DELAY_MS = 10_000;

/** Socket errors that say the node is not reachable now but may be soon (a restart, a failover, a network blip). */
const RETRYABLE_ERRNOS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs a server sends while refusing a login for a passing reason: starting up, shutting down or in crash
 * recovery (57P01–57P03), too many connections (53300), and the connection-exception class (08000, 08001, 08006).
 */
const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set([
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08001',
  '08006',
]);

/**
 * True when opening a connection failed in a way a later attempt may not: the node refused or dropped the
 * connection, or said it cannot take one yet. Authentication and configuration errors (wrong password, unknown
 * database, unknown host, TLS refused), a pool that ran out of time waiting for a connection, and anything
 * unrecognised are not retried.
 */
export function isRetryableConnectError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return RETRYABLE_ERRNOS.has(code) || RETRYABLE_SQLSTATES.has(code);
  // pg's own wording when the server closes the socket during the start-up exchange (it carries no code).
  return (error as { message?: unknown }).message === 'Connection terminated unexpectedly';
}

/** What a refused login means for the operator, by SQLSTATE (or errno for a host that does not resolve). */
const LOGIN_REFUSALS: Readonly<Record<string, string>> = Object.freeze({
  '28P01': 'check the user name and password',
  '28000': 'the server has no pg_hba.conf entry allowing this user, database and address',
  '3D000': 'the database does not exist',
  '42501': 'the user may not connect to this database',
  '3F000': 'the schema asked for does not exist',
  ENOTFOUND: 'the host name does not resolve',
});

/**
 * When opening a connection failed because of its configuration (authentication, database, host), a
 * {@link QueryError} that says so and what to check, keeping the SQLSTATE (or errno) in `code` and pg's error as
 * `cause`; `undefined` for any other failure.
 */
export function loginRefusal(error: unknown, node: string): QueryError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  const advice = LOGIN_REFUSALS[code] ?? (code.startsWith('28') ? 'the server refused the credentials' : undefined);
  if (advice === undefined) return undefined;
  const reason = error instanceof Error ? error.message : String(error);
  return new QueryError(
    code,
    `${node} refused the connection (${code}: ${reason}); ${advice}. Not retried: another attempt would fail the same way`,
    { cause: error, context: { node } },
  );
}

/**
 * The delay before retry number `retry` (1 for the first), in milliseconds: exponential backoff with "equal
 * jitter" — half of `delayMs × 2^(retry−1)` (capped at {@link MAX_CONNECT_RETRY_DELAY_MS}) plus a random share of
 * the other half. Each delay is therefore at least as long as the previous one could have been, and callers that
 * failed together do not retry in lock-step.
 */
export function connectRetryDelayMs(retry: number, delayMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_CONNECT_RETRY_DELAY_MS, delayMs * 2 ** Math.max(0, retry - 1));
  return ceiling / 2 + (ceiling / 2) * random();
}

/** What {@link retryConnect} is told and may be given. */
export interface ConnectRetryHooks {
  /** Called before each retry's delay: which retry (1-based), how long it waits, and the error that caused it. */
  readonly onRetry?: (retry: number, delayMs: number, error: unknown) => void;
  /** No retry starts after this `performance.now()` time (the caller's acquisition deadline); default none. */
  readonly deadline?: number;
  /** Waits `ms`; injectable so the arithmetic is tested without waiting. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly now?: () => number;
}

// Not unref()ed: a retry stands for a caller's pending statement, which keeps the process alive until it settles,
// as pg's own connection attempts do (an unref()ed one let a script exit mid-backoff, its statement lost).
const sleepFor = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * After `connect()` failed with `firstError`, tries it again up to `policy.retries` times while the error is
 * retryable ({@link isRetryableConnectError}) and the next attempt would start before `hooks.deadline`. Resolves
 * with the first success; otherwise rejects with the last error (a non-retryable one at once).
 */
export async function retryConnect<T>(
  connect: () => Promise<T>,
  firstError: unknown,
  policy: ConnectRetryPolicy,
  hooks: ConnectRetryHooks = {},
): Promise<T> {
  const sleep = hooks.sleep ?? sleepFor;
  const now = hooks.now ?? (() => performance.now());
  let error = firstError;
  for (let retry = 1; retry <= policy.retries && isRetryableConnectError(error); retry++) {
    const delayMs = connectRetryDelayMs(retry, policy.delayMs, hooks.random);
    if (hooks.deadline !== undefined && now() + delayMs >= hooks.deadline) break;
    hooks.onRetry?.(retry, delayMs, error);
    await sleep(delayMs);
    try {
      return await connect();
    } catch (next) {
      error = next;
    }
  }
  throw error;
}
