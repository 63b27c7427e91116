import { connect } from 'node:net';
import type { PoolClient } from 'pg';
import { backendKeyOf, protocolSerializer } from './pg-internals.js';

/**
 * Asks the server to cancel whatever `client`'s backend is running: PostgreSQL's CancelRequest, sent on a new
 * connection with the backend's process id and secret key (as libpq's PQcancel does). Resolves once the request
 * was written, or `false` if it could not be (no key, unreachable node, `timeoutMs` passed). The outcome shows up
 * on the query itself: it fails with SQLSTATE 57014 if the cancel arrived in time.
 */
export function sendCancelRequest(client: PoolClient, timeoutMs: number): Promise<boolean> {
  const target = backendKeyOf(client);
  if (target === undefined) return Promise.resolve(false);
  const { host, port } = target;
  const message = protocolSerializer.cancel(target.processID, target.secretKey);
  return new Promise((resolve) => {
    const socket = host.startsWith('/') ? connect(`${host}/.s.PGSQL.${port}`) : connect(port, host);
    const timer = setTimeout(() => finish(false), timeoutMs);
    timer.unref();
    function finish(sent: boolean): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(sent);
    }
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.end(message, () => finish(true)));
  });
}
