import type CircuitBreaker from 'opossum';

/** A bucket of opossum's rolling window: the counts its `stats` add up. */
interface WindowBucket {
  fires: number;
  successes: number;
}

/**
 * The live rolling window of `breaker`'s counts (newest bucket first), or `undefined` where opossum does not keep
 * one as this code expects (another major version). The only place that reaches into opossum's private members.
 *
 * Why: opossum counts a call through two events ('fire', then 'success'), each with its listener, and keeps every
 * call's latency in an array of the bucket even with rolling percentiles off. At tens of thousands of statements a
 * second that array and those events cost more than the rest of the breaker; counting into the bucket directly
 * keeps opossum's window, thresholds and state the authority, without either.
 */
export function rollingWindow(breaker: CircuitBreaker<never[], unknown>): readonly WindowBucket[] | undefined {
  const status = breaker.status as unknown as Record<symbol, unknown> | undefined;
  if (typeof status !== 'object' || status === null) return undefined;
  const symbol = Object.getOwnPropertySymbols(status).find((s) => s.description === 'window');
  const window = symbol === undefined ? undefined : status[symbol];
  // The same array opossum rotates in place (its `window` getter hands out copies of it).
  if (!Array.isArray(window) || window.length === 0 || breaker.status.window[0] !== window[0]) return undefined;
  const bucket = window[0] as Partial<WindowBucket> | undefined;
  if (typeof bucket?.fires !== 'number' || typeof bucket.successes !== 'number') return undefined;
  return window as WindowBucket[];
}
