import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryRouter, type QueryRouterOptions } from '../src/index.js';
import { startLocalCluster, type LocalCluster } from '../src/testing.js';
import { until } from './helpers/wait.js';

/*
 * A cascaded replica (primary → replica1 → replica2: the router's 'replica-0' and 'replica-1') as the router sees
 * it: WAL positions are the primary's all along the chain, so lag, lag exclusion and read-your-writes work on it as on
 * a replica of the primary, and a cascaded replica whose upstream freezes or dies falls behind and is avoided.
 */

const WORKERS = 6;

/** A cascaded cluster and what the tests compare with: connections to the node that takes writes now. */
interface Subject {
  cluster: LocalCluster;
  /** Connections to the primary now, whose answers are the truth. */
  truth: pg.Pool;
  cascadedPort: number;
}

/** primary → replica1 → replica2, with the tables the tests use. */
async function cascadedCluster(): Promise<Subject> {
  const cluster = await startLocalCluster({ replicas: 2, cascade: { replica2: 'replica1' } });
  const truth = new pg.Pool({ connectionString: cluster.primaryUrl, max: WORKERS });
  truth.on('error', () => undefined);
  await truth.query('CREATE TABLE kv (id int PRIMARY KEY, v bigint NOT NULL)');
  await truth.query('CREATE TABLE churn (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())');
  await truth.query('INSERT INTO kv SELECT g, 0 FROM generate_series(0, 99) g');
  await cluster.waitForReplication();
  return { cluster, truth, cascadedPort: cluster.nodes[2]!.port };
}

async function release(subject: Subject | undefined): Promise<void> {
  await subject?.truth.end().catch(() => undefined);
  await subject?.cluster.stop();
}

function makeRouter(cluster: LocalCluster, options: Partial<QueryRouterOptions> = {}): QueryRouter {
  return new QueryRouter({
    primary: cluster.primaryUrl,
    replicas: [...cluster.replicaUrls],
    pool: { max: 12, healthCheckIntervalMs: 5_000 },
    lagCheckIntervalMs: 100,
    ...options,
  });
}

const node = (router: QueryRouter, name: string) => router.stats().nodes.find((n) => n.name === name)!;

/** The ports `n` plain reads ran on. */
async function readPorts(router: QueryRouter, n: number): Promise<Set<number>> {
  const ports = new Set<number>();
  for (let i = 0; i < n; i++)
    ports.add((await router.query<{ port: number }>('SELECT inet_server_port() AS port')).rows[0]!.port);
  return ports;
}

/** Writes to another table until `stop()`: the primary's WAL keeps moving, as in production. */
function writeLoad(cluster: LocalCluster): { stop: () => Promise<void> } {
  let running = true;
  const writer = new pg.Client(cluster.primaryUrl);
  const loop = (async () => {
    await writer.connect();
    while (running) await writer.query('INSERT INTO churn DEFAULT VALUES');
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      await writer.end();
    },
  };
}

interface Pairs {
  pairs: number;
  /** Reads through the router that did not return the value just written. */
  stale: number;
  /** Reads through the router whose answer differed from the primary's, asked right after. */
  differFromPrimary: number;
  /** Reads the cascaded replica answered. */
  onCascaded: number;
}

/**
 * `pairs` write-then-read pairs in sessions of their own over {@link WORKERS} workers, each on its own row. Each read's
 * answer is checked against the value written and against the primary's own answer (differential).
 */
async function writeThenRead(
  { truth, cascadedPort }: Subject,
  router: QueryRouter,
  pairs: number,
  firstId: number,
  session: { consistency?: 'eventual'; waitForReplicaMs?: number } = {},
): Promise<Pairs> {
  const outcome: Pairs = { pairs: 0, stale: 0, differFromPrimary: 0, onCascaded: 0 };
  let next = 0;
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, worker) => {
      const id = firstId + worker;
      for (let value = Date.now() * 1000 + worker; next < pairs; value++) {
        next++;
        const row = await router.session(async () => {
          await router.query('UPDATE kv SET v = $1 WHERE id = $2', [value, id]);
          return (
            await router.query<{ v: string; port: number }>(
              'SELECT v, inet_server_port() AS port FROM kv WHERE id = $1',
              [id],
            )
          ).rows[0]!;
        }, session);
        const primary = (await truth.query<{ v: string }>('SELECT v FROM kv WHERE id = $1', [id])).rows[0]!;
        if (Number(row.v) !== value) outcome.stale++;
        if (row.v !== primary.v) outcome.differFromPrimary++;
        if (row.port === cascadedPort) outcome.onCascaded++;
        outcome.pairs++;
      }
    }),
  );
  return outcome;
}

describe('a cascaded replica (primary → replica1 → replica2) behind the router', () => {
  let subject: Subject;
  let cluster: LocalCluster;
  let primaryPort: number;
  let cascadedPort: number;
  beforeAll(async () => {
    subject = await cascadedCluster();
    ({ cluster, cascadedPort } = subject);
    primaryPort = cluster.nodes[0]!.port;
  });
  afterAll(() => release(subject));

  it('takes reads once caught up; its lag is measured against the primary', async () => {
    const router = makeRouter(cluster);
    try {
      await until(async () => (await readPorts(router, 20)).has(cascadedPort), 30_000);
      await until(() => node(router, 'replica-1').lagMs !== null, 30_000);
      const cascaded = node(router, 'replica-1');
      expect(cascaded).toMatchObject({ role: 'replica', healthy: true, lagging: false });
      expect(cascaded.lagBytes).toBeGreaterThanOrEqual(0);
      expect(router.stats().routing.replicasAvailable).toBe(2);
    } finally {
      await router.close();
    }
  });

  it('read-your-writes sessions see every write, also when the cascaded replica answers (differential)', async () => {
    // No lag exclusion: every replica stays in the balancer, so read-your-writes alone keeps reads fresh.
    const router = makeRouter(cluster, { maxReplicaLagMs: 0 });
    try {
      // Reads go where the balancer sends them, with a probe of the replica's replay position riding along.
      const checked = await writeThenRead(subject, router, 2_000, 0);
      // Reads wait for their replica to catch up: the cascaded one serves half of them.
      const waited = await writeThenRead(subject, router, 200, 10, { waitForReplicaMs: 30_000 });
      // The same pairs without read-your-writes: the check can see a stale read when there is one.
      const loose = await writeThenRead(subject, router, 1_000, 20, { consistency: 'eventual' });
      const { consistency } = router.stats();
      console.log(
        `cascaded read-your-writes: ${checked.pairs} pairs, ${checked.stale} stale, ${checked.onCascaded} on the cascaded replica; ` +
          `waiting: ${waited.onCascaded} of ${waited.pairs} on it; eventual: ${loose.stale} of ${loose.pairs} stale; ` +
          `known ${consistency.readsOnReplicaKnown}, checked ${consistency.readsOnReplicaChecked}, after wait ${consistency.readsOnReplicaAfterWait}, primary ${consistency.readsOnPrimary}`,
      );
      for (const run of [checked, waited]) {
        expect(run.stale).toBe(0);
        expect(run.differFromPrimary).toBe(0);
      }
      expect(checked.pairs).toBe(2_000);
      expect(waited.onCascaded).toBeGreaterThan(0);
      expect(loose.stale).toBeGreaterThan(0);
    } finally {
      await router.close();
    }
  }, 180_000);

  it('falls behind while replica1 is frozen: reads avoid it past maxReplicaLagMs, sessions never read stale rows from it, and it is used again once replica1 resumes', async () => {
    const router = makeRouter(cluster, { maxReplicaLagMs: 2_000 });
    // No lag exclusion: the lagging cascaded replica stays in the balancer, and read-your-writes must catch it.
    const ryw = makeRouter(cluster, { maxReplicaLagMs: 0 });
    const events: string[] = [];
    router.on('replicaLagging', ({ node: name }) => events.push(`lagging ${name}`));
    router.on('replicaCaughtUp', ({ node: name }) => events.push(`caughtUp ${name}`));
    const load = writeLoad(cluster);
    try {
      await until(async () => (await readPorts(router, 20)).size === 2, 30_000);
      cluster.pauseNode('replica1');
      // Both routers stop sending reads to the frozen node once its health check fails.
      await until(() => !node(router, 'replica-0').healthy && !node(ryw, 'replica-0').healthy, 30_000);
      await until(() => node(router, 'replica-1').lagging, 30_000);
      const cascaded = node(router, 'replica-1');
      expect(cascaded.healthy).toBe(true);
      expect(cascaded.lagMs!).toBeGreaterThan(2_000);
      expect(cascaded.lagBytes!).toBeGreaterThan(0);
      expect(events).toContain('lagging replica-1');
      expect([...(await readPorts(router, 20))]).toEqual([primaryPort]);
      expect(router.stats().routing.readsOnPrimaryReason).toMatch(/replica-1: lags \d+ ms/);

      // The cascaded replica is still in ryw's balancer and answers its eventual reads with old data …
      expect(node(ryw, 'replica-1').lagging).toBe(false);
      // (until: a health check that times out on this busy machine takes it out of the balancer for a round)
      await until(async () => {
        const loose = await writeThenRead(subject, ryw, 100, 30, { consistency: 'eventual' });
        return loose.onCascaded > 0 && loose.stale > 0;
      }, 30_000);
      // … but never a session read: those run on the primary after their probe saw it behind.
      const before = ryw.stats().consistency.readsOnPrimary;
      const sessions = await writeThenRead(subject, ryw, 500, 40);
      expect(sessions).toMatchObject({ stale: 0, differFromPrimary: 0, onCascaded: 0 });
      expect(ryw.stats().consistency.readsOnPrimary - before).toBeGreaterThan(0);
    } finally {
      cluster.resumeNode('replica1');
    }
    try {
      await until(() => router.stats().routing.replicasAvailable === 2, 30_000);
      expect(events).toContain('caughtUp replica-1');
      await until(async () => (await readPorts(router, 20)).has(cascadedPort), 30_000);
      await cluster.waitForReplication();
      const sessions = await writeThenRead(subject, ryw, 300, 50, { waitForReplicaMs: 30_000 });
      expect(sessions).toMatchObject({ stale: 0, differFromPrimary: 0 });
      expect(sessions.onCascaded).toBeGreaterThan(0);
    } finally {
      await load.stop();
      await Promise.all([router.close(), ryw.close()]);
    }
  }, 180_000);

  it('stalls when replica1 is killed: it is avoided as writes continue, sessions never read stale rows, and it returns after replica1 restarts', async () => {
    const router = makeRouter(cluster, { maxReplicaLagMs: 2_000 });
    const ryw = makeRouter(cluster, { maxReplicaLagMs: 0 });
    const load = writeLoad(cluster);
    try {
      await until(async () => (await readPorts(router, 20)).has(cascadedPort), 30_000);
      await cluster.killNode('replica1');
      await until(() => !node(router, 'replica-0').healthy && !node(ryw, 'replica-0').healthy, 30_000);
      await until(() => node(router, 'replica-1').lagging, 30_000);
      expect(node(router, 'replica-1').healthy).toBe(true);
      expect([...(await readPorts(router, 20))]).toEqual([primaryPort]);

      // It still answers (old data) where no lag limit keeps reads away …
      await until(async () => {
        const loose = await writeThenRead(subject, ryw, 100, 60, { consistency: 'eventual' });
        return loose.onCascaded > 0 && loose.stale > 0;
      }, 30_000);
      // … but never a session's read.
      const sessions = await writeThenRead(subject, ryw, 500, 70);
      expect(sessions).toMatchObject({ stale: 0, differFromPrimary: 0, onCascaded: 0 });

      await cluster.startNode('replica1');
      await until(() => router.stats().routing.replicasAvailable === 2, 30_000);
      await until(async () => (await readPorts(router, 20)).has(cascadedPort), 30_000);
      const after = await writeThenRead(subject, ryw, 300, 80, { waitForReplicaMs: 30_000 });
      expect(after).toMatchObject({ stale: 0, differFromPrimary: 0 });
      expect(after.onCascaded).toBeGreaterThan(0);
    } finally {
      await load.stop();
      await Promise.all([router.close(), ryw.close()]);
    }
  }, 180_000);
});

describe('a cascaded replica whose upstream is promoted', () => {
  let subject: Subject;
  let cluster: LocalCluster;
  beforeAll(async () => {
    subject = await cascadedCluster();
    cluster = subject.cluster;
  });
  afterAll(() => release(subject));

  it('leaves the balancer while it follows a promoted replica the router does not write to, and rejoins once the router fails over to that node', async () => {
    const { cascadedPort } = subject;
    const primaryPort = cluster.nodes[0]!.port;
    const middle = new pg.Pool({ connectionString: cluster.nodes[1]!.url, max: WORKERS });
    middle.on('error', () => undefined);
    const warnings: string[] = [];
    const changes: string[] = [];
    const router = makeRouter(cluster, { maxReplicaLagMs: 0, failover: 'auto' });
    router.on('warning', ({ message }) => warnings.push(message));
    router.on('primaryChanged', ({ from, to }) => changes.push(`${from} → ${to}`));
    try {
      await until(async () => (await readPorts(router, 20)).has(cascadedPort), 30_000);

      // A split: replica1 is promoted while the primary runs. replica2 follows replica1 onto timeline 2 and replays
      // its writes, which the router's primary never saw: its WAL position says nothing about the primary's history.
      await cluster.promoteNode('replica1');
      await middle.query('CREATE TABLE split_only AS SELECT 1 AS x');
      await until(
        () => node(router, 'replica-1').diverged !== null && node(router, 'replica-0').inRecovery === false,
        30_000,
      );
      expect(node(router, 'replica-1').diverged).toMatch(/follows timeline 2, the primary primary is on timeline 1/);
      expect(node(router, 'replica-0').inRecovery).toBe(false);
      expect(router.stats().primary).toBe('primary');
      expect([...(await readPorts(router, 20))]).toEqual([primaryPort]);
      const during = await writeThenRead(subject, router, 300, 0);
      expect(during).toMatchObject({ stale: 0, differFromPrimary: 0, onCascaded: 0 });
      expect(warnings.some((w) => /replica-1 follows timeline 2/.test(w))).toBe(true);

      // The old primary dies: the router fails over to replica1, and replica2 is on the new primary's history.
      await cluster.killNode('primary');
      await until(() => router.stats().primary === 'replica-0', 30_000);
      expect(changes).toEqual(['primary → replica-0']);
      await until(() => node(router, 'replica-1').diverged === null && !node(router, 'replica-1').lagging, 30_000);
      await until(async () => (await readPorts(router, 20)).has(cascadedPort), 30_000);
      await until(() => node(router, 'replica-1').lagMs !== null, 30_000);
      expect(node(router, 'replica-1').timeline).toBe(2);
      const after = await writeThenRead({ ...subject, truth: middle }, router, 300, 10, { waitForReplicaMs: 30_000 });
      expect(after).toMatchObject({ stale: 0, differFromPrimary: 0 });
      expect(after.onCascaded).toBeGreaterThan(0);
    } finally {
      await router.close();
      await middle.end();
    }
  }, 180_000);
});
