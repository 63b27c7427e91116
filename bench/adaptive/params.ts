import type { AdaptiveOptions, PoolOptions } from '../../src/config/index.js';

/** One phase of the bursty workload: requests arrive at `ratePerSecond` (a Poisson process) for `durationMs`. */
export interface LoadPhase {
  readonly kind: 'quiet' | 'burst';
  readonly ratePerSecond: number;
  readonly durationMs: number;
}

/** One contender: its name in the table and the router options that make it what it is. */
export interface AdaptiveContenderParams {
  readonly name: string;
  readonly pool: PoolOptions;
  readonly adaptive?: AdaptiveOptions;
  /**
   * Before the clock starts, the router serves the whole workload once, untimed and with other arrivals, so the
   * run finds it as a service in operation is: sized by the bursts it has seen. Without it the router starts
   * fresh, with `pool.min` connections open (a fixed pool in service is exactly that).
   */
  readonly inService?: boolean;
}

/** Targets from the issue. */
export interface AdaptiveTargets {
  /** adaptive p99 ÷ fixed-max p99, at most. */
  readonly maxP99RatioToFixedMax: number;
  /** adaptive connection-seconds ÷ fixed-max connection-seconds, at most. */
  readonly maxConnectionSecondsRatio: number;
  /** fixed-min p99 ÷ adaptive p99, at least: "far better p99 than fixed-min", read as an order of magnitude. */
  readonly minP99GainOverFixedMin: number;
}

/** Every count, duration and option of one `bench:adaptive` run. */
export interface AdaptiveBenchParams {
  /** `BENCH_QUICK=1`: a smoke run of a few seconds whose numbers mean little. */
  readonly quick: boolean;
  /** The workload, in order. */
  readonly phases: readonly LoadPhase[];
  /** Rounds; each runs every contender once, the order rotating by one per round. */
  readonly rounds: number;
  /** How long the statement holds its connection: `SELECT pg_sleep($1)` with $1 = this ÷ 1000. */
  readonly statementMs: number;
  /**
   * Untimed rounds before each run, each `pool.min` statements at once (one at a time for a pool without a minimum):
   * every pre-opened connection has run the statement (its backend's caches are warm, the statement is prepared)
   * and the router's classifier cache holds it, and an adaptive pool is not pushed to grow.
   */
  readonly warmupRounds: number;
  /** Pause after a router is closed and before the next one opens, so the server has reaped the old backends. */
  readonly settleMs: number;
  /** How often `router.stats()` is read for the open-connection count that is integrated into connection-seconds. */
  readonly sampleIntervalMs: number;
  /** Arrival times are drawn from this seed plus the round number: every contender of a round sees the same arrivals. */
  readonly seed: number;
  /** Options every contender shares (acquisition timeout, health checks). */
  readonly commonPool: PoolOptions;
  /** fixed-min, fixed-max, adaptive, adaptive from a cold start: in this order, with these names (the report looks them up by name). */
  readonly contenders: readonly [
    AdaptiveContenderParams,
    AdaptiveContenderParams,
    AdaptiveContenderParams,
    AdaptiveContenderParams,
  ];
  readonly targets: AdaptiveTargets;
}

export const FIXED_MIN = 'fixed-min';
export const FIXED_MAX = 'fixed-max';
export const ADAPTIVE = 'adaptive';
export const ADAPTIVE_COLD = 'adaptive, cold start';

/**
 * Shared by every contender. `acquireTimeoutMs` 120 s: fixed-min queues thousands of callers in a burst and must
 * not fail them (every request has to succeed); health checks off, as they open connections of their own that
 * have nothing to do with the pools measured.
 */
const COMMON_POOL: PoolOptions = Object.freeze({ acquireTimeoutMs: 120_000, healthCheckIntervalMs: 0 });

/**
 * The adaptive settings of the full run: the defaults with time compressed 20× (interval 5 s → 250 ms, cool-down
 * 15 s → 750 ms, peak hold 120 s → 6 s), as the phases are seconds where a service's are minutes; utilisation and
 * hysteresis are the defaults.
 */
const ADAPTIVE_SETTINGS: AdaptiveOptions = Object.freeze({
  enabled: true,
  intervalMs: 250,
  cooldownMs: 750,
  peakHoldMs: 6_000,
});
const ADAPTIVE_POOL: PoolOptions = Object.freeze({ min: 2, max: 40, idleTimeoutMs: 1_000 });

/**
 * The three contenders of the issue with the sizes of the full run, the adaptive one in service (it has served
 * this workload before, as the fixed pools are warm), and the same adaptive pool from a cold start, to show what
 * a first burst costs.
 */
const CONTENDERS: AdaptiveBenchParams['contenders'] = Object.freeze([
  Object.freeze({ name: FIXED_MIN, pool: Object.freeze({ min: 2, max: 2 }) }),
  Object.freeze({ name: FIXED_MAX, pool: Object.freeze({ min: 40, max: 40 }) }),
  Object.freeze({ name: ADAPTIVE, pool: ADAPTIVE_POOL, adaptive: ADAPTIVE_SETTINGS, inService: true }),
  Object.freeze({ name: ADAPTIVE_COLD, pool: ADAPTIVE_POOL, adaptive: ADAPTIVE_SETTINGS }),
] as const);

/**
 * The full run: quiet 20 req/s for 4 s, burst 1,800 req/s for 4 s, twice: 16 s of arrivals per run, 5 rounds. A
 * burst of a 5 ms statement at 1,800 req/s keeps about 9–10 connections busy on average (Little's law), so
 * fixed-min (2 connections, ≈ 380 statements/s) falls behind by ≈ 1,400 a second and fixed-max never queues.
 */
export const FULL_ADAPTIVE_PARAMS: AdaptiveBenchParams = Object.freeze<AdaptiveBenchParams>({
  quick: false,
  phases: Object.freeze([
    Object.freeze({ kind: 'quiet', ratePerSecond: 20, durationMs: 4_000 }),
    Object.freeze({ kind: 'burst', ratePerSecond: 1_800, durationMs: 4_000 }),
    Object.freeze({ kind: 'quiet', ratePerSecond: 20, durationMs: 4_000 }),
    Object.freeze({ kind: 'burst', ratePerSecond: 1_800, durationMs: 4_000 }),
  ] as const),
  rounds: 5,
  statementMs: 5,
  warmupRounds: 3,
  settleMs: 500,
  sampleIntervalMs: 20,
  seed: 20_240_601,
  commonPool: COMMON_POOL,
  contenders: CONTENDERS,
  targets: Object.freeze({ maxP99RatioToFixedMax: 1.2, maxConnectionSecondsRatio: 0.6, minP99GainOverFixedMin: 10 }),
});

/** `BENCH_QUICK=1`: phases of a second or less and one round, for checking that the benchmark still runs. */
export const QUICK_ADAPTIVE_PARAMS: AdaptiveBenchParams = Object.freeze<AdaptiveBenchParams>({
  ...FULL_ADAPTIVE_PARAMS,
  quick: true,
  phases: Object.freeze([
    Object.freeze({ kind: 'quiet', ratePerSecond: 20, durationMs: 600 }),
    Object.freeze({ kind: 'burst', ratePerSecond: 1_800, durationMs: 800 }),
    Object.freeze({ kind: 'quiet', ratePerSecond: 20, durationMs: 600 }),
    Object.freeze({ kind: 'burst', ratePerSecond: 1_800, durationMs: 800 }),
  ] as const),
  rounds: 1,
  warmupRounds: 2,
  settleMs: 200,
});
