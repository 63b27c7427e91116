/**
 * One application process of `bench:instances`: its own router, `callers` closed-loop callers running an OLTP mix
 * (70 % point reads, 20 % single-row updates, 10 % two-statement transactions) from `startAt` for `durationMs`.
 * Reads its settings as JSON from `BENCH_INSTANCE_CONFIG` and prints one JSON line of results on stdout.
 */
import { QueryRouter, type QueryRouterOptions } from '../../src/index.js';
import { seededRandom } from '../lib/seeded-random.js';

/** What the parent hands a worker. */
export interface WorkerConfig {
  readonly url: string;
  readonly schema: string;
  readonly users: number;
  readonly callers: number;
  readonly poolMax: number;
  readonly durationMs: number;
  readonly seed: number;
  readonly budget?: QueryRouterOptions['connectionBudget'];
  /** Statements run unnamed (`statementCache.max` 0), as behind PgBouncer before 1.21. */
  readonly unnamedStatements?: boolean;
  /** With a budget: how many instances share it, so the load waits until this one has seen them all. */
  readonly instances?: number;
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
}

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

/**
 * Runs the load described by `config` in this process, once `go` resolves (so every process starts at once): a
 * router is built first and `ready` called.
 */
export async function runWorker(config: WorkerConfig, ready: () => void, go: Promise<void>): Promise<WorkerResult> {
  const router = new QueryRouter({
    primary: config.url,
    pool: { min: 0, max: config.poolMax, acquireTimeoutMs: 10_000, healthCheckIntervalMs: 1_000 },
    applicationName: 'bench-instance',
    ...(config.unnamedStatements === true ? { statementCache: { max: 0 } } : {}),
    ...(config.budget === undefined ? {} : { connectionBudget: config.budget }),
  });
  router.on('connectionError', () => undefined);
  const random = seededRandom(config.seed);
  const errors: Record<string, number> = {};
  const latenciesMs: number[] = [];
  let statements = 0;
  const { schema, users } = config;
  const read = `SELECT id, name, visits FROM ${schema}.users WHERE id = $1`;
  const update = `UPDATE ${schema}.users SET visits = visits + 1 WHERE id = $1`;
  const insert = `INSERT INTO ${schema}.orders (user_id, amount, status) VALUES ($1, 1.00, 'new')`;
  try {
    if (config.budget !== undefined) await budgetSettled(router, config.instances ?? 1);
    ready();
    await go;
    const openedBefore = opened(router);
    const started = performance.now();
    const end = started + config.durationMs;
    await Promise.all(
      Array.from({ length: config.callers }, async () => {
        while (performance.now() < end) {
          const id = 1 + Math.floor(random() * users);
          const kind = random();
          const t0 = performance.now();
          try {
            if (kind < 0.7) await router.query(read, [id]);
            else if (kind < 0.9) await router.query(update, [id]);
            else
              await router.transaction(async (tx) => {
                await tx.query(insert, [id]);
                await tx.query(update, [id]);
              });
            statements++;
            latenciesMs.push(Math.round((performance.now() - t0) * 1000) / 1000);
          } catch (error) {
            const code = String((error as { code?: unknown }).code ?? 'unknown');
            errors[code] = (errors[code] ?? 0) + 1;
          }
        }
      }),
    );
    return {
      statements,
      errors,
      latenciesMs,
      elapsedMs: performance.now() - started,
      connectionsOpened: opened(router) - openedBefore,
    };
  } finally {
    await router.close();
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
