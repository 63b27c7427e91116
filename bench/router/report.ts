import { environmentLine, type Environment } from '../lib/environment.js';
import { quickRunTitle } from '../lib/report.js';
import type { RouterBenchParams } from './params.js';

/** The lines printed above the table. */
export function routerHeader(env: Environment, params: RouterBenchParams): string {
  const { loop, pool } = params.throughput;
  const { packages } = env;
  return [
    `## pg-query-router benchmark${quickRunTitle(params.quick)}`,
    '',
    environmentLine(env, [
      `pg ${packages.pg}`,
      `postgres.js ${packages.postgres}`,
      `node-sql-parser ${packages['node-sql-parser']}`,
    ]),
    '',
    `One process, one local PostgreSQL without replicas: the router (primary only) and the raw drivers query the same server, ` +
      `each with a pool of ${pool.max}. ${loop.rounds} rounds of ${(loop.runMs / 1000).toFixed(1)} s per contender and scenario, ` +
      `contenders alternating in rotating order${env.gcBetweenRuns ? ', GC between runs' : ''}; ` +
      'figures are medians over rounds (± the median absolute deviation of q/s over rounds), ratios are between those medians. ' +
      `The latency added at one caller comes from one caller sending every query through each contender in turn ` +
      `(${(params.throughput.interleavedMs / 1000).toFixed(1)} s per workload), so machine noise falls on all of them alike. ` +
      "Client CPU/query is this process's CPU time (all threads) per query: time spent waiting for a busy CPU does not count in it.",
  ].join('\n');
}
