import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { QueryRouter } from '../src/index.js';
import { sharedCluster } from './helpers/cluster.js';
import { until } from './helpers/wait.js';

const cluster = sharedCluster();

interface Target {
  readonly expr: string;
}
interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly { readonly title: string; readonly targets: readonly Target[] }[];
}

const dashboard = JSON.parse(
  readFileSync(new URL('../docs/grafana-dashboard.json', import.meta.url), 'utf8'),
) as Dashboard;

/** Each metric of `text` (Prometheus' exposition format) with the labels its samples carry. */
function exposed(text: string): Map<string, Set<string>> {
  const metrics = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type !== null) {
      metrics.set(type[1]!, new Set());
      continue;
    }
    const sample = /^([a-z_:]+?)(?:_bucket|_sum|_count)?\{([^}]*)\}/.exec(line);
    if (sample === null) continue;
    const labels = metrics.get(sample[1]!) ?? metrics.get(line.split('{')[0]!);
    for (const pair of sample[2]!.split(/,(?=[a-z_]+=)/)) labels?.add(pair.split('=')[0]!);
  }
  return metrics;
}

describe('the Grafana dashboard in docs/', () => {
  it('uses only metrics and labels that /metrics exposes', async () => {
    const router = new QueryRouter({ primary: cluster.primaryUrl, replicas: [...cluster.replicaUrls] });
    try {
      // Traffic of every kind, so every metric has samples to show its labels.
      await router.query('SELECT $1::int', [1]);
      await router.query('SELECT 1', [], { route: 'primary' });
      await router.query('SELEC 1').catch(() => undefined);
      await router.session(async () => router.query('SELECT 1'));
      const pipeline = router.pipeline();
      await pipeline.addQuery('SELECT 1');
      await pipeline.close();
      // Replica lag has samples once a health round measured it.
      await until(
        () =>
          router
            .stats()
            .nodes.slice(1)
            .every((node) => node.lagMs !== null),
        30_000,
      );
      const metrics = exposed(await router.metricsText());
      // A labelled counter nothing has counted yet has no samples: its declared labels count too.
      for (const [name, labels] of metrics) {
        const declared = (router.metrics.getSingleMetric(name) as { labelNames?: readonly string[] } | undefined)
          ?.labelNames;
        for (const label of declared ?? []) labels.add(label);
      }
      expect(dashboard.uid).toBe('pg-query-router');
      expect(dashboard.panels.length).toBeGreaterThan(10);
      const used = new Set<string>();
      for (const panel of dashboard.panels) {
        expect(panel.targets.length, panel.title).toBeGreaterThan(0);
        for (const { expr } of panel.targets) {
          const names = [...expr.matchAll(/pgrouter_[a-z_]+/g)].map(([name]) =>
            metrics.has(name) ? name : name.replace(/_(bucket|sum|count)$/, ''),
          );
          for (const name of names) {
            expect(metrics.has(name), `${panel.title}: ${name}`).toBe(true);
            used.add(name);
          }
          // Labels grouped by or matched on must be on the metric (job is Prometheus' own; le is a histogram's).
          const grouped = [...expr.matchAll(/by \(([^)]*)\)/g)].flatMap(([, list]) => list!.split(/,\s*/));
          const matched = [...expr.matchAll(/([a-z_]+)=~?"/g)].map(([, label]) => label!);
          for (const label of [...grouped, ...matched]) {
            if (label === 'job' || label === 'le') continue;
            expect(
              names.some((name) => metrics.get(name)?.has(label)),
              `${panel.title}: label ${label} on ${names.join(', ')}`,
            ).toBe(true);
          }
        }
      }
      // Most of what the router exports is on the dashboard.
      expect(used.size).toBeGreaterThanOrEqual(25);
    } finally {
      await router.close();
    }
  });
});
