import type { InterleavedCallParams } from '../lib/interleaved-calls.js';

/** Parameters of the health-score bookkeeping micro-benchmark (no database). */
export interface BookkeepingParams {
  readonly rounds: number;
  /** Statements counted per round. */
  readonly statementsPerRound: number;
}

/** Parameters of the pre-warm measurement: a scope of concurrent statements run cold and pre-warmed. */
export interface PrewarmParams {
  /** Rounds; each runs the scope once cold and once pre-warmed, the order alternating. */
  readonly rounds: number;
  /** Statements the scope runs at once. */
  readonly concurrency: number;
  /** Each statement is `SELECT pg_sleep(statementMs / 1000)`. */
  readonly statementMs: number;
  /** The pool of the router measured: it starts each run at `min`. */
  readonly pool: { readonly min: number; readonly max: number };
  /** Adaptive sizing interval, in milliseconds: how soon the pool is back at `min` between runs. */
  readonly adaptiveIntervalMs: number;
}

/** Every count of one `bench:scopes` run. */
export interface ScopesBenchParams {
  /** `BENCH_QUICK=1`: fewer rounds; the numbers are indicative only. */
  readonly quick: boolean;
  /** The per-call cost measurement: `SELECT $1::int` at one caller, interleaved call by call. */
  readonly overhead: InterleavedCallParams;
  readonly bookkeeping: BookkeepingParams;
  readonly prewarm: PrewarmParams;
}

/** A full run: about a minute and a half on two cores. */
export const FULL_SCOPES_PARAMS: ScopesBenchParams = Object.freeze({
  quick: false,
  overhead: Object.freeze({ rounds: 15, callsPerRound: 2_000, warmupCalls: 2_000 }),
  bookkeeping: Object.freeze({ rounds: 9, statementsPerRound: 2_000_000 }),
  prewarm: Object.freeze({
    rounds: 7,
    concurrency: 20,
    statementMs: 20,
    pool: Object.freeze({ min: 2, max: 40 }),
    adaptiveIntervalMs: 200,
  }),
});

/** `BENCH_QUICK=1`. */
export const QUICK_SCOPES_PARAMS: ScopesBenchParams = Object.freeze({
  quick: true,
  overhead: Object.freeze({ rounds: 5, callsPerRound: 400, warmupCalls: 400 }),
  bookkeeping: Object.freeze({ rounds: 3, statementsPerRound: 200_000 }),
  prewarm: Object.freeze({
    rounds: 3,
    concurrency: 20,
    statementMs: 20,
    pool: Object.freeze({ min: 2, max: 40 }),
    adaptiveIntervalMs: 200,
  }),
});
