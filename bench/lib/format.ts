/**
 * The number formats of every benchmark's tables and notes. Cells carry their units, so rows of different kinds
 * (queries per second, per-statement cost) can share columns.
 */

/** What a cell shows when there is nothing to show (not measured, never happened). */
export const DASH = '—';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** `12,345`: rounded to a whole number, with thousands separators. */
export function formatInteger(value: number): string {
  return integer.format(value);
}

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

/** `0.42 ms`, `12.3 ms`, `2,004 ms`: three significant digits at most; a dash for nothing measured. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return DASH;
  if (Math.abs(ms) < 10) return `${ms.toFixed(2)} ms`;
  if (Math.abs(ms) < 100) return `${ms.toFixed(1)} ms`;
  return `${integer.format(ms)} ms`;
}

/** `0.97× pg.Pool`: a ratio against a named baseline. */
export function formatRatio(ratio: number, baseline: string): string {
  return `${ratio.toFixed(2)}× ${baseline}`;
}

/** `✓` for a target met, `✗` for one missed. */
export function mark(met: boolean): string {
  return met ? '✓' : '✗';
}

/** `≥ 0.95× pg.Pool ✓`: a target and whether the measured value meets it. */
export function formatTarget(target: string, met: boolean): string {
  return `${target} ${mark(met)}`;
}

/** `1 caller`, `32 callers`. */
export function callers(n: number): string {
  return `${n} caller${n === 1 ? '' : 's'}`;
}
