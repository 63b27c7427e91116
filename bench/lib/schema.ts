import pg from 'pg';

/** How much data the benchmark schema holds. */
export interface SeedSize {
  readonly users: number;
  readonly ordersPerUser: number;
}

/** The benchmark's tables, created in a schema of their own so they never meet an application's or a test's. */
export interface BenchSchema {
  /** The schema name, e.g. `bench`. */
  readonly name: string;
  /** Users ids run from 1 to this. */
  readonly users: number;
  /** Order ids run from 1 to this at the start (inserts add more). */
  readonly orders: number;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * (Re)creates `schema` on `url` with `users` and `orders` (indexed as an application would index them),
 * seeds it, and vacuums and analyzes it so the first plans are the plans of a live system.
 */
export async function createBenchSchema(url: string, schema: string, size: SeedSize): Promise<BenchSchema> {
  if (!IDENTIFIER.test(schema))
    throw new TypeError(`schema: expected a lower-case SQL identifier, got ${JSON.stringify(schema)}`);
  if (!Number.isInteger(size.users) || size.users < 1)
    throw new RangeError(`users: expected a positive integer, got ${size.users}`);
  const orders = size.users * size.ordersPerUser;
  await withClient(url, async (client) => {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.query(`CREATE SCHEMA ${schema}`);
    // fillfactor leaves room in each page, so the mix's updates stay HOT updates, as a tuned table's would.
    await client.query(`CREATE TABLE ${schema}.users (
      id bigserial PRIMARY KEY,
      email text NOT NULL UNIQUE,
      name text NOT NULL,
      visits int NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_seen_at timestamptz
    ) WITH (fillfactor = 80)`);
    await client.query(`CREATE TABLE ${schema}.orders (
      id bigserial PRIMARY KEY,
      user_id bigint NOT NULL REFERENCES ${schema}.users (id),
      amount numeric(10, 2) NOT NULL,
      status text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await client.query(
      `INSERT INTO ${schema}.users (email, name, created_at)
      SELECT 'user' || g || '@example.com', 'User ' || g, now() - g * interval '1 minute'
      FROM generate_series(1, $1::int) AS g`,
      [size.users],
    );
    await client.query(
      `INSERT INTO ${schema}.orders (user_id, amount, status, created_at)
      SELECT 1 + (g * 7919) % $1::int, ((g * 31) % 50000) / 100.0,
             (ARRAY['new', 'paid', 'shipped', 'cancelled'])[1 + g % 4], now() - g * interval '1 second'
      FROM generate_series(1, $2::int) AS g`,
      [size.users, orders],
    );
    await client.query(`CREATE INDEX ON ${schema}.orders (user_id, created_at)`);
    await client.query(`CREATE INDEX ON ${schema}.orders (status)`);
    // VACUUM too: otherwise autovacuum notices the fresh inserts and runs in the middle of a measurement.
    await client.query(`VACUUM ANALYZE ${schema}.users, ${schema}.orders`);
  });
  return {
    name: schema,
    users: size.users,
    orders,
    drop: () =>
      withClient(url, (client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).then(() => undefined)),
  };
}

/** Runs `fn` with a connected client and always closes it. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
