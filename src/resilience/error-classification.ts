import { isConnectionRefusal } from '../pool/connection-errors.js';

/**
 * Whose fault an error is: the caller's (a bad statement, a constraint, a permission — the node is fine) or the
 * node's (it refused, dropped or hung the connection, is shutting down, or ran out of resources). Only node
 * failures count against a node's circuit breaker, trigger fallbacks or discard a connection.
 */
export type ErrorBlame = 'caller' | 'node';

/**
 * SQLSTATE classes (the first two characters) and what they say about the node. From PostgreSQL's
 * "Appendix A. PostgreSQL Error Codes". Codes not listed here and not matched by {@link NODE_CODES} are the
 * caller's.
 */
export const SQLSTATE_CLASS_BLAME: Readonly<Record<string, ErrorBlame>> = Object.freeze({
  '08': 'node', // connection exception
  '53': 'node', // insufficient resources: too many connections, out of memory, disk full
  '58': 'node', // system error: I/O error, undefined file
  XX: 'node', // internal error, data corrupted
  '22': 'caller', // data exception
  '23': 'caller', // integrity constraint violation
  '42': 'caller', // syntax error or access rule violation
  '2B': 'caller', // dependent privilege descriptors still exist
  '40': 'caller', // transaction rollback: serialization failure, deadlock
  P0: 'caller', // PL/pgSQL error, RAISE EXCEPTION
  '0A': 'caller', // feature not supported
  '21': 'caller', // cardinality violation
  '25': 'caller', // invalid transaction state (25006 on a replica is a misroute, handled by the router)
  '28': 'caller', // invalid authorization: a configuration error, not a node failure
  '3D': 'caller', // invalid catalog name (database does not exist)
  '3F': 'caller', // invalid schema name
  '44': 'caller', // WITH CHECK OPTION violation
  '55': 'caller', // object not in prerequisite state (lock not available, …)
});

/** Individual SQLSTATEs that blame the node although their class does not. */
export const NODE_CODES: ReadonlySet<string> = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, in recovery without hot standby)
  '57P04', // database_dropped
  '57P05', // idle_session_timeout
]);

/** Socket-level errno codes, all of which blame the node (or the network to it). */
const NODE_ERRNOS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PGR_NODE_TIMEOUT',
]);

/**
 * Whose fault `error` is. Errors without a SQLSTATE or errno (pg's "Connection terminated unexpectedly", a
 * connect timeout) are the node's; the router's own input errors (`PGR_…`) are the caller's, except a node
 * timeout and an acquisition timeout. `57014` (query_canceled) is the caller's: a `statement_timeout` the caller set, or a cancel it asked for.
 */
export function blame(error: unknown): ErrorBlame {
  if (typeof error !== 'object' || error === null) return 'node';
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NODE_ERRNOS.has(code)) return 'node';
    // No connection in time: the node does not accept new ones, or every one it has is stuck. A merely busy
    // node lands here too; shedding its load (reads go elsewhere, its breaker may open) is the right answer.
    // …unless the node said why: it is full (53300 "too many clients"). That node is up; its callers waited as
    // back-pressure, and a breaker opened on it would turn a queue into a stream of failures.
    if (code === 'PGR_ACQUIRE_TIMEOUT')
      return isConnectionRefusal((error as { cause?: unknown }).cause) ? 'caller' : 'node';
    if (code === 'PGR_QUERY_FAILED')
      return typeof (error as { severity?: unknown }).severity === 'string' ? 'caller' : 'node';
    if (code.startsWith('PGR_')) return 'caller';
    if (code.length === 5) {
      if (NODE_CODES.has(code)) return 'node';
      // A protocol violation answered with a plain ERROR is the server refusing the caller's message (a NUL in the
      // text, a malformed parameter); the connection stays usable. A FATAL one ends the connection: the node's.
      if (code === '08P01') return (error as { severity?: unknown }).severity === 'ERROR' ? 'caller' : 'node';
      return SQLSTATE_CLASS_BLAME[code.slice(0, 2)] ?? 'caller';
    }
    return 'node';
  }
  // A server error always carries a severity; anything else is the connection failing.
  return typeof (error as { severity?: unknown }).severity === 'string' ? 'caller' : 'node';
}

/** True when `error` is the node's fault (see {@link blame}). */
export const isNodeFailure = (error: unknown): boolean => blame(error) === 'node';
