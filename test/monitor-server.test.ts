import { request, Agent, type IncomingMessage } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import {
  healthReport,
  startMonitorServer,
  type MonitorServer,
  type MonitorSource,
  type MonitoredStats,
} from '../src/metrics/index.js';
import type { RouterStats } from '../src/router/router-stats.js';
import { until } from './helpers/wait.js';

// These tests are about HTTP and the health rules, so the stats are fakes shaped like router.stats().
type Node = MonitoredStats['nodes'][number];

function node(name: string, overrides: Partial<Node> = {}): Node {
  return {
    name,
    role: name === 'primary' ? 'primary' : 'replica',
    url: `127.0.0.1:5432/${name}`,
    healthy: true,
    lastHealthError: undefined,
    breaker: 'closed',
    pool: { total: 2, idle: 1, active: 1, waiting: 0, max: 10 },
    queries: 0,
    errors: 0,
    inFlight: 0,
    latencyMs: 1.5,
    ...overrides,
  };
}

function stats(
  overrides: Partial<MonitoredStats> = {},
  nodes: Node[] = [node('primary'), node('replica-0'), node('replica-1')],
): MonitoredStats {
  const replicasAvailable = nodes.filter((n) => n.role === 'replica' && n.healthy && n.breaker !== 'open').length;
  return {
    closed: false,
    nodes,
    routing: {
      primary: 0,
      replica: 0,
      forced: 0,
      readFallbacks: 0,
      callerFallbacks: 0,
      selfHealed: 0,
      replicasAvailable,
      readsOnPrimary: replicasAvailable === 0,
    },
    classifierCache: { size: 0, max: 100, hitRate: 0 },
    statementCache: { hits: 0, misses: 0, hitRate: 0 },
    pipelines: { open: 0, queued: 0, held: 0, batches: 0, statements: 0, failed: 0, coalesced: 0 },
    ...overrides,
  };
}

/** A source whose snapshot, metrics and failures the test sets, counting how often it was read. */
class FakeSource implements MonitorSource {
  current: MonitoredStats = stats();
  metrics = '# HELP pgrouter_up 1 when up\n# TYPE pgrouter_up gauge\npgrouter_up 1\n';
  failStats: Error | undefined;
  failMetrics: Error | undefined;
  statsCalls = 0;
  readonly metricsContentType = 'text/plain; version=0.0.4; charset=utf-8';

  stats(): MonitoredStats {
    this.statsCalls++;
    if (this.failStats) throw this.failStats;
    return this.current;
  }

  async metricsText(): Promise<string> {
    if (this.failMetrics) throw this.failMetrics;
    return this.metrics;
  }
}

/** Each snapshot says which stats() call made it (in `routing.primary`). */
class CountingSource extends FakeSource {
  override stats(): MonitoredStats {
    super.stats();
    return stats({ routing: { ...stats().routing, primary: this.statsCalls } });
  }
}

interface SseFrame {
  readonly id: string | undefined;
  readonly event: string | undefined;
  readonly data: string;
  readonly retry: string | undefined;
}

/** A raw Server-Sent Events client, so the test sees the exact framing. */
function openEvents(url: string): Promise<{
  response: IncomingMessage;
  frames: SseFrame[];
  next(): Promise<SseFrame>;
  ended: Promise<void>;
  close(): void;
}> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/events`, { headers: { accept: 'text/event-stream' } }, (response) => {
      const frames: SseFrame[] = [];
      const waiters: ((frame: SseFrame) => void)[] = [];
      let buffer = '';
      let delivered = 0;
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const fields = new Map<string, string>();
          for (const line of buffer.slice(0, end).split('\n')) {
            const colon = line.indexOf(':');
            fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
          }
          buffer = buffer.slice(end + 2);
          const frame = {
            id: fields.get('id'),
            event: fields.get('event'),
            data: fields.get('data') ?? '',
            retry: fields.get('retry'),
          };
          frames.push(frame);
          const waiter = waiters.shift();
          if (waiter) {
            delivered++;
            waiter(frame);
          }
        }
      });
      const ended = new Promise<void>((done) => response.on('close', () => done()));
      resolve({
        response,
        frames,
        next: () =>
          new Promise<SseFrame>((done) => {
            const ready = frames[delivered];
            if (ready) {
              delivered++;
              done(ready);
            } else waiters.push(done);
          }),
        ended,
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('healthReport', () => {
  it('is healthy with a healthy primary and replicas', () => {
    expect(healthReport(stats())).toEqual({ healthy: true, reasons: [], warnings: [] });
  });

  it('is unhealthy once the router is closed', () => {
    expect(healthReport(stats({ closed: true }))).toMatchObject({ healthy: false, reasons: ['router is closed'] });
  });

  it('is unhealthy when the primary failed its health check, and says why', () => {
    const report = healthReport(
      stats({}, [
        node('primary', { healthy: false, lastHealthError: 'connect ECONNREFUSED 127.0.0.1:5432' }),
        node('replica-0'),
      ]),
    );
    expect(report).toEqual({
      healthy: false,
      reasons: ['primary failed its health check: connect ECONNREFUSED 127.0.0.1:5432'],
      warnings: [],
    });
  });

  it('is unhealthy when the primary breaker is open', () => {
    expect(healthReport(stats({}, [node('primary', { breaker: 'open' }), node('replica-0')])).reasons).toEqual([
      'primary breaker open',
    ]);
  });

  it('is unhealthy when replicas are configured but none can take reads, naming each replica in the warnings', () => {
    const report = healthReport(
      stats({}, [
        node('primary'),
        node('replica-0', { healthy: false, lastHealthError: 'timeout' }),
        node('replica-1', { breaker: 'open' }),
      ]),
    );
    expect(report).toEqual({
      healthy: false,
      reasons: ['no healthy replica: reads run on the primary'],
      warnings: ['replica-0 failed its health check: timeout', 'replica-1 breaker open'],
    });
  });

  it("trusts the router's replicasAvailable when it says no replica takes reads", () => {
    const report = healthReport(stats({ routing: { ...stats().routing, replicasAvailable: 0, readsOnPrimary: true } }));
    expect(report.reasons).toEqual(['no healthy replica: reads run on the primary']);
  });

  it('only warns when one replica is down while another takes reads', () => {
    const report = healthReport(
      stats({}, [
        node('primary'),
        node('replica-0', { healthy: false, lastHealthError: 'the database system is starting up' }),
        node('replica-1'),
      ]),
    );
    expect(report).toEqual({
      healthy: true,
      reasons: [],
      warnings: ['replica-0 failed its health check: the database system is starting up'],
    });
    const breaker = healthReport(
      stats({}, [node('primary'), node('replica-0'), node('replica-1', { breaker: 'open' })]),
    );
    expect(breaker).toEqual({ healthy: true, reasons: [], warnings: ['replica-1 breaker open'] });
  });

  it('warns about a lagging replica, and names the lag when every replica lags', () => {
    const one = healthReport(
      stats({}, [node('primary'), node('replica-0', { lagging: true, lagMs: 3200 }), node('replica-1')]),
    );
    expect(one).toEqual({
      healthy: true,
      reasons: [],
      warnings: ['replica-0 lags 3200 ms behind the primary: out of the balancer until it catches up'],
    });
    const reason =
      'replica-0: lags 3200 ms / 9000 bytes (maxReplicaLagMs 1000); replica-1: lags 2100 ms / 7000 bytes (maxReplicaLagMs 1000)';
    const all = healthReport(
      stats(
        { routing: { ...stats().routing, replicasAvailable: 0, readsOnPrimary: true, readsOnPrimaryReason: reason } },
        [
          node('primary'),
          node('replica-0', { lagging: true, lagMs: 3200 }),
          node('replica-1', { lagging: true, lagMs: 2100 }),
        ],
      ),
    );
    expect(all.healthy).toBe(false);
    expect(all.reasons).toEqual([`no healthy replica: reads run on the primary (${reason})`]);
    expect(all.warnings).toHaveLength(2);
  });

  it('warns about a replica holding another history than the primary, and counts it out of the balancer', () => {
    const diverged = 'follows timeline 1, the primary replica-0 is on timeline 2';
    const one = healthReport(
      stats({}, [node('primary'), node('replica-0', { diverged }), node('replica-1', { diverged: null })]),
    );
    expect(one).toEqual({ healthy: true, reasons: [], warnings: [`replica-0 ${diverged}: out of the balancer`] });
    const only = healthReport(stats({}, [node('primary'), node('replica-0', { diverged })]));
    expect(only.healthy).toBe(false);
    expect(only.reasons).toEqual(['no healthy replica: reads run on the primary']);
  });

  it('warns about half-open breakers', () => {
    expect(healthReport(stats({}, [node('primary', { breaker: 'halfOpen' }), node('replica-0')]))).toEqual({
      healthy: true,
      reasons: [],
      warnings: ['primary breaker half-open'],
    });
  });

  it('is healthy with no replicas configured, though reads run on the primary', () => {
    expect(healthReport(stats({}, [node('primary')]))).toEqual({ healthy: true, reasons: [], warnings: [] });
  });

  it('lists every cause at once', () => {
    const report = healthReport(
      stats({ closed: true }, [
        node('primary', { healthy: false, breaker: 'open' }),
        node('replica-0', { healthy: false }),
      ]),
    );
    expect(report.reasons).toEqual([
      'router is closed',
      'primary failed its health check: no reason reported',
      'primary breaker open',
      'no healthy replica: reads run on the primary',
    ]);
    expect(report.warnings).toEqual(['replica-0 failed its health check: no reason reported']);
  });

  it("accepts the router's own stats type", () => {
    expectTypeOf<RouterStats>().toExtend<MonitoredStats>();
  });
});

describe('startMonitorServer', () => {
  const servers: MonitorServer[] = [];
  const start = async (source: MonitorSource, options?: Parameters<typeof startMonitorServer>[1]) => {
    const server = await startMonitorServer(source, options);
    servers.push(server);
    return server;
  };

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  it('listens on a free port of 127.0.0.1 by default', async () => {
    const server = await start(new FakeSource());
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
  });

  it('serves Prometheus text at /metrics with the source content type', async () => {
    const source = new FakeSource();
    const server = await start(source);
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(source.metricsContentType);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.text()).toBe(source.metrics);
  });

  it('serves the stats snapshot at /stats', async () => {
    const source = new FakeSource();
    source.current = stats({ routing: { ...stats().routing, primary: 7, replica: 12 } });
    const server = await start(source);
    const response = await fetch(`${server.url}/stats`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual(JSON.parse(JSON.stringify(source.current)));
  });

  it('answers /health with 200 and status ok, or 503 with the reasons', async () => {
    const source = new FakeSource();
    const server = await start(source);
    const ok = await fetch(`${server.url}/health`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    expect(await ok.json()).toEqual({ status: 'ok', reasons: [], warnings: [] });

    source.current = stats({}, [
      node('primary', { breaker: 'open' }),
      node('replica-0', { healthy: false, lastHealthError: 'down' }),
      node('replica-1'),
    ]);
    const bad = await fetch(`${server.url}/health`);
    expect(bad.status).toBe(503);
    expect(await bad.json()).toEqual({
      status: 'unhealthy',
      reasons: ['primary breaker open'],
      warnings: ['replica-0 failed its health check: down'],
    });
  });

  it('ignores the query string', async () => {
    const server = await start(new FakeSource());
    expect((await fetch(`${server.url}/health?verbose=1`)).status).toBe(200);
  });

  it('serves a self-contained dashboard at /', async () => {
    const server = await start(new FakeSource());
    const response = await fetch(`${server.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await response.text();
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('data-testid="node-card"');
    expect(html).toContain("new EventSource('events')");
    // No external resources: nothing loaded from another origin, no innerHTML fed with data.
    expect(html).not.toMatch(/\bsrc\s*=/);
    expect(html).not.toMatch(/href="https?:/);
    expect(html).not.toContain('innerHTML');
  });

  it('answers an unknown path with a 404 in JSON', async () => {
    const server = await start(new FakeSource());
    const response = await fetch(`${server.url}/nope`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ error: 'not found', path: '/nope' });
  });

  it.each(['POST', 'PUT', 'DELETE', 'HEAD'])('answers %s with a 405', async (method) => {
    const server = await start(new FakeSource());
    const response = await fetch(`${server.url}/stats`, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET');
  });

  it('turns a throwing source into a 500 with its message and keeps serving', async () => {
    const source = new FakeSource();
    const server = await start(source);
    source.failStats = new Error('stats exploded');
    source.failMetrics = new Error('registry exploded');
    for (const path of ['/stats', '/health']) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ error: 'stats exploded' });
    }
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(500);
    expect(await metrics.json()).toEqual({ error: 'registry exploded' });

    source.failStats = undefined;
    source.failMetrics = undefined;
    expect((await fetch(`${server.url}/stats`)).status).toBe(200);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
  });

  it('rejects bad options with a ConfigError naming the key', async () => {
    const source = new FakeSource();
    await expect(startMonitorServer(source, { port: -1 })).rejects.toThrow(ConfigError);
    await expect(startMonitorServer(source, { port: 1.5 })).rejects.toThrow(/serve\.port/);
    await expect(startMonitorServer(source, { intervalMs: 10 })).rejects.toThrow(/serve\.intervalMs/);
    await expect(startMonitorServer(source, { host: '' })).rejects.toThrow(/serve\.host/);
    await expect(startMonitorServer(source, { prot: 80 } as never)).rejects.toThrow(/serve\.prot: unknown option/);
  });

  it('rejects when the port is taken', async () => {
    const first = await start(new FakeSource());
    await expect(startMonitorServer(new FakeSource(), { port: first.port })).rejects.toThrow(/EADDRINUSE/);
  });

  describe('access', () => {
    /** A raw GET with the headers given (fetch may not set Host). */
    const get = (
      url: string,
      path: string,
      headers: Record<string, string> = {},
    ): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> =>
      new Promise((resolve, reject) => {
        request(`${url}${path}`, { headers }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
        })
          .on('error', reject)
          .end();
      });

    it('refuses a Host header other than loopback names when listening on loopback (DNS rebinding)', async () => {
      const server = await start(new FakeSource());
      expect((await get(server.url, '/stats', { host: 'attacker.example' })).status).toBe(403);
      expect((await get(server.url, '/stats', { host: `attacker.example:${server.port}` })).status).toBe(403);
      for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`, `[::1]:${server.port}`]) {
        expect((await get(server.url, '/stats', { host })).status, host).toBe(200);
      }
      const named = await start(new FakeSource(), { allowedHosts: ['monitor.internal'] });
      expect((await get(named.url, '/stats', { host: 'monitor.internal:9187' })).status).toBe(200);
      expect((await get(named.url, '/stats', { host: `127.0.0.1:${named.port}` })).status).toBe(403);
    });

    it('with a token: 401 without it, 200 with the bearer token, and a browser gets a cookie from /?token=', async () => {
      const token = 'a-long-enough-monitor-token';
      const server = await start(new FakeSource(), { auth: token });
      for (const path of ['/', '/stats', '/metrics', '/health', '/events']) {
        expect((await get(server.url, path)).status, path).toBe(401);
        expect((await get(server.url, path, { authorization: 'Bearer wrong-token-of-some-length' })).status, path).toBe(
          401,
        );
      }
      expect((await get(server.url, '/stats', { authorization: `Bearer ${token}` })).status).toBe(200);
      const visit = await get(server.url, `/?token=${token}`);
      expect(visit.status).toBe(303);
      expect(visit.headers.location).toBe('/');
      const cookie = visit.headers['set-cookie']![0]!;
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      const page = await get(server.url, '/', { cookie: cookie.split(';')[0]! });
      expect(page.status).toBe(200);
      expect(page.body).toContain('<html');
      expect((await get(server.url, '/?token=wrong')).status).toBe(401);
    });

    it('with a function: it decides for each request', async () => {
      const server = await start(new FakeSource(), { auth: (req) => req.headers['x-team'] === 'ops' });
      expect((await get(server.url, '/stats')).status).toBe(401);
      expect((await get(server.url, '/stats', { 'x-team': 'ops' })).status).toBe(200);
      await expect(start(new FakeSource(), { auth: 'short' })).rejects.toMatchObject({ key: 'serve.auth' });
      await expect(start(new FakeSource(), { allowedHosts: 'localhost' as never })).rejects.toMatchObject({
        key: 'serve.allowedHosts',
      });
    });
  });

  describe('/events', () => {
    it('sends a snapshot at once, before the first tick', async () => {
      const source = new FakeSource();
      source.current = stats({ routing: { ...stats().routing, primary: 3 } });
      // An interval far longer than the test: the frame can only be the immediate one.
      const server = await start(source, { intervalMs: 60_000 });
      const events = await openEvents(server.url);
      expect(events.response.statusCode).toBe(200);
      expect(events.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(events.response.headers['cache-control']).toBe('no-store');
      const first = await events.next();
      expect(first.event).toBeUndefined();
      expect(Number(first.id)).toBeGreaterThan(0);
      expect(first.retry).toBe('60000');
      expect(JSON.parse(first.data)).toEqual(JSON.parse(JSON.stringify(source.current)));
      events.close();
    });

    it('then sends one every intervalMs, each with the current snapshot and the server time as id', async () => {
      const source = new FakeSource();
      const server = await start(source, { intervalMs: 100 });
      const events = await openEvents(server.url);
      const received: { id: number; primary: number }[] = [];
      for (let i = 0; i < 4; i++) {
        source.current = stats({ routing: { ...stats().routing, primary: i } });
        // A frame taken before the change may still be on its way (a busy machine): the next ones carry it.
        for (let frames = 0; received.length === i; frames++) {
          expect(frames).toBeLessThan(50);
          const frame = await events.next();
          const primary = (JSON.parse(frame.data) as MonitoredStats).routing.primary;
          if (primary === i) received.push({ id: Number(frame.id), primary });
        }
      }
      events.close();
      expect(received.map((r) => r.primary)).toEqual([0, 1, 2, 3]);
      for (let i = 1; i < received.length; i++) expect(received[i]!.id).toBeGreaterThan(received[i - 1]!.id);
      // Periodic, not a burst: four frames span at least three intervals (less a little timer slack).
      expect(received[3]!.id - received[0]!.id).toBeGreaterThanOrEqual(270);
    });

    it('takes one snapshot a tick for all clients, and stops ticking when the last one leaves', async () => {
      const source = new CountingSource();
      const server = await start(source, { intervalMs: 100 });
      const clients = await Promise.all([openEvents(server.url), openEvents(server.url), openEvents(server.url)]);
      await Promise.all(clients.map((client) => client.next()));
      // Each snapshot carries the number of the stats() call that made it. One call a tick for all clients: each
      // client's frames count up by one. A timer per client would make them count up by three.
      for (const client of clients) {
        const calls: number[] = [];
        for (let i = 0; i < 4; i++)
          calls.push((JSON.parse((await client.next()).data) as MonitoredStats).routing.primary);
        expect(calls.slice(1).map((call, i) => call - calls[i]!)).toEqual([1, 1, 1]);
      }

      for (const client of clients) client.close();
      await Promise.all(clients.map((client) => client.ended));
      // Ticking stops once the server has seen the last client go: then no call for many intervals. (A busy
      // machine may delay when it sees them go; it never makes a ticking server look quiet for this long.)
      let calls = source.statsCalls;
      let quietSince = performance.now();
      await until(() => {
        if (source.statsCalls !== calls) [calls, quietSince] = [source.statsCalls, performance.now()];
        return performance.now() - quietSince >= 1_000;
      }, 30_000);
    });

    it('reports a failing snapshot as a failure event and keeps the stream open', async () => {
      const source = new FakeSource();
      const server = await start(source, { intervalMs: 100 });
      source.failStats = new Error('snapshot failed');
      const events = await openEvents(server.url);
      const failure = await events.next();
      expect(failure.event).toBe('failure');
      expect(JSON.parse(failure.data)).toEqual({ error: 'snapshot failed' });
      source.failStats = undefined;
      let frame = await events.next();
      while (frame.event === 'failure') frame = await events.next();
      expect(JSON.parse(frame.data)).toMatchObject({ closed: false });
      events.close();
    });
  });

  describe('close()', () => {
    it('ends open event streams, closes idle keep-alive sockets and frees the port', async () => {
      const server = await startMonitorServer(new FakeSource(), { intervalMs: 100 });
      const events = await openEvents(server.url);
      await events.next();
      // A keep-alive connection left idle after a request must not hold close() open.
      const agent = new Agent({ keepAlive: true });
      let idleSocket: Socket | undefined;
      await new Promise<void>((resolve, reject) => {
        request(`${server.url}/health`, { agent }, (response) => {
          idleSocket = response.socket;
          response.resume();
          response.on('end', resolve);
        })
          .on('error', reject)
          .end();
      });
      await server.close();
      // The server ended the idle keep-alive connection (the client never does here), so it did not hold close() open.
      await until(() => idleSocket?.destroyed === true, 30_000);
      await events.ended;
      expect(events.response.complete).toBe(true);
      await server.close(); // idempotent

      const probe = createServer();
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.listen(server.port, '127.0.0.1', resolve);
      });
      await new Promise((resolve) => probe.close(resolve));
      agent.destroy();
    });
  });
});
