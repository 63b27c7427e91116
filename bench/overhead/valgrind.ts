/**
 * Counting instructions with valgrind: a child node process per count, its instructions read from the profile
 * valgrind writes when it exits. Instruction counts do not depend on how busy the machine is, so two contenders'
 * counts compare even on a shared machine where their timings would not.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { BenchSchema } from '../lib/schema.js';
import type { ContenderName, WorkloadName } from './contenders.js';

/** What the child script ({@link CHILD_SCRIPT}) runs, passed as JSON in `OVERHEAD_CHILD`. */
export interface ChildArgs {
  readonly contender: ContenderName;
  readonly workload: WorkloadName;
  readonly url: string;
  readonly schema: Pick<BenchSchema, 'name' | 'users' | 'orders'>;
  /** Calls before the counted ones (connections opened, statements prepared, JIT tiers reached). */
  readonly warmup: number;
  readonly calls: number;
}

/** The child's source; valgrind runs it bundled (see {@link bundleChild}). */
export const CHILD_SOURCE = fileURLToPath(new URL('./child.ts', import.meta.url));

interface Esbuild {
  build(options: Record<string, unknown>): Promise<unknown>;
}

/**
 * The child bundled into one JavaScript file (packages left as imports), under `bench/dist/` so they resolve from
 * the repository's node_modules; {@link ChildBundle.remove} deletes it. Under valgrind, loading the TypeScript
 * sources through tsx's loader thread takes minutes per run; a bundle starts in seconds. esbuild is tsx's own.
 */
export async function bundleChild(): Promise<ChildBundle> {
  const esbuild = createRequire(createRequire(import.meta.url).resolve('tsx'))('esbuild') as Esbuild;
  const dir = fileURLToPath(new URL(`../dist/overhead-child-${process.pid}/`, import.meta.url));
  const script = join(dir, 'child.mjs');
  await esbuild.build({
    entryPoints: [CHILD_SOURCE],
    outfile: script,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    logLevel: 'error',
  });
  return { script, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A bundled child script and how to delete it. */
export interface ChildBundle {
  readonly script: string;
  remove(): void;
}

/** The valgrind binary: `VALGRIND` if set, else the one on the PATH. */
export function valgrindCommand(env: NodeJS.ProcessEnv = process.env): string {
  return env['VALGRIND'] ?? 'valgrind';
}

/** The installed valgrind's version line (e.g. `valgrind-3.19.0`), or `undefined` when there is none. */
export function valgrindVersion(command: string = valgrindCommand()): string | undefined {
  const result = spawnSync(command, ['--version'], { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) return undefined;
  return result.stdout.trim();
}

/** The valgrind tools that count instructions, and the options each needs to count JIT-compiled code. */
export type CountingTool = 'cachegrind' | 'callgrind';

/**
 * Each tool's options. cachegrind without its cache simulation counts instructions only, about twice as fast as
 * callgrind. callgrind needs `--smc-check=all`: without it, on valgrind 3.19 and Node 20, it stops counting most
 * of what runs once V8 has compiled it (a thousand more queries added next to nothing), while with it both tools
 * agree within 0.3 % (447 k instructions per named pg query, measured both ways).
 */
export const TOOL_OPTIONS: Readonly<Record<CountingTool, readonly string[]>> = Object.freeze({
  cachegrind: Object.freeze(['--tool=cachegrind', '--cache-sim=no']),
  callgrind: Object.freeze(['--tool=callgrind', '--smc-check=all']),
});

/**
 * `OVERHEAD_TOOL`: `callgrind` (the default), which also tells what ran in timer callbacks so it can be left out, or
 * `cachegrind`, twice as fast, timers included.
 */
export function countingTool(env: NodeJS.ProcessEnv = process.env): CountingTool {
  const tool = env['OVERHEAD_TOOL'] ?? 'callgrind';
  if (tool !== 'cachegrind' && tool !== 'callgrind')
    throw new Error(`OVERHEAD_TOOL must be cachegrind or callgrind, got ${JSON.stringify(tool)}`);
  return tool;
}

/** The `totals:` (callgrind) or `summary:` (both) line of a profile: the instructions executed by every thread. */
export function instructionsOfProfile(profile: string): number {
  const match = /^(?:totals|summary):\s*(\d+)/m.exec(profile);
  if (match === null) throw new Error('valgrind profile without a totals or summary line');
  return Number(match[1]);
}

/**
 * The instructions a callgrind profile spent in libuv's timer phase (`uv__run_timers`, callbacks included), from
 * callgrind_annotate's inclusive costs; 0 when it has no such line.
 */
export function timerInstructions(profilePath: string): number {
  const result = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', profilePath], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error !== undefined || result.status !== 0)
    throw new Error(`callgrind_annotate failed: ${result.error?.message ?? result.stderr}`);
  let timers = 0;
  for (const match of result.stdout.matchAll(/^\s*([\d,]+) .*:uv__run_timers \[/gm))
    timers = Math.max(timers, Number(match[1]!.replace(/,/g, '')));
  return timers;
}

/**
 * Runs the bundled child `script` under `tool` with `args` and returns the instructions it executed, with this
 * process's node executable; the child's stderr is passed on if it fails. Under callgrind, what ran in timer
 * callbacks is left out: valgrind slows node some 50–100× while the clock runs at its usual pace, so a timer fires
 * once every call or so instead of once per hundreds of calls, and how often depends on the machine's load. With
 * `keepProfile`, the profile is copied there (to read with callgrind_annotate / cg_annotate).
 */
export async function countInstructions(
  script: string,
  args: ChildArgs,
  tool: CountingTool = countingTool(),
  command: string = valgrindCommand(),
  keepProfile?: string,
): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-overhead-'));
  const out = join(dir, `${tool}.out`);
  try {
    const child = spawn(
      command,
      [...TOOL_OPTIONS[tool], `--${tool}-out-file=${out}`, process.execPath, '--expose-gc', script],
      {
        env: { ...process.env, OVERHEAD_CHILD: JSON.stringify(args) },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-8_000);
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (code !== 0)
      throw new Error(`${args.contender} (${args.workload}) under ${tool} exited with ${code}:\n${stderr}`);
    if (keepProfile !== undefined) copyFileSync(out, keepProfile);
    const total = instructionsOfProfile(readFileSync(out, 'utf8'));
    return tool === 'callgrind' ? total - timerInstructions(out) : total;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `tasks` with at most `parallel` of them at a time, results in task order. */
export async function runLimited<T>(tasks: readonly (() => Promise<T>)[], parallel: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, tasks.length)) }, worker));
  return results;
}
