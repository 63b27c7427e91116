import { environmentLine, type Environment } from '../lib/environment.js';
import type { ScopesBenchParams } from './params.js';
import type { BookkeepingResult, CallCostResult } from './overhead.js';
import type { PrewarmResult } from './prewarm.js';
import { renderMarkdownTable } from '../lib/table.js';
import { formatMicros, formatMicrosDelta, formatMs, formatNanos } from '../lib/format.js';
import { quickRunTitle } from '../lib/report.js';

/** What the benchmark prints below its header. */
export interface ScopesReport {
  readonly callCostTable: string;
  readonly prewarmTable: string;
  readonly notes: readonly string[];
}

export const CALL_COST_HEADERS: readonly string[] = Object.freeze([
  'Block',
  'Contender',
  'p50 per call',
  'vs named pg.Pool (median of per-round differences)',
]);
export const PREWARM_HEADERS: readonly string[] = Object.freeze([
  'Contender',
  'Run time',
  'Statement p50',
  'Statement p99',
  'Open at start',
  'Opened during the run',
  'prewarm() took',
  'Run time ÷ cold',
]);

/** The tables and the notes under them. */
export function scopesReport(
  callCost: CallCostResult,
  bookkeeping: BookkeepingResult,
  prewarm: PrewarmResult,
): ScopesReport {
  const callRows = [
    ...callCost.withoutScopes.map((row, i) => [
      'no scope has run',
      row.name,
      formatMicros(row.p50Us),
      i === 0 ? 'baseline' : formatMicrosDelta(row.addedUs),
    ]),
    ...callCost.withScopes.map((row, i) => [
      'inside router.scope()',
      row.name,
      formatMicros(row.p50Us),
      i === 0 ? 'baseline' : formatMicrosDelta(row.addedUs),
    ]),
  ];
  const prewarmRows = [prewarm.cold, prewarm.prewarmed].map((row) => [
    row.name,
    formatMs(row.runMs),
    formatMs(row.p50Ms),
    formatMs(row.p99Ms),
    String(row.openAtStart),
    String(row.openedDuringRun),
    formatMs(row.prewarmMs),
    row === prewarm.cold ? '1.00× (baseline)' : `${(row.runMs / prewarm.cold.runMs).toFixed(2)}×`,
  ]);
  const scores = callCost.withoutScopes[1]!.addedUs - callCost.withoutScopes[2]!.addedUs;
  const scopeCost = callCost.withScopes[2]!.addedUs - callCost.withScopes[1]!.addedUs;
  const notes = [
    `Health-score bookkeeping of one check-in, alone (success rate, latency against the node median, score check): ${formatNanos(bookkeeping.checkinNs - bookkeeping.loopNs)} ` +
      `(${formatNanos(bookkeeping.checkinNs)} per statement against ${formatNanos(bookkeeping.loopNs)} for the bare loop; medians of ${bookkeeping.rounds} rounds × ${bookkeeping.statementsPerRound.toLocaleString('en-US')} statements).`,
    `Default options against pool.healthThreshold: 0 (no score check) in the same rounds: ${formatMicrosDelta(scores)} per call.`,
    `A statement inside a scope against a router that has none, both with AsyncLocalStorage on in the process: ${formatMicrosDelta(scopeCost)} per call.`,
    `The scope ran ${prewarm.statements} statements at once; prewarm() opened ${prewarm.learnedPeak} connections, the peak it learned from the untimed first run.`,
  ];
  return {
    callCostTable: renderMarkdownTable(CALL_COST_HEADERS, ['left', 'left', 'right', 'right'], callRows),
    prewarmTable: renderMarkdownTable(
      PREWARM_HEADERS,
      ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
      prewarmRows,
    ),
    notes,
  };
}

/** The lines printed above the tables. */
export function scopesHeader(env: Environment, params: ScopesBenchParams): string {
  const { overhead, prewarm } = params;
  return [
    `## Health scores and workload scopes${quickRunTitle(params.quick)}`,
    '',
    environmentLine(env, [`pg ${env.packages.pg}`]),
    '',
    `One process, one local PostgreSQL without replicas. Per-call cost: \`SELECT $1::int\`, one caller, ${overhead.rounds} rounds × ${overhead.callsPerRound.toLocaleString('en-US')} calls per contender, ` +
      'interleaved call by call; the scoped block runs last, because AsyncLocalStorage stays on for the process once used. ' +
      `Pre-warming: a scope of ${prewarm.concurrency} × \`pg_sleep(${prewarm.statementMs} ms)\` sent at once on a router with adaptive sizing ` +
      `(pool ${prewarm.pool.min}–${prewarm.pool.max}, interval ${prewarm.adaptiveIntervalMs} ms, no peak hold), the pool back at its minimum before each run; ` +
      `${prewarm.rounds} rounds, cold and pre-warmed alternating which goes first.`,
  ].join('\n');
}
