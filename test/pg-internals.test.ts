import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS, QueryRouter } from '../src/index.js';
import { NodePool, type DisabledInternal, type NodePoolOptions } from '../src/pool/index.js';
import { encodeLeanBatch, sendLeanBatch } from '../src/pool/lean-batch.js';
import {
  INTERNAL_FEATURES,
  backendKeyOf,
  closePreparedStatement,
  corkSocket,
  destroySocket,
  forgetPrepared,
  isPrepared,
  prepareValue,
  probeInternals,
  setPipelineMode,
  setPoolCeiling,
  submitRaw,
  supportsLeanBatch,
  supportsPipelining,
  supportsPoolCeiling,
  supportsSocketCork,
  supportsSocketDestroy,
  supportsStatementCache,
  uncorkSocket,
  unrefClient,
} from '../src/pool/pg-internals.js';
import { sharedCluster } from './helpers/cluster.js';

/*
 * The router reaches into a few of pg's private members, all through src/pool/pg-internals.ts. These tests pin
 * each of them against the pg that is installed, so an upgrade that moves one fails here, by name; and they pin
 * that a pool whose pg lacks one says so (stats, observer) and goes on without the feature.
 */

const cluster = sharedCluster();

/** Whether `promise` settled within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return settled;
}

async function preparedOnServer(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    "SELECT name FROM pg_prepared_statements WHERE name LIKE 'pgr\\_internals\\_%' ORDER BY name",
  );
  return rows.map((row) => row.name);
}

describe('pg internals the router relies on, against the installed pg', () => {
  let client: pg.Client;
  let pooled: pg.PoolClient;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: cluster.primaryUrl });
    client.on('error', () => undefined);
    await client.connect();
    pooled = client as unknown as pg.PoolClient;
  });
  afterAll(async () => {
    await client.end().catch(() => undefined);
  });

  it('finds every internal on a connected client and its pool: the probe reports none missing', async () => {
    const pool = new pg.Pool({ connectionString: cluster.primaryUrl, max: 1 });
    try {
      const held = await pool.connect();
      expect(probeInternals(held, pool)).toEqual([]);
      held.release();
      expect(INTERNAL_FEATURES).toEqual([
        'statement-cache',
        'pipeline-mode',
        'socket-cork',
        'socket-destroy',
        'backend-key',
        'pool-ceiling',
        'lean-batch',
      ]);
    } finally {
      await pool.end();
    }
  });

  it('exposes the prepared-statement bookkeeping and the pipeline mode', async () => {
    expect(supportsStatementCache(pooled)).toBe(true);
    expect(supportsPipelining(pooled)).toBe(true);
    await client.query({ name: 'pgr_internals_probe', text: 'SELECT $1::int AS v', values: [1] });
    expect(isPrepared(pooled, 'pgr_internals_probe')).toBe(true);
  });

  it('closes a prepared statement on the server with the next query, or forgets it on the client only', async () => {
    await client.query({ name: 'pgr_internals_a', text: 'SELECT $1::int AS a', values: [1] });
    await client.query({ name: 'pgr_internals_b', text: 'SELECT $1::int AS b', values: [1] });
    closePreparedStatement(pooled, 'pgr_internals_b');
    expect(isPrepared(pooled, 'pgr_internals_b')).toBe(false);
    // The Close rode in front of this query: no round trip of its own, and the server no longer has it.
    expect(await preparedOnServer(client)).toEqual(['pgr_internals_a', 'pgr_internals_probe']);
    forgetPrepared(pooled, 'pgr_internals_a');
    expect(isPrepared(pooled, 'pgr_internals_a')).toBe(false);
    expect(await preparedOnServer(client)).toEqual(['pgr_internals_a', 'pgr_internals_probe']);
    await client.query('DEALLOCATE pgr_internals_a');
  });

  it('pipelines queries and holds them in a corked socket until it is uncorked', async () => {
    expect(supportsSocketCork(client)).toBe(true);
    setPipelineMode(pooled, true);
    corkSocket(pooled);
    let first: Promise<pg.QueryResult>;
    let second: Promise<pg.QueryResult>;
    try {
      first = client.query('SELECT 1 AS n');
      second = client.query('SELECT 2 AS n');
      // Written at once in pipeline mode, but held by the cork: nothing reached the server yet.
      expect(await settlesWithin(first, 100)).toBe(false);
    } finally {
      uncorkSocket(pooled);
    }
    const results = await Promise.all([first, second]);
    setPipelineMode(pooled, false);
    expect(results.map((result) => result.rows[0])).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('converts parameters to the forms a Bind message carries, as pg does', () => {
    const bytes = Buffer.from([0, 255]);
    expect(prepareValue(null)).toBeNull();
    expect(prepareValue(undefined)).toBeNull();
    expect(prepareValue(bytes)).toBe(bytes);
    expect(prepareValue(42)).toBe('42');
    expect(prepareValue([1, null, 'a'])).toBe('{"1",NULL,"a"}');
    expect(prepareValue({ a: 1 })).toBe('{"a":1}');
    expect(prepareValue(new Date(Date.UTC(2026, 0, 2, 3, 4, 5)))).toMatch(/^2026-01-0[12]T/);
    expect(prepareValue({ toPostgres: () => 'custom' })).toBe('custom');
  });

  it('runs raw extended-protocol messages as one query: command tags, then an error, then the client goes on', async () => {
    expect(supportsLeanBatch(client)).toBe(true);
    await client.query('CREATE TEMP TABLE pgr_internals_rows (n int)');
    await client.query({
      name: 'pgr_internals_insert',
      text: 'INSERT INTO pgr_internals_rows VALUES ($1)',
      values: [0],
    });
    const ok = await sendLeanBatch(pooled, [
      { statementName: 'pgr_internals_insert', values: [1] },
      { statementName: 'pgr_internals_insert', values: [2] },
    ]);
    expect(ok).toEqual({ completed: ['INSERT 0 1', 'INSERT 0 1'], error: undefined });
    const replies: string[] = [];
    await new Promise<void>((resolve) =>
      submitRaw(pooled, encodeLeanBatch([{ statementName: 'pgr_internals_missing', values: [1] }]), {
        commandComplete: (tag) => void replies.push(tag),
        error: (error) => {
          replies.push(`error ${(error as Error & { code?: string }).code}`);
          resolve();
        },
        readyForQuery: () => resolve(),
      }),
    );
    expect(replies).toEqual(['error 26000']); // prepared statement does not exist
    const { rows } = await client.query<{ n: number }>('SELECT n FROM pgr_internals_rows ORDER BY n');
    expect(rows.map((row) => row.n)).toEqual([0, 1, 2]);
    await client.query('DEALLOCATE pgr_internals_insert');
  });

  it('rewrites the ceiling of a real pg.Pool: a raised one opens a second connection at once', async () => {
    const pool = new pg.Pool({ connectionString: cluster.primaryUrl, max: 1 });
    try {
      expect(supportsPoolCeiling(pool)).toBe(true);
      const first = await pool.connect();
      const blocked = pool.connect();
      expect(await settlesWithin(blocked, 100)).toBe(false);
      expect(setPoolCeiling(pool, 3)).toBe(true);
      const third = await pool.connect();
      expect(pool.totalCount).toBe(2);
      first.release();
      (await blocked).release();
      third.release();
    } finally {
      await pool.end();
    }
  });

  it("exposes the backend key a cancel request needs, matching the server's own pid", async () => {
    const key = backendKeyOf(client);
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    expect(key).toMatchObject({
      processID: rows[0]!.pid,
      host: '127.0.0.1',
      port: Number(new URL(cluster.primaryUrl).port),
    });
    expect(typeof key!.secretKey).toBe('number');
  });

  // What it does to the event loop is checked by test/process-exit.test.ts, in a process of its own.
  it('unrefs a client, which still answers', async () => {
    const other = new pg.Client({ connectionString: cluster.primaryUrl });
    await other.connect();
    try {
      expect(unrefClient(other)).toBe(true);
      expect(unrefClient({} as pg.Client)).toBe(false);
      expect((await other.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await other.end();
    }
  });

  // Last: it leaves the client unusable.
  it('cuts the socket at once: a pending statement fails with a connection error', async () => {
    expect(supportsSocketDestroy(client)).toBe(true);
    const running = client.query('SELECT pg_sleep(3)').catch((e: unknown) => e);
    destroySocket(client);
    const error = (await running) as Error & { severity?: string };
    expect(error).toBeInstanceOf(Error);
    expect(error.severity).toBeUndefined();
  });
});

describe('the probe, against clients that lack an internal', () => {
  const featuresOf = (disabled: readonly DisabledInternal[]): string[] => disabled.map((internal) => internal.feature);
  const asClient = (shape: object): pg.ClientBase => shape as pg.ClientBase;
  const asPool = (shape: object): pg.Pool => shape as pg.Pool;

  it('names each internal a client-shaped object lacks, with what the pool does without it', () => {
    const withoutSocket = asClient({
      query: () => undefined,
      pipeline: false,
      connection: { parsedStatements: {}, close: () => undefined },
      processID: 7,
      secretKey: 11,
      connectionParameters: { host: '127.0.0.1', port: 5432 },
    });
    const disabled = probeInternals(withoutSocket, asPool({ options: { max: 4 } }));
    expect(featuresOf(disabled)).toEqual(['socket-cork', 'socket-destroy', 'lean-batch']);
    expect(disabled[1]!.reason).toMatch(/cannot be destroyed/);
    expect(featuresOf(probeInternals(asClient({}), asPool({})))).toEqual(INTERNAL_FEATURES);
  });

  it('counts an internal whose check throws as missing, instead of failing', () => {
    const throwing = asClient({
      get connection(): never {
        throw new Error('moved in this pg');
      },
    });
    expect(() => probeInternals(throwing, asPool({ options: { max: 1 } }))).not.toThrow();
    expect(featuresOf(probeInternals(throwing, asPool({ options: { max: 1 } })))).toContain('statement-cache');
  });
});

describe('a NodePool on a pg whose client lacks an internal', () => {
  /** A real pg client of the installed pg that hides the backend key it was sent, as a changed pg could. */
  class KeylessClient extends pg.Client {}
  Object.defineProperty(KeylessClient.prototype, 'processID', { get: () => undefined, set: () => undefined });

  const poolOptions = (connection: pg.PoolConfig, seen: DisabledInternal[][]): NodePoolOptions => ({
    name: 'primary',
    connection,
    ...DEFAULTS.pool,
    max: 2,
    statementCacheMax: DEFAULTS.statementCache.max,
    statementTimeoutMs: 0,
    applicationName: 'pg-internals test',
    onIdleError: () => undefined,
    observer: { internalsMissing: (disabled) => void seen.push([...disabled]) },
  });

  it('reports it once, in stats and to its observer, and cancels by cutting the connection instead', async () => {
    const seen: DisabledInternal[][] = [];
    const pool = new NodePool(poolOptions({ connectionString: cluster.primaryUrl, Client: KeylessClient }, seen));
    try {
      expect(pool.stats().disabledInternals).toEqual([]);
      await pool.warm(2);
      expect(pool.stats().total).toBe(2);
      expect(pool.stats().disabledInternals).toEqual(['backend-key']);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.map((internal) => internal.feature)).toEqual(['backend-key']);
      expect(seen[0]![0]!.reason).toMatch(/no cancel request is sent/);
      // Statements run as before.
      const { rows } = await pool.execute<{ v: number }>('SELECT $1::int AS v', [5], 'pgr_keyless');
      expect(rows).toEqual([{ v: 5 }]);
      // Without a backend key an abort cannot be a cancel: the connection is cut after the grace period, and the
      // statement's outcome is unknown (with a key, the server cancels it and it is known not to have happened).
      const controller = new AbortController();
      const running = pool.execute('SELECT pg_sleep(10)', undefined, undefined, 0, { signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      await expect(running).rejects.toMatchObject({ code: '57014', outcomeUnknown: true });
    } finally {
      await pool.end();
    }
  });

  it('is a warning event of the router and a flag of the node in stats(), naming the feature', async () => {
    const router = new QueryRouter({
      primary: { connectionString: cluster.primaryUrl, Client: KeylessClient },
      replicas: [cluster.replicaUrls[0]!],
    });
    const warnings: string[] = [];
    router.on('warning', ({ message }) => warnings.push(message));
    try {
      await router.query('SELECT 1', [], { route: 'primary' });
      await router.query('SELECT 1', [], { route: 'replica' });
      const [primary, replica] = router.stats().nodes;
      expect(primary!.disabledInternals).toEqual(['backend-key']);
      expect(replica!.disabledInternals).toEqual([]);
      expect(warnings.filter((message) => message.includes('backend-key'))).toHaveLength(1);
      expect(warnings[0]).toMatch(/^primary: the installed pg lacks internals .* backend-key \(/);
    } finally {
      await router.close();
    }
  });

  it('reports nothing when every internal is there, and a cancel is a cancel', async () => {
    const seen: DisabledInternal[][] = [];
    const pool = new NodePool(poolOptions({ connectionString: cluster.primaryUrl }, seen));
    try {
      await pool.warm(1);
      expect(pool.stats().disabledInternals).toEqual([]);
      expect(seen).toEqual([]);
      const controller = new AbortController();
      const running = pool.execute('SELECT pg_sleep(10)', undefined, undefined, 0, { signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      await expect(running).rejects.toMatchObject({ code: '57014', outcomeUnknown: false });
    } finally {
      await pool.end();
    }
  });
});
