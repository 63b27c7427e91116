/** The set-ups of `bench:instances`, in the order they run. */
import type { InstancesBenchParams } from './params.js';
import type { PgBouncerSetup } from './pgbouncer-hook.js';
import { autoBudgetOf, runSetup, type InstanceSetup, type SetupResult } from './run.js';

/** What {@link measureInstances} returns. */
export interface InstancesMeasurement {
  /** The shared budget of (b), and the connections of (d). */
  readonly budget: number;
  readonly results: readonly SetupResult[];
  /** Set-ups that could not run (no PgBouncer binary). */
  readonly skipped: readonly InstanceSetup[];
  readonly budgeted: SetupResult;
  readonly single: SetupResult;
}

/** Runs (a), (b), (c) where a PgBouncer binary is found, and (d) on the node at `url`. */
export async function measureInstances(
  url: string,
  params: InstancesBenchParams,
  schema: string,
  pgbouncer: PgBouncerSetup | undefined,
  progress: (message: string) => void = () => undefined,
): Promise<InstancesMeasurement> {
  const budget = params.budgetPerNode > 0 ? params.budgetPerNode : await autoBudgetOf(url);
  const k = params.instances;
  const base = { processes: k, callersPerProcess: params.callersPerInstance, poolMax: params.poolMax, url };
  const none: InstanceSetup = { key: 'a', name: 'no budget', ...base };
  const shared: InstanceSetup = {
    key: 'b',
    name: 'shared budget',
    ...base,
    budget: { group: 'bench', perNode: params.budgetPerNode > 0 ? params.budgetPerNode : 'auto' },
  };
  // One process, the same callers, and as many connections as the budget leaves for pools (less its health check).
  const single: InstanceSetup = {
    key: 'd',
    name: 'one process',
    processes: 1,
    callersPerProcess: k * params.callersPerInstance,
    poolMax: budget - 1,
    url,
  };
  const results: SetupResult[] = [];
  const skipped: InstanceSetup[] = [];
  for (const setup of [none, shared]) {
    progress(`(${setup.key}) ${setup.name}`);
    results.push(await runSetup(setup, params, schema, url));
  }
  const through: InstanceSetup = { key: 'c', name: 'through PgBouncer', ...base, unnamedStatements: true };
  const front = pgbouncer === undefined ? undefined : await pgbouncer(url, budget);
  if (front === undefined) skipped.push(through);
  else {
    try {
      progress('(c) through PgBouncer');
      results.push(await runSetup({ ...through, url: front.url }, params, schema, url));
    } finally {
      await front.stop();
    }
  }
  progress('(d) one process');
  results.push(await runSetup(single, params, schema, url));
  return { budget, results, skipped, budgeted: results[1]!, single: results[results.length - 1]! };
}
