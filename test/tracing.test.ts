import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, QueryRouter } from '../src/index.js';
import { RouterTracing } from '../src/metrics/tracing.js';
import { sharedCluster } from './helpers/cluster.js';

const cluster = sharedCluster();
const primaryPort = Number(new URL(cluster.primaryUrl).port);
const replicaPorts = cluster.replicaUrls.map((url) => Number(new URL(url).port));
const exporter = new InMemorySpanExporter();

describe('OpenTelemetry spans (tracing: true)', () => {
  let router: QueryRouter;
  const spans = (): ReadableSpan[] => exporter.getFinishedSpans();

  beforeAll(async () => {
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    router = new QueryRouter({ primary: cluster.primaryUrl, replicas: [...cluster.replicaUrls], tracing: true });
    await router.query('CREATE TABLE IF NOT EXISTS tracing_items (id int PRIMARY KEY, name text NOT NULL)');
    await router.query('TRUNCATE tracing_items');
    await cluster.waitForReplication();
  });
  beforeEach(() => exporter.reset());
  afterAll(async () => {
    await router.close();
    trace.disable();
  });

  it('one CLIENT span per query(), named and described by the database conventions, never with literals', async () => {
    await router.query("SELECT id FROM tracing_items WHERE name = 'a secret literal'");
    await router.query("SELECT id FROM tracing_items WHERE name = 'a secret literal'");
    await router.query('INSERT INTO tracing_items (id, name) VALUES ($1, $2)', [1, 'one']);
    const [read, again, write] = spans();
    expect(spans()).toHaveLength(3);
    expect(read!.name).toBe('SELECT tracing_items');
    expect(read!.kind).toBe(SpanKind.CLIENT);
    expect(read!.attributes).toMatchObject({
      'db.system.name': 'postgresql',
      'db.operation.name': 'SELECT',
      'db.collection.name': 'tracing_items',
      'server.address': new URL(cluster.replicaUrls[0]!).hostname,
      'pgrouter.route': 'replica',
      'pgrouter.classifier_cache_hit': false,
    });
    expect(replicaPorts).toContain(read!.attributes['server.port']);
    expect(String(read!.attributes['db.query.text'])).not.toContain('secret');
    expect(String(read!.attributes['pgrouter.reason'])).toMatch(/read/i);
    expect(again!.attributes['pgrouter.classifier_cache_hit']).toBe(true);
    expect(write!.name).toBe('INSERT tracing_items');
    expect(write!.attributes).toMatchObject({ 'pgrouter.route': 'primary', 'server.port': primaryPort });
    expect(spans().every((span) => span.status.code !== SpanStatusCode.ERROR)).toBe(true);
  });

  it('marks a failed statement as an error with its SQLSTATE, and says what read-your-writes decided', async () => {
    await expect(router.query('SELEC 1')).rejects.toMatchObject({ code: '42601' });
    const [failed] = spans();
    expect(failed!.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed!.attributes['error.type']).toBe('42601');
    expect(failed!.events.some((event) => event.name === 'exception')).toBe(true);
    exporter.reset();
    await router.session(async () => {
      await router.query('UPDATE tracing_items SET name = $1 WHERE id = $2', ['uno', 1]);
      await router.query('SELECT name FROM tracing_items WHERE id = $1', [1]);
    });
    const [update, select] = spans();
    expect(update!.attributes['pgrouter.consistency']).toBe('write-tracked');
    expect(['replica-checked', 'replica-known', 'primary']).toContain(select!.attributes['pgrouter.consistency']);
  });

  it('spans a transaction and each pipeline batch, lean batches included', async () => {
    await router.transaction(async (tx) => {
      await tx.query('INSERT INTO tracing_items (id, name) VALUES ($1, $2)', [2, 'two']);
    });
    const transaction = spans().find((span) => span.name === 'TRANSACTION');
    expect(transaction?.attributes).toMatchObject({ 'server.port': primaryPort, 'db.system.name': 'postgresql' });
    exporter.reset();
    const pipeline = router.pipeline({ mode: 'atomic', batchSize: 50 });
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          pipeline.addQuery('INSERT INTO tracing_items (id, name) VALUES ($1, $2)', [100 + round * 50 + i, 'p']),
        ),
      );
    }
    await pipeline.close();
    const batches = spans().filter((span) => span.name === 'BATCH');
    expect(batches.length).toBeGreaterThanOrEqual(3);
    expect(batches.every((span) => Number(span.attributes['db.operation.batch.size']) > 1)).toBe(true);
    expect(router.stats().nodes[0]!.leanBatches).toBeGreaterThan(0);
  });

  it('says what to install when @opentelemetry/api is missing', () => {
    const missing = (id: string): never => {
      throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    };
    expect(() => new RouterTracing(missing)).toThrow(ConfigError);
    expect(() => new RouterTracing(missing)).toThrow(/npm install @opentelemetry\/api/);
  });

  it('refuses a tracing option that is not a boolean, before opening anything', () => {
    expect(() => new QueryRouter({ primary: cluster.primaryUrl, tracing: 'yes' as never })).toThrow(/tracing/);
  });

  it('makes no spans when tracing is off (the default)', async () => {
    const quiet = new QueryRouter({ primary: cluster.primaryUrl });
    try {
      await quiet.query('SELECT 1');
      await quiet.transaction(async (tx) => tx.query('SELECT 1'));
      expect(spans()).toHaveLength(0);
    } finally {
      await quiet.close();
    }
  });
});
