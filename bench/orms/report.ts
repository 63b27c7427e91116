import { environmentLine, packageVersion, type Environment } from '../lib/environment.js';
import type { OrmsBenchParams } from './params.js';
import { RAW, REPLICAS, ROUTED, type LibraryResult } from './run.js';
import { quickRunTitle, type TargetOutcome } from '../lib/report.js';
import { summarise } from '../lib/rounds.js';
import { callers, formatMicros, formatMicrosDelta, formatRatio, formatTarget } from '../lib/format.js';
import { measuredCells, type TableRow } from '../lib/table.js';

/** The target from the issue: routed q/s over raw q/s at the high concurrency, at least. */
export const ORMS_MIN_RATIO = 0.95;

/** The table rows and targets of a run. */
export function ormsReport(
  results: readonly LibraryResult[],
  params: OrmsBenchParams,
): { rows: TableRow[]; targets: TargetOutcome[]; notes: string[] } {
  const rows: TableRow[] = [];
  const targets: TargetOutcome[] = [];
  const notes: string[] = [];
  const high = params.concurrency[1];
  for (const { library, contenders, byConcurrency, interleaved, replicaRouting } of results) {
    const rawName = contenders.find((c) => c.target === RAW)!.name;
    for (const { concurrency, results: rounds } of byConcurrency) {
      const raw = summarise(rounds, rawName);
      for (const contender of contenders) {
        const summary = summarise(rounds, contender.name);
        const ratio = summary.qps / raw.qps;
        let target: string | undefined;
        if (contender.target === ROUTED && concurrency === high) {
          const met = ratio >= ORMS_MIN_RATIO;
          target = formatTarget(`≥ ${ORMS_MIN_RATIO.toFixed(2)}×`, met);
          targets.push({
            name: `${library} over router.asPool() ≥ ${ORMS_MIN_RATIO}× ${library} over pg.Pool (q/s, ${callers(concurrency)})`,
            met,
            measured: `${ratio.toFixed(2)}×`,
          });
        }
        rows.push({
          benchmark: `${library}, ${callers(concurrency)}`,
          contender: contender.target,
          ...measuredCells(summary),
          ratio: contender.target === RAW ? 'baseline' : formatRatio(ratio, 'pg.Pool'),
          ...(target === undefined ? {} : { target }),
        });
      }
    }
    const raw = interleaved.find((entry) => entry.target === RAW)!.result;
    for (const { target, result } of interleaved) {
      if (target === RAW) continue;
      rows.push({
        benchmark: `${library}, 1 caller, interleaved`,
        contender: `added by ${target}`,
        p50: `${formatMicrosDelta(result.p50Us - raw.p50Us)} (${formatMicros(result.p50Us)} vs ${formatMicros(raw.p50Us)})`,
        tail: `p99 ${formatMicrosDelta(result.p99Us - raw.p99Us)}`,
      });
    }
    if (replicaRouting !== undefined && contenders.some((c) => c.target === REPLICAS)) {
      notes.push(
        `${library} over the router with replicas sent ${replicaRouting.replica.toLocaleString('en-US')} statements to replicas and ${replicaRouting.primary.toLocaleString('en-US')} to the primary.`,
      );
    }
  }
  return { rows, targets, notes };
}

/** The lines printed above the table. */
export function ormsHeader(env: Environment, params: OrmsBenchParams): string {
  const { loop, pool } = params;
  return [
    `## pg-query-router under Drizzle and Kysely${quickRunTitle(params.quick)}`,
    '',
    environmentLine(env, [
      `pg ${env.packages.pg}`,
      `drizzle-orm ${packageVersion('drizzle-orm')}`,
      `kysely ${packageVersion('kysely')}`,
    ]),
    '',
    `One process, one local primary${params.replicas > 0 ? ` with ${params.replicas} streaming replica(s)` : ''}. Each library runs the same read-heavy mix ` +
      '(per ten statements: six user lookups by primary key, three "latest five orders of a user" joins, one counter update) ' +
      `over a raw pg.Pool on the primary and over router.asPool() of a router whose only node is that primary, each with a pool of ${pool.max}; ` +
      'the router prepares parameterised statements (its default) where the libraries over raw pg send them unnamed, so a second routed contender turns ' +
      "the router's statement cache off to show the router's own cost on equal terms" +
      (params.replicas > 0
        ? `; a last contender's router also has the replica (${pool.max} more connections) and sends the reads there`
        : '') +
      `. ${loop.rounds} rounds of ${(loop.runMs / 1000).toFixed(1)} s per contender and concurrency, contenders alternating in rotating order` +
      `${env.gcBetweenRuns ? ', GC between runs' : ''}; figures are medians over rounds (± the median absolute deviation of q/s), ratios between those medians. ` +
      `The latency added at one caller comes from one caller sending each statement through raw and the routed contenders on the primary in turn (${(params.interleavedMs / 1000).toFixed(1)} s per library).`,
  ].join('\n');
}
