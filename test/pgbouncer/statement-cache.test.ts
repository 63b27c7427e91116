import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { QueryRouter } from '../../src/index.js';
import { findPgBouncer, startPgBouncer, type LocalPgBouncers } from '../../src/testing.js';
import { pgBouncerAtLeast, readPgBouncerVersion } from '../../src/cluster/pgbouncer-config.js';
import { bouncedCluster } from './context.js';

const cluster = bouncedCluster();
const table = `bounced_statements_${process.pid}`;
const INSERT = `INSERT INTO ${table} (v) VALUES ($1) RETURNING pg_backend_pid() AS pid`;
const bin = findPgBouncer();
/** PgBouncer 1.21 added `max_prepared_statements` (off by default until 1.24): statements that follow the client. */
const tracksStatements = bin !== undefined && pgBouncerAtLeast(readPgBouncerVersion(bin), 1, 21);
/** Transaction pooling as PgBouncer before 1.21 does it: named statements stay on the server connection that made them. */
const UNTRACKED: Record<string, number> = tracksStatements ? { max_prepared_statements: 0 } : {};

/**
 * Named prepared statements behind PgBouncer < 1.21 in transaction mode. Each test has a PgBouncer of its own in
 * front of the primary, so which server connection serves what is decided by this test alone: PgBouncer hands out
 * its most recently used idle server connection first, and a "holder" client parks a server connection in an open
 * transaction so that the router's next statement has to reach another one.
 */
describe.skipIf(cluster.missing !== null)('prepared statements behind PgBouncer in transaction mode', () => {
  let bouncer: LocalPgBouncers | undefined;
  const routers: QueryRouter[] = [];
  const holders: pg.Client[] = [];

  beforeAll(async () => {
    const direct = new pg.Client(cluster.directPrimaryUrl);
    await direct.connect();
    await direct.query(`CREATE TABLE ${table} (id serial PRIMARY KEY, v int NOT NULL)`);
    await direct.end();
  });

  afterEach(async () => {
    for (const holder of holders.splice(0)) await holder.end().catch(() => undefined);
    for (const router of routers.splice(0)) await router.close();
    await bouncer?.stop();
    bouncer = undefined;
  });

  afterAll(async () => {
    const direct = new pg.Client(cluster.directPrimaryUrl);
    await direct.connect();
    await direct.query(`DROP TABLE IF EXISTS ${table}`);
    await direct.end();
  });

  /** A router on one connection to its own PgBouncer, with the statement cache on (the default), and its warnings. */
  async function routerBehindBouncer(): Promise<{ router: QueryRouter; warnings: string[] }> {
    bouncer ??= await startPgBouncer({ targets: [cluster.directPrimaryUrl], poolSize: 4, settings: UNTRACKED });
    const router = new QueryRouter({ primary: bouncer.primaryUrl, pool: { max: 1, healthCheckIntervalMs: 0 } });
    routers.push(router);
    const warnings: string[] = [];
    router.on('warning', ({ message }) => warnings.push(message));
    return { router, warnings };
  }

  /** Parks the server connection `pid` in an open transaction of another client, so the router must use another. */
  async function holdServer(pid: number): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const holder = new pg.Client(bouncer!.primaryUrl);
      await holder.connect();
      holders.push(holder);
      await holder.query('BEGIN');
      const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      if (rows[0]!.pid === pid) return;
    }
    throw new Error(`no holder reached server connection ${pid}`);
  }

  async function rowsWith(v: number): Promise<number> {
    const direct = new pg.Client(cluster.directPrimaryUrl);
    await direct.connect();
    try {
      const { rows } = await direct.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE v = $1`, [v]);
      return rows[0]!.n;
    } finally {
      await direct.end();
    }
  }

  it('turns the cache off at a statement missing on its server connection (26000), warns once and runs it once, unnamed', async () => {
    const { router, warnings } = await routerBehindBouncer();
    const first = await router.query<{ pid: number }>(INSERT, [101]);
    expect(router.stats().nodes[0]!.statementCache.misses).toBe(1);
    await holdServer(first.rows[0]!.pid);

    const second = await router.query<{ pid: number }>(INSERT, [102]);
    expect(second.rows[0]!.pid).not.toBe(first.rows[0]!.pid);
    expect(await rowsWith(102)).toBe(1);
    const disabled = router.stats().nodes[0]!.statementCacheDisabled;
    expect(disabled?.code).toBe('26000');
    expect(disabled?.reason).toMatch(/transaction mode/);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^primary: prepared statements turned off/);

    // From now on every statement runs unnamed, wherever PgBouncer sends it: no error, no second warning.
    for (const holder of holders.splice(0)) await holder.end();
    const results = await Promise.all(Array.from({ length: 20 }, () => router.query(INSERT, [103])));
    expect(results).toHaveLength(20);
    expect(await rowsWith(103)).toBe(20);
    expect(warnings).toHaveLength(1);
    const misses = router.stats().nodes[0]!.statementCache.misses;
    await router.query(INSERT, [104]);
    expect(router.stats().nodes[0]!.statementCache.misses).toBe(misses);
  });

  it('turns the cache off at a name another client prepared on the same server connection (42P05), and runs the statement once', async () => {
    const one = await routerBehindBouncer();
    const two = await routerBehindBouncer();
    await one.router.query(INSERT, [201]);
    // The only server connection PgBouncer has is the one that prepared the statement: the second router's Parse of
    // the same name reaches it.
    const { rows } = await two.router.query<{ pid: number }>(INSERT, [202]);
    expect(rows).toHaveLength(1);
    expect(await rowsWith(202)).toBe(1);
    expect(two.router.stats().nodes[0]!.statementCacheDisabled?.code).toBe('42P05');
    expect(two.warnings).toHaveLength(1);
    expect(one.router.stats().nodes[0]!.statementCacheDisabled).toBeNull();
  });

  it('inside a transaction the refused statement fails the transaction and is not re-sent; the next one succeeds', async () => {
    const { router, warnings } = await routerBehindBouncer();
    const first = await router.query<{ pid: number }>(INSERT, [301]);
    await holdServer(first.rows[0]!.pid);

    const failed = router.transaction(async (tx) => {
      await tx.query(INSERT, [302]);
    });
    await expect(failed).rejects.toMatchObject({ code: '26000' });
    expect(await rowsWith(302)).toBe(0);
    expect(router.stats().nodes[0]!.statementCacheDisabled?.code).toBe('26000');
    expect(warnings).toHaveLength(1);

    await router.transaction(async (tx) => {
      await tx.query(INSERT, [303]);
      await tx.query(INSERT, [303]);
    });
    expect(await rowsWith(303)).toBe(2);
  });

  // Not run on this project's CI machines (Debian's PgBouncer is 1.18); runs wherever PGBOUNCER_BIN is 1.21 or newer.
  it.skipIf(!tracksStatements)('keeps the cache behind PgBouncer 1.21+ with max_prepared_statements', async () => {
    bouncer = await startPgBouncer({
      targets: [cluster.directPrimaryUrl],
      poolSize: 4,
      settings: { max_prepared_statements: 100 },
    });
    const { router, warnings } = await routerBehindBouncer();
    const first = await router.query<{ pid: number }>(INSERT, [501]);
    await holdServer(first.rows[0]!.pid);
    await router.query(INSERT, [502]);
    for (const holder of holders.splice(0)) await holder.end();
    await Promise.all(Array.from({ length: 20 }, () => router.query(INSERT, [503])));
    expect(router.stats().nodes[0]!.statementCacheDisabled).toBeNull();
    expect(router.stats().nodes[0]!.statementCache.hits).toBeGreaterThan(0);
    expect(warnings).toEqual([]);
    expect(await rowsWith(503)).toBe(20);
  });

  it('keeps the cache when nothing goes missing (session pooling keeps one server connection per client)', async () => {
    bouncer = await startPgBouncer({ targets: [cluster.directPrimaryUrl], poolSize: 4, poolMode: 'session' });
    const { router, warnings } = await routerBehindBouncer();
    for (let i = 0; i < 5; i++) await router.query(INSERT, [401]);
    const node = router.stats().nodes[0]!;
    expect(node.statementCacheDisabled).toBeNull();
    expect(node.statementCache.hits).toBe(4);
    expect(warnings).toEqual([]);
  });
});
