/**
 * Per-call cost measured by interleaving: every contender sends one statement in turn, so their samples are taken
 * microseconds apart and a slow moment of a shared machine falls on all of them alike.
 */
import { percentileOfSorted } from './stats.js';

/** One way of sending `SELECT $1::int` (the value varies per call). */
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
