/**
 * The one Markdown table the benchmark prints, and the number formats used in its cells. Cells carry their
 * units, so rows of different kinds (queries per second, per-statement classification cost) share columns.
 */

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

type Column = readonly [key: keyof TableRow, title: string, align: 'left' | 'right'];

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

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/**
 * Renders `rows` as a GitHub-flavoured Markdown table, padded so the raw text is readable in a terminal too.
 */
export function renderTable(rows: readonly TableRow[]): string {
  const cells = rows.map((row) => COLUMNS.map(([key]) => escapeCell(row[key] ?? '')));
  // `×`, `µ`, `−`, `✓` are one UTF-16 unit each, so `length` is the display width and the padding lines up.
  const widths = COLUMNS.map(([, title], i) => Math.max(title.length, 3, ...cells.map((line) => line[i]!.length)));
  const pad = (text: string, i: number): string =>
    COLUMNS[i]![2] === 'right' ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const line = (values: readonly string[]): string => `| ${values.map(pad).join(' | ')} |`;
  const rule = `| ${COLUMNS.map(([, , align], i) => (align === 'right' ? `${'-'.repeat(widths[i]! - 1)}:` : '-'.repeat(widths[i]!))).join(' | ')} |`;
  return [line(COLUMNS.map(([, title]) => title)), rule, ...cells.map(line)].join('\n');
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/**
 * `12,345 q/s`: a rate rounded to a whole number, with its unit; with `spread` (a fraction, see
 * `relativeSpread`), `12,345 q/s ±3%`.
 */
export function formatRate(perSecond: number, unit = 'q/s', spread?: number): string {
  const rate = `${integer.format(perSecond)} ${unit}`;
  return spread === undefined || !Number.isFinite(spread) ? rate : `${rate} ±${Math.round(spread * 100)}%`;
}

/** `45.2 µs` below 100 µs, `1,234 µs` above: three significant digits are all the noise allows. */
export function formatMicros(us: number): string {
  return Math.abs(us) < 100 ? `${us.toFixed(1)} µs` : `${integer.format(us)} µs`;
}

/** `+4.1 µs` / `−2.0 µs`: a latency difference with its sign. */
export function formatMicrosDelta(us: number): string {
  return `${us < 0 ? '−' : '+'}${formatMicros(Math.abs(us))}`;
}

/** `215 ns`: a per-operation cost below a microsecond. */
export function formatNanos(ns: number): string {
  return ns < 1000 ? `${integer.format(ns)} ns` : formatMicros(ns / 1000);
}

/** `0.97× pg.Pool`: a ratio against a named baseline. */
export function formatRatio(ratio: number, baseline: string): string {
  return `${ratio.toFixed(2)}× ${baseline}`;
}

/** `≥ 0.95× pg.Pool ✓`: a target and whether the measured value meets it. */
export function formatTarget(target: string, met: boolean): string {
  return `${target} ${met ? '✓' : '✗'}`;
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
