import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigError } from '../errors.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import { healthReport } from './health-report.js';
import { COMMON_HEADERS, sendJson } from './http-response.js';
import { admitted, type MonitorAuth } from './monitor-access.js';
import type { MonitoredStats } from './monitored-stats.js';

/** What a monitor shows: a router, or anything shaped like one. */
export interface MonitorSource {
  /** A JSON-serialisable snapshot, taken on every request and every dashboard tick. */
  stats(): MonitoredStats;
  /** The Prometheus exposition text served at `/metrics`. */
  metricsText(): Promise<string>;
  /** The `Content-Type` of {@link MonitorSource.metricsText} (prom-client's `registry.contentType`). */
  readonly metricsContentType: string;
}

// The page is self-contained: nothing but its own inline code and same-origin requests may run.
const DASHBOARD_HEADERS = {
  ...COMMON_HEADERS,
  'Content-Type': 'text/html; charset=utf-8',
  'Content-Security-Policy':
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
} as const;

/** An error's message, for a 500 answer. */
export function messageOf(error: unknown): string {
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

/** The monitor's routes, relative to where it is mounted. */
const ROUTES = ['/', '/metrics', '/health', '/stats', '/events'];

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  source: MonitorSource,
  events: EventStream,
  options: ResolvedHandlerOptions,
  next: ((error?: unknown) => void) | undefined,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://monitor.invalid');
  let path = url.pathname;
  if (options.basePath !== '') {
    if (path !== options.basePath && !path.startsWith(`${options.basePath}/`)) return notOurs(res, path, next);
    path = path.slice(options.basePath.length) || '';
  }
  // The page reads `events` and `health` relative to itself: it must be served from a path ending in '/'.
  const original = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  if (path === '' || (path === '/' && !new URL(original, 'http://monitor.invalid').pathname.endsWith('/'))) {
    const target = new URL(original, 'http://monitor.invalid');
    res.writeHead(308, { ...COMMON_HEADERS, Location: `${target.pathname}/${target.search}` });
    res.end();
    return;
  }
  const ours = ROUTES.includes(path);
  // Mounted in an app: its other paths are its own, whatever our access rules.
  if (!ours && next !== undefined) return next();
  if (!(await admitted(req, res, url, options.auth, options.allowedHosts))) return;
  if (!ours) return notOurs(res, path, undefined);
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

/** A path the monitor does not serve: the app's next handler's, when mounted in one, else 404. */
function notOurs(res: ServerResponse, path: string, next: ((error?: unknown) => void) | undefined): void {
  if (next !== undefined) return next();
  sendJson(res, 404, { error: 'not found', path, routes: ROUTES });
}

/** Options of a monitor mounted in an app of your own (`router.monitorHandler()`). */
export interface MonitorHandlerOptions {
  /** How often `/events` pushes a snapshot to the dashboard, in milliseconds; default `1000`, at least `50`. */
  intervalMs?: number;
  /** Who may read (see `MonitorServerOptions.auth`). Default: whoever the app lets through. */
  auth?: MonitorAuth;
  /** Host names requests may name in their `Host` header (see `MonitorServerOptions.allowedHosts`). Default: any. */
  allowedHosts?: readonly string[];
  /**
   * The path the monitor answers under when the framework passes full URLs (Fastify, plain `node:http`), e.g.
   * `'/monitor'`. Leave it out under Express's `app.use('/monitor', …)`, which strips the mount path itself.
   */
  basePath?: string;
}

/**
 * The monitor as a request handler for an app of your own: `/metrics`, `/health`, `/stats`, `/events` and the
 * dashboard at `/`, relative to where it is mounted. Works as Express/Connect middleware (`next` is called for any
 * other path) and as a plain `node:http` or Fastify raw handler (404 for any other path).
 */
export interface MonitorHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /** Ends the dashboard streams it serves. Idempotent. */
  close(): void;
}

export interface ResolvedHandlerOptions {
  readonly intervalMs: number;
  readonly auth: MonitorAuth | undefined;
  /** `undefined`: any host. */
  readonly allowedHosts: ReadonlySet<string> | undefined;
  /** `''` for none; else starts with '/' and does not end with one. */
  readonly basePath: string;
}

const HANDLER_KEYS = new Set(['intervalMs', 'auth', 'allowedHosts', 'basePath']);
const MIN_INTERVAL_MS = 50;

/** Validates handler options (`key` names the method in errors); `defaultHosts` applies when none are named. */
export function resolveHandlerOptions(
  options: Record<string, unknown>,
  key: string,
  defaultHosts: ReadonlySet<string> | undefined,
): ResolvedHandlerOptions {
  const { intervalMs = 1000, auth, allowedHosts, basePath = '' } = options;
  if (auth !== undefined && typeof auth !== 'function' && (typeof auth !== 'string' || auth.length < 16)) {
    throw new ConfigError(
      `${key}.auth`,
      'must be a token of at least 16 characters or a function (request) => boolean',
    );
  }
  if (
    allowedHosts !== undefined &&
    (!Array.isArray(allowedHosts) || allowedHosts.some((name) => typeof name !== 'string' || name === ''))
  ) {
    throw new ConfigError(`${key}.allowedHosts`, `must be an array of host names, got ${JSON.stringify(allowedHosts)}`);
  }
  if (typeof intervalMs !== 'number' || !Number.isInteger(intervalMs) || intervalMs < MIN_INTERVAL_MS) {
    throw new ConfigError(
      `${key}.intervalMs`,
      `must be an integer ≥ ${MIN_INTERVAL_MS}, got ${JSON.stringify(intervalMs)}`,
    );
  }
  if (typeof basePath !== 'string' || (basePath !== '' && (!basePath.startsWith('/') || basePath.endsWith('/'))))
    throw new ConfigError(`${key}.basePath`, `must be '' or a path like '/monitor', got ${JSON.stringify(basePath)}`);
  const hosts =
    allowedHosts !== undefined ? new Set((allowedHosts as string[]).map((name) => name.toLowerCase())) : defaultHosts;
  return { intervalMs, auth: auth as MonitorAuth | undefined, allowedHosts: hosts, basePath };
}

/** A monitor handler over `source` (see {@link MonitorHandler}). */
export function createMonitorHandler(source: MonitorSource, options: ResolvedHandlerOptions): MonitorHandler {
  const events = new EventStream(source, options.intervalMs);
  const handler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void => {
    route(req, res, source, events, options, next).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: messageOf(error) });
      else res.destroy();
    });
  };
  return Object.assign(handler, { close: () => events.endAll() });
}

/** Checks that `options` is an object naming only `allowed` keys. */
export function checkOptionKeys(options: unknown, key: string, allowed: ReadonlySet<string>): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw new ConfigError(key, 'options must be an object');
  for (const name in options) {
    if (!allowed.has(name))
      throw new ConfigError(`${key}.${name}`, `unknown option; expected one of ${[...allowed].join(', ')}`);
  }
  return options as Record<string, unknown>;
}

export { HANDLER_KEYS };
