import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kysely, PostgresDialect, sql, type Generated } from 'kysely';
import Cursor from 'pg-cursor';
import { QueryRouter, type QueryError, type RoutedPool } from '../src/index.js';
import { sharedCluster } from './helpers/cluster.js';
import { until } from './helpers/wait.js';

const cluster = sharedCluster();
const primaryPort = Number(new URL(cluster.primaryUrl).port);
const replicaPorts = cluster.replicaUrls.map((url) => Number(new URL(url).port));

interface Database {
  kysely_owners: { id: Generated<number>; name: string };
  kysely_pets: { id: Generated<number>; owner_id: number; name: string; species: string };
}

/** Where the statement ran, read through Kysely's own `sql` template. */
const port = sql<number>`inet_server_port()`.as('port');
const standby = sql<boolean>`pg_is_in_recovery()`.as('standby');

describe('Kysely (PostgresDialect) over router.asPool()', () => {
  let router: QueryRouter;
  let pool: RoutedPool;
  let db: Kysely<Database>;

  beforeAll(async () => {
    router = new QueryRouter({ primary: cluster.primaryUrl, replicas: cluster.replicaUrls, pool: { max: 5 } });
    pool = router.asPool();
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool, cursor: Cursor }) });
    await sql`DROP TABLE IF EXISTS kysely_pets, kysely_owners`.execute(db);
    await db.schema
      .createTable('kysely_owners')
      .addColumn('id', 'serial', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .execute();
    await db.schema
      .createTable('kysely_pets')
      .addColumn('id', 'serial', (c) => c.primaryKey())
      .addColumn('owner_id', 'integer', (c) => c.notNull().references('kysely_owners.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('species', 'text', (c) => c.notNull())
      .execute();
  });

  afterAll(async () => {
    await db.destroy();
  });

  it('inserts, updates and deletes on the primary', async () => {
    const owners = await db
      .insertInto('kysely_owners')
      .values([{ name: 'Jennifer' }, { name: 'Arnold' }])
      .returning(['id', 'name', port, standby])
      .execute();
    expect(owners.map((o) => [o.name, o.port, o.standby])).toEqual([
      ['Jennifer', primaryPort, false],
      ['Arnold', primaryPort, false],
    ]);
    await db
      .insertInto('kysely_pets')
      .values([
        { owner_id: owners[0]!.id, name: 'Catto', species: 'cat' },
        { owner_id: owners[0]!.id, name: 'Doggo', species: 'dog' },
        { owner_id: owners[1]!.id, name: 'Hammo', species: 'hamster' },
      ])
      .execute();
    const updated = await db
      .updateTable('kysely_pets')
      .set({ species: 'big cat' })
      .where('name', '=', 'Catto')
      .returning(['species', port, standby])
      .executeTakeFirstOrThrow();
    expect(updated).toEqual({ species: 'big cat', port: primaryPort, standby: false });
    await db.insertInto('kysely_pets').values({ owner_id: owners[1]!.id, name: 'Gone', species: 'fish' }).execute();
    const deleted = await db
      .deleteFrom('kysely_pets')
      .where('name', '=', 'Gone')
      .returning(['name', port, standby])
      .execute();
    expect(deleted).toEqual([{ name: 'Gone', port: primaryPort, standby: false }]);
    const result = await db.deleteFrom('kysely_pets').where('name', '=', 'Nobody').executeTakeFirst();
    expect(result.numDeletedRows).toBe(0n);
  });

  it('runs selects with joins on a replica, with the data right', async () => {
    await cluster.waitForReplication();
    const rows = await db
      .selectFrom('kysely_pets as p')
      .innerJoin('kysely_owners as o', 'o.id', 'p.owner_id')
      .select(['p.name as pet', 'o.name as owner', 'p.species', port, standby])
      .orderBy('p.name')
      .execute();
    expect(rows.map((r) => [r.pet, r.owner, r.species])).toEqual([
      ['Catto', 'Jennifer', 'big cat'],
      ['Doggo', 'Jennifer', 'dog'],
      ['Hammo', 'Arnold', 'hamster'],
    ]);
    for (const row of rows) {
      expect(row.standby).toBe(true);
      expect(replicaPorts).toContain(row.port);
    }
    const counts = await db
      .selectFrom('kysely_pets')
      .select(['owner_id', (eb) => eb.fn.countAll<string>().as('n')])
      .groupBy('owner_id')
      .orderBy('owner_id')
      .execute();
    expect(counts.map((c) => c.n)).toEqual(['2', '1']);
  });

  it('runs db.transaction() on the primary, commits, and rolls back on a throw', async () => {
    const inside = await db.transaction().execute(async (trx) => {
      const owner = await trx
        .insertInto('kysely_owners')
        .values({ name: 'Sigourney' })
        .returning('id')
        .executeTakeFirstOrThrow();
      await trx.insertInto('kysely_pets').values({ owner_id: owner.id, name: 'Jonesy', species: 'cat' }).execute();
      return trx
        .selectFrom('kysely_pets')
        .select([port, standby, (eb) => eb.fn.countAll<string>().as('n')])
        .where('owner_id', '=', owner.id)
        .executeTakeFirstOrThrow();
    });
    expect(inside).toEqual({ port: primaryPort, standby: false, n: '1' });
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('kysely_owners').values({ name: 'Never' }).execute();
        throw new Error('abandon');
      }),
    ).rejects.toThrow('abandon');
    await cluster.waitForReplication();
    const names = await db
      .selectFrom('kysely_owners')
      .select('name')
      .where('name', 'in', ['Sigourney', 'Never'])
      .execute();
    expect(names).toEqual([{ name: 'Sigourney' }]);
    expect(pool.checkedOutCount).toBe(0);
  });

  it('rolls back to a savepoint inside a controlled transaction', async () => {
    const trx = await db.startTransaction().execute();
    try {
      const owner = await trx
        .insertInto('kysely_owners')
        .values({ name: 'Ellen' })
        .returning('id')
        .executeTakeFirstOrThrow();
      const afterOwner = await trx.savepoint('after_owner').execute();
      await afterOwner
        .insertInto('kysely_pets')
        .values({ owner_id: owner.id, name: 'Undone', species: 'cat' })
        .execute();
      const failed = await afterOwner
        .insertInto('kysely_owners')
        .values({ name: 'Ellen' })
        .execute()
        .then(
          () => undefined,
          (error: unknown) => error as QueryError,
        );
      expect(failed?.code).toBe('23505');
      await afterOwner.rollbackToSavepoint('after_owner').execute();
      await afterOwner.releaseSavepoint('after_owner').execute();
      await trx.insertInto('kysely_pets').values({ owner_id: owner.id, name: 'Kept', species: 'dog' }).execute();
      await trx.commit().execute();
    } catch (error) {
      await trx.rollback().execute();
      throw error;
    }
    const pets = await router.query<{ name: string }>(
      "SELECT p.name FROM kysely_pets p JOIN kysely_owners o ON o.id = p.owner_id WHERE o.name = 'Ellen' ORDER BY p.name",
      undefined,
      { route: 'primary' },
    );
    expect(pets.rows).toEqual([{ name: 'Kept' }]);
  });

  it('streams a select from a replica with .stream(), and stopping early gives the connection back', async () => {
    const owner = await db
      .insertInto('kysely_owners')
      .values({ name: 'streamer' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('kysely_pets')
      .values(Array.from({ length: 120 }, (_, i) => ({ owner_id: owner.id, name: `pet ${i}`, species: 'cat' })))
      .execute();
    await cluster.waitForReplication();
    const names: string[] = [];
    const ports = new Set<number>();
    const query = db.selectFrom('kysely_pets').select(['name', port]).where('owner_id', '=', owner.id).orderBy('id');
    for await (const row of query.stream(25)) {
      names.push(row.name);
      ports.add(row.port);
    }
    expect(names).toEqual(Array.from({ length: 120 }, (_, i) => `pet ${i}`));
    expect([...ports].every((p) => replicaPorts.includes(p))).toBe(true);
    let taken = 0;
    for await (const row of query.stream(10)) {
      expect(row.name).toBe(`pet ${taken}`);
      if (++taken === 15) break;
    }
    const active = (): number => router.stats().nodes.reduce((sum, node) => sum + node.pool.active, 0);
    await until(() => active() === 0 && pool.checkedOutCount === 0, 30_000);
  });

  it('runs a read-only transaction on a replica', async () => {
    const where = await db
      .transaction()
      .setAccessMode('read only')
      .execute((trx) => trx.selectNoFrom([port, standby]).executeTakeFirstOrThrow());
    expect(where.standby).toBe(true);
    expect(replicaPorts).toContain(where.port);
  });

  it('leaks nothing over 10,000 queries: no client left checked out, no pool past its max', async () => {
    const queries = 10_000;
    const callers = 40;
    let next = 0;
    let failed = 0;
    const caller = async (): Promise<void> => {
      while (next < queries) {
        const i = next++;
        try {
          if (i % 10 === 0)
            await db.updateTable('kysely_owners').set({ name: 'Arnold' }).where('name', '=', 'Arnold').execute();
          else
            await db
              .selectFrom('kysely_pets')
              .select(['id', 'name'])
              .where('id', '=', 1 + (i % 3))
              .execute();
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: callers }, caller));
    expect(failed).toBe(0);
    expect(pool.checkedOutCount).toBe(0);
    for (const node of router.stats().nodes) {
      expect(node.pool.total).toBeLessThanOrEqual(node.pool.max);
      expect(node.pool.active).toBe(0);
      expect(node.pool.waiting).toBe(0);
    }
    expect(router.stats().nodes.reduce((sum, node) => sum + node.queries, 0)).toBeGreaterThanOrEqual(queries);
  });
});
