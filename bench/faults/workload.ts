import type { QueryRouter } from '../../src/index.js';
import { READ, WRITE, type StatementKind, type StatementLog } from './log.js';
import { withClient } from '../lib/schema.js';
import { seededRandom } from '../lib/seeded-random.js';

/** The fault scenario's tables and statements. */
export interface FaultsSchema {
  readonly name: string;
  /** Account ids run from 1 to this. */
  readonly accounts: number;
  /**
   * `SELECT … WHERE id = $1`, also returning `inet_server_port()` so each successful read says which node
   * answered it (a built-in the router knows to be read-only, so the read still goes to a replica).
   */
  readonly read: string;
  readonly insert: string;
  readonly update: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** (Re)creates `schema` on the primary at `url` with `accounts` (seeded) and `events` (empty). */
export async function createFaultsSchema(url: string, schema: string, accounts: number): Promise<FaultsSchema> {
  if (!IDENTIFIER.test(schema))
    throw new TypeError(`schema: expected a lower-case SQL identifier, got ${JSON.stringify(schema)}`);
  if (!Number.isInteger(accounts) || accounts < 1)
    throw new RangeError(`accounts: expected a positive integer, got ${accounts}`);
  await withClient(url, async (client) => {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.query(`CREATE SCHEMA ${schema}`);
    // fillfactor leaves room for HOT updates, so a minute of UPDATEs does not bloat the index the reads use.
    await client.query(
      `CREATE TABLE ${schema}.accounts (id int PRIMARY KEY, balance bigint NOT NULL DEFAULT 0, updated_at timestamptz) WITH (fillfactor = 70)`,
    );
    await client.query(
      `CREATE TABLE ${schema}.events (id bigserial PRIMARY KEY, account_id int NOT NULL, amount int NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
    );
    await client.query(`INSERT INTO ${schema}.accounts (id) SELECT g FROM generate_series(1, $1::int) AS g`, [
      accounts,
    ]);
    await client.query(`VACUUM ANALYZE ${schema}.accounts`);
  });
  return {
    name: schema,
    accounts,
    read: `SELECT id, balance, inet_server_port() AS port FROM ${schema}.accounts WHERE id = $1`,
    insert: `INSERT INTO ${schema}.events (account_id, amount) VALUES ($1, $2)`,
    update: `UPDATE ${schema}.accounts SET balance = balance + $2, updated_at = now() WHERE id = $1`,
  };
}

/** Concurrent callers sending statements through one router until stopped. */
export interface Load {
  /** Tells every caller to stop after its current statement and resolves once they all have. */
  stop(): Promise<void>;
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  return error instanceof Error ? error.name : typeof error;
}

// Resolves on the next turn of the event loop, after its I/O and timers.
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Starts `readers` callers sending the schema's read and `writers` callers alternating its INSERT and UPDATE,
 * each sending its next statement as soon as the previous one settled, and records every statement in `log`.
 */
export function startLoad(
  router: QueryRouter,
  schema: FaultsSchema,
  readers: number,
  writers: number,
  log: StatementLog,
): Load {
  let running = true;
  const caller = async (kind: StatementKind, seed: number): Promise<void> => {
    const next = seededRandom(seed);
    let n = 0;
    while (running) {
      const id = 1 + Math.floor(next() * schema.accounts);
      const started = performance.now();
      try {
        if (kind === READ) {
          const result = await router.query<{ port: number }>(schema.read, [id]);
          log.record(started, performance.now() - started, READ, true, result.rows[0]?.port ?? 0, '');
        } else {
          await router.query(n++ % 2 === 0 ? schema.insert : schema.update, [id, 1]);
          log.record(started, performance.now() - started, WRITE, true, 0, '');
        }
      } catch (error) {
        log.record(started, performance.now() - started, kind, false, 0, errorCode(error));
        // A call that fails at once (an open breaker) settles in a microtask: without a real turn of the event
        // loop here, this loop would starve the timers and I/O that end the outage and the run.
        await yieldToEventLoop();
      }
    }
  };
  const callers = [
    ...Array.from({ length: readers }, (_, i) => caller(READ, 1 + i)),
    ...Array.from({ length: writers }, (_, i) => caller(WRITE, 1_000 + i)),
  ];
  return {
    stop: async () => {
      running = false;
      await Promise.all(callers);
    },
  };
}
