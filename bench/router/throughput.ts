import {
  interleavedBuffers,
  runInterleaved,
  type InterleavedResult,
  type LatencyBuffer,
  type Step,
} from '../lib/closed-loop.js';
import { pgPoolContender, pgPreparedContender, postgresJsContender, routerContender } from './contenders.js';
import type { PoolParams } from '../lib/pools.js';
import type { Measurement, TargetOutcome } from '../lib/report.js';
import {
  runRounds,
  summarise,
  type Contender,
  type LoopParams,
  type ProgressFn,
  type RoundResults,
  type Scenario,
} from '../lib/rounds.js';
import type { BenchSchema } from '../lib/schema.js';
import { callers, formatMicros, formatMicrosDelta, formatRatio, formatTarget } from '../lib/format.js';
import { measuredCells, type TableRow } from '../lib/table.js';
import { mixWorkload, selectIntWorkload } from './workloads.js';

/** Targets from the issue. */
export const THROUGHPUT_TARGETS = Object.freeze({
  /** Router q/s over raw pg.Pool q/s at many callers, at least. */
  minRatioAtHighConcurrency: 0.95,
  /** Router p50 minus raw pg.Pool p50 at one caller, at most, in µs. */
  maxAddedP50Us: 10,
});

/** Parameters of {@link measureThroughput}. */
export interface ThroughputParams {
  readonly loop: LoopParams;
  readonly pool: PoolParams;
  /** The two concurrencies, e.g. `[1, 32]`: the latency target applies to the first, the throughput target to the second. */
  readonly concurrency: readonly [low: number, high: number];
  /** Length of the single-caller run that interleaves the contenders query by query, per workload, in ms. */
  readonly interleavedMs: number;
}

/** An interleaved single-caller run of one workload: each contender's latency, in contender order. */
export interface InterleavedOutcome {
  readonly label: string;
  readonly contenders: readonly string[];
  readonly results: readonly InterleavedResult[];
}

/** Per scenario, the contenders' runs by round; per workload, the interleaved single-caller latencies. */
export interface ThroughputResult extends Measurement {
  readonly scenarios: readonly { readonly scenario: Scenario; readonly results: RoundResults }[];
  readonly interleaved: readonly InterleavedOutcome[];
}

const ROUTER = 'router.query';
const BASELINE = 'pg.Pool#query';
const NAMED = 'pg.Pool#query (named)';
const BASELINE_SHORT = 'pg.Pool';

/**
 * Throughput and latency of `router.query` against raw `pg.Pool#query`, pg's named statements and postgres.js,
 * all on the same node with the same pool size: `SELECT $1::int` and an OLTP mix, each at a low and a high
 * number of concurrent callers, in rounds; then, per workload, one caller interleaving the contenders query by
 * query, for the added latency at one caller.
 */
export async function measureThroughput(
  url: string,
  schema: BenchSchema,
  params: ThroughputParams,
  buffer: LatencyBuffer,
  progress?: ProgressFn,
): Promise<ThroughputResult> {
  const [low, high] = params.concurrency;
  const workloads: readonly (readonly [string, readonly Step[]])[] = [
    ['SELECT $1::int', selectIntWorkload()],
    ['OLTP mix', mixWorkload(schema)],
  ];
  const scenarios: Scenario[] = workloads.flatMap(([label, steps]) =>
    [low, high].map((concurrency) => ({ label: `${label}, ${callers(concurrency)}`, steps, concurrency })),
  );
  const contenders: Contender[] = [
    pgPoolContender(url, params.pool),
    routerContender(ROUTER, url, params.pool),
    pgPreparedContender(url, params.pool),
    postgresJsContender(url, params.pool),
  ];
  const outcomes: { scenario: Scenario; results: RoundResults }[] = [];
  const interleaved: InterleavedOutcome[] = [];
  try {
    for (const scenario of scenarios)
      outcomes.push({ scenario, results: await runRounds(contenders, scenario, params.loop, buffer, progress) });
    const buffers = interleavedBuffers(contenders.length, params.interleavedMs);
    for (const [label, steps] of workloads) {
      progress?.(`${label}: ${callers(1)}, contenders interleaved`);
      globalThis.gc?.();
      interleaved.push({
        label: `${label}, ${callers(1)}, interleaved`,
        contenders: contenders.map((c) => c.name),
        results: await runInterleaved(
          contenders.map((c) => c.query),
          steps,
          params.interleavedMs,
          buffers,
        ),
      });
    }
  } finally {
    await Promise.all(contenders.map((c) => c.close()));
  }
  return { scenarios: outcomes, interleaved, ...report(outcomes, interleaved, contenders, high) };
}

function report(
  outcomes: readonly { scenario: Scenario; results: RoundResults }[],
  interleaved: readonly InterleavedOutcome[],
  contenders: readonly Contender[],
  high: number,
): Measurement {
  const rows: TableRow[] = [];
  const targets: TargetOutcome[] = [];
  for (const { scenario, results } of outcomes) {
    const baseline = summarise(results, BASELINE);
    for (const contender of contenders) {
      const summary = summarise(results, contender.name);
      const ratio = summary.qps / baseline.qps;
      let target: string | undefined;
      if (contender.name === ROUTER && scenario.concurrency === high) {
        const min = THROUGHPUT_TARGETS.minRatioAtHighConcurrency;
        const met = ratio >= min;
        target = formatTarget(`≥ ${min.toFixed(2)}×`, met);
        targets.push({
          name: `router q/s ≥ ${min}× pg.Pool#query (${scenario.label})`,
          met,
          measured: `${ratio.toFixed(2)}×`,
        });
      }
      rows.push({
        benchmark: scenario.label,
        contender: contender.name,
        ...measuredCells(summary),
        ratio: contender.name === BASELINE ? 'baseline' : formatRatio(ratio, BASELINE_SHORT),
        ...(target === undefined ? {} : { target }),
      });
    }
  }
  for (const { label, contenders: names, results } of interleaved) {
    const of = (name: string): InterleavedResult => results[names.indexOf(name)]!;
    const router = of(ROUTER);
    for (const [baselineName, short] of [
      [BASELINE, 'pg.Pool#query'],
      [NAMED, 'pg named'],
    ] as const) {
      const baseline = of(baselineName);
      const added = router.p50Us - baseline.p50Us;
      const row: TableRow = {
        benchmark: label,
        contender: `added by router vs ${short}`,
        p50: `${formatMicrosDelta(added)} (${formatMicros(router.p50Us)} vs ${formatMicros(baseline.p50Us)})`,
        tail: `p99 ${formatMicrosDelta(router.p99Us - baseline.p99Us)}`,
      };
      if (baselineName === BASELINE) {
        const max = THROUGHPUT_TARGETS.maxAddedP50Us;
        const met = added <= max;
        targets.push({
          name: `router p50 − pg.Pool#query p50 ≤ ${max} µs (${label})`,
          met,
          measured: formatMicrosDelta(added),
        });
        rows.push({ ...row, target: formatTarget(`≤ +${max} µs`, met) });
      } else {
        rows.push(row);
      }
    }
  }
  return { rows, targets, notes: [] };
}
