import { interleavedBuffers, runInterleaved, type LatencyBuffer } from '../lib/closed-loop.js';
import { runRounds, summarise, type Contender, type ProgressFn } from '../lib/rounds.js';
import type { BenchSchema } from '../lib/schema.js';
import { bundleChild, countInstructions, runLimited, type ChildArgs } from './valgrind.js';
import {
  CONTENDERS,
  WORKLOADS,
  overheadContender,
  overheadSteps,
  type ContenderName,
  type WorkloadName,
} from './contenders.js';
import type { CountParams, TimingParams } from './params.js';

/** One contender's instruction counts on one workload. */
export interface InstructionCount {
  readonly workload: WorkloadName;
  readonly contender: ContenderName;
  /** Instructions of the short and the long run (whole process, start to exit). */
  readonly short: number;
  readonly long: number;
  /** (long − short) / (calls₂ − calls₁). */
  readonly perCall: number;
}

/** One contender's native timings on one workload, one caller. */
export interface CallTiming {
  readonly workload: WorkloadName;
  readonly contender: ContenderName;
  /** This process's CPU time per query, median over rounds, in µs. */
  readonly cpuUsPerQuery: number;
  /** p50 latency when the contenders take turns query by query, in µs. */
  readonly interleavedP50Us: number;
}

/**
 * Instructions per call of every contender on every workload: per pair, two valgrind runs of the child that
 * differ only in the number of calls after the warm-up.
 */
export async function measureInstructions(
  url: string,
  schema: BenchSchema,
  params: CountParams,
  progress?: ProgressFn,
  contenders: readonly ContenderName[] = CONTENDERS,
  workloads: readonly WorkloadName[] = WORKLOADS,
): Promise<InstructionCount[]> {
  const [short, long] = params.calls;
  if (!(long > short && short >= 0)) throw new RangeError(`calls: expected [short, long] with long > short ≥ 0`);
  const pairs = workloads.flatMap((workload) => contenders.map((contender) => ({ workload, contender })));
  let done = 0;
  const tasks = pairs.flatMap(({ workload, contender }) =>
    [short, long].map((calls) => async () => {
      const args: ChildArgs = {
        contender,
        workload,
        url,
        schema: { name: schema.name, users: schema.users, orders: schema.orders },
        warmup: params.warmup,
        calls,
      };
      const instructions = await countInstructions(bundle.script, args);
      progress?.(`valgrind: ${++done}/${pairs.length * 2} runs (${workload}, ${contender}, ${calls} calls)`);
      return instructions;
    }),
  );
  progress?.(`valgrind: ${tasks.length} runs, ${params.parallel} at a time…`);
  const bundle = await bundleChild();
  let counts: number[];
  try {
    counts = await runLimited(tasks, params.parallel);
  } finally {
    bundle.remove();
  }
  return pairs.map(({ workload, contender }, i) => {
    const a = counts[2 * i]!;
    const b = counts[2 * i + 1]!;
    return { workload, contender, short: a, long: b, perCall: (b - a) / (long - short) };
  });
}

/**
 * The same contenders timed natively at one caller: client CPU per query over closed-loop rounds, and p50
 * latency with the contenders interleaved query by query (so machine noise falls on all of them alike).
 */
export async function measureTiming(
  url: string,
  schema: BenchSchema,
  params: TimingParams,
  buffer: LatencyBuffer,
  progress?: ProgressFn,
  contenders: readonly ContenderName[] = CONTENDERS,
  workloads: readonly WorkloadName[] = WORKLOADS,
): Promise<CallTiming[]> {
  const live: Contender[] = contenders.map((name) => overheadContender(name, url));
  const timings: CallTiming[] = [];
  try {
    const buffers = interleavedBuffers(live.length, params.interleavedMs);
    for (const workload of workloads) {
      const steps = overheadSteps(workload, schema);
      const results = await runRounds(live, { label: workload, steps, concurrency: 1 }, params.loop, buffer, progress);
      progress?.(`${workload}: contenders interleaved`);
      globalThis.gc?.();
      const interleaved = await runInterleaved(
        live.map((c) => c.query),
        steps,
        params.interleavedMs,
        buffers,
      );
      contenders.forEach((contender, i) =>
        timings.push({
          workload,
          contender,
          cpuUsPerQuery: summarise(results, contender).cpuUsPerQuery,
          interleavedP50Us: interleaved[i]!.p50Us,
        }),
      );
    }
  } finally {
    await Promise.all(live.map((c) => c.close()));
  }
  return timings;
}
