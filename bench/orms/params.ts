import type { PoolParams } from '../lib/pools.js';
import type { LoopParams } from '../lib/rounds.js';
import type { SeedSize } from '../lib/schema.js';

/** Every count and duration of one `bench:orms` run. */
export interface OrmsBenchParams {
  /** `BENCH_QUICK=1`: a smoke run of a few seconds whose numbers mean little. */
  readonly quick: boolean;
  readonly seed: SeedSize;
  readonly loop: LoopParams;
  /** Connections per pool: raw pg.Pool's `max`, the router's `pool.max` (per node). */
  readonly pool: PoolParams;
  /** The two concurrencies: added latency is read at the first, the throughput target applies to the second. */
  readonly concurrency: readonly [low: number, high: number];
  /** Length of the single-caller run that interleaves raw and routed query by query, per library, in ms. */
  readonly interleavedMs: number;
  /** Replicas in the cluster; with one or more, a third contender routes the reads to them (informational). */
  readonly replicas: number;
  /** Latency samples kept per run (8 bytes each). */
  readonly sampleCapacity: number;
}

/** The full run: about three minutes on two cores. */
export const FULL_ORMS_PARAMS: OrmsBenchParams = Object.freeze<OrmsBenchParams>({
  quick: false,
  seed: { users: 10_000, ordersPerUser: 10 },
  loop: { rounds: 7, runMs: 1_000, warmupMs: 500, rewarmMs: 100 },
  pool: { max: 10 },
  concurrency: [1, 32],
  interleavedMs: 4_000,
  replicas: 1,
  sampleCapacity: 1 << 21,
});

/** `BENCH_QUICK=1`: every count shrunk, for checking that the benchmark still runs. */
export const QUICK_ORMS_PARAMS: OrmsBenchParams = Object.freeze<OrmsBenchParams>({
  quick: true,
  seed: { users: 500, ordersPerUser: 5 },
  loop: { rounds: 2, runMs: 100, warmupMs: 50, rewarmMs: 0 },
  pool: { max: 10 },
  concurrency: [1, 32],
  interleavedMs: 200,
  replicas: 1,
  sampleCapacity: 1 << 18,
});
