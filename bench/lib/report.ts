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
