import { environmentLine, type Environment } from '../lib/environment.js';
import type { PipelineContender } from './contenders.js';
import type { PipelineBenchParams } from './params.js';
import { summarisePipeline, WORKLOAD_ORDER, type PipelineResults, type PipelineSummary } from './rounds.js';
import type { WorkloadKind } from './workloads.js';
import { quickRunTitle, targetsMet, type TargetOutcome } from '../lib/report.js';
import { DASH, formatRate, mark } from '../lib/format.js';
import { renderMarkdownTable, type Align } from '../lib/table.js';

/** Targets from the issue. */
export const PIPELINE_TARGETS = Object.freeze({
  /** QueryPipeline without coalescing over sequential pg, at least. */
  minRatioToSequential: 10,
  /** QueryPipeline without coalescing over the better of the two postgres.js contenders, at least. */
  minRatioToPostgresJs: 1,
  /** QueryPipeline with coalescing over sequential pg on the INSERT workload, at least. */
  minCoalescedRatioToSequential: 20,
  /** QueryPipeline with coalescing (merged UPDATEs) over sequential pg on the UPDATE workload, at least. */
  minMergedUpdateRatioToSequential: 25,
  /** QueryPipeline with coalescing over the same mode without it on the UPDATE workload, at least. */
  minMergedUpdateRatioToPipelined: 1.5,
  /** QueryPipeline coalescing into COPY over the hand-driven `COPY FROM STDIN` on the INSERT workload, at least. */
  minCopyRatioToCopy: 0.8,
});

/** Names of the contenders the targets refer to; they must match `contenders.ts`. */
const BASELINE = 'pg.Pool#query, sequential';
const POSTGRES_JS_PREFIX = 'postgres.js';
const PIPELINE_PREFIX = 'QueryPipeline';
const COALESCE_MARK = '+ coalesce';
/** The coalescing contenders that merge into COPY, held to the COPY baseline. */
const COPY_FORM_SUFFIX = '(COPY)';
const COPY_BASELINE = 'COPY FROM STDIN (postgres.js writable)';

/** What the entry point prints: the table, the targets and notes under it. */
export interface PipelineReport {
  readonly table: string;
  readonly targets: readonly TargetOutcome[];
  readonly notes: readonly string[];
}

const LABELS: Readonly<Record<WorkloadKind, string>> = { insert: 'INSERT', update: 'UPDATE', delete: 'DELETE' };
/** The workloads the non-coalescing targets apply to (DELETE is shown, not held to a target). */
const TARGETED: readonly WorkloadKind[] = ['insert', 'update'];

function ratio(value: number): string {
  return `${value.toFixed(2)}×`;
}

/** CPU per row: whole microseconds are as precise as the noise allows, except for the few-µs bulk loaders. */
function micros(us: number): string {
  return us < 10 ? us.toFixed(1) : us.toFixed(0);
}

/** The best postgres.js median on `kind`: the bar the pipeline is held to. */
function bestPostgresJs(
  results: PipelineResults,
  contenders: readonly PipelineContender[],
  kind: WorkloadKind,
): { name: string; summary: PipelineSummary } | undefined {
  let best: { name: string; summary: PipelineSummary } | undefined;
  for (const { name } of contenders) {
    if (!name.startsWith(POSTGRES_JS_PREFIX)) continue;
    const summary = summarisePipeline(results, kind, name);
    if (summary !== undefined && (best === undefined || summary.rowsPerSecond > best.summary.rowsPerSecond))
      best = { name, summary };
  }
  return best;
}

/**
 * The Markdown table (one row per contender; per workload its median rows/s, its ratio to sequential pg and the
 * targets that apply to it), the targets one by one with their measured values, and notes.
 */
export function pipelineReport(results: PipelineResults, contenders: readonly PipelineContender[]): PipelineReport {
  const targets: TargetOutcome[] = [];
  const baselines = new Map<WorkloadKind, PipelineSummary | undefined>(
    WORKLOAD_ORDER.map((kind) => [kind, summarisePipeline(results, kind, BASELINE)]),
  );
  const best = new Map(WORKLOAD_ORDER.map((kind) => [kind, bestPostgresJs(results, contenders, kind)]));
  const copyBaseline = summarisePipeline(results, 'insert', COPY_BASELINE);
  const body = contenders.map((contender) => {
    const cells: string[] = [contender.name];
    const cpu: string[] = [];
    const marks: string[] = [];
    for (const kind of WORKLOAD_ORDER) {
      const summary = summarisePipeline(results, kind, contender.name);
      const baseline = baselines.get(kind);
      if (summary === undefined || baseline === undefined) {
        cells.push(DASH, DASH);
        cpu.push(DASH);
        continue;
      }
      const toSequential = summary.rowsPerSecond / baseline.rowsPerSecond;
      cells.push(
        formatRate(summary.rowsPerSecond, 'rows/s', summary.spread),
        contender.name === BASELINE ? '1.00× (baseline)' : ratio(toSequential),
      );
      cpu.push(
        summary.serverCpuUsPerRow === undefined
          ? micros(summary.cpuUsPerRow)
          : `${micros(summary.cpuUsPerRow)} + ${micros(summary.serverCpuUsPerRow)}`,
      );
      if (!contender.name.startsWith(PIPELINE_PREFIX)) continue;
      const label = LABELS[kind];
      if (contender.name.includes(COALESCE_MARK)) {
        if (kind === 'delete') continue;
        if (kind === 'update') {
          // Merged UPDATEs: against sequential pg, and against the same pipeline without merging.
          const min = PIPELINE_TARGETS.minMergedUpdateRatioToSequential;
          const met = toSequential >= min;
          targets.push({
            name: `${contender.name} ≥ ${min}× sequential pg (${label})`,
            met,
            measured: ratio(toSequential),
          });
          marks.push(`${label} ≥ ${min}× seq ${mark(met)}`);
          const plain = summarisePipeline(
            results,
            kind,
            contender.name.slice(0, contender.name.indexOf(COALESCE_MARK)).trimEnd(),
          );
          if (plain !== undefined) {
            const minPlain = PIPELINE_TARGETS.minMergedUpdateRatioToPipelined;
            const toPlain = summary.rowsPerSecond / plain.rowsPerSecond;
            const plainMet = toPlain >= minPlain;
            targets.push({
              name: `${contender.name} ≥ ${minPlain.toFixed(1)}× the same pipeline without coalescing (${label})`,
              met: plainMet,
              measured: ratio(toPlain),
            });
            marks.push(`${ratio(toPlain)} unmerged ≥ ${minPlain.toFixed(1)} ${mark(plainMet)}`);
          }
          continue;
        }
        const min = PIPELINE_TARGETS.minCoalescedRatioToSequential;
        const met = toSequential >= min;
        targets.push({
          name: `${contender.name} ≥ ${min}× sequential pg (${label})`,
          met,
          measured: ratio(toSequential),
        });
        let copyMark = '';
        if (contender.name.endsWith(COPY_FORM_SUFFIX) && copyBaseline !== undefined) {
          const minCopy = PIPELINE_TARGETS.minCopyRatioToCopy;
          const toCopy = summary.rowsPerSecond / copyBaseline.rowsPerSecond;
          const copyMet = toCopy >= minCopy;
          targets.push({
            name: `${contender.name} ≥ ${minCopy.toFixed(1)}× ${COPY_BASELINE} (${label})`,
            met: copyMet,
            measured: ratio(toCopy),
          });
          copyMark = `, ${ratio(toCopy)} COPY ≥ ${minCopy.toFixed(1)} ${mark(copyMet)}`;
        }
        marks.push(`${label} ≥ ${min}× seq ${mark(met)}${copyMark}`);
        continue;
      }
      if (!TARGETED.includes(kind)) continue;
      const minSeq = PIPELINE_TARGETS.minRatioToSequential;
      const seqMet = toSequential >= minSeq;
      targets.push({
        name: `${contender.name} ≥ ${minSeq}× sequential pg (${label})`,
        met: seqMet,
        measured: ratio(toSequential),
      });
      const rival = best.get(kind);
      let rivalMark = '';
      if (rival !== undefined) {
        const minPjs = PIPELINE_TARGETS.minRatioToPostgresJs;
        const toRival = summary.rowsPerSecond / rival.summary.rowsPerSecond;
        const met = toRival >= minPjs;
        targets.push({
          name: `${contender.name} ≥ ${minPjs.toFixed(1)}× best postgres.js (${rival.name}) (${label})`,
          met,
          measured: ratio(toRival),
        });
        rivalMark = `, ${ratio(toRival)} pjs ≥ ${minPjs.toFixed(1)} ${mark(met)}`;
      }
      marks.push(`${label} ≥ ${minSeq}× seq ${mark(seqMet)}${rivalMark}`);
    }
    return [...cells, cpu.join(' / '), marks.join('; ')];
  });
  const serverMeasured = [...results.values()].some((byName) =>
    [...byName.values()].some((runs) => runs.some((r) => r.serverCpuUsPerRow !== undefined)),
  );
  const cpuTitle = serverMeasured
    ? 'CPU µs/row, client + server (INS / UPD / DEL)'
    : 'Client CPU µs/row (INS / UPD / DEL)';
  const headers = [
    'Contender',
    ...WORKLOAD_ORDER.flatMap((kind) => [LABELS[kind], `${LABELS[kind]} × seq pg`]),
    cpuTitle,
    'Targets',
  ];
  const aligns: Align[] = ['left', ...WORKLOAD_ORDER.flatMap((): Align[] => ['right', 'right']), 'right', 'left'];
  const notes = [
    `"pjs" is the better of the two postgres.js rows in the same run (${WORKLOAD_ORDER.map((kind) => `${LABELS[kind]}: ${best.get(kind)?.name ?? 'none'}`).join('; ')}).`,
    `Sequential pg took ${WORKLOAD_ORDER.map((kind) => `${micros(1e6 / (baselines.get(kind)?.rowsPerSecond ?? Number.NaN))} µs (${LABELS[kind]})`).join(' and ')} per statement, one round trip each: ` +
      `${PIPELINE_TARGETS.minRatioToSequential}× its rate leaves ${WORKLOAD_ORDER.map((kind) => `${micros(1e6 / PIPELINE_TARGETS.minRatioToSequential / (baselines.get(kind)?.rowsPerSecond ?? Number.NaN))} µs`).join(' and ')} of wall time per row for the client's and the server's work together.`,
    `"COPY" is ${COPY_BASELINE} in the same run; "(COPY)" contenders merge each run of INSERTs into one \`COPY … FROM STDIN\` inside the batch, "(unnest)" ones into the unnest INSERT (what a table COPY is ruled out for gets).`,
    'With `coalesce: true` the UPDATE and DELETE runs are merged into one `UPDATE … FROM unnest(…)` / `DELETE … USING unnest(…)` per run (each id once, so a run is a whole batch); "unmerged" compares with the same mode\'s pipeline without coalescing. DELETE is shown without targets.',
    targetsMet(targets),
  ];
  return { table: renderMarkdownTable(headers, aligns, body), targets, notes };
}

/** The lines printed above the table. */
export function pipelineHeader(env: Environment, params: PipelineBenchParams): string {
  const n = params.statements.toLocaleString('en-US');
  return [
    `## Pipelined writes${quickRunTitle(params.quick)}`,
    '',
    environmentLine(env, [`pg ${env.packages.pg}`, `postgres.js ${env.packages.postgres}`]),
    '',
    `One process, one local PostgreSQL (primary only; fsync and synchronous_commit off, as the throwaway cluster runs). ` +
      `Each run writes ${n} single-row statements: INSERT = \`INSERT INTO events (user_id, kind, payload) VALUES ($1, $2, $3)\` into an emptied table, ` +
      `UPDATE = \`UPDATE accounts SET balance = $1 WHERE id = $2\` and DELETE = \`DELETE FROM accounts WHERE id = $1\` over ${n} pre-seeded rows, each id once. ` +
      `Every run is checked afterwards (row count, sums, well-formed jsonb). ${params.rounds} rounds, contenders alternating in rotating order` +
      `${env.gcBetweenRuns ? ', GC between runs' : ''}, after ${params.warmupRuns} untimed run${params.warmupRuns === 1 ? '' : 's'} each; ` +
      'rows/s are medians over rounds (± median absolute deviation), ratios are between medians. ' +
      `QueryPipeline: batchSize ${params.pipelineBatchSize} (${params.coalesceBatchSize} with coalesce as unnest, ${params.copyBatchSize} as COPY), concurrency ${params.pipelineConcurrency}, all statements queued with addQuery, then flush(). ` +
      `postgres.js: one connection, prepared statements, max_pipeline above the run size. pg pools and the router's pool: max ${params.poolMax}. ` +
      "CPU per row: this process's CPU time (all threads), + the PostgreSQL server's (postmaster and all its children, from /proc/<pid>/schedstat) where readable.",
  ].join('\n');
}
