import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { QueryRouter } from '../src/index.js';
import { until } from './helpers/wait.js';

const primaryUrl = inject('primaryUrl');

const INTERVAL_MS = 300;
const IDLE_TIMEOUT_MS = 1_000;
const pool = { min: 2, max: 40, idleTimeoutMs: IDLE_TIMEOUT_MS, acquireTimeoutMs: 5_000 };
const adaptive = { enabled: true, intervalMs: INTERVAL_MS, cooldownMs: 2 * INTERVAL_MS };

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

describe('adaptive pool sizing (real primary)', () => {
  it('grows under sustained load, never leaves [min, max], and is back at min once the load stops', async () => {
    const router = new QueryRouter({ primary: primaryUrl, pool, adaptive });
    routers.push(router);
    const resizes: { from: number; to: number; reason: string }[] = [];
    router.on('poolResize', (event) => resizes.push(event));
    await until(() => primaryPool(router).total >= pool.min, 5_000); // pre-warmed to min
    expect(primaryPool(router)).toMatchObject({ total: 2, target: 2 });

    const watcher = watchSize(router);
    const signal = { stop: false };
    const started = Date.now();
    const running = load(router, 30, signal);
    try {
      await until(() => primaryPool(router).total >= 15, 5 * INTERVAL_MS);
      const grewAfter = Date.now() - started;
      expect(grewAfter).toBeLessThanOrEqual(5 * INTERVAL_MS + 100);
      await new Promise((resolve) => setTimeout(resolve, 4 * INTERVAL_MS)); // sustained
    } finally {
      signal.stop = true;
    }
    // Every statement succeeded, so nobody waited past acquireTimeoutMs.
    expect(await running).toBeGreaterThan(100);
    expect(resizes.length).toBeGreaterThan(0);
    expect(resizes[0]!.reason).toMatch(/^grow: /);
    expect(resizes.every((resize) => resize.to >= pool.min && resize.to <= pool.max)).toBe(true);

    const stopped = Date.now();
    await until(() => primaryPool(router).total === pool.min, IDLE_TIMEOUT_MS + 2 * INTERVAL_MS + 200);
    const shrankAfter = Date.now() - stopped;
    const seen = watcher.stop();
    expect(seen.min).toBeGreaterThanOrEqual(pool.min);
    expect(seen.max).toBeLessThanOrEqual(pool.max);
    expect(seen.max).toBeGreaterThanOrEqual(15);
    expect(shrankAfter).toBeLessThanOrEqual(IDLE_TIMEOUT_MS + 2 * INTERVAL_MS + 200);
    // The learned workload shows in patterns() and stats().
    const { frequent, forecast } = router.patterns(5);
    expect(frequent[0]).toMatchObject({ fingerprint: 'select pg_sleep (?)', route: 'primary', errors: 0 });
    expect(frequent[0]!.count).toBe(await running);
    expect(frequent[0]!.meanMs).toBeGreaterThanOrEqual(5);
    expect(forecast.recommendedPoolSizeNow['primary']).toBeGreaterThanOrEqual(15);
    expect(forecast.hoursObserved).toBeGreaterThanOrEqual(1);
  });

  it('a restarted router pre-warms each pool to the size it learned for this hour', async () => {
    const stateFile = join(mkdtempSync(join(tmpdir(), 'pgr-adaptive-')), 'adaptive.json');
    const first = new QueryRouter({ primary: primaryUrl, pool, adaptive: { ...adaptive, stateFile } });
    const signal = { stop: false };
    const running = load(first, 30, signal);
    try {
      await until(() => primaryPool(first).total >= 15, 10 * INTERVAL_MS);
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
    await until(() => primaryPool(second).total === learned, 5_000);
    expect(second.stats().nodes[0]!.queries).toBe(0);
  });
});
