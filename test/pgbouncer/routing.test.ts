import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryRouter } from '../../src/index.js';
import { startPgBouncer, waitForReplicaReplay } from '../../src/testing.js';
import { until } from '../helpers/wait.js';
import { bouncedCluster } from './context.js';

const cluster = bouncedCluster();
const table = `bounced_routing_${process.pid}`;

describe.skipIf(cluster.missing !== null)('routing through PgBouncer in transaction mode', () => {
  let router: QueryRouter;

  beforeAll(async () => {
    router = new QueryRouter({
      primary: cluster.primaryUrl,
      replicas: [...cluster.replicaUrls],
      // What docs/pgbouncer.md tells users of PgBouncer < 1.21 to set.
      statementCache: { max: 0 },
      pool: { max: 4, healthCheckIntervalMs: 200 },
    });
    await router.query(`CREATE TABLE ${table} (id serial PRIMARY KEY, v int NOT NULL)`);
    await waitForReplicaReplay(cluster.directPrimaryUrl, cluster.directReplicaUrls);
  });

  afterAll(async () => {
    await router?.close();
  });

  it('sends reads to the replicas, through their PgBouncers, and spreads them over both', async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const { rows } = await router.query<{ port: number; recovering: boolean }>(
        'SELECT inet_server_port() AS port, pg_is_in_recovery() AS recovering',
      );
      expect(rows[0]!.recovering).toBe(true);
      seen.add(rows[0]!.port);
    }
    expect([...seen].sort()).toEqual([...cluster.replicaPorts].sort());
    expect(router.stats().routing.replica).toBeGreaterThanOrEqual(12);
  });

  it('sends writes to the primary', async () => {
    const { rows } = await router.query<{ port: number }>(
      `INSERT INTO ${table} (v) VALUES ($1) RETURNING inet_server_port() AS port`,
      [1],
    );
    expect(rows[0]!.port).toBe(cluster.primaryPort);
  });

  it('runs parameterised statements from many callers at once, unnamed, without errors', async () => {
    const before = (
      await router.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`, [], { route: 'primary' })
    ).rows[0]!.n;
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => router.query(`INSERT INTO ${table} (v) VALUES ($1)`, [i])),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const after = (
      await router.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`, [], { route: 'primary' })
    ).rows[0]!.n;
    expect(after - before).toBe(200);
    for (const node of router.stats().nodes) expect(node.statementCacheDisabled).toBeNull();
  });

  it('keeps a transaction on one server connection, and commits or rolls back all of it', async () => {
    const pids = await router.transaction(async (tx) => {
      const first = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await tx.query(`INSERT INTO ${table} (v) VALUES ($1)`, [-1]);
      await tx.query(`INSERT INTO ${table} (v) VALUES ($1)`, [-1]);
      const last = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      return [first.rows[0]!.pid, last.rows[0]!.pid];
    });
    expect(pids[0]).toBe(pids[1]);
    await expect(
      router.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (v) VALUES ($1)`, [-2]);
        throw new Error('roll it back');
      }),
    ).rejects.toThrow('roll it back');
    const { rows } = await router.query<{ v: number; n: number }>(
      `SELECT v, count(*)::int AS n FROM ${table} WHERE v < 0 GROUP BY v ORDER BY v`,
      [],
      { route: 'primary' },
    );
    expect(rows).toEqual([{ v: -1, n: 2 }]);
  });

  it('keeps an asPool() client in its transaction until COMMIT', async () => {
    const pool = router.asPool();
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const a = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await client.query(`INSERT INTO ${table} (v) VALUES ($1)`, [-3]);
      const b = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await client.query('COMMIT');
      expect(a.rows[0]!.pid).toBe(b.rows[0]!.pid);
    } finally {
      client.release();
    }
    const { rows } = await router.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE v = -3`, [], {
      route: 'primary',
    });
    expect(rows[0]!.n).toBe(1);
  });

  it('health-checks every node through its PgBouncer: all healthy, replicas seen in recovery', async () => {
    await until(() => {
      const nodes = router.stats().nodes;
      return nodes.every((n) => n.healthy && n.inRecovery === (n.role === 'replica'));
    }, 30_000);
    const nodes = router.stats().nodes;
    expect(nodes.map((n) => [n.role, n.healthy, n.inRecovery])).toEqual([
      ['primary', true, false],
      ['replica', true, true],
      ['replica', true, true],
    ]);
  });

  it('cancels a statement past its timeout through PgBouncer, which survives the cancel request', async () => {
    // PgBouncer before 1.19.1 exited ("bad client state") when a cancel client hung up before it forwarded the request.
    // The crash depended on a race, so several cancels.
    for (let i = 0; i < 4; i++) {
      const failure = await router.query('SELECT pg_sleep(60)', [], { route: 'primary', timeoutMs: 500 }).then(
        () => undefined,
        (error: unknown) => error as { code?: string },
      );
      // 57014 when the cancel arrived within the grace period, else the router cut the connection: it settles either way.
      expect(['57014', 'PGR_NODE_TIMEOUT']).toContain(failure?.code);
    }
    const admin = new pg.Client(cluster.adminUrls[0]);
    await admin.connect();
    await admin.end();
    const { rows } = await router.query<{ one: number }>('SELECT 1 AS one', [], { route: 'primary' });
    expect(rows[0]!.one).toBe(1);
  });

  it('runs every statement on a server connection PgBouncer chose: the router holds no server session', async () => {
    // PgBouncer's own view: clients of the router, served by its pooled server connections.
    const admin = new pg.Client(cluster.adminUrls[0]);
    await admin.connect();
    try {
      const pools = await admin.query<{ database: string; pool_mode: string }>('SHOW POOLS');
      expect(pools.rows.find((p) => p.database === 'postgres')?.pool_mode).toBe('transaction');
    } finally {
      await admin.end();
    }
  });

  it('session state a statement leaves stays on the server connection unless PgBouncer resets it after each transaction', async () => {
    // The router closes its own connection after a statement that leaves session state; behind transaction pooling
    // the state lives on PgBouncer's server connection, which the next client gets. One server connection each here.
    const seen: Record<string, { workMem: string; advisoryLocks: number }> = {};
    for (const reset of [false, true]) {
      const bouncer = await startPgBouncer({
        targets: [cluster.directPrimaryUrl],
        poolSize: 1,
        settings: reset ? { server_reset_query_always: 1 } : {},
      });
      const leaving = new QueryRouter({ primary: bouncer.primaryUrl, statementCache: { max: 0 } });
      leaving.on('warning', () => undefined);
      const other = new pg.Client(bouncer.primaryUrl);
      try {
        await leaving.query("SET work_mem = '7MB'");
        await leaving.query('SELECT pg_advisory_lock(4242)');
        await other.connect();
        const workMem = (await other.query<{ work_mem: string }>('SHOW work_mem')).rows[0]!.work_mem;
        const advisoryLocks = (
          await other.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242",
          )
        ).rows[0]!.n;
        seen[reset ? 'reset' : 'kept'] = { workMem, advisoryLocks };
      } finally {
        await other.end().catch(() => undefined);
        await leaving.close();
        await bouncer.stop();
      }
    }
    expect(seen).toEqual({ kept: { workMem: '7MB', advisoryLocks: 1 }, reset: { workMem: '4MB', advisoryLocks: 0 } });
  });
});
