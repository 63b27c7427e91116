import { describe, expect, it } from 'vitest';
import { QueryRouter, isRouterClosedError } from '../src/index.js';
import { sharedCluster } from './helpers/cluster.js';

const cluster = sharedCluster();

describe('await using', () => {
  it('closes the router and flushes the pipeline when the block ends, also when it throws', async () => {
    let outer: QueryRouter | undefined;
    let written: Promise<unknown> | undefined;
    await expect(
      (async () => {
        await using router = new QueryRouter({ primary: cluster.primaryUrl, replicas: [...cluster.replicaUrls] });
        outer = router;
        await router.query('CREATE TABLE IF NOT EXISTS disposed_items (id int PRIMARY KEY)');
        await router.query('DELETE FROM disposed_items');
        {
          await using pipeline = router.pipeline({ flushIntervalMs: 60_000, batchSize: 1_000 });
          // Queued, not sent: only the pipeline's disposal at the end of this block sends it.
          written = pipeline.addQuery('INSERT INTO disposed_items (id) VALUES ($1)', [1]);
        }
        await written;
        throw new Error('the block fails');
      })(),
    ).rejects.toThrow('the block fails');
    expect(outer!.stats().closed).toBe(true);
    await expect(outer!.query('SELECT 1')).rejects.toSatisfy(isRouterClosedError);
    const check = new QueryRouter({ primary: cluster.primaryUrl });
    try {
      expect((await check.query('SELECT id FROM disposed_items')).rows).toEqual([{ id: 1 }]);
    } finally {
      await check.close();
    }
  });
});
