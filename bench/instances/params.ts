/** Parameters of `npm run bench:instances`: K application processes, each with its own router, on one node. */
export interface InstancesBenchParams {
  /** Application processes (K), each with its own router and callers. */
  readonly instances: number;
  /** `pool.max` of each process's router. */
  readonly poolMax: number;
  /** Closed-loop callers in each process. */
  readonly callersPerInstance: number;
  /** How long each set-up runs its load, in milliseconds. */
  readonly durationMs: number;
  /** Untimed load before that in every process (V8 compiles the hot paths), in milliseconds. */
  readonly warmupMs: number;
  /** `max_connections` of the cluster the entry starts (a smoke test runs on a cluster of its own settings). */
  readonly maxConnections: number;
  /** The shared budget of set-up (b): a number, or 0 for `'auto'` (from the server's settings). */
  readonly budgetPerNode: number;
  /** Rows of the `users` table the mix reads and updates. */
  readonly users: number;
  /** Times every set-up runs (the order rotating by one per round); the table shows each set-up's median run. */
  readonly rounds: number;
}

/** The full run: 6 processes × pool.max 20 against max_connections 60. */
export const FULL_INSTANCES_PARAMS: InstancesBenchParams = Object.freeze({
  instances: 6,
  poolMax: 20,
  callersPerInstance: 16,
  durationMs: 10_000,
  warmupMs: 5_000,
  maxConnections: 60,
  budgetPerNode: 0,
  users: 10_000,
  rounds: 3,
});

/** `BENCH_QUICK=1`: a few seconds, numbers not meaningful. */
export const QUICK_INSTANCES_PARAMS: InstancesBenchParams = Object.freeze({
  instances: 3,
  poolMax: 20,
  callersPerInstance: 8,
  durationMs: 2_000,
  warmupMs: 300,
  maxConnections: 60,
  budgetPerNode: 0,
  users: 1_000,
  rounds: 1,
});
