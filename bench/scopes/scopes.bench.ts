/**
 * `npm run bench:scopes`: what connection health scores and workload scopes cost per statement, and what
 * pre-warming a scope saves. `BENCH_QUICK=1` for a short run.
 */
import { describeEnvironment } from '../lib/environment.js';
import { publishReport } from '../lib/docs-page.js';
import { progress, runBench } from '../lib/harness.js';
import { measureBookkeeping, measureCallCost } from './overhead.js';
import { benchParams } from '../lib/params.js';
import { FULL_SCOPES_PARAMS, QUICK_SCOPES_PARAMS } from './params.js';
import { measurePrewarm } from './prewarm.js';
import { scopesHeader, scopesReport } from './report.js';
import { bulletList } from '../lib/report.js';

const params = benchParams(FULL_SCOPES_PARAMS, QUICK_SCOPES_PARAMS);

runBench({ replicas: 0 }, async (cluster) => {
  const env = await describeEnvironment(cluster.primaryUrl);
  progress('bookkeeping');
  const bookkeeping = measureBookkeeping(params.bookkeeping);
  const callCost = await measureCallCost(cluster.primaryUrl, params.overhead, progress);
  const prewarm = await measurePrewarm(cluster.primaryUrl, params.prewarm, progress);
  progress('');
  const report = scopesReport(callCost, bookkeeping, prewarm);
  publishReport(
    'scopes',
    [
      scopesHeader(env, params),
      '',
      '### Per-call cost',
      '',
      report.callCostTable,
      '',
      '### A scope of concurrent statements, cold and pre-warmed',
      '',
      report.prewarmTable,
      '',
      bulletList(report.notes),
      '',
    ].join('\n'),
  );
});
