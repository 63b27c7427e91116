/**
 * Markdown tables: the generic renderer every benchmark prints with, and the results table of `bench:router`
 * and `bench:orms`, whose rows of different kinds share columns because their cells carry their units.
 */
import { formatMicros, formatRate } from './format.js';

/** How a column is aligned. */
export type Align = 'left' | 'right';

/** A GitHub-flavoured Markdown table, padded so the raw text also reads in a terminal. */
export function renderMarkdownTable(
  headers: readonly string[],
  aligns: readonly Align[],
  rows: readonly (readonly string[])[],
): string {
  const escape = (text: string): string => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  const cells = rows.map((row) => headers.map((_, i) => escape(row[i] ?? '')));
  // `×`, `µ`, `—`, `✓`, `≥` are one UTF-16 unit each, so `length` is the display width and the padding lines up.
  const widths = headers.map((title, i) => Math.max(title.length, 3, ...cells.map((row) => row[i]!.length)));
  const pad = (text: string, i: number): string =>
    aligns[i] === 'right' ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const line = (values: readonly string[]): string => `| ${values.map(pad).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (aligns[i] === 'right' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(headers), rule, ...cells.map(line)].join('\n');
}

/** One line of the results table; a missing cell is left blank. */
export interface TableRow {
  /** What is measured, e.g. `SELECT $1::int, 32 callers`. */
  readonly benchmark: string;
  /** Who is measured, e.g. `router.query` or `pg.Pool#query`. */
  readonly contender: string;
  /** Queries (or lookups) per second, with the unit. */
  readonly throughput?: string;
  /** Median latency or cost, with the unit. */
  readonly p50?: string;
  /** A high percentile, labelled (`p99 …`, `p95 …`). */
  readonly tail?: string;
  /** CPU time of the benchmark process per query, with the unit. */
  readonly cpu?: string;
  /** A ratio or difference against the named baseline. */
  readonly ratio?: string;
  /** The target from the issue and whether it was met. */
  readonly target?: string;
}

type Column = readonly [key: keyof TableRow, title: string, align: Align];

const COLUMNS: readonly Column[] = [
  ['benchmark', 'Benchmark', 'left'],
  ['contender', 'Contender', 'left'],
  ['throughput', 'Throughput', 'right'],
  ['p50', 'p50', 'right'],
  ['tail', 'Tail', 'right'],
  ['cpu', 'Client CPU/query', 'right'],
  ['ratio', 'Ratio', 'right'],
  ['target', 'Target', 'left'],
];

/** The column titles, in order (the smoke test checks them). */
export const TABLE_COLUMNS: readonly string[] = COLUMNS.map(([, title]) => title);

/** Renders `rows` as the results table. */
export function renderTable(rows: readonly TableRow[]): string {
  return renderMarkdownTable(
    TABLE_COLUMNS,
    COLUMNS.map(([, , align]) => align),
    rows.map((row) => COLUMNS.map(([key]) => row[key] ?? '')),
  );
}

/** The measured cells of a table row, from a contender's summary over rounds. */
export function measuredCells(summary: {
  qps: number;
  qpsSpread: number;
  p50Us: number;
  p99Us: number;
  cpuUsPerQuery: number;
}): Pick<TableRow, 'throughput' | 'p50' | 'tail' | 'cpu'> {
  return {
    throughput: formatRate(summary.qps, 'q/s', summary.qpsSpread),
    p50: formatMicros(summary.p50Us),
    tail: `p99 ${formatMicros(summary.p99Us)}`,
    cpu: formatMicros(summary.cpuUsPerQuery),
  };
}
