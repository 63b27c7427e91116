/**
 * `npm run test:stress [-- --runs N] [vitest filters…]`: runs the whole suite N times (default 3, or
 * `STRESS_RUNS`) while one busy-loop process per core keeps every CPU saturated, and reports every failure with
 * its test name. A test that passes alone but fails here depends on timing or load. Not part of `npm test`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

/** The parts of vitest's JSON report read here. */
interface JsonReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: {
    name: string;
    status: string;
    message: string;
    assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
  }[];
}

interface Failure {
  readonly run: number;
  readonly test: string;
  readonly message: string;
}

function parseArgs(argv: readonly string[]): { runs: number; vitestArgs: string[] } {
  let runs = Number(process.env['STRESS_RUNS'] ?? 3);
  const vitestArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') runs = Number(argv[++i]);
    else vitestArgs.push(argv[i]!);
  }
  if (!Number.isInteger(runs) || runs < 1)
    throw new TypeError(`--runs (or STRESS_RUNS) must be a positive integer, got ${String(runs)}`);
  return { runs, vitestArgs };
}

/** One process per core spinning forever; ended by `stop()` or with this process. */
function saturateCpus(): { count: number; stop(): void } {
  const count = availableParallelism();
  const loops: ChildProcess[] = Array.from({ length: count }, () =>
    spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
  );
  const stop = (): void => {
    for (const loop of loops) loop.kill('SIGKILL');
  };
  process.once('exit', stop);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stop();
      process.exit(130);
    });
  }
  return { count, stop };
}

/** Runs vitest once; its progress goes to the terminal, its results to a JSON report. */
function runSuite(
  run: number,
  reportFile: string,
  vitestArgs: readonly string[],
): { report: JsonReport | undefined; exitCode: number; seconds: number } {
  const started = performance.now();
  const result = spawnSync(
    'npx',
    ['vitest', 'run', '--reporter=dot', '--reporter=json', `--outputFile.json=${reportFile}`, ...vitestArgs],
    {
      stdio: 'inherit',
      env: { ...process.env, PGROUTER_STRESS_RUN: String(run) },
    },
  );
  const seconds = (performance.now() - started) / 1000;
  let report: JsonReport | undefined;
  try {
    report = JSON.parse(readFileSync(reportFile, 'utf8')) as JsonReport;
  } catch {
    report = undefined;
  }
  return { report, exitCode: result.status ?? 1, seconds };
}

function failuresOf(run: number, report: JsonReport): Failure[] {
  const failures: Failure[] = [];
  for (const file of report.testResults) {
    const relative = file.name.replace(`${process.cwd()}/`, '');
    for (const test of file.assertionResults) {
      if (test.status === 'failed')
        failures.push({
          run,
          test: `${relative} > ${test.fullName}`,
          message: firstLine(test.failureMessages[0] ?? ''),
        });
    }
    // A file that failed outside any test (a hook, an import) has no failed assertion to name it.
    if (file.status === 'failed' && !file.assertionResults.some((test) => test.status === 'failed')) {
      failures.push({ run, test: `${relative} (file)`, message: firstLine(file.message) });
    }
  }
  return failures;
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim()
      .slice(0, 300) ?? ''
  );
}

function main(): void {
  const { runs, vitestArgs } = parseArgs(process.argv.slice(2));
  // The suite imports the built package by name (test/package.test.ts): build once, before the load starts.
  if (spawnSync('npm', ['run', 'build'], { stdio: 'inherit' }).status !== 0) process.exit(1);
  const folder = mkdtempSync(join(tmpdir(), 'pgrouter-stress-'));
  const load = saturateCpus();
  const lines: string[] = [];
  const failures: Failure[] = [];
  let passed = 0;
  let skipped = 0;
  try {
    for (let run = 1; run <= runs; run++) {
      process.stdout.write(
        `\n=== stress run ${run} of ${runs}: ${load.count} busy loops, load ${loadavg()[0]!.toFixed(1)} ===\n`,
      );
      const { report, exitCode, seconds } = runSuite(run, join(folder, `run-${run}.json`), vitestArgs);
      if (report === undefined) {
        failures.push({ run, test: '(the whole run)', message: `vitest exited with ${exitCode} and wrote no report` });
        lines.push(`run ${run}: no report (exit ${exitCode}), ${seconds.toFixed(0)} s`);
        continue;
      }
      const found = failuresOf(run, report);
      failures.push(...found);
      passed += report.numPassedTests;
      skipped += report.numPendingTests + report.numTodoTests;
      lines.push(
        `run ${run}: ${report.numPassedTests} passed, ${found.length} failed, ${report.numPendingTests} skipped, ${seconds.toFixed(0)} s, load ${loadavg()[0]!.toFixed(1)} at the end`,
      );
    }
  } finally {
    load.stop();
    rmSync(folder, { recursive: true, force: true });
  }
  process.stdout.write(`\n=== stress summary: ${runs} runs under ${load.count} busy loops (one per core) ===\n`);
  for (const line of lines) process.stdout.write(`${line}\n`);
  for (const failure of failures)
    process.stdout.write(`FAILED (run ${failure.run}) ${failure.test}\n    ${failure.message}\n`);
  process.stdout.write(
    `stress: ${passed} passed, ${failures.length} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`,
  );
  process.exit(failures.length > 0 ? 1 : 0);
}

main();
