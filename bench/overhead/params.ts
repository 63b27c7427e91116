import type { LoopParams } from '../lib/rounds.js';
import type { SeedSize } from '../lib/schema.js';

/** How many calls each valgrind run makes. */
export interface CountParams {
  /** Calls before the counted ones: enough for the JIT to settle on the code it keeps. */
  readonly warmup: number;
  /** The two run lengths after the warm-up; instructions per call = (I₂ − I₁) / (calls₂ − calls₁). */
  readonly calls: readonly [short: number, long: number];
  /** valgrind runs at a time (counts do not depend on this). */
  readonly parallel: number;
}

/** The timing part: the same contenders, natively, one caller. */
export interface TimingParams {
  /** Closed-loop rounds for client CPU per query. */
  readonly loop: LoopParams;
  /** Length of the run that interleaves the contenders query by query, per workload, in ms. */
  readonly interleavedMs: number;
}

/** Every count of one `bench:overhead` run. */
export interface OverheadBenchParams {
  /** `BENCH_QUICK=1`: a smoke run whose numbers mean little. */
  readonly quick: boolean;
  readonly seed: SeedSize;
  readonly count: CountParams;
  readonly timing: TimingParams;
  /** Latency samples kept per timed run. */
  readonly sampleCapacity: number;
}

/**
 * The full run: about a quarter of an hour on a busy 2-core machine, nearly all of it under valgrind (which runs node some
 * 50–100× slower). V8 still optimises some functions after the warm-up (its compiler threads are counted too), which
 * the difference method spreads over the counted calls of both runs: compare contenders, not absolute counts.
 */
export const FULL_OVERHEAD_PARAMS: OverheadBenchParams = Object.freeze<OverheadBenchParams>({
  quick: false,
  seed: { users: 10_000, ordersPerUser: 10 },
  count: { warmup: 2_000, calls: [300, 1_300], parallel: 3 },
  timing: { loop: { rounds: 7, runMs: 700, warmupMs: 500, rewarmMs: 100 }, interleavedMs: 4_000 },
  sampleCapacity: 1 << 20,
});

/** `BENCH_QUICK=1`: every count shrunk, for checking that the benchmark still runs. */
export const QUICK_OVERHEAD_PARAMS: OverheadBenchParams = Object.freeze<OverheadBenchParams>({
  quick: true,
  seed: { users: 500, ordersPerUser: 5 },
  count: { warmup: 50, calls: [20, 60], parallel: 2 },
  timing: { loop: { rounds: 2, runMs: 100, warmupMs: 50, rewarmMs: 0 }, interleavedMs: 100 },
  sampleCapacity: 1 << 16,
});
