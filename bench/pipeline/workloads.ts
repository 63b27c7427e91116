import pg from 'pg';

/** The workloads of `bench:pipeline`. */
export type WorkloadKind = 'insert' | 'update' | 'delete';

/** The jsonb payload of one event; passed to every driver as an object, so each serialises it its own way. */
export interface EventPayload {
  readonly seq: number;
  readonly page: string;
  readonly ms: number;
}

/** One row of the INSERT workload. */
export interface EventRow {
  readonly userId: number;
  readonly kind: string;
  readonly payload: EventPayload;
}

interface WorkloadBase {
  /** Its name in the table and in progress lines. */
  readonly label: string;
  /** The single-row statement each statement-at-a-time contender sends. */
  readonly text: string;
  /** Each statement's parameters, in order; one array per statement, shared by every contender and run. */
  readonly params: readonly (readonly unknown[])[];
}

/** Single-row INSERTs into `events`. */
export interface InsertWorkload extends WorkloadBase {
  readonly kind: 'insert';
  /** Schema-qualified table, for the contenders that build their own statement (multi-row INSERT, COPY). */
  readonly table: string;
  readonly rows: readonly EventRow[];
}

/** Single-row UPDATEs by primary key of the pre-seeded `accounts`, each id once. */
export interface UpdateWorkload extends WorkloadBase {
  readonly kind: 'update';
  /** Schema-qualified `accounts`, for the hand-written `UPDATE … FROM unnest(…)`. */
  readonly table: string;
}

/** Single-row DELETEs by primary key of the pre-seeded `accounts`, each id once. */
export interface DeleteWorkload extends WorkloadBase {
  readonly kind: 'delete';
  /** Schema-qualified `accounts`, for the hand-written `DELETE … USING unnest(…)`. */
  readonly table: string;
}

/** Any workload. */
export type Workload = InsertWorkload | UpdateWorkload | DeleteWorkload;

/** What one run must have left in the table, so a fast but wrong contender cannot win. */
export interface Expectation {
  /** Rows inserted (INSERT), changed (UPDATE) or deleted (DELETE). */
  readonly rows: number;
  /** Sum of `user_id` over the inserted rows, or of `balance` after the updates (0 for DELETE). */
  readonly sum: number;
}

/** The benchmark's tables, in a schema of their own so they never meet an application's or a test's. */
export interface PipelineSchema {
  readonly name: string;
  readonly insert: InsertWorkload;
  readonly update: UpdateWorkload;
  readonly delete: DeleteWorkload;
  /** Empties `events`, or re-seeds `accounts` with every balance at 0: the state every run starts from. */
  reset(kind: WorkloadKind): Promise<void>;
  /** Throws unless the table holds exactly what one complete, correct run of `kind` leaves. */
  verify(kind: WorkloadKind): Promise<void>;
  /** Drops the schema, then closes the connection used for resets and checks. */
  close(): Promise<void>;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const KINDS = ['click', 'view', 'purchase', 'signup'] as const;

/**
 * The INSERT workload's rows. Deterministic, so every contender and every run inserts the same data; `user_id`
 * values are spread so their sum checks that each row arrived once.
 */
export function eventRows(count: number): EventRow[] {
  return Array.from({ length: count }, (_, i) => ({
    userId: 1 + ((i * 7919) % 100_000),
    kind: KINDS[i % KINDS.length]!,
    payload: { seq: i, page: `/p/${i % 50}`, ms: (i * 37) % 1000 },
  }));
}

/**
 * The UPDATE workload's `[delta, id]` pairs: every id of `1..count` exactly once, in a scattered order (a
 * multiplicative step coprime to `count`), each with a positive delta, so afterwards exactly `count` balances
 * differ from 0 and their sum is known.
 */
export function accountUpdates(count: number): [delta: number, id: number][] {
  let step = Math.max(1, Math.floor(count * 0.618)) | 1;
  while (gcd(step, count) !== 1) step += 2;
  return Array.from({ length: count }, (_, i) => [1 + (i % 100), 1 + ((i * step) % count)]);
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** The first parameter is `user_id` (INSERT) or the new balance (UPDATE): either way, its sum is what to find. */
function expected(workload: Workload): Expectation {
  if (workload.kind === 'delete') return { rows: workload.params.length, sum: 0 };
  return { rows: workload.params.length, sum: workload.params.reduce((total, p) => total + (p[0] as number), 0) };
}

/**
 * (Re)creates `schema` on `url` with `events` and `accounts` and builds both workloads of `statements` each.
 * Autovacuum is off on both tables: they are emptied before every run, and a vacuum starting in the middle of
 * one contender's run would otherwise be charged to it alone.
 */
export async function createPipelineSchema(url: string, schema: string, statements: number): Promise<PipelineSchema> {
  if (!IDENTIFIER.test(schema))
    throw new TypeError(`schema: expected a lower-case SQL identifier, got ${JSON.stringify(schema)}`);
  if (!Number.isInteger(statements) || statements < 1)
    throw new RangeError(`statements: expected a positive integer, got ${statements}`);
  const client = new pg.Client({ connectionString: url });
  // The server going away (Ctrl-C stops the cluster) must fail the next query, not crash the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(
      `CREATE TABLE ${schema}.events (id bigserial PRIMARY KEY, user_id int, kind text, payload jsonb) WITH (autovacuum_enabled = false)`,
    );
    await client.query(
      `CREATE TABLE ${schema}.accounts (id int PRIMARY KEY, balance bigint NOT NULL DEFAULT 0) WITH (autovacuum_enabled = false)`,
    );
  } catch (error) {
    await client.end();
    throw error;
  }
  const rows = eventRows(statements);
  const insert: InsertWorkload = {
    kind: 'insert',
    label: 'INSERT',
    table: `${schema}.events`,
    text: `INSERT INTO ${schema}.events (user_id, kind, payload) VALUES ($1, $2, $3)`,
    params: rows.map((row) => [row.userId, row.kind, row.payload]),
    rows,
  };
  // Every SET value a parameter and the key the primary key: the shape `coalesce: true` merges.
  const update: UpdateWorkload = {
    kind: 'update',
    label: 'UPDATE',
    table: `${schema}.accounts`,
    text: `UPDATE ${schema}.accounts SET balance = $1 WHERE id = $2`,
    params: accountUpdates(statements),
  };
  const del: DeleteWorkload = {
    kind: 'delete',
    label: 'DELETE',
    table: `${schema}.accounts`,
    text: `DELETE FROM ${schema}.accounts WHERE id = $1`,
    params: accountUpdates(statements).map(([, id]) => [id]),
  };
  const expectations: Record<WorkloadKind, Expectation> = {
    insert: expected(insert),
    update: expected(update),
    delete: expected(del),
  };
  return {
    name: schema,
    insert,
    update,
    delete: del,
    async reset(kind) {
      if (kind === 'insert') {
        await client.query(`TRUNCATE ${schema}.events RESTART IDENTITY`);
        return;
      }
      await client.query(`TRUNCATE ${schema}.accounts`);
      await client.query(`INSERT INTO ${schema}.accounts (id) SELECT g FROM generate_series(1, $1::int) AS g`, [
        statements,
      ]);
      // Fresh statistics and a visibility map, so every run's UPDATEs meet the same table and the same plan.
      await client.query(`VACUUM ANALYZE ${schema}.accounts`);
    },
    async verify(kind) {
      const want = expectations[kind];
      const sql =
        kind === 'delete'
          ? `SELECT ($1::int - count(*))::int AS rows, 0::float8 AS sum, ($1::int - count(*))::int AS good FROM ${schema}.accounts`
          : kind === 'insert'
            ? `SELECT count(*)::int AS rows, coalesce(sum(user_id), 0)::float8 AS sum,
               count(*) FILTER (WHERE jsonb_typeof(payload) = 'object' AND payload ? 'seq')::int AS good
             FROM ${schema}.events`
            : `SELECT count(*) FILTER (WHERE balance <> 0)::int AS rows, coalesce(sum(balance), 0)::float8 AS sum,
               count(*)::int AS good
             FROM ${schema}.accounts`;
      const {
        rows: [got],
      } = await client.query<{ rows: number; sum: number; good: number }>(sql, kind === 'delete' ? [statements] : []);
      const good = kind === 'update' ? statements : want.rows;
      if (got === undefined || got.rows !== want.rows || got.sum !== want.sum || got.good !== good) {
        throw new Error(
          `${kind}: expected ${want.rows} rows (sum ${want.sum}, ${good} well-formed), found ${got?.rows} (sum ${got?.sum}, ${got?.good} well-formed)`,
        );
      }
    },
    async close() {
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
