import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { AcquireTimeoutError, QueryRouter } from '../src/index.js';
import { isConnectionRefusal } from '../src/pool/index.js';
import { isNodeFailure } from '../src/resilience/index.js';
import { startLocalCluster, type LocalCluster } from '../src/testing.js';
import { until } from './helpers/wait.js';

/** Opens raw connections until the server refuses one for lack of room; returns them and that refusal. */
async function fillServer(url: string): Promise<{ held: pg.Client[]; refusal: { code?: string; message: string } }> {
  const held: pg.Client[] = [];
  for (;;) {
    const client = new pg.Client({ connectionString: url, application_name: 'filler' });
    client.on('error', () => undefined);
    try {
      await client.connect();
      held.push(client);
    } catch (error) {
      return { held, refusal: error as { code?: string; message: string } };
    }
    if (held.length > 200) throw new Error('the server never refused a connection');
  }
}

const release = (clients: pg.Client[], count = clients.length): Promise<unknown> =>
  Promise.all(clients.splice(0, count).map((client) => client.end().catch(() => undefined)));

describe('"too many clients" is back-pressure, not a node failure', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await startLocalCluster({ replicas: 0, settings: { max_connections: 12 } });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('several routers on a full primary: callers wait, nothing fails, no breaker opens, refusals are counted', async () => {
    const routers = [0, 1, 2].map(
      (i) =>
        new QueryRouter({
          primary: cluster.primaryUrl,
          pool: {
            min: 0,
            max: 10,
            acquireTimeoutMs: 60_000,
            // A router done with its work gives its connections back to the server soon: the others need them.
            idleTimeoutMs: 300,
            healthCheckIntervalMs: 200,
            connectRetryDelayMs: 20,
          },
          breaker: { consecutiveFailures: 2, volumeThreshold: 2 },
          applicationName: `full-${i}`,
        }),
    );
    const opened: string[] = [];
    for (const router of routers) {
      router.on('breakerOpen', (event) => opened.push(event.node));
      router.on('connectionError', () => undefined);
    }
    const { held, refusal } = await fillServer(cluster.primaryUrl);
    try {
      expect(refusal.code).toBe('53300');
      // Two slots free for 3 routers × 12 callers.
      await release(held, 2);
      let failed = 0;
      let done = 0;
      const calls = routers.flatMap((router) =>
        Array.from({ length: 12 }, async () => {
          for (let i = 0; i < 4; i++) {
            await router.query('SELECT pg_sleep(0.01)').then(
              () => done++,
              () => failed++,
            );
          }
        }),
      );
      const refusals = (): number =>
        routers.reduce((sum, router) => sum + router.stats().nodes[0]!.connectionRefusals, 0);
      await until(() => refusals() > 0, 30_000);
      // Room again: the waiting callers get connections.
      await release(held);
      await Promise.all(calls);
      expect(failed).toBe(0);
      expect(done).toBe(3 * 12 * 4);
      expect(opened).toEqual([]);
      for (const router of routers) {
        const node = router.stats().nodes[0]!;
        expect(node.breaker).toBe('closed');
        expect(node.breakerOpens).toBe(0);
        expect(node.healthy).toBe(true);
      }
      const text = await routers.map((router) => router.metricsText()).reduce(async (a, b) => (await a) + (await b));
      const counted = [...text.matchAll(/^pgrouter_connection_refusals_total\{[^}]*\} (\d+)/gm)].map((m) =>
        Number(m[1]),
      );
      expect(counted.reduce((a, b) => a + b, 0)).toBe(refusals());
    } finally {
      await release(held);
      await Promise.all(routers.map((router) => router.close()));
    }
  });

  it('past acquireTimeoutMs a caller gets AcquireTimeoutError caused by the refusal; the breaker stays closed and health checks pass', async () => {
    const router = new QueryRouter({
      primary: cluster.primaryUrl,
      pool: { min: 0, max: 5, acquireTimeoutMs: 400, healthCheckIntervalMs: 100, connectRetryDelayMs: 20 },
      breaker: { consecutiveFailures: 2, volumeThreshold: 2 },
      applicationName: 'full-timeout',
    });
    router.on('connectionError', () => undefined);
    const opened: string[] = [];
    router.on('breakerOpen', (event) => opened.push(event.node));
    const { held } = await fillServer(cluster.primaryUrl);
    try {
      const errors = await Promise.all(
        Array.from({ length: 8 }, () => router.query('SELECT 1').catch((error: unknown) => error)),
      );
      for (const error of errors) {
        expect(error).toMatchObject({ code: 'PGR_ACQUIRE_TIMEOUT', node: 'primary' });
        expect((error as { cause?: { code?: string } }).cause?.code).toBe('53300');
        // Not before its acquisition timeout.
        expect((error as { waitedMs: number }).waitedMs).toBeGreaterThanOrEqual(395); // timers may fire a millisecond early
        expect(isNodeFailure(error)).toBe(false);
      }
      // A health check that cannot connect for lack of room says the node is up.
      const pool = router.stats().nodes[0]!.connectionRefusals;
      await until(() => router.stats().nodes[0]!.connectionRefusals > pool, 30_000);
      const node = router.stats().nodes[0]!;
      expect(node.healthy).toBe(true);
      expect(node.breaker).toBe('closed');
      expect(opened).toEqual([]);
      await release(held);
      const { rows } = await router.query<{ n: number }>('SELECT 1 AS n');
      expect(rows).toEqual([{ n: 1 }]);
    } finally {
      await release(held);
      await router.close();
    }
  });

  it('a role at its connection limit: the refusal is 53300 too, and callers wait for a free connection', async () => {
    const admin = new pg.Client({ connectionString: cluster.primaryUrl });
    await admin.connect();
    await admin.query('DROP ROLE IF EXISTS limited');
    await admin.query("CREATE ROLE limited LOGIN PASSWORD 'limited' CONNECTION LIMIT 1");
    const url = new URL(cluster.primaryUrl);
    url.username = 'limited';
    url.password = 'limited';
    const blocker = new pg.Client({ connectionString: url.toString() });
    await blocker.connect();
    const router = new QueryRouter({
      primary: url.toString(),
      pool: { min: 0, max: 4, acquireTimeoutMs: 60_000, healthCheckIntervalMs: 0, connectRetryDelayMs: 20 },
      applicationName: 'limited-role',
    });
    try {
      const second = new pg.Client({ connectionString: url.toString() });
      const refused = await second.connect().then(
        () => undefined,
        (error: { code?: string; message: string }) => error,
      );
      expect(refused?.code).toBe('53300');
      expect(refused?.message).toMatch(/too many connections for role/);
      const calls = Array.from({ length: 6 }, () => router.query<{ n: number }>('SELECT 1 AS n'));
      await until(() => router.stats().nodes[0]!.connectionRefusals > 0, 30_000);
      await blocker.end();
      const results = await Promise.all(calls);
      expect(results.map((result) => result.rows[0]!.n)).toEqual([1, 1, 1, 1, 1, 1]);
      expect(router.stats().nodes[0]!.breaker).toBe('closed');
    } finally {
      await blocker.end().catch(() => undefined);
      await router.close();
      await admin.query('DROP ROLE IF EXISTS limited').catch(() => undefined);
      await admin.end();
    }
  });

  it('a statement that raises 53300 itself is an ordinary node error, as before', async () => {
    const router = new QueryRouter({
      primary: cluster.primaryUrl,
      pool: { min: 0, max: 2, healthCheckIntervalMs: 0 },
      breaker: { consecutiveFailures: 3, volumeThreshold: 3 },
      applicationName: 'statement-53300',
    });
    try {
      const raise = "DO $$ BEGIN RAISE EXCEPTION 'full' USING ERRCODE = '53300'; END $$";
      for (let i = 0; i < 3; i++) {
        const error = await router.query(raise, [], { route: 'primary' }).catch((caught: unknown) => caught);
        expect(error).toMatchObject({ code: '53300' });
        expect(isNodeFailure(error)).toBe(true);
      }
      expect(router.stats().nodes[0]!.breaker).toBe('open');
      expect(router.stats().nodes[0]!.connectionRefusals).toBe(0);
    } finally {
      await router.close();
    }
  });
});

describe('which errors are a full node', () => {
  it('53300 and 53400 at connect are refusals; an acquisition timeout they caused blames no node, others do', () => {
    expect(isConnectionRefusal({ code: '53300' })).toBe(true);
    expect(isConnectionRefusal({ code: '53400' })).toBe(true);
    expect(isConnectionRefusal({ code: '53200' })).toBe(false);
    expect(isConnectionRefusal({ code: '57P03' })).toBe(false);
    expect(isConnectionRefusal(undefined)).toBe(false);
    const refused = Object.assign(new Error('sorry, too many clients already'), { code: '53400', severity: 'FATAL' });
    expect(isNodeFailure(new AcquireTimeoutError('primary', 10, { cause: refused }))).toBe(false);
    expect(isNodeFailure(new AcquireTimeoutError('primary', 10, { cause: new Error('timeout') }))).toBe(true);
    expect(isNodeFailure(new AcquireTimeoutError('primary', 10))).toBe(true);
  });
});
