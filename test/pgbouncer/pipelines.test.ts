import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryRouter, isBatchAbortedError } from '../../src/index.js';
import type { QueryPipeline } from '../../src/index.js';
import { bouncedCluster } from './context.js';

const cluster = bouncedCluster();
const table = `bounced_pipeline_${process.pid}`;
const INSERT = `INSERT INTO ${table} (tag, v) VALUES ($1, $2)`;

/** Rows per `v` of one tag, read past PgBouncer. */
async function rowsOf(tag: string): Promise<Map<number, number>> {
  const direct = new pg.Client(cluster.directPrimaryUrl);
  await direct.connect();
  try {
    const { rows } = await direct.query<{ v: number; n: number }>(
      `SELECT v, count(*)::int AS n FROM ${table} WHERE tag = $1 GROUP BY v`,
      [tag],
    );
    return new Map(rows.map((r) => [r.v, r.n]));
  } finally {
    await direct.end();
  }
}

/** Queues `count` inserts of `tag` (v = 0 … count-1) and waits for each. */
async function insertAll(
  pipeline: QueryPipeline,
  tag: string,
  count: number,
): Promise<PromiseSettledResult<unknown>[]> {
  const settled = Promise.allSettled(Array.from({ length: count }, (_, v) => pipeline.addQuery(INSERT, [tag, v])));
  await pipeline.flush();
  return settled;
}

describe.skipIf(cluster.missing !== null)('pipelines through PgBouncer in transaction mode', () => {
  let router: QueryRouter;

  beforeAll(async () => {
    router = new QueryRouter({
      primary: cluster.primaryUrl,
      replicas: [...cluster.replicaUrls],
      statementCache: { max: 0 },
      pool: { max: 4 },
    });
    await router.query(
      `CREATE TABLE ${table} (id bigserial PRIMARY KEY, tag text NOT NULL, v int NOT NULL CHECK (v >= 0))`,
    );
  });

  afterAll(async () => {
    await router?.close();
  });

  it('commits atomic batches whole, and rolls a failing one back whole', async () => {
    const pipeline = router.pipeline({ mode: 'atomic', batchSize: 100, concurrency: 2 });
    const results = await insertAll(pipeline, 'atomic', 300);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect([...(await rowsOf('atomic')).values()].reduce((a, b) => a + b, 0)).toBe(300);

    const doomed = Promise.allSettled([0, 1, -1, 3].map((v) => pipeline.addQuery(INSERT, ['atomic-doomed', v])));
    await pipeline.flush();
    const settled = await doomed;
    expect(settled.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    expect(settled.filter((r) => r.status === 'rejected' && isBatchAbortedError(r.reason))).toHaveLength(3);
    expect((await rowsOf('atomic-doomed')).size).toBe(0);
    await pipeline.close();
  });

  it.each([true, false])(
    'runs independent batches (groupCommit %s): each statement once, a bad one alone fails',
    async (groupCommit) => {
      const tag = `independent-${groupCommit}`;
      const pipeline = router.pipeline({ mode: 'independent', groupCommit, batchSize: 100, concurrency: 2 });
      const sent = Promise.allSettled(
        Array.from({ length: 300 }, (_, v) => pipeline.addQuery(INSERT, [tag, v === 150 ? -1 : v])),
      );
      await pipeline.flush();
      const settled = await sent;
      expect(settled.filter((r) => r.status === 'rejected')).toHaveLength(1);
      expect(settled[150]!.status).toBe('rejected');
      const rows = await rowsOf(tag);
      expect(rows.size).toBe(299);
      expect([...rows.values()].every((n) => n === 1)).toBe(true);
      await pipeline.close();
    },
  );

  it('coalesces inserts into multi-row statements', async () => {
    const pipeline = router.pipeline({ coalesce: true, batchSize: 500, concurrency: 2 });
    const results = await insertAll(pipeline, 'coalesced', 1000);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    const rows = await rowsOf('coalesced');
    expect(rows.size).toBe(1000);
    expect([...rows.values()].every((n) => n === 1)).toBe(true);
    expect(pipeline.stats().coalesced).toBeGreaterThan(0);
    await pipeline.close();
  });

  it('with the statement cache on, runs each statement at most once and reports exactly what ran', async () => {
    // Prepared statements wander between PgBouncer's server connections here: some statements may be refused
    // (26000 / 42P05) until the node's cache turns off, and none may run twice or be reported wrongly.
    const cached = new QueryRouter({ primary: cluster.primaryUrl, pool: { max: 4 } });
    const warnings: string[] = [];
    cached.on('warning', ({ message }) => warnings.push(message));
    try {
      const pipelines = [
        cached.pipeline({ mode: 'independent', groupCommit: false, batchSize: 50, concurrency: 2 }),
        cached.pipeline({ mode: 'independent', batchSize: 50, concurrency: 2 }),
        cached.pipeline({ mode: 'atomic', batchSize: 50, concurrency: 2 }),
      ];
      const rounds = await Promise.all(
        pipelines.map(async (pipeline, p) => {
          const tag = `cached-${p}`;
          const sent = Promise.allSettled(Array.from({ length: 400 }, (_, v) => pipeline.addQuery(INSERT, [tag, v])));
          // Plain statements on the same router's connections meanwhile.
          await Promise.all(Array.from({ length: 40 }, (_, i) => cached.query(INSERT, [`${tag}-single`, i])));
          await pipeline.flush();
          return { tag, settled: await sent };
        }),
      );
      for (const { tag, settled } of rounds) {
        const rows = await rowsOf(tag);
        settled.forEach((result, v) => {
          if (result.status === 'fulfilled') expect(rows.get(v), `${tag} v=${v}`).toBe(1);
          else {
            expect(rows.get(v), `${tag} v=${v}`).toBeUndefined();
            const code = (result.reason as { code?: string; cause?: { code?: string } }).code;
            expect(['26000', '42P05', 'PGR_BATCH_ABORTED']).toContain(code);
          }
        });
        expect((await rowsOf(`${tag}-single`)).size).toBe(40);
      }
      // Whatever happened, the router learned it: once the cache is off, every batch goes through.
      if (cached.stats().nodes[0]!.statementCacheDisabled !== null) {
        expect(warnings.filter((w) => w.includes('prepared statements turned off'))).toHaveLength(1);
        const again = await insertAll(pipelines[0]!, 'cached-after', 200);
        expect(again.every((r) => r.status === 'fulfilled')).toBe(true);
      }
      for (const pipeline of pipelines) await pipeline.close();
    } finally {
      await cached.close();
    }
  });
});
