import { environmentLine, type Environment } from '../lib/environment.js';
import {
  FAULT_TARGETS,
  type FaultOutcome,
  type FaultsAnalysis,
  type Latency,
  type PhaseSummary,
  type WriteOutage,
} from './analysis.js';
import type { FaultsBenchParams } from './params.js';
import type { ScenarioResult } from './scenario.js';
import { OVERHEAD_NAMES, type OpossumResult, type OverheadResult } from './overhead.js';
import { renderMarkdownTable } from '../lib/table.js';
import { bulletList, targetLines, type TargetOutcome } from '../lib/report.js';
import { DASH, formatInteger, formatMicros, formatMicrosDelta, formatMs, formatNanos, mark } from '../lib/format.js';

/** Targets of the overhead measurement. */
export const OVERHEAD_TARGETS = Object.freeze({
  /** Median latency the router adds per `SELECT $1::int` at one caller over named pg.Pool statements, in µs. */
  maxAddedUs: 5,
});

/** The report's parts, each printable on its own. */
export interface FaultsReport {
  /** Markdown tables under `###` headings, in print order. */
  readonly sections: readonly { readonly title: string; readonly table: string }[];
  readonly targets: readonly TargetOutcome[];
  readonly notes: readonly string[];
}

/** `+312 ms`: a time after a reference point; a dash for never. */
function after(ms: number | undefined): string {
  return ms === undefined || !Number.isFinite(ms) ? DASH : `+${formatMs(ms)}`;
}

/** `12.3 s`: a time since the start of the first phase. */
function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function signedSeconds(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return DASH;
  return `${ms < 0 ? '−' : '+'}${(Math.abs(ms) / 1000).toFixed(2)} s`;
}

function codes(list: readonly (readonly [string, number])[]): string {
  return list.length === 0 ? 'none' : list.map(([code, n]) => `${code} × ${formatInteger(n)}`).join(', ');
}

function latencyCells(l: Latency): [string, string] {
  return [formatMs(l.p50Ms), formatMs(l.p99Ms)];
}

function phaseRow(p: PhaseSummary, label = p.name): string[] {
  return [
    label,
    `${seconds(p.fromMs)} – ${seconds(p.toMs)}`,
    formatInteger(p.reads),
    formatInteger(p.failedReads),
    ...latencyCells(p.readLatency),
    formatMs(p.readMaxMs),
    formatInteger(p.writes),
    formatInteger(p.failedWrites),
    ...latencyCells(p.writeLatency),
    formatMs(p.writeMaxMs),
  ];
}

function faultRow(f: FaultOutcome): string[] {
  const replica = f.node.index !== 0;
  return [
    `${f.fault} (${f.faultAction.label})`,
    f.node.routerName,
    after(f.breakerOpenAfterMs),
    replica ? after(f.replicaDownAfterMs) : 'n/a',
    formatMs(f.detectedAfterMs),
    `${f.backAction.label}, took ${formatMs(f.backTookMs)}`,
    f.breakerCloseAfterMs === undefined ? 'was closed' : after(f.breakerCloseAfterMs),
    replica ? (f.replicaUpAfterMs === undefined ? 'was up' : after(f.replicaUpAfterMs)) : 'n/a',
    after(f.firstSuccessAfterMs),
    formatMs(f.recoveredAfterMs),
    `≤ ${formatMs(f.recoveryLimitMs)} ${mark(f.recoveryMet)}`,
  ];
}

function writeRows(w: WriteOutage): string[][] {
  const opened = w.breakerOpenedMs === undefined ? 'never opened' : `opened at ${signedSeconds(w.breakerOpenedMs)}`;
  const closed = w.breakerClosedMs === undefined ? 'did not close' : `closed at ${signedSeconds(w.breakerClosedMs)}`;
  return [
    ['Failed writes', `${formatInteger(w.failedWrites)} (${codes(w.codes)})`, ''],
    [
      'Failure window, from stopNode(0)',
      w.failedWrites === 0
        ? 'no write failed'
        : `${signedSeconds(w.firstFailureMs)} … ${signedSeconds(w.lastFailureMs)} (startNode(0) at ${signedSeconds(w.restartMs)}, resolved at ${signedSeconds(w.backMs)})`,
      `within +0.00 s … ${signedSeconds(w.allowedUntilMs)}: ${formatInteger(w.outside)} outside ${mark(w.outside === 0)}`,
    ],
    [
      `Failed before the breaker opened (${opened})`,
      `${formatInteger(w.beforeOpen.count)}: p50 ${formatMs(w.beforeOpen.p50Ms)}, p99 ${formatMs(w.beforeOpen.p99Ms)}, max ${formatMs(w.beforeOpen.maxMs)}`,
      '',
    ],
    [
      `Failed once the breaker was open (until it ${closed})`,
      `${formatInteger(w.onceOpen.count)} (${formatInteger(w.rejected)} rejected untried, ${formatInteger(w.failedTrials)} failed half-open trials): ` +
        `p50 ${formatMs(w.onceOpen.p50Ms)}, p99 ${formatMs(w.onceOpen.p99Ms)}`,
      `p99 < ${FAULT_TARGETS.maxOpenBreakerFailedWriteP99Ms} ms ${mark(w.fastFailMet)}`,
    ],
  ];
}

/** The run's setting, printed above the tables. */
export function faultsHeader(env: Environment, params: FaultsBenchParams, scenario: ScenarioResult): string {
  const { pool, breaker, readFallback, loadBalancing, statementCache } = scenario.options;
  const seconds =
    Object.entries(params.phases)
      .filter(([key]) => key !== 'warmupMs')
      .reduce((sum, [, ms]) => sum + ms, 0) / 1000;
  const nodes = scenario.nodes.map((n) => `${n.clusterName} = router ${n.routerName}`).join(', ');
  return [
    `## Fault injection${params.quick ? ' (BENCH_QUICK: short phases, numbers indicative only)' : ''}`,
    '',
    environmentLine(env, [`pg ${env.packages.pg}`]),
    '',
    `One router, a local primary and ${params.replicas} streaming replicas (${nodes}), ${params.readers} readers ` +
      '(`SELECT id, balance, inet_server_port() FROM accounts WHERE id = $1`) and ' +
      `${params.writers} writers (alternating \`INSERT INTO events\` and \`UPDATE accounts … WHERE id = $1\`), each sending its next ` +
      `statement as soon as the last one settled (after a failure, on the next turn of the event loop); about ${seconds.toFixed(0)} s of load ` +
      `after a ${(params.phases.warmupMs / 1000).toFixed(1)} s warm-up. Router options (after defaults):`,
    '',
    '```',
    `pool: ${JSON.stringify({ max: pool.max, min: pool.min, healthCheckIntervalMs: pool.healthCheckIntervalMs, acquireTimeoutMs: pool.acquireTimeoutMs, prePing: pool.prePing })}`,
    `breaker: ${JSON.stringify(breaker)}`,
    `readFallback: ${JSON.stringify(readFallback)}, loadBalancing: ${JSON.stringify(loadBalancing)}, statementCache: ${JSON.stringify(statementCache)}`,
    '```',
  ].join('\n');
}

/**
 * The tables (phases, faults, the write outage, the router's events, the overhead per call, opossum), the
 * targets with their measured values, and notes.
 */
export function faultsReport(
  analysis: FaultsAnalysis,
  overhead: OverheadResult | undefined,
  opossum: OpossumResult | undefined,
): FaultsReport {
  const sections: { title: string; table: string }[] = [];
  const targets: TargetOutcome[] = [];
  const notes: string[] = [];

  sections.push({
    title: 'Statements per phase (p50/p99 of successful statements; max of all)',
    table: renderMarkdownTable(
      [
        'Phase',
        'Window',
        'Reads',
        'Failed reads',
        'Read p50',
        'Read p99',
        'Read max',
        'Writes',
        'Failed writes',
        'Write p50',
        'Write p99',
        'Write max',
      ],
      ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
      [
        ...analysis.phases.map((p) => phaseRow(p)),
        phaseRow(
          analysis.total,
          `**all phases: ${formatInteger(analysis.total.reads + analysis.total.writes)} statements attempted**`,
        ),
      ],
    ),
  });

  sections.push({
    title: 'Detection and recovery (detection from the fault; recovery from the restart or resume)',
    table: renderMarkdownTable(
      [
        'Fault',
        'Router node',
        'breakerOpen',
        'replicaDown',
        'Detected after',
        'Back',
        'breakerClose',
        'replicaUp',
        'First success',
        'Recovered after',
        'Target',
      ],
      ['left', 'left', 'right', 'right', 'right', 'left', 'right', 'right', 'right', 'right', 'left'],
      analysis.faults.map(faultRow),
    ),
  });

  const failedReads = analysis.total.failedReads;
  targets.push({
    name: `${FAULT_TARGETS.maxFailedReads} failed reads`,
    met: failedReads <= FAULT_TARGETS.maxFailedReads,
    measured: `${formatInteger(failedReads)} (${codes(analysis.failedReadCodes)})`,
  });

  const w = analysis.writes;
  if (w !== undefined) {
    sections.push({
      title: 'Writes during the primary outage',
      table: renderMarkdownTable(['Measure', 'Value', 'Target'], ['left', 'left', 'left'], writeRows(w)),
    });
    targets.push({
      name: 'writes fail only while the primary is down (stop … restart + resetTimeoutMs + 1 s)',
      met: w.outside === 0,
      measured:
        w.failedWrites === 0
          ? 'no write failed'
          : `${formatInteger(w.failedWrites)} failed from ${signedSeconds(w.firstFailureMs)} to ${signedSeconds(w.lastFailureMs)} after the stop, ${formatInteger(w.outside)} outside`,
    });
    targets.push({
      name: `failed writes fail fast once the breaker is open (p99 < ${FAULT_TARGETS.maxOpenBreakerFailedWriteP99Ms} ms)`,
      met: w.fastFailMet,
      measured: `p99 ${formatMs(w.onceOpen.p99Ms)} over ${formatInteger(w.onceOpen.count)}`,
    });
  }
  for (const f of analysis.faults) {
    targets.push({
      name: `recovery from "${f.fault}" within resetTimeoutMs + 1 s (${formatMs(f.recoveryLimitMs)})`,
      met: f.recoveryMet,
      measured: f.recoveredAfterMs === undefined ? 'not recovered by the end of the run' : formatMs(f.recoveredAfterMs),
    });
  }

  sections.push({
    title: 'Router events (time since the baseline began)',
    table: renderMarkdownTable(
      ['Time', 'Event', 'Node', 'Detail'],
      ['right', 'left', 'left', 'left'],
      analysis.events.map((e) => [
        `${(e.atMs / 1000).toFixed(3)} s`,
        e.name,
        e.node,
        e.detail === undefined ? '' : e.detail.slice(0, 80),
      ]),
    ),
  });

  if (overhead !== undefined) {
    const met = overhead.addedUs <= OVERHEAD_TARGETS.maxAddedUs;
    sections.push({
      title: `Per-call overhead: \`SELECT $1::int\`, one caller, ${overhead.rounds} rounds × ${formatInteger(overhead.callsPerRound)} calls per contender, interleaved call by call`,
      table: renderMarkdownTable(
        ['Contender', 'p50 per call', 'vs named pg.Pool (median of per-round differences)', 'Target'],
        ['left', 'right', 'right', 'left'],
        [
          ...overhead.contenders.map((c) => [
            c.name,
            formatMicros(c.p50Us),
            c.name === OVERHEAD_NAMES.named ? 'baseline' : formatMicrosDelta(c.addedUs),
            c.name === OVERHEAD_NAMES.router ? `≤ +${OVERHEAD_TARGETS.maxAddedUs} µs ${mark(met)}` : '',
          ]),
          ['router.query vs unnamed pg.Pool', '', formatMicrosDelta(overhead.addedVsUnnamedUs), ''],
        ],
      ),
    });
    targets.push({
      name: `the router adds ≤ ${OVERHEAD_TARGETS.maxAddedUs} µs per query (p50 vs named pg.Pool, one caller)`,
      met,
      measured: formatMicrosDelta(overhead.addedUs),
    });
  }

  if (opossum !== undefined) {
    const direct = opossum.variants[0]?.nsPerCall ?? Number.NaN;
    sections.push({
      title: `opossum alone: an async function that resolves at once, ${opossum.rounds} rounds × ${formatInteger(opossum.callsPerRound)} calls`,
      table: renderMarkdownTable(
        ['Variant', 'Per call', 'Added to the direct call'],
        ['left', 'right', 'right'],
        opossum.variants.map((v, i) => [
          v.name,
          formatNanos(v.nsPerCall),
          i === 0 ? 'baseline' : `+${formatNanos(v.nsPerCall - direct)}`,
        ]),
      ),
    });
  }

  notes.push(
    "Detection: from the cluster action to the node's first `breakerOpen` or `replicaDown`, whichever came first. Recovery: from the " +
      "`startNode` or `resumeNode` call to the moment the node's breaker is closed, its health check passes and it has answered a statement " +
      '(reads return `inet_server_port()`, so each success names its node); a restart\'s own start-up time ("took") is included.',
    `Failed reads by code: ${codes(analysis.failedReadCodes)}.`,
  );
  return { sections, targets, notes };
}

/** The whole report as Markdown: sections, then targets, then notes. */
export function renderFaultsReport(report: FaultsReport): string {
  const parts = report.sections.map((s) => `### ${s.title}\n\n${s.table}`);
  parts.push(`### Targets\n\n${targetLines(report.targets).join('\n')}`);
  if (report.notes.length > 0) parts.push(bulletList(report.notes));
  return parts.join('\n\n');
}
