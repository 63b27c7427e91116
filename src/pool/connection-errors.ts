/** The router's errors for input refused before anything was sent: the connection is as it was. */
const REFUSED_INPUT: ReadonlySet<string> = new Set([
  'PGR_INVALID_QUERY',
  'PGR_PARAMETER_COUNT',
  'PGR_CONFIG',
  'PGR_TRANSACTION_FINISHED',
  'PGR_CLIENT_RELEASED',
]);

/**
 * True for errors after which the connection cannot be trusted: anything but an ordinary server-side error or the
 * router's refusal of input it never sent.
 */
export function isConnectionLevelError(error: unknown): boolean {
  const candidate = error as { severity?: unknown; code?: unknown };
  if (typeof candidate?.code === 'string' && REFUSED_INPUT.has(candidate.code)) return false;
  if (typeof candidate?.severity !== 'string') return true;
  const code = typeof candidate.code === 'string' ? candidate.code : '';
  return (
    code.startsWith('08') || code.startsWith('57P') || candidate.severity === 'FATAL' || candidate.severity === 'PANIC'
  );
}

/**
 * Whether a statement whose connection was lost after it was sent may have taken effect. Inside a transaction the
 * loss rolls the transaction back, so only the statement that ends it (COMMIT, END, PREPARE TRANSACTION) may have
 * landed; outside one, any statement but BEGIN may have. In a failed transaction nothing can.
 */
export function mayHaveTakenEffect(text: string, status: string | undefined): boolean {
  if (status === 'E') return false;
  if (status === 'T') return ENDS_TRANSACTION.test(text);
  return !BEGINS_TRANSACTION.test(text);
}
const ENDS_TRANSACTION = /^\s*(?:commit|end|prepare\s+transaction)\b/i;
const BEGINS_TRANSACTION = /^\s*(?:begin|start\s+transaction)\b/i;

/** True for pg-pool's errors when no connection came within `connectionTimeoutMillis` (it has no code to tell them by). */
export function isAcquireTimeout(error: unknown): boolean {
  const message = error instanceof Error ? error.message : '';
  return message === 'timeout exceeded when trying to connect' || message.includes('due to connection timeout');
}

/**
 * SQLSTATEs a server answers a login with when it has no room for one more connection: `53300`
 * (too_many_connections: "sorry, too many clients already", "remaining connection slots are reserved …", "too many
 * connections for role …" and "… for database …" all use it) and `53400` (configuration_limit_exceeded). From
 * PostgreSQL's `src/backend/utils/errcodes.txt`.
 */
export const CONNECTION_REFUSAL_SQLSTATES: ReadonlySet<string> = new Set(['53300', '53400']);

/**
 * True when opening a connection failed because the node is full, not because it is down: the node answered, so
 * this is back-pressure (wait for a connection) rather than a node failure (open a breaker). Only meaningful for an
 * error raised while connecting; a statement that fails with 53300 later is an ordinary server error.
 */
export function isConnectionRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONNECTION_REFUSAL_SQLSTATES.has(code);
}
