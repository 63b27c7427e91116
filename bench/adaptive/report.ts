import { environmentLine, type Environment } from '../lib/environment.js';
import {
  ADAPTIVE,
  ADAPTIVE_COLD,
  FIXED_MAX,
  FIXED_MIN,
  type AdaptiveBenchParams,
  type AdaptiveContenderParams,
} from './params.js';
import {
  RAMP_SETTLE_MS,
  RAMP_WINDOW_MS,
  summariseAdaptive,
  type AdaptiveResults,
  type AdaptiveSummary,
} from './rounds.js';
import { DASH, formatInteger, formatMs, mark } from '../lib/format.js';
import { renderMarkdownTable } from '../lib/table.js';
import { quickRunTitle, targetsMet, type TargetOutcome } from '../lib/report.js';

/** What the entry point prints: the table, the targets and notes under it. */
export interface AdaptiveReport {
  readonly table: string;
  readonly targets: readonly TargetOutcome[];
  readonly notes: readonly string[];
}

/** The table's column titles, in order (the smoke test checks them). */
export const ADAPTIVE_TABLE_HEADERS: readonly string[] = Object.freeze([
  'Contender',
  'Pool',
  'p50',
  'p99',
  'Max',
  'Connection-s',
  'Mean open (quiet / burst)',
  'Peak open',
  'Opened',
  'Resizes',
  'p99 ÷ fixed-max',
  'Conn-s ÷ fixed-max',
  'Targets',
]);

const ALIGNS = [
  'left',
  'left',
  'right',
  'right',
  'right',
  'right',
  'right',
  'right',
  'right',
  'right',
  'right',
  'right',
  'left',
] as const;

function ratio(value: number): string {
  if (!Number.isFinite(value)) return DASH;
  // Three decimals below 1, so a ratio just over a target (0.605 against 0.60) does not print as the target itself.
  if (value < 1) return `${value.toFixed(3)}×`;
  return value >= 100 ? `${formatInteger(value)}×` : `${value.toFixed(2)}×`;
}

function count(value: number): string {
  return Number.isFinite(value) ? formatInteger(value) : DASH;
}

function open(value: number): string {
  return Number.isFinite(value) ? value.toFixed(1) : DASH;
}

/** `2–40, idle 1 s; adaptive every 250 ms, cool-down 0.75 s, hold 6 s; in service`: the contender's sizing, short enough for a cell. */
export function describePool(contender: AdaptiveContenderParams): string {
  const { min = 0, max = 10, idleTimeoutMs } = contender.pool;
  const size = min === max ? `${min} fixed${min > 2 ? ', pre-warmed' : ''}` : `${min}–${max}`;
  const idle = min === max || idleTimeoutMs === undefined ? '' : `, idle ${idleTimeoutMs / 1000} s`;
  const adaptive = contender.adaptive;
  const inService = contender.inService === true ? '; in service' : '';
  if (adaptive?.enabled !== true) return `${size}${idle}${inService}`;
  const parts = [
    `every ${adaptive.intervalMs ?? 5_000} ms`,
    `cool-down ${(adaptive.cooldownMs ?? 15_000) / 1000} s`,
    `hold ${(adaptive.peakHoldMs ?? 120_000) / 1000} s`,
  ];
  if (adaptive.targetUtilization !== undefined) parts.push(`utilisation ${adaptive.targetUtilization}`);
  if (adaptive.hysteresis !== undefined) parts.push(`hysteresis ${adaptive.hysteresis}`);
  return `${size}${idle}; adaptive ${parts.join(', ')}${inService}`;
}

/**
 * The Markdown table (one row per contender: medians over rounds, ratios to fixed-max, the targets on the
 * adaptive row), the targets one by one with their measured values, and notes.
 */
export function adaptiveReport(results: AdaptiveResults, params: AdaptiveBenchParams): AdaptiveReport {
  const summaries = new Map<string, AdaptiveSummary | undefined>(
    params.contenders.map((c) => [c.name, summariseAdaptive(results, c.name)]),
  );
  const fixedMax = summaries.get(FIXED_MAX);
  const fixedMin = summaries.get(FIXED_MIN);
  const adaptive = summaries.get(ADAPTIVE);
  const { targets: goal } = params;
  const targets: TargetOutcome[] = [];
  if (adaptive !== undefined && fixedMax !== undefined && fixedMin !== undefined) {
    const p99Ratio = adaptive.p99Ms / fixedMax.p99Ms;
    const connRatio = adaptive.connectionSeconds / fixedMax.connectionSeconds;
    const gain = fixedMin.p99Ms / adaptive.p99Ms;
    targets.push(
      {
        name: `adaptive p99 ≤ ${goal.maxP99RatioToFixedMax}× fixed-max p99`,
        met: p99Ratio <= goal.maxP99RatioToFixedMax,
        measured: `${ratio(p99Ratio)} (${formatMs(adaptive.p99Ms)} vs ${formatMs(fixedMax.p99Ms)})`,
      },
      {
        name: `adaptive connection-seconds ≤ ${Math.round(goal.maxConnectionSecondsRatio * 100)} % of fixed-max's`,
        met: connRatio <= goal.maxConnectionSecondsRatio,
        measured: `${ratio(connRatio)} (${adaptive.connectionSeconds.toFixed(0)} vs ${fixedMax.connectionSeconds.toFixed(0)} connection-s)`,
      },
      {
        name: `fixed-min p99 ≥ ${goal.minP99GainOverFixedMin}× adaptive p99 ("far better")`,
        met: gain >= goal.minP99GainOverFixedMin,
        measured: `${ratio(gain)} (${formatMs(fixedMin.p99Ms)} vs ${formatMs(adaptive.p99Ms)})`,
      },
    );
  }

  // Short forms of the targets above, in the same order, for the adaptive row's cell.
  const labels = [
    `p99 ≤ ${goal.maxP99RatioToFixedMax}×`,
    `conn-s ≤ ${Math.round(goal.maxConnectionSecondsRatio * 100)} %`,
    `fixed-min ≥ ${goal.minP99GainOverFixedMin}×`,
  ];
  const body = params.contenders.map((contender) => {
    const s = summaries.get(contender.name);
    if (s === undefined)
      return [
        contender.name,
        describePool(contender),
        ...new Array<string>(ADAPTIVE_TABLE_HEADERS.length - 2).fill(DASH),
      ];
    const isBaseline = contender.name === FIXED_MAX;
    const p99Ratio = fixedMax === undefined ? Number.NaN : s.p99Ms / fixedMax.p99Ms;
    const connRatio = fixedMax === undefined ? Number.NaN : s.connectionSeconds / fixedMax.connectionSeconds;
    const marks =
      contender.name === ADAPTIVE
        ? targets.map((t, i) => `${labels[i]} ${mark(t.met)}`).join('; ')
        : isBaseline
          ? 'baseline'
          : contender.name === ADAPTIVE_COLD
            ? 'no target (first start)'
            : '';
    return [
      contender.name,
      describePool(contender),
      formatMs(s.p50Ms),
      formatMs(s.p99Ms),
      formatMs(s.maxMs),
      s.connectionSeconds.toFixed(0),
      `${open(s.meanOpen)} (${open(s.meanOpenQuiet)} / ${open(s.meanOpenBurst)})`,
      count(s.peakOpen),
      count(s.connectionsOpened),
      contender.adaptive?.enabled === true ? `${count(s.resizes)} (${count(s.grows)} ↑ ${count(s.shrinks)} ↓)` : DASH,
      isBaseline ? '1.00× (baseline)' : ratio(p99Ratio),
      isBaseline ? '1.00× (baseline)' : ratio(connRatio),
      marks,
    ];
  });

  const notes: string[] = [];
  const byRound = params.contenders
    .map(({ name }) => `${name} ${(results.get(name) ?? []).map((r) => formatMs(r.p99Ms)).join(', ')}`)
    .join('; ');
  notes.push(`p99 by round: ${byRound}.`);
  const connByRound = params.contenders
    .filter(({ name }) => name !== FIXED_MIN)
    .map(({ name }) => `${name} ${(results.get(name) ?? []).map((r) => r.connectionSeconds.toFixed(0)).join(', ')}`)
    .join('; ');
  notes.push(`Connection-seconds by round: ${connByRound}.`);
  const detail = params.contenders.flatMap(({ name }) => {
    const s = summaries.get(name);
    if (s === undefined) return [];
    return [
      `${name}: p99 ${formatMs(s.quietP99Ms)} in quiet phases, ${formatMs(s.burstP99Ms)} in bursts (${formatMs(s.rampP99Ms)} over each burst's first ${RAMP_WINDOW_MS} ms, ` +
        `${(s.rampShare * 100).toFixed(1)} % of all requests; ${formatMs(s.steadyBurstP99Ms)} over the rest); callers waited for a connection during ${s.waitingSeconds.toFixed(2)} s of the run, at most ${count(s.peakWaiting)} at once.`,
    ];
  });
  notes.push(...detail);
  const lags = params.contenders.flatMap(({ name }) => {
    const s = summaries.get(name);
    return s === undefined ? [] : [`${name} ${formatMs(s.dispatchLagMaxMs)}`];
  });
  notes.push(
    `Dispatch lateness (how late this process's event loop issued a request after it was due, worst of a run, median over rounds; part of every latency): ${lags.join(', ')}.`,
  );
  for (const contender of params.contenders) {
    const s = summaries.get(contender.name);
    if (contender.adaptive?.enabled !== true || s === undefined) continue;
    const d = s.dynamics;
    const max = contender.pool.max ?? 10;
    notes.push(
      `${contender.name} sizing, medians over rounds: the target was ${d.startTargets.map(count).join(' and ')} (max ${max}) when the bursts began` +
        (Number.isFinite(d.rampMs)
          ? `, and grew to ${count(d.rampTarget)} within ${count(d.rampMs)} ms of a burst's start. `
          : `, and did not grow in a burst's first ${RAMP_SETTLE_MS} ms. `) +
        (d.shrinksInBursts > 0
          ? `${count(d.shrinksInBursts)} shrink${d.shrinksInBursts === 1 ? '' : 's'} per run while a burst was on, to ${count(d.shrankTo)}` +
            (Number.isFinite(d.regrowMs)
              ? `, grown back to ${count(d.regrewTo)} ${count(d.regrowMs)} ms later.`
              : ', not grown back.')
          : 'It did not shrink while a burst was on.'),
    );
  }
  if (
    fixedMin !== undefined &&
    fixedMax !== undefined &&
    fixedMin.connectionSeconds / fixedMin.meanOpen > (fixedMax.connectionSeconds / fixedMax.meanOpen) * 1.05
  ) {
    notes.push(
      `fixed-min's connection-seconds cover its own, longer window (${(fixedMin.connectionSeconds / fixedMin.meanOpen).toFixed(0)} s): it was still working off the bursts' backlog after the last arrival.`,
    );
  }
  const runs = [...results.values()].flat();
  const requests = runs.reduce((sum, r) => sum + r.requests, 0);
  const failures = runs.reduce((sum, r) => sum + r.failures, 0);
  notes.push(
    failures === 0
      ? `Every one of the ${formatInteger(requests)} requests succeeded.`
      : `${formatInteger(failures)} of ${formatInteger(requests)} requests FAILED: ${[...new Set(runs.flatMap((r) => r.failureMessages))].join(' | ')}`,
  );
  const loads = runs.map((r) => r.loadAverage).filter(Number.isFinite);
  if (loads.length > 0)
    notes.push(
      `1-minute load average at the start of each run: ${Math.min(...loads).toFixed(2)} to ${Math.max(...loads).toFixed(2)}.`,
    );
  notes.push(targetsMet(targets));
  return { table: renderMarkdownTable(ADAPTIVE_TABLE_HEADERS, ALIGNS, body), targets, notes };
}

/** The lines printed above the table. */
export function adaptiveHeader(env: Environment, params: AdaptiveBenchParams): string {
  const phases = params.phases
    .map((p) => `${p.kind} ${formatInteger(p.ratePerSecond)}/s for ${(p.durationMs / 1000).toFixed(1)} s`)
    .join(' → ');
  const burst = Math.max(...params.phases.map((p) => p.ratePerSecond));
  return [
    `## Adaptive pool sizing under bursty load${quickRunTitle(params.quick)}`,
    '',
    environmentLine(env, [`pg ${env.packages.pg}`]),
    '',
    `One process, one local PostgreSQL without replicas; each contender is its own \`QueryRouter\` on the primary (scram-sha-256 over TCP, as the throwaway cluster runs). ` +
      `Every request is \`SELECT pg_sleep($1)\` with $1 = ${params.statementMs / 1000}: it holds a connection for ~${params.statementMs} ms and costs the server no CPU, ` +
      `so a burst of ${formatInteger(burst)}/s keeps ≈ ${((burst * (params.statementMs + 0.5)) / 1000).toFixed(0)} connections busy (Little's law). ` +
      `Open loop, Poisson arrivals: ${phases}; the same arrival times for every contender in a round (seed + round). ` +
      `Latency runs from when a request was due to its result, so waiting for a connection (or for one to be opened) counts. ` +
      `Connection-seconds: the primary pool's open connections (\`router.stats().nodes[0].pool.total\`, sampled every ${params.sampleIntervalMs} ms) integrated from the first arrival to the later of the last arrival and the last result; ` +
      `"Opened" counts the connections the router opened while the clock ran (\`hooks.onConnect\`). ` +
      `Each run uses a fresh router whose \`pool.min\` connections are open and have each served a few statements before the clock starts; ` +
      `an "in service" router has also served the whole workload once, untimed and with other arrivals, and the clock starts as its next cycle begins ` +
      `(a fixed pool in service is simply open; an adaptive one is sized by the bursts it has seen), while the cold-start row is the same adaptive pool meeting the workload for the first time, with nothing learned. ` +
      `${params.rounds} round${params.rounds === 1 ? '' : 's'}, contenders in rotating order${env.gcBetweenRuns ? ', GC between runs' : ''}, ${params.settleMs} ms pause between runs; figures are medians over rounds, ratios are between medians.`,
  ].join('\n');
}
