import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcquireTimeoutError, QueryRouter } from '../src/index.js';
import { startLocalCluster, type LocalCluster } from '../src/testing.js';
import { until } from './helpers/wait.js';

describe('health checks, leaks, pool exhaustion and shutdown', () => {
  let cluster: LocalCluster;

  beforeAll(async () => {
    cluster = await startLocalCluster({ replicas: 1 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('takes a dead replica out of the balancer by its health check alone, sends reads to the primary, and brings it back', async () => {
    const router = new QueryRouter({
      primary: cluster.primaryUrl,
      replicas: cluster.replicaUrls,
      pool: { healthCheckIntervalMs: 200 },
    });
    const events: string[] = [];
    router.on('replicaDown', ({ node }) => events.push(`down:${node}`));
    router.on('replicaUp', ({ node }) => events.push(`up:${node}`));
    try {
      expect((await router.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r).toBe(true);
      await cluster.killNode(1);
      // No traffic is needed: the health check alone notices.
      await until(() => events.includes('down:replica-0'), 30_000);
      const stats = router.stats();
      expect(stats.nodes[1]!.healthy).toBe(false);
      expect(stats.nodes[1]!.lastHealthError).toBeTruthy();
      expect(stats.routing).toMatchObject({ replicasAvailable: 0, readsOnPrimary: true });
      expect((await router.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r).toBe(false);
      await cluster.startNode(1);
      await until(() => events.includes('up:replica-0'), 30_000);
      expect(router.stats().routing.readsOnPrimary).toBe(false);
      await until(
        async () => (await router.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r,
        30_000,
      );
    } finally {
      await router.close();
    }
  }, 60_000);

  it("emits leak with the holder's stack when a transaction holds its connection too long", async () => {
    const router = new QueryRouter({
      primary: cluster.primaryUrl,
      pool: { leakTimeoutMs: 100, leakStackTraces: true },
    });
    try {
      const leaks: { node: string; heldMs: number; stack: string | undefined }[] = [];
      router.on('leak', (leak) => leaks.push(leak));
      await router.transaction(async (tx) => {
        await tx.query('SELECT 1');
        await new Promise((resolve) => setTimeout(resolve, 300));
      });
      expect(leaks).toHaveLength(1);
      expect(leaks[0]!.node).toBe('primary');
      expect(leaks[0]!.heldMs).toBeGreaterThanOrEqual(100);
      expect(leaks[0]!.stack).toContain('health.test.ts');
      // A transaction that ends in time reports nothing.
      await router.transaction(async (tx) => tx.query('SELECT 1'));
      expect(leaks).toHaveLength(1);
    } finally {
      await router.close();
    }
  });

  it("fails with AcquireTimeoutError naming the pool's numbers when connections are held", async () => {
    const router = new QueryRouter({ primary: cluster.primaryUrl, pool: { min: 2, max: 2, acquireTimeoutMs: 300 } });
    try {
      // Both connections open (pre-warmed to min) before the holders take them, however slowly they open.
      await until(() => router.stats().nodes[0]!.pool.idle === 2, 30_000);
      const holders = [0, 1].map(() => router.transaction(async (tx) => tx.query('SELECT pg_sleep(1)')));
      await until(() => router.stats().nodes[0]!.pool.active === 2, 30_000, 1);
      const error = await router.query('SELECT 1', [], { route: 'primary' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AcquireTimeoutError);
      expect((error as AcquireTimeoutError).waitedMs).toBeGreaterThanOrEqual(290);
      expect((error as Error).message).toMatch(/pool 2\/2 in use/);
      await Promise.all(holders);
    } finally {
      await router.close();
    }
  });

  it('close({ timeoutMs }) resolves by its deadline while callers hold connections they never give back', async () => {
    const router = new QueryRouter({ primary: cluster.primaryUrl, replicas: cluster.replicaUrls });
    const client = await router.asPool().connect();
    await client.query('BEGIN'); // pinned to a primary connection, never released
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const stuck = router
      .transaction(async (tx) => {
        await tx.query('SELECT 1');
        entered();
        await new Promise(() => undefined); // a callback that never returns
      })
      .catch((e: unknown) => e);
    await inside;
    // The test's own timeout is the bound: without the deadline, close() waits for releases that never come.
    await router.close({ timeoutMs: 500 });
    expect(router.stats().closed).toBe(true);
    await expect(client.query('SELECT 1')).rejects.toThrow();
    void stuck;
  });

  it('close({ timeoutMs }) writes every pipelined statement, cuts what runs past the deadline, and resolves', async () => {
    const router = new QueryRouter({ primary: cluster.primaryUrl });
    await router.query('CREATE TABLE IF NOT EXISTS shutdown_rows (id int PRIMARY KEY)');
    const pipeline = router.pipeline({ flushIntervalMs: 60_000, maxQueueSize: 5_000 });
    const writes = Array.from({ length: 3_000 }, (_, i) =>
      pipeline.addQuery('INSERT INTO shutdown_rows (id) VALUES ($1)', [i]),
    );
    // Without the deadline close() would wait for this statement longer than the test may run.
    const stuck = router.query('SELECT pg_sleep(300)', [], { route: 'primary', timeoutMs: 0 }).catch((e: unknown) => e);
    await router.close({ timeoutMs: 1_500 });
    expect((await Promise.allSettled(writes)).every((outcome) => outcome.status === 'fulfilled')).toBe(true);
    expect(await stuck).toBeInstanceOf(Error);
    const check = new QueryRouter({ primary: cluster.primaryUrl });
    try {
      expect((await check.query<{ n: string }>('SELECT count(*) AS n FROM shutdown_rows')).rows[0]!.n).toBe('3000');
    } finally {
      await check.close();
    }
  }, 60_000);
});
