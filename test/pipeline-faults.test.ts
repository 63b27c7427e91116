import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitOpenError, QueryRouter } from '../src/index.js';
import { startLocalCluster, type LocalCluster } from '../src/testing.js';

/** Resolves with the settled outcomes, or rejects if any promise is still pending after `ms`. */
async function settleWithin<T>(
  settling: Promise<PromiseSettledResult<T>[]>,
  ms: number,
): Promise<PromiseSettledResult<T>[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`promises still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([settling, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('QueryPipeline when the primary dies', () => {
  let cluster: LocalCluster;
  let router: QueryRouter;

  beforeAll(async () => {
    // Acknowledged commits must survive the crash for the last check, so commits wait for the WAL here.
    cluster = await startLocalCluster({ replicas: 0, settings: { synchronous_commit: 'on' } });
    router = new QueryRouter({
      primary: cluster.primaryUrl,
      pool: { max: 4, acquireTimeoutMs: 3000 },
      breaker: { resetTimeoutMs: 500 },
    });
    await router.query('CREATE TABLE fault_rows (id int PRIMARY KEY, v int NOT NULL)');
  });
  afterAll(async () => {
    await router?.close();
    await cluster?.stop();
  });

  it('settles every promise when the primary is SIGKILLed mid-flush, and works again after a restart', async () => {
    const pipeline = router.pipeline({ batchSize: 100, concurrency: 2, maxQueueSize: 60_000 });
    const promises = Array.from({ length: 60_000 }, (_, i) =>
      pipeline.addQuery('INSERT INTO fault_rows (id, v) VALUES ($1, $2)', [i, 1]),
    );
    // Every promise gets its handler now: the ones the kill rejects must not count as unhandled meanwhile.
    const settling = Promise.allSettled(promises);
    // Kill once the first rows are in: the rest are in flight or still queued.
    await promises[0];
    await cluster.killNode(0);
    const flushed = pipeline.flush();
    const settled = await settleWithin(settling, 20_000);
    const summary = await flushed;
    const fulfilled = settled.filter((outcome) => outcome.status === 'fulfilled').length;
    const rejected = settled.filter((outcome) => outcome.status === 'rejected') as PromiseRejectedResult[];
    expect(fulfilled + rejected.length).toBe(60_000);
    expect(fulfilled).toBeGreaterThan(0);
    expect(rejected.length).toBeGreaterThan(0);
    // Connection errors, not constraint errors: nothing ran twice.
    for (const outcome of rejected) expect(outcome.reason.code).not.toBe('23505');
    // flush() counts the batches in flight when it was called (the kill may have failed them all before); the
    // pipeline's own counter holds every failed statement.
    expect(summary.failed).toBeLessThanOrEqual(rejected.length);
    expect(pipeline.stats().failed).toBe(rejected.length);

    // The failed batches opened the primary's breaker: new statements are refused at once, not queued. (On a slow
    // machine its 500 ms may already have passed: the half-open trial then fails on the dead node and opens it again,
    // so the next statement is refused.)
    expect(router.stats().nodes[0]!.breaker).not.toBe('closed');
    const refusals: unknown[] = [];
    for (let attempt = 0; attempt < 50 && !refusals.some((e) => e instanceof CircuitOpenError); attempt++) {
      refusals.push(
        await pipeline.addQuery('INSERT INTO fault_rows (id, v) VALUES ($1, $2)', [999_999, 1]).then(
          () => 'written',
          (error: unknown) => error,
        ),
      );
    }
    expect(refusals.at(-1)).toBeInstanceOf(CircuitOpenError);
    // Before it, at most a failed trial or two: connection errors, never a write.
    for (const refusal of refusals) expect(refusal).toBeInstanceOf(Error);
    // A pipeline with a fallback hands such statements to it instead (here: a local spool).
    const spooled: { error: unknown; params: unknown[] }[] = [];
    const spooling = router.pipeline({
      fallback: (error, _sql, params) => {
        spooled.push({ error, params: [...(params ?? [])] });
        return { command: 'INSERT', rowCount: 0, oid: 0, rows: [], fields: [] };
      },
    });
    for (let attempt = 0; attempt < 50 && !spooled.some((s) => s.error instanceof CircuitOpenError); attempt++) {
      expect((await spooling.addQuery('INSERT INTO fault_rows (id, v) VALUES ($1, $2)', [999_998, 1])).rowCount).toBe(
        0,
      );
    }
    expect(spooled.at(-1)).toEqual({ error: expect.any(CircuitOpenError), params: [999_998, 1] });
    await spooling.close();

    await cluster.startNode(0);
    // Once the breaker lets a trial through, the same pipeline object writes again.
    let result: { rowCount: number | null } | undefined;
    const deadline = Date.now() + 15_000;
    while (result === undefined && Date.now() < deadline) {
      try {
        result = await pipeline.addQuery('INSERT INTO fault_rows (id, v) VALUES ($1, $2)', [1_000_000, 1]);
      } catch (error) {
        if (!(error instanceof CircuitOpenError)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    expect(result?.rowCount).toBe(1);
    expect(router.stats().nodes[0]!.breaker).toBe('closed');
    // Every row reported as written is there: its commit reached the WAL before it was acknowledged, and crash
    // recovery replayed it. (A row whose batch lost its connection may or may not be there.)
    const { rows } = await router.query<{ n: string }>('SELECT count(*) AS n FROM fault_rows WHERE id < 1000000');
    expect(Number(rows[0]!.n)).toBeGreaterThanOrEqual(fulfilled);
    await pipeline.close();
  }, 90_000);
});
