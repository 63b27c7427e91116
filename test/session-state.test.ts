import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryRouter } from '../src/index.js';
import { sharedCluster } from './helpers/cluster.js';

/*
 * A statement sent alone through query() that leaves state on its connection must not hand that state to the next
 * caller who gets the connection. One connection per pool here, so the next caller would get the very same one.
 */

const cluster = sharedCluster();
const table = `session_leak_${process.pid}`;

describe('session state never reaches another caller', () => {
  let router: QueryRouter;
  const warnings: string[] = [];

  beforeAll(async () => {
    router = new QueryRouter({ primary: cluster.primaryUrl, pool: { max: 1 } });
    router.on('warning', ({ message }) => warnings.push(message));
    await router.query(`CREATE TABLE IF NOT EXISTS ${table} (id int)`);
  });
  afterAll(async () => {
    await router.query(`DROP TABLE IF EXISTS ${table}`);
    await router.close();
  });

  const pid = async (): Promise<number> =>
    (await router.query<{ pid: number }>('SELECT pg_backend_pid() AS pid', [], { route: 'primary' })).rows[0]!.pid;

  // Each: the statement that leaves state, and a check (by another caller) that sees none of it.
  const cases: [string, string, () => Promise<void>][] = [
    [
      'SET',
      'SET statement_timeout = 1',
      async () =>
        expect((await router.query<{ t: string }>("SELECT current_setting('statement_timeout') AS t")).rows[0]!.t).toBe(
          '0',
        ),
    ],
    [
      'SET SESSION CHARACTERISTICS',
      'SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY',
      async () =>
        expect(await router.transaction((tx) => tx.query(`INSERT INTO ${table} VALUES (1)`))).toMatchObject({
          rowCount: 1,
        }),
    ],
    [
      'set_config(…, false)',
      "SELECT set_config('search_path', 'nowhere', false)",
      async () =>
        expect((await router.query<{ p: string }>("SELECT current_setting('search_path') AS p")).rows[0]!.p).toBe(
          '"$user", public',
        ),
    ],
    [
      'LISTEN',
      'LISTEN session_leak_channel',
      async () => expect((await router.query('SELECT pg_listening_channels()')).rowCount).toBe(0),
    ],
    [
      'a temporary table',
      'CREATE TEMP TABLE session_leak_temp (x int)',
      async () =>
        expect(
          (await router.query<{ t: string | null }>("SELECT to_regclass('pg_temp.session_leak_temp')::text AS t"))
            .rows[0]!.t,
        ).toBeNull(),
    ],
    [
      'a session advisory lock',
      'SELECT pg_advisory_lock(424242)',
      async () =>
        expect(
          (await router.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 424242")).rowCount,
        ).toBe(0),
    ],
    [
      'PREPARE',
      'PREPARE session_leak_plan AS SELECT 1',
      async () =>
        expect(
          (await router.query("SELECT 1 FROM pg_prepared_statements WHERE name = 'session_leak_plan'")).rowCount,
        ).toBe(0),
    ],
    [
      'a cursor WITH HOLD',
      'DECLARE session_leak_cursor CURSOR WITH HOLD FOR SELECT 1',
      async () => expect((await router.query('SELECT 1 FROM pg_cursors')).rowCount).toBe(0),
    ],
    [
      'BEGIN',
      'BEGIN',
      async () =>
        expect(
          (await router.query<{ open: boolean }>('SELECT now() = statement_timestamp() AS open')).rows[0]!.open,
        ).toBe(true),
    ],
  ];

  it.each(cases)('%s: the next caller gets a fresh connection without it', async (_label, sql, check) => {
    const before = router.stats().nodes[0]!.recycled.session;
    const used = await pid();
    await router.query(sql);
    await check();
    expect(await pid()).not.toBe(used);
    expect(router.stats().nodes[0]!.recycled.session).toBe(before + 1);
  });

  it('says so once, and explain() says it too', () => {
    expect(warnings.filter((message) => message.includes('session state'))).toHaveLength(1);
    expect(router.explain('SET work_mem = 1024').reason).toMatch(/connection is closed after it/);
    expect(router.explain('SELECT 1').reason).not.toMatch(/connection is closed/);
  });

  it("a SET queued through a pipeline does not reach the pipeline's next batch either", async () => {
    const pipeline = router.pipeline({ batchSize: 2, groupCommit: false });
    await Promise.all([
      pipeline.addQuery('SET statement_timeout = 1'),
      pipeline.addQuery(`INSERT INTO ${table} VALUES (2)`),
    ]);
    await pipeline.addQuery(`INSERT INTO ${table} VALUES (3)`);
    await pipeline.close();
    expect((await router.query<{ t: string }>("SELECT current_setting('statement_timeout') AS t")).rows[0]!.t).toBe(
      '0',
    );
  });

  it('keeps ordinary statements on their connection (no connection is closed for them)', async () => {
    const before = router.stats().nodes[0]!.recycled.session;
    const used = await pid();
    for (let i = 0; i < 20; i++) await router.query(`INSERT INTO ${table} VALUES ($1)`, [i]);
    expect(await pid()).toBe(used);
    expect(router.stats().nodes[0]!.recycled.session).toBe(before);
  });
});
