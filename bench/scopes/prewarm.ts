import { QueryRouter } from '../../src/index.js';
import type { PrewarmParams } from './params.js';
import { median, percentileOfSorted } from '../lib/stats.js';

/** One way of starting the scope, over all its rounds. */
export interface PrewarmContender {
  readonly name: string;
  /** Median over rounds of the scope's run time (first statement sent to last answered), in ms. */
  readonly runMs: number;
  /** Percentiles of every statement's time over all rounds (waiting for a connection included), in ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Median over rounds of the connections the run found open when it started, and of those opened while it ran. */
  readonly openAtStart: number;
  readonly openedDuringRun: number;
  /** Median over rounds of `prewarm()` itself (before the run, not part of `runMs`), in ms; `undefined` when not pre-warmed. */
  readonly prewarmMs: number | undefined;
}

/** What {@link measurePrewarm} found. */
export interface PrewarmResult {
  readonly cold: PrewarmContender;
  readonly prewarmed: PrewarmContender;
  /** Statements of each run: the scope's concurrency. */
  readonly statements: number;
  /** The peak `prewarm()` learned (connections on the primary). */
  readonly learnedPeak: number;
}

export const PREWARM_NAMES = Object.freeze({
  cold: 'cold: pool at its adaptive minimum',
  prewarmed: 'after router.prewarm(scope)',
});

const SCOPE = 'bench-burst';

interface Run {
  readonly runMs: number;
  readonly latencies: number[];
  readonly openAtStart: number;
  readonly openedDuringRun: number;
  readonly prewarmMs: number | undefined;
}

async function settle(router: QueryRouter, min: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { pool } = router.stats().nodes[0]!;
    if (pool.total <= min && pool.reserved === 0 && pool.target <= min) return;
    if (Date.now() > deadline)
      throw new Error(
        `the pool did not return to ${min} connections within 30 s (${pool.total} open, target ${pool.target})`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function runOnce(router: QueryRouter, params: PrewarmParams, prewarm: boolean): Promise<Run> {
  await settle(router, params.pool.min);
  let prewarmMs: number | undefined;
  if (prewarm) {
    const started = performance.now();
    await router.prewarm(SCOPE);
    prewarmMs = performance.now() - started;
  }
  const atStart = router.stats().nodes[0]!;
  const before = new Set(atStart.connections.map((connection) => connection.id));
  const latencies: number[] = [];
  const started = performance.now();
  const seen = new Set<string>();
  await router.scope(SCOPE, () =>
    Promise.all(
      Array.from({ length: params.concurrency }, async (_, i) => {
        const sent = performance.now();
        await router.query('SELECT pg_sleep($1::float8 / 1000), $2::int AS part', [params.statementMs, i]);
        latencies.push(performance.now() - sent);
        for (const connection of router.stats().nodes[0]!.connections) seen.add(connection.id);
      }),
    ),
  );
  const runMs = performance.now() - started;
  return {
    runMs,
    latencies,
    openAtStart: atStart.pool.total,
    openedDuringRun: [...seen].filter((id) => !before.has(id)).length,
    prewarmMs,
  };
}

function summarise(name: string, runs: readonly Run[]): PrewarmContender {
  const latencies = Float64Array.from(runs.flatMap((run) => run.latencies)).sort();
  const prewarms = runs.map((run) => run.prewarmMs).filter((ms): ms is number => ms !== undefined);
  return {
    name,
    runMs: median(runs.map((run) => run.runMs)),
    p50Ms: percentileOfSorted(latencies, 50),
    p99Ms: percentileOfSorted(latencies, 99),
    openAtStart: median(runs.map((run) => run.openAtStart)),
    openedDuringRun: median(runs.map((run) => run.openedDuringRun)),
    prewarmMs: prewarms.length === 0 ? undefined : median(prewarms),
  };
}

/**
 * A scope of `concurrency` statements sent at once, on a router with adaptive sizing whose pool is back at its
 * minimum before each run: run cold, and run right after `prewarm()` of the scope, alternating which goes first.
 * One untimed run first teaches the router the scope's peak.
 */
export async function measurePrewarm(
  url: string,
  params: PrewarmParams,
  progress?: (message: string) => void,
): Promise<PrewarmResult> {
  const router = new QueryRouter({
    primary: url,
    pool: { ...params.pool, idleTimeoutMs: 10 * params.adaptiveIntervalMs, acquireTimeoutMs: 30_000 },
    // No peak hold, so the pool is back at its minimum soon after each run.
    adaptive: {
      enabled: true,
      intervalMs: params.adaptiveIntervalMs,
      cooldownMs: 2 * params.adaptiveIntervalMs,
      peakHoldMs: 0,
    },
    applicationName: 'scopes-prewarm',
  });
  router.on('connectionError', () => undefined);
  try {
    progress?.('prewarm: learning the scope');
    await runOnce(router, params, false);
    const learnedPeak = router.stats().scopes.find((scope) => scope.name === SCOPE)?.lastPeak?.['primary'] ?? 0;
    const cold: Run[] = [];
    const prewarmed: Run[] = [];
    for (let round = 0; round < params.rounds; round++) {
      progress?.(`prewarm: round ${round + 1}/${params.rounds}`);
      for (const warm of round % 2 === 0 ? [false, true] : [true, false])
        (warm ? prewarmed : cold).push(await runOnce(router, params, warm));
    }
    return {
      cold: summarise(PREWARM_NAMES.cold, cold),
      prewarmed: summarise(PREWARM_NAMES.prewarmed, prewarmed),
      statements: params.concurrency,
      learnedPeak,
    };
  } finally {
    await router.close();
  }
}
