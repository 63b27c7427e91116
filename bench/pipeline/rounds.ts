import type { PipelineContender } from './contenders.js';
import type { ServerCpuClock } from './server-cpu.js';
import type { PipelineSchema, WorkloadKind } from './workloads.js';
import { median, relativeSpread } from '../lib/stats.js';
import { inRotation } from '../lib/rounds.js';

/** What one timed run of one contender measured. */
export interface PipelineRun {
  readonly rows: number;
  readonly seconds: number;
  readonly rowsPerSecond: number;
  /** CPU time of this process (user + system, all threads) per row, in µs: the client side's own cost. */
  readonly cpuUsPerRow: number;
  /** CPU time of the server's processes per row, in µs, where a {@link ServerCpuClock} could read it. */
  readonly serverCpuUsPerRow: number | undefined;
}

/** Per workload, per contender name, its timed runs in round order. Contenders that do not apply are absent. */
export type PipelineResults = ReadonlyMap<WorkloadKind, ReadonlyMap<string, readonly PipelineRun[]>>;

/** The medians over rounds of one contender on one workload. */
export interface PipelineSummary {
  readonly rowsPerSecond: number;
  /** Median absolute deviation of rows/s over rounds, as a fraction of the median. */
  readonly spread: number;
  readonly cpuUsPerRow: number;
  readonly serverCpuUsPerRow: number | undefined;
  readonly runs: number;
}

/** How often each contender runs. */
export interface PipelineRoundParams {
  readonly rounds: number;
  readonly warmupRuns: number;
}

/** Called before each run, e.g. to print progress. */
export type PipelineProgress = (message: string) => void;

/** The workloads in the order they run and print. */
export const WORKLOAD_ORDER: readonly WorkloadKind[] = Object.freeze(['insert', 'update', 'delete']);

/**
 * One run: the table reset first (untimed), then the contender's writes timed from the first statement to the
 * last commit, then the table checked (untimed) so a run that lost or doubled rows fails the benchmark.
 */
export async function timedRun(
  contender: PipelineContender,
  schema: PipelineSchema,
  kind: WorkloadKind,
  serverCpu?: ServerCpuClock,
): Promise<PipelineRun> {
  const workload = schema[kind];
  await schema.reset(kind);
  // Started without --expose-gc this is a no-op; with it, no run pays for the previous run's garbage.
  globalThis.gc?.();
  // Read outside the timed span: walking /proc takes a few milliseconds.
  const serverBefore = serverCpu?.();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await contender.run(workload);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const serverAfter = serverCpu?.();
  await schema.verify(kind);
  const rows = workload.params.length;
  const serverCpuUsPerRow =
    serverBefore === undefined || serverAfter === undefined ? undefined : (serverAfter - serverBefore) / rows;
  return {
    rows,
    seconds,
    rowsPerSecond: rows / seconds,
    cpuUsPerRow: (cpu.user + cpu.system) / rows,
    serverCpuUsPerRow,
  };
}

/**
 * Runs every workload for every contender that applies, in rounds. Alternating contenders within each round,
 * the order rotating by one per round, spreads the machine's slow moments over all of them instead of
 * penalising whoever ran at that time.
 */
export async function runPipelineRounds(
  contenders: readonly PipelineContender[],
  schema: PipelineSchema,
  params: PipelineRoundParams,
  progress?: PipelineProgress,
  serverCpu?: ServerCpuClock,
): Promise<PipelineResults> {
  const results = new Map<WorkloadKind, Map<string, PipelineRun[]>>();
  for (const kind of WORKLOAD_ORDER) {
    const label = schema[kind].label;
    const applicable = contenders.filter((c) => c.kinds.includes(kind));
    const runs = new Map<string, PipelineRun[]>(applicable.map((c) => [c.name, []]));
    results.set(kind, runs);
    for (const contender of applicable) {
      for (let w = 0; w < params.warmupRuns; w++) {
        progress?.(`${label}: warm-up, ${contender.name}`);
        await timedRun(contender, schema, kind, serverCpu);
      }
    }
    for (let round = 0; round < params.rounds; round++) {
      for (const contender of inRotation(applicable, round)) {
        progress?.(`${label}: round ${round + 1}/${params.rounds}, ${contender.name}`);
        runs.get(contender.name)!.push(await timedRun(contender, schema, kind, serverCpu));
      }
    }
  }
  return results;
}

/** The medians over rounds of `name` on `kind`, or `undefined` if it did not run that workload. */
export function summarisePipeline(
  results: PipelineResults,
  kind: WorkloadKind,
  name: string,
): PipelineSummary | undefined {
  const runs = results.get(kind)?.get(name);
  if (runs === undefined || runs.length === 0) return undefined;
  const rates = runs.map((r) => r.rowsPerSecond);
  const server = runs.flatMap((r) => (r.serverCpuUsPerRow === undefined ? [] : [r.serverCpuUsPerRow]));
  return {
    rowsPerSecond: median(rates),
    spread: relativeSpread(rates),
    cpuUsPerRow: median(runs.map((r) => r.cpuUsPerRow)),
    serverCpuUsPerRow: server.length === runs.length ? median(server) : undefined,
    runs: runs.length,
  };
}
