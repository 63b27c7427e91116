import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryRouter } from '../../src/index.js';
import {
  findPgBouncer,
  startLocalCluster,
  startPgBouncer,
  type LocalCluster,
  type LocalPgBouncers,
} from '../../src/testing.js';
import { until } from '../helpers/wait.js';

/*
 * Read-your-writes through PgBouncer in transaction mode, on a cluster of its own (replay is paused here): the WAL
 * positions the router reads (pg_current_wal_lsn() on the primary, pg_last_wal_replay_lsn() on replicas) are the
 * node's, whichever of PgBouncer's server connections answers, so sessions stay consistent behind it.
 */
const missing = findPgBouncer() === undefined;

describe.skipIf(missing)('read-your-writes through PgBouncer in transaction mode', () => {
  let cluster: LocalCluster;
  let bouncers: LocalPgBouncers;
  let router: QueryRouter;

  beforeAll(async () => {
    cluster = await startLocalCluster({ replicas: 1, settings: { synchronous_commit: 'on' } });
    // A statement PgBouncer queues for a node that is down waits query_wait_timeout (default 120 s), then fails.
    bouncers = await startPgBouncer({
      cluster,
      poolMode: 'transaction',
      poolSize: 5,
      settings: { query_wait_timeout: 5 },
    });
    router = new QueryRouter({
      primary: bouncers.primaryUrl,
      replicas: [...bouncers.replicaUrls],
      statementCache: { max: 0 },
      pool: { max: 4, healthCheckIntervalMs: 200 },
      lagCheckIntervalMs: 100,
    });
    await router.query('CREATE TABLE ryw (id int PRIMARY KEY, v int NOT NULL)');
    await cluster.waitForReplication();
  });

  afterAll(async () => {
    await router?.close();
    await bouncers?.stop();
    await cluster?.stop();
  });

  it('a session reads its own statement, pipeline and transaction writes while the replica is stuck behind', async () => {
    cluster.pauseReplay('replica1');
    const pipeline = router.pipeline({ batchSize: 20, coalesce: true });
    try {
      const seen = await router.session(async () => {
        await router.query('INSERT INTO ryw (id, v) VALUES ($1, $2)', [1, 10]);
        const afterQuery = (await router.query<{ v: number }>('SELECT v FROM ryw WHERE id = $1', [1])).rows[0]?.v;
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            pipeline.addQuery('INSERT INTO ryw (id, v) VALUES ($1, $2)', [100 + i, i]),
          ),
        );
        const afterPipeline = (await router.query<{ n: number }>('SELECT count(*)::int AS n FROM ryw WHERE id >= 100'))
          .rows[0]!.n;
        await router.transaction(async (tx) => {
          await tx.query('UPDATE ryw SET v = $1 WHERE id = $2', [11, 1]);
        });
        const afterTransaction = (await router.query<{ v: number }>('SELECT v FROM ryw WHERE id = $1', [1])).rows[0]?.v;
        return { afterQuery, afterPipeline, afterTransaction };
      });
      expect(seen).toEqual({ afterQuery: 10, afterPipeline: 20, afterTransaction: 11 });
      // Outside a session, the stuck replica answers: it has none of it (so the session's reads were not luck).
      const { rows } = await router.query<{ n: number; standby: boolean }>(
        'SELECT count(*)::int AS n, pg_is_in_recovery() AS standby FROM ryw',
      );
      expect(rows[0]).toEqual({ n: 0, standby: true });
    } finally {
      cluster.resumeReplay('replica1');
      await pipeline.close();
    }
  });

  it('sends a session read to the replica once it has replayed the session write', async () => {
    await cluster.waitForReplication();
    await until(async () => {
      const standby = await router.session(async () => {
        await router.query('UPDATE ryw SET v = v + 1 WHERE id = $1', [1]);
        await cluster.waitForReplication();
        return (await router.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby')).rows[0]!.standby;
      });
      return standby;
    }, 30_000);
    const counts = router.stats().consistency;
    expect(counts.readsOnReplicaKnown + counts.readsOnReplicaChecked + counts.readsOnReplicaAfterWait).toBeGreaterThan(
      0,
    );
  });

  it('health checks through PgBouncer take a killed replica out of the balancer and back in once it restarts', async () => {
    const replica = () => router.stats().nodes.find((n) => n.role === 'replica')!;
    await until(() => replica().healthy, 30_000);
    await cluster.killNode('replica1');
    // PgBouncer still accepts the router's connections; its error for the node behind it fails the health check.
    await until(() => !replica().healthy, 30_000);
    expect(replica().lastHealthError).toBeTruthy();
    const { rows } = await router.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
    expect(rows[0]!.standby).toBe(false);

    await cluster.startNode('replica1');
    await until(() => replica().healthy, 30_000);
    await until(
      async () => (await router.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby')).rows[0]!.standby,
      30_000,
    );
  });
});
