import type pg from 'pg';
import { desc, eq, sql as drizzleSql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { bigint, bigserial, integer, numeric, pgSchema, text, timestamp } from 'drizzle-orm/pg-core';
import { Kysely, PostgresDialect, sql as kyselySql } from 'kysely';
import { QueryRouter } from '../../src/index.js';
import type { Step } from '../lib/closed-loop.js';
import { rawPgPool, routerPoolOptions, type PoolParams } from '../lib/pools.js';
import type { Contender } from '../lib/rounds.js';
import type { BenchSchema } from '../lib/schema.js';
import { seededRandom } from '../lib/seeded-random.js';

/**
 * The contenders of `bench:orms`: Drizzle (node-postgres driver) and Kysely (PostgresDialect), each over a raw
 * `pg.Pool` and over `router.asPool()`, each calling its library the way its documentation shows. The workload is
 * the same three operations written once per library.
 */

/** The operations of the read-heavy mix. */
export type OrmOperation = 'user' | 'orders' | 'visit';

const STEPS = 1024;

/**
 * A read-heavy mix in a fixed cycle of ten: six user lookups by primary key, three "latest orders of a user with
 * the user's name" (a join, ORDER BY, LIMIT), one counter update. Each step's `name` is its operation and its one
 * parameter the id.
 */
export function ormMixWorkload(schema: BenchSchema, seed = 3): Step[] {
  const next = seededRandom(seed);
  const cycle: OrmOperation[] = ['user', 'orders', 'user', 'user', 'orders', 'visit', 'user', 'orders', 'user', 'user'];
  const steps: Step[] = [];
  for (let i = 0; i < STEPS; i++) {
    const operation = cycle[i % cycle.length]!;
    const params = [1 + Math.floor(next() * schema.users)];
    steps.push({ text: operation, params, name: operation, config: { text: operation, values: params } });
  }
  return steps;
}

/** The library a contender drives. */
export type OrmLibrary = 'Drizzle' | 'Kysely';

/** Where the contender's queries go. */
export type OrmTarget =
  'pg.Pool' | 'router.asPool()' | 'router.asPool(), statement cache off' | 'router.asPool(), reads on replicas';

/** A contender of one library over one pool. */
export interface OrmContender extends Contender {
  readonly library: OrmLibrary;
  readonly target: OrmTarget;
  /** The router underneath, for its statistics (routed contenders only). */
  readonly router: QueryRouter | undefined;
}

/** A raw `pg.Pool` on `url`, or `router.asPool()` of a router over `url` (and `replicaUrls`), sized alike. */
function poolFor(
  target: OrmTarget,
  url: string,
  replicaUrls: readonly string[],
  params: PoolParams,
): { pool: pg.Pool; router: QueryRouter | undefined } {
  if (target === 'pg.Pool') {
    return { pool: rawPgPool(url, params), router: undefined };
  }
  const router = new QueryRouter({
    primary: url,
    replicas: target === 'router.asPool(), reads on replicas' ? [...replicaUrls] : [],
    pool: routerPoolOptions(params),
    // Off: every statement unnamed, parsed and planned on each call, as the libraries do over a raw pg.Pool.
    statementCache: { max: target === 'router.asPool(), statement cache off' ? 0 : 500 },
  });
  // Drizzle's types name pg's own Pool; the routed pool implements what its node-postgres driver calls.
  return { pool: router.asPool() as unknown as pg.Pool, router };
}

/** Drizzle over `target`: `db.select()…`, `db.update()…` on the bench schema. */
export function drizzleContender(
  target: OrmTarget,
  url: string,
  replicaUrls: readonly string[],
  schema: BenchSchema,
  params: PoolParams,
): OrmContender {
  const tables = pgSchema(schema.name);
  const users = tables.table('users', {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    visits: integer('visits').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  });
  const orders = tables.table('orders', {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: bigint('user_id', { mode: 'number' }).notNull(),
    amount: numeric('amount').notNull(),
    status: text('status').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  });
  const { pool, router } = poolFor(target, url, replicaUrls, params);
  const db = drizzle({ client: pool });
  const run = (step: Step): PromiseLike<unknown> => {
    const id = step.params[0] as number;
    switch (step.name as OrmOperation) {
      case 'user':
        return db
          .select({ id: users.id, email: users.email, name: users.name, visits: users.visits })
          .from(users)
          .where(eq(users.id, id));
      case 'orders':
        return db
          .select({ id: orders.id, amount: orders.amount, status: orders.status, name: users.name })
          .from(orders)
          .innerJoin(users, eq(users.id, orders.userId))
          .where(eq(orders.userId, id))
          .orderBy(desc(orders.createdAt))
          .limit(5);
      case 'visit':
        return db
          .update(users)
          .set({ visits: drizzleSql`${users.visits} + 1` })
          .where(eq(users.id, id));
    }
  };
  return { name: `Drizzle over ${target}`, library: 'Drizzle', target, router, query: run, close: () => pool.end() };
}

interface BenchTables {
  users: { id: number; email: string; name: string; visits: number; created_at: Date };
  orders: { id: number; user_id: number; amount: string; status: string; created_at: Date };
}

/** Kysely over `target`: `selectFrom()…`, `updateTable()…` on the bench schema. */
export function kyselyContender(
  target: OrmTarget,
  url: string,
  replicaUrls: readonly string[],
  schema: BenchSchema,
  params: PoolParams,
): OrmContender {
  const { pool, router } = poolFor(target, url, replicaUrls, params);
  const root = new Kysely<BenchTables>({ dialect: new PostgresDialect({ pool }) });
  const db = root.withSchema(schema.name);
  const run = (step: Step): PromiseLike<unknown> => {
    const id = step.params[0] as number;
    switch (step.name as OrmOperation) {
      case 'user':
        return db.selectFrom('users').select(['id', 'email', 'name', 'visits']).where('id', '=', id).execute();
      case 'orders':
        return db
          .selectFrom('orders')
          .innerJoin('users', 'users.id', 'orders.user_id')
          .select(['orders.id', 'orders.amount', 'orders.status', 'users.name'])
          .where('orders.user_id', '=', id)
          .orderBy('orders.created_at', 'desc')
          .limit(5)
          .execute();
      case 'visit':
        return db
          .updateTable('users')
          .set({ visits: kyselySql<number>`visits + 1` })
          .where('id', '=', id)
          .execute();
    }
  };
  return { name: `Kysely over ${target}`, library: 'Kysely', target, router, query: run, close: () => root.destroy() };
}
