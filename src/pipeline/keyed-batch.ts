import { BatchAbortedError } from '../errors.js';
import type { BatchOutcome, BatchStatement } from '../pool/index.js';
import type { CoalescedBatch } from './coalesce.js';
import type { PipelineStatement } from './pipeline-backend.js';

/** What {@link runInOrder} found. */
export interface InOrderOutcome {
  /** The outcome of each sent statement (for the templates to forget). */
  readonly outcomes: BatchOutcome[];
  /** Each original statement's outcome. */
  readonly perEntry: BatchOutcome[];
  /** Round trips spent re-running the members of failed merged statements. */
  readonly reruns: number;
}

/**
 * Independent mode without a group commit, for a batch with merged UPDATEs or DELETEs: sent in segments that end
 * at each merged statement, so that when one fails on its own content its members are re-run one by one before
 * anything after them runs — they may change the rows later statements read, so order is kept. A segment that lost
 * its connection or was refused by its node ends the batch: the statements after it are not sent, and fail with a
 * `BatchAbortedError` whose cause is that error.
 */
export async function runInOrder(
  plan: CoalescedBatch,
  statements: readonly PipelineStatement[],
  run: (statements: readonly BatchStatement[]) => Promise<BatchOutcome[]>,
  nodeLost: (error: Error) => boolean,
): Promise<InOrderOutcome> {
  const sent = plan.statements;
  const groups = plan.groups;
  const outcomes = new Array<BatchOutcome>(sent.length);
  const rerun = new Map<number, BatchOutcome[]>();
  let lost: Error | undefined;
  let from = 0;
  while (from < sent.length) {
    let to = from;
    while (to < sent.length - 1 && groups[to]!.length === 1) to++;
    const got = await run(from === 0 && to === sent.length - 1 ? sent : sent.slice(from, to + 1));
    got.forEach((outcome, k) => (outcomes[from + k] = outcome));
    lost = (got.find((outcome) => !outcome.ok && nodeLost(outcome.error)) as { error: Error } | undefined)?.error;
    const last = got[got.length - 1]!;
    if (lost === undefined && groups[to]!.length > 1 && !last.ok) {
      const again = await run(groups[to]!.map((index) => statements[index]!));
      rerun.set(to, again);
      lost = (again.find((outcome) => !outcome.ok && nodeLost(outcome.error)) as { error: Error } | undefined)?.error;
    }
    from = to + 1;
    if (lost !== undefined) break;
  }
  for (let s = from; s < sent.length; s++)
    outcomes[s] = { ok: false, error: new BatchAbortedError(groups[s]![0]!, { cause: lost }) };
  const perEntry = plan.expand(outcomes);
  for (const [s, again] of rerun) groups[s]!.forEach((index, k) => (perEntry[index] = again[k]!));
  return { outcomes, perEntry, reruns: rerun.size };
}
