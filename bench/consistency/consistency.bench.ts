/**
 * `npm run bench:consistency`: stale reads, replica share and read latency of eventual reads, read-your-writes
 * sessions and the "primary for 2 s after a write" rule, at several write shares, on a local primary with two
 * streaming replicas. Prints a Markdown table on stdout (progress on stderr). `BENCH_QUICK=1` for a smoke run.
 *
 * @packageDocumentation
 */
import { describeEnvironment } from '../lib/environment.js';
import { publishReport } from '../lib/docs-page.js';
import { progress, runBench } from '../lib/harness.js';
import { benchParams } from '../lib/params.js';
import { CONSISTENCY_ENV_OVERRIDES, FULL_CONSISTENCY_PARAMS, POLICIES, QUICK_CONSISTENCY_PARAMS } from './params.js';
import { consistencyHeader, renderConsistencyTable, summariseConsistency } from './report.js';
import { benchRouter, createConsistencySchema, runCell, type CellResult } from './workload.js';
import { runTimeNote } from '../lib/report.js';
import { inRotation } from '../lib/rounds.js';

const params = benchParams(FULL_CONSISTENCY_PARAMS, QUICK_CONSISTENCY_PARAMS, CONSISTENCY_ENV_OVERRIDES);
runBench({ replicas: 2, settings: { synchronous_commit: 'on' } }, async (cluster) => {
  const started = performance.now();
  const environment = await describeEnvironment(cluster.primaryUrl);
  await createConsistencySchema(cluster.primaryUrl, params.users);
  await cluster.waitForReplication();
  const primaryPort = cluster.nodes[0]!.port;
  const cells: CellResult[] = [];
  for (let round = 0; round < params.rounds; round++) {
    for (const [shareIndex, writeShare] of params.writeShares.entries()) {
      for (const policy of inRotation(POLICIES, round)) {
        progress(`round ${round + 1}/${params.rounds}: write share ${writeShare}, ${policy}…`);
        const router = benchRouter(cluster, params);
        try {
          // Untimed warm-up: connections open, statements prepared, classification cached.
          await runCell(
            router,
            policy,
            writeShare,
            { ...params, cellMs: Math.min(500, params.cellMs) },
            primaryPort,
            params.seed - 1,
          );
          cells.push(
            await runCell(router, policy, writeShare, params, primaryPort, params.seed + round * 100 + shareIndex),
          );
        } finally {
          await router.close();
        }
      }
    }
  }
  progress('');
  const footer = `- ${runTimeNote(started, environment)}`;
  publishReport(
    'consistency',
    `${consistencyHeader(environment, params)}\n\n${renderConsistencyTable(summariseConsistency(cells))}\n\n${footer}\n`,
  );
});
