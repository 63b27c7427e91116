import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import type { RouterBenchParams } from '../router/params.js';
import { withClient } from './schema.js';

/** What the numbers were measured on, for the header above the table. */
export interface Environment {
  readonly date: string;
  readonly node: string;
  readonly postgres: string;
  readonly cpus: number;
  readonly cpuModel: string;
  /** 1-minute load average when the benchmark started: above the CPU count, expect noise. */
  readonly loadAverage: number;
  readonly packages: Readonly<Record<'pg' | 'postgres' | 'node-sql-parser', string>>;
  /** Whether `global.gc` was available (node --expose-gc), so garbage was collected between runs. */
  readonly gcBetweenRuns: boolean;
}

/** Reads versions from the running process, the machine and the server at `url`. */
export async function describeEnvironment(url: string): Promise<Environment> {
  const postgres = await withClient(url, async (client) => {
    const { rows } = await client.query<{ version: string }>("SELECT current_setting('server_version') AS version");
    return rows[0]?.version ?? 'unknown';
  });
  return {
    date: new Date().toISOString().slice(0, 10),
    node: process.version,
    postgres,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown',
    loadAverage: loadavg()[0] ?? 0,
    packages: {
      pg: packageVersion('pg'),
      postgres: packageVersion('postgres'),
      'node-sql-parser': packageVersion('node-sql-parser'),
    },
    gcBetweenRuns: typeof globalThis.gc === 'function',
  };
}

/**
 * The installed version of `name`. Read from its package.json found above its entry point, because some
 * packages (postgres.js) do not export `./package.json`.
 */
export function packageVersion(name: string): string {
  try {
    let dir = dirname(createRequire(import.meta.url).resolve(name));
    for (;;) {
      try {
        const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
          name?: unknown;
          version?: unknown;
        };
        if (manifest.name === name && typeof manifest.version === 'string') return manifest.version;
      } catch {
        // no package.json at this level
      }
      const parent = dirname(dir);
      if (parent === dir) return 'unknown';
      dir = parent;
    }
  } catch {
    return 'unknown';
  }
}

/** The lines printed above the table. */
export function formatHeader(env: Environment, params: RouterBenchParams): string {
  const { loop, pool } = params.throughput;
  const { packages } = env;
  return [
    `## pg-query-router benchmark${params.quick ? ' (BENCH_QUICK: smoke run, numbers not meaningful)' : ''}`,
    '',
    `${env.date} · Node ${env.node} · PostgreSQL ${env.postgres} · ${env.cpus} CPUs (${env.cpuModel}), load ${env.loadAverage.toFixed(2)} at start · ` +
      `pg ${packages.pg} · postgres.js ${packages.postgres} · node-sql-parser ${packages['node-sql-parser']}`,
    '',
    `One process, one local PostgreSQL without replicas: the router (primary only) and the raw drivers query the same server, ` +
      `each with a pool of ${pool.max}. ${loop.rounds} rounds of ${(loop.runMs / 1000).toFixed(1)} s per contender and scenario, ` +
      `contenders alternating in rotating order${env.gcBetweenRuns ? ', GC between runs' : ''}; ` +
      'figures are medians over rounds (± the median absolute deviation of q/s over rounds), ratios are between those medians. ' +
      `The latency added at one caller comes from one caller sending every query through each contender in turn ` +
      `(${(params.throughput.interleavedMs / 1000).toFixed(1)} s per workload), so machine noise falls on all of them alike. ` +
      "Client CPU/query is this process's CPU time (all threads) per query: time spent waiting for a busy CPU does not count in it.",
  ].join('\n');
}
