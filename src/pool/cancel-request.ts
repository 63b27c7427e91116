import { connect } from 'node:net';
import type { PoolClient } from 'pg';
import { backendKeyOf, protocolSerializer } from './pg-internals.js';

/**
 * Asks the server to cancel whatever `client`'s backend is running: PostgreSQL's CancelRequest, sent on a new
 * connection with the backend's process id and secret key (as libpq's PQcancel does). Resolves `true` once the
 * request was written and the server closed the connection (or `timeoutMs` passed after writing it), `false` if it
 * could not be written (no key, unreachable node, `timeoutMs` passed). The outcome shows up
 * on the query itself: it fails with SQLSTATE 57014 if the cancel arrived in time.
 */
export function sendCancelRequest(client: PoolClient, timeoutMs: number): Promise<boolean> {
  const target = backendKeyOf(client);
  if (target === undefined) return Promise.resolve(false);
  const { host, port } = target;
  const message = protocolSerializer.cancel(target.processID, target.secretKey);
  return new Promise((resolve) => {
    const socket = host.startsWith('/') ? connect(`${host}/.s.PGSQL.${port}`) : connect(port, host);
    // Waiting for the server's close must not keep a process alive that has nothing else to do.
    socket.unref();
    let written = false;
    const timer = setTimeout(() => finish(), timeoutMs);
    timer.unref();
    function finish(): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(written);
    }
    socket.once('error', () => finish());
    // The server closes the socket once it has handled the request; the socket is closed then (or at the timeout),
    // never right after writing, as libpq's PQcancel does: PgBouncer before 1.19.1 exits with "bad client state"
    // when a cancel client hangs up before PgBouncer has forwarded its request (pgbouncer/pgbouncer#801).
    socket.once('close', () => finish());
    socket.once('connect', () => socket.write(message, (error) => (error ? finish() : void (written = true))));
  });
}
