import { mkdtempSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { QueryRouter } from '../src/index.js';
import { until } from './helpers/wait.js';

const primaryUrl = inject('primaryUrl');

const INTERVAL_MS = 300;
const IDLE_TIMEOUT_MS = 1_000;
// Short, so the test sees the pool keep its size after the load and then let it go.
const PEAK_HOLD_MS = 1_500;
const pool = { min: 2, max: 40, idleTimeoutMs: IDLE_TIMEOUT_MS, acquireTimeoutMs: 5_000 };
const HOUR_MS = 3_600_000;

/**
 * The learned profile is kept per UTC hour, and the forecast "now" reads the current hour: a test that learns and
 * then reads the forecast must not straddle an hour boundary. If the next one is less than `spanMs` away, wait it out.
 */
async function withinOneHour(spanMs: number): Promise<void> {
  const left = HOUR_MS - (Date.now() % HOUR_MS);
  if (left < spanMs) await new Promise((resolve) => setTimeout(resolve, left + 100));
}
const adaptive = { enabled: true, intervalMs: INTERVAL_MS, cooldownMs: 2 * INTERVAL_MS, peakHoldMs: PEAK_HOLD_MS };

const routers: QueryRouter[] = [];
afterEach(async () => {
  await Promise.all(routers.splice(0).map((router) => router.close()));
});

function primaryPool(router: QueryRouter): { total: number; target: number } {
  return router.stats().nodes[0]!.pool;
}

/** Samples the primary pool's size every 10 ms until stopped: the smallest and largest seen. */
function watchSize(router: QueryRouter): { stop(): { min: number; max: number } } {
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  const timer = setInterval(() => {
    const { total } = primaryPool(router);
    min = Math.min(min, total);
    max = Math.max(max, total);
  }, 10);
  return {
    stop: () => {
      clearInterval(timer);
      return { min, max };
    },
  };
}

/** `callers` loops of a 5 ms statement until `stop` is set; resolves with the statements run. */
async function load(router: QueryRouter, callers: number, signal: { stop: boolean }): Promise<number> {
  let done = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (!signal.stop) {
        await router.query('SELECT pg_sleep(0.005)');
        done++;
      }
    }),
  );
  return done;
}

/**
 * A TCP proxy to `target` that holds every connection after the first for `delayMs` before passing anything on:
 * opening a new connection through it takes that long, as on a busy server.
 */
async function slowConnectProxy(target: URL, delayMs: number): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.pause();
    const open = (): void => {
      const upstream = connect(Number(target.port), target.hostname);
      sockets.add(upstream);
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        from.pipe(to);
        from.on('error', () => to.destroy());
        from.on('close', () => to.destroy());
      }
      client.resume();
    };
    if (accepted++ === 0) open();
    else setTimeout(open, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target.href);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as { port: number }).port);
  return {
    url: url.href,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('adaptive pool sizing (real primary)', () => {
  it('a caller waiting while the pool grows takes the first connection free, not one still being opened', async () => {
    // Regression: pg.Pool ties each waiting caller to a connection it opens for it, so a caller that waited for a
    // busy connection (back in 200 ms) waited for a new one instead (here 1.5 s).
    const proxy = await slowConnectProxy(new URL(primaryUrl), 1_500);
    try {
      const router = new QueryRouter({
        primary: proxy.url,
        pool: { min: 1, max: 4, acquireTimeoutMs: 10_000 },
        adaptive: { enabled: true, intervalMs: 60_000 },
      });
      routers.push(router);
      const resizes: { from: number; to: number }[] = [];
      router.on('poolResize', (event) => resizes.push(event));
      await until(() => router.stats().nodes[0]!.pool.idle === 1, 30_000);
      const first = router.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(0.2)');
      await until(() => router.stats().nodes[0]!.pool.idle === 0, 30_000, 1); // the first has the only connection
      const second = router.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const [a, b] = await Promise.all([first, second]);
      expect(resizes[0]).toMatchObject({ from: 1 }); // the pool did grow for the waiting caller …
      expect(b.rows[0]!.pid).toBe(a.rows[0]!.pid); // … which was served by the busy connection as it came back
      await until(() => router.stats().nodes[0]!.pool.idle >= 2, 30_000); // and the new connection joined the idle ones
    } finally {
      await Promise.all(routers.splice(0).map((router) => router.close()));
      await proxy.close();
    }
  });

  it('grows under sustained load, never leaves [min, max], keeps its size while the load lasts and is back at min after it', async () => {
    await withinOneHour(25_000);
    const router = new QueryRouter({ primary: primaryUrl, pool, adaptive });
    routers.push(router);
    const resizes: { from: number; to: number; reason: string }[] = [];
    router.on('poolResize', (event) => resizes.push(event));
    await until(() => primaryPool(router).total >= pool.min, 30_000); // pre-warmed to min
    expect(primaryPool(router)).toMatchObject({ total: 2, target: 2 });

    const watcher = watchSize(router);
    const signal = { stop: false };
    const running = load(router, 30, signal);
    try {
      // How soon it grows and how long the hold lasts are pinned with a fake clock in adaptive.test.ts; here only
      // what the real pool does, however busy the machine is.
      await until(() => primaryPool(router).total >= 15, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 4 * INTERVAL_MS)); // sustained
      // The load needs ≥ 15 connections while it lasts: the target does not drop below that under it.
      expect(primaryPool(router).target).toBeGreaterThanOrEqual(15);
    } finally {
      signal.stop = true;
    }
    // Every statement succeeded, so nobody waited past acquireTimeoutMs.
    expect(await running).toBeGreaterThan(100);
    expect(resizes.length).toBeGreaterThan(0);
    expect(resizes[0]!.reason).toMatch(/^grow: /);
    expect(resizes.every((resize) => resize.to >= pool.min && resize.to <= pool.max)).toBe(true);

    // Back at min once the hold has passed and the idle connections have timed out.
    await until(() => primaryPool(router).total === pool.min, 30_000);
    const seen = watcher.stop();
    expect(seen.min).toBeGreaterThanOrEqual(pool.min);
    expect(seen.max).toBeLessThanOrEqual(pool.max);
    expect(seen.max).toBeGreaterThanOrEqual(15);
    // It got there by shrinking, never below min.
    const shrinks = resizes.filter((resize) => resize.to < resize.from);
    expect(shrinks.length).toBeGreaterThan(0);
    expect(shrinks.every((resize) => resize.to >= pool.min)).toBe(true);
    // The learned workload shows in patterns() and stats().
    const { frequent, forecast } = router.patterns(5);
    expect(frequent[0]).toMatchObject({ fingerprint: 'select pg_sleep (?)', route: 'primary', errors: 0 });
    expect(frequent[0]!.count).toBe(await running);
    expect(frequent[0]!.meanMs).toBeGreaterThanOrEqual(5);
    expect(forecast.recommendedPoolSizeNow['primary']).toBeGreaterThanOrEqual(15);
    expect(forecast.hoursObserved).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('a restarted router pre-warms each pool to the size it learned for this hour', async () => {
    await withinOneHour(25_000);
    const stateFile = join(mkdtempSync(join(tmpdir(), 'pgr-adaptive-')), 'adaptive.json');
    const first = new QueryRouter({ primary: primaryUrl, pool, adaptive: { ...adaptive, stateFile } });
    const signal = { stop: false };
    const running = load(first, 30, signal);
    try {
      await until(() => primaryPool(first).total >= 15, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 3 * INTERVAL_MS));
    } finally {
      signal.stop = true;
    }
    await running;
    await first.close(); // learns from the last partial interval, then saves the state file
    const learned = first.patterns().forecast.recommendedPoolSizeNow['primary']!;
    expect(learned).toBeGreaterThanOrEqual(15);

    const second = new QueryRouter({ primary: primaryUrl, pool, adaptive: { ...adaptive, stateFile } });
    routers.push(second);
    expect(primaryPool(second).target).toBe(learned);
    // No statement has run: the connections are the pre-warmed ones.
    await until(() => primaryPool(second).total === learned, 30_000);
    expect(second.stats().nodes[0]!.queries).toBe(0);
  }, 60_000);
});
