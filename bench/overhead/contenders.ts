/**
 * The contenders counted by `bench:overhead`, by name, and the workloads they run: one caller, one statement after
 * the other, so a count of instructions per call is the client's own work for one query and nothing else.
 */
import type { Step } from '../lib/closed-loop.js';
import type { BenchSchema } from '../lib/schema.js';
import type { Contender } from '../lib/rounds.js';
import type { PoolParams } from '../lib/pools.js';
import { pgPoolContender, pgPreparedContender, routerContender } from '../router/contenders.js';
import { mixWorkload, selectIntWorkload } from '../router/workloads.js';

/** The contenders, as named in the table. The baseline of every ratio is {@link NAMED_PG}. */
export const ROUTER = 'router.query';
export const NAMED_PG = 'pg.Pool#query (named)';
export const PLAIN_PG = 'pg.Pool#query';
export const CONTENDERS = Object.freeze([NAMED_PG, ROUTER, PLAIN_PG] as const);
export type ContenderName = (typeof CONTENDERS)[number];

/** The workloads, as named in the table. */
export const WORKLOADS = Object.freeze(['SELECT $1::int', 'OLTP mix'] as const);
export type WorkloadName = (typeof WORKLOADS)[number];

/** The router's health checks in the counted child: one at start, then none while it counts. */
const HEALTH_CHECK_INTERVAL_MS = 3_600_000;

/** Every contender gets a pool of this size; one caller uses one connection of it. */
export const OVERHEAD_POOL: PoolParams = Object.freeze({ max: 10 });

/** The contender `name` on the node at `url`. */
export function overheadContender(name: ContenderName, url: string): Contender {
  switch (name) {
    case ROUTER:
      // Health checks are the router's work per process, not per query; under valgrind a round also outlasts its
      // 2 s deadline, so the check connection would be dropped and opened again (a SCRAM exchange) at random.
      return routerContender(ROUTER, url, OVERHEAD_POOL, undefined, HEALTH_CHECK_INTERVAL_MS);
    case NAMED_PG:
      return pgPreparedContender(url, OVERHEAD_POOL);
    case PLAIN_PG:
      return pgPoolContender(url, OVERHEAD_POOL);
  }
}

/** The steps of `workload`; the OLTP mix runs on the bench schema `schema` (seeded by the parent). */
export function overheadSteps(workload: WorkloadName, schema: Pick<BenchSchema, 'name' | 'users' | 'orders'>): Step[] {
  return workload === 'SELECT $1::int'
    ? selectIntWorkload()
    : mixWorkload({ ...schema, drop: () => Promise.reject(new Error('the child never drops the schema')) });
}

/**
 * Runs `calls` steps of `steps` one after the other, starting at step `from` (so a run that continues another
 * sends the same statements the longer run would have), and returns the index of the next step.
 */
export async function runCalls(
  contender: Contender,
  steps: readonly Step[],
  from: number,
  calls: number,
): Promise<number> {
  let i = from % steps.length;
  for (let c = 0; c < calls; c++) {
    await contender.query(steps[i]!);
    i = i + 1 === steps.length ? 0 : i + 1;
  }
  return i;
}
