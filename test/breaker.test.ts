import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitOpenError, QueryRouter } from '../src/index.js';
import { startLocalCluster, type LocalCluster } from '../src/testing.js';
import { until } from './helpers/wait.js';

interface ReadLoad {
  served: number;
  failed: number;
  stop(): Promise<void>;
}

/** Concurrent callers reading in a loop until stopped. A loop never outlives its test, even when it fails. */
function readLoad(router: QueryRouter, callers: number): ReadLoad {
  let stopped = false;
  const load: ReadLoad = {
    served: 0,
    failed: 0,
    stop: async () => {
      stopped = true;
      await running;
    },
  };
  const running = Promise.all(
    Array.from({ length: callers }, async () => {
      while (!stopped) {
        try {
          await router.query('SELECT count(*) FROM breaker_items WHERE v = $1', [1]);
          load.served++;
        } catch {
          load.failed++;
          // Yield to timers: a failure that is immediate must not turn the loop into a busy spin.
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    }),
  );
  return load;
}

describe('circuit breakers, fallbacks and self-healing on a real cluster', () => {
  let cluster: LocalCluster;
  let router: QueryRouter;
  const events: string[] = [];

  beforeAll(async () => {
    cluster = await startLocalCluster({ replicas: 2 });
    router = new QueryRouter({
      primary: cluster.primaryUrl,
      replicas: cluster.replicaUrls,
      // Health checks rarely: this file watches the breakers do the work (a passing health check closes a breaker
      // at once, which would skip the half-open trial some tests wait for).
      pool: { max: 4, acquireTimeoutMs: 2000, healthCheckIntervalMs: 60_000 },
      lagCheckIntervalMs: 60_000,
      breaker: { resetTimeoutMs: 1000, volumeThreshold: 3, timeoutMs: 500 },
    });
    router.on('breakerOpen', ({ node }) => events.push(`open:${node}`));
    router.on('breakerHalfOpen', ({ node }) => events.push(`halfOpen:${node}`));
    router.on('breakerClose', ({ node }) => events.push(`close:${node}`));
    await router.query('CREATE TABLE breaker_items (id int PRIMARY KEY, v int)');
    await router.query('CREATE SEQUENCE breaker_seq');
    await cluster.waitForReplication();
  });
  afterAll(async () => {
    await router?.close();
    await cluster?.stop();
  });

  it('opens no breaker for 500 syntax errors and 500 unique violations', async () => {
    await router.query('INSERT INTO breaker_items VALUES (1, 1)');
    for (let i = 0; i < 500; i++) await expect(router.query('SELEC 1')).rejects.toMatchObject({ code: '42601' });
    for (let i = 0; i < 500; i++)
      await expect(router.query('INSERT INTO breaker_items VALUES ($1, 1)', [1])).rejects.toMatchObject({
        code: '23505',
      });
    expect(router.stats().nodes.map((node) => node.breaker)).toEqual(['closed', 'closed', 'closed']);
    expect(events).toEqual([]);
  });

  it('serves every read while a replica is SIGKILLed, then uses it again after a restart', async () => {
    const load = readLoad(router, 8);
    try {
      await until(() => load.served > 50, 30_000);
      await cluster.killNode(1);
      await until(() => router.stats().nodes[1]!.breaker === 'open', 30_000);
      const servedWhileDown = load.served;
      await until(() => load.served > servedWhileDown + 200, 30_000);
      await cluster.startNode(1);
      await until(() => router.stats().nodes[1]!.breaker === 'closed', 30_000);
      const before = router.stats().nodes[1]!.queries;
      await until(() => router.stats().nodes[1]!.queries > before + 20, 30_000);
    } finally {
      await load.stop();
    }
    expect(load.failed).toBe(0);
    expect(router.stats().routing.readFallbacks).toBeGreaterThan(0);
    expect(events).toContain('open:replica-0');
    expect(events).toContain('close:replica-0');
  }, 60_000);

  it('serves every read while a replica is frozen (SIGSTOP): reads time out there, are retried elsewhere, and it rejoins after SIGCONT', async () => {
    const load = readLoad(router, 6);
    try {
      await until(() => load.served > 50, 30_000);
      cluster.pauseNode(2);
      try {
        await until(() => router.stats().nodes[2]!.breaker === 'open', 30_000);
        const servedWhileFrozen = load.served;
        await until(() => load.served > servedWhileFrozen + 100, 30_000);
      } finally {
        cluster.resumeNode(2);
      }
      await until(() => router.stats().nodes[2]!.breaker === 'closed', 30_000);
      const before = router.stats().nodes[2]!.queries;
      await until(() => router.stats().nodes[2]!.queries > before + 20, 30_000);
    } finally {
      await load.stop();
    }
    expect(load.failed).toBe(0);
    expect(events).toContain('open:replica-1');
  }, 60_000);

  it("cancels a slow statement on a live node as the caller's error (57014), without opening its breaker", async () => {
    const opens = router.stats().nodes[0]!.breakerOpens;
    const error = await router
      .query('SELECT pg_sleep(5)', [], { route: 'primary', timeoutMs: 200 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '57014' });
    expect(router.stats().nodes[0]!.breakerOpens).toBe(opens);
    expect((await router.query<{ v: number }>('SELECT 1 AS v', [], { route: 'primary' })).rows[0]!.v).toBe(1);
  });

  it('fails writes fast with CircuitOpenError while the primary is down, keeps reads on replicas, and recovers', async () => {
    const stoppedAt = Date.now();
    await cluster.stopNode(0);
    // Connection failures open the primary's breaker once they are half of its rolling window...
    let attempts = 0;
    await until(async () => {
      attempts++;
      await router.query('INSERT INTO breaker_items VALUES ($1, 2)', [100 + attempts]).catch(() => undefined);
      return router.stats().nodes[0]!.breaker === 'open';
    }, 15_000);
    // ...after which writes are refused without touching the network, naming the node and the retry time.
    const error = await router.query('INSERT INTO breaker_items VALUES ($1, 2)', [200]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ code: 'PGR_CIRCUIT_OPEN', node: 'primary' });
    // The breaker opened after the node stopped, so its retry time is at least resetTimeoutMs after that.
    expect((error as CircuitOpenError).retryAt).toBeGreaterThanOrEqual(stoppedAt + 1000);
    await expect(router.transaction(async (tx) => tx.query('SELECT 1'))).rejects.toBeInstanceOf(CircuitOpenError);
    // Reads keep working on the replicas.
    const { rows } = await router.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    expect(rows[0]!.r).toBe(true);
    // The caller's fallback answers a write the primary cannot take.
    const fallback = await router.query('INSERT INTO breaker_items VALUES ($1, 2)', [201], {
      fallback: () => ({ command: 'INSERT', rowCount: 0, oid: 0, rows: [], fields: [] }),
    });
    expect(fallback.rowCount).toBe(0);
    expect(router.stats().routing.callerFallbacks).toBeGreaterThan(0);

    await cluster.startNode(0);
    await until(async () => {
      try {
        await router.query('INSERT INTO breaker_items VALUES ($1, 3) ON CONFLICT DO NOTHING', [300]);
        return true;
      } catch (e) {
        if (!(e instanceof CircuitOpenError) && !(e as { code?: string }).code?.match(/^(ECONNREFUSED|57P03)$/))
          throw e;
        return false;
      }
    }, 20_000);
    expect(router.stats().nodes[0]!.breaker).toBe('closed');
    expect(events).toContain('open:primary');
    expect(events).toContain('halfOpen:primary');
    expect(events).toContain('close:primary');
  }, 60_000);

  it('heals a misrouted write: a replica refuses it, it runs on the primary, and its verdict is corrected', async () => {
    // A function that lies about its volatility: STABLE, yet it advances a sequence. The catalog says it may
    // run on a replica; the replica refuses nextval() with SQLSTATE 25006.
    await router.query(
      `CREATE FUNCTION breaker_next() RETURNS bigint LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN nextval('breaker_seq'); END $$`,
    );
    await cluster.waitForReplication();
    const sql = 'SELECT breaker_next() AS n, pg_is_in_recovery() AS r';
    const first = await router.query<{ n: string; r: boolean }>(sql);
    expect(first.rows[0]!.r).toBe(false);
    expect(router.stats().routing.selfHealed).toBe(1);
    expect(router.explain(sql).route).toBe('primary');
    const second = await router.query<{ n: string; r: boolean }>(sql);
    expect(second.rows[0]!.r).toBe(false);
    expect(Number(second.rows[0]!.n)).toBe(Number(first.rows[0]!.n) + 1);
    expect(router.stats().routing.selfHealed).toBe(1);
  });
});
