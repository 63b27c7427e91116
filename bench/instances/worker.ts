/**
 * One application process of `bench:instances`: its own router (or, for the raw-driver baselines, a plain
 * `pg.Pool`), `callers` closed-loop callers running an OLTP mix (70 % point reads, 20 % single-row updates, 10 %
 * two-statement transactions) for `durationMs` once the parent says go. Reads its settings as JSON from
 * `BENCH_INSTANCE_CONFIG` and prints one JSON line of results on stdout: what it ran, its own CPU time, and how
 * long its callers waited for a connection and how its budget ceiling moved (router only).
 */
import type pg from 'pg';
import { QueryRouter, type QueryRouterOptions } from '../../src/index.js';
import { quietPgPool } from '../lib/pools.js';
import { seededRandom } from '../lib/seeded-random.js';

/** What the parent hands a worker. */
export interface WorkerConfig {
  readonly url: string;
  readonly schema: string;
  readonly users: number;
  readonly callers: number;
  readonly poolMax: number;
  readonly durationMs: number;
  /** Untimed load right after go, before the timed `durationMs`, in milliseconds. */
  readonly warmupMs?: number;
  readonly seed: number;
  readonly budget?: QueryRouterOptions['connectionBudget'];
  /** Statements run unnamed (`statementCache.max` 0), as behind PgBouncer before 1.21. */
  readonly unnamedStatements?: boolean;
  /** With a budget: how many instances share it, so the load waits until this one has seen them all. */
  readonly instances?: number;
  /** `pg`: a plain `pg.Pool` of `poolMax` with named statements instead of a router (the raw-driver baseline). */
  readonly driver?: 'router' | 'pg';
}

/** What the worker's sampler saw of its pool while the load ran (router only; every {@link SAMPLE_MS}). */
export interface PoolSamples {
  /** Samples taken. */
  readonly samples: number;
  /** Sum over the samples of the callers waiting for a connection, and of those with at least one waiting. */
  readonly waitingSum: number;
  readonly samplesWithWaiters: number;
  /** Time a statement waited for a connection: mean and 99th percentile since the router started (±19 %). */
  readonly acquireMeanMs: number;
  readonly acquireP99Ms: number;
  /** Statements the node ran during the load (weighs the mean when processes are summed). */
  readonly statements: number;
  /** The budget's ceiling after each round that completed during the load, in order (empty without a budget). */
  readonly ceilings: readonly number[];
}

/** What a worker prints. */
export interface WorkerResult {
  readonly statements: number;
  /** Failed calls by error code (`53300`, `PGR_ACQUIRE_TIMEOUT`, …). */
  readonly errors: Readonly<Record<string, number>>;
  /** Latency of every call, in milliseconds (rounded to µs). */
  readonly latenciesMs: readonly number[];
  readonly elapsedMs: number;
  /** Connections the router opened during the run (a resized pool's churn shows here). */
  readonly connectionsOpened: number;
  /** CPU time this process used while the load ran (`process.cpuUsage()`), user and system, in milliseconds. */
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  /** Context switches while the load ran (`process.resourceUsage()`): waits for I/O, and preemptions. */
  readonly voluntarySwitches: number;
  readonly involuntarySwitches: number;
  /** The pool as sampled during the load; `null` for the raw driver. */
  readonly pool: PoolSamples | null;
}

/** How often the worker samples its router's pool while the load runs, in milliseconds. */
const SAMPLE_MS = 250;

/** Connections opened so far: those open now plus those closed, for whatever reason. */
function opened(router: QueryRouter): number {
  const node = router.stats().nodes[0]!;
  return node.pool.total + Object.values(node.recycled).reduce((a, b) => a + b, 0);
}

/**
 * Waits until this instance's budget round has seen every instance of the group and run once more after that, so
 * the load starts from settled shares, not from instances still joining (which may overshoot until then).
 */
async function budgetSettled(router: QueryRouter, instances: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  const budget = () => router.stats().nodes[0]!.budget;
  let seenAt: number | undefined;
  while (Date.now() < deadline) {
    const now = budget();
    if (now !== null && Object.keys(now.byInstance).length >= instances) {
      seenAt ??= now.rounds;
      if (now.rounds > seenAt) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the connection budget did not see every instance within 30 s');
}

/** One statement of the mix, or one transaction: how a worker's callers reach the node. */
interface Driver {
  query(text: string, values: unknown[]): Promise<unknown>;
  transaction(statements: readonly (readonly [string, unknown[]])[]): Promise<void>;
  /** Connections opened so far. */
  opened(): number;
  /** Starts sampling the pool (router only); the returned function stops and reports. */
  sample(): () => PoolSamples | null;
  close(): Promise<void>;
}

function routerDriver(config: WorkerConfig): { driver: Driver; router: QueryRouter } {
  const router = new QueryRouter({
    primary: config.url,
    pool: { min: 0, max: config.poolMax, acquireTimeoutMs: 10_000, healthCheckIntervalMs: 1_000 },
    applicationName: 'bench-instance',
    ...(config.unnamedStatements === true ? { statementCache: { max: 0 } } : {}),
    ...(config.budget === undefined ? {} : { connectionBudget: config.budget }),
  });
  router.on('connectionError', () => undefined);
  const driver: Driver = {
    query: (text, values) => router.query(text, values),
    transaction: (statements) =>
      router.transaction(async (tx) => {
        for (const [text, values] of statements) await tx.query(text, values);
      }),
    opened: () => opened(router),
    sample: () => sampleRouter(router),
    close: () => router.close(),
  };
  return { driver, router };
}

/** A plain pg.Pool with named statements (prepared once per connection, as the router's statement cache does). */
function pgDriver(config: WorkerConfig): Driver {
  const pool = quietPgPool({
    connectionString: config.url,
    max: config.poolMax,
    min: 0,
    application_name: 'bench-instance',
    connectionTimeoutMillis: 10_000,
  });
  let connects = 0;
  pool.on('connect', () => connects++);
  const names = new Map<string, string>();
  const named = (text: string, values: unknown[]): pg.QueryConfig => {
    let name = names.get(text);
    if (name === undefined) names.set(text, (name = `s${names.size}`));
    return { name, text, values };
  };
  return {
    query: (text, values) => pool.query(named(text, values)),
    async transaction(statements) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        for (const [text, values] of statements) await client.query(named(text, values));
        await client.query('COMMIT');
        client.release();
      } catch (error) {
        client.release(true);
        throw error;
      }
    },
    opened: () => connects,
    sample: () => () => null,
    close: () => pool.end(),
  };
}

/** Samples the router's pool every {@link SAMPLE_MS} until the returned function is called. */
function sampleRouter(router: QueryRouter): () => PoolSamples {
  const before = router.stats().nodes[0]!;
  let samples = 0;
  let waitingSum = 0;
  let samplesWithWaiters = 0;
  let rounds = router.stats().nodes[0]!.budget?.rounds ?? 0;
  const ceilings: number[] = [];
  const timer = setInterval(() => {
    const node = router.stats().nodes[0]!;
    samples++;
    waitingSum += node.pool.waiting;
    if (node.pool.waiting > 0) samplesWithWaiters++;
    const budget = node.budget;
    if (budget !== null && budget.rounds !== rounds && budget.ceiling !== null) {
      rounds = budget.rounds;
      ceilings.push(budget.ceiling);
    }
  }, SAMPLE_MS);
  return () => {
    clearInterval(timer);
    const after = router.stats().nodes[0]!;
    return {
      samples,
      waitingSum,
      samplesWithWaiters,
      // Since the router started: the few hand-outs before the load barely move them.
      acquireMeanMs: after.acquireMeanMs,
      acquireP99Ms: after.acquireP99Ms,
      statements: after.queries - before.queries,
      ceilings,
    };
  };
}

/**
 * Runs the load described by `config` in this process, once `go` resolves (so every process starts at once): a
 * router (or pool) is built first and `ready` called.
 */
export async function runWorker(config: WorkerConfig, ready: () => void, go: Promise<void>): Promise<WorkerResult> {
  const built = config.driver === 'pg' ? { driver: pgDriver(config), router: undefined } : routerDriver(config);
  const { driver, router } = built;
  const random = seededRandom(config.seed);
  const errors: Record<string, number> = {};
  const latenciesMs: number[] = [];
  let statements = 0;
  const { schema, users } = config;
  const read = `SELECT id, name, visits FROM ${schema}.users WHERE id = $1`;
  const update = `UPDATE ${schema}.users SET visits = visits + 1 WHERE id = $1`;
  const insert = `INSERT INTO ${schema}.orders (user_id, amount, status) VALUES ($1, 1.00, 'new')`;
  try {
    if (router !== undefined && config.budget !== undefined) await budgetSettled(router, config.instances ?? 1);
    ready();
    await go;
    // Untimed warm-up, so V8 has compiled the hot paths of every process (one process running K times the calls
    // warms up K times sooner): a long-running instance is measured, not a cold start. Its failures count.
    const mix = (until: number, record: boolean) =>
      Promise.all(
        Array.from({ length: config.callers }, async () => {
          while (performance.now() < until) {
            const id = 1 + Math.floor(random() * users);
            const kind = random();
            const t0 = performance.now();
            try {
              if (kind < 0.7) await driver.query(read, [id]);
              else if (kind < 0.9) await driver.query(update, [id]);
              else
                await driver.transaction([
                  [insert, [id]],
                  [update, [id]],
                ]);
              if (!record) continue;
              statements++;
              latenciesMs.push(Math.round((performance.now() - t0) * 1000) / 1000);
            } catch (error) {
              const code = String((error as { code?: unknown }).code ?? 'unknown');
              errors[code] = (errors[code] ?? 0) + 1;
            }
          }
        }),
      );
    if ((config.warmupMs ?? 0) > 0) await mix(performance.now() + config.warmupMs!, false);
    const openedBefore = driver.opened();
    const stopSampling = driver.sample();
    const cpuBefore = process.cpuUsage();
    const usageBefore = process.resourceUsage();
    const started = performance.now();
    await mix(started + config.durationMs, true);
    const elapsedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const usage = process.resourceUsage();
    return {
      statements,
      errors,
      latenciesMs,
      elapsedMs,
      connectionsOpened: driver.opened() - openedBefore,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      voluntarySwitches: usage.voluntaryContextSwitches - usageBefore.voluntaryContextSwitches,
      involuntarySwitches: usage.involuntaryContextSwitches - usageBefore.involuntaryContextSwitches,
      pool: stopSampling(),
    };
  } finally {
    await driver.close();
  }
}

const raw = process.env['BENCH_INSTANCE_CONFIG'];
if (raw !== undefined) {
  // Started by the parent: "ready" on stdout, then the load starts at the first line on stdin.
  const go = new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  runWorker(JSON.parse(raw) as WorkerConfig, () => process.stdout.write('ready\n'), go).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.stdin.destroy();
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
