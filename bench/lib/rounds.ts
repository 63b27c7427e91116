import { runClosedLoop, type LatencyBuffer, type QueryFn, type RunResult, type Step } from './closed-loop.js';
import { median, relativeSpread } from './stats.js';

/** Something that runs queries: the router, a raw driver pool, … */
export interface Contender {
  /** Its name in the table, e.g. `pg.Pool#query`. */
  readonly name: string;
  readonly query: QueryFn;
  /** Closes its connections. */
  close(): Promise<void>;
}

/** How long and how often each contender runs. */
export interface LoopParams {
  /** Rounds; each runs every contender once, the order rotating by one per round. */
  readonly rounds: number;
  /** Length of one timed run, in milliseconds. */
  readonly runMs: number;
  /** Untimed load per contender before the first round (connections, JIT, server caches), in milliseconds. */
  readonly warmupMs: number;
  /** Untimed load right before every timed run, so a contender idle during the others' runs starts warm, in ms. */
  readonly rewarmMs: number;
}

/** One workload at one concurrency. */
export interface Scenario {
  readonly label: string;
  readonly steps: readonly Step[];
  readonly concurrency: number;
}

/** Per contender name, its timed runs in round order (index = round). */
export type RoundResults = ReadonlyMap<string, readonly RunResult[]>;

/** The medians over rounds of one contender's runs. */
export interface ContenderSummary {
  readonly name: string;
  readonly qps: number;
  /** {@link relativeSpread} of q/s over the rounds: the noise to read a ratio against. */
  readonly qpsSpread: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly cpuUsPerQuery: number;
  /** Timed queries over all rounds. */
  readonly queries: number;
}

/** Called before each timed run, e.g. to print progress. */
export type ProgressFn = (message: string) => void;

/**
 * `items` in the order of round `round`: the same cycle started one later each round (round 0 as given), so over the
 * rounds every item runs first, last and in between alike.
 */
export function inRotation<T>(items: readonly T[], round: number): T[] {
  const n = items.length;
  return Array.from({ length: n }, (_, k) => items[(k + round) % n]!);
}

function collectGarbage(): void {
  // Started without --expose-gc this is a no-op; with it, no run pays for the previous run's garbage.
  globalThis.gc?.();
}

/**
 * Runs `scenario` for every contender in rounds. Alternating contenders within each round, rather than running
 * one contender's rounds back to back, spreads the machine's slow moments (other tenants, autovacuum, a
 * checkpoint) over all of them instead of penalising whoever ran at that time.
 */
export async function runRounds(
  contenders: readonly Contender[],
  scenario: Scenario,
  params: LoopParams,
  buffer: LatencyBuffer,
  progress?: ProgressFn,
): Promise<RoundResults> {
  const { steps, concurrency } = scenario;
  const results = new Map<string, RunResult[]>(contenders.map((c) => [c.name, []]));
  if (params.warmupMs > 0) {
    for (const contender of contenders)
      await runClosedLoop(contender.query, steps, concurrency, params.warmupMs, buffer);
  }
  for (let round = 0; round < params.rounds; round++) {
    for (const contender of inRotation(contenders, round)) {
      progress?.(`${scenario.label}: round ${round + 1}/${params.rounds}, ${contender.name}`);
      collectGarbage();
      if (params.rewarmMs > 0) await runClosedLoop(contender.query, steps, concurrency, params.rewarmMs, buffer);
      results.get(contender.name)!.push(await runClosedLoop(contender.query, steps, concurrency, params.runMs, buffer));
    }
  }
  return results;
}

function runsOf(results: RoundResults, name: string): readonly RunResult[] {
  const runs = results.get(name);
  if (runs === undefined || runs.length === 0) throw new RangeError(`no runs of ${name}`);
  return runs;
}

/** The medians over rounds of `name`'s throughput, latency percentiles and CPU time per query. */
export function summarise(results: RoundResults, name: string): ContenderSummary {
  const runs = runsOf(results, name);
  const qps = runs.map((r) => r.qps);
  return {
    name,
    qps: median(qps),
    qpsSpread: relativeSpread(qps),
    p50Us: median(runs.map((r) => r.p50Us)),
    p99Us: median(runs.map((r) => r.p99Us)),
    cpuUsPerQuery: median(runs.map((r) => r.cpuUsPerQuery)),
    queries: runs.reduce((sum, r) => sum + r.queries, 0),
  };
}
