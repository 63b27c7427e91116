import Cursor from 'pg-cursor';
import QueryStream from 'pg-query-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryRouter, type RoutedPool } from '../src/index.js';
import { sharedCluster } from './helpers/cluster.js';
import { until } from './helpers/wait.js';

const cluster = sharedCluster();
const replicaPorts = cluster.replicaUrls.map((url) => Number(new URL(url).port));
const primaryPort = Number(new URL(cluster.primaryUrl).port);

/** Rows of `cursor`, read `batch` at a time until it is exhausted. */
async function readAll<T>(cursor: Cursor<T>, batch: number): Promise<T[]> {
  const rows: T[] = [];
  for (;;) {
    const next = await cursor.read(batch);
    if (next.length === 0) return rows;
    rows.push(...next);
  }
}

describe('cursors and streams through asPool() (pg-cursor, pg-query-stream)', () => {
  let router: QueryRouter;
  let pool: RoutedPool;
  const active = (): number => router.stats().nodes.reduce((sum, node) => sum + node.pool.active, 0);

  beforeAll(async () => {
    router = new QueryRouter({ primary: cluster.primaryUrl, replicas: [...cluster.replicaUrls], pool: { max: 3 } });
    pool = router.asPool();
    await router.query('CREATE TABLE IF NOT EXISTS cursor_items (id int PRIMARY KEY, name text NOT NULL)');
    await router.query('TRUNCATE cursor_items');
    await router.query("INSERT INTO cursor_items SELECT g, 'item ' || g FROM generate_series(1, 1000) g");
    await cluster.waitForReplication();
  });
  afterAll(async () => {
    await router.close();
  });

  it('reads a cursor on a replica, holding one connection until it is closed, then unpins the client', async () => {
    const client = await pool.connect();
    try {
      const cursor = client.query(
        new Cursor<{ id: number; port: number }>(
          'SELECT id, inet_server_port() AS port FROM cursor_items WHERE id > $1 ORDER BY id',
          [0],
        ),
      );
      const first = await cursor.read(100);
      expect(first.map((row) => row.id)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(replicaPorts).toContain(first[0]!.port);
      expect(client.pinnedTo).toMatch(/^replica-/);
      expect(active()).toBe(1);
      const rest = await readAll(cursor, 250);
      expect(rest).toHaveLength(900);
      await cursor.close();
      await until(() => client.pinnedTo === undefined && active() === 0, 30_000);
      // The client goes on routing statement by statement.
      expect((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM cursor_items')).rows).toEqual([
        { n: 1000 },
      ]);
    } finally {
      client.release();
    }
  });

  it('streams with pg-query-stream from pool.query, and an early stop gives the connection back', async () => {
    const stream = pool.query(
      new QueryStream('SELECT id, inet_server_port() AS port FROM cursor_items ORDER BY id', [], { batchSize: 50 }),
    );
    const ids: number[] = [];
    let port = 0;
    for await (const row of stream as AsyncIterable<{ id: number; port: number }>) {
      ids.push(row.id);
      port = row.port;
    }
    expect(ids).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(replicaPorts).toContain(port);
    await until(() => active() === 0, 30_000);
    const early = pool.query(new QueryStream('SELECT id FROM cursor_items ORDER BY id', [], { batchSize: 10 }));
    let seen = 0;
    for await (const row of early as AsyncIterable<{ id: number }>) {
      expect(row.id).toBe(++seen);
      if (seen === 25) break;
    }
    expect(seen).toBe(25);
    await until(() => active() === 0 && pool.checkedOutCount === 0, 30_000);
  });

  it('runs a cursor over a writing statement on the primary, and one inside a transaction on its connection', async () => {
    const client = await pool.connect();
    try {
      const writes = client.query(
        new Cursor<{ id: number; port: number }>(
          "UPDATE cursor_items SET name = name || '!' WHERE id <= 3 RETURNING id, inet_server_port() AS port",
        ),
      );
      const updated = await readAll(writes, 10);
      expect(updated.map((row) => row.id).sort()).toEqual([1, 2, 3]);
      expect(updated.every((row) => row.port === primaryPort)).toBe(true);
      await writes.close();
      await client.query('BEGIN');
      await client.query("UPDATE cursor_items SET name = 'in tx' WHERE id = 4");
      const inside = client.query(new Cursor<{ name: string }>('SELECT name FROM cursor_items WHERE id = 4'));
      expect(await inside.read(10)).toEqual([{ name: 'in tx' }]);
      await inside.close();
      expect(client.pinnedTo).toBe('primary');
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    await until(() => active() === 0, 30_000);
  });

  it('hands a cursor its error and keeps the client usable', async () => {
    const client = await pool.connect();
    try {
      const broken = client.query(new Cursor('SELECT * FROM no_such_cursor_table'));
      await expect(broken.read(10)).rejects.toMatchObject({ code: '42P01' });
      await broken.close().catch(() => undefined);
      expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      client.release();
    }
    await until(() => active() === 0, 30_000);
  });

  it('sends nothing for a cursor or stream closed before it reached a connection, and holds none', async () => {
    const client = await pool.connect();
    try {
      // Queued behind a statement, so both are closed before the client has a connection to submit them on.
      const before = client.query('SELECT pg_sleep(0.05)');
      const cursor = client.query(new Cursor('SELECT id FROM cursor_items ORDER BY id'));
      await cursor.close();
      const stream = client.query(new QueryStream('SELECT id FROM cursor_items ORDER BY id'));
      const closed = new Promise((resolve) => stream.once('close', resolve));
      stream.destroy();
      await closed;
      await before;
      // pg-cursor sends nothing once closed: a late submit would leave its portal open and the connection waiting.
      await until(() => active() === 0, 30_000);
      expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      client.release();
    }
    await until(() => active() === 0, 30_000);
  });
});
