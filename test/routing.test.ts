import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import {
  QueryRouter,
  TransactionRolledBackError,
  isTransactionRolledBackError,
  type TransactionClient,
} from '../src/index.js';
import { sharedCluster } from './helpers/cluster.js';

const primaryUrl = inject('primaryUrl');
const replicaUrls = inject('replicaUrls');
const cluster = sharedCluster();

async function portOf(url: string): Promise<number> {
  return Number(new URL(url).port);
}

describe('routing over a real primary and two streaming replicas', () => {
  let router: QueryRouter;
  let primaryPort: number;
  let replicaPorts: number[];

  beforeAll(async () => {
    router = new QueryRouter({ primary: primaryUrl, replicas: replicaUrls, pool: { max: 4 } });
    primaryPort = await portOf(primaryUrl);
    replicaPorts = await Promise.all(replicaUrls.map(portOf));
    await router.query('CREATE TABLE IF NOT EXISTS routing_items (id serial PRIMARY KEY, name text NOT NULL)');
    await cluster.waitForReplication();
  });

  afterAll(async () => {
    await router.close();
  });

  it('sends a plain read to a replica', async () => {
    const { rows } = await router.query<{ in_recovery: boolean }>('SELECT pg_is_in_recovery() AS in_recovery');
    expect(rows[0]!.in_recovery).toBe(true);
  });

  it('spreads reads over both replicas', async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const { rows } = await router.query<{ port: number }>('SELECT inet_server_port() AS port');
      seen.add(rows[0]!.port);
    }
    expect([...seen].sort()).toEqual([...replicaPorts].sort());
  });

  it.each(['least-busy', 'latency'] as const)('balances reads over replicas with %s', async (loadBalancing) => {
    const other = new QueryRouter({ primary: primaryUrl, replicas: replicaUrls, loadBalancing });
    try {
      const ports = await Promise.all(
        Array.from({ length: 12 }, () =>
          other.query<{ port: number }>('SELECT inet_server_port() AS port, pg_sleep(0.01)'),
        ),
      );
      const seen = new Set(ports.map((r) => r.rows[0]!.port));
      for (const port of seen) expect(replicaPorts).toContain(port);
      expect(seen.size).toBe(2);
    } finally {
      await other.close();
    }
  });

  it('sends a write to the primary, and the replicas see it shortly after', async () => {
    const name = `item-${Date.now()}`;
    const inserted = await router.query<{ id: number; port: number }>(
      'INSERT INTO routing_items (name) VALUES ($1) RETURNING id, inet_server_port() AS port',
      [name],
    );
    expect(inserted.rowCount).toBe(1);
    expect(inserted.command).toBe('INSERT');
    expect(inserted.rows[0]!.port).toBe(primaryPort);
    // Wait for replay by WAL position, then every replica read must see the row.
    await cluster.waitForReplication();
    const seenOn = new Set<number>();
    for (let i = 0; i < 20 && seenOn.size < 2; i++) {
      const { rows } = await router.query<{ port: number; n: string }>(
        'SELECT inet_server_port() AS port, count(*) AS n FROM routing_items WHERE name = $1',
        [name],
      );
      expect(rows[0]!.n).toBe('1');
      seenOn.add(rows[0]!.port);
    }
    expect([...seenOn].sort()).toEqual([...replicaPorts].sort());
  });

  it("returns pg's QueryResult shape", async () => {
    const result = await router.query('SELECT 1::int AS one, $1::text AS two', ['x']);
    expect(result.rows).toEqual([{ one: 1, two: 'x' }]);
    expect(result.rowCount).toBe(1);
    expect(result.command).toBe('SELECT');
    expect(result.fields.map((field) => field.name)).toEqual(['one', 'two']);
  });

  it('runs locking reads, sequence calls and writable CTEs on the primary', async () => {
    for (const sql of [
      'SELECT pg_is_in_recovery() AS r, id FROM routing_items LIMIT 1 FOR UPDATE',
      "SELECT pg_is_in_recovery() AS r, nextval('routing_items_id_seq')",
      "WITH ins AS (INSERT INTO routing_items (name) VALUES ('cte') RETURNING id) SELECT pg_is_in_recovery() AS r FROM ins",
    ]) {
      const { rows } = await router.query<{ r: boolean }>(sql);
      expect(rows[0]!.r, sql).toBe(false);
    }
  });

  it('runs a transaction on the primary, even its reads, and commits', async () => {
    const name = `tx-${Date.now()}`;
    const port = await router.transaction(async (tx) => {
      expect(tx.node).toBe('primary');
      await tx.query('INSERT INTO routing_items (name) VALUES ($1)', [name]);
      const { rows } = await tx.query<{ port: number; n: string }>(
        'SELECT inet_server_port() AS port, count(*) AS n FROM routing_items WHERE name = $1',
        [name],
      );
      expect(rows[0]!.n).toBe('1');
      return rows[0]!.port;
    });
    expect(port).toBe(primaryPort);
    const { rows } = await router.query<{ n: string }>(
      'SELECT count(*) AS n FROM routing_items WHERE name = $1',
      [name],
      { route: 'primary' },
    );
    expect(rows[0]!.n).toBe('1');
  });

  it('rolls a transaction back when the callback throws, and rethrows', async () => {
    const name = `rolled-back-${Date.now()}`;
    await expect(
      router.transaction(async (tx) => {
        await tx.query('INSERT INTO routing_items (name) VALUES ($1)', [name]);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    const { rows } = await router.query<{ n: string }>(
      'SELECT count(*) AS n FROM routing_items WHERE name = $1',
      [name],
      { route: 'primary' },
    );
    expect(rows[0]!.n).toBe('0');
  });

  it('rolls back when a statement fails inside the transaction', async () => {
    const name = `failed-${Date.now()}`;
    const error = await router
      .transaction(async (tx) => {
        await tx.query('INSERT INTO routing_items (name) VALUES ($1)', [name]);
        await tx.query('INSERT INTO routing_items (name) VALUES (NULL)');
      })
      .catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('23502');
    const { rows } = await router.query<{ n: string }>(
      'SELECT count(*) AS n FROM routing_items WHERE name = $1',
      [name],
      { route: 'primary' },
    );
    expect(rows[0]!.n).toBe('0');
  });

  it('rejects when COMMIT is answered with ROLLBACK: a caught statement error inside the callback loses the whole transaction', async () => {
    for (const consistency of ['eventual', 'read-your-writes'] as const) {
      const name = `commit-rolled-back-${consistency}-${Date.now()}`;
      const run = (): Promise<string> =>
        router.transaction(async (tx) => {
          await tx.query('INSERT INTO routing_items (name) VALUES ($1)', [name]);
          // The caller catches the error and carries on, as if the transaction could still commit.
          await tx.query('INSERT INTO routing_items (id, name) VALUES (1, $1), (1, $1)', [name]).catch(() => undefined);
          return 'callback finished';
        });
      const error = await (consistency === 'eventual' ? run() : router.session(run, { consistency })).catch(
        (e: unknown) => e,
      );
      expect(error, consistency).toBeInstanceOf(TransactionRolledBackError);
      expect(isTransactionRolledBackError(error)).toBe(true);
      expect(error).toMatchObject({ code: 'PGR_TRANSACTION_ROLLED_BACK', node: 'primary' });
      expect(((error as Error).cause as { code?: string }).code).toBe('23505');
      const { rows } = await router.query<{ n: string }>(
        'SELECT count(*) AS n FROM routing_items WHERE name = $1',
        [name],
        { route: 'primary' },
      );
      expect(rows[0]!.n).toBe('0');
    }
    // The connection went back clean: the next transaction commits.
    const name = `after-rolled-back-${Date.now()}`;
    await router.transaction((tx) => tx.query('INSERT INTO routing_items (name) VALUES ($1)', [name]));
    const { rows } = await router.query<{ n: string }>(
      'SELECT count(*) AS n FROM routing_items WHERE name = $1',
      [name],
      { route: 'primary' },
    );
    expect(rows[0]!.n).toBe('1');
  });

  it('runs a nested transaction as a SAVEPOINT of the outer one: same connection, undone alone, committed only with the outer', async () => {
    const tag = `nested-${process.pid}-${Date.now()}`;
    const count = async (name: string): Promise<string> =>
      (
        await router.query<{ n: string }>('SELECT count(*) AS n FROM routing_items WHERE name = $1', [name], {
          route: 'primary',
        })
      ).rows[0]!.n;
    // The inner part fails: only it is undone, the outer commits.
    await router.transaction(async (tx) => {
      await tx.query('INSERT INTO routing_items (name) VALUES ($1)', [`${tag}-outer`]);
      const inner = await router
        .transaction(async (nested) => {
          await nested.query('INSERT INTO routing_items (name) VALUES ($1)', [`${tag}-inner`]);
          throw new Error('inner part failed');
        })
        .catch((e: unknown) => e);
      expect((inner as Error).message).toBe('inner part failed');
      // The outer transaction is still usable, and sees its own row but not the undone one.
      expect(
        (await tx.query<{ n: string }>('SELECT count(*) AS n FROM routing_items WHERE name LIKE $1', [`${tag}-%`]))
          .rows[0]!.n,
      ).toBe('1');
    });
    expect([await count(`${tag}-outer`), await count(`${tag}-inner`)]).toEqual(['1', '0']);
    // The inner part succeeds but the outer fails: nothing is kept (the inner did not commit on its own).
    await expect(
      router.transaction(async (tx) => {
        await tx.transaction((nested) =>
          nested.query('INSERT INTO routing_items (name) VALUES ($1)', [`${tag}-kept-by-inner`]),
        );
        throw new Error('outer part failed');
      }),
    ).rejects.toThrow('outer part failed');
    expect(await count(`${tag}-kept-by-inner`)).toBe('0');
    // A row the outer transaction locked is written by the nested one: no second connection waiting on the lock.
    const { rows } = await router.query<{ id: number }>('INSERT INTO routing_items (name) VALUES ($1) RETURNING id', [
      `${tag}-locked`,
    ]);
    await router.transaction(async (tx) => {
      await tx.query('UPDATE routing_items SET name = $1 WHERE id = $2', [`${tag}-locked-outer`, rows[0]!.id]);
      await router.transaction((nested) =>
        nested.query('UPDATE routing_items SET name = $1 WHERE id = $2', [`${tag}-locked-inner`, rows[0]!.id]),
      );
    });
    expect(await count(`${tag}-locked-inner`)).toBe('1');
    // A savepoint cannot change the outer transaction's isolation or access mode.
    await expect(
      router.transaction((tx) => tx.transaction(async () => 1, { isolationLevel: 'serializable' })),
    ).rejects.toMatchObject({ code: 'PGR_CONFIG' });
  });

  it('finds the outer transaction of a nested router.transaction() whether transactions follow or overlap each other, and none once it ended', async () => {
    const pidOf = async (tx: TransactionClient): Promise<number> =>
      (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const nestedPid = (): Promise<number> => router.transaction(pidOf);
    // One after the other: no transaction is open between them.
    for (let round = 0; round < 3; round++) {
      const [outer, inner] = await router.transaction(async (tx) => [await pidOf(tx), await nestedPid()]);
      expect(inner, `round ${round}`).toBe(outer);
    }
    // Overlapping: B starts and ends while A's callback waits; A's nested call still finds A.
    let resumeA!: () => void;
    const aWaits = new Promise<void>((resolve) => (resumeA = resolve));
    let aStarted!: () => void;
    const aIsOpen = new Promise<void>((resolve) => (aStarted = resolve));
    const a = router.transaction(async (tx) => {
      const outer = await pidOf(tx);
      aStarted();
      await aWaits;
      return [outer, await nestedPid()];
    });
    await aIsOpen;
    const [bOuter, bInner] = await router.transaction(async (tx) => [await pidOf(tx), await nestedPid()]);
    expect(bInner).toBe(bOuter);
    resumeA();
    const [aOuter, aInner] = await a;
    expect(aInner).toBe(aOuter);
    expect(bOuter).not.toBe(aOuter);
    // Work a callback left running past its transaction's end starts a transaction of its own.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let leftover!: Promise<number>;
    await router.transaction(async (tx) => {
      await pidOf(tx);
      leftover = gate.then(nestedPid);
    });
    release();
    await expect(leftover).resolves.toEqual(expect.any(Number));
  });

  it('applies isolation level and read-only mode; a read-only transaction may run on a replica', async () => {
    const level = await router.transaction(
      async (tx) => (await tx.query<{ l: string }>("SELECT current_setting('transaction_isolation') AS l")).rows[0]!.l,
      { isolationLevel: 'repeatable read' },
    );
    expect(level).toBe('repeatable read');
    const onReplica = await router.transaction(
      async (tx) => {
        expect(tx.node).toMatch(/^replica-/);
        return (
          await tx.query<{ r: boolean; ro: string }>(
            "SELECT pg_is_in_recovery() AS r, current_setting('transaction_read_only') AS ro",
          )
        ).rows[0]!;
      },
      { readOnly: true },
    );
    expect(onReplica).toEqual({ r: true, ro: 'on' });
    // A standby cannot run SERIALIZABLE, so a serializable read-only transaction stays on the primary.
    const serializable = await router.transaction(
      async (tx) => (await tx.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r,
      { readOnly: true, isolationLevel: 'serializable' },
    );
    expect(serializable).toBe(false);
  });

  it('sends calls of a VOLATILE user function to the primary, where its write succeeds', async () => {
    await router.query('CREATE TABLE IF NOT EXISTS routing_audit (id serial PRIMARY KEY, note text)');
    await router.query(`CREATE OR REPLACE FUNCTION routing_record(note text) RETURNS int LANGUAGE sql VOLATILE AS $$
      INSERT INTO routing_audit (note) VALUES (note) RETURNING id $$`);
    await router.query(
      `CREATE OR REPLACE FUNCTION routing_double(x int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT x * 2 $$`,
    );
    await cluster.waitForReplication();
    const before = router.stats().routing.volatileFunction;
    const { rows } = await router.query<{ id: number; r: boolean }>(
      "SELECT routing_record('hello') AS id, pg_is_in_recovery() AS r",
    );
    expect(rows[0]!.r).toBe(false);
    expect(rows[0]!.id).toBeGreaterThan(0);
    expect(router.stats().routing.volatileFunction).toBe(before + 1);
    expect(router.explain("SELECT routing_record('x')").route).toBe('primary');
    // An IMMUTABLE user function is a read and may use a replica.
    const immutable = await router.query<{ d: number; r: boolean }>(
      'SELECT routing_double($1::int) AS d, pg_is_in_recovery() AS r',
      [21],
    );
    expect(immutable.rows[0]).toEqual({ d: 42, r: true });
  });

  it("reads views of the node's own state on the primary: the locks a transaction holds there are seen", async () => {
    const key = 40_000 + (process.pid % 10_000);
    const seen = await router.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [key]);
      // Another caller's plain read, while the lock is held on the primary.
      const { rows } = await router.query<{ n: string; r: boolean }>(
        "SELECT count(*) AS n, pg_is_in_recovery() AS r FROM pg_locks WHERE locktype = 'advisory' AND objid = $1",
        [key],
      );
      return rows[0];
    });
    expect(seen).toEqual({ n: '1', r: false });
    expect(router.explain('SELECT * FROM pg_stat_activity')).toMatchObject({
      route: 'primary',
      kind: 'read',
      reason: expect.stringContaining('pg_stat_activity'),
    });
    // A forced route still reads a replica's own view.
    const onReplica = await router.query<{ r: boolean }>(
      'SELECT pg_is_in_recovery() AS r FROM pg_stat_activity LIMIT 1',
      [],
      { route: 'replica' },
    );
    expect(onReplica.rows[0]!.r).toBe(true);
  });

  it('honours route overrides', async () => {
    const forcedPrimary = await router.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r', [], {
      route: 'primary',
    });
    expect(forcedPrimary.rows[0]!.r).toBe(false);
    const forcedReplica = router.query("INSERT INTO routing_items (name) VALUES ('nope')", [], { route: 'replica' });
    await expect(forcedReplica).rejects.toMatchObject({ code: '25006' });
    expect(router.stats().routing.forced).toBeGreaterThanOrEqual(2);
  });

  it('explains routing decisions and reports cache hits', async () => {
    const sql = 'SELECT name FROM routing_items WHERE id = $1';
    expect(router.explain(sql).cached).toBe(false);
    await router.query(sql, [1]);
    const explained = router.explain(sql);
    expect(explained).toMatchObject({ route: 'replica', kind: 'read', cached: true, tables: ['routing_items'] });
    expect(router.explain('DELETE FROM routing_items').route).toBe('primary');
  });

  it('runs everything on the primary when no replicas are configured', async () => {
    const solo = new QueryRouter({ primary: primaryUrl });
    try {
      const { rows } = await solo.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      expect(rows[0]!.r).toBe(false);
      const readOnly = await solo.transaction(
        async (tx) => (await tx.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r,
        { readOnly: true },
      );
      expect(readOnly).toBe(false);
    } finally {
      await solo.close();
    }
  });

  it('is configured from the environment by fromEnv()', async () => {
    const fromEnv = QueryRouter.fromEnv({
      DATABASE_URL: primaryUrl,
      DATABASE_REPLICA_URLS: replicaUrls.join(' , '),
      PGROUTER_POOL_MAX: '3',
      PGROUTER_LOAD_BALANCING: 'least-busy',
    });
    try {
      expect(fromEnv.options.pool.max).toBe(3);
      expect(fromEnv.options.loadBalancing).toBe('least-busy');
      expect(fromEnv.options.replicas).toHaveLength(2);
      const { rows } = await fromEnv.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      expect(rows[0]!.r).toBe(true);
    } finally {
      await fromEnv.close();
    }
  });

  it('sets application_name on its connections', async () => {
    const direct = new pg.Client({ connectionString: primaryUrl });
    await direct.connect();
    try {
      await router.query('SELECT 1', [], { route: 'primary' });
      const { rows } = await direct.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'pg-query-router'",
      );
      expect(Number(rows[0]!.n)).toBeGreaterThan(0);
    } finally {
      await direct.end();
    }
  });
});
