import type { Metric, Registry } from 'prom-client';
import type { LatencyHistogram } from './latency-histogram.js';

/** Longest bucket bound exported: beyond the default statement timeout, everything is `+Inf`. */
const MAX_BOUND_MS = 60_000;

/**
 * A Prometheus histogram (in seconds) rendered at scrape time from {@link LatencyHistogram}s that the pools keep
 * anyway, so a statement is observed once, not once for `stats()` and again for Prometheus. Buckets are the
 * histogram's doublings from 10 µs to ~42 s: exact, since they are its own bucket boundaries. Registered on a
 * prom-client `Registry` like any metric (prom-client takes any object of its metric shape).
 */
export class HistogramExport {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series: {
    readonly labels: Readonly<Record<string, string>>;
    readonly histogram: Readonly<LatencyHistogram>;
  }[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** Exports `histogram` under `labels` from now on. */
  add(labels: Readonly<Record<string, string>>, histogram: Readonly<LatencyHistogram>): void {
    this.series.push({ labels: { ...labels }, histogram });
  }

  /** prom-client's metric interface: cumulative buckets, sum and count of every series, in seconds. */
  get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: { labels: Record<string, string | number>; value: number; metricName: string }[];
  }> {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const { labels, histogram } of this.series) {
      for (const { leMs, count } of histogram.doublings(MAX_BOUND_MS)) {
        // Six significant digits: 0.01 ms · 2^k in seconds, without binary floating-point tails in the label.
        values.push({
          labels: { ...labels, le: Number((leMs / 1000).toPrecision(6)) },
          value: count,
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({ labels: { ...labels, le: '+Inf' }, value: histogram.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...labels }, value: histogram.sumMs / 1000, metricName: `${this.name}_sum` });
      values.push({ labels: { ...labels }, value: histogram.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** prom-client's `resetMetrics()`: the pools' histograms are not this metric's to reset. */
  reset(): void {}
}
