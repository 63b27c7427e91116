/** The table and targets of `bench:instances`. */
import { formatInteger, formatRate, mark } from '../lib/format.js';
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
      `${params.durationMs / 1000} s per set-up, against one node with max_connections ${params.maxConnections}; ` +
      `the shared budget is ${budget} connections. Peak connections: the node's client backends, sampled from ` +
      'pg_stat_activity every ~20 ms.',
  ].join('\n');
}

/** Targets as list lines. */
export const targetList = (targets: readonly TargetOutcome[]): string =>
  targets.map((t) => `- ${mark(t.met)} ${t.name}: ${t.measured}`).join('\n');
