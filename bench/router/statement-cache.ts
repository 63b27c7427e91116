import type { LatencyBuffer } from '../lib/closed-loop.js';
import { routerContender, type RouterContender } from './contenders.js';
import type { PoolParams } from '../lib/pools.js';
import type { Measurement, TargetOutcome } from '../lib/report.js';
import {
  runRounds,
  summarise,
  type LoopParams,
  type ProgressFn,
  type RoundResults,
  type Scenario,
} from '../lib/rounds.js';
import type { BenchSchema } from '../lib/schema.js';
import { callers, formatMicros, formatRatio, formatTarget } from '../lib/format.js';
import { measuredCells, type TableRow } from '../lib/table.js';
import { joinWorkload } from './workloads.js';

/** Target from the issue: the cached router's q/s over the uncached router's, at least. */
export const STATEMENT_CACHE_TARGET = 1.2;

/** Parameters of {@link measureStatementCache}. */
export interface StatementCacheParams {
  readonly loop: LoopParams;
  readonly pool: PoolParams;
  /** Concurrencies to run the join at, e.g. `[1, 8]`. */
  readonly concurrency: readonly number[];
}

/** Hits and misses of each router's statement cache over the whole measurement. */
export interface CacheCounters {
  readonly hits: number;
  readonly misses: number;
}

/** Per concurrency, both routers' runs by round, and their statement caches' counters. */
export interface StatementCacheResult extends Measurement {
  /** `ratio`: median q/s with the cache over median q/s without it. */
  readonly scenarios: readonly {
    readonly scenario: Scenario;
    readonly results: RoundResults;
    readonly ratio: number;
  }[];
  readonly cached: CacheCounters;
  readonly uncached: CacheCounters;
}

const CACHED = 'router, statementCache.max 500';
const UNCACHED = 'router, statementCache.max 0';

/**
 * A repeated parameterised join (users ⋈ orders, GROUP BY) through two routers that differ only in the
 * statement cache: with it, the statement is parsed and planned once per connection (named prepared
 * statement), without it on every call.
 */
export async function measureStatementCache(
  url: string,
  schema: BenchSchema,
  params: StatementCacheParams,
  buffer: LatencyBuffer,
  progress?: ProgressFn,
): Promise<StatementCacheResult> {
  const steps = joinWorkload(schema);
  const cached = routerContender(CACHED, url, params.pool, 500);
  const uncached = routerContender(UNCACHED, url, params.pool, 0);
  const contenders: RouterContender[] = [cached, uncached];
  const scenarios: { scenario: Scenario; results: RoundResults; ratio: number }[] = [];
  let counters: { cached: CacheCounters; uncached: CacheCounters };
  try {
    for (const concurrency of params.concurrency) {
      const scenario: Scenario = {
        label: `Repeated join, ${callers(concurrency)}`,
        steps,
        concurrency,
      };
      const results = await runRounds(contenders, scenario, params.loop, buffer, progress);
      scenarios.push({ scenario, results, ratio: summarise(results, CACHED).qps / summarise(results, UNCACHED).qps });
    }
    counters = { cached: cacheCounters(cached), uncached: cacheCounters(uncached) };
  } finally {
    await Promise.all(contenders.map((c) => c.close()));
  }

  const rows: TableRow[] = [];
  const targets: TargetOutcome[] = [];
  for (const { scenario, results, ratio } of scenarios) {
    const met = ratio >= STATEMENT_CACHE_TARGET;
    targets.push({
      name: `statement cache ≥ ${STATEMENT_CACHE_TARGET}× q/s without it (${scenario.label})`,
      met,
      measured: `${ratio.toFixed(2)}×`,
    });
    for (const contender of contenders) {
      const summary = summarise(results, contender.name);
      const isCached = contender === cached;
      rows.push({
        benchmark: scenario.label,
        contender: contender.name,
        ...measuredCells(summary),
        ratio: isCached ? formatRatio(ratio, 'max 0') : 'baseline',
        ...(isCached ? { target: formatTarget(`≥ ${STATEMENT_CACHE_TARGET.toFixed(2)}×`, met) } : {}),
      });
    }
  }
  const notes: string[] = [];
  const missed = scenarios.filter(({ ratio }) => ratio < STATEMENT_CACHE_TARGET);
  if (missed.length > 0) {
    const savings = scenarios.map(
      ({ scenario, results }) =>
        `${formatMicros(summarise(results, UNCACHED).p50Us)} → ${formatMicros(summarise(results, CACHED).p50Us)} p50 at ${scenario.label.replace(/^Repeated join, /, '')}`,
    );
    notes.push(
      `Statement cache below ${STATEMENT_CACHE_TARGET}× at ${missed.map(({ scenario }) => scenario.label.replace(/^Repeated join, /, '')).join(', ')}: ` +
        `the cache saves only the server's parse and plan of the join (${savings.join('; ')}); the round trip, the execution and ` +
        "both processes' CPU on the shared cores stay, so the ratio is that saving's share of the whole.",
    );
  }
  return { scenarios, cached: counters.cached, uncached: counters.uncached, rows, targets, notes };
}

function cacheCounters(contender: RouterContender): CacheCounters {
  const { hits, misses } = contender.router.stats().statementCache;
  return { hits, misses };
}
