import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { ConfigError, QueryRouter } from '../src/index.js';
import { budgetLockKey } from '../src/adaptive/index.js';
import { startLocalCluster, type LocalCluster } from '../src/testing.js';
import { until } from './helpers/wait.js';

const GROUP = 'orders';

// How long one rebalancing step may take: a round every 100 ms, but under full load (npm run test:stress) the rounds of
// three routers contend for the advisory lock and the CPU, and the ceilings settle only after many of them.
const STEP_MS = 90_000;

function router(
  url: string,
  instance: string,
  perNode: number | 'auto',
  extra: { reserve?: number } = {},
): QueryRouter {
  const created = new QueryRouter({
    primary: url,
    pool: { min: 0, max: 10, acquireTimeoutMs: 60_000, healthCheckIntervalMs: 100, idleTimeoutMs: 60_000 },
    connectionBudget: { group: GROUP, perNode, instance, ...extra },
  });
  created.on('connectionError', () => undefined);
  return created;
}

const budgetOf = (r: QueryRouter) => r.stats().nodes[0]!.budget!;

/** Runs `callers` loops of short statements on `r` until `stop()` says so; counts outcomes. */
function load(
  r: QueryRouter,
  callers: number,
  stop: () => boolean,
  tally: { done: number; failed: number },
): Promise<unknown> {
  return Promise.all(
    Array.from({ length: callers }, async () => {
      while (!stop()) {
        await r.query('SELECT pg_sleep(0.005)').then(
          () => tally.done++,
          () => tally.failed++,
        );
      }
    }),
  );
}

describe('a connection budget shared by the routers of one group', () => {
  let cluster: LocalCluster;
  let watcher: pg.Client;
  beforeAll(async () => {
    cluster = await startLocalCluster({ replicas: 0, settings: { max_connections: 40 } });
    watcher = new pg.Client({ connectionString: cluster.primaryUrl, application_name: 'watcher' });
    await watcher.connect();
  });
  afterAll(async () => {
    await watcher?.end();
    await cluster?.stop();
  });

  const groupConnections = async (): Promise<number> =>
    (
      await watcher.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'orders/%'",
      )
    ).rows[0]!.n;

  it('keeps the group within the budget under more callers than it allows, and no statement fails', async () => {
    const routers = ['a', 'b', 'c'].map((instance) => router(cluster.primaryUrl, instance, 12));
    const tally = { done: 0, failed: 0 };
    let stopped = false;
    let peak = 0;
    let samples = 0;
    try {
      // An instance joining the group may put it over by its floor and its health connection until the others' next
      // round: the budget holds once every instance has been through a round that saw the others.
      await until(() => routers.every((r) => budgetOf(r).rounds >= 2 && budgetOf(r).total >= 3), 30_000);
      const running = Promise.all(routers.map((r) => load(r, 10, () => stopped, tally)));
      // Sample the server's view while the load runs, until enough statements ran through every round of resizing.
      while (tally.done < 1_500 || samples < 50) {
        peak = Math.max(peak, await groupConnections());
        samples++;
      }
      stopped = true;
      await running;
      expect(tally.failed).toBe(0);
      expect(peak).toBeLessThanOrEqual(12);
      // The group did use its budget: more than the floors.
      expect(peak).toBeGreaterThan(3 + 3);
      for (const r of routers) {
        const budget = budgetOf(r);
        expect(budget.budget).toBe(12);
        expect(budget.group).toBe(GROUP);
        expect(budget.lastError).toBeNull();
        expect(r.stats().nodes[0]!.breaker).toBe('closed');
      }
      const text = await routers[0]!.metricsText();
      expect(text).toMatch(/^pgrouter_budget_limit\{node="primary",limit="budget"\} 12$/m);
      const series = (holder: string): number =>
        Number(
          new RegExp(`^pgrouter_budget_connections\\{node="primary",holder="${holder}"\\} (\\d+)$`, 'm').exec(
            text,
          )?.[1],
        );
      expect(series('instance')).toBeGreaterThan(0);
      expect(series('group')).toBeGreaterThanOrEqual(series('instance'));
      // One series per holder, not one per instance of the group.
      expect(text.match(/^pgrouter_budget_connections\{/gm)).toHaveLength(2);
    } finally {
      stopped = true;
      await Promise.all(routers.map((r) => r.close()));
    }
  });

  it(
    "a busy instance's ceiling grows when the others are idle, and shrinks back when another gets busy",
    async () => {
      const [a, b, c] = ['a', 'b', 'c'].map((instance) => router(cluster.primaryUrl, instance, 12));
      const tally = { done: 0, failed: 0 };
      let stopA = false;
      let stopB = false;
      try {
        // Budget 12 less 3 health checks: 9 for pools; the idle two keep their floor of 1.
        const runningA = load(a!, 20, () => stopA, tally);
        await until(
          () => budgetOf(a!).ceiling === 7 && budgetOf(b!).ceiling === 1 && budgetOf(c!).ceiling === 1,
          STEP_MS,
        );
        await until(() => a!.stats().nodes[0]!.pool.total === 7, STEP_MS);
        const runningB = load(b!, 20, () => stopB, tally);
        await until(() => (budgetOf(b!).ceiling ?? 0) >= 3 && (budgetOf(a!).ceiling ?? 0) <= 5, STEP_MS);
        stopA = true;
        await runningA;
        await until(() => budgetOf(b!).ceiling === 7, STEP_MS);
        // A shrank towards its floor: its idle connections above the ceiling were closed.
        await until(() => budgetOf(a!).ceiling === 1 && a!.stats().nodes[0]!.pool.total <= 1, STEP_MS);
        stopB = true;
        await runningB;
        expect(tally.failed).toBe(0);
      } finally {
        stopA = stopB = true;
        await Promise.all([a!, b!, c!].map((r) => r.close()));
      }
      // Six steps, each bounded by its own wait: the test's own bound covers all of them on a busy machine.
    },
    6 * STEP_MS + 30_000,
  );

  it("'auto' takes the budget from the server's settings, less the reserve", async () => {
    const r = router(cluster.primaryUrl, 'auto', 'auto', { reserve: 5 });
    try {
      const { rows } = await watcher.query<{ expected: number }>(
        "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int " +
          "- coalesce(current_setting('reserved_connections', true), '0')::int - 5 AS expected",
      );
      await until(() => budgetOf(r).rounds > 0, 30_000);
      expect(budgetOf(r).budget).toBe(rows[0]!.expected);
      expect(budgetOf(r).budget).toBe(40 - 3 - 5);
      // Alone in its group, it may use the whole pool.
      await until(() => budgetOf(r).ceiling === 10, 30_000);
    } finally {
      await r.close();
    }
  }, 120_000);
});

describe('a connection budget whose lock another session holds', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await startLocalCluster({ replicas: 0 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('skips its rounds (lock timeout) without failing health checks or statements, and resumes', async () => {
    const holder = new pg.Client({ connectionString: cluster.primaryUrl });
    await holder.connect();
    const { classId, objId } = budgetLockKey('locked');
    await holder.query('SELECT pg_advisory_lock($1, $2)', [classId, objId]);
    const r = new QueryRouter({
      primary: cluster.primaryUrl,
      pool: { min: 0, max: 4, healthCheckIntervalMs: 100 },
      connectionBudget: { group: 'locked', perNode: 10, instance: 'one' },
    });
    try {
      await until(() => /lock timeout/.test(budgetOf(r).lastError ?? ''), 30_000);
      // Health checks go on passing on the same connection: the aborted round was rolled back.
      const checks = r.stats().nodes[0]!;
      expect(checks.healthy).toBe(true);
      await until(() => r.stats().nodes[0]!.healthy && /lock timeout/.test(budgetOf(r).lastError ?? ''), 30_000);
      expect((await r.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
      expect(budgetOf(r).rounds).toBe(0);
      await holder.query('SELECT pg_advisory_unlock($1, $2)', [classId, objId]);
      await until(() => budgetOf(r).rounds > 0 && budgetOf(r).lastError === null, 30_000);
      expect(budgetOf(r).ceiling).toBe(4);
      expect(r.stats().nodes[0]!.healthy).toBe(true);
    } finally {
      await holder.end();
      await r.close();
    }
  }, 120_000);
});

describe('connectionBudget options', () => {
  const primary = 'postgres://user:secret@localhost:1/db';
  const bad: [string, Record<string, unknown>, string][] = [
    ['a missing group', { connectionBudget: { perNode: 5 } }, 'connectionBudget.group'],
    ['a group with a slash', { connectionBudget: { group: 'a/b' } }, 'connectionBudget.group'],
    ['a group too long', { connectionBudget: { group: 'x'.repeat(21) } }, 'connectionBudget.group'],
    ['an instance with a space', { connectionBudget: { group: 'g', instance: 'a b' } }, 'connectionBudget.instance'],
    ['perNode 0', { connectionBudget: { group: 'g', perNode: 0 } }, 'connectionBudget.perNode'],
    ['perNode a word', { connectionBudget: { group: 'g', perNode: 'all' } }, 'connectionBudget.perNode'],
    ['a negative reserve', { connectionBudget: { group: 'g', reserve: -1 } }, 'connectionBudget.reserve'],
    ['an unknown key', { connectionBudget: { group: 'g', share: 2 } }, 'connectionBudget.share'],
    ['not an object', { connectionBudget: 'orders' }, 'connectionBudget'],
    ['no health checks', { connectionBudget: { group: 'g' }, pool: { healthCheckIntervalMs: 0 } }, 'connectionBudget'],
    [
      'perNode below pool.min + 1',
      { connectionBudget: { group: 'g', perNode: 3 }, pool: { min: 3 } },
      'connectionBudget.perNode',
    ],
  ];
  for (const [what, options, key] of bad) {
    it(`rejects ${what} with a ConfigError naming ${key}`, () => {
      let caught: unknown;
      try {
        new QueryRouter({ primary, ...options } as never);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).key).toBe(key);
    });
  }

  it('reads the budget from the environment', async () => {
    const r = QueryRouter.fromEnv({
      DATABASE_URL: primary,
      PGROUTER_CONNECTION_BUDGET_GROUP: 'orders-api',
      PGROUTER_CONNECTION_BUDGET_PER_NODE: '30',
      PGROUTER_CONNECTION_BUDGET_RESERVE: '2',
      PGROUTER_CONNECTION_BUDGET_INSTANCE: 'pod-1',
    });
    try {
      expect(r.options.connectionBudget).toEqual({ group: 'orders-api', perNode: 30, reserve: 2, instance: 'pod-1' });
    } finally {
      await r.close();
    }
  });
});

describe('a connection budget on a replica', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await startLocalCluster({ replicas: 1 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('runs its rounds on a hot standby too (advisory lock and published name in recovery)', async () => {
    const r = new QueryRouter({
      primary: cluster.primaryUrl,
      replicas: cluster.replicaUrls,
      pool: { min: 0, max: 4, healthCheckIntervalMs: 100 },
      connectionBudget: { group: 'reads', perNode: 20, instance: 'one' },
    });
    try {
      await until(() => r.stats().nodes.every((node) => (node.budget?.rounds ?? 0) >= 2), 30_000);
      for (const node of r.stats().nodes) {
        expect(node.budget).toMatchObject({ budget: 20, ceiling: 4, lastError: null, byInstance: { one: 1 } });
      }
      const replica = new pg.Client({ connectionString: cluster.replicaUrls[0] });
      await replica.connect();
      try {
        const { rows } = await replica.query<{ name: string }>(
          "SELECT application_name AS name FROM pg_stat_activity WHERE application_name LIKE 'reads/%'",
        );
        expect(rows.map((row) => row.name)).toEqual(['reads/one/d=0,c=4']);
      } finally {
        await replica.end();
      }
    } finally {
      await r.close();
    }
  });
});
