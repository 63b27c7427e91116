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

const FULL: ConsistencyBenchParams = {
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
  ...FULL,
  quick: true,
  users: 40,
  writeShares: [0.1, 0.6],
  cellMs: 1_500,
  rounds: 1,
};

/** The parameters for this run: `BENCH_QUICK=1` for the quick one, `BENCH_ROUNDS` / `BENCH_CELL_MS` to override. */
export function consistencyParamsFromEnv(env: Readonly<Record<string, string | undefined>>): ConsistencyBenchParams {
  const base = env['BENCH_QUICK'] === '1' ? QUICK_CONSISTENCY_PARAMS : FULL;
  const positive = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value <= 0)
      throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
    return value;
  };
  return { ...base, rounds: positive('BENCH_ROUNDS', base.rounds), cellMs: positive('BENCH_CELL_MS', base.cellMs) };
}
