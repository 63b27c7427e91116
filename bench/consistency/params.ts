import type { EnvOverrides } from '../lib/params.js';

/** The three read policies the benchmark compares. */
export type ReadPolicy = 'eventual' | 'read-your-writes' | 'primary for 2 s after a write';

/** Every count and duration of one `bench:consistency` run. */
export interface ConsistencyBenchParams {
  /** `BENCH_QUICK=1`: a smoke run whose numbers mean little. */
  readonly quick: boolean;
  /** Simulated users, each a sequence of requests with think time between them. */
  readonly users: number;
  /** Mean think time between one user's requests (exponentially distributed), in milliseconds. */
  readonly thinkMs: number;
  /** The share of requests that write (then read back); the others only read. One table block per value. */
  readonly writeShares: readonly number[];
  /** How long each policy runs at each write share, per round, in milliseconds. */
  readonly cellMs: number;
  /** Rounds; the order of the policies rotates by one per round. Figures are medians over rounds. */
  readonly rounds: number;
  /** The pin window of the framework rule (Rails' default is 2 s). */
  readonly pinMs: number;
  /** `waitForReplicaMs` of the read-your-writes router. */
  readonly waitForReplicaMs: number;
  /** Connections per node. */
  readonly poolMax: number;
  readonly seed: number;
}

export const POLICIES: readonly ReadPolicy[] = ['eventual', 'read-your-writes', 'primary for 2 s after a write'];

/** The full run. */
export const FULL_CONSISTENCY_PARAMS: ConsistencyBenchParams = {
  quick: false,
  users: 200,
  thinkMs: 200,
  writeShares: [0.02, 0.1, 0.3, 0.6],
  cellMs: 8_000,
  rounds: 3,
  pinMs: 2_000,
  waitForReplicaMs: 0,
  poolMax: 16,
  seed: 20_261_123,
};

/** The quick run: the same shape, seconds instead of minutes. */
export const QUICK_CONSISTENCY_PARAMS: ConsistencyBenchParams = {
  ...FULL_CONSISTENCY_PARAMS,
  quick: true,
  users: 40,
  writeShares: [0.1, 0.6],
  cellMs: 1_500,
  rounds: 1,
};

/** What `BENCH_ROUNDS` and `BENCH_CELL_MS` override (positive integers), on a full or a quick run alike. */
export const CONSISTENCY_ENV_OVERRIDES: EnvOverrides<ConsistencyBenchParams> = Object.freeze({
  rounds: 'BENCH_ROUNDS',
  cellMs: 'BENCH_CELL_MS',
});
