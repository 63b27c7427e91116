import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { QueryRouter } from '../src/index.js';
import type { MonitorServer } from '../src/index.js';
import { BROWSER_ARGS, findChromium } from './helpers/browser.js';

const primaryUrl = inject('primaryUrl');
const replicaUrls = inject('replicaUrls');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const found = await findChromium();
if ('missing' in found) {
  // Said loudly, never skipped in silence: the README's Development section says how to get a browser.
  process.stderr.write(
    `\n${'!'.repeat(100)}\n!! dashboard.browser.test.ts NOT RUN: ${found.missing}\n${'!'.repeat(100)}\n\n`,
  );
}
// Unique per run: other test files share the cluster and may run at the same time.
const table = `dashboard_load_${process.pid}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The p99 figure, in milliseconds, of a card's latency text such as `p50 0.52 ms · p99 1,210 ms`. */
function p99Of(text: string | null): number {
  const match = /p99 ([\d,.]+) ms/.exec(text ?? '');
  return match === null ? Number.NaN : Number(match[1]!.replaceAll(',', ''));
}

/** A displayed count such as `12,345` as a number. */
function count(text: string | null): number {
  return Number((text ?? '').replaceAll(',', ''));
}

describe.skipIf('missing' in found)(
  'the live dashboard in a real browser, on a real router',
  { timeout: 90_000 },
  () => {
    let router: QueryRouter;
    let monitor: MonitorServer;
    let browser: Browser;
    let page: Page;
    let loading = true;
    let load: Promise<void>;
    let loadError: unknown;
    let openedAt = 0;
    const pageErrors: string[] = [];

    /** Statements in a loop, throttled: the machine also runs the cluster and other tests. */
    async function loop(run: (i: number) => Promise<unknown>): Promise<void> {
      try {
        for (let i = 0; loading; i++) {
          await run(i);
          // A few hundred statements a second in all: enough for live rates, little CPU.
          if (i % 2 === 0) await sleep(10);
          else await new Promise(setImmediate);
        }
      } finally {
        loading = false;
      }
    }

    const card = (node: string, field: string) =>
      page.locator(`[data-testid="node-card"][data-node="${node}"] [data-testid="${field}"]`);

    beforeAll(async () => {
      if ('missing' in found) throw new Error(found.missing); // unreachable: the suite is skipped, loudly, above
      router = new QueryRouter({ primary: primaryUrl, replicas: replicaUrls, pool: { max: 4 } });
      await router.query(`CREATE TABLE IF NOT EXISTS ${table} (id serial PRIMARY KEY, n int NOT NULL)`);
      load = Promise.all([
        loop((i) => router.query('SELECT $1::int AS n', [i])),
        loop((i) => router.query('SELECT $1::int + 1 AS n', [i])),
        loop((i) => router.query(`INSERT INTO ${table} (n) VALUES ($1)`, [i])),
      ]).then(
        () => undefined,
        (error: unknown) => {
          loadError = error;
        },
      );
      monitor = await router.serve({ intervalMs: 250 });
      browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: BROWSER_ARGS });
      page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') pageErrors.push(message.text());
      });
      await page.goto(monitor.url);
      openedAt = Date.now();
    });

    afterAll(async () => {
      loading = false;
      await load;
      await browser?.close();
      await monitor?.close();
      await router?.query(`DROP TABLE IF EXISTS ${table}`);
      await router?.close();
    });

    it('shows one card per node', async () => {
      await expect.poll(() => page.getByTestId('node-card').count(), { timeout: 20_000 }).toBe(3);
      const nodes = await page
        .getByTestId('node-card')
        .evaluateAll((cards) => cards.map((card) => card.getAttribute('data-node')));
      expect(nodes).toEqual(['primary', 'replica-0', 'replica-1']);
      expect(await card('primary', 'node-role').textContent()).toBe('primary');
      expect(await card('replica-1', 'node-role').textContent()).toBe('replica');
      expect(await card('replica-0', 'node-health').textContent()).toBe('healthy');
      expect(await card('primary', 'node-breaker').textContent()).toBe('breaker closed');
      // Replica lag is a replica's figure: shown on replica cards once measured, never on the primary's.
      await expect.poll(() => card('replica-0', 'node-lag').isVisible(), { timeout: 20_000 }).toBe(true);
      expect(await card('replica-0', 'node-lag').textContent()).toMatch(/ms|µs|unknown/);
      expect(await card('primary', 'node-lag').isVisible()).toBe(false);
      // The URL shown is the router's label: host, port and database, never the password.
      const url = await card('primary', 'node-url').textContent();
      expect(url).toContain(new URL(primaryUrl).port);
      if (new URL(primaryUrl).password) expect(url).not.toContain(new URL(primaryUrl).password);
    });

    it('says the cluster is healthy in the header', async () => {
      await expect.poll(() => page.getByTestId('health-status').textContent(), { timeout: 20_000 }).toBe('ok');
      expect(await page.getByTestId('connection').textContent()).toBe('live');
    });

    it('updates statement counts and rates live', async () => {
      // A rate needs two snapshots; wait for one on each node.
      for (const node of ['primary', 'replica-0', 'replica-1']) {
        await expect
          .poll(async () => count(await card(node, 'node-rate').textContent()), { timeout: 20_000 })
          .toBeGreaterThan(0);
      }
      const before = count(await card('primary', 'node-queries').textContent());
      const replicaBefore = count(await card('replica-0', 'node-queries').textContent());
      // The page redraws on its own as the router's counts grow; no assumption about how soon.
      await expect
        .poll(async () => count(await card('primary', 'node-queries').textContent()), { timeout: 20_000 })
        .toBeGreaterThan(before);
      await expect
        .poll(async () => count(await card('replica-0', 'node-queries').textContent()), { timeout: 20_000 })
        .toBeGreaterThan(replicaBefore);
      expect(count(await page.getByTestId('routing-replica').textContent())).toBeGreaterThan(0);
      expect(await page.getByTestId('routing-reads-on-primary').textContent()).toBe('no');
      // The charts draw a line per node.
      expect(await page.locator('[data-testid="chart-rate"] polyline').count()).toBe(3);
      expect(
        await page.locator('[data-testid="chart-rate"] polyline[data-node="primary"]').getAttribute('points'),
      ).toMatch(/\d/);
    });

    it("shows the last minute's percentiles on each card, next to the since-start ones", async () => {
      for (const node of ['primary', 'replica-0', 'replica-1']) {
        await expect
          .poll(() => card(node, 'node-latency-recent').textContent(), { timeout: 20_000 })
          .toMatch(/^p50 [\d,.]+ ms · p99 [\d,.]+ ms$/);
        expect(await card(node, 'node-latency-recent-label').textContent()).toBe('latency, last minute');
        expect(await card(node, 'node-latency').textContent()).toMatch(/^p50 [\d,.]+ ms · p99 [\d,.]+ ms$/);
      }
      expect(await page.getByTestId('chart-latency-title').textContent()).toMatch(/^Recent p99 latency/);
    });

    it('labels both chart axes with round values and times', async () => {
      for (const [chart, unit] of [
        ['chart-rate', /^\d[\d,.]*\/s$/],
        ['chart-latency', /^\d[\d,.]* ms$/],
      ] as const) {
        const yTicks = page.locator(`[data-testid="${chart}-y-axis"] [data-testid="y-tick"]`);
        await expect.poll(() => yTicks.count(), { timeout: 20_000 }).toBeGreaterThan(2);
        const labels = await yTicks.allTextContents();
        expect(labels[0]).toMatch(/^0( ms|\/s)$/);
        for (const label of labels) expect(label).toMatch(unit);
        // Evenly spaced: every step is the same.
        const values = labels.map((label) => Number(label.replace(/[^\d.]/g, '')));
        const steps = values.slice(1).map((v, i) => v - values[i]!);
        for (const step of steps) expect(step).toBeCloseTo(steps[0]!, 6);
        expect(await page.locator(`[data-testid="${chart}-x-axis"] [data-testid="x-tick"]`).allTextContents()).toEqual([
          '−60 s',
          '−45 s',
          '−30 s',
          '−15 s',
          'now',
        ]);
      }
    });

    it('tells series apart by dash pattern and marker, not colour alone, and keeps a legend', async () => {
      for (const chart of ['chart-rate', 'chart-latency']) {
        const lines = page.locator(`[data-testid="${chart}"] polyline`);
        await expect.poll(() => lines.count(), { timeout: 20_000 }).toBe(3);
        const dashes = await lines.evaluateAll((all) => all.map((line) => line.getAttribute('stroke-dasharray')));
        expect(new Set(dashes).size).toBe(3);
        // Lines that coincide are still both drawn: the dashed one leaves gaps the solid one shows through,
        // and their markers have different shapes.
        const markers = await page
          .locator(`[data-testid="${chart}"] g.markers`)
          .evaluateAll((groups) => groups.map((group) => group.firstElementChild?.outerHTML.split(' ')[0] ?? ''));
        expect(markers).toHaveLength(3);
      }
      const legend = page.getByTestId('legend-item');
      expect(await legend.allTextContents()).toEqual(['primary', 'replica-0', 'replica-1']);
      const legendDashes = await legend.evaluateAll((items) =>
        items.map((item) => item.querySelector('line')?.getAttribute('stroke-dasharray')),
      );
      const chartDashes = await page
        .locator('[data-testid="chart-rate"] polyline')
        .evaluateAll((all) => all.map((line) => line.getAttribute('stroke-dasharray')));
      expect(legendDashes).toEqual(chartDashes);
    });

    it('moves the recent p99 after a slow spell while the since-start p99 keeps it', { timeout: 150_000 }, async () => {
      // A router of its own, primary only and otherwise idle, so the slow spell is a known share of its statements.
      const quiet = new QueryRouter({ primary: primaryUrl, pool: { max: 4 } });
      const quietMonitor = await quiet.serve({ intervalMs: 250 });
      const quietPage = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      quietPage.on('pageerror', (error) => pageErrors.push(error.message));
      let fast = true;
      let fastLoad: Promise<void> = Promise.resolve();
      try {
        await quietPage.goto(quietMonitor.url);
        const recent = quietPage.locator(
          '[data-testid="node-card"][data-node="primary"] [data-testid="node-latency-recent"]',
        );
        const sinceStart = quietPage.locator(
          '[data-testid="node-card"][data-node="primary"] [data-testid="node-latency"]',
        );
        // 40 statements of 200 ms each.
        await Promise.all(Array.from({ length: 40 }, () => quiet.query('SELECT pg_sleep(0.2)')));
        // Then fast ones, throttled to about ten a second: over the next minute the slow spell stays above 1 %
        // of everything since start, so the since-start p99 keeps it.
        fastLoad = (async () => {
          while (fast) {
            await quiet.query('SELECT 1 AS n');
            await sleep(100);
          }
        })();
        await expect
          .poll(async () => p99Of(await recent.textContent()), { timeout: 20_000 })
          .toBeGreaterThanOrEqual(150);
        expect(p99Of(await sinceStart.textContent())).toBeGreaterThanOrEqual(150);
        // Once the spell is out of the window (50 to 60 s later), the card shows the fast statements only.
        await expect
          .poll(async () => p99Of(await recent.textContent()), { timeout: 100_000, interval: 1_000 })
          .toBeLessThan(50);
        expect(p99Of(await sinceStart.textContent())).toBeGreaterThanOrEqual(150);
        const stats = quiet.stats().nodes[0]!;
        expect(stats.latencyP99Ms).toBeGreaterThanOrEqual(150);
        expect(stats.recentLatencyP99Ms).toBeLessThan(50);
      } finally {
        fast = false;
        await fastLoad;
        await quietPage.close();
        await quietMonitor.close();
        await quiet.close();
      }
    });

    it('ran without script errors or failed statements, and leaves a screenshot', async () => {
      expect(pageErrors).toEqual([]);
      expect(loadError).toBeUndefined();
      const artifacts = join(root, 'test-artifacts');
      // The README's copy (docs/dashboard.png) is refreshed only on request, so a test run leaves the tree clean.
      const docs = process.env['UPDATE_SCREENSHOT'] === '1' ? join(root, 'docs') : undefined;
      await mkdir(artifacts, { recursive: true });
      // Some history in the charts makes the README's picture readable (only worth the wait for the README's copy).
      if (docs !== undefined) await sleep(Math.max(0, openedAt + 12_000 - Date.now()));
      const image = await page.screenshot({ fullPage: true });
      await writeFile(join(artifacts, 'dashboard.png'), image);
      if (docs !== undefined) await writeFile(join(docs, 'dashboard.png'), image);
    });
  },
);
