/** The table and targets of `bench:instances`. */
import { DASH, formatInteger, formatRate, mark } from '../lib/format.js';
import { renderMarkdownTable } from '../lib/table.js';
import type { TargetOutcome } from '../lib/report.js';
import type { InstancesBenchParams } from './params.js';
import type { InstanceSetup, SetupResult } from './run.js';

/** The table's columns. */
export const INSTANCES_HEADERS = [
  'set-up',
  'processes × callers',
  'pool.max',
  'statements',
  'q/s',
  'p50',
  'p99',
  '53300',
  'other errors',
  'peak connections',
  'connections opened',
] as const;

const ms = (value: number): string => `${value.toFixed(value < 10 ? 2 : 1)} ms`;

/** One row per set-up; a set-up that did not run (no PgBouncer binary) says so. */
export function instancesTable(results: readonly SetupResult[], skipped: readonly InstanceSetup[] = []): string {
  const rows = results.map((result) => {
    const { setup, statements, qps, p50Ms, p99Ms, errors, peakConnections } = result;
    const refused = errors['53300'] ?? 0;
    const other = Object.entries(errors)
      .filter(([code]) => code !== '53300')
      .map(([code, n]) => `${code} ${formatInteger(n)}`)
      .join(', ');
    return [
      `(${setup.key}) ${setup.name}`,
      `${setup.processes} × ${setup.callersPerProcess}`,
      String(setup.poolMax),
      formatInteger(statements),
      formatRate(qps),
      ms(p50Ms),
      ms(p99Ms),
      formatInteger(refused),
      other === '' ? '0' : other,
      formatInteger(peakConnections),
      formatInteger(result.connectionsOpened),
    ];
  });
  for (const setup of skipped)
    rows.push([`(${setup.key}) ${setup.name}`, 'not run: no PgBouncer binary', '', '', '', '', '', '', '', '', '']);
  return renderMarkdownTable(
    INSTANCES_HEADERS,
    ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left', 'right', 'right'],
    rows,
  );
}

const perQuery = (ms: number | null, statements: number): string =>
  ms === null || statements === 0 ? DASH : `${Math.round((ms * 1000) / statements)} µs`;

/** The columns of {@link cpuTable}. */
export const CPU_HEADERS = [
  'set-up',
  'q/s (rounds)',
  'client CPU / q (kernel)',
  'server CPU / q',
  'client wake-ups / q (preempted)',
  'cores busy: set-up / machine',
  'waiting callers',
  'acquire wait mean / p99',
  'budget rounds: ceiling changes, range',
] as const;

/**
 * Where the time went, per set-up: CPU per statement of the processes (summed) and of the node's server processes,
 * cores busy with the set-up against the whole machine's (the rest is everything else running on it), and for
 * the routers how long callers waited for a connection and how the budget's ceiling moved.
 */
export function cpuTable(results: readonly SetupResult[], runs: Readonly<Record<string, readonly number[]>>): string {
  const rows = results.map((result) => {
    const { setup, statements, cpu, pool } = result;
    const ownMs = cpu.clientMs + (cpu.serverMs ?? 0);
    const cores = (value: number): string => (value / Math.max(1, cpu.wallMs)).toFixed(2);
    const rounds = (runs[setup.key] ?? [result.qps]).map((qps) => formatInteger(qps)).join(' / ');
    return [
      `(${setup.key}) ${setup.name}`,
      rounds,
      `${perQuery(cpu.clientMs, statements)} (${perQuery(cpu.clientSystemMs, statements)})`,
      perQuery(cpu.serverMs, statements),
      statements === 0
        ? DASH
        : `${(cpu.voluntarySwitches / statements).toFixed(2)} (${(cpu.involuntarySwitches / statements).toFixed(2)})`,
      `${cores(ownMs)} / ${cpu.machineMs === null ? DASH : cores(cpu.machineMs)} of ${cpu.cores}`,
      pool === null
        ? DASH
        : `${(pool.waitingMean * setup.processes).toFixed(1)} (${Math.round(pool.waitingShare * 100)} %)`,
      pool === null ? DASH : `${ms(pool.acquireMeanMs)} / ${ms(pool.acquireP99Ms)}`,
      pool === null || pool.rounds === 0
        ? DASH
        : `${pool.rounds}: ${pool.ceilingChanges}, ${pool.ceilingMin}–${pool.ceilingMax}`,
    ];
  });
  return renderMarkdownTable(
    CPU_HEADERS,
    ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    rows,
  );
}

/** The ratios that say what the machine loses to K processes and what the router and its budget lose. */
export function instancesRatios(measured: {
  readonly budgeted: SetupResult;
  readonly single: SetupResult;
  readonly rawInstances: SetupResult | undefined;
  readonly rawSingle: SetupResult | undefined;
  readonly staticPools: SetupResult | undefined;
}): string {
  const { budgeted, single, rawInstances, rawSingle, staticPools } = measured;
  const ratio = (x: SetupResult | undefined, y: SetupResult | undefined, what: string): string | undefined =>
    x === undefined || y === undefined || y.qps === 0
      ? undefined
      : `- (${x.setup.key})/(${y.setup.key}) = ${(x.qps / y.qps).toFixed(2)}×: ${what}`;
  return [
    ratio(budgeted, single, 'shared budget against one router process (the target)'),
    ratio(
      budgeted,
      rawInstances,
      'shared budget against plain pg.Pool in as many processes (what the router and budget cost)',
    ),
    ratio(
      budgeted,
      staticPools,
      'shared budget against the router with static pools of its share (what the budget costs)',
    ),
    ratio(
      staticPools,
      rawInstances,
      'router with static pools against plain pg.Pool, both in K processes (what the router costs there)',
    ),
    ratio(rawInstances, rawSingle, 'plain pg.Pool, K processes against one (what the machine loses to K processes)'),
    ratio(single, rawSingle, 'one router process against one plain pg.Pool process (the router in one process)'),
  ]
    .filter((line): line is string => line !== undefined)
    .join('\n');
}

/** The targets for the shared budget (b) against one process (d). */
export function instancesTargets(budgeted: SetupResult, single: SetupResult, budget: number): TargetOutcome[] {
  const failures = Object.values(budgeted.errors).reduce((a, b) => a + b, 0);
  const ratio = single.qps > 0 ? budgeted.qps / single.qps : 0;
  return [
    { name: 'shared budget: 0 failed statements', met: failures === 0, measured: formatInteger(failures) },
    {
      name: `shared budget: peak server connections ≤ budget (${budget})`,
      met: budgeted.peakConnections <= budget,
      measured: formatInteger(budgeted.peakConnections),
    },
    {
      name: 'shared budget: throughput ≥ 0.9× one process with the same callers and connections (d)',
      met: ratio >= 0.9,
      measured: `${ratio.toFixed(2)}×`,
    },
  ];
}

/** The header above the table. */
export function instancesHeader(params: InstancesBenchParams, budget: number, quick: boolean): string {
  return [
    `## Many application instances against one node${quick ? ' (BENCH_QUICK: smoke run, numbers not meaningful)' : ''}`,
    '',
    `${params.instances} processes, each with its own router (pool.max ${params.poolMax}) and ${params.callersPerInstance} ` +
      `closed-loop callers (70 % point reads, 20 % updates, 10 % two-statement transactions) for ` +
      `${params.durationMs / 1000} s per set-up after ${params.warmupMs / 1000} s of untimed warm-up, against one node with max_connections ${params.maxConnections}; ` +
      `the shared budget is ${budget} connections; each set-up runs ${params.rounds} time(s), order rotating, and the ` +
      "tables show its median run. Peak connections: the node's client backends, sampled from pg_stat_activity " +
      'every ~20 ms. CPU: process.cpuUsage() of the processes, /proc of the node and the machine; wake-ups: the ' +
      "processes' voluntary context switches (preemptions: involuntary); waiting callers: " +
      'sampled every 250 ms in each process, summed (share of samples with any).',
  ].join('\n');
}

/** Targets as list lines. */
export const targetList = (targets: readonly TargetOutcome[]): string =>
  targets.map((t) => `- ${mark(t.met)} ${t.name}: ${t.measured}`).join('\n');
