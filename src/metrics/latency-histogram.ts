/**
 * A histogram of durations in fixed logarithmic buckets: constant memory and an O(1) `observe`, whatever the
 * traffic, with quantiles accurate to the bucket width (≈19 % with 4 buckets per doubling, ≈41 % with 2).
 * Buckets start at 10 µs and end at ~10 minutes; longer values land in the last bucket.
 */
export class LatencyHistogram {
  /** Upper bound of bucket 0, in milliseconds. */
  private static readonly FLOOR_MS = 0.01;
  private readonly counts: Uint32Array;
  private readonly perDoubling: number;
  count = 0;
  /** Sum of every observed value, in milliseconds. */
  sumMs = 0;

  /** @param bucketsPerDoubling resolution: 4 (default) for node latencies, 2 where many histograms are kept. */
  constructor(bucketsPerDoubling = 4) {
    this.perDoubling = bucketsPerDoubling;
    // 10 µs · 2^26 ≈ 11 minutes.
    this.counts = new Uint32Array(26 * bucketsPerDoubling + 1);
  }

  /** Records one duration in milliseconds (negative and NaN values count as 0). */
  observe(ms: number): void {
    const value = ms > 0 ? ms : 0;
    let index =
      value <= LatencyHistogram.FLOOR_MS
        ? 0
        : Math.ceil(Math.log2(value / LatencyHistogram.FLOOR_MS) * this.perDoubling);
    if (index >= this.counts.length) index = this.counts.length - 1;
    this.counts[index]!++;
    this.count++;
    this.sumMs += value;
  }

  /** Mean in milliseconds; 0 when empty. */
  get meanMs(): number {
    return this.count === 0 ? 0 : this.sumMs / this.count;
  }

  /**
   * The `q` quantile (0–1) in milliseconds, as the upper bound of the bucket holding it (so never an
   * underestimate by more than one bucket); 0 when empty.
   */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(Math.min(1, Math.max(0, q)) * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return this.upperBound(i);
    }
    return this.upperBound(this.counts.length - 1);
  }

  /**
   * Cumulative counts at every doubling of the floor (10 µs, 20 µs, 40 µs, …) up to `maxMs`: bucket boundaries,
   * so each count is exact. This is the histogram in Prometheus' shape (`le` buckets).
   */
  doublings(maxMs: number): { readonly leMs: number; readonly count: number }[] {
    const result: { leMs: number; count: number }[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.counts.length; i++) {
      cumulative += this.counts[i]!;
      if (i % this.perDoubling !== 0) continue;
      const leMs = this.upperBound(i);
      if (leMs > maxMs) break;
      result.push({ leMs, count: cumulative });
    }
    return result;
  }

  /** Adds every observation of `other` (same resolution) to this one, as if it had been observed here too. */
  add(other: LatencyHistogram): void {
    if (other.counts.length !== this.counts.length) throw new RangeError('histograms of different resolutions');
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sumMs += other.sumMs;
  }

  /** Forgets everything observed. */
  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sumMs = 0;
  }

  private upperBound(index: number): number {
    return LatencyHistogram.FLOOR_MS * 2 ** (index / this.perDoubling);
  }
}

/**
 * A {@link LatencyHistogram} of recent observations only: the window is cut into equal slices, each its own
 * histogram, and a slice is emptied when the clock comes back round to it. A snapshot merges the slices still in
 * the window, so it covers between `windowMs − windowMs / slices` and `windowMs` of history (50–60 s by default):
 * what is slow now, where a since-start histogram keeps an old stall forever. `observe` stays O(1) and
 * allocation-free; memory is `slices + 1` histograms.
 */
export class WindowedLatencyHistogram {
  /** Length of the window, in milliseconds. */
  readonly windowMs: number;
  private readonly sliceMs: number;
  private readonly slices: LatencyHistogram[];
  /** The clock's slice number each slice holds (`NaN`: never used), so a stale slice is known without a timer. */
  private readonly sliceOf: Float64Array;
  private readonly merged: LatencyHistogram;
  private readonly now: () => number;

  /**
   * @param windowMs length of the window, in milliseconds (default 60 000).
   * @param slices how many slices cut it (default 6): more is smoother ageing, at one histogram each.
   * @param now a monotonic clock in milliseconds (default `performance.now`); tests pass a fake one.
   */
  constructor(windowMs = 60_000, slices = 6, now: () => number = () => performance.now()) {
    this.windowMs = windowMs;
    this.sliceMs = windowMs / slices;
    this.slices = Array.from({ length: slices }, () => new LatencyHistogram());
    this.sliceOf = new Float64Array(slices).fill(Number.NaN);
    this.merged = new LatencyHistogram();
    this.now = now;
  }

  /** Records one duration in milliseconds, at `now` (default: the clock's time now). */
  observe(ms: number, now: number = this.now()): void {
    const slice = Math.floor(now / this.sliceMs);
    const index = slice % this.slices.length;
    if (this.sliceOf[index] !== slice) {
      // Last used a whole window (or more) ago: what it holds is no longer recent.
      this.slices[index]!.reset();
      this.sliceOf[index] = slice;
    }
    this.slices[index]!.observe(ms);
  }

  /**
   * The observations of the window as one histogram (`quantile`, `meanMs`, `count`): a view that the next
   * `snapshot()` overwrites, so read what you need from it first.
   */
  snapshot(): Readonly<LatencyHistogram> {
    const current = Math.floor(this.now() / this.sliceMs);
    this.merged.reset();
    for (let i = 0; i < this.slices.length; i++) {
      // NaN (never used) fails the comparison, so an unused slice is never counted.
      if (this.sliceOf[i]! > current - this.slices.length) this.merged.add(this.slices[i]!);
    }
    return this.merged;
  }
}
