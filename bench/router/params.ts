import type { ClassificationParams } from './classification.js';
import type { PoolParams } from '../lib/pools.js';
import type { SeedSize } from '../lib/schema.js';
import type { StatementCacheParams } from './statement-cache.js';
import type { ThroughputParams } from './throughput.js';

/** Every count and duration of one benchmark run. */
export interface RouterBenchParams {
  /** `BENCH_QUICK=1`: a smoke run of a few seconds whose numbers mean little. */
  readonly quick: boolean;
  readonly seed: SeedSize;
  readonly throughput: ThroughputParams;
  readonly statementCache: StatementCacheParams;
  readonly classification: ClassificationParams;
  /** Latency samples kept per run (8 bytes each); a run longer than this many queries stops storing. */
  readonly sampleCapacity: number;
}

/** The router's default pool size, given to every contender. */
const POOL: PoolParams = Object.freeze({ max: 10 });

/**
 * The full run: a little over two minutes on two cores. Seven short rounds rather than five long ones: on a
 * shared machine the slow moments are bursts, and more rounds let the median step over more of them in the
 * same time.
 */
export const FULL_ROUTER_PARAMS: RouterBenchParams = Object.freeze<RouterBenchParams>({
  quick: false,
  seed: { users: 10_000, ordersPerUser: 10 },
  throughput: {
    loop: { rounds: 7, runMs: 700, warmupMs: 500, rewarmMs: 100 },
    pool: POOL,
    concurrency: [1, 32],
    interleavedMs: 4_000,
  },
  statementCache: { loop: { rounds: 7, runMs: 700, warmupMs: 500, rewarmMs: 100 }, pool: POOL, concurrency: [1, 8] },
  classification: { coldRepetitions: 100, warmPasses: 2_000, warmRounds: 5, parserRepetitions: 200 },
  sampleCapacity: 1 << 21,
});

/** `BENCH_QUICK=1`: every count shrunk, for checking that the benchmark still runs. */
export const QUICK_ROUTER_PARAMS: RouterBenchParams = Object.freeze<RouterBenchParams>({
  quick: true,
  seed: { users: 500, ordersPerUser: 5 },
  throughput: {
    loop: { rounds: 2, runMs: 100, warmupMs: 50, rewarmMs: 0 },
    pool: POOL,
    concurrency: [1, 32],
    interleavedMs: 100,
  },
  statementCache: { loop: { rounds: 2, runMs: 100, warmupMs: 50, rewarmMs: 0 }, pool: POOL, concurrency: [1, 8] },
  classification: { coldRepetitions: 5, warmPasses: 20, warmRounds: 2, parserRepetitions: 10 },
  sampleCapacity: 1 << 18,
});
