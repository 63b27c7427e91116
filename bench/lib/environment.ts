import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
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

/**
 * The header line that says what the numbers were measured on: `2026-11-23 · Node v20.20.2 · PostgreSQL 15.18 ·
 * 2 CPUs (AMD EPYC), load 0.25 at start`, then each of `packages` (e.g. `pg 8.23.1`) after a `·`. Without
 * `cpuModel`, the CPU count stands alone.
 */
export function environmentLine(
  env: Environment,
  packages: readonly string[] = [],
  { cpuModel = true }: { readonly cpuModel?: boolean } = {},
): string {
  const cpus = cpuModel ? `${env.cpus} CPUs (${env.cpuModel})` : `${env.cpus} CPUs`;
  return [
    `${env.date} · Node ${env.node} · PostgreSQL ${env.postgres} · ${cpus}, load ${env.loadAverage.toFixed(2)} at start`,
    ...packages,
  ].join(' · ');
}
