/**
 * Order statistics for benchmark samples. Latencies are summarised by percentiles, never by means, because a
 * single GC pause or scheduler hiccup on a shared machine would drag a mean far from what a caller sees.
 */

/**
 * The `p`-th percentile (0–100) of samples already sorted ascending, by the nearest-rank method, so the result
 * is always a value that was actually observed. `NaN` for no samples.
 */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * n);
  const index = Math.min(n - 1, Math.max(0, rank - 1));
  return sorted[index]!;
}

/**
 * Sorts `samples` ascending in place and returns it. Typed arrays sort numerically without a comparator,
 * which is several times faster than `Array#sort` with one on the ~10⁵ samples of a run.
 */
export function sortSamples(samples: Float64Array): Float64Array {
  return samples.sort();
}

/**
 * The median of a few values (rounds, repetitions): the middle one, or the mean of the two middle ones for an
 * even count. Does not modify `values`. `NaN` for none.
 */
export function median(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The median absolute deviation over the median: how far a typical round strays from the middle one, as a
 * fraction (0.03 = 3 %). Unlike a standard deviation, one wild round does not inflate it.
 */
export function relativeSpread(values: ArrayLike<number>): number {
  const middle = median(values);
  if (!(middle !== 0 && Number.isFinite(middle))) return Number.NaN;
  return median(Array.from(values, (v) => Math.abs(v - middle))) / Math.abs(middle);
}
