import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { FieldDef, QueryResult } from 'pg';
import {
  ConfigError,
  QueryError,
  QueryRouter,
  RouterClosedError,
  RouterError,
  isQueryError,
  type RoutedClient,
  type RoutedPool,
} from '../src/index.js';
import { SESSION_IDENTITY, SESSION_SETTINGS, SESSION_STATE, UNPINNED, pinningOf } from '../src/sql/pinning.js';
import { sharedCluster } from './helpers/cluster.js';
import { until } from './helpers/wait.js';

const cluster = sharedCluster();
const portOf = (url: string): number => Number(new URL(url).port);
/** A pg client's backend pid (pg sets it; its types do not declare it). */
const pidOf = (client: pg.PoolClient): unknown => (client as unknown as { processID?: unknown }).processID;

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** Where a statement ran: the server's port and whether it is a standby. */
const WHERE = 'SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby';
type Where = { port: number; standby: boolean };

/** The comparable part of a field description (pg's FieldDef, all of it). */
const fieldsOf = (result: QueryResult): FieldDef[] => result.fields.map((field) => ({ ...field }));

describe('asPool(): pg.Pool-style code over the router', () => {
  let router: QueryRouter;
  let pool: RoutedPool;
  let raw: pg.Pool;
  let primaryPort: number;

  beforeAll(async () => {
    router = new QueryRouter({
      primary: cluster.primaryUrl,
      replicas: cluster.replicaUrls,
      pool: { max: 4 },
      applicationName: 'pool-adapter-test',
    });
    pool = router.asPool();
    raw = new pg.Pool({ connectionString: cluster.primaryUrl, max: 2 });
    primaryPort = portOf(cluster.primaryUrl);
    await pool.query('DROP TABLE IF EXISTS adapter_items');
    await pool.query(
      'CREATE TABLE adapter_items (id int PRIMARY KEY, name text NOT NULL, made timestamp NOT NULL DEFAULT now())',
    );
    await pool.query("INSERT INTO adapter_items (id, name) VALUES (1, 'one'), (2, 'two')");
    await cluster.waitForReplication();
  });

  afterAll(async () => {
    await raw.end();
    await pool.end();
  });

  describe('pool.query', () => {
    it('runs a plain read on a replica and a write on the primary', async () => {
      const read = await pool.query<Where>(WHERE);
      expect(read.rows[0]!.standby).toBe(true);
      const write = await pool.query<Where>(
        'UPDATE adapter_items SET name = name WHERE id = 1 RETURNING inet_server_port() AS port, pg_is_in_recovery() AS standby',
      );
      expect(write.rows[0]).toEqual({ port: primaryPort, standby: false });
      expect(write.command).toBe('UPDATE');
      expect(write.rowCount).toBe(1);
    });

    it('takes values, a QueryConfig, and values beside a QueryConfig (which win, as in pg)', async () => {
      const byText = await pool.query<{ name: string }>('SELECT name FROM adapter_items WHERE id = $1', [2]);
      const byConfig = await pool.query<{ name: string }>({
        text: 'SELECT name FROM adapter_items WHERE id = $1',
        values: [1],
      });
      const overridden = await pool.query<{ name: string }>(
        { text: 'SELECT name FROM adapter_items WHERE id = $1', values: [1] },
        [2],
      );
      expect([byText.rows, byConfig.rows, overridden.rows]).toEqual([
        [{ name: 'two' }],
        [{ name: 'one' }],
        [{ name: 'two' }],
      ]);
    });

    it('returns exactly what pg.Pool returns, rowMode array and fields included', async () => {
      const sql = 'SELECT id, name, id * 2 AS id, made FROM adapter_items WHERE id = $1';
      const [routed, direct] = await Promise.all([
        pool.query({ text: sql, values: [1], rowMode: 'array' }),
        raw.query({ text: sql, values: [1], rowMode: 'array' }),
      ]);
      expect(routed.rows).toEqual(direct.rows);
      expect(routed.rows[0]).toEqual([1, 'one', 2, expect.any(Date)]);
      expect(fieldsOf(routed)).toEqual(fieldsOf(direct));
      expect(routed.fields.map((field) => field.name)).toEqual(['id', 'name', 'id', 'made']);
      expect([routed.command, routed.rowCount]).toEqual([direct.command, direct.rowCount]);
      const objects = await pool.query('SELECT id, name FROM adapter_items ORDER BY id');
      const rawObjects = await raw.query('SELECT id, name FROM adapter_items ORDER BY id');
      expect(objects.rows).toEqual(rawObjects.rows);
      expect(fieldsOf(objects)).toEqual(fieldsOf(rawObjects));
      expect(Object.keys(objects).sort()).toEqual(Object.keys(rawObjects).sort());
    });

    it('uses the per-query type parsers it is given', async () => {
      const asText = {
        getTypeParser: (oid: number, format?: string) =>
          oid === pg.types.builtins.TIMESTAMP
            ? (value: string) => `text:${value}`
            : pg.types.getTypeParser(oid, format as 'text'),
      };
      const { rows } = await pool.query<{ made: string; id: number }>({
        text: 'SELECT made, id FROM adapter_items WHERE id = $1',
        values: [1],
        types: asText,
      });
      expect(rows[0]!.made).toMatch(/^text:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
      expect(rows[0]!.id).toBe(1);
    });

    it('runs named statements again and again, with other values', async () => {
      for (const id of [1, 2, 1]) {
        const { rows } = await pool.query<{ id: number }>({
          name: 'adapter-by-id',
          text: 'SELECT id FROM adapter_items WHERE id = $1',
          values: [id],
        });
        expect(rows).toEqual([{ id }]);
      }
    });

    it('calls back with (undefined, result) or (error) and returns undefined', async () => {
      const outcome = await new Promise<[Error | undefined, QueryResult | undefined, unknown]>((resolve) => {
        const returned: unknown = pool.query('SELECT name FROM adapter_items WHERE id = $1', [1], (error, result) =>
          resolve([error, result, returned]),
        );
      });
      expect(outcome[0]).toBeUndefined();
      expect(outcome[1]!.rows).toEqual([{ name: 'one' }]);
      expect(outcome[2]).toBeUndefined();
      const noValues = await new Promise<QueryResult | undefined>((resolve, reject) =>
        pool.query('SELECT 1 AS one', (error, result) => (error ? reject(error) : resolve(result))),
      );
      expect(noValues!.rows).toEqual([{ one: 1 }]);
      const error = await new Promise<Error | undefined>((resolve) => pool.query('SELEC 1', (e) => resolve(e)));
      expect((error as QueryError).code).toBe('42601');
    });

    it('keeps PostgreSQL errors in pg shape: SQLSTATE in code, constraint and detail', async () => {
      const error = (await failure(
        pool.query("INSERT INTO adapter_items (id, name) VALUES (1, 'again')"),
      )) as QueryError;
      expect(error).toBeInstanceOf(QueryError);
      expect(error.code).toBe('23505');
      expect(error.constraint).toBe('adapter_items_pkey');
      expect(error.detail).toContain('(id)=(1)');
      expect(error.severity).toBe('ERROR');
    });

    it('cleans up after a SET given to the pool itself, so the setting reaches no other caller', async () => {
      const small = new QueryRouter({ primary: cluster.primaryUrl, pool: { max: 1 } });
      const one = small.asPool();
      try {
        await one.query("SET statement_timeout = '4321ms'");
        const { rows } = await one.query<{ statement_timeout: string }>('SHOW statement_timeout');
        expect(rows[0]!.statement_timeout).not.toBe('4321ms');
      } finally {
        await one.end();
      }
    });

    it('reports pg.Pool counters and options', async () => {
      await pool.query('SELECT 1');
      expect(pool.totalCount).toBeGreaterThan(0);
      expect(pool.idleCount).toBeLessThanOrEqual(pool.totalCount);
      expect(pool.waitingCount).toBe(0);
      expect(pool.options.max).toBe(4);
      expect(pool.ending).toBe(false);
    });
  });

  describe('pool.connect', () => {
    it('hands out a client that holds no connection and routes per statement until pinned', async () => {
      const before = router.stats().nodes.map((node) => node.pool.active);
      const client = await pool.connect();
      try {
        expect(client.pinnedTo).toBeUndefined();
        expect(pool.checkedOutCount).toBe(1);
        expect(router.stats().nodes.map((node) => node.pool.active)).toEqual(before);
        const read = await client.query<Where>(WHERE);
        expect(read.rows[0]!.standby).toBe(true);
        expect(client.pinnedTo).toBeUndefined();
      } finally {
        client.release();
      }
      expect(pool.checkedOutCount).toBe(0);
    });

    it('pins to the primary from BEGIN until COMMIT, then routes again', async () => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        expect(client.pinnedTo).toBe('primary');
        await client.query("INSERT INTO adapter_items (id, name) VALUES (10, 'ten')");
        const inside = await client.query<Where & { n: string }>(
          `${WHERE}, (SELECT count(*) FROM adapter_items WHERE id = 10) AS n`,
        );
        expect(inside.rows[0]).toEqual({ port: primaryPort, standby: false, n: '1' });
        await client.query('COMMIT');
        expect(client.pinnedTo).toBeUndefined();
        const after = await client.query<Where>(WHERE);
        expect(after.rows[0]!.standby).toBe(true);
      } finally {
        client.release();
      }
      const { rows } = await raw.query('SELECT name FROM adapter_items WHERE id = 10');
      expect(rows).toEqual([{ name: 'ten' }]);
    });

    it('rolls back with ROLLBACK, and with release() while a transaction is open', async () => {
      const client = await pool.connect();
      await client.query('START TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      await client.query("INSERT INTO adapter_items (id, name) VALUES (11, 'eleven')");
      await client.query('ROLLBACK');
      expect(client.pinnedTo).toBeUndefined();
      await client.query('BEGIN');
      await client.query("INSERT INTO adapter_items (id, name) VALUES (12, 'twelve')");
      client.release();
      await until(() => router.stats().nodes[0]!.pool.active === 0, 30_000);
      const { rows } = await raw.query('SELECT id FROM adapter_items WHERE id IN (11, 12)');
      expect(rows).toEqual([]);
    });

    it('keeps a failed transaction pinned until ROLLBACK, with the SQLSTATE of each error', async () => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        expect(((await failure(client.query('SELECT 1/0'))) as QueryError).code).toBe('22012');
        expect(client.pinnedTo).toBe('primary');
        expect(((await failure(client.query('SELECT 1'))) as QueryError).code).toBe('25P02');
        await client.query('ROLLBACK');
        expect(client.pinnedTo).toBeUndefined();
      } finally {
        client.release();
      }
    });

    it('pins BEGIN READ ONLY to a replica, and a serializable one to the primary', async () => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN READ ONLY');
        expect(client.pinnedTo).toMatch(/^replica-/);
        expect((await client.query<Where>(WHERE)).rows[0]!.standby).toBe(true);
        await client.query('COMMIT');
        await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY');
        expect(client.pinnedTo).toBe('primary');
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    });

    it('runs statements issued without awaiting in order, on the pinned connection', async () => {
      const client = await pool.connect();
      try {
        const results = await Promise.all([
          client.query('BEGIN'),
          client.query("INSERT INTO adapter_items (id, name) VALUES (20, 'twenty')"),
          client.query<{ n: string }>('SELECT count(*) AS n FROM adapter_items WHERE id = 20'),
          client.query('COMMIT'),
        ]);
        expect(results.map((result) => result.command)).toEqual(['BEGIN', 'INSERT', 'SELECT', 'COMMIT']);
        expect((results[2] as QueryResult<{ n: string }>).rows[0]!.n).toBe('1');
      } finally {
        client.release();
      }
    });

    it('supports connect(callback) and client.query(callback)', async () => {
      const rows = await new Promise<unknown[]>((resolve, reject) => {
        pool.connect((error, client, release) => {
          if (error !== undefined || client === undefined) return reject(error ?? new Error('no client'));
          client.query('SELECT $1::text AS v', ['x'], (queryError, result) => {
            release();
            if (queryError !== undefined) reject(queryError);
            else resolve(result!.rows);
          });
        });
      });
      expect(rows).toEqual([{ v: 'x' }]);
      expect(pool.checkedOutCount).toBe(0);
    });

    it('pins on a temporary table and keeps reads of it on that connection', async () => {
      const client = await pool.connect();
      try {
        await client.query('CREATE TEMP TABLE adapter_scratch (v int)');
        expect(client.pinnedTo).toBe('primary');
        await client.query('INSERT INTO adapter_scratch VALUES (1), (2)');
        expect((await client.query<{ n: string }>('SELECT count(*) AS n FROM adapter_scratch')).rows[0]!.n).toBe('2');
      } finally {
        client.release();
      }
    });

    it('pins on a session advisory lock, so the unlock reaches the same backend', async () => {
      const client = await pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock(4242)');
        expect(client.pinnedTo).toBe('primary');
        const { rows } = await client.query<{ unlocked: boolean }>('SELECT pg_advisory_unlock(4242) AS unlocked');
        expect(rows[0]!.unlocked).toBe(true);
      } finally {
        client.release();
      }
    });

    it('delivers notifications to a client that LISTENs', async () => {
      const client = await pool.connect();
      try {
        const received = new Promise<{ channel: string; payload: string }>((resolve) =>
          client.on('notification', (message) => resolve(message as { channel: string; payload: string })),
        );
        await client.query('LISTEN adapter_channel');
        expect(client.pinnedTo).toBe('primary');
        await pool.query("NOTIFY adapter_channel, 'hello'");
        expect(await received).toMatchObject({ channel: 'adapter_channel', payload: 'hello' });
      } finally {
        client.release();
      }
    });

    it('reports its backend with pg_backend_pid() and keeps that backend (for cancelling it later)', async () => {
      const client = await pool.connect();
      try {
        const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        expect(client.pinnedTo).toBe('primary');
        expect((await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid).toBe(pid);
      } finally {
        client.release();
      }
    });
  });

  describe('releasing and connections', () => {
    let small: QueryRouter;
    let one: RoutedPool;
    const backendPid = async (client: RoutedClient): Promise<number> =>
      (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const primaryPid = async (): Promise<number> => {
      const client = await one.connect();
      try {
        return await backendPid(client);
      } finally {
        client.release();
      }
    };

    beforeAll(() => {
      // One connection per node, so "the same connection" is observable.
      small = new QueryRouter({ primary: cluster.primaryUrl, replicas: cluster.replicaUrls, pool: { max: 1 } });
      one = small.asPool();
    });
    afterAll(async () => {
      await one.end();
    });

    it('keeps the connection after a plain release, and after a reset of session settings', async () => {
      const pid = await primaryPid();
      expect(await primaryPid()).toBe(pid);
      const client = await one.connect();
      await client.query("SET application_name = 'changed'");
      expect(client.pinnedTo).toBe('primary');
      client.release();
      const again = await one.connect();
      try {
        expect(await backendPid(again)).toBe(pid);
        expect(
          (await again.query<{ application_name: string }>('SHOW application_name')).rows[0]!.application_name,
        ).not.toBe('changed');
      } finally {
        again.release();
      }
    });

    it('destroys the connection on release(err) and release(true), as pg-pool does', async () => {
      for (const reason of [new Error('broken'), true] as const) {
        const pid = await primaryPid();
        const client = await one.connect();
        expect(await backendPid(client)).toBe(pid);
        client.release(reason);
        expect(await primaryPid()).not.toBe(pid);
      }
    });

    it('closes a connection that holds session state (a temporary table) when the client is released', async () => {
      const client = await one.connect();
      await client.query('CREATE TEMP TABLE adapter_left_behind (v int)');
      const pid = await backendPid(client);
      client.release();
      const again = await one.connect();
      try {
        expect(await backendPid(again)).not.toBe(pid);
        expect(((await failure(again.query('SELECT * FROM adapter_left_behind'))) as QueryError).code).toBe('42P01');
      } finally {
        again.release();
      }
    });

    it('refuses statements once its pinned connection is lost, emits error, and the pool carries on', async () => {
      const client = await one.connect();
      const errors: Error[] = [];
      client.on('error', (error) => errors.push(error));
      await client.query('BEGIN');
      const pid = await backendPid(client);
      await raw.query('SELECT pg_terminate_backend($1)', [pid]);
      const lost = (await failure(client.query('SELECT 1'))) as QueryError;
      expect(lost.code).toMatch(/^(57P01|08|PGR_QUERY_FAILED)/);
      expect(errors).toHaveLength(1);
      expect(client.pinnedTo).toBeUndefined();
      // Not silently routed elsewhere: the transaction is gone, so the client says so.
      expect(((await failure(client.query('SELECT 1'))) as QueryError).code).toBe('08003');
      client.release();
      expect((await one.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });

    it('refuses a released client and a second release', async () => {
      const client = await one.connect();
      client.release();
      const error = (await failure(client.query('SELECT 1'))) as RouterError;
      expect(error).toBeInstanceOf(RouterError);
      expect(error.code).toBe('PGR_CLIENT_RELEASED');
      expect(() => client.release()).toThrow(expect.objectContaining({ code: 'PGR_CLIENT_RELEASED' }));
    });
  });

  describe("PostgreSQL's errors, as pg hands them out", () => {
    it("are pg.DatabaseError from pool.query, a pinned client and callbacks, with the router's fields on them", async () => {
      const fromPool = await failure(pool.query('SELEC 1'));
      expect(fromPool).toBeInstanceOf(pg.DatabaseError);
      expect(fromPool).toBeInstanceOf(QueryError);
      expect(fromPool).toBeInstanceOf(RouterError);
      expect(isQueryError(fromPool)).toBe(true);
      expect(fromPool).toMatchObject({ code: '42601', severity: 'ERROR', outcomeUnknown: false });
      expect(typeof (fromPool as QueryError).node).toBe('string');
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const duplicate = await failure(client.query("INSERT INTO adapter_items (id, name) VALUES (1, 'again')"));
        expect(duplicate).toBeInstanceOf(pg.DatabaseError);
        expect(duplicate).toMatchObject({ code: '23505', constraint: 'adapter_items_pkey', node: 'primary' });
        await client.query('ROLLBACK');
      } finally {
        client.release();
      }
      const viaCallback = await new Promise<Error | undefined>((resolve) =>
        pool.query('SELECT * FROM no_such_table_at_all', (error) => resolve(error)),
      );
      expect(viaCallback).toBeInstanceOf(pg.DatabaseError);
      expect(viaCallback).toMatchObject({ code: '42P01' });
      // The router's own errors stay what they are; router.query keeps its QueryError (the server's error is `cause`).
      expect(await failure(pool.query(''))).not.toBeInstanceOf(pg.DatabaseError);
      const direct = (await failure(router.query('SELEC 1'))) as QueryError;
      expect(direct).toBeInstanceOf(QueryError);
      expect(direct.cause).toBeInstanceOf(pg.DatabaseError);
    });
  });

  describe('bad input', () => {
    it.each([
      ['a number', 42],
      ['null', null],
      ['undefined', undefined],
      ['a config without text', { values: [1] }],
    ])('rejects %s as the query with PGR_INVALID_QUERY, from pool and client', async (_label, input) => {
      const fromPool = (await failure(pool.query(input as unknown as string))) as QueryError;
      expect(fromPool).toBeInstanceOf(QueryError);
      expect(fromPool.code).toBe('PGR_INVALID_QUERY');
      const client = await pool.connect();
      try {
        expect(((await failure(client.query(input as unknown as string))) as QueryError).code).toBe(
          'PGR_INVALID_QUERY',
        );
        expect((await client.query<{ ok: boolean }>('SELECT true AS ok')).rows).toEqual([{ ok: true }]);
      } finally {
        client.release();
      }
    });

    it.each([
      ['rowMode', { text: 'SELECT 1', rowMode: 'object' }, 'query.rowMode'],
      ['types', { text: 'SELECT 1', types: {} }, 'query.types'],
      ['binary', { text: 'SELECT 1', binary: true }, 'query.binary'],
    ])('rejects a bad %s with ConfigError naming it', async (_label, config, key) => {
      const error = (await failure(pool.query(config as unknown as string))) as ConfigError;
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.key).toBe(key);
    });

    it('rejects a wrong parameter count, before pinning', async () => {
      const client = await pool.connect();
      try {
        expect(((await failure(client.query('BEGIN; SELECT $1', []))) as QueryError).code).toBe('PGR_PARAMETER_COUNT');
        expect(client.pinnedTo).toBeUndefined();
      } finally {
        client.release();
      }
    });
  });

  describe('events and end()', () => {
    it('emits error for an idle connection that dies, with a listener, and does not crash without one', async () => {
      const own = new QueryRouter({
        primary: cluster.primaryUrl,
        pool: { max: 2 },
        applicationName: 'pool-adapter-idle',
      });
      const ownPool = own.asPool();
      try {
        await ownPool.query('SELECT 1');
        const errors: Error[] = [];
        ownPool.on('error', (error) => errors.push(error));
        await raw.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pool-adapter-idle'",
        );
        await until(() => errors.length > 0, 30_000);
        expect(errors[0]).toBeInstanceOf(Error);
      } finally {
        await ownPool.end();
      }
    });

    it('closes the router on end(); later calls fail with RouterClosedError', async () => {
      const own = new QueryRouter({ primary: cluster.primaryUrl, replicas: cluster.replicaUrls });
      const ownPool = own.asPool();
      await ownPool.query('SELECT 1');
      const client = await ownPool.connect();
      await ownPool.end();
      expect(ownPool.ended).toBe(true);
      expect(own.stats().closed).toBe(true);
      expect(await failure(ownPool.query('SELECT 1'))).toBeInstanceOf(RouterClosedError);
      expect(await failure(ownPool.connect())).toBeInstanceOf(RouterClosedError);
      expect(await failure(client.query('SELECT 1'))).toBeInstanceOf(RouterClosedError);
      // A second end() fails, as pg.Pool's does, through the promise and through a callback.
      expect(await failure(ownPool.end())).toBeInstanceOf(RouterClosedError);
      expect(await new Promise((resolve) => ownPool.end(resolve))).toBeInstanceOf(RouterClosedError);
      expect(() => own.asPool()).toThrow(RouterClosedError);
    });

    it('emits connect and remove for connections, acquire and release for clients, and error with the client', async () => {
      const own = new QueryRouter({
        primary: cluster.primaryUrl,
        pool: { max: 2, idleTimeoutMs: 50 },
        applicationName: 'pool-adapter-events',
      });
      const ownPool = own.asPool();
      const seen: string[] = [];
      const opened: pg.PoolClient[] = [];
      const removed: pg.PoolClient[] = [];
      ownPool.on('connect', (client) => {
        opened.push(client);
        seen.push('connect');
      });
      ownPool.on('remove', (client) => void removed.push(client));
      ownPool.on('acquire', () => void seen.push('acquire'));
      ownPool.on('release', (error) => void seen.push(error === undefined ? 'release' : `release ${error.message}`));
      try {
        const client = await ownPool.connect();
        // Not pinned: no connection of its own, no backend.
        expect(client.processID).toBeUndefined();
        await client.query('BEGIN');
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        expect(client.processID).toBe(rows[0]!.pid);
        await client.query('COMMIT');
        client.release();
        expect(seen).toEqual(['acquire', 'connect', 'release']);
        // Each connect event is a connection of its own, with its own backend, and each is removed once closed.
        expect(opened.length).toBeGreaterThan(0);
        expect(opened.every((connection) => typeof pidOf(connection) === 'number')).toBe(true);
        await until(() => removed.length === opened.length, 30_000);
        expect(new Set(removed)).toEqual(new Set(opened));
        // An idle connection that dies: 'error' carries the error and that connection.
        const errors: [Error, pg.PoolClient][] = [];
        ownPool.on('error', (error, connection) => void errors.push([error, connection]));
        await own.asPool().query('SELECT 1');
        await until(() => opened.length > removed.length, 30_000);
        const victim = opened[opened.length - 1]!;
        await raw.query('SELECT pg_terminate_backend($1)', [pidOf(victim)]);
        await until(() => errors.length > 0, 30_000);
        expect(errors[0]![0]).toBeInstanceOf(Error);
        expect(errors[0]![1]).toBe(victim);
        // end() on a client releases it and closes its connection.
        const ended = await ownPool.connect();
        await ended.query('SELECT pg_backend_pid()');
        await ended.end();
        expect(seen[seen.length - 1]).toMatch(/^release /);
      } finally {
        await ownPool.end();
      }
    });

    it("gives pool.options the primary's settings, so a control client built from them cancels a pinned client's statement", async () => {
      const secret = decodeURIComponent(new URL(cluster.primaryUrl).password);
      expect(pool.options.password).toBe(secret);
      expect(pool.options.port).toBe(primaryPort);
      expect(JSON.stringify(pool.options)).not.toContain(secret);
      expect(inspect(pool, { depth: 5 })).not.toContain(secret);
      const client = await pool.connect();
      const control = new pg.Client(pool.options);
      await control.connect();
      try {
        await client.query('BEGIN');
        const pid = client.processID!;
        expect(typeof pid).toBe('number');
        // The expectation is attached before the cancel, so the rejection is never unhandled.
        const running = expect(client.query("SELECT pg_sleep(30), 'cancel me' AS tag")).rejects.toMatchObject({
          code: '57014',
        });
        await until(
          async () =>
            (await raw.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event = $2', [pid, 'PgSleep']))
              .rowCount === 1,
          30_000,
        );
        expect((await control.query('SELECT pg_cancel_backend($1) AS sent', [pid])).rows).toEqual([{ sent: true }]);
        await running;
        await client.query('ROLLBACK');
        // A client on a replica reports no processID: cancelling that number on the primary would hit another backend.
        await client.query('BEGIN READ ONLY');
        expect(client.pinnedTo).toMatch(/^replica-/);
        expect(client.processID).toBeUndefined();
        await client.query('COMMIT');
      } finally {
        client.release();
        await control.end();
      }
    });

    it('answers query(callback) alone through the callback, as pg.Pool does, from pool and client', async () => {
      const fromPool = await new Promise<Error | undefined>((resolve) => {
        expect(pool.query(((error: Error | undefined) => resolve(error)) as never)).toBeUndefined();
      });
      expect(fromPool).toMatchObject({ code: 'PGR_INVALID_QUERY' });
      const client = await pool.connect();
      try {
        const fromClient = await new Promise<Error | undefined>((resolve) => {
          client.query(((error: Error | undefined) => resolve(error)) as never);
        });
        expect(fromClient).toMatchObject({ code: 'PGR_INVALID_QUERY' });
      } finally {
        client.release();
      }
    });
  });
});

/** Whether a statement whose text contains `marker` is running on the node at `url`. */
async function isRunning(url: string, marker: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE '%' || $1 || '%'",
      [marker],
    );
    return rows[0]!.n > 0;
  } finally {
    await client.end();
  }
}

describe('callbacks that throw', () => {
  it('reach the process as uncaught exceptions, as with pg.Pool, never as unhandled rejections', async () => {
    const script = fileURLToPath(new URL('./fixtures/callback-throws.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, cluster.primaryUrl, ...cluster.replicaUrls], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const bound = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
    clearTimeout(bound);
    expect(code, output).toBe(0);
    expect(JSON.parse(output.trim().split('\n').at(-1)!), output).toEqual({
      uncaught: ['from a failed pool.query', 'from client.query', 'from pool.end', 'from pool.query'],
      unhandled: [],
    });
  });
});

describe('router.query with an AbortSignal', () => {
  let router: QueryRouter;

  beforeAll(() => {
    router = new QueryRouter({ primary: cluster.primaryUrl, replicas: cluster.replicaUrls, pool: { max: 1 } });
  });
  afterAll(async () => {
    await router.close();
  });

  it('cancels the running statement on the server: 57014, and the node stays usable', async () => {
    const controller = new AbortController();
    const marker = `abort_me_${process.pid}`;
    const running = router.query(`SELECT pg_sleep(30) AS ${marker}`, undefined, { signal: controller.signal });
    // Abort once the server is running it (whichever node it went to), not after a guess at how long that takes.
    await until(
      async () =>
        (await Promise.all([cluster.primaryUrl, ...cluster.replicaUrls].map((url) => isRunning(url, marker)))).some(
          Boolean,
        ),
      30_000,
    );
    controller.abort();
    const error = (await failure(running)) as QueryError;
    expect(error).toBeInstanceOf(QueryError);
    expect(error.code).toBe('57014');
    expect((await router.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect(router.stats().routing.readFallbacks).toBe(0);
  });

  it('never sends a statement whose signal is already aborted', async () => {
    const before = router.stats().nodes[0]!.queries;
    const error = (await failure(
      router.query('INSERT INTO nowhere VALUES (1)', undefined, { signal: AbortSignal.abort() }),
    )) as QueryError;
    expect(error.code).toBe('57014');
    expect(router.stats().nodes[0]!.queries).toBe(before);
  });

  it('stops waiting for a connection when aborted', async () => {
    const pool = router.asPool();
    const holder = await pool.connect();
    await holder.query('BEGIN'); // the primary's only connection is now taken
    try {
      const controller = new AbortController();
      const waiting = router.query('SELECT 1', undefined, { route: 'primary', signal: controller.signal });
      await until(() => router.stats().nodes[0]!.pool.waiting === 1, 30_000, 1);
      controller.abort();
      expect(((await failure(waiting)) as QueryError).code).toBe('57014');
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    expect((await router.query<{ one: number }>('SELECT 1 AS one', undefined, { route: 'primary' })).rows).toEqual([
      { one: 1 },
    ]);
  });

  it('leaves a statement that finished first alone', async () => {
    const controller = new AbortController();
    const { rows } = await router.query<{ one: number }>('SELECT 1 AS one', undefined, { signal: controller.signal });
    controller.abort();
    expect(rows).toEqual([{ one: 1 }]);
  });

  it('rejects a signal that is not an AbortSignal', async () => {
    const error = (await failure(
      router.query('SELECT 1', undefined, { signal: 'stop' as unknown as AbortSignal }),
    )) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.key).toBe('query.signal');
  });
});

describe('which statements pin a client (read from the text alone)', () => {
  it.each([
    'SELECT * FROM t WHERE id = $1',
    "INSERT INTO t VALUES (1, 'BEGIN')",
    'UPDATE t SET v = v + 1',
    'COMMIT',
    'ROLLBACK',
    'SET LOCAL statement_timeout = 100',
    'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE',
    'SELECT pg_advisory_xact_lock(1)',
    'NOTIFY jobs',
    'SHOW search_path',
    "SELECT 'SET x = 1', $$LISTEN y$$ -- CREATE TEMP TABLE z",
    'INSERT INTO temp (a) VALUES (1)',
    'PREPARE TRANSACTION $$tx1$$',
    'SELECT * FROM',
  ])('pins nothing for %s', (sql) => {
    expect(pinningOf(sql)).toBe(UNPINNED);
  });

  it.each([
    ['BEGIN', false],
    ['begin isolation level repeatable read', false],
    ['START TRANSACTION READ WRITE', false],
    ['BEGIN READ ONLY', true],
    ['start transaction isolation level repeatable read, read only', true],
    ['BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE', false],
    ['BEGIN READ ONLY; SET search_path = app', false],
    ['SELECT 1; BEGIN', false],
  ])('opens a transaction for %s (read-only: %s)', (sql, readOnly) => {
    const pinning = pinningOf(sql);
    expect(pinning.begins).toBe(true);
    expect(pinning.readOnly).toBe(readOnly);
  });

  it.each([
    ['SET search_path = app, public', SESSION_SETTINGS],
    ['SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY', SESSION_SETTINGS],
    ['SET ROLE reporting', SESSION_SETTINGS],
    ['RESET ALL', SESSION_SETTINGS],
    ["SELECT set_config('app.user', $1, false)", SESSION_SETTINGS],
    ['LISTEN jobs', SESSION_STATE],
    ['CREATE TEMP TABLE scratch (v int)', SESSION_STATE],
    ['CREATE GLOBAL TEMPORARY TABLE scratch (v int)', SESSION_STATE],
    ['CREATE TABLE pg_temp.scratch (v int)', SESSION_STATE],
    ['SELECT * INTO TEMP scratch FROM t', SESSION_STATE],
    ['SELECT pg_advisory_lock(42)', SESSION_STATE],
    ['SELECT pg_catalog.pg_try_advisory_lock_shared(1, 2)', SESSION_STATE],
    ['PREPARE q AS SELECT 1', SESSION_STATE],
    ['DECLARE c CURSOR WITH HOLD FOR SELECT 1', SESSION_STATE],
    ['DISCARD TEMP', SESSION_STATE],
    ['SELECT pg_backend_pid() AS pid', SESSION_IDENTITY],
  ])('leaves session state for %s', (sql, flag) => {
    const pinning = pinningOf(sql);
    expect(pinning.begins).toBe(false);
    expect(pinning.session & flag).toBe(flag);
  });

  it('notes the statements that drop prepared statements', () => {
    expect(pinningOf('DISCARD ALL').dropsStatements).toBe(true);
    expect(pinningOf('DEALLOCATE ALL').dropsStatements).toBe(true);
    expect(pinningOf('DISCARD TEMP').dropsStatements).toBe(false);
  });
});
