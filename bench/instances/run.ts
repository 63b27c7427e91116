/**
 * Runs the set-ups of `bench:instances` one after another on one node: each spawns its processes (each with its own
 * router), starts their load at once, samples the node's client connections from `pg_stat_activity` meanwhile, and
 * gathers what every process measured.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serverCpuProbe, machineCpuMs, type CpuProbe } from './cpu.js';
import { availableParallelism } from 'node:os';
import pg from 'pg';
import type { ConnectionBudgetOptions } from '../../src/index.js';
import { percentileOfSorted } from '../lib/stats.js';
import type { InstancesBenchParams } from './params.js';
import type { WorkerConfig, WorkerResult } from './worker.js';

/** One set-up: how many processes, their callers and pools, where they connect and whether they share a budget. */
export interface InstanceSetup {
  readonly key: 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g';
  readonly name: string;
  readonly processes: number;
  readonly callersPerProcess: number;
  readonly poolMax: number;
  readonly url: string;
  readonly budget?: ConnectionBudgetOptions;
  /** Named prepared statements off (behind a PgBouncer that cannot keep them across transactions). */
  readonly unnamedStatements?: boolean;
  /** `pg`: plain `pg.Pool`s instead of routers (the raw-driver baselines). Default `router`. */
  readonly driver?: 'router' | 'pg';
}

/** Where the CPU went while a set-up's load ran, in milliseconds of CPU time. */
export interface CpuUse {
  /** The set-up's processes, summed (`process.cpuUsage()` in each), and of that the time in the kernel. */
  readonly clientMs: number;
  readonly clientSystemMs: number;
  /** The processes' context switches, summed: waits for I/O (voluntary) and preemptions (involuntary). */
  readonly voluntarySwitches: number;
  readonly involuntarySwitches: number;
  /** The node's server processes (postmaster, backends, background workers); `null` where they cannot be read. */
  readonly serverMs: number | null;
  /** The whole machine (`/proc/stat`, every core), and its cores; `null` where it cannot be read. */
  readonly machineMs: number | null;
  readonly cores: number;
  /** Wall-clock time the load ran, in milliseconds. */
  readonly wallMs: number;
}

/** How the router's pools fared, summed over the processes (router set-ups only). */
export interface PoolUse {
  /** Mean callers waiting for a connection, per process, and the share of samples with any waiting. */
  readonly waitingMean: number;
  readonly waitingShare: number;
  /** Mean wait for a connection per hand-out, in ms, and the largest 99th percentile of any process. */
  readonly acquireMeanMs: number;
  readonly acquireP99Ms: number;
  /** Budget rounds seen during the load, summed, and how many of them changed the process's ceiling. */
  readonly rounds: number;
  readonly ceilingChanges: number;
  /** Smallest and largest ceiling any process had, and the largest sum of the processes' last ceilings. */
  readonly ceilingMin: number | null;
  readonly ceilingMax: number | null;
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
  readonly cpu: CpuUse;
  /** `null` for the raw driver. */
  readonly pool: PoolUse | null;
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
  // `BENCH_WORKER_NODE_OPTIONS` (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) goes to every process's node.
  const extra = process.env['BENCH_WORKER_NODE_OPTIONS']?.split(' ').filter((arg) => arg !== '') ?? [];
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', WORKER], {
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
  params: Pick<InstancesBenchParams, 'durationMs' | 'users'> & { readonly warmupMs?: number },
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
      warmupMs: params.warmupMs ?? 0,
      seed: 1_000 + i,
      ...(setup.driver === 'pg' ? { driver: 'pg' as const } : {}),
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
  const server: CpuProbe = await serverCpuProbe(sampler);
  let serverBefore: number | null = null;
  let machineBefore: number | null = null;
  let wallStarted = 0;
  let wallMs = 0;
  let serverMs: number | null = null;
  let machineMs: number | null = null;
  // The timed window starts after the processes' warm-up (they all start it at go).
  const windowStarts = (): void => {
    serverBefore = server.read();
    machineBefore = machineCpuMs();
    wallStarted = performance.now();
  };
  const warmup = setTimeout(windowStarts, params.warmupMs ?? 0);
  const all = Promise.all(children.map((child) => child.result)).finally(() => {
    // Read as the last process ends, before the parent's own clean-up adds to the machine's count.
    clearTimeout(warmup);
    wallMs = performance.now() - wallStarted;
    const serverAfter = server.read();
    const machineAfter = machineCpuMs();
    serverMs = serverBefore === null || serverAfter === null ? null : serverAfter - serverBefore;
    machineMs = machineBefore === null || machineAfter === null ? null : machineAfter - machineBefore;
    running = false;
  });
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
      cpu: {
        clientMs: results.reduce((sum, r) => sum + r.cpuUserMs + r.cpuSystemMs, 0),
        clientSystemMs: results.reduce((sum, r) => sum + r.cpuSystemMs, 0),
        voluntarySwitches: results.reduce((sum, r) => sum + r.voluntarySwitches, 0),
        involuntarySwitches: results.reduce((sum, r) => sum + r.involuntarySwitches, 0),
        serverMs,
        machineMs,
        cores: availableParallelism(),
        wallMs,
      },
      pool: poolUse(results),
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

/** The processes' pool samples summed ({@link PoolUse}); `null` when none sampled (raw driver). */
function poolUse(results: readonly WorkerResult[]): PoolUse | null {
  const pools = results.map((r) => r.pool).filter((p): p is NonNullable<typeof p> => p !== null);
  if (pools.length === 0) return null;
  let samples = 0;
  let waiting = 0;
  let withWaiters = 0;
  let acquisitions = 0;
  let waitedMs = 0;
  let p99 = 0;
  let rounds = 0;
  let changes = 0;
  let min: number | null = null;
  let max: number | null = null;
  for (const pool of pools) {
    samples += pool.samples;
    waiting += pool.waitingSum;
    withWaiters += pool.samplesWithWaiters;
    acquisitions += pool.statements;
    waitedMs += pool.acquireMeanMs * pool.statements;
    p99 = Math.max(p99, pool.acquireP99Ms);
    rounds += pool.ceilings.length;
    for (let i = 0; i < pool.ceilings.length; i++) {
      const ceiling = pool.ceilings[i]!;
      if (i > 0 && ceiling !== pool.ceilings[i - 1]) changes++;
      min = min === null ? ceiling : Math.min(min, ceiling);
      max = max === null ? ceiling : Math.max(max, ceiling);
    }
  }
  return {
    waitingMean: samples === 0 ? 0 : waiting / samples,
    waitingShare: samples === 0 ? 0 : withWaiters / samples,
    acquireMeanMs: acquisitions === 0 ? 0 : waitedMs / acquisitions,
    acquireP99Ms: p99,
    rounds,
    ceilingChanges: changes,
    ceilingMin: min,
    ceilingMax: max,
  };
}
