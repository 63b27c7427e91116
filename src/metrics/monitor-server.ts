import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../errors.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import { healthReport } from './health-report.js';
import { COMMON_HEADERS, sendJson } from './http-response.js';
import { admitted, type MonitorAuth } from './monitor-access.js';
import type { MonitoredStats } from './monitored-stats.js';

/** What a monitor server shows: a router, or anything shaped like one. */
export interface MonitorSource {
  /** A JSON-serialisable snapshot, taken on every request and every dashboard tick. */
  stats(): MonitoredStats;
  /** The Prometheus exposition text served at `/metrics`. */
  metricsText(): Promise<string>;
  /** The `Content-Type` of {@link MonitorSource.metricsText} (prom-client's `registry.contentType`). */
  readonly metricsContentType: string;
}

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

interface ResolvedMonitorOptions {
  readonly port: number;
  readonly host: string;
  readonly intervalMs: number;
  readonly auth: MonitorAuth | undefined;
  /** `undefined`: any host. */
  readonly allowedHosts: ReadonlySet<string> | undefined;
}

const OPTION_KEYS = new Set(['port', 'host', 'intervalMs', 'auth', 'allowedHosts']);
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
const MIN_INTERVAL_MS = 50;
const CLOSE_GRACE_MS = 1000;

function resolveMonitorOptions(options: MonitorServerOptions | undefined): ResolvedMonitorOptions {
  if (options === undefined)
    return { port: 0, host: '127.0.0.1', intervalMs: 1000, auth: undefined, allowedHosts: LOOPBACK };
  if (typeof options !== 'object' || options === null) throw new ConfigError('serve', 'options must be an object');
  for (const key in options) {
    if (!OPTION_KEYS.has(key))
      throw new ConfigError(`serve.${key}`, `unknown option; expected one of ${[...OPTION_KEYS].join(', ')}`);
  }
  const { port = 0, host = '127.0.0.1', intervalMs = 1000, auth, allowedHosts } = options;
  if (auth !== undefined && typeof auth !== 'function' && (typeof auth !== 'string' || auth.length < 16)) {
    throw new ConfigError('serve.auth', 'must be a token of at least 16 characters or a function (request) => boolean');
  }
  if (
    allowedHosts !== undefined &&
    (!Array.isArray(allowedHosts) || allowedHosts.some((name) => typeof name !== 'string' || name === ''))
  ) {
    throw new ConfigError('serve.allowedHosts', `must be an array of host names, got ${JSON.stringify(allowedHosts)}`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new ConfigError('serve.port', `must be an integer in [0, 65535], got ${JSON.stringify(port)}`);
  if (typeof host !== 'string' || host === '')
    throw new ConfigError('serve.host', `must be a non-empty string, got ${JSON.stringify(host)}`);
  if (!Number.isInteger(intervalMs) || intervalMs < MIN_INTERVAL_MS) {
    throw new ConfigError(
      'serve.intervalMs',
      `must be an integer ≥ ${MIN_INTERVAL_MS}, got ${JSON.stringify(intervalMs)}`,
    );
  }
  const hosts =
    allowedHosts !== undefined
      ? new Set(allowedHosts.map((name) => name.toLowerCase()))
      : LOOPBACK.has(host)
        ? LOOPBACK
        : undefined;
  return { port, host, intervalMs, auth, allowedHosts: hosts };
}

// The page is self-contained: nothing but its own inline code and same-origin requests may run.
const DASHBOARD_HEADERS = {
  ...COMMON_HEADERS,
  'Content-Type': 'text/html; charset=utf-8',
  'Content-Security-Policy':
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
} as const;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One SSE frame; `id` carries the server's clock so the dashboard's rates do not depend on delivery jitter. */
function statsFrame(source: MonitorSource): string {
  try {
    return `id: ${Date.now()}\ndata: ${JSON.stringify(source.stats())}\n\n`;
  } catch (error) {
    return `event: failure\ndata: ${JSON.stringify({ error: messageOf(error) })}\n\n`;
  }
}

/**
 * The live stream behind `/events`: one timer for every client, running only while at least one listens, and
 * one snapshot a tick however many clients there are.
 */
class EventStream {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: MonitorSource,
    private readonly intervalMs: number,
  ) {}

  add(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      ...COMMON_HEADERS,
      'Content-Type': 'text/event-stream; charset=utf-8',
      // A stream is never reused for another request: ending it closes the socket, so close() need not cut it.
      Connection: 'close',
      // Reverse proxies (nginx) buffer responses by default, which would hold the events back.
      'X-Accel-Buffering': 'no',
    });
    // Small frames every tick: do not wait for Nagle.
    req.socket.setNoDelay(true);
    res.write(`retry: ${Math.max(1000, this.intervalMs)}\n${statsFrame(this.source)}`);
    this.clients.add(res);
    const drop = (): void => this.remove(res);
    res.on('close', drop);
    res.on('error', drop);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      // The server's socket keeps the process alive while it listens; the timer need not.
      this.timer.unref();
    }
  }

  /** Ends every stream, so `server.close()` has nothing to wait for. */
  endAll(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.stop();
  }

  private remove(res: ServerResponse): void {
    this.clients.delete(res);
    if (this.clients.size === 0) this.stop();
  }

  private stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const frame = statsFrame(this.source);
    for (const res of this.clients) {
      // A client that cannot keep up gets no more frames until its buffer drains: memory stays bounded.
      if (!res.writableNeedDrain) res.write(frame);
    }
  }
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  source: MonitorSource,
  events: EventStream,
  options: ResolvedMonitorOptions,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://monitor.invalid');
  if (!(await admitted(req, res, url, options.auth, options.allowedHosts))) return;
  const path = url.pathname;
  const known = path === '/' || path === '/metrics' || path === '/health' || path === '/stats' || path === '/events';
  if (!known)
    return sendJson(res, 404, { error: 'not found', path, routes: ['/', '/metrics', '/health', '/stats', '/events'] });
  if (req.method !== 'GET')
    return sendJson(res, 405, { error: `method ${req.method ?? ''} not allowed; use GET` }, { Allow: 'GET' });
  switch (path) {
    case '/': {
      res.writeHead(200, { ...DASHBOARD_HEADERS, 'Content-Length': Buffer.byteLength(DASHBOARD_HTML) });
      res.end(DASHBOARD_HTML);
      return;
    }
    case '/metrics': {
      const text = await source.metricsText();
      res.writeHead(200, {
        ...COMMON_HEADERS,
        'Content-Type': source.metricsContentType,
        'Content-Length': Buffer.byteLength(text),
      });
      res.end(text);
      return;
    }
    case '/health': {
      const report = healthReport(source.stats());
      sendJson(res, report.healthy ? 200 : 503, {
        status: report.healthy ? 'ok' : 'unhealthy',
        reasons: report.reasons,
        warnings: report.warnings,
      });
      return;
    }
    case '/stats':
      return sendJson(res, 200, source.stats());
    case '/events':
      return events.add(req, res);
  }
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Serves a router's metrics, health, stats and live dashboard over plain `node:http`.
 *
 * Routes (GET only; any other method gets 405, any other path 404):
 * - `/metrics`: Prometheus text from `source.metricsText()`;
 * - `/health`: `{ status: 'ok' | 'unhealthy', reasons, warnings }` by {@link healthReport}, 200 or 503;
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
  const resolved = resolveMonitorOptions(options);
  const { port, host, intervalMs } = resolved;
  const events = new EventStream(source, intervalMs);
  const server = createServer((req, res) => {
    route(req, res, source, events, resolved).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: messageOf(error) });
      else res.destroy();
    });
  });
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
        events.endAll();
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
