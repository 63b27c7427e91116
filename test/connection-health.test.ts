import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { QueryRouter, type NodeStats } from '../src/index.js';
import { startLocalCluster, type LocalCluster } from '../src/testing.js';
import { ConnectionHealth, LatencyReference, approxLog2, isConnectionFault } from '../src/pool/connection-health.js';
import { until } from './helpers/wait.js';

const THRESHOLD = 50;
const MEDIAN_MS = 0.5;

/** A connection's score after `statements` (each `[ms, fault]`) one millisecond apart, judged against a fixed median. */
function scoreAfter(
  statements: readonly (readonly [number, boolean])[],
  lifetimeMs = 0,
): { health: ConnectionHealth; scores: number[] } {
  const health = new ConnectionHealth(0);
  const scores: number[] = [];
  statements.forEach(([ms, fault], i) => {
    health.record(ms, fault, MEDIAN_MS, i + 1);
    scores.push(health.score(i + 1, lifetimeMs));
  });
  return { health, scores };
}

const repeat = <T>(times: number, value: T): T[] => Array.from({ length: times }, () => value);

describe('connection health score (fake clock)', () => {
  it('starts at 100 and stays there for statements at the node median', () => {
    const { scores } = scoreAfter(repeat(1_000, [MEDIAN_MS, false] as const));
    expect(new ConnectionHealth(0).score(0, 0)).toBe(100);
    expect(Math.min(...scores)).toBeGreaterThan(99.9);
  });

  it('never counts the caller’s errors: a connection that only ran failing statements of the caller’s stays at 100', () => {
    // isConnectionFault is false for them, so they are recorded as ordinary statements.
    for (const code of ['23505', '42601', '22012', '40001', '57014', '42501', 'P0001', '25006'])
      expect(isConnectionFault({ code })).toBe(false);
    const { scores } = scoreAfter(repeat(200, [MEDIAN_MS, false] as const));
    expect(Math.min(...scores)).toBeGreaterThan(99.9);
  });

  it('blames the connection for an aborted session, lost resources and internal errors only', () => {
    expect(isConnectionFault({ code: '25P02' })).toBe(true);
    expect(isConnectionFault({ code: '25P02' }, true)).toBe(false); // inside the caller's own transaction: its own doing
    expect(isConnectionFault({ code: '53200' })).toBe(true);
    expect(isConnectionFault({ code: '58030' })).toBe(true);
    expect(isConnectionFault({ code: 'XX000' })).toBe(true);
    expect(isConnectionFault(new Error('Connection terminated unexpectedly'))).toBe(false); // ends the connection anyway
    expect(isConnectionFault(undefined)).toBe(false);
  });

  it('falls below the threshold on the fourth connection fault in a row, not before', () => {
    const { scores } = scoreAfter(repeat(4, [MEDIAN_MS, true] as const));
    expect(scores.slice(0, 3).every((score) => score >= THRESHOLD)).toBe(true);
    expect(scores[3]).toBeLessThan(THRESHOLD);
    // Each fault lowers it further.
    for (let i = 1; i < scores.length; i++) expect(scores[i]).toBeLessThan(scores[i - 1]!);
  });

  it('recovers from a few faults as successes follow and the errors age', () => {
    const health = new ConnectionHealth(0);
    for (let t = 1; t <= 3; t++) health.record(MEDIAN_MS, true, MEDIAN_MS, t);
    const hurt = health.score(3, 0);
    for (let t = 4; t <= 40; t++) health.record(MEDIAN_MS, false, MEDIAN_MS, t);
    const later = health.score(40, 0);
    const muchLater = health.score(10 * 60_000, 0); // errors halve every minute
    expect(hurt).toBeGreaterThanOrEqual(THRESHOLD);
    expect(later).toBeGreaterThan(hurt);
    // All that is left after ten minutes is the age penalty: 10 × 10 min / 60 min.
    expect(muchLater).toBeGreaterThan(98);
    expect(muchLater).toBeCloseTo(100 - 10 / 6, 1);
  });

  it('falls below the threshold after a sustained run of stalls, not after a few', () => {
    const { scores } = scoreAfter(repeat(30, [250, false] as const)); // 500× the median each
    const firstBelow = scores.findIndex((score) => score < THRESHOLD);
    expect(firstBelow).toBeGreaterThanOrEqual(5);
    expect(firstBelow).toBeLessThan(15);
  });

  it('does not recycle a new connection whose first statements are slow', () => {
    const { scores } = scoreAfter([
      ...repeat(5, [20 * MEDIAN_MS, false] as const),
      ...repeat(100, [MEDIAN_MS, false] as const),
    ]);
    expect(Math.min(...scores)).toBeGreaterThan(85);
    expect(scores.at(-1)).toBeGreaterThan(99);
  });

  it('does not recycle connections slowed by a cold cache after a restart, and forgets it once the node is warm', () => {
    const { scores } = scoreAfter([
      ...repeat(10, [20 * MEDIAN_MS, false] as const),
      ...repeat(100, [MEDIAN_MS, false] as const),
    ]);
    expect(Math.min(...scores)).toBeGreaterThan(THRESHOLD + 20);
    expect(scores.at(-1)).toBeGreaterThan(99);
  });

  it('does not recycle a connection of a mixed workload whose every fifth statement is 100× slower', () => {
    const statements = Array.from(
      { length: 1_000 },
      (_, i) => [i % 5 === 4 ? 100 * MEDIAN_MS : MEDIAN_MS, false] as const,
    );
    expect(Math.min(...scoreAfter(statements).scores)).toBeGreaterThan(80);
  });

  it('takes at most 10 points for age: 90 at the maximum lifetime and beyond, and over an hour without one', () => {
    const health = new ConnectionHealth(0);
    expect(health.score(30_000, 60_000)).toBeCloseTo(95, 5);
    expect(health.score(60_000, 60_000)).toBeCloseTo(90, 5);
    expect(health.score(600_000, 60_000)).toBeCloseTo(90, 5);
    expect(health.score(1_800_000, 0)).toBeCloseTo(95, 5);
    expect(health.score(36_000_000, 0)).toBeCloseTo(90, 5);
  });

  it('ignores times of statements that have none of their own (pipelined) and the time before the node has a median', () => {
    const health = new ConnectionHealth(0);
    for (let t = 1; t <= 50; t++) health.record(-1, false, MEDIAN_MS, t);
    for (let t = 51; t <= 100; t++) health.record(10_000, false, 0, t);
    expect(health.score(100, 0)).toBeGreaterThan(99.9);
    expect(health.statements).toBe(100);
  });

  it('gives each connection its own opaque id', () => {
    const ids = new Set(Array.from({ length: 100 }, () => new ConnectionHealth(0).id));
    expect(ids.size).toBe(100);
  });
});

describe('node latency reference (fake clock)', () => {
  it('takes logarithms within 0.09 and in order, from microseconds to hours', () => {
    let previous = Number.NEGATIVE_INFINITY;
    for (let x = 0.001; x < 1e7; x *= 1.003) {
      const log = approxLog2(x);
      expect(Math.abs(log - Math.log2(x))).toBeLessThan(0.09);
      expect(log).toBeGreaterThanOrEqual(previous);
      previous = log;
    }
    expect(approxLog2(1)).toBe(0);
    expect(approxLog2(1024)).toBe(10);
  });

  it('has no median before its first window, then the median of what it saw', () => {
    const reference = new LatencyReference();
    for (let i = 0; i < LatencyReference.WINDOW - 1; i++) reference.observe(1);
    expect(reference.medianMs).toBe(0);
    reference.observe(1);
    expect(reference.medianMs).toBeGreaterThanOrEqual(1);
    expect(reference.medianMs).toBeLessThan(1.2); // one bucket: 4 per doubling
  });

  it('follows the node when all of it gets slower, within a few windows', () => {
    const reference = new LatencyReference();
    for (let i = 0; i < 1_000; i++) reference.observe(1);
    for (let i = 0; i < 4 * LatencyReference.WINDOW; i++) reference.observe(8);
    expect(reference.medianMs).toBeGreaterThanOrEqual(8);
    expect(reference.medianMs).toBeLessThan(9.6);
  });

  it('is not moved by a minority of stalls', () => {
    const reference = new LatencyReference();
    for (let i = 0; i < 2_000; i++) reference.observe(i % 10 === 0 ? 500 : 1);
    expect(reference.medianMs).toBeLessThan(1.2);
  });
});

const primaryUrl = inject('primaryUrl');
const primaryNode = (router: QueryRouter): NodeStats => router.stats().nodes[0]!;

describe('connection health on a real primary', () => {
  it('closes a connection that a statement left in a transaction, aborted or not, at once: the next one works', async () => {
    // One connection, so a leak would reach the very next statement.
    const router = new QueryRouter({ primary: primaryUrl, pool: { max: 1 }, applicationName: 'health-aborted' });
    router.on('warning', () => undefined);
    try {
      const first = (await router.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      // A BEGIN and a failing statement sent as one string: pg leaves the connection in an aborted transaction.
      await expect(router.query('BEGIN; SELECT 1 / 0')).rejects.toMatchObject({ code: '22012' });
      expect(primaryNode(router).recycled).toMatchObject({ session: 1, health: 0, error: 0 });
      expect(await router.metricsText()).toMatch(
        /pgrouter_connections_recycled_total\{node="primary",role="primary",reason="session"\} 1\n/,
      );
      // The next statement runs on a fresh connection, outside any transaction.
      const { rows } = await router.query<{ open: boolean; pid: number }>(
        'SELECT now() = statement_timestamp() AS open, pg_backend_pid() AS pid',
      );
      expect(rows[0]).toMatchObject({ open: true });
      expect(rows[0]!.pid).not.toBe(first);
      expect(primaryNode(router).connections[0]!.score).toBeGreaterThan(99);
      expect(primaryNode(router).breaker).toBe('closed');
    } finally {
      await router.close();
    }
  });

  it('keeps connections whose statements fail through the caller’s fault', async () => {
    const router = new QueryRouter({ primary: primaryUrl, pool: { max: 2 }, applicationName: 'health-caller-errors' });
    try {
      const failures = await Promise.allSettled(
        Array.from({ length: 200 }, (_, i) =>
          router.query(i % 2 === 0 ? 'SELECT 1 / 0' : 'SELECT * FROM no_such_table_for_health'),
        ),
      );
      expect(failures.every((outcome) => outcome.status === 'rejected')).toBe(true);
      const node = primaryNode(router);
      expect(node.recycled).toEqual({ lifetime: 0, idle: 0, health: 0, error: 0, shrink: 0, session: 0 });
      expect(node.connections.length).toBeGreaterThan(0);
      for (const connection of node.connections) {
        expect(connection.failures).toBe(0);
        // Nothing off for failures; at most a little for latency, as the two kinds of error take different times.
        expect(connection.score).toBeGreaterThan(THRESHOLD + 20);
      }
    } finally {
      await router.close();
    }
  });

  it('counts idle and lifetime closes by reason', async () => {
    const router = new QueryRouter({
      primary: primaryUrl,
      pool: { max: 4, idleTimeoutMs: 100, maxLifetimeMs: 1_000 },
      applicationName: 'health-recycle-reasons',
    });
    try {
      await Promise.all(Array.from({ length: 4 }, () => router.query('SELECT pg_sleep(0.05)')));
      // All four go idle; pg-pool closes them after 100 ms.
      await until(() => primaryNode(router).recycled.idle >= 4, 30_000);
      // One connection kept busy until it outlives its lifetime (1 s, whole seconds in pg-pool).
      await until(
        async () => {
          await router.query('SELECT 1');
          return primaryNode(router).recycled.lifetime >= 1;
        },
        30_000,
        0,
      );
      expect(primaryNode(router).recycled).toMatchObject({ health: 0, error: 0, shrink: 0 });
    } finally {
      await router.close();
    }
  });
});

describe('connection health with a replica paused (SIGSTOP)', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await startLocalCluster({ replicas: 1 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('lowers the score of a connection whose statements stall and recycles it; healthy connections stay above the threshold', async () => {
    // One replica connection, so each stall lands on the same connection.
    const router = new QueryRouter({
      primary: cluster.primaryUrl,
      replicas: [{ connectionString: cluster.replicaUrls[0]!, max: 1 }],
      pool: { max: 4 },
      applicationName: 'health-stalls',
    });
    const replica = (): NodeStats => router.stats().nodes[1]!;
    try {
      // The replica's median: a few hundred ordinary reads; the primary gets its share of work too.
      for (let i = 0; i < 300; i++) await router.query('SELECT $1::int AS n', [i], { route: 'replica' });
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => router.query('SELECT $1::int AS n', [i], { route: 'primary' })),
      );
      const stalled = replica().connections[0]!;
      // Healthy before the stalls (on a busy machine ordinary reads vary too, so not necessarily 100).
      expect(stalled.score).toBeGreaterThan(THRESHOLD);

      const scores: number[] = [];
      for (let i = 0; i < 40 && replica().recycled.health === 0; i++) {
        cluster.pauseNode(1);
        const read = router.query('SELECT $1::int AS n', [i], { route: 'replica' });
        const resumed = new Promise<void>((resolve) =>
          setTimeout(() => {
            cluster.resumeNode(1);
            resolve();
          }, 250),
        );
        try {
          const { rows } = await read;
          expect(rows[0]!.n).toBe(i); // a stall, not a failure
        } finally {
          await resumed;
        }
        const current = replica().connections.find((connection) => connection.id === stalled.id);
        if (current !== undefined) scores.push(current.score);
      }
      expect(replica().recycled).toMatchObject({ health: 1, error: 0 });
      expect(scores.length).toBeGreaterThanOrEqual(4);
      for (let i = 1; i < scores.length; i++) expect(scores[i]).toBeLessThanOrEqual(scores[i - 1]!);
      expect(scores.at(-1)).toBeLessThan(scores[0]!);

      // The replacement serves at once, and the primary's connections were never in doubt.
      await router.query('SELECT 1', [], { route: 'replica' });
      expect(replica().connections.map((connection) => connection.id)).not.toContain(stalled.id);
      const primary = router.stats().nodes[0]!;
      expect(primary.connections.length).toBeGreaterThan(0);
      expect(primary.connections.every((connection) => connection.score > THRESHOLD)).toBe(true);
      expect(primary.recycled.health).toBe(0);
    } finally {
      cluster.resumeNode(1);
      await router.close();
    }
  });
});
