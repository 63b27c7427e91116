import type { QueryRouter } from '../../src/index.js';
import type { LoadPhase } from './params.js';
import { seededRandom } from '../lib/seeded-random.js';
import { percentileOfSorted } from '../lib/stats.js';

/** When each request of a run is due, in ms after the run's start, ascending, and which phase it belongs to. */
export interface ArrivalSchedule {
  readonly dueMs: Float64Array;
  readonly phase: Uint8Array;
  /** Start of each phase, in ms after the run's start, and the end of the last one. */
  readonly phaseStartsMs: readonly number[];
  readonly durationMs: number;
}

/**
 * Poisson arrivals (exponential gaps) at each phase's rate, drawn from `seed`: the same seed gives every contender
 * the same arrivals, to the microsecond. Poisson rather than evenly spaced, because real callers are not
 * synchronised and the clumps are what a pool's head-room is for.
 */
export function arrivalSchedule(phases: readonly LoadPhase[], seed: number): ArrivalSchedule {
  const random = seededRandom(seed);
  const due: number[] = [];
  const phaseOf: number[] = [];
  const starts: number[] = [];
  let start = 0;
  phases.forEach((phase, index) => {
    starts.push(start);
    const end = start + phase.durationMs;
    const meanGapMs = 1000 / phase.ratePerSecond;
    // 1 − u is in (0, 1], so the logarithm is finite.
    for (let t = start - Math.log(1 - random()) * meanGapMs; t < end; t -= Math.log(1 - random()) * meanGapMs) {
      due.push(t);
      phaseOf.push(index);
    }
    start = end;
  });
  starts.push(start);
  return { dueMs: Float64Array.from(due), phase: Uint8Array.from(phaseOf), phaseStartsMs: starts, durationMs: start };
}

/** One reading of the pool while a run goes on. */
export interface PoolSample {
  /** ms after the run's start. */
  readonly atMs: number;
  readonly total: number;
  readonly target: number;
  readonly active: number;
  readonly waiting: number;
}

/** A `poolResize` event, timed. */
export interface TimedResize {
  readonly atMs: number;
  readonly from: number;
  readonly to: number;
  readonly reason: string;
}

/** Everything one open-loop run recorded. */
export interface OpenLoopRecord {
  readonly schedule: ArrivalSchedule;
  /** Per request, in schedule order: ms from when it was due to when its result was in; NaN if it failed. */
  readonly latencyMs: Float64Array;
  readonly failures: number;
  /** The first few distinct failure messages. */
  readonly failureMessages: readonly string[];
  /** From the run's start to the later of the schedule's end and the last result, in ms. */
  readonly windowMs: number;
  /** Open connections integrated over the window, in connection-seconds. */
  readonly connectionSeconds: number;
  readonly peakOpen: number;
  readonly samples: readonly PoolSample[];
  readonly resizes: readonly TimedResize[];
  /** How late the dispatcher issued requests after they were due: median and largest, ms (included in latency). */
  readonly dispatchLagP50Ms: number;
  readonly dispatchLagMaxMs: number;
}

const MAX_FAILURE_MESSAGES = 5;

/**
 * Sends one request per arrival of `schedule` through `router`, on time whatever the answers do (an open loop:
 * a slow pool makes requests queue, and the queueing shows in their latency, instead of slowing the arrivals as
 * a closed loop would). Latency runs from when a request was due, so a late dispatch, a wait for a connection
 * and the statement itself all count. Meanwhile the primary's pool is sampled every `sampleIntervalMs`; the
 * open-connection count, held until the next sample, is integrated into connection-seconds.
 */
export async function runOpenLoop(
  router: QueryRouter,
  schedule: ArrivalSchedule,
  sql: string,
  params: readonly unknown[],
  sampleIntervalMs: number,
): Promise<OpenLoopRecord> {
  const { dueMs } = schedule;
  const n = dueMs.length;
  const latencyMs = new Float64Array(n).fill(Number.NaN);
  const lag = new Float64Array(n);
  const failureMessages: string[] = [];
  let failures = 0;
  let outstanding = 0;
  let lastDoneMs = 0;
  const samples: PoolSample[] = [];
  const resizes: TimedResize[] = [];
  const startedAt = performance.now();
  const since = (): number => performance.now() - startedAt;

  const onResize = (event: { node: string; from: number; to: number; reason: string }): void => {
    if (event.node === 'primary') resizes.push({ atMs: since(), from: event.from, to: event.to, reason: event.reason });
  };
  router.on('poolResize', onResize);
  const sample = (): void => {
    const pool = router.stats().nodes[0]!.pool;
    samples.push({ atMs: since(), total: pool.total, target: pool.target, active: pool.active, waiting: pool.waiting });
  };
  sample();
  const sampler = setInterval(sample, sampleIntervalMs);

  let allDone: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  let dispatched = 0;
  const settle = (i: number, error?: unknown): void => {
    const now = since();
    if (error === undefined) latencyMs[i] = now - dueMs[i]!;
    else {
      failures++;
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (failureMessages.length < MAX_FAILURE_MESSAGES && !failureMessages.includes(message))
        failureMessages.push(message);
    }
    lastDoneMs = Math.max(lastDoneMs, now);
    if (--outstanding === 0 && dispatched === n) allDone();
  };
  const issue = (i: number): void => {
    outstanding++;
    lag[i] = since() - dueMs[i]!;
    router.query(sql, params).then(
      () => settle(i),
      (error: unknown) => settle(i, error),
    );
  };

  try {
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const now = since();
        while (dispatched < n && dueMs[dispatched]! <= now) issue(dispatched++);
        if (dispatched === n) return resolve();
        // setTimeout fires no sooner than ~1 ms: at 1,800 req/s requests leave in twos and threes, each timed
        // from its own due time.
        setTimeout(tick, Math.max(0, dueMs[dispatched]! - since()));
      };
      tick();
    });
    if (outstanding > 0) await finished;
    // Connections stay open until the window closes: hold until the schedule's end even if the last answer came earlier.
    const windowEnd = Math.max(schedule.durationMs, lastDoneMs);
    const wait = windowEnd - since();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  } finally {
    clearInterval(sampler);
    router.off('poolResize', onResize);
  }
  sample();
  const windowMs = Math.max(schedule.durationMs, lastDoneMs);
  let connectionMs = 0;
  let peakOpen = 0;
  for (let k = 0; k < samples.length; k++) {
    const current = samples[k]!;
    peakOpen = Math.max(peakOpen, current.total);
    const next = k + 1 < samples.length ? samples[k + 1]!.atMs : windowMs;
    const from = Math.min(current.atMs, windowMs);
    const to = Math.min(next, windowMs);
    if (to > from) connectionMs += current.total * (to - from);
  }
  const sortedLag = Float64Array.from(lag).sort();
  return {
    schedule,
    latencyMs,
    failures,
    failureMessages,
    windowMs,
    connectionSeconds: connectionMs / 1000,
    peakOpen,
    samples,
    resizes,
    dispatchLagP50Ms: percentileOfSorted(sortedLag, 50),
    dispatchLagMaxMs: sortedLag.length === 0 ? 0 : sortedLag[sortedLag.length - 1]!,
  };
}
