import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, QueryRouter, type SessionOptions } from '../src/index.js';
import { startLocalCluster, type LocalCluster } from '../src/testing.js';
import { until } from './helpers/wait.js';

/*
 * Read-your-writes and replica lag against a cluster of its own: replay is paused on replicas here, and commits
 * are synchronous (synchronous_commit = on), as on a production primary.
 */

let cluster: LocalCluster;
let replicaPorts: number[];
const WORKERS = 8;

beforeAll(async () => {
  cluster = await startLocalCluster({ replicas: 2, settings: { synchronous_commit: 'on' } });
  replicaPorts = cluster.nodes.slice(1).map((node) => node.port);
  const admin = new pg.Client(cluster.primaryUrl);
  await admin.connect();
  try {
    await admin.query('CREATE TABLE kv (id int PRIMARY KEY, v bigint NOT NULL)');
    await admin.query('CREATE TABLE churn (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())');
    await admin.query(`INSERT INTO kv SELECT g, 0 FROM generate_series(0, 99) g`);
  } finally {
    await admin.end();
  }
  await cluster.waitForReplication();
});

afterAll(async () => {
  await cluster?.stop();
});

function makeRouter(options: Partial<ConstructorParameters<typeof QueryRouter>[0]> = {}): QueryRouter {
  return new QueryRouter({
    primary: cluster.primaryUrl,
    replicas: [...cluster.replicaUrls],
    pool: { max: 12, healthCheckIntervalMs: 5_000 },
    lagCheckIntervalMs: 100,
    ...options,
  });
}

/** Writes to another table until `stop()`: the primary's WAL keeps moving, as in production. */
function writeLoad(router: QueryRouter): { stop: () => Promise<number> } {
  let running = true;
  let writes = 0;
  const loop = (async () => {
    while (running) {
      await router.query('INSERT INTO churn DEFAULT VALUES');
      writes++;
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return writes;
    },
  };
}

interface PairOutcome {
  stale: number;
  onReplica: number;
  pairs: number;
}

/**
 * `pairs` write-then-read pairs over {@link WORKERS} workers, each on its own row: the read must return the value
 * just written. Each pair runs in a session of its own, as one web request would.
 */
async function writeThenRead(
  router: QueryRouter,
  pairs: number,
  firstId: number,
  session?: SessionOptions,
): Promise<PairOutcome> {
  const outcome: PairOutcome = { stale: 0, onReplica: 0, pairs: 0 };
  let next = 0;
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, worker) => {
      const id = firstId + worker;
      for (let value = Date.now() * 1000 + worker; next < pairs; value++) {
        next++;
        await router.session(async () => {
          await router.query('UPDATE kv SET v = $1 WHERE id = $2', [value, id]);
          const { rows } = await router.query<{ v: string; port: number }>(
            'SELECT v, inet_server_port() AS port FROM kv WHERE id = $1',
            [id],
          );
          if (Number(rows[0]!.v) !== value) outcome.stale++;
          if (replicaPorts.includes(rows[0]!.port)) outcome.onReplica++;
          outcome.pairs++;
        }, session);
      }
    }),
  );
  return outcome;
}

describe('read-your-writes sessions', () => {
  it('read their own write every time under a continuous write load, also from replicas; eventual sessions show staleness', async () => {
    // A session reads its own writes by default, whatever the router's consistency (here the default, eventual).
    const ryw = makeRouter();
    const eventual = makeRouter({ consistency: 'eventual' });
    const load = writeLoad(ryw);
    try {
      const consistent = await writeThenRead(ryw, 10_000, 0);
      const loose = await writeThenRead(eventual, 3_000, 20, { consistency: 'eventual' });
      const stats = ryw.stats().consistency;
      console.log(
        `read-your-writes: ${consistent.pairs} pairs, ${consistent.stale} stale, ${((100 * consistent.onReplica) / consistent.pairs).toFixed(1)} % of reads on replicas ` +
          `(known ${stats.readsOnReplicaKnown}, checked ${stats.readsOnReplicaChecked}, primary ${stats.readsOnPrimary}); ` +
          `eventual: ${loose.stale} of ${loose.pairs} reads stale (${((100 * loose.stale) / loose.pairs).toFixed(2)} %)`,
      );
      expect(consistent.pairs).toBe(10_000);
      expect(consistent.stale).toBe(0);
      // Replicas serve some of them; what share depends on how far replay trails on this machine right now, so it is
      // measured by \`npm run bench:consistency\`, not asserted here.
      expect(consistent.onReplica).toBeGreaterThan(0);
      expect(stats.writesTracked).toBeGreaterThanOrEqual(10_000);
      expect(stats.readsOnReplicaKnown + stats.readsOnReplicaChecked + stats.readsOnPrimary).toBeGreaterThanOrEqual(
        10_000,
      );
      // The same pairs without read-your-writes: the test can see a stale read when there is one.
      expect(loose.stale).toBeGreaterThan(0);
      const metrics = await ryw.metricsText();
      expect(metrics).toContain(
        `pgrouter_consistent_reads_total{outcome="replica_checked"} ${stats.readsOnReplicaChecked}\n`,
      );
      expect(metrics).toContain(`pgrouter_consistent_reads_total{outcome="primary"} ${stats.readsOnPrimary}\n`);
    } finally {
      await load.stop();
      await Promise.all([ryw.close(), eventual.close()]);
    }
    // 13,000 statement pairs: on a busy machine that takes longer than the default bound, never less correct.
  }, 240_000);

  it('a committed transaction is read back, also by a read-only transaction; waitForReplicaMs keeps reads on replicas', async () => {
    // A wait far longer than replay takes, however busy the machine: every read waits for a replica, none goes to the primary.
    const router = makeRouter({ consistency: 'read-your-writes', waitForReplicaMs: 30_000 });
    try {
      await router.session(async () => {
        for (let value = 1; value <= 40; value++) {
          await router.transaction(async (tx) => {
            await tx.query('UPDATE kv SET v = $1 WHERE id = 40', [value]);
            await tx.query('UPDATE kv SET v = $1 WHERE id = 41', [value]);
          });
          const { rows } = await router.query<{ v: string }>('SELECT v FROM kv WHERE id = 40');
          expect(Number(rows[0]!.v)).toBe(value);
          const inTx = await router.transaction((tx) => tx.query<{ v: string }>('SELECT v FROM kv WHERE id = 41'), {
            readOnly: true,
          });
          expect(Number(inTx.rows[0]!.v)).toBe(value);
        }
      });
      const { consistency } = router.stats();
      // A replica that is behind is waited for instead of skipped.
      expect(consistency.readsOnPrimary).toBe(0);
      expect(
        consistency.readsOnReplicaKnown + consistency.readsOnReplicaChecked + consistency.readsOnReplicaAfterWait,
      ).toBeGreaterThanOrEqual(40);
    } finally {
      await router.close();
    }
  });

  it('a token carries a write to another router instance, which reads it even while every replica is stuck behind', async () => {
    const writer = makeRouter({ consistency: 'read-your-writes' });
    const reader = makeRouter({ lagCheckIntervalMs: 100, maxReplicaLagMs: 0 });
    try {
      const before = await reader.query<{ v: string }>('SELECT v FROM kv WHERE id = 50');
      cluster.pauseReplay('replica1');
      cluster.pauseReplay('replica2');
      const token = await writer.session(async () => {
        expect(writer.consistencyToken()).toBeUndefined();
        await writer.query('UPDATE kv SET v = v + 1 WHERE id = 50');
        return writer.consistencyToken();
      });
      expect(token).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      const expected = Number(before.rows[0]!.v) + 1;
      // Without the token a replica answers, with the old value: the pause is real.
      const stale = await reader.query<{ v: string; port: number }>(
        'SELECT v, inet_server_port() AS port FROM kv WHERE id = 50',
      );
      expect(replicaPorts).toContain(stale.rows[0]!.port);
      expect(Number(stale.rows[0]!.v)).toBe(expected - 1);
      const fresh = await reader.query<{ v: string }>('SELECT v FROM kv WHERE id = 50', undefined, { after: token! });
      expect(Number(fresh.rows[0]!.v)).toBe(expected);
      const inSession = await reader.session(() => reader.query<{ v: string }>('SELECT v FROM kv WHERE id = 50'), {
        after: token!,
        consistency: 'read-your-writes',
      });
      expect(Number(inSession.rows[0]!.v)).toBe(expected);
      cluster.resumeReplay('replica1');
      cluster.resumeReplay('replica2');
      await cluster.waitForReplication();
      // Once the replicas have replayed it, the token's reads go back to them.
      const later = await reader.query<{ v: string; port: number }>(
        'SELECT v, inet_server_port() AS port FROM kv WHERE id = 50',
        undefined,
        { after: token! },
      );
      expect(Number(later.rows[0]!.v)).toBe(expected);
      expect(replicaPorts).toContain(later.rows[0]!.port);
    } finally {
      cluster.resumeReplay('replica1');
      cluster.resumeReplay('replica2');
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  it('covers pg.Pool-style code through asPool(): plain writes are tracked, a pinned transaction sends later reads to the primary', async () => {
    const router = makeRouter({ consistency: 'read-your-writes' });
    const pool = router.asPool();
    try {
      await router.session(async () => {
        for (let value = 1; value <= 100; value++) {
          await pool.query('UPDATE kv SET v = $1 WHERE id = 70', [value]);
          const { rows } = await pool.query<{ v: string }>('SELECT v FROM kv WHERE id = 70');
          expect(Number(rows[0]!.v)).toBe(value);
        }
        const client = await pool.connect();
        await client.query('BEGIN');
        await client.query('UPDATE kv SET v = -1 WHERE id = 71');
        await client.query('COMMIT');
        client.release();
        const { rows } = await pool.query<{ v: string; standby: boolean }>(
          'SELECT v, pg_is_in_recovery() AS standby FROM kv WHERE id = 71',
        );
        expect(Number(rows[0]!.v)).toBe(-1);
        expect(rows[0]!.standby).toBe(false);
      });
    } finally {
      await router.close();
    }
  });

  it('tracks pipeline writes: once addQuery resolves, the session reads the row, even with every replica stuck behind', async () => {
    // The router's own consistency stays eventual: only the session reads its writes.
    const router = makeRouter({ maxReplicaLagMs: 0 });
    const pipeline = router.pipeline({ batchSize: 50, coalesce: true });
    try {
      await router.query('CREATE TABLE IF NOT EXISTS piped (id int PRIMARY KEY, v int)');
      await cluster.waitForReplication();
      cluster.pauseReplay('replica1');
      cluster.pauseReplay('replica2');
      const tracked = router.stats().consistency.writesTracked;
      const seen = await router.session(async () => {
        // A merged batch of INSERTs and a plain UPDATE, both from this session.
        await Promise.all(
          Array.from({ length: 20 }, (_, i) => pipeline.addQuery('INSERT INTO piped (id, v) VALUES ($1, $2)', [i, i])),
        );
        await pipeline.addQuery('UPDATE piped SET v = -1 WHERE id = $1', [7]);
        const { rows } = await router.query<{ n: number; v: number }>(
          'SELECT count(*)::int AS n, sum(v)::int AS v FROM piped',
        );
        return rows[0];
      });
      expect(seen).toEqual({ n: 20, v: 190 - 7 - 1 });
      expect(router.stats().consistency.writesTracked).toBeGreaterThan(tracked);
      // Outside any session nothing is tracked: the same read is served by a stuck replica, which has none of it.
      const { rows } = await router.query<{ n: number; standby: boolean }>(
        'SELECT count(*)::int AS n, pg_is_in_recovery() AS standby FROM piped',
      );
      expect(rows[0]).toEqual({ n: 0, standby: true });
    } finally {
      cluster.resumeReplay('replica1');
      cluster.resumeReplay('replica2');
      await pipeline.close();
      await router.close();
    }
  });

  it('a session read survives a table change under its prepared statement (the plan is prepared again)', async () => {
    // One replica, one connection per node: the second read meets the statement the first one prepared.
    const router = new QueryRouter({
      primary: cluster.primaryUrl,
      replicas: [cluster.replicaUrls[0]!],
      pool: { max: 1 },
      consistency: 'read-your-writes',
      // Waits for replay as long as it takes on a busy machine, so the reads stay on the replica.
      waitForReplicaMs: 30_000,
      lagCheckIntervalMs: 100,
    });
    try {
      await router.query('CREATE TABLE IF NOT EXISTS reshaped (id int PRIMARY KEY, v int)');
      await router.query('INSERT INTO reshaped VALUES (1, 1) ON CONFLICT DO NOTHING');
      await router.session(async () => {
        await router.query('UPDATE reshaped SET v = 2 WHERE id = 1');
        const before = await router.query<Record<string, unknown>>(
          'SELECT *, inet_server_port() AS port FROM reshaped WHERE id = $1',
          [1],
        );
        expect(before.rows[0]).toMatchObject({ id: 1, v: 2, port: replicaPorts[0] });
        await router.query('ALTER TABLE reshaped ADD COLUMN w int NOT NULL DEFAULT 7');
        const after = await router.query<Record<string, unknown>>(
          'SELECT *, inet_server_port() AS port FROM reshaped WHERE id = $1',
          [1],
        );
        expect(after.rows[0]).toMatchObject({ id: 1, v: 2, w: 7, port: replicaPorts[0] });
      });
    } finally {
      await router.close();
    }
  });

  it('tracks a write hidden in a function that claims to be STABLE, once a replica has refused it', async () => {
    const router = makeRouter({ consistency: 'read-your-writes' });
    try {
      await router.query('CREATE TABLE IF NOT EXISTS hidden_writes (id serial PRIMARY KEY, note text)');
      await router.query(
        `CREATE OR REPLACE FUNCTION hidden_insert(note text) RETURNS int LANGUAGE sql VOLATILE AS $$ INSERT INTO hidden_writes (note) VALUES (note) RETURNING id $$`,
      );
      // The lie: STABLE on the outside, so the catalog says a replica may run it.
      await router.query(
        `CREATE OR REPLACE FUNCTION hidden_write(note text) RETURNS int LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN hidden_insert(note); END $$`,
      );
      await cluster.waitForReplication();
      const sql = 'SELECT hidden_write($1) AS id';
      // The first call reaches a replica, which refuses it (25006); it runs on the primary and its verdict is corrected.
      await router.session(() => router.query(sql, ['first']));
      expect(router.stats().routing.selfHealed).toBe(1);
      cluster.pauseReplay('replica1');
      cluster.pauseReplay('replica2');
      // A later session: the write is recognised as one and tracked, so the read after it does not go to a stale replica.
      const seen = await router.session(async () => {
        const { rows } = await router.query<{ id: number }>(sql, ['second']);
        const read = await router.query<{ note: string }>('SELECT note FROM hidden_writes WHERE id = $1', [
          rows[0]!.id,
        ]);
        return read.rows[0]?.note;
      });
      expect(seen).toBe('second');
    } finally {
      cluster.resumeReplay('replica1');
      cluster.resumeReplay('replica2');
      await router.close();
    }
  });

  it('a read that fails on a replica behind the session (a table or column it just made) runs on the primary; a real error stays', async () => {
    const router = makeRouter({ consistency: 'read-your-writes' });
    const table = `fresh_${process.pid}`;
    try {
      cluster.pauseReplay('replica1');
      cluster.pauseReplay('replica2');
      const seen = await router.session(async () => {
        await router.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
        await router.query(`INSERT INTO ${table} VALUES (1)`);
        const created = await router.query<{ id: number }>(`SELECT id FROM ${table}`); // 42P01 on the replicas
        await router.query(`ALTER TABLE ${table} ADD COLUMN note text DEFAULT 'added'`);
        const altered = await router.query<{ note: string }>(`SELECT note FROM ${table} WHERE id = $1`, [1]); // 42703 there
        await router.query(
          `CREATE FUNCTION ${table}_twice(x int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 2 * x $$`,
        );
        const called = await router.query<{ v: number }>(`SELECT ${table}_twice(21) AS v`); // 42883 there
        return { created: created.rows, altered: altered.rows, called: called.rows };
      });
      expect(seen).toEqual({ created: [{ id: 1 }], altered: [{ note: 'added' }], called: [{ v: 42 }] });
      expect(router.stats().consistency.readsOnPrimary).toBeGreaterThanOrEqual(3);

      // Once the replicas have what the session wrote, an error of the read itself is the answer: not run twice.
      cluster.resumeReplay('replica1');
      cluster.resumeReplay('replica2');
      await cluster.waitForReplication();
      const onPrimary = router.stats().consistency.readsOnPrimary;
      const error = await router
        .session(async () => {
          await router.query(`INSERT INTO ${table} VALUES (2)`);
          await cluster.waitForReplication();
          return router.query(`SELECT no_such_column FROM ${table}`);
        })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: '42703' });
      expect(router.stats().consistency.readsOnPrimary).toBe(onPrimary);
    } finally {
      cluster.resumeReplay('replica1');
      cluster.resumeReplay('replica2');
      await router.close();
    }
  });

  it('a SELECT of a VOLATILE function that writes is a write of the session: the next read sees its row', async () => {
    const router = makeRouter({ consistency: 'read-your-writes' });
    try {
      await router.query('CREATE TABLE IF NOT EXISTS fn_writes (id serial PRIMARY KEY, note text)');
      await router.query(
        `CREATE OR REPLACE FUNCTION fn_write(note text) RETURNS int LANGUAGE sql VOLATILE AS $$ INSERT INTO fn_writes (note) VALUES (note) RETURNING id $$`,
      );
      await cluster.waitForReplication();
      cluster.pauseReplay('replica1');
      cluster.pauseReplay('replica2');
      const tracked = router.stats().consistency.writesTracked;
      const seen = await router.session(async () => {
        const { rows } = await router.query<{ id: number }>('SELECT fn_write($1) AS id', ['from a select']);
        const read = await router.query<{ note: string }>('SELECT note FROM fn_writes WHERE id = $1', [rows[0]!.id]);
        return read.rows;
      });
      expect(seen).toEqual([{ note: 'from a select' }]);
      expect(router.stats().consistency.writesTracked).toBe(tracked + 1);
    } finally {
      cluster.resumeReplay('replica1');
      cluster.resumeReplay('replica2');
      await router.close();
    }
  });

  it('the middleware runs each request in its own session and takes the token a request carries', async () => {
    const router = makeRouter({ consistency: 'read-your-writes' });
    const middleware = router.sessionMiddleware<{ headers: Record<string, string | undefined> }>({
      token: (request) => request.headers['x-db-token'],
    });
    const handle = (
      request: { headers: Record<string, string | undefined> },
      handler: () => Promise<string | undefined>,
    ): Promise<string | undefined> =>
      new Promise((resolve, reject) => middleware(request, {}, () => void handler().then(resolve, reject)));
    try {
      const token = await handle({ headers: {} }, async () => {
        await router.query('UPDATE kv SET v = v + 1 WHERE id = 60');
        return router.consistencyToken();
      });
      expect(token).toBeDefined();
      expect(await handle({ headers: { 'x-db-token': token } }, async () => router.consistencyToken())).toBe(token);
      // Each request starts afresh: no token, no position.
      expect(await handle({ headers: {} }, async () => router.consistencyToken())).toBeUndefined();
      // A tampered token from a client is ignored, not an error page.
      expect(
        await handle({ headers: { 'x-db-token': 'drop table' } }, async () => router.consistencyToken()),
      ).toBeUndefined();
    } finally {
      await router.close();
    }
  });

  it('rejects bad consistency input with ConfigError and leaves nothing half-done', async () => {
    const router = makeRouter();
    try {
      await expect(router.query('SELECT 1', undefined, { after: 'not-a-token' })).rejects.toBeInstanceOf(ConfigError);
      await expect(router.query('SELECT 1', undefined, { after: 42 as unknown as string })).rejects.toThrow(
        /query\.after/,
      );
      await expect(router.session(async () => 1, { after: 'x/y' })).rejects.toThrow(/session\.after/);
      await expect(router.session(async () => 1, { consistency: 'strong' as 'eventual' })).rejects.toThrow(
        /session\.consistency/,
      );
      await expect(router.session(async () => 1, { waitForReplicaMs: -1 })).rejects.toThrow(
        /session\.waitForReplicaMs/,
      );
      await expect(router.session(async () => 1, { timeout: 5 } as never)).rejects.toThrow(/session\.timeout/);
      await expect(router.session('nope' as never)).rejects.toBeInstanceOf(ConfigError);
      expect(() => router.sessionMiddleware({ token: 'cookie' as never })).toThrow(ConfigError);
      expect(() => new QueryRouter({ primary: cluster.primaryUrl, consistency: 'strong' as 'eventual' })).toThrow(
        /consistency/,
      );
      expect(() => new QueryRouter({ primary: cluster.primaryUrl, maxReplicaLagMs: -5 })).toThrow(/maxReplicaLagMs/);
      expect(() => new QueryRouter({ primary: cluster.primaryUrl, failover: 'yes' as 'auto' })).toThrow(/failover/);
      expect(router.consistencyToken()).toBeUndefined();
      // Still serving after all of that.
      expect((await router.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
    } finally {
      await router.close();
    }
  });
});

describe('read-your-writes without asking for it', () => {
  /** Replicas whose replay is paused stay in the balancer (no lag limit): a read there sees nothing new. */
  const laggingRouter = (options: Partial<ConstructorParameters<typeof QueryRouter>[0]> = {}): QueryRouter =>
    makeRouter({ maxReplicaLagMs: 0, ...options });
  const pauseReplicas = (): void => {
    cluster.pauseReplay('replica1');
    cluster.pauseReplay('replica2');
  };
  const resumeReplicas = (): void => {
    cluster.resumeReplay('replica1');
    cluster.resumeReplay('replica2');
  };

  it('session() reads its own writes with no options; { consistency: "eventual" } opts out and reads a lagging replica', async () => {
    const router = laggingRouter();
    pauseReplicas();
    try {
      const own = await router.session(async () => {
        const written = await router.query<{ v: string }>('UPDATE kv SET v = v + 1 WHERE id = 70 RETURNING v');
        const read = await router.query<{ v: string }>('SELECT v FROM kv WHERE id = 70');
        return { written: written.rows[0]!.v, read: read.rows[0]!.v };
      });
      expect(own.read).toBe(own.written);
      const loose = await router.session(
        async () => {
          const written = await router.query<{ v: string }>('UPDATE kv SET v = v + 1 WHERE id = 70 RETURNING v');
          const read = await router.query<{ v: string; port: number }>(
            'SELECT v, inet_server_port() AS port FROM kv WHERE id = 70',
          );
          return { written: written.rows[0]!.v, read: read.rows[0]!.v, port: read.rows[0]!.port };
        },
        { consistency: 'eventual' },
      );
      // Replay is paused: the replica that answered has neither update.
      expect(replicaPorts).toContain(loose.port);
      expect(BigInt(loose.read)).toBeLessThan(BigInt(loose.written));
    } finally {
      resumeReplicas();
      await router.close();
    }
  });

  it("consistency: 'read-your-writes' on the router: a table created and read at once, without a session, over lagging replicas", async () => {
    const table = 'process_wide_items';
    const eventual = laggingRouter();
    const processWide = laggingRouter({ consistency: 'read-your-writes' });
    pauseReplicas();
    try {
      // The same script through an eventual router fails: the replica does not have the table yet.
      await eventual.query(`CREATE TABLE ${table}_eventual (id int PRIMARY KEY, name text)`);
      await expect(eventual.query(`SELECT count(*) FROM ${table}_eventual`)).rejects.toMatchObject({ code: '42P01' });
      // Process-wide: plain query(), a pg.Pool-style query and a pipeline's write are all read back at once.
      await processWide.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text)`);
      await processWide.query(`INSERT INTO ${table} VALUES (1, 'query')`);
      await processWide.asPool().query(`INSERT INTO ${table} VALUES ($1, $2)`, [2, 'asPool']);
      const pipeline = processWide.pipeline();
      await pipeline.addQuery(`INSERT INTO ${table} VALUES ($1, $2)`, [3, 'pipeline']);
      await pipeline.close();
      const { rows } = await processWide.query<{ id: number; name: string }>(
        `SELECT id, name FROM ${table} ORDER BY id`,
      );
      expect(rows).toEqual([
        { id: 1, name: 'query' },
        { id: 2, name: 'asPool' },
        { id: 3, name: 'pipeline' },
      ]);
      expect(processWide.consistencyToken()).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      // A request's own session sees the process's writes too, and its writes are the process's.
      const middleware = processWide.sessionMiddleware();
      const inRequest = await new Promise<number>((resolve, reject) =>
        middleware({}, {}, () => {
          // A read before any write of the request: only the process's position says where rows 1–3 are.
          processWide
            .query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)
            .then(async ({ rows: counted }) => {
              await processWide.query(`INSERT INTO ${table} VALUES (4, 'request')`);
              resolve(counted[0]!.n);
            }, reject);
        }),
      );
      expect(inRequest).toBe(3);
      expect((await processWide.query(`SELECT name FROM ${table} WHERE id = 4`)).rows).toEqual([{ name: 'request' }]);
      expect(processWide.stats().consistency.mode).toBe('read-your-writes');
    } finally {
      resumeReplicas();
      await Promise.all([eventual.close(), processWide.close()]);
    }
  });
});

describe('replica lag', () => {
  it('a replica whose replay is frozen falls behind, leaves the balancer, and rejoins once it catches up', async () => {
    // Far above what a live replica trails by on a busy machine; a frozen one gets there as its lag grows.
    const router = makeRouter({ maxReplicaLagMs: 2_000 });
    const events: string[] = [];
    router.on('replicaLagging', ({ node, lagMs }) => events.push(`lagging ${node} ${lagMs}`));
    router.on('replicaCaughtUp', ({ node }) => events.push(`caughtUp ${node}`));
    const load = writeLoad(router);
    const readPorts = async (n: number): Promise<Set<number>> => {
      const ports = new Set<number>();
      for (let i = 0; i < n; i++)
        ports.add((await router.query<{ port: number }>('SELECT inet_server_port() AS port')).rows[0]!.port);
      return ports;
    };
    try {
      await until(async () => (await readPorts(20)).size === 2, 30_000);
      cluster.pauseReplay('replica1');
      await until(() => router.stats().nodes.find((node) => node.name === 'replica-0')!.lagging, 30_000);
      const lagged = router.stats().nodes.find((node) => node.name === 'replica-0')!;
      expect(lagged.lagMs!).toBeGreaterThan(2_000);
      expect(lagged.healthy).toBe(true);
      expect(events.some((event) => event.startsWith('lagging replica-0'))).toBe(true);
      // Only the replica that keeps up serves reads now.
      expect([...(await readPorts(40))]).toEqual([replicaPorts[1]]);

      cluster.pauseReplay('replica2');
      await until(() => router.stats().routing.readsOnPrimary, 30_000);
      const { routing } = router.stats();
      expect(routing.readsOnPrimaryReason).toMatch(/replica-0: lags \d+ ms/);
      expect(routing.readsOnPrimaryReason).toMatch(/replica-1: lags \d+ ms/);
      expect([...(await readPorts(20))]).toEqual([cluster.nodes[0]!.port]);

      cluster.resumeReplay('replica1');
      cluster.resumeReplay('replica2');
      await until(() => router.stats().routing.replicasAvailable === 2, 30_000);
      expect(events).toContain('caughtUp replica-0');
      expect(events).toContain('caughtUp replica-1');
      expect(router.stats().routing.readsOnPrimaryReason).toBeNull();
      expect(await readPorts(20)).toEqual(new Set(replicaPorts));
      const metrics = await router.metricsText();
      expect(metrics).toMatch(/pgrouter_replica_lag_bytes\{node="replica-0",role="replica"\} \d+/);
    } finally {
      cluster.resumeReplay('replica1');
      cluster.resumeReplay('replica2');
      await load.stop();
      await router.close();
    }
  });
});
