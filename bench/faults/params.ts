import type { PoolOptions } from '../../src/index.js';
import type { BreakerOptions } from '../../src/resilience/index.js';
import type { InterleavedCallParams } from '../lib/interleaved-calls.js';

/** Lengths of the phases of the fault scenario, in milliseconds. */
export interface PhaseDurations {
  /** Untimed load before the baseline: connections opened, statements prepared, nothing recorded. */
  readonly warmupMs: number;
  readonly baselineMs: number;
  /** After SIGKILL of the first faulted replica. */
  readonly replicaKilledMs: number;
  /** After it was started again (crash recovery included in the start). */
  readonly replicaRestartedMs: number;
  /** After SIGSTOP of the paused replica. */
  readonly replicaPausedMs: number;
  /** After SIGCONT. */
  readonly replicaResumedMs: number;
  /** Between the primary's fast shutdown and its restart. */
  readonly primaryDownMs: number;
  /** After the primary accepts connections again, to the end of the run. */
  readonly recoveryMs: number;
}

/** Router options of the fault scenario that are not node addresses; printed above the tables. */
export interface FaultRouterOptions {
  readonly pool: PoolOptions;
  readonly breaker: BreakerOptions;
  readonly readFallback: 'primary' | 'replicas-only';
}

/** Parameters of the opossum micro-benchmark. */
export interface OpossumParams {
  readonly rounds: number;
  /** Calls per variant per round. */
  readonly callsPerRound: number;
}

/** Every count and duration of one `bench:faults` run. */
export interface FaultsBenchParams {
  /** `BENCH_QUICK=1`: shorter phases and fewer calls; the numbers are indicative only. */
  readonly quick: boolean;
  /** Concurrent callers sending `SELECT … WHERE id = $1`. */
  readonly readers: number;
  /** Concurrent callers sending INSERTs and UPDATEs. */
  readonly writers: number;
  /** Rows of the accounts table the statements pick from. */
  readonly accounts: number;
  /** Streaming replicas of the scenario's cluster. */
  readonly replicas: number;
  /** Cluster node index (1 = the first replica) that is SIGKILLed and restarted. */
  readonly killReplica: number;
  /** Cluster node index that is SIGSTOPped and resumed. */
  readonly pauseReplica: number;
  readonly phases: PhaseDurations;
  readonly router: FaultRouterOptions;
  /** The overhead measurement: `SELECT $1::int` at one caller through pg.Pool and the router. */
  readonly overhead: InterleavedCallParams;
  readonly opossum: OpossumParams;
}

/**
 * The router options under test. Statement timeout 1 s and reset timeout 2 s: a frozen node costs a caller at
 * most timeout + cancel grace (2 s) before the read moves on, and a node that is back waits at most 2 s for its
 * trial call. Health checks every 500 ms (each failing after 500 ms without an answer) take a dead or frozen
 * replica out of rotation within about a second even when no statement happens to hit it. `acquireTimeoutMs`
 * equals the statement timeout because pg's connect timeout is the acquisition timeout: with the 10 s default,
 * a read that needs a new connection to a frozen replica would wait 10 s before it could fall back.
 */
const ROUTER_OPTIONS: FaultRouterOptions = Object.freeze({
  pool: Object.freeze({ max: 10, healthCheckIntervalMs: 500, acquireTimeoutMs: 1_000 }),
  breaker: Object.freeze({ timeoutMs: 1_000, resetTimeoutMs: 2_000 }),
  readFallback: 'primary' as const,
});

/**
 * The full run: about a minute of load. Each phase lasts several times the slowest reaction expected in it (the
 * 2 s reset timeout, the 2 s a statement on a frozen node takes to fail), so every detection and recovery happens
 * inside its own phase.
 */
export const FULL_FAULTS_PARAMS: FaultsBenchParams = Object.freeze<FaultsBenchParams>({
  quick: false,
  readers: 12,
  writers: 4,
  accounts: 10_000,
  replicas: 2,
  killReplica: 1,
  pauseReplica: 2,
  phases: Object.freeze({
    warmupMs: 1_000,
    baselineMs: 8_000,
    replicaKilledMs: 8_000,
    replicaRestartedMs: 8_000,
    replicaPausedMs: 8_000,
    replicaResumedMs: 8_000,
    primaryDownMs: 6_000,
    recoveryMs: 12_000,
  }),
  router: ROUTER_OPTIONS,
  overhead: Object.freeze({ rounds: 15, callsPerRound: 2_000, warmupCalls: 2_000 }),
  opossum: Object.freeze({ rounds: 7, callsPerRound: 200_000 }),
});

/** `BENCH_QUICK=1`: about 15 s of load, phases just long enough for a 2 s reset timeout to elapse. */
export const QUICK_FAULTS_PARAMS: FaultsBenchParams = Object.freeze<FaultsBenchParams>({
  ...FULL_FAULTS_PARAMS,
  quick: true,
  accounts: 1_000,
  phases: Object.freeze({
    warmupMs: 500,
    baselineMs: 2_000,
    replicaKilledMs: 2_000,
    replicaRestartedMs: 2_000,
    replicaPausedMs: 2_500,
    replicaResumedMs: 2_500,
    primaryDownMs: 2_500,
    recoveryMs: 3_500,
  }),
  overhead: Object.freeze({ rounds: 5, callsPerRound: 400, warmupCalls: 400 }),
  opossum: Object.freeze({ rounds: 3, callsPerRound: 50_000 }),
});
