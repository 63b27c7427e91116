import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, QueryRouter } from '../src/index.js';
import { sharedCluster } from './helpers/cluster.js';

const cluster = sharedCluster();
const TOKEN = 'a-monitor-token-of-32-characters';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closed(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe('the monitor mounted in an app of your own (router.monitorHandler())', () => {
  let router: QueryRouter;
  beforeAll(async () => {
    router = new QueryRouter({ primary: cluster.primaryUrl, replicas: [...cluster.replicaUrls] });
    await router.query('SELECT 1');
  });
  afterAll(async () => {
    await router.close();
  });

  it('serves every route under an Express mount path and leaves the app its other paths', async () => {
    const app = express();
    app.use('/monitor', router.monitorHandler());
    app.get('/hello', (_req, res) => void res.send('hello from the app'));
    const server = createServer(app);
    const base = await listen(server);
    try {
      const bare = await fetch(`${base}/monitor`, { redirect: 'manual' });
      expect(bare.status).toBe(308);
      expect(bare.headers.get('location')).toBe('/monitor/');
      const page = await fetch(`${base}/monitor/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<!doctype html>');
      const metrics = await (await fetch(`${base}/monitor/metrics`)).text();
      expect(metrics).toContain('pgrouter_statements_total');
      const stats = (await (await fetch(`${base}/monitor/stats`)).json()) as { nodes: unknown[] };
      expect(stats.nodes).toHaveLength(3);
      expect(((await (await fetch(`${base}/monitor/health`)).json()) as { status: string }).status).toBe('ok');
      expect(await (await fetch(`${base}/hello`)).text()).toBe('hello from the app');
      // Not a monitor route: Express's own 404, not the monitor's JSON.
      const unknown = await fetch(`${base}/monitor/nothing-here`);
      expect(unknown.status).toBe(404);
      expect(unknown.headers.get('content-type')).not.toContain('json');
    } finally {
      await closed(server);
    }
  });

  it('serves under basePath in a plain node:http server, with its own token, and the router closes its streams', async () => {
    const own = new QueryRouter({ primary: cluster.primaryUrl });
    const handler = own.monitorHandler({ basePath: '/ops', auth: TOKEN, intervalMs: 50 });
    const server = createServer((req, res) => handler(req, res));
    const base = await listen(server);
    try {
      expect((await fetch(`${base}/ops/metrics`)).status).toBe(401);
      const authorized = { headers: { authorization: `Bearer ${TOKEN}` } };
      expect((await fetch(`${base}/ops/metrics`, authorized)).status).toBe(200);
      expect((await fetch(`${base}/elsewhere`, authorized)).status).toBe(404);
      const events = await fetch(`${base}/ops/events`, authorized);
      expect(events.headers.get('content-type')).toContain('text/event-stream');
      const reader = events.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      expect(first).toContain('data: {');
      await own.close();
      // The router's close() ended the stream: reading reaches its end.
      for (;;) if ((await reader.read()).done) break;
    } finally {
      await own.close();
      await closed(server);
    }
  });

  it('refuses bad options with a ConfigError naming them', () => {
    expect(() => router.monitorHandler({ basePath: 'monitor' })).toThrow(ConfigError);
    expect(() => router.monitorHandler({ basePath: '/monitor/' })).toThrow(/basePath/);
    expect(() => router.monitorHandler({ auth: 'short' })).toThrow(/monitorHandler\.auth/);
    expect(() => router.monitorHandler({ port: 80 } as never)).toThrow(/monitorHandler\.port/);
  });
});
