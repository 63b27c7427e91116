import type { Step } from '../lib/closed-loop.js';
import type { BenchSchema } from '../lib/schema.js';
import { seededRandom } from '../lib/seeded-random.js';

/** How many steps a workload cycles through: enough distinct parameters that no cache sees one key only. */
const STEPS = 1024;

/** Builds steps, giving every distinct text one statement name. */
class StepBuilder {
  private readonly names = new Map<string, string>();
  readonly steps: Step[] = [];

  constructor(private readonly prefix: string) {}

  add(text: string, params: unknown[]): void {
    let name = this.names.get(text);
    if (name === undefined) {
      name = `${this.prefix}_${this.names.size + 1}`;
      this.names.set(text, name);
    }
    this.steps.push({ text, params, name, config: { name, text, values: params } });
  }
}

/** `SELECT $1::int`: almost no server work, so what remains is the client libraries' own cost per query. */
export function selectIntWorkload(): Step[] {
  const builder = new StepBuilder('bench_int');
  for (let i = 0; i < STEPS; i++) builder.add('SELECT $1::int AS n', [i]);
  return builder.steps;
}

/** The statements of {@link mixWorkload}, for reports. */
export function mixStatements(
  schema: string,
): Readonly<Record<'user' | 'order' | 'summary' | 'insert' | 'update', string>> {
  return {
    user: `SELECT id, email, name, visits, created_at FROM ${schema}.users WHERE id = $1`,
    order: `SELECT id, user_id, amount, status, created_at FROM ${schema}.orders WHERE id = $1`,
    summary: `SELECT u.id, u.name, count(o.id) AS orders, coalesce(sum(o.amount), 0) AS total
      FROM ${schema}.users u LEFT JOIN ${schema}.orders o ON o.user_id = u.id
      WHERE u.id = $1 GROUP BY u.id, u.name`,
    insert: `INSERT INTO ${schema}.orders (user_id, amount, status) VALUES ($1, $2, 'new') RETURNING id`,
    update: `UPDATE ${schema}.users SET visits = visits + 1, last_seen_at = now() WHERE id = $1`,
  };
}

/**
 * A read-heavy OLTP mix in a fixed cycle of eight: three user lookups and two order lookups by primary key,
 * one user summary (join + aggregate), one insert, one update.
 */
export function mixWorkload(schema: BenchSchema, seed = 1): Step[] {
  const sql = mixStatements(schema.name);
  const next = seededRandom(seed);
  const user = (): number => 1 + Math.floor(next() * schema.users);
  const order = (): number => 1 + Math.floor(next() * schema.orders);
  const builder = new StepBuilder('bench_mix');
  while (builder.steps.length < STEPS) {
    builder.add(sql.user, [user()]);
    builder.add(sql.order, [order()]);
    builder.add(sql.summary, [user()]);
    builder.add(sql.user, [user()]);
    builder.add(sql.insert, [user(), (Math.floor(next() * 100_000) / 100).toFixed(2)]);
    builder.add(sql.order, [order()]);
    builder.add(sql.update, [user()]);
    builder.add(sql.user, [user()]);
  }
  return builder.steps;
}

/** The repeated join of the statement-cache measurement. */
export function joinStatement(schema: string): string {
  return `SELECT o.status, count(*) AS orders, sum(o.amount) AS total, max(o.created_at) AS last_order
    FROM ${schema}.users u JOIN ${schema}.orders o ON o.user_id = u.id
    WHERE u.id = $1
    GROUP BY o.status ORDER BY o.status`;
}

/** {@link joinStatement} for a cycle of random user ids: one text, so a statement cache sees only hits once warm. */
export function joinWorkload(schema: BenchSchema, seed = 2): Step[] {
  const text = joinStatement(schema.name);
  const next = seededRandom(seed);
  const builder = new StepBuilder('bench_join');
  for (let i = 0; i < STEPS; i++) builder.add(text, [1 + Math.floor(next() * schema.users)]);
  return builder.steps;
}
