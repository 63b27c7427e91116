import { afterEach, describe, expect, inject, it } from 'vitest';
import { QueryRouter } from '../src/index.js';

const primaryUrl = inject('primaryUrl');
const replicaUrls = inject('replicaUrls');

interface Prepared {
  name: string;
  statement: string;
}

/** The prepared statements of the one connection a `pool.max: 1` router holds to the primary. */
async function preparedOnPrimary(router: QueryRouter): Promise<Prepared[]> {
  const { rows } = await router.query<Prepared>(
    "SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'pgr\\_%' ORDER BY name",
    [],
    { route: 'primary' },
  );
  return rows;
}

describe('prepared statement cache', () => {
  const routers: QueryRouter[] = [];
  const make = (max: number, replicas: readonly string[] = []): QueryRouter => {
    const router = new QueryRouter({ primary: primaryUrl, replicas, pool: { max: 1 }, statementCache: { max } });
    routers.push(router);
    return router;
  };
  afterEach(async () => {
    await Promise.all(routers.splice(0).map((router) => router.close()));
  });

  it('keeps at most max statements per connection, closing evicted ones on the server', async () => {
    const max = 5;
    const router = make(max);
    for (let k = 0; k < 10 * max; k++) {
      const { rows } = await router.query<{ v: number }>(`SELECT $1::int + ${k} AS v`, [1], { route: 'primary' });
      expect(rows[0]!.v).toBe(1 + k);
    }
    const prepared = await preparedOnPrimary(router);
    expect(prepared).toHaveLength(max);
    // The survivors are the most recently used statements.
    expect(prepared.map((row) => row.statement).sort()).toEqual(
      Array.from({ length: max }, (_, i) => `SELECT $1::int + ${10 * max - max + i} AS v`).sort(),
    );
    const stats = router.stats().statementCache;
    expect(stats.misses).toBe(10 * max);
    expect(stats.evictions).toBe(10 * max - max);
  });

  it('bounds every connection of every node, replicas included', async () => {
    const max = 3;
    const router = make(max, replicaUrls);
    for (let k = 0; k < 10 * max; k++) await router.query(`SELECT $1::int * ${k} AS v`, [2]);
    for (let i = 0; i < 4; i++) {
      // pg_prepared_statements describes the connection that reads it: read it on the replicas' connections.
      const { rows } = await router.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_prepared_statements WHERE name LIKE 'pgr\\_%'",
        [],
        { route: 'replica' },
      );
      expect(Number(rows[0]!.n)).toBeLessThanOrEqual(max);
      expect(Number(rows[0]!.n)).toBeGreaterThan(0);
    }
  });

  it('reuses a statement on repeat (a hit) and re-prepares an evicted one correctly', async () => {
    const router = make(2);
    const sqlA = "SELECT $1::text || '-a' AS v";
    const sqlB = "SELECT $1::text || '-b' AS v";
    const sqlC = "SELECT $1::text || '-c' AS v";
    expect((await router.query<{ v: string }>(sqlA, ['x'], { route: 'primary' })).rows[0]!.v).toBe('x-a');
    expect((await router.query<{ v: string }>(sqlA, ['y'], { route: 'primary' })).rows[0]!.v).toBe('y-a');
    expect(router.stats().statementCache.hits).toBe(1);
    await router.query(sqlB, ['x'], { route: 'primary' });
    await router.query(sqlC, ['x'], { route: 'primary' }); // evicts A
    expect((await router.query<{ v: string }>(sqlA, ['z'], { route: 'primary' })).rows[0]!.v).toBe('z-a');
    const prepared = await preparedOnPrimary(router);
    expect(prepared.map((row) => row.statement).sort()).toEqual([sqlA, sqlC].sort());
  });

  it('never binds one name to two different statements', async () => {
    const router = make(50);
    for (let k = 0; k < 20; k++) await router.query(`SELECT $1::int AS v${k % 10}`, [k], { route: 'primary' });
    const prepared = await preparedOnPrimary(router);
    expect(prepared).toHaveLength(10);
    expect(new Set(prepared.map((row) => row.name)).size).toBe(10);
    expect(new Set(prepared.map((row) => row.statement)).size).toBe(10);
  });

  it('prepares nothing when statementCache.max is 0', async () => {
    const router = make(0);
    for (let k = 0; k < 5; k++) await router.query(`SELECT $1::int + ${k}`, [1], { route: 'primary' });
    expect(await preparedOnPrimary(router)).toHaveLength(0);
  });

  it('re-prepares and retries once when a table change invalidates the cached plan', async () => {
    const router = make(10);
    const table = `stale_plan_${Date.now()}`;
    await router.query(`CREATE TABLE ${table} (id int PRIMARY KEY, a text)`);
    await router.query(`INSERT INTO ${table} VALUES (1, 'one')`);
    const sql = `SELECT * FROM ${table} WHERE id = $1`;
    expect((await router.query(sql, [1], { route: 'primary' })).rows[0]).toEqual({ id: 1, a: 'one' });
    await router.query(`ALTER TABLE ${table} ADD COLUMN b text DEFAULT 'new'`);
    expect((await router.query(sql, [1], { route: 'primary' })).rows[0]).toEqual({ id: 1, a: 'one', b: 'new' });
  });
});

describe('prepared statement cache under pipelining', () => {
  it('stays consistent when a pipelined batch evicts statements it is still using', async () => {
    const router = new QueryRouter({ primary: inject('primaryUrl'), pool: { max: 1 }, statementCache: { max: 2 } });
    try {
      const pipeline = router.pipeline({ batchSize: 50 });
      const pending: Promise<{ rows: { v: number }[] }>[] = [];
      for (let round = 0; round < 3; round++)
        for (let k = 0; k < 5; k++) pending.push(pipeline.addQuery(`SELECT $1::int + ${k} AS v`, [round]));
      await pipeline.flush();
      const values = (await Promise.all(pending)).map((result) => result.rows[0]!.v);
      expect(values).toEqual([0, 1, 2, 3, 4, 1, 2, 3, 4, 5, 2, 3, 4, 5, 6]);
      // The statements the batch closed on the server are prepared afresh when used again, not assumed to exist.
      for (let k = 0; k < 5; k++)
        expect(
          (await router.query<{ v: number }>(`SELECT $1::int + ${k} AS v`, [10], { route: 'primary' })).rows[0]!.v,
        ).toBe(10 + k);
      const { rows } = await router.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_prepared_statements WHERE name LIKE 'pgr\\_%'",
        [],
        { route: 'primary' },
      );
      expect(Number(rows[0]!.n)).toBeLessThanOrEqual(2);
    } finally {
      await router.close();
    }
  });
});
