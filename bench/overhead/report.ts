import { environmentLine, type Environment } from '../lib/environment.js';
import { DASH, formatInteger, formatMicros, formatMicrosDelta, formatTarget } from '../lib/format.js';
import { quickRunTitle, type TargetOutcome } from '../lib/report.js';
import { renderMarkdownTable, type Align } from '../lib/table.js';
import { CONTENDERS, NAMED_PG, ROUTER, WORKLOADS } from './contenders.js';
import type { CallTiming, InstructionCount } from './measure.js';
import type { OverheadBenchParams } from './params.js';

/** Targets from the issue: what `router.query` may cost beyond hand-named pg statements, one caller. */
export const OVERHEAD_TARGETS = Object.freeze({
  /** Client CPU per query, router minus named pg, at most, in µs. */
  maxAddedCpuUs: 3,
  /** Interleaved p50, router minus named pg, at most, in µs. */
  maxAddedP50Us: 5,
});

/** The table's columns, in order (the smoke test checks them). */
export const OVERHEAD_COLUMNS: readonly string[] = Object.freeze([
  'Workload',
  'Contender',
  'Instructions/call',
  'vs named pg',
  'Client CPU/query',
  'Interleaved p50',
  'Target',
]);
const ALIGNS: readonly Align[] = ['left', 'left', 'right', 'right', 'right', 'right', 'left'];

/** The lines printed above the table. */
export function overheadHeader(env: Environment, params: OverheadBenchParams, valgrind: string): string {
  const { count, timing } = params;
  return [
    `## router.query against hand-named pg statements${quickRunTitle(params.quick)}`,
    '',
    environmentLine(env, [`pg ${env.packages.pg}`, valgrind]),
    '',
    'One caller, one local PostgreSQL without replicas, pools of 10; each contender calls its library the way ' +
      'its documentation shows. **Instructions/call** are counted by valgrind (whole process, every thread): per ' +
      `contender and workload, two runs of ${formatInteger(count.warmup)} warm-up calls then ` +
      `${formatInteger(count.calls[0])} or ${formatInteger(count.calls[1])} more, the difference of their counts over ` +
      'the difference of their calls, so start-up and shutdown cancel out. Under callgrind, what ran in timer ' +
      "callbacks is left out: valgrind runs node many times slower than the clock, so a pool's sweeps and idle " +
      'timers would fire about once a call, as often as the load of the machine makes them. ' +
      `**Client CPU/query**: this process's CPU time per query, natively, median of ${timing.loop.rounds} rounds of ` +
      `${(timing.loop.runMs / 1000).toFixed(1)} s; **Interleaved p50**: one caller sending each query through every ` +
      `contender in turn (${(timing.interleavedMs / 1000).toFixed(1)} s per workload).`,
  ].join('\n');
}

/** The table rows and the targets of a run. */
export function overheadReport(
  counts: readonly InstructionCount[],
  timings: readonly CallTiming[],
): { table: string; targets: TargetOutcome[] } {
  const rows: string[][] = [];
  const targets: TargetOutcome[] = [];
  for (const workload of WORKLOADS) {
    const count = (name: string): InstructionCount | undefined =>
      counts.find((c) => c.workload === workload && c.contender === name);
    const timing = (name: string): CallTiming | undefined =>
      timings.find((t) => t.workload === workload && t.contender === name);
    const baseCount = count(NAMED_PG);
    const baseTiming = timing(NAMED_PG);
    for (const contender of CONTENDERS) {
      const c = count(contender);
      const t = timing(contender);
      if (c === undefined && t === undefined) continue;
      const isBase = contender === NAMED_PG;
      const ratio =
        c === undefined || baseCount === undefined
          ? DASH
          : isBase
            ? 'baseline'
            : `${(c.perCall / baseCount.perCall).toFixed(2)}× (${signed(c.perCall - baseCount.perCall)})`;
      let cpu = t === undefined ? DASH : formatMicros(t.cpuUsPerQuery);
      let p50 = t === undefined ? DASH : formatMicros(t.interleavedP50Us);
      let target = '';
      if (!isBase && t !== undefined && baseTiming !== undefined) {
        const addedCpu = t.cpuUsPerQuery - baseTiming.cpuUsPerQuery;
        const addedP50 = t.interleavedP50Us - baseTiming.interleavedP50Us;
        cpu += ` (${formatMicrosDelta(addedCpu)})`;
        p50 += ` (${formatMicrosDelta(addedP50)})`;
        if (contender === ROUTER) {
          const { maxAddedCpuUs, maxAddedP50Us } = OVERHEAD_TARGETS;
          const cpuMet = addedCpu <= maxAddedCpuUs;
          const p50Met = addedP50 <= maxAddedP50Us;
          targets.push(
            {
              name: `router CPU/query ≤ named pg + ${maxAddedCpuUs} µs (${workload})`,
              met: cpuMet,
              measured: formatMicrosDelta(addedCpu),
            },
            {
              name: `router interleaved p50 ≤ named pg + ${maxAddedP50Us} µs (${workload})`,
              met: p50Met,
              measured: formatMicrosDelta(addedP50),
            },
          );
          target = `${formatTarget(`CPU ≤ +${maxAddedCpuUs} µs`, cpuMet)}, ${formatTarget(`p50 ≤ +${maxAddedP50Us} µs`, p50Met)}`;
        }
      }
      rows.push([workload, contender, c === undefined ? DASH : formatInteger(c.perCall), ratio, cpu, p50, target]);
    }
  }
  return { table: renderMarkdownTable(OVERHEAD_COLUMNS, ALIGNS, rows), targets };
}

function signed(value: number): string {
  return `${value < 0 ? '−' : '+'}${formatInteger(Math.abs(value))}`;
}
