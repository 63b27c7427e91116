/**
 * Runs the set-ups of `bench:instances` one after another on one node: each spawns its processes (each with its own
 * router), starts their load at once, samples the node's client connections from `pg_stat_activity` meanwhile, and
 * gathers what every process measured.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { ConnectionBudgetOptions } from '../../src/index.js';
import { percentileOfSorted } from '../lib/stats.js';
import type { InstancesBenchParams } from './params.js';
import type { WorkerConfig, WorkerResult } from './worker.js';

/** One set-up: how many processes, their callers and pools, where they connect and whether they share a budget. */
export interface InstanceSetup {
  readonly key: 'a' | 'b' | 'c' | 'd';
  readonly name: string;
  readonly processes: number;
  readonly callersPerProcess: number;
  readonly poolMax: number;
  readonly url: string;
  readonly budget?: ConnectionBudgetOptions;
  /** Named prepared statements off (behind a PgBouncer that cannot keep them across transactions). */
  readonly unnamedStatements?: boolean;
}

/** What one set-up measured, summed over its processes. */
export interface SetupResult {
  readonly setup: InstanceSetup;
  readonly statements: number;
  /** Failed calls by error code. */
  readonly errors: Readonly<Record<string, number>>;
  readonly qps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Most client connections the node had at once while the load ran (sampled). */
  readonly peakConnections: number;
  readonly samples: number;
  /** Connections the processes opened while the load ran. */
  readonly connectionsOpened: number;
}

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SAMPLE_SQL =
  "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()";

/** The budget `'auto'` gives on `url`: `max_connections` − `superuser_reserved_connections` − `reserved_connections`. */
export async function autoBudgetOf(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int " +
        "- coalesce(current_setting('reserved_connections', true), '0')::int AS n",
    );
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

interface Child {
  readonly ready: Promise<void>;
  readonly result: Promise<WorkerResult>;
  go(): void;
}

function startWorker(config: WorkerConfig): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    cwd: REPO_ROOT,
    env: { ...process.env, BENCH_INSTANCE_CONFIG: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes('ready\n')) onReady();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const result = new Promise<WorkerResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        onReady();
        reject(new Error(`instance process exited with ${code}: ${stderr.slice(-2_000)}`));
      } else resolve(JSON.parse(line) as WorkerResult);
    });
  });
  return { ready, result, go: () => child.stdin.write('go\n') };
}

/** Runs one set-up and sums what its processes measured. */
export async function runSetup(
  setup: InstanceSetup,
  params: Pick<InstancesBenchParams, 'durationMs' | 'users'>,
  schema: string,
  sampleUrl: string,
): Promise<SetupResult> {
  const children = Array.from({ length: setup.processes }, (_, i) =>
    startWorker({
      url: setup.url,
      schema,
      users: params.users,
      callers: setup.callersPerProcess,
      poolMax: setup.poolMax,
      durationMs: params.durationMs,
      seed: 1_000 + i,
      ...(setup.unnamedStatements === true ? { unnamedStatements: true } : {}),
      ...(setup.budget === undefined
        ? {}
        : {
            budget: { ...setup.budget, instance: `${setup.key}${i}` } satisfies ConnectionBudgetOptions,
            instances: setup.processes,
          }),
    }),
  );
  await Promise.all(children.map((child) => child.ready));
  const sampler = new pg.Client({ connectionString: sampleUrl, application_name: 'bench-sampler' });
  await sampler.connect();
  let peak = 0;
  let samples = 0;
  let running = true;
  const all = Promise.all(children.map((child) => child.result)).finally(() => (running = false));
  for (const child of children) child.go();
  try {
    while (running) {
      const { rows } = await sampler.query<{ n: number }>(SAMPLE_SQL);
      peak = Math.max(peak, rows[0]!.n);
      samples++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const results = await all;
    const errors: Record<string, number> = {};
    let statements = 0;
    let count = 0;
    let connectionsOpened = 0;
    for (const result of results) {
      statements += result.statements;
      connectionsOpened += result.connectionsOpened;
      count += result.latenciesMs.length;
      for (const [code, n] of Object.entries(result.errors)) errors[code] = (errors[code] ?? 0) + n;
    }
    const latencies = new Float64Array(count);
    let at = 0;
    for (const result of results) for (const ms of result.latenciesMs) latencies[at++] = ms;
    latencies.sort();
    return {
      setup,
      statements,
      errors,
      qps: statements / (params.durationMs / 1000),
      p50Ms: count === 0 ? 0 : percentileOfSorted(latencies, 50),
      p99Ms: count === 0 ? 0 : percentileOfSorted(latencies, 99),
      peakConnections: peak,
      samples,
      connectionsOpened,
    };
  } finally {
    await all.catch(() => undefined);
    await sampler.end();
  }
}
