import type { QueryConfig } from 'pg';
import { percentileOfSorted, sortSamples } from './stats.js';

/**
 * One query of a workload, with everything a contender needs prepared in advance, so the measuring loop
 * allocates nothing of its own.
 */
export interface Step {
  readonly text: string;
  readonly params: readonly unknown[];
  /** A prepared-statement name unique to `text`, for contenders that name their statements. */
  readonly name: string;
  /** `{ name, text, values }` for `pg`'s named statements; pg copies it, so one object serves every call. */
  readonly config: QueryConfig<unknown[]>;
}

/** Runs one step and settles when its result is in. */
export type QueryFn = (step: Step) => PromiseLike<unknown>;

/** What one timed run of one contender measured. */
export interface RunResult {
  readonly queries: number;
  readonly seconds: number;
  readonly qps: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /**
   * CPU time of this process (user + system, all threads) per query, in µs: what the client library costs,
   * plus the timers of the other contenders alive meanwhile. Waiting for a busy CPU does not count, so it is
   * steadier than wall-clock figures on a shared machine, though cache misses there still inflate it.
   */
  readonly cpuUsPerQuery: number;
}

/**
 * A preallocated store of per-query latencies (milliseconds), reused by every run so recording a sample costs a
 * typed-array write and never a GC. Samples past the capacity are counted but not stored.
 */
export class LatencyBuffer {
  private readonly samples: Float64Array;
  /** Samples stored so far in this run. */
  stored = 0;

  /** @param capacity most samples one run keeps (8 bytes each). */
  constructor(capacity: number) {
    this.samples = new Float64Array(capacity);
  }

  /** Forgets the previous run's samples. */
  reset(): void {
    this.stored = 0;
  }

  /** Stores one latency, in milliseconds, while there is room. */
  record(ms: number): void {
    if (this.stored < this.samples.length) this.samples[this.stored++] = ms;
  }

  /** The stored samples, sorted ascending in place (a view, valid until the next run). */
  sorted(): Float64Array {
    return sortSamples(this.samples.subarray(0, this.stored));
  }
}

/**
 * A closed loop: `concurrency` callers each send the next step as soon as their previous one answered, until
 * `durationMs` have passed. Each caller starts at a different offset in `steps`, so a mixed workload is mixed at
 * every moment and not in lockstep.
 */
export async function runClosedLoop(
  query: QueryFn,
  steps: readonly Step[],
  concurrency: number,
  durationMs: number,
  buffer: LatencyBuffer,
): Promise<RunResult> {
  if (steps.length === 0) throw new RangeError('steps: expected at least one step');
  buffer.reset();
  let queries = 0;
  const count = steps.length;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + durationMs;
  const caller = async (offset: number): Promise<void> => {
    let i = offset % count;
    // One clock read per query: the answer's time is the next query's send time, give or take the few
    // nanoseconds of bookkeeping below, which every contender pays alike.
    let sent = performance.now();
    for (;;) {
      const step = steps[i]!;
      i = i + 1 === count ? 0 : i + 1;
      await query(step);
      const answered = performance.now();
      buffer.record(answered - sent);
      queries++;
      if (answered >= deadline) return;
      sent = answered;
    }
  };
  const callers: Promise<void>[] = [];
  for (let c = 0; c < concurrency; c++) callers.push(caller(Math.floor((c * count) / concurrency)));
  await Promise.all(callers);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const sorted = buffer.sorted();
  return {
    queries,
    seconds,
    qps: queries / seconds,
    p50Us: percentileOfSorted(sorted, 50) * 1000,
    p99Us: percentileOfSorted(sorted, 99) * 1000,
    cpuUsPerQuery: (cpu.user + cpu.system) / queries,
  };
}

/** Latency samples an interleaved run keeps per contender and per millisecond: far above any rate seen here. */
const INTERLEAVED_SAMPLES_PER_MS = 50;

/** One buffer per contender, each large enough for a {@link runInterleaved} of `durationMs`. */
export function interleavedBuffers(contenders: number, durationMs: number): LatencyBuffer[] {
  return Array.from(
    { length: contenders },
    () => new LatencyBuffer(Math.ceil(durationMs * INTERLEAVED_SAMPLES_PER_MS)),
  );
}

/** One contender's share of an interleaved run. */
export interface InterleavedResult {
  readonly queries: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

/**
 * One caller that sends each step through every contender in turn (the first of each turn rotating), until
 * `durationMs` have passed. Each contender's samples are then taken microseconds apart from the others', so a
 * slow moment of a shared machine lands on all of them alike: the fairest way to compare single-caller latency,
 * where the differences sought (a few µs) are smaller than the noise between two separate runs.
 */
export async function runInterleaved(
  queries: readonly QueryFn[],
  steps: readonly Step[],
  durationMs: number,
  buffers: readonly LatencyBuffer[],
): Promise<InterleavedResult[]> {
  const n = queries.length;
  if (n === 0 || buffers.length !== n) throw new RangeError('queries and buffers: expected one buffer per contender');
  if (steps.length === 0) throw new RangeError('steps: expected at least one step');
  for (const buffer of buffers) buffer.reset();
  const counts = new Array<number>(n).fill(0);
  const deadline = performance.now() + durationMs;
  let i = 0;
  let first = 0;
  let sent = performance.now();
  while (sent < deadline) {
    const step = steps[i]!;
    i = i + 1 === steps.length ? 0 : i + 1;
    for (let k = 0; k < n; k++) {
      const c = first + k < n ? first + k : first + k - n;
      await queries[c]!(step);
      const answered = performance.now();
      buffers[c]!.record(answered - sent);
      counts[c]!++;
      sent = answered;
    }
    first = first + 1 === n ? 0 : first + 1;
  }
  return buffers.map((buffer, c) => {
    const sorted = buffer.sorted();
    return {
      queries: counts[c]!,
      p50Us: percentileOfSorted(sorted, 50) * 1000,
      p99Us: percentileOfSorted(sorted, 99) * 1000,
    };
  });
}
