import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../errors.js';
import type { MonitorAuth } from './monitor-access.js';
import {
  HANDLER_KEYS,
  checkOptionKeys,
  createMonitorHandler,
  resolveHandlerOptions,
  type MonitorSource,
} from './monitor-handler.js';

export type { MonitorSource } from './monitor-handler.js';

/** Options of `router.serve()`. */
export interface MonitorServerOptions {
  /** TCP port to listen on; default `0`, any free port (read it back from {@link MonitorServer.port}). */
  port?: number;
  /** Interface to listen on; default `'127.0.0.1'`, so stats are not exposed beyond the host unless asked. */
  host?: string;
  /** How often `/events` pushes a snapshot to the dashboard, in milliseconds; default `1000`, at least `50`. */
  intervalMs?: number;
  /**
   * Who may read: a bearer token (requests send `Authorization: Bearer <token>`; a browser opens
   * `/?token=<token>` once and gets an HttpOnly same-site cookie for the dashboard), or a function that decides
   * for each request. Default: anyone who can reach the port (which is loopback only, unless `host` says otherwise).
   */
  auth?: MonitorAuth;
  /**
   * Host names (without port) that requests may name in their `Host` header; others get 403. This is what stops a
   * web page the developer visits from reading the stats through DNS rebinding. Default: `localhost`, `127.0.0.1`
   * and `::1` when listening on loopback; any host otherwise (name your public host names here).
   */
  allowedHosts?: readonly string[];
}

/** A running monitor server. */
export interface MonitorServer {
  /** `http://host:port`, the dashboard's address. */
  readonly url: string;
  /** The port actually bound (useful with `port: 0`). */
  readonly port: number;
  /** Ends the dashboard streams, stops listening and closes every connection. Idempotent. */
  close(): Promise<void>;
}

const SERVER_KEYS = new Set(['port', 'host', ...HANDLER_KEYS].filter((key) => key !== 'basePath'));
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
const CLOSE_GRACE_MS = 1000;

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Serves a router's metrics, health, stats and live dashboard over plain `node:http`.
 *
 * Routes (GET only; any other method gets 405, any other path 404):
 * - `/metrics`: Prometheus text from `source.metricsText()`;
 * - `/health`: `{ status: 'ok' | 'unhealthy', reasons, warnings }` by `healthReport()`, 200 or 503;
 * - `/stats`: the `source.stats()` snapshot as JSON;
 * - `/events`: Server-Sent Events, a snapshot at once and then every `intervalMs`;
 * - `/`: the dashboard, a self-contained page reading `/events` and `/health`.
 *
 * A source that throws gets a 500 with its message for that request; the server keeps serving.
 *
 * @example
 * const monitor = await startMonitorServer({
 *   stats: () => router.stats(),
 *   metricsText: () => router.metricsText(),
 *   metricsContentType: router.metrics.contentType,
 * }, { port: 9187 });
 * console.log(`dashboard at ${monitor.url}`);
 * // …
 * await monitor.close();
 */
export async function startMonitorServer(
  source: MonitorSource,
  options?: MonitorServerOptions,
): Promise<MonitorServer> {
  const given = checkOptionKeys(options, 'serve', SERVER_KEYS);
  const { port = 0, host = '127.0.0.1' } = given;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65_535)
    throw new ConfigError('serve.port', `must be an integer in [0, 65535], got ${JSON.stringify(port)}`);
  if (typeof host !== 'string' || host === '')
    throw new ConfigError('serve.host', `must be a non-empty string, got ${JSON.stringify(host)}`);
  const handler = createMonitorHandler(
    source,
    resolveHandlerOptions(given, 'serve', LOOPBACK.has(host) ? LOOPBACK : undefined),
  );
  const server = createServer((req, res) => handler(req, res));
  // Header and request timeouts guard a public port; an SSE response is long-lived by design, so no socket timeout.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      // Once listening, an accept failure (EMFILE) must not crash the application it monitors: that connection is lost.
      server.on('error', () => {});
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: urlOf(host, bound),
    port: bound,
    close: () =>
      (closing ??= new Promise<void>((resolve, reject) => {
        handler.close();
        // Requests still being answered get a moment to finish before their sockets are cut.
        const straggler = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
        server.close((error) => {
          clearTimeout(straggler);
          if (error) reject(error);
          else resolve();
        });
        // Keep-alive sockets between requests would otherwise hold close() open until they time out.
        server.closeIdleConnections();
      })),
  };
}
