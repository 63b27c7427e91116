import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { QueryRouter, isConfigError } from '../src/index.js';
import { ScopePeaks } from '../src/adaptive/index.js';
import { WorkloadScopes, type ScopePools } from '../src/router/workload-scope.js';
import { until } from './helpers/wait.js';

const clock = { now: () => 1_700_000_000_000 };
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Pools that record what scopes reserve and release. */
function recordingPools(): ScopePools & { readonly log: string[]; readonly reserved: number[] } {
  const log: string[] = [];
  const reserved = [0, 0];
  return {
    log,
    reserved,
    reserve: async (node, count) => {
      reserved[node]! += count;
      log.push(`reserve ${node} ${count}`);
    },
    unreserve: (node, count) => {
      reserved[node]! -= count;
      log.push(`unreserve ${node} ${count}`);
    },
  };
}

/** Runs `count` statements of the scopes active in the caller at once on `node`, each until `release` resolves. */
async function concurrent(scopes: WorkloadScopes, node: number, count: number, release: Promise<void>): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async () => {
      const active = scopes.current()!;
      for (const usage of active) usage.enter(node);
      await release;
      for (const usage of active) usage.leave(node);
    }),
  );
}

describe('per-scope peaks (fake clock)', () => {
  it('keeps the most statements in flight at once per node, when the period of activity ends', () => {
    const peaks = new ScopePeaks(['primary', 'replica-0'], 10, clock);
    const usage = peaks.begin('import');
    usage.enter(0);
    usage.enter(0);
    usage.enter(1);
    usage.leave(0);
    usage.enter(0);
    usage.leave(0);
    usage.leave(0);
    usage.leave(1);
    expect(peaks.lastPeak('import')).toBeUndefined();
    expect(peaks.end(usage)).toBe(true);
    expect(peaks.lastPeak('import')).toEqual([2, 1]);
    expect(peaks.snapshot()).toEqual([
      {
        name: 'import',
        runs: 1,
        active: 0,
        inFlight: { primary: 0, 'replica-0': 0 },
        lastPeak: { primary: 2, 'replica-0': 1 },
        lastEndedAt: clock.now(),
      },
    ]);
  });

  it('treats overlapping runs of one scope as one period and starts each period afresh', () => {
    const peaks = new ScopePeaks(['primary'], 10, clock);
    const a = peaks.begin('job');
    const b = peaks.begin('job');
    a.enter(0);
    b.enter(0);
    expect(peaks.end(a)).toBe(false);
    a.leave(0);
    b.leave(0);
    expect(peaks.end(b)).toBe(true);
    expect(peaks.lastPeak('job')).toEqual([2]);
    const next = peaks.begin('job');
    next.enter(0);
    next.leave(0);
    peaks.end(next);
    expect(peaks.lastPeak('job')).toEqual([1]);
    expect(peaks.snapshot()[0]).toMatchObject({ runs: 3, active: 0 });
  });

  it('tracks at most maxScopes scopes, forgetting the least recently used', () => {
    const peaks = new ScopePeaks(['primary'], 3, clock);
    for (const name of ['a', 'b', 'c', 'd']) peaks.end(peaks.begin(name));
    expect(peaks.snapshot().map((scope) => scope.name)).toEqual(['d', 'c', 'b']);
  });
});

describe('workload scopes (fake pools)', () => {
  it('counts a statement towards every enclosing scope, and a re-entered scope once', async () => {
    const scopes = new WorkloadScopes(['primary', 'replica-0'], recordingPools(), 1_000, clock);
    expect(scopes.used).toBe(false);
    expect(scopes.current()).toBeUndefined();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const outer = scopes.run('report', async () => {
      await scopes.run('report', () =>
        scopes.run('export', async () => {
          expect(scopes.current()!.map((usage) => usage.name)).toEqual(['report', 'export']);
          const running = concurrent(scopes, 1, 3, released);
          await tick();
          release();
          await running;
        }),
      );
      await concurrent(scopes, 0, 2, Promise.resolve());
    });
    await outer;
    expect(scopes.used).toBe(true);
    expect(scopes.current()).toBeUndefined();
    const byName = Object.fromEntries(scopes.snapshot().map((scope) => [scope.name, scope]));
    expect(byName['report']).toMatchObject({ runs: 1, lastPeak: { primary: 2, 'replica-0': 3 } });
    expect(byName['export']).toMatchObject({ runs: 1, lastPeak: { primary: 0, 'replica-0': 3 } });
  });

  it('returns what the callback returns, and ends the scope when it throws', async () => {
    const scopes = new WorkloadScopes(['primary'], recordingPools(), 1_000, clock);
    expect(await scopes.run('sync', () => 42)).toBe(42);
    await expect(scopes.run('failing', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(
      scopes.run('throwing', () => {
        throw new Error('sync boom');
      }),
    ).rejects.toThrow('sync boom');
    expect(scopes.snapshot().every((scope) => scope.active === 0 && scope.runs === 1)).toBe(true);
  });

  it('pre-warms to the last peak, holds it through the next run and releases it when that run ends', async () => {
    const pools = recordingPools();
    const scopes = new WorkloadScopes(['primary', 'replica-0'], pools, 60_000, clock);
    expect(await scopes.prewarm('nightly')).toEqual({ scope: 'nightly', connections: {} }); // nothing learned yet
    expect(pools.log).toEqual([]);
    await scopes.run('nightly', () => concurrent(scopes, 0, 20, tick()));
    expect(await scopes.prewarm('nightly')).toEqual({ scope: 'nightly', connections: { primary: 20 } });
    expect(pools.reserved).toEqual([20, 0]);
    expect(scopes.reserved()).toEqual([20, 0]);
    await scopes.run('nightly', async () => {
      expect(pools.reserved).toEqual([20, 0]); // held while it runs
      await concurrent(scopes, 0, 5, tick());
    });
    expect(pools.reserved).toEqual([0, 0]);
    expect(pools.log).toEqual(['reserve 0 20', 'unreserve 0 20']);
    // The next pre-warm uses the latest run's peak.
    await scopes.prewarm('nightly');
    expect(pools.reserved).toEqual([5, 0]);
    scopes.clear();
    expect(pools.reserved).toEqual([0, 0]);
  });

  it('lets a reservation lapse when its scope does not start in time', async () => {
    const pools = recordingPools();
    const scopes = new WorkloadScopes(['primary'], pools, 30, clock);
    await scopes.run('rare', () => concurrent(scopes, 0, 4, tick()));
    await scopes.prewarm('rare');
    expect(pools.reserved[0]).toBe(4);
    await until(() => pools.reserved[0] === 0, 30_000);
    expect(pools.log).toEqual(['reserve 0 4', 'unreserve 0 4']);
  });

  it('rejects bad scope names and callbacks with a ConfigError', async () => {
    const scopes = new WorkloadScopes(['primary'], recordingPools(), 1_000, clock);
    const cases: [unknown, RegExp][] = [
      [
        '',
        /scope\.name: must be a non-empty string of at most 100 characters without control characters, got an empty string/,
      ],
      ['x'.repeat(101), /got 101 characters/],
      ['tab\there', /got control characters/],
      [42, /got number/],
      [undefined, /got undefined/],
      [null, /got null/],
    ];
    for (const [name, message] of cases) {
      const error = await scopes.run(name as string, () => 1).catch((caught: unknown) => caught);
      expect(isConfigError(error), String(name)).toBe(true);
      expect((error as Error).message).toMatch(message);
      await expect(scopes.prewarm(name as string)).rejects.toMatchObject({ key: 'prewarm.name' });
    }
    await expect(scopes.run('fine', 'not a function' as unknown as () => void)).rejects.toMatchObject({ key: 'scope' });
    expect(scopes.used).toBe(false); // nothing ran
    expect(scopes.snapshot()).toEqual([]);
  });
});

describe('pre-warming a scope on a real primary', () => {
  const applicationName = 'scope-prewarm-test';
  let router: QueryRouter;
  let observer: pg.Client;

  /** Connections this router has open on the server right now. */
  async function serverConnections(): Promise<number> {
    const { rows } = await observer.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND backend_type = 'client backend'",
      [applicationName],
    );
    return Number(rows[0]!.n);
  }

  beforeAll(async () => {
    observer = new pg.Client({ connectionString: inject('primaryUrl') });
    await observer.connect();
    router = new QueryRouter({
      primary: inject('primaryUrl'),
      pool: { min: 2, max: 40, idleTimeoutMs: 1_000, acquireTimeoutMs: 10_000 },
      // No peak hold: the pool goes back to its small target soon after each run.
      adaptive: { enabled: true, intervalMs: 200, cooldownMs: 400, peakHoldMs: 0 },
      applicationName,
    });
  });
  afterAll(async () => {
    await router?.close();
    await observer?.end();
  });

  it('opens about as many connections as the scope had statements in flight last time, and gives them back after its next run', async () => {
    const report = (): Promise<unknown> =>
      router.scope('monthly-report', () =>
        Promise.all(Array.from({ length: 20 }, (_, i) => router.query('SELECT pg_sleep(0.2), $1::int AS part', [i]))),
      );
    await report();
    const learned = router.stats().scopes.find((scope) => scope.name === 'monthly-report');
    expect(learned).toMatchObject({ runs: 1, active: 0, lastPeak: { primary: 20 } });

    // The adaptive controller takes the pool back to its small target once the load is gone.
    await until(async () => (await serverConnections()) <= 5, 30_000);
    const before = await serverConnections();

    const prewarmed = await router.prewarm('monthly-report');
    expect(prewarmed).toEqual({ scope: 'monthly-report', connections: { primary: 20 } });
    const warm = await serverConnections();
    expect(warm).toBeGreaterThanOrEqual(20);
    expect(warm).toBeLessThanOrEqual(22);
    expect(router.stats().nodes[0]!.pool).toMatchObject({ reserved: 20 });
    // Held across adaptive intervals with no traffic, until the scope runs (a busy machine runs fewer of them here:
    // it can only make this check weaker, never fail it falsely).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await serverConnections()).toBeGreaterThanOrEqual(20);

    const opened = router.stats().nodes[0]!.recycled;
    const warmIds = new Set(router.stats().nodes[0]!.connections.map((connection) => connection.id));
    await report();
    // The run found its connections open: every connection there now is one the pre-warm opened.
    const afterIds = router.stats().nodes[0]!.connections.map((connection) => connection.id);
    expect(afterIds.length).toBeGreaterThan(0);
    expect(afterIds.every((id) => warmIds.has(id))).toBe(true);
    expect(router.stats().nodes[0]!.pool.reserved).toBe(0);
    await until(async () => (await serverConnections()) <= Math.max(5, before), 30_000);
    expect(router.stats().nodes[0]!.recycled.shrink).toBeGreaterThan(opened.shrink);
    expect(router.stats().scopes.find((scope) => scope.name === 'monthly-report')).toMatchObject({
      runs: 2,
      lastPeak: { primary: 20 },
    });
  });

  it('counts a transaction as one statement in flight for its whole duration', async () => {
    await router.scope('transfers', () =>
      Promise.all(
        Array.from({ length: 6 }, () =>
          router.transaction(async (tx) => {
            await tx.query('SELECT pg_sleep(0.05)');
            await tx.query('SELECT 1');
          }),
        ),
      ),
    );
    expect(router.stats().scopes.find((scope) => scope.name === 'transfers')).toMatchObject({
      runs: 1,
      lastPeak: { primary: 6 },
      inFlight: { primary: 0 },
    });
  });

  it('rejects scope and prewarm calls with bad names, and after close', async () => {
    await expect(router.scope('', async () => 1)).rejects.toMatchObject({ code: 'PGR_CONFIG', key: 'scope.name' });
    await expect(router.prewarm('bad\nname')).rejects.toMatchObject({ code: 'PGR_CONFIG', key: 'prewarm.name' });
    const closed = new QueryRouter({ primary: inject('primaryUrl'), applicationName: `${applicationName}-closed` });
    await closed.close();
    await expect(closed.scope('x', async () => 1)).rejects.toMatchObject({ code: 'PGR_ROUTER_CLOSED' });
    await expect(closed.prewarm('x')).rejects.toMatchObject({ code: 'PGR_ROUTER_CLOSED' });
  });
});
