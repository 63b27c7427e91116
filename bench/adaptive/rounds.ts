import { loadavg } from 'node:os';
import { QueryRouter, type QueryRouterOptions } from '../../src/index.js';
import type { AdaptiveBenchParams, AdaptiveContenderParams } from './params.js';
import { arrivalSchedule, runOpenLoop, type OpenLoopRecord, type PoolSample } from './workload.js';
import { median, percentileOfSorted } from '../lib/stats.js';
import { inRotation } from '../lib/rounds.js';

/** Requests due this long after a burst starts count as its ramp-up, for the notes. */
export const RAMP_WINDOW_MS = 250;

/** How a pool's target moved during the bursts of one run (all `NaN` / 0 for a pool that never resized). */
export interface BurstDynamics {
  /** The target in force when each burst began (the last sample before its start), in burst order. */
  readonly startTargets: readonly number[];
  /** Median over bursts: ms from a burst's start to the last growth in its first {@link RAMP_SETTLE_MS}, and the target it grew to. */
  readonly rampMs: number;
  readonly rampTarget: number;
  /** Shrinks while a burst was on; medians of the target each shrank to, of the ms until the next growth and of the target that growth reached. */
  readonly shrinksInBursts: number;
  readonly shrankTo: number;
  readonly regrowMs: number;
  readonly regrewTo: number;
}

/** The window after a burst's start in which growth counts as its ramp-up. */
export const RAMP_SETTLE_MS = 500;

/** What one run of one contender measured. */
export interface AdaptiveRun {
  readonly round: number;
  readonly requests: number;
  readonly failures: number;
  readonly failureMessages: readonly string[];
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** p99 of the requests due in quiet phases, and in bursts. */
  readonly quietP99Ms: number;
  readonly burstP99Ms: number;
  /** p99 of the requests due in the first {@link RAMP_WINDOW_MS} of a burst, and of the rest of the bursts. */
  readonly rampP99Ms: number;
  readonly steadyBurstP99Ms: number;
  /** Share of all requests that were due in a burst's first {@link RAMP_WINDOW_MS}. */
  readonly rampShare: number;
  readonly connectionSeconds: number;
  readonly windowSeconds: number;
  readonly meanOpen: number;
  readonly peakOpen: number;
  /** Mean open connections over the quiet phases and over the bursts (time-weighted samples). */
  readonly meanOpenQuiet: number;
  readonly meanOpenBurst: number;
  readonly resizes: number;
  readonly grows: number;
  readonly shrinks: number;
  readonly dispatchLagP50Ms: number;
  readonly dispatchLagMaxMs: number;
  /** Connections the router opened while the clock ran (counted by `hooks.onConnect`): those open at the start are not counted. */
  readonly connectionsOpened: number;
  /** Sampled time during which callers were waiting for a connection, in seconds, and the most waiting at once. */
  readonly waitingSeconds: number;
  readonly peakWaiting: number;
  /** 1-minute load average when the run started. */
  readonly loadAverage: number;
  readonly dynamics: BurstDynamics;
  /** The raw record, kept for the trace (`BENCH_ADAPTIVE_TRACE=1`) and the smoke test. */
  readonly record: OpenLoopRecord;
}

/** Per contender name, its runs in round order. */
export type AdaptiveResults = ReadonlyMap<string, readonly AdaptiveRun[]>;

/** Called before each run, e.g. to print progress. */
export type AdaptiveProgress = (message: string) => void;

/** The statement every request runs: it holds its connection for `statementMs` and costs the server no CPU. */
export function statementOf(params: AdaptiveBenchParams): { sql: string; values: readonly unknown[] } {
  return { sql: 'SELECT pg_sleep($1)', values: [params.statementMs / 1000] };
}

/** The router options of `contender` on `url`. */
export function routerOptions(
  url: string,
  contender: AdaptiveContenderParams,
  params: AdaptiveBenchParams,
): QueryRouterOptions {
  return {
    primary: url,
    pool: { ...params.commonPool, ...contender.pool },
    ...(contender.adaptive === undefined ? {} : { adaptive: contender.adaptive }),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the primary's pool has `count` connections open and idle (the router pre-warms to `pool.min` on its own). */
async function waitForOpen(router: QueryRouter, count: number, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (router.stats().nodes[0]!.pool.idle < count) {
    if (performance.now() > deadline)
      throw new Error(
        `the pool did not open ${count} connections within ${timeoutMs} ms (has ${router.stats().nodes[0]!.pool.total})`,
      );
    await sleep(10);
  }
}

function percentiles(
  values: Float64Array,
  mask?: (i: number) => boolean,
): { p50: number; p99: number; max: number; count: number } {
  const kept: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isNaN(v) && (mask === undefined || mask(i))) kept.push(v);
  }
  const sorted = Float64Array.from(kept).sort();
  return {
    p50: percentileOfSorted(sorted, 50),
    p99: percentileOfSorted(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
    count: sorted.length,
  };
}

/** Time-weighted mean of the open-connection samples over [fromMs, toMs). */
export function meanOpenBetween(samples: readonly PoolSample[], fromMs: number, toMs: number): number {
  let area = 0;
  for (let k = 0; k < samples.length; k++) {
    const start = Math.max(samples[k]!.atMs, fromMs);
    const end = Math.min(k + 1 < samples.length ? samples[k + 1]!.atMs : toMs, toMs);
    if (end > start) area += samples[k]!.total * (end - start);
  }
  return toMs > fromMs ? area / (toMs - fromMs) : Number.NaN;
}

/** See {@link BurstDynamics}. */
export function burstDynamics(record: OpenLoopRecord, params: AdaptiveBenchParams): BurstDynamics {
  const { resizes, schedule, samples } = record;
  const starts: number[] = [];
  const ramps: { ms: number; to: number }[] = [];
  const shrinks: { to: number; regrowMs: number; regrewTo: number }[] = [];
  params.phases.forEach((phase, index) => {
    if (phase.kind !== 'burst') return;
    const start = schedule.phaseStartsMs[index]!;
    const end = schedule.phaseStartsMs[index + 1]!;
    const before = samples.filter((sample) => sample.atMs <= start).at(-1);
    if (before !== undefined) starts.push(before.target);
    const growth = resizes.filter((r) => r.to > r.from && r.atMs >= start && r.atMs < start + RAMP_SETTLE_MS);
    const last = growth[growth.length - 1];
    if (last !== undefined) ramps.push({ ms: last.atMs - start, to: last.to });
    resizes.forEach((r, k) => {
      if (r.to >= r.from || r.atMs < start || r.atMs >= end) return;
      const next = resizes.slice(k + 1).find((later) => later.to > later.from);
      shrinks.push({
        to: r.to,
        regrowMs: next === undefined ? Number.NaN : next.atMs - r.atMs,
        regrewTo: next === undefined ? Number.NaN : next.to,
      });
    });
  });
  const finite = (values: number[]): number[] => values.filter(Number.isFinite);
  return {
    startTargets: starts,
    rampMs: median(ramps.map((r) => r.ms)),
    rampTarget: median(ramps.map((r) => r.to)),
    shrinksInBursts: shrinks.length,
    shrankTo: median(shrinks.map((r) => r.to)),
    regrowMs: median(finite(shrinks.map((r) => r.regrowMs))),
    regrewTo: median(finite(shrinks.map((r) => r.regrewTo))),
  };
}

/** Summarises one open-loop record. */
export function summariseRecord(
  record: OpenLoopRecord,
  params: AdaptiveBenchParams,
  round: number,
  connectionsOpened = Number.NaN,
  loadAverage = Number.NaN,
): AdaptiveRun {
  const { schedule, latencyMs, samples } = record;
  let waitingMs = 0;
  let peakWaiting = 0;
  for (let k = 0; k < samples.length; k++) {
    peakWaiting = Math.max(peakWaiting, samples[k]!.waiting);
    if (samples[k]!.waiting > 0 && k + 1 < samples.length) waitingMs += samples[k + 1]!.atMs - samples[k]!.atMs;
  }
  const kindOf = (i: number): 'quiet' | 'burst' => params.phases[schedule.phase[i]!]!.kind;
  const inRamp = (i: number): boolean =>
    kindOf(i) === 'burst' && schedule.dueMs[i]! - schedule.phaseStartsMs[schedule.phase[i]!]! < RAMP_WINDOW_MS;
  const all = percentiles(latencyMs);
  const ramp = percentiles(latencyMs, inRamp);
  let quietMs = 0;
  let burstMs = 0;
  let quietArea = 0;
  let burstArea = 0;
  params.phases.forEach((phase, index) => {
    const from = schedule.phaseStartsMs[index]!;
    const to = schedule.phaseStartsMs[index + 1]!;
    const area = meanOpenBetween(record.samples, from, to) * (to - from);
    if (phase.kind === 'quiet') {
      quietMs += to - from;
      quietArea += area;
    } else {
      burstMs += to - from;
      burstArea += area;
    }
  });
  const windowSeconds = record.windowMs / 1000;
  const grows = record.resizes.filter((r) => r.to > r.from).length;
  return {
    round,
    requests: latencyMs.length,
    failures: record.failures,
    failureMessages: record.failureMessages,
    p50Ms: all.p50,
    p99Ms: all.p99,
    maxMs: all.max,
    quietP99Ms: percentiles(latencyMs, (i) => kindOf(i) === 'quiet').p99,
    burstP99Ms: percentiles(latencyMs, (i) => kindOf(i) === 'burst').p99,
    rampP99Ms: ramp.p99,
    steadyBurstP99Ms: percentiles(latencyMs, (i) => kindOf(i) === 'burst' && !inRamp(i)).p99,
    rampShare: latencyMs.length === 0 ? 0 : ramp.count / latencyMs.length,
    connectionSeconds: record.connectionSeconds,
    windowSeconds,
    meanOpen: record.connectionSeconds / windowSeconds,
    peakOpen: record.peakOpen,
    meanOpenQuiet: quietMs > 0 ? quietArea / quietMs : Number.NaN,
    meanOpenBurst: burstMs > 0 ? burstArea / burstMs : Number.NaN,
    resizes: record.resizes.length,
    grows,
    shrinks: record.resizes.length - grows,
    dispatchLagP50Ms: record.dispatchLagP50Ms,
    dispatchLagMaxMs: record.dispatchLagMaxMs,
    connectionsOpened,
    waitingSeconds: waitingMs / 1000,
    peakWaiting,
    loadAverage,
    dynamics: burstDynamics(record, params),
    record,
  };
}

/** Runs `rounds` × `concurrency` statements, `concurrency` at a time: every pre-opened connection serves a few. */
async function warmUp(router: QueryRouter, params: AdaptiveBenchParams, concurrency: number): Promise<void> {
  const { sql, values } = statementOf(params);
  for (let i = 0; i < params.warmupRounds; i++)
    await Promise.all(Array.from({ length: concurrency }, () => router.query(sql, values)));
}

/** Arrivals of the untimed pass of an in-service contender: the same phases, never the same times as a timed run. */
export const IN_SERVICE_SEED_OFFSET = 1_000_003;

/**
 * One run: a fresh router for the contender (so no run inherits another's connections or learned sizes), its
 * `pool.min` connections open and each used by a few untimed statements (all 40 for fixed-max: warm, as a fixed
 * pool in service is); an in-service contender then serves the whole workload once, untimed, with other arrivals,
 * and the timed run follows at once, as the workload's next cycle. The router is closed afterwards and the server
 * given `settleMs` to reap its backends.
 */
export async function runContender(
  url: string,
  contender: AdaptiveContenderParams,
  params: AdaptiveBenchParams,
  round: number,
): Promise<AdaptiveRun> {
  let opened = 0;
  const router = new QueryRouter({
    ...routerOptions(url, contender, params),
    hooks: { onConnect: () => void opened++ },
  });
  const warnings: string[] = [];
  router.on('warning', ({ message }) => warnings.push(message));
  router.on('connectionError', () => undefined);
  let record: OpenLoopRecord;
  let openedBefore: number;
  const load = loadavg()[0] ?? Number.NaN;
  try {
    const min = contender.pool.min ?? 0;
    await waitForOpen(router, min);
    await warmUp(router, params, Math.max(1, min));
    const { sql, values } = statementOf(params);
    if (contender.inService === true)
      await runOpenLoop(
        router,
        arrivalSchedule(params.phases, params.seed + IN_SERVICE_SEED_OFFSET + round),
        sql,
        values,
        params.sampleIntervalMs,
      );
    // Started without --expose-gc this is a no-op; with it, no run pays for the previous run's garbage.
    globalThis.gc?.();
    openedBefore = opened;
    record = await runOpenLoop(
      router,
      arrivalSchedule(params.phases, params.seed + round),
      sql,
      values,
      params.sampleIntervalMs,
    );
  } finally {
    await router.close();
    await sleep(params.settleMs);
  }
  const run = summariseRecord(record, params, round, opened - openedBefore, load);
  return warnings.length === 0
    ? run
    : { ...run, failureMessages: [...run.failureMessages, ...warnings.map((w) => `warning: ${w}`)] };
}

/**
 * Every contender once per round, the order rotating by one per round, so the machine's slow moments fall on all
 * of them rather than on whoever runs at that time.
 */
export async function runAdaptiveRounds(
  url: string,
  params: AdaptiveBenchParams,
  progress?: AdaptiveProgress,
): Promise<AdaptiveResults> {
  const { contenders } = params;
  const results = new Map<string, AdaptiveRun[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < params.rounds; round++) {
    for (const contender of inRotation(contenders, round)) {
      progress?.(`round ${round + 1}/${params.rounds}: ${contender.name}`);
      results.get(contender.name)!.push(await runContender(url, contender, params, round));
    }
  }
  return results;
}

/** Medians over rounds of one contender. */
export interface AdaptiveSummary {
  readonly runs: number;
  readonly requests: number;
  readonly failures: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly quietP99Ms: number;
  readonly burstP99Ms: number;
  readonly rampP99Ms: number;
  readonly steadyBurstP99Ms: number;
  readonly connectionSeconds: number;
  readonly meanOpen: number;
  readonly meanOpenQuiet: number;
  readonly meanOpenBurst: number;
  readonly peakOpen: number;
  readonly resizes: number;
  readonly grows: number;
  readonly shrinks: number;
  readonly connectionsOpened: number;
  readonly waitingSeconds: number;
  readonly peakWaiting: number;
  readonly rampShare: number;
  readonly dispatchLagMaxMs: number;
  /** Medians over runs of each run's {@link BurstDynamics}. */
  readonly dynamics: BurstDynamics;
}

/** The medians over rounds of `name` (failures and requests summed), or `undefined` if it never ran. */
export function summariseAdaptive(results: AdaptiveResults, name: string): AdaptiveSummary | undefined {
  const runs = results.get(name);
  if (runs === undefined || runs.length === 0) return undefined;
  const mid = (pick: (run: AdaptiveRun) => number): number => median(runs.map(pick));
  return {
    runs: runs.length,
    requests: runs.reduce((sum, r) => sum + r.requests, 0),
    failures: runs.reduce((sum, r) => sum + r.failures, 0),
    p50Ms: mid((r) => r.p50Ms),
    p99Ms: mid((r) => r.p99Ms),
    maxMs: mid((r) => r.maxMs),
    quietP99Ms: mid((r) => r.quietP99Ms),
    burstP99Ms: mid((r) => r.burstP99Ms),
    rampP99Ms: mid((r) => r.rampP99Ms),
    steadyBurstP99Ms: mid((r) => r.steadyBurstP99Ms),
    connectionSeconds: mid((r) => r.connectionSeconds),
    meanOpen: mid((r) => r.meanOpen),
    meanOpenQuiet: mid((r) => r.meanOpenQuiet),
    meanOpenBurst: mid((r) => r.meanOpenBurst),
    peakOpen: mid((r) => r.peakOpen),
    resizes: mid((r) => r.resizes),
    grows: mid((r) => r.grows),
    shrinks: mid((r) => r.shrinks),
    connectionsOpened: mid((r) => r.connectionsOpened),
    waitingSeconds: mid((r) => r.waitingSeconds),
    peakWaiting: mid((r) => r.peakWaiting),
    rampShare: mid((r) => r.rampShare),
    dispatchLagMaxMs: mid((r) => r.dispatchLagMaxMs),
    dynamics: {
      startTargets: (runs[0]?.dynamics.startTargets ?? []).map((_, k) =>
        mid((r) => r.dynamics.startTargets[k] ?? Number.NaN),
      ),
      rampMs: mid((r) => r.dynamics.rampMs),
      rampTarget: mid((r) => r.dynamics.rampTarget),
      shrinksInBursts: mid((r) => r.dynamics.shrinksInBursts),
      shrankTo: mid((r) => r.dynamics.shrankTo),
      regrowMs: mid((r) => r.dynamics.regrowMs),
      regrewTo: mid((r) => r.dynamics.regrewTo),
    },
  };
}
