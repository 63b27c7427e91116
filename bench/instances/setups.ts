/** The set-ups of `bench:instances`, in the order they run. */
import { median } from '../lib/stats.js';
import type { InstancesBenchParams } from './params.js';
import type { PgBouncerSetup } from './pgbouncer-hook.js';
import { autoBudgetOf, runSetup, type InstanceSetup, type SetupResult } from './run.js';

/** What {@link measureInstances} returns. */
export interface InstancesMeasurement {
  /** The shared budget of (b), and the connections of (d). */
  readonly budget: number;
  /** Each set-up's median run (by q/s), in key order. */
  readonly results: readonly SetupResult[];
  /** Per set-up key, q/s of every round, in round order. */
  readonly runs: Readonly<Record<string, readonly number[]>>;
  /** Set-ups that could not run (no PgBouncer binary). */
  readonly skipped: readonly InstanceSetup[];
  readonly budgeted: SetupResult;
  readonly single: SetupResult;
  /** The raw-driver baselines: K processes of plain pg.Pool (e), one process of plain pg.Pool (f). */
  readonly rawInstances: SetupResult | undefined;
  readonly rawSingle: SetupResult | undefined;
  /** The router in K processes with static pools that fit, no budget (g). */
  readonly staticPools: SetupResult | undefined;
}

/** Every set-up's key. */
export const INSTANCE_SETUP_KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g'] as const;

/** The set-ups {@link measureInstances} runs: every one by default; (b) and (d) always (the targets compare them). */
export type SetupKey = (typeof INSTANCE_SETUP_KEYS)[number];

/**
 * Runs (a), (b), (c) where a PgBouncer binary is found, (d), the raw-driver baselines (e) and (f), and the router
 * with static pools (g) on the node at
 * `url`, `params.rounds` times each, rotating the order by one per round so a drift in the machine's load spreads
 * over every set-up. `only` narrows the set-ups (comma-separated keys, `BENCH_SETUPS`).
 */
export async function measureInstances(
  url: string,
  params: InstancesBenchParams,
  schema: string,
  pgbouncer: PgBouncerSetup | undefined,
  progress: (message: string) => void = () => undefined,
  only?: readonly SetupKey[],
): Promise<InstancesMeasurement> {
  const budget = params.budgetPerNode > 0 ? params.budgetPerNode : await autoBudgetOf(url);
  const k = params.instances;
  const base = { processes: k, callersPerProcess: params.callersPerInstance, poolMax: params.poolMax, url };
  const all: InstanceSetup[] = [
    { key: 'a', name: 'no budget', ...base },
    {
      key: 'b',
      name: 'shared budget',
      ...base,
      budget: { group: 'bench', perNode: params.budgetPerNode > 0 ? params.budgetPerNode : 'auto' },
    },
    { key: 'c', name: 'through PgBouncer', ...base, unnamedStatements: true },
    // One process, the same callers, and as many connections as the budget leaves for pools (less its health check).
    {
      key: 'd',
      name: 'one process',
      processes: 1,
      callersPerProcess: k * params.callersPerInstance,
      poolMax: budget - 1,
      url,
    },
    // The machine's own cost of K processes: plain pg.Pool, no router, pools sized so K × max fits the budget.
    { key: 'e', name: 'pg.Pool, K processes', ...base, poolMax: Math.max(1, Math.floor(budget / k)), driver: 'pg' },
    {
      key: 'f',
      name: 'pg.Pool, one process',
      processes: 1,
      callersPerProcess: k * params.callersPerInstance,
      poolMax: budget - 1,
      url,
      driver: 'pg',
    },
    // The router in K processes without a budget, each pool fixed at what the budget would give it (the budget less
    // the K health-check connections, split evenly): (b) against this is what the budget's coordination costs.
    {
      key: 'g',
      name: 'static pools, no budget',
      ...base,
      poolMax: Math.max(1, Math.floor((budget - k) / k)),
    },
  ];
  const wanted = new Set<SetupKey>([...(only ?? INSTANCE_SETUP_KEYS), 'b', 'd']);
  const skipped: InstanceSetup[] = [];
  let setups = all.filter((setup) => wanted.has(setup.key));
  const rounds = new Map<string, SetupResult[]>();
  for (let round = 0; round < params.rounds; round++) {
    const order = setups.map((_, i) => setups[(i + round) % setups.length]!);
    for (const setup of order) {
      let result: SetupResult | undefined;
      progress(`round ${round + 1}/${params.rounds}: (${setup.key}) ${setup.name}`);
      if (setup.key === 'c') {
        const front = pgbouncer === undefined ? undefined : await pgbouncer(url, budget);
        if (front === undefined) {
          skipped.push(setup);
          continue;
        }
        try {
          result = await runSetup({ ...setup, url: front.url }, params, schema, url);
        } finally {
          await front.stop();
        }
      } else result = await runSetup(setup, params, schema, url);
      rounds.set(setup.key, [...(rounds.get(setup.key) ?? []), result]);
    }
    setups = setups.filter((setup) => !skipped.includes(setup));
  }
  const results = setups.map((setup) => medianRun(rounds.get(setup.key)!));
  const byKey = (key: SetupKey): SetupResult | undefined => results.find((result) => result.setup.key === key);
  const runs: Record<string, number[]> = {};
  for (const [key, list] of rounds) runs[key] = list.map((result) => result.qps);
  return {
    budget,
    results,
    runs,
    skipped,
    budgeted: byKey('b')!,
    single: byKey('d')!,
    rawInstances: byKey('e'),
    rawSingle: byKey('f'),
    staticPools: byKey('g'),
  };
}

/** The run whose q/s is the median (the lower middle one of an even count), so its other columns belong together. */
function medianRun(runs: readonly SetupResult[]): SetupResult {
  const sorted = [...runs].sort((x, y) => x.qps - y.qps);
  const middle = median(sorted.map((run) => run.qps));
  return sorted.reduce((best, run) => (Math.abs(run.qps - middle) < Math.abs(best.qps - middle) ? run : best));
}
