import type { AdaptiveBenchParams } from './params.js';
import type { AdaptiveRun } from './rounds.js';
import { percentileOfSorted } from '../lib/stats.js';

/** Width of one line of the trace, in ms. */
const STEP_MS = 100;

/**
 * A run's pool timeline, one line per {@link STEP_MS}: the phase, open / target / busy / waiting connections at
 * the line's first sample, the p99 of the requests due in it, and every resize with its reason. For explaining a
 * result, not for the README.
 */
export function formatTrace(run: AdaptiveRun, params: AdaptiveBenchParams): string {
  const { record } = run;
  const { schedule, samples, resizes, latencyMs } = record;
  const lines = [
    `adaptive, round ${run.round + 1}: t, phase, open/target/busy/waiting, p99 of requests due then, resizes`,
  ];
  let s = 0;
  let r = 0;
  let i = 0;
  for (let from = 0; from < record.windowMs; from += STEP_MS) {
    const to = from + STEP_MS;
    while (s + 1 < samples.length && samples[s + 1]!.atMs <= from) s++;
    const sample = samples[s]!;
    const due: number[] = [];
    while (i < schedule.dueMs.length && schedule.dueMs[i]! < to) {
      if (!Number.isNaN(latencyMs[i]!)) due.push(latencyMs[i]!);
      i++;
    }
    const phase = schedule.phaseStartsMs.findIndex(
      (start, k) => k + 1 < schedule.phaseStartsMs.length && from >= start && from < schedule.phaseStartsMs[k + 1]!,
    );
    const kind = phase < 0 ? 'drain' : params.phases[phase]!.kind;
    const p99 =
      due.length === 0
        ? ''
        : `p99 ${percentileOfSorted(Float64Array.from(due).sort(), 99).toFixed(1)} ms (${due.length})`;
    const changes: string[] = [];
    while (r < resizes.length && resizes[r]!.atMs < to) {
      const resize = resizes[r++]!;
      changes.push(`@${resize.atMs.toFixed(0)} ${resize.from}→${resize.to} ${resize.reason}`);
    }
    lines.push(
      `${String(from).padStart(6)} ms ${kind.padEnd(5)} ${sample.total}/${sample.target}/${sample.active}/${sample.waiting} ${p99}${changes.length > 0 ? `\n           ${changes.join('\n           ')}` : ''}`,
    );
  }
  return lines.join('\n');
}
