import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { until } from './helpers/wait.js';
import {
  AcquireTimeoutError,
  ConfigError,
  QueryError,
  QueryRouter,
  RouterClosedError,
  isAcquireTimeoutError,
  isConfigError,
  isQueryError,
  isRouterClosedError,
  isRouterError,
} from '../src/index.js';

const primaryUrl = inject('primaryUrl');
const replicaUrls = inject('replicaUrls');

function secretOf(url: string): string {
  return decodeURIComponent(new URL(url).password);
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('bad input gets a clear typed error and loses nothing', () => {
  let router: QueryRouter;

  beforeAll(async () => {
    router = new QueryRouter({ primary: primaryUrl, replicas: replicaUrls });
    await router.query('CREATE TABLE IF NOT EXISTS bad_input_items (id int PRIMARY KEY, name text NOT NULL)');
  });
  afterAll(async () => {
    await router.close();
  });

  const totalQueries = (): number => router.stats().nodes.reduce((sum, node) => sum + node.queries, 0);

  it.each([
    ['an empty string', '', 'PGR_INVALID_QUERY'],
    ['only whitespace and comments', '  -- nothing\n /* here */ ;', 'PGR_INVALID_QUERY'],
    ['a number', 42, 'PGR_INVALID_QUERY'],
    ['undefined', undefined, 'PGR_INVALID_QUERY'],
    ['null', null, 'PGR_INVALID_QUERY'],
  ])('rejects %s as SQL before sending anything', async (_label, sql, code) => {
    const before = totalQueries();
    const error = await failure(router.query(sql as string));
    expect(error).toBeInstanceOf(QueryError);
    expect(isQueryError(error)).toBe(true);
    expect((error as QueryError).code).toBe(code);
    expect(totalQueries()).toBe(before);
  });

  it('refuses SQL with a NUL character and more than 65,535 parameters before sending; neither touches a breaker', async () => {
    const before = totalQueries();
    for (let i = 0; i < 10; i++) {
      for (const sql of ['SELECT 1 AS a\0', "INSERT INTO bad_input_items VALUES (1, 'x\0y')"]) {
        const error = await failure(router.query(sql));
        expect(error).toMatchObject({ code: 'PGR_INVALID_QUERY' });
        expect((error as Error).message).toMatch(/NUL/);
      }
    }
    const many = Array.from({ length: 65_536 }, (_, i) => i);
    const tooMany = await failure(router.query(`SELECT ${many.map((i) => `$${i + 1}`).join(', ')}`, many));
    expect(tooMany).toMatchObject({ code: 'PGR_PARAMETER_COUNT' });
    expect((tooMany as Error).message).toMatch(/at most 65535 parameters, got 65536/);
    expect(totalQueries()).toBe(before);
    // A NUL inside a parameter reaches PostgreSQL, which refuses it as the caller's data (22021), not a node failure.
    for (let i = 0; i < 10; i++) {
      await expect(
        router.query('INSERT INTO bad_input_items VALUES ($1, $2)', [1_000 + i, 'x\0y']),
      ).rejects.toMatchObject({ code: '22021' });
    }
    expect(router.stats().nodes.map((node) => node.breaker)).toEqual(['closed', 'closed', 'closed']);
    await router.query('INSERT INTO bad_input_items VALUES ($1, $2) ON CONFLICT DO NOTHING', [
      999,
      'written after all that',
    ]);
  });

  it("refuses a parameter pg cannot convert before sending it, as the caller's error that no breaker counts", async () => {
    const circular: Record<string, unknown> = { name: 'loop' };
    circular['self'] = circular;
    const unsendable: [string, unknown][] = [
      ['an object holding a BigInt', { id: 1n }],
      ['a circular object', circular],
      [
        'an object whose toPostgres() throws',
        {
          toPostgres: () => {
            throw new Error('no wire form');
          },
        },
      ],
    ];
    const before = totalQueries();
    for (let round = 0; round < 20; round++) {
      for (const [label, value] of unsendable) {
        // A read (a replica's) and a write (the primary's): neither is retried elsewhere nor opens a breaker.
        for (const sql of ['SELECT $1::jsonb AS v', 'INSERT INTO bad_input_items (id, name) VALUES (1000, $1::text)']) {
          const error = await failure(router.query(sql, [value]));
          expect(error, label).toBeInstanceOf(QueryError);
          expect((error as QueryError).code).toBe('PGR_INVALID_QUERY');
          expect((error as QueryError).message).toMatch(/^parameter \$1 cannot be sent to PostgreSQL: /);
          expect((error as QueryError).outcomeUnknown).toBe(false);
        }
      }
    }
    const stats = router.stats();
    expect(stats.nodes.every((node) => node.breaker === 'closed' && node.breakerOpens === 0)).toBe(true);
    expect(stats.routing.readFallbacks).toBe(0);
    expect(totalQueries()).toBe(before);
    // On the primary: a replica within the lag bound may not have replayed the table's creation yet.
    const { rows } = await router.query('SELECT count(*)::int AS n FROM bad_input_items WHERE id = 1000', [], {
      route: 'primary',
    });
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('refuses such a parameter in a transaction, a pinned client and a pipeline, and keeps every other statement', async () => {
    const bad = { id: 1n };
    const pool = router.asPool();
    await router.query('DELETE FROM bad_input_items WHERE id BETWEEN 2000 AND 2999');
    // A transaction goes on: nothing was sent, so PostgreSQL's transaction is not aborted.
    await router.transaction(async (tx) => {
      await tx.query('INSERT INTO bad_input_items (id, name) VALUES (2001, $1)', ['kept']);
      const error = await failure(tx.query('INSERT INTO bad_input_items (id, name) VALUES (2002, $1)', [bad]));
      expect((error as QueryError).code).toBe('PGR_INVALID_QUERY');
      await tx.query('INSERT INTO bad_input_items (id, name) VALUES (2003, $1)', ['kept too']);
    });
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const error = await failure(client.query('INSERT INTO bad_input_items (id, name) VALUES (2004, $1)', [bad]));
      expect((error as QueryError).code).toBe('PGR_INVALID_QUERY');
      await client.query('INSERT INTO bad_input_items (id, name) VALUES (2005, $1)', ['pinned']);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    // A pipeline with one connection: the bad statement fails alone at addQuery, the batch commits, and the
    // connection comes back (before, the pool stayed "1 of 1 in use" for good).
    const single = new QueryRouter({ primary: primaryUrl, pool: { max: 1 } });
    try {
      for (const mode of ['atomic', 'independent'] as const) {
        const pipeline = single.pipeline({ mode });
        const base = mode === 'atomic' ? 2100 : 2200;
        const results = [1, 2, 3].map((i) =>
          pipeline.addQuery('INSERT INTO bad_input_items (id, name) VALUES ($1, $2)', [base + i, i === 2 ? bad : 'p']),
        );
        const settled = await Promise.allSettled(results);
        expect(settled.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        expect(((settled[1] as PromiseRejectedResult).reason as QueryError).code).toBe('PGR_INVALID_QUERY');
        await pipeline.close();
      }
      const { rows } = await single.query<{ id: number }>(
        'SELECT id FROM bad_input_items WHERE id BETWEEN 2000 AND 2999 ORDER BY id',
      );
      expect(rows.map((row) => row.id)).toEqual([2001, 2003, 2005, 2101, 2103, 2201, 2203]);
      expect(single.stats().nodes[0]!.pool.active).toBe(0);
    } finally {
      await single.close();
    }
  });

  it('rejects a wrong parameter count before sending anything', async () => {
    const before = totalQueries();
    const tooFew = await failure(router.query('SELECT $1::int + $2::int', [1]));
    expect(tooFew).toMatchObject({ code: 'PGR_PARAMETER_COUNT' });
    expect((tooFew as Error).message).toContain('expects 2 parameters');
    const tooMany = await failure(router.query('SELECT 1', [1]));
    expect(tooMany).toMatchObject({ code: 'PGR_PARAMETER_COUNT' });
    const notArray = await failure(router.query('SELECT $1::int', 'x' as unknown as unknown[]));
    expect(notArray).toMatchObject({ code: 'PGR_INVALID_QUERY' });
    expect(totalQueries()).toBe(before);
  });

  it('keeps SQLSTATE 42601 for a syntax error and keeps working', async () => {
    const error = await failure(router.query('SELEC 1'));
    expect(error).toBeInstanceOf(QueryError);
    expect((error as QueryError).code).toBe('42601');
    expect((error as QueryError).node).toBe('primary');
    const { rows } = await router.query<{ v: number }>('SELECT 1 AS v');
    expect(rows[0]!.v).toBe(1);
  });

  it('keeps the SQLSTATE and diagnostic fields of a constraint violation', async () => {
    await router.query('INSERT INTO bad_input_items VALUES (1, $1) ON CONFLICT DO NOTHING', ['one']);
    const error = await failure(router.query('INSERT INTO bad_input_items VALUES ($1, $2)', [1, 'again']));
    expect(error).toMatchObject({
      code: '23505',
      constraint: 'bad_input_items_pkey',
      table: 'bad_input_items',
      severity: 'ERROR',
    });
    expect((error as Error).cause).toBeInstanceOf(Error);
    // The statement cache is left consistent: the same statement works with good values.
    await router.query('INSERT INTO bad_input_items VALUES ($1, $2) ON CONFLICT DO NOTHING', [2, 'two']);
  });

  it('rejects unknown and invalid options with a ConfigError naming the key', () => {
    const cases: [unknown, string][] = [
      [{ primary: primaryUrl, pool: { max: 0 } }, 'pool.max'],
      [{ primary: primaryUrl, pool: { maxx: 3 } }, 'pool.maxx'],
      [{ primary: primaryUrl, pool: { min: 5, max: 2 } }, 'pool.min'],
      [{ primary: primaryUrl, statementCache: { max: -1 } }, 'statementCache.max'],
      [{ primary: primaryUrl, classifierCache: { max: 1.5 } }, 'classifierCache.max'],
      [{ primary: primaryUrl, loadBalancing: 'random' }, 'loadBalancing'],
      [{ primary: primaryUrl, replica: [primaryUrl] }, 'replica'],
      [{ primary: primaryUrl, replicas: primaryUrl }, 'replicas'],
      [{ primary: primaryUrl, replicas: [42] }, 'replicas[0]'],
      [{ primary: 'mysql://x@y/z' }, 'primary'],
      [{ primary: 'not a url' }, 'primary'],
      [{}, 'primary'],
      [null, 'options'],
      [{ primary: primaryUrl, adaptive: { enabled: 'yes' } }, 'adaptive.enabled'],
      [{ primary: primaryUrl, adaptive: { targetUtilization: 0 } }, 'adaptive.targetUtilization'],
      [{ primary: primaryUrl, adaptive: { targetUtilization: 1.5 } }, 'adaptive.targetUtilization'],
      [{ primary: primaryUrl, adaptive: { hysteresis: 1 } }, 'adaptive.hysteresis'],
      [{ primary: primaryUrl, adaptive: { intervalMs: 5 } }, 'adaptive.intervalMs'],
      [{ primary: primaryUrl, adaptive: { maxPatterns: -1 } }, 'adaptive.maxPatterns'],
      [{ primary: primaryUrl, adaptive: { peakHoldMs: -1 } }, 'adaptive.peakHoldMs'],
      [{ primary: primaryUrl, adaptive: { peakHoldMs: '2 min' } }, 'adaptive.peakHoldMs'],
      [{ primary: primaryUrl, adaptive: { stateFile: '' } }, 'adaptive.stateFile'],
      [{ primary: primaryUrl, adaptive: { interval: 100 } }, 'adaptive.interval'],
      [{ primary: primaryUrl, metrics: { default: true } }, 'metrics.default'],
      [{ primary: primaryUrl, logger: console.log }, 'logger'],
      [{ primary: primaryUrl, slowQueryMs: -5 }, 'slowQueryMs'],
      [{ primary: primaryUrl, hooks: { onConnect: 'SET x = 1' } }, 'hooks.onConnect'],
      [{ primary: primaryUrl, hooks: { onRelease: () => undefined } }, 'hooks.onRelease'],
    ];
    for (const [options, key] of cases) {
      let error: unknown;
      try {
        new QueryRouter(options as never);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(options)).toBeInstanceOf(ConfigError);
      expect(isConfigError(error)).toBe(true);
      expect((error as ConfigError).key).toBe(key);
      expect((error as ConfigError).message).toContain(key);
    }
  });

  it('rejects bad per-call options', async () => {
    await expect(router.query('SELECT 1', [], { route: 'sideways' as never })).rejects.toMatchObject({
      key: 'query.route',
    });
    await expect(router.query('SELECT 1', [], { rout: 'primary' } as never)).rejects.toMatchObject({
      key: 'query.rout',
    });
    await expect(router.transaction(async () => 1, { isolationLevel: 'chaos' as never })).rejects.toMatchObject({
      key: 'transaction.isolationLevel',
    });
  });

  it('rejects a missing DATABASE_URL and unknown PGROUTER_ variables', () => {
    expect(() => QueryRouter.fromEnv({})).toThrow(ConfigError);
    expect(() => QueryRouter.fromEnv({ DATABASE_URL: primaryUrl, PGROUTER_POOL_MAXX: '3' })).toThrow(
      /PGROUTER_POOL_MAXX/,
    );
    expect(() => QueryRouter.fromEnv({ DATABASE_URL: primaryUrl, PGROUTER_POOL_MAX: 'lots' })).toThrow(
      /PGROUTER_POOL_MAX/,
    );
  });

  it('refuses statements in a transaction that has ended', async () => {
    let escaped: { query: (sql: string) => Promise<unknown> } | undefined;
    await router.transaction(async (tx) => {
      escaped = tx;
    });
    await expect(escaped!.query('SELECT 1')).rejects.toMatchObject({ code: 'PGR_TRANSACTION_FINISHED' });
  });

  it('fails with AcquireTimeoutError when the pool stays exhausted past acquireTimeoutMs', async () => {
    const small = new QueryRouter({ primary: primaryUrl, pool: { max: 1, acquireTimeoutMs: 200 } });
    try {
      // The only connection is held until the end of the test, whatever the machine's speed.
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const slow = small.transaction(() => gate);
      const error = await failure(small.query('SELECT 1'));
      expect(error).toBeInstanceOf(AcquireTimeoutError);
      expect(isAcquireTimeoutError(error)).toBe(true);
      expect(error).toMatchObject({ code: 'PGR_ACQUIRE_TIMEOUT', node: 'primary' });
      // A transaction waits for its connection the same way, and its callback never runs.
      let ran = false;
      const txError = await failure(
        small.transaction(async (tx) => {
          ran = true;
          return tx.query('SELECT 1');
        }),
      );
      expect(txError).toBeInstanceOf(AcquireTimeoutError);
      expect(ran).toBe(false);
      release();
      await slow;
      // Nothing was lost: the pool serves again once the connection is back, statements and transactions alike.
      expect((await small.query<{ v: number }>('SELECT 2 AS v')).rows[0]!.v).toBe(2);
      expect(await small.transaction(async (tx) => (await tx.query<{ v: number }>('SELECT 3 AS v')).rows[0]!.v)).toBe(
        3,
      );
      expect(small.stats().nodes[0]!.breaker).toBe('closed');
    } finally {
      await small.close();
    }
  });

  it('never shows credentials in errors, stats or options', async () => {
    const secret = secretOf(primaryUrl);
    expect(secret.length).toBeGreaterThan(3);
    const url = new URL(primaryUrl);
    url.port = '1'; // nothing listens there
    const broken = new QueryRouter({ primary: url.toString(), pool: { acquireTimeoutMs: 2000 } });
    try {
      const error = await failure(broken.query('SELECT 1'));
      expect(isRouterError(error)).toBe(true);
      expect(String((error as Error).message)).not.toContain(secret);
      expect(JSON.stringify(broken.stats())).not.toContain(secret);
      expect(JSON.stringify(broken.options)).not.toContain(secret);
      const badPassword = new URL(primaryUrl);
      badPassword.password = 'wrong-password-123';
      const denied = new QueryRouter({ primary: badPassword.toString() });
      const authError = await failure(denied.query('SELECT 1'));
      expect((authError as QueryError).code).toBe('28P01');
      expect((authError as Error).message).not.toContain('wrong-password-123');
      await denied.close();
    } finally {
      await broken.close();
    }
    expect(JSON.stringify(router.stats())).not.toContain(secret);
  });

  it('never shows credentials in util.inspect of the router or anything it hands out, at any depth', async () => {
    const secret = secretOf(primaryUrl);
    const own = new QueryRouter({
      primary: primaryUrl,
      replicas: [replicaUrls[0]!, { connectionString: replicaUrls[1]!, max: 2 }],
    });
    const shown: string[] = [];
    const show = (value: unknown): void => {
      for (const showHidden of [false, true]) shown.push(inspect(value, { depth: Infinity, showHidden }));
    };
    try {
      await own.query('SELECT 1'); // pools with open connections
      await own.query('SELECT 1', [], { route: 'primary' });
      const pool = own.asPool();
      const client = await pool.connect();
      await client.query('BEGIN'); // pinned to a live connection
      show(client);
      await client.query('ROLLBACK');
      client.release();
      await own.transaction(async (tx) => {
        await tx.query('SELECT 1');
        show(tx);
      });
      show(own);
      show(pool);
      show(own.options);
      show(own.pipeline());
      show(own.stats());
    } finally {
      await own.close();
    }
    expect(shown.join('\n')).not.toContain(secret);
    expect(inspect(own)).toMatch(/^QueryRouter \{\s+primary: '127\.0\.0\.1:\d+\/postgres'/);
    // The secrets are still there for the connections that need them.
    expect(own.options.primary.config.connectionString).toBe(primaryUrl);
  });

  it('rejects queries and transactions after close(), and close() is idempotent', async () => {
    const closing = new QueryRouter({ primary: primaryUrl, replicas: replicaUrls });
    await closing.query('SELECT 1');
    await closing.close();
    await closing.close();
    const error = await failure(closing.query('SELECT 1'));
    expect(error).toBeInstanceOf(RouterClosedError);
    expect(isRouterClosedError(error)).toBe(true);
    await expect(closing.transaction(async () => 1)).rejects.toBeInstanceOf(RouterClosedError);
    expect(closing.stats().closed).toBe(true);
  });

  it('lets running statements finish when closed', async () => {
    const closing = new QueryRouter({ primary: primaryUrl });
    const running = closing.query<{ v: number }>('SELECT pg_sleep(0.3), 7 AS v');
    await until(() => closing.stats().nodes[0]!.pool.active === 1, 20_000, 1); // it holds its connection: it is running
    await closing.close();
    expect((await running).rows[0]!.v).toBe(7);
  });

  it('rejects bad arguments of patterns() and serve() with a ConfigError, and serve() after close()', async () => {
    const router = new QueryRouter({ primary: primaryUrl });
    expect(() => router.patterns(-1)).toThrow(expect.objectContaining({ key: 'patterns.top' }));
    expect(() => router.patterns(1.5)).toThrow(ConfigError);
    await expect(router.serve({ port: -1 })).rejects.toMatchObject({ key: 'serve.port' });
    await expect(router.serve({ intervalMs: 1 } as never)).rejects.toBeInstanceOf(ConfigError);
    await expect(router.serve({ hots: '0.0.0.0' } as never)).rejects.toMatchObject({ key: 'serve.hots' });
    await router.close();
    await expect(router.serve()).rejects.toMatchObject({ code: 'PGR_ROUTER_CLOSED' });
  });
});
