/**
 * Per-call cost measured by interleaving: every contender sends one statement in turn, so their samples are taken
 * microseconds apart and a slow moment of a shared machine falls on all of them alike.
 */
import { median, percentileOfSorted } from './stats.js';

/** The statement every sender sends: it costs the server almost nothing, so the client's work is what differs. */
export const SELECT_INT = 'SELECT $1::int AS n';

/** One way of sending {@link SELECT_INT} (the value varies per call). */
export interface CallSender {
  readonly name: string;
  readonly send: (value: number) => Promise<unknown>;
}

/**
 * One round: `calls` turns, each sending one statement through every sender in turn, the first of each turn
 * rotating with `turnOffset`. `samples` holds one buffer of at least `calls` entries per sender. Returns each
 * sender's median time per call of the round, in µs.
 */
export async function interleavedRound(
  senders: readonly CallSender[],
  calls: number,
  samples: readonly Float64Array[],
  turnOffset: number,
): Promise<number[]> {
  const n = senders.length;
  let before = performance.now();
  for (let i = 0; i < calls; i++) {
    const first = (i + turnOffset) % n;
    for (let k = 0; k < n; k++) {
      const index = (first + k) % n;
      await senders[index]!.send(i % 1000);
      const after = performance.now();
      samples[index]![i] = after - before;
      before = after;
    }
  }
  return samples.map((s) => percentileOfSorted(s.subarray(0, calls).sort(), 50) * 1000);
}

/** How long an interleaved measurement runs: `SELECT $1::int` at one caller, interleaved call by call. */
export interface InterleavedCallParams {
  /** Rounds; the sender that goes first rotates by one per round. */
  readonly rounds: number;
  /** Calls per sender per round. */
  readonly callsPerRound: number;
  /** Untimed calls per sender before the first round. */
  readonly warmupCalls: number;
}

/**
 * A warm-up round, then `params.rounds` timed rounds of {@link interleavedRound} (GC before each): per sender, its
 * median time per call of each round, in µs, in round order. `label` prefixes the progress lines.
 */
export async function interleavedCallRounds(
  senders: readonly CallSender[],
  params: InterleavedCallParams,
  label: string,
  progress?: (message: string) => void,
): Promise<number[][]> {
  const samples = senders.map(() => new Float64Array(Math.max(params.callsPerRound, params.warmupCalls)));
  const medians = senders.map(() => [] as number[]);
  progress?.(`${label}: warm-up`);
  await interleavedRound(senders, params.warmupCalls, samples, 0);
  for (let round = 0; round < params.rounds; round++) {
    progress?.(`${label}: round ${round + 1}/${params.rounds}`);
    globalThis.gc?.();
    const p50 = await interleavedRound(senders, params.callsPerRound, samples, round);
    p50.forEach((value, i) => medians[i]!.push(value));
  }
  return medians;
}

/**
 * The median over rounds of what sender `i` took per call beyond sender `baseline` in the same round, in µs: a
 * slow round raises both, so the difference is steadier than the difference of the two medians.
 */
export function medianAdded(roundMedians: readonly (readonly number[])[], i: number, baseline: number): number {
  return median(roundMedians[i]!.map((value, round) => value - roundMedians[baseline]![round]!));
}

/** One sender's figures over the rounds of {@link interleavedCallRounds}. */
export interface CallCost {
  readonly name: string;
  /** Median over rounds of each round's median time per call, in µs. */
  readonly p50Us: number;
  /** {@link medianAdded} over the baseline sender, in µs. */
  readonly addedUs: number;
}

/** Per sender, its {@link CallCost} against the sender at index `baseline`. */
export function callCosts(
  senders: readonly CallSender[],
  roundMedians: readonly (readonly number[])[],
  baseline: number,
): CallCost[] {
  return senders.map((sender, i) => ({
    name: sender.name,
    p50Us: median(roundMedians[i]!),
    addedUs: medianAdded(roundMedians, i, baseline),
  }));
}
