import pg from 'pg';
import type { CustomTypesConfig, PoolClient, QueryResult } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directQueries, queryDirect } from '../src/pool/pg-query.js';
import { connectIdle } from '../src/pool/pg-pool-internals.js';
import { sharedCluster } from './helpers/cluster.js';

/*
 * Statements go to pg as its own Query objects built without pg's per-call copy of the config (src/pool/pg-query.ts),
 * and a checkout that is sure to find an idle connection skips pg-pool's timer (src/pool/pg-pool-internals.ts).
 * These tests pin both against the installed pg: what the direct path answers is what client.query answers.
 */

const cluster = sharedCluster();

/** What a caller can see of a result: everything but pg's private members. */
function visible(result: QueryResult | QueryResult[]): unknown {
  const one = (r: QueryResult): unknown => ({
    command: r.command,
    rowCount: r.rowCount,
    rows: r.rows,
    // In order: pg builds each row from an empty one with the columns in place.
    keys: r.rows.map((row) => Object.keys(row as object)),
    fields: r.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID, format: f.format })),
  });
  return Array.isArray(result) ? result.map(one) : one(result);
}

/** The error fields a caller reads. */
function errorOf(error: unknown): unknown {
  const e = error as pg.DatabaseError;
  return { name: e.name, message: e.message, code: e.code, position: e.position };
}

describe("statements as pg's own Query objects, against the installed pg", () => {
  let pool: pg.Pool;
  let client: PoolClient;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: cluster.primaryUrl, max: 3 });
    client = await pool.connect();
  });

  afterAll(async () => {
    client.release();
    await pool.end();
  });

  it('is on with the installed pg: its Query is built as pg builds it', () => {
    expect(directQueries).toBe(true);
  });

  const statements: readonly { readonly text: string; readonly values?: unknown[] }[] = [
    {
      text: 'SELECT $1::int AS i, $2::text AS t, $3::timestamptz AS ts, $4::jsonb AS j, $5::bytea AS b, $6::int AS n',
      values: [42, 'héllo', new Date('2026-01-02T03:04:05.678Z'), { a: [1, 2] }, Buffer.from([0, 1, 255]), null],
    },
    { text: 'SELECT g AS n, g::text || $1 AS s FROM generate_series(1, 5) AS g', values: ['!'] },
    { text: 'SELECT 1 AS a, 1 AS a' },
    { text: 'SELECT 1 AS one; SELECT 2 AS two' },
    { text: 'SELECT WHERE false' },
    { text: '' },
  ];

  for (const [i, { text, values }] of statements.entries()) {
    for (const name of [undefined, `pgr_test_direct_${i}`]) {
      if (name !== undefined && (values === undefined || text.includes(';'))) continue;
      it(`answers ${JSON.stringify(text).slice(0, 50)}${name === undefined ? '' : ' (named)'} as client.query does`, async () => {
        const theirs = await client.query({ name, text, values });
        // Twice: the first run of a named statement learns its row shape, the second reuses it.
        for (let run = 0; run < 2; run++) {
          const ours = await queryDirect(client, text, values, name, undefined, undefined);
          expect(visible(ours)).toEqual(visible(theirs));
        }
      });
    }
  }

  it('answers as pg does when one statement name meets rows of another shape (another search_path)', async () => {
    const other = await pool.connect();
    try {
      await client.query(
        'DROP SCHEMA IF EXISTS pgq_a CASCADE; DROP SCHEMA IF EXISTS pgq_b CASCADE; CREATE SCHEMA pgq_a; CREATE SCHEMA pgq_b;' +
          "CREATE TABLE pgq_a.t (a int, b text); INSERT INTO pgq_a.t VALUES (1, 'one');" +
          'CREATE TABLE pgq_b.t (b timestamptz, a int); INSERT INTO pgq_b.t VALUES (now(), 2)',
      );
      await client.query('SET search_path = pgq_a');
      await other.query('SET search_path = pgq_b');
      const text = 'SELECT * FROM t WHERE $1::int IS NOT NULL';
      const name = 'pgr_test_direct_shapes';
      for (let round = 0; round < 3; round++) {
        for (const c of [client, other]) {
          const ours = await queryDirect(c, text, [1], name, undefined, undefined);
          const theirs = await c.query({ text, values: [1] });
          expect(visible(ours)).toEqual(visible(theirs));
        }
      }
    } finally {
      await client.query('RESET search_path; DROP SCHEMA pgq_a CASCADE; DROP SCHEMA pgq_b CASCADE');
      other.release(true);
    }
  });

  it('honours a type parser set after a statement first ran, as pg does', async () => {
    const text = 'SELECT $1::int8 AS big';
    const name = 'pgr_test_direct_parser';
    expect((await queryDirect(client, text, ['5'], name, undefined, undefined)).rows).toEqual([{ big: '5' }]);
    pg.types.setTypeParser(20, (value: string) => BigInt(value));
    try {
      expect((await queryDirect(client, text, ['5'], name, undefined, undefined)).rows).toEqual([{ big: 5n }]);
    } finally {
      pg.types.setTypeParser(20, (value: string) => value);
    }
  });

  it('honours rowMode and per-statement type parsers', async () => {
    const types: CustomTypesConfig = {
      getTypeParser: ((oid: number, format?: string) =>
        oid === 23 ? (value: string) => `int:${value}` : pg.types.getTypeParser(oid, format as 'text')) as never,
    };
    const text = 'SELECT $1::int AS i, $2::text AS t';
    const theirs = await client.query({ text, values: [7, 'x'], rowMode: 'array', types });
    const ours = await queryDirect(client, text, [7, 'x'], undefined, 'array', types);
    expect(ours.rows).toEqual([['int:7', 'x']]);
    expect(visible(ours)).toEqual(visible(theirs));
  });

  it('rejects with the error pg gives, and the connection goes on', async () => {
    const text = 'SELECT $1::int / 0';
    const theirs = await client.query({ text, values: [1] }).then(
      () => undefined,
      (error: unknown) => error,
    );
    const ours = await queryDirect(client, text, [1], undefined, undefined, undefined).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(theirs).toBeInstanceOf(pg.DatabaseError);
    expect(errorOf(ours)).toEqual(errorOf(theirs));
    const parse = await queryDirect(client, 'SELEC 1', undefined, undefined, undefined, undefined).catch(
      (error: unknown) => error,
    );
    expect((parse as pg.DatabaseError).code).toBe('42601');
    expect((await queryDirect(client, 'SELECT 1 AS ok', undefined, undefined, undefined, undefined)).rows).toEqual([
      { ok: 1 },
    ]);
  });

  it('rejects a parameter pg cannot convert without sending the statement, as pg does', async () => {
    const bad = {
      toPostgres: () => {
        throw new Error('cannot convert');
      },
    };
    const ours = await queryDirect(client, 'SELECT $1::text', [bad], undefined, undefined, undefined).catch(
      (error: unknown) => error,
    );
    expect((ours as Error).message).toBe('cannot convert');
    expect((await queryDirect(client, 'SELECT 2 AS two', undefined, undefined, undefined, undefined)).rows).toEqual([
      { two: 2 },
    ]);
  });

  it('rejects on a client that has ended, as pg does', async () => {
    const lone = new pg.Client({ connectionString: cluster.primaryUrl });
    await lone.connect();
    await lone.end();
    const ours = await queryDirect(
      lone as unknown as PoolClient,
      'SELECT 1',
      undefined,
      undefined,
      undefined,
      undefined,
    ).catch((error: unknown) => error);
    expect(ours).toBeInstanceOf(Error);
  });
});

describe("checking out an idle connection without pg-pool's timer", () => {
  /** Timers alive in this process now. */
  const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

  it('arms no timer when a connection is idle, and keeps the timeout for callers that wait', async () => {
    const pool = new pg.Pool({ connectionString: cluster.primaryUrl, max: 1, connectionTimeoutMillis: 300 });
    try {
      const first = await pool.connect();
      first.release();
      expect(pool.idleCount).toBe(1);
      const before = timers();
      const idle = connectIdle(pool);
      expect(timers()).toBe(before);
      expect(
        (pool as unknown as { options: { connectionTimeoutMillis: number } }).options.connectionTimeoutMillis,
      ).toBe(300);
      const client = await idle;
      expect(client).toBe(first);
      // The pool is now full and nothing is idle: the caller waits under pg-pool's own timeout.
      const waiting = connectIdle(pool).then(
        () => 'connected',
        (error: Error) => error.message,
      );
      expect(await waiting).toBe('timeout exceeded when trying to connect');
      client.release();
      const again = await connectIdle(pool);
      expect((await again.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
      again.release();
    } finally {
      await pool.end();
    }
  });
});
