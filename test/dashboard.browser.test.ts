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
