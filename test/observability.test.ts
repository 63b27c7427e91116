import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { register as globalRegistry } from 'prom-client';
import { QueryRouter, type Logger } from '../src/index.js';
import { startLocalCluster, type LocalCluster } from '../src/testing.js';
import { until } from './helpers/wait.js';

const primaryUrl = inject('primaryUrl');
const replicaUrls = inject('replicaUrls');

/** Parses Prometheus text into `name{labels}` → value. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`unparsable metric line: ${line}`);
    values.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return values;
}

function metric(values: Map<string, number>, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels);
  let total = 0;
  let found = false;
  for (const [key, value] of values) {
    if (!key.startsWith(`${name}{`) && key !== name) continue;
    if (wanted.every(([label, v]) => key.includes(`${label}="${v}"`))) {
      total += value;
      found = true;
    }
  }
  if (!found) throw new Error(`no ${name} with ${JSON.stringify(labels)}`);
  return total;
}

/** A logger that keeps every line, for grepping. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const write = (level: string) => (fields: Record<string, unknown>, message: string) =>
    void lines.push(`${level} ${message} ${JSON.stringify(fields)}`);
  return { lines, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

describe('metrics and stats after a known workload', () => {
  it('counts every statement per node and role, exactly, in metricsText() and stats() alike', async () => {
    const router = new QueryRouter({ primary: primaryUrl, replicas: replicaUrls });
    try {
      const table = `obs_${process.pid}_${Date.now()}`;
      await router.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
      for (let i = 0; i < 40; i++) await router.query('SELECT $1::int AS n', [i]);
      for (let i = 0; i < 15; i++) await router.query(`INSERT INTO ${table} (id) VALUES ($1)`, [i]);
      for (let i = 0; i < 3; i++)
        await expect(router.query(`INSERT INTO ${table} (id) VALUES ($1)`, [0])).rejects.toMatchObject({
          code: '23505',
        });
      const pipeline = router.pipeline({ batchSize: 10 });
      await Promise.all(
        Array.from({ length: 25 }, (_, i) => pipeline.addQuery(`INSERT INTO ${table} (id) VALUES ($1)`, [100 + i])),
      );
      expect(pipeline.stats().groupCommits).toBe(3); // each batch committed as one transaction: BEGIN … COMMIT
      await pipeline.close();

      const values = parseMetrics(await router.metricsText());
      const stats = router.stats();
      const [primary, replica0, replica1] = stats.nodes;
      // 1 CREATE + 15 inserts + 3 failed + 25 pipelined (+ BEGIN and COMMIT of 3 batches) on the primary; 40 reads
      // round-robin over two replicas.
      expect(metric(values, 'pgrouter_statements_total', { node: 'primary', role: 'primary', outcome: 'ok' })).toBe(47);
      expect(metric(values, 'pgrouter_statements_total', { node: 'primary', outcome: 'error' })).toBe(3);
      expect(metric(values, 'pgrouter_statements_total', { node: 'replica-0', role: 'replica', outcome: 'ok' })).toBe(
        20,
      );
      expect(metric(values, 'pgrouter_statements_total', { node: 'replica-1', role: 'replica', outcome: 'ok' })).toBe(
        20,
      );
      expect(primary).toMatchObject({ queries: 50, errors: 3 });
      expect(replica0).toMatchObject({ queries: 20, errors: 0 });
      expect(replica1).toMatchObject({ queries: 20, errors: 0 });
      for (const node of stats.nodes) {
        expect(metric(values, 'pgrouter_statement_duration_seconds_count', { node: node.name })).toBe(node.queries);
        expect(metric(values, 'pgrouter_statement_duration_seconds_bucket', { node: node.name, le: '+Inf' })).toBe(
          node.queries,
        );
        expect(metric(values, 'pgrouter_pool_connections', { node: node.name, state: 'idle' })).toBe(node.pool.idle);
        expect(metric(values, 'pgrouter_pool_target_size', { node: node.name })).toBe(node.pool.target);
        expect(metric(values, 'pgrouter_breaker_state', { node: node.name, state: 'closed' })).toBe(1);
        expect(metric(values, 'pgrouter_statement_cache_hits_total', { node: node.name })).toBe(
          node.statementCache.hits,
        );
      }
      expect(metric(values, 'pgrouter_pipeline_batch_size_count', {})).toBe(3);
      expect(metric(values, 'pgrouter_pipeline_batch_size_sum', {})).toBe(25);
      expect(metric(values, 'pgrouter_routing_decisions_total', { decision: 'replica' })).toBe(stats.routing.replica);
      expect(metric(values, 'pgrouter_classifier_cache_hits_total', {})).toBe(stats.classifierCache.hits);
      expect(stats.nodes.every((node) => node.latencyP99Ms >= node.latencyP50Ms && node.latencyP50Ms > 0)).toBe(true);
      // Labels are bounded: no SQL text anywhere in the exposition.
      expect(await router.metricsText()).not.toContain(table);
    } finally {
      await router.close();
    }
  });

  it("each router has its own registry, never prom-client's global one", async () => {
    const a = new QueryRouter({ primary: primaryUrl, metrics: { defaultMetrics: true } });
    const b = new QueryRouter({ primary: primaryUrl });
    try {
      expect(a.metrics).not.toBe(b.metrics);
      expect(await a.metricsText()).toContain('pgrouter_process_cpu_seconds_total');
      expect(await b.metricsText()).not.toContain('pgrouter_process_cpu_seconds_total');
      expect(await globalRegistry.metrics()).not.toContain('pgrouter_');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('hooks, slow statements and logs', () => {
  it("runs onConnect before a connection's first statement, reports check-outs and check-ins, and flags slow statements", async () => {
    const logger = recordingLogger();
    let connects = 0;
    let checkouts = 0;
    let checkins = 0;
    const router = new QueryRouter({
      primary: primaryUrl,
      logger,
      slowQueryMs: 40,
      hooks: {
        onConnect: async (client, { node }) => {
          connects++;
          if (connects === 1) throw new Error('first connection refused by the hook');
          await client.query(`SET application_name = 'hooked-${node}'`);
        },
        onCheckout: () => void checkouts++,
        onCheckin: () => void checkins++,
      },
    });
    const slow: { node: string; fingerprint: string; durationMs: number }[] = [];
    router.on('slowQuery', (event) => slow.push(event));
    try {
      await expect(router.query('SELECT 1')).rejects.toThrow('first connection refused by the hook');
      const { rows } = await router.query<{ application_name: string }>('SHOW application_name');
      expect(rows[0]!.application_name).toBe('hooked-primary');
      await router.query('SELECT pg_sleep(0.06)');
      expect(checkouts).toBe(2);
      expect(checkins).toBe(2);
      // Only the sleeping statement is slow by design (opening a connection on a busy machine may be, too).
      expect(slow).toContainEqual(expect.objectContaining({ node: 'primary', fingerprint: 'select pg_sleep (?)' }));
      expect(slow.every((event) => event.durationMs >= 40)).toBe(true);
      expect(logger.lines.some((line) => line.startsWith('warn primary: slow statement'))).toBe(true);
    } finally {
      await router.close();
    }
    expect(logger.lines.at(-1)).toMatch(/^info router closed/);
  });
});

describe('health endpoint and credentials (own primary)', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await startLocalCluster({ replicas: 1 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('/health turns 503 with the reason while the primary is down and 200 after it restarts; no password anywhere', async () => {
    const password = new URL(cluster.primaryUrl).password;
    expect(password.length).toBeGreaterThan(8);
    const logger = recordingLogger();
    const events: string[] = [];
    // A second replica that does not exist, at a URL with the same password: its errors must not leak it either.
    const deadReplica = cluster.replicaUrls[0]!.replace(/:(\d+)\//, ':1/');
    const router = new QueryRouter({
      primary: cluster.primaryUrl,
      replicas: [...cluster.replicaUrls, deadReplica],
      pool: { healthCheckIntervalMs: 500, acquireTimeoutMs: 1_000 },
      breaker: { resetTimeoutMs: 500 },
      logger,
    });
    for (const name of [
      'breakerOpen',
      'breakerClose',
      'replicaDown',
      'replicaUp',
      'connectionError',
      'warning',
    ] as const) {
      router.on(name, (event: unknown) =>
        events.push(
          JSON.stringify(event, (_key, value: unknown) =>
            value instanceof Error ? `${value.message} ${value.stack}` : value,
          ),
        ),
      );
    }
    const server = await router.serve();
    const errors: string[] = [];
    const seen: string[] = [];
    const grab = async (path: string): Promise<{ status: number; body: string }> => {
      const response = await fetch(`${server.url}${path}`);
      const body = await response.text();
      seen.push(body);
      return { status: response.status, body };
    };
    try {
      let health = { status: 0, body: '' };
      await until(async () => (health = await grab('/health')).status === 200, 30_000);
      expect(JSON.parse(health.body)).toMatchObject({ status: 'ok', reasons: [] });
      for (let i = 0; i < 20; i++)
        await router
          .query('SELECT $1::int', [i])
          .catch((error: Error) => errors.push(`${error.message} ${error.stack}`));

      await cluster.stopNode(0);
      await until(
        async () => (health = await grab('/health')).status === 503 && health.body.includes('primary failed'),
        30_000,
      );
      const down = JSON.parse(health.body) as { status: string; reasons: string[] };
      expect(down.status).toBe('unhealthy');
      expect(down.reasons.some((reason) => reason.startsWith('primary failed its health check'))).toBe(true);
      for (let i = 0; i < 10; i++)
        await router
          .query('INSERT INTO nowhere VALUES (1)')
          .catch((error: Error) => errors.push(`${error.message} ${error.stack} ${JSON.stringify(error)}`));
      expect(errors.length).toBeGreaterThanOrEqual(10);

      await cluster.startNode(0);
      await until(async () => (await grab('/health')).status === 200, 30_000);
      await router.query('SELECT 1', [], { route: 'primary' });
      for (const path of ['/stats', '/metrics', '/']) await grab(path);
      seen.push(
        JSON.stringify(router.stats()),
        await router.metricsText(),
        JSON.stringify(router.options),
        JSON.stringify(router.patterns()),
      );
    } finally {
      await router.close();
    }
    expect(logger.lines.length).toBeGreaterThan(0);
    expect(logger.lines.some((line) => line.includes('"event":"replicaDown","node":"replica-1"'))).toBe(true);
    const everything = [...seen, ...logger.lines, ...events, ...errors].join('\n');
    expect(everything).toContain(new URL(cluster.primaryUrl).port); // the output does name the nodes …
    expect(everything).not.toContain(password); // … but never with their password
  });

  it('measures replica lag: WAL not replayed yet, and for how long, in stats() and the metrics', async () => {
    const router = new QueryRouter({
      primary: cluster.primaryUrl,
      replicas: cluster.replicaUrls,
      pool: { healthCheckIntervalMs: 100 },
    });
    const replica = new pg.Client({ connectionString: cluster.replicaUrls[0] });
    await replica.connect();
    const lagOf = (): { lagMs: number | null; lagBytes: number | null } => router.stats().nodes[1]!;
    try {
      await router.query('CREATE TABLE IF NOT EXISTS lag_probe (id serial PRIMARY KEY, at timestamptz DEFAULT now())');
      await until(() => lagOf().lagMs === 0, 30_000); // caught up
      expect(router.stats().nodes[0]).toMatchObject({ lagMs: null, lagBytes: null }); // the primary has no lag
      await replica.query('SELECT pg_wal_replay_pause()');
      await router.query('INSERT INTO lag_probe DEFAULT VALUES');
      await until(() => (lagOf().lagBytes ?? 0) > 0 && (lagOf().lagMs ?? 0) >= 300, 30_000);
      const seconds = Number(
        /pgrouter_replica_lag_seconds\{node="replica-0",role="replica"\} (\S+)/.exec(await router.metricsText())?.[1],
      );
      expect(seconds).toBeGreaterThanOrEqual(0.3);
      await replica.query('SELECT pg_wal_replay_resume()');
      await until(() => lagOf().lagBytes === 0 && lagOf().lagMs === 0, 30_000);
    } finally {
      await replica.query('SELECT pg_wal_replay_resume()').catch(() => undefined);
      await replica.end();
      await router.close();
    }
  });
});
