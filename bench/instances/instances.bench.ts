/**
 * `npm run bench:instances`: K application processes, each with its own router, against one node whose
 * `max_connections` is smaller than K × pool.max. Set-ups: (a) no budget, (b) a shared `connectionBudget`,
 * (c) through PgBouncer in transaction mode (`pgbouncer-hook.ts`; not run without a PgBouncer binary), (d) one process with the same callers and as many
 * connections as the budget. `BENCH_QUICK=1` for a short run.
 */
import { progress, runBench } from '../lib/harness.js';
import { benchParams, isQuickRun } from '../lib/params.js';
import { createBenchSchema } from '../lib/schema.js';
import { FULL_INSTANCES_PARAMS, QUICK_INSTANCES_PARAMS } from './params.js';
import { pgbouncerSetup } from './pgbouncer-hook.js';
import { instancesHeader, instancesTable, instancesTargets, targetList } from './report.js';
import { measureInstances } from './setups.js';

const params = benchParams(FULL_INSTANCES_PARAMS, QUICK_INSTANCES_PARAMS, {
  instances: 'BENCH_INSTANCES',
  poolMax: 'BENCH_POOL_MAX',
  callersPerInstance: 'BENCH_CALLERS',
  durationMs: 'BENCH_DURATION_MS',
});

runBench({ replicas: 0, settings: { max_connections: params.maxConnections } }, async (cluster) => {
  const schema = await createBenchSchema(cluster.primaryUrl, 'bench_instances', {
    users: params.users,
    ordersPerUser: 1,
  });
  try {
    const measured = await measureInstances(cluster.primaryUrl, params, schema.name, pgbouncerSetup, progress);
    progress('');
    process.stdout.write(
      [
        instancesHeader(params, measured.budget, isQuickRun()),
        '',
        instancesTable(measured.results, measured.skipped),
        '',
        targetList(instancesTargets(measured.budgeted, measured.single, measured.budget)),
        '',
      ].join('\n'),
    );
  } finally {
    await schema.drop();
  }
});
