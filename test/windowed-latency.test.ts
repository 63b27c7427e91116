import { describe, expect, it } from 'vitest';
import { WindowedLatencyHistogram } from '../src/metrics/latency-histogram.js';

/** A window of 60 s in six 10 s slices, on a clock the test moves by hand. */
function windowed() {
  const clock = { now: 1_000_000 };
  const histogram = new WindowedLatencyHistogram(60_000, 6, () => clock.now);
  return { clock, histogram };
}

describe('WindowedLatencyHistogram', () => {
  it('is empty before anything is observed', () => {
    const { histogram } = windowed();
    expect(histogram.snapshot().count).toBe(0);
    expect(histogram.snapshot().quantile(0.99)).toBe(0);
  });

  it('reports what was observed within the window', () => {
    const { clock, histogram } = windowed();
    for (let i = 0; i < 99; i++) histogram.observe(1);
    histogram.observe(500);
    clock.now += 30_000;
    const snapshot = histogram.snapshot();
    expect(snapshot.count).toBe(100);
    // Upper bounds of log buckets (4 per doubling): within 19 % above the value.
    expect(snapshot.quantile(0.5)).toBeGreaterThanOrEqual(1);
    expect(snapshot.quantile(0.5)).toBeLessThan(1.19);
    expect(snapshot.quantile(1)).toBeGreaterThanOrEqual(500);
  });

  it('forgets a slow spell once a whole window has passed, slice by slice', () => {
    const { clock, histogram } = windowed();
    for (let i = 0; i < 10; i++) histogram.observe(800); // the slow spell
    clock.now += 30_000;
    for (let i = 0; i < 10; i++) histogram.observe(2);
    expect(histogram.snapshot().quantile(0.99)).toBeGreaterThanOrEqual(800);
    expect(histogram.snapshot().count).toBe(20);
    // 60 s after the spell's slice began, it is out; the fast ones (30 s old) are still in.
    clock.now += 30_000;
    expect(histogram.snapshot().count).toBe(10);
    expect(histogram.snapshot().quantile(0.99)).toBeLessThan(2.4);
    clock.now += 30_000;
    expect(histogram.snapshot().count).toBe(0);
    expect(histogram.snapshot().quantile(0.99)).toBe(0);
  });

  it('covers between 50 and 60 s of history', () => {
    const { clock, histogram } = windowed();
    clock.now = 60_000; // the start of a slice
    histogram.observe(5);
    clock.now += 59_999;
    expect(histogram.snapshot().count).toBe(1);
    clock.now += 1;
    expect(histogram.snapshot().count).toBe(0);
    clock.now = 69_999; // the end of the same slice
    histogram.observe(5);
    clock.now += 50_000;
    expect(histogram.snapshot().count).toBe(2);
    clock.now += 1;
    expect(histogram.snapshot().count).toBe(0);
  });

  it('reuses a slice when the clock comes back round to it, dropping what it held', () => {
    const { clock, histogram } = windowed();
    histogram.observe(100);
    clock.now += 60_000; // same slice index, next lap
    histogram.observe(1);
    const snapshot = histogram.snapshot();
    expect(snapshot.count).toBe(1);
    expect(snapshot.sumMs).toBe(1);
  });
});
