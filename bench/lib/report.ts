import { loadavg } from 'node:os';
import type { Environment } from './environment.js';
import { mark } from './format.js';
import type { TableRow } from './table.js';

/** One target from the issue, checked against the measured value. */
export interface TargetOutcome {
  /** What the target is, e.g. `router q/s ≥ 0.95× pg.Pool#query at 32 callers (SELECT $1::int)`. */
  readonly name: string;
  readonly met: boolean;
  /** The measured value, formatted, e.g. `0.97×`. */
  readonly measured: string;
}

/** What each measurement hands to the entry point: its table rows, its targets and any note worth printing. */
export interface Measurement {
  readonly rows: readonly TableRow[];
  readonly targets: readonly TargetOutcome[];
  /** Lines printed under the table (e.g. why a target was missed). */
  readonly notes: readonly string[];
}

/** Appended to a header's title on a quick run. */
export function quickRunTitle(quick: boolean): string {
  return quick ? ' (BENCH_QUICK: smoke run, numbers not meaningful)' : '';
}

/** `lines` as a Markdown list, one item per line. */
export function bulletList(lines: readonly string[]): string {
  return lines.map((line) => `- ${line}`).join('\n');
}

/** `Targets met: 3 of 4.` */
export function targetsMet(targets: readonly TargetOutcome[]): string {
  return `Targets met: ${targets.filter((t) => t.met).length} of ${targets.length}.`;
}

/** The targets as Markdown list items: `- ✓ name: measured`. */
export function targetLines(targets: readonly TargetOutcome[]): string[] {
  return targets.map((t) => `- ${mark(t.met)} ${t.name}: ${t.measured}`);
}

/**
 * `Total run time 42 s; 1-minute load 0.50 at start, 1.20 at the end.` for a run that began at `startedMs`
 * (`performance.now()`). With `flagBusy`, a load above the CPU count at either end is called out.
 */
export function runTimeNote(startedMs: number, environment: Environment, flagBusy = false): string {
  const seconds = (performance.now() - startedMs) / 1000;
  const endLoad = loadavg()[0] ?? 0;
  const busy = flagBusy && Math.max(environment.loadAverage, endLoad) > environment.cpus;
  return (
    `Total run time ${seconds.toFixed(0)} s; 1-minute load ${environment.loadAverage.toFixed(2)} at start, ${endLoad.toFixed(2)} at the end` +
    (busy ? ` (above ${environment.cpus}: other work competed for the CPUs).` : '.')
  );
}
