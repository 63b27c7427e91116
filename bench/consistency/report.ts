/** The `bench:consistency` table: one row per write share and policy, medians over rounds. */
import { environmentLine, type Environment } from '../lib/environment.js';
import type { ConsistencyBenchParams, ReadPolicy } from './params.js';
import { POLICIES } from './params.js';
import type { CellResult } from './workload.js';
import { mark } from '../lib/format.js';
import { median, percentileOfSorted } from '../lib/stats.js';
import { renderMarkdownTable } from '../lib/table.js';
import { quickRunTitle } from '../lib/report.js';

/** One policy at one write share, summarised over rounds. */
export interface ConsistencyRow {
  readonly policy: ReadPolicy;
  readonly writeShare: number;
  readonly writesPerSecond: number;
  readonly readsPerSecond: number;
  /** Stale reads over every round (the target is about all of them), and their share of all reads. */
  readonly staleReads: number;
  readonly staleShare: number;
  /** Median over rounds of the share of reads a replica served. */
  readonly replicaShare: number;
  readonly readP50Ms: number;
  readonly readP99Ms: number;
}

/** Targets: read-your-writes reads no stale row, and serves more reads from replicas than the pin rule at every write share. */
export interface ConsistencyVerdict {
  readonly writeShare: number;
  readonly noStaleReads: boolean;
  readonly moreReplicaReadsThanPinning: boolean;
}

export function summariseConsistency(cells: readonly CellResult[]): ConsistencyRow[] {
  const rows: ConsistencyRow[] = [];
  const shares = [...new Set(cells.map((cell) => cell.writeShare))];
  for (const writeShare of shares) {
    for (const policy of POLICIES) {
      const mine = cells.filter((cell) => cell.writeShare === writeShare && cell.policy === policy);
      if (mine.length === 0) continue;
      const reads = mine.reduce((sum, cell) => sum + cell.reads, 0);
      const staleReads = mine.reduce((sum, cell) => sum + cell.staleReads, 0);
      rows.push({
        policy,
        writeShare,
        writesPerSecond: median(mine.map((cell) => cell.writes / cell.seconds)),
        readsPerSecond: median(mine.map((cell) => cell.reads / cell.seconds)),
        staleReads,
        staleShare: reads === 0 ? 0 : staleReads / reads,
        replicaShare: median(mine.map((cell) => (cell.reads === 0 ? 0 : cell.replicaReads / cell.reads))),
        readP50Ms: median(mine.map((cell) => percentileOfSorted(cell.readMs, 50))),
        readP99Ms: median(mine.map((cell) => percentileOfSorted(cell.readMs, 99))),
      });
    }
  }
  return rows;
}

export function consistencyVerdicts(rows: readonly ConsistencyRow[]): ConsistencyVerdict[] {
  return [...new Set(rows.map((row) => row.writeShare))].map((writeShare) => {
    const ryw = rows.find((row) => row.writeShare === writeShare && row.policy === 'read-your-writes');
    const pin = rows.find((row) => row.writeShare === writeShare && row.policy === 'primary for 2 s after a write');
    return {
      writeShare,
      noStaleReads: ryw !== undefined && ryw.staleReads === 0,
      moreReplicaReadsThanPinning: ryw !== undefined && pin !== undefined && ryw.replicaShare > pin.replicaShare,
    };
  });
}

const pct = (share: number): string => `${(share * 100).toFixed(share > 0 && share < 0.001 ? 3 : 1)} %`;
const ms = (value: number): string => (value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(1)} ms`);
const rate = (value: number): string => Math.round(value).toLocaleString('en-US');

export function renderConsistencyTable(rows: readonly ConsistencyRow[]): string {
  const verdicts = consistencyVerdicts(rows);
  const header = [
    'Write share',
    'Policy',
    'Writes/s',
    'Reads/s',
    'Stale reads',
    'Reads on replicas',
    'Read p50',
    'Read p99',
    'Target',
  ];
  const lines = rows.map((row) => {
    const verdict = verdicts.find((v) => v.writeShare === row.writeShare)!;
    const target =
      row.policy === 'read-your-writes'
        ? `0 stale ${mark(verdict.noStaleReads)}, more on replicas than the 2 s rule ${mark(verdict.moreReplicaReadsThanPinning)}`
        : '';
    return [
      pct(row.writeShare),
      row.policy,
      rate(row.writesPerSecond),
      rate(row.readsPerSecond),
      `${row.staleReads.toLocaleString('en-US')} (${pct(row.staleShare)})`,
      pct(row.replicaShare),
      ms(row.readP50Ms),
      ms(row.readP99Ms),
      target,
    ];
  });
  return renderMarkdownTable(
    header,
    ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
    lines,
  );
}

export function consistencyHeader(env: Environment, params: ConsistencyBenchParams): string {
  return [
    `## Read-your-writes benchmark${quickRunTitle(params.quick)}`,
    '',
    environmentLine(env, [], { cpuModel: false }),
    '',
    `A local primary with two streaming replicas (synchronous_commit on). ${params.users} simulated users, each sending a request ` +
      `every ${params.thinkMs} ms on average (exponential think time); a request writes the user's row and reads it back with ` +
      `probability "write share", else only reads it. Each request is a session that starts from the consistency token of the user's previous request (a cookie). Every read is checked against the user's last acknowledged write. ` +
      `Policies: eventual (any replica), read-your-writes (router sessions, waitForReplicaMs ${params.waitForReplicaMs}), and the ` +
      `framework rule "reads go to the primary for ${params.pinMs / 1000} s after the user's last write" over an eventual router. ` +
      `${params.rounds} round(s) of ${(params.cellMs / 1000).toFixed(1)} s per policy and write share, policies in rotating order; ` +
      'rates, shares and latencies are medians over rounds, stale reads are summed over all rounds.',
  ].join('\n');
}
