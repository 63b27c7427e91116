/**
 * `npm run bench:instances`: K application processes, each with its own router, against one node whose
 * `max_connections` is smaller than K × pool.max. Set-ups: (a) no budget, (b) a shared `connectionBudget`,
 * (c) through PgBouncer in transaction mode (`pgbouncer-hook.ts`; not run without a PgBouncer binary), (d) one process with the same callers and as many
 * connections as the budget, and the raw-driver baselines: (e) K processes of plain pg.Pool, (f) one. `BENCH_QUICK=1`
 * for a short run, `BENCH_ROUNDS`, `BENCH_SETUPS=b,d,e` (keys), `BENCH_DURATION_MS` to change what runs.
 */
import { progress, runBench } from '../lib/harness.js';
import { benchParams, isQuickRun } from '../lib/params.js';
import { createBenchSchema } from '../lib/schema.js';
import { FULL_INSTANCES_PARAMS, QUICK_INSTANCES_PARAMS } from './params.js';
import { pgbouncerSetup } from './pgbouncer-hook.js';
import { cpuTable, instancesHeader, instancesRatios, instancesTable, instancesTargets, targetList } from './report.js';
import { INSTANCE_SETUP_KEYS, measureInstances, type SetupKey } from './setups.js';

const params = benchParams(FULL_INSTANCES_PARAMS, QUICK_INSTANCES_PARAMS, {
  instances: 'BENCH_INSTANCES',
  poolMax: 'BENCH_POOL_MAX',
  callersPerInstance: 'BENCH_CALLERS',
  durationMs: 'BENCH_DURATION_MS',
  budgetPerNode: 'BENCH_BUDGET',
  rounds: 'BENCH_ROUNDS',
  warmupMs: 'BENCH_WARMUP_MS',
});
/** `BENCH_SETUPS=b,d,e`: only these set-ups ((b) and (d) always run). */
const only = process.env['BENCH_SETUPS']
  ?.split(',')
  .map((key) => key.trim())
  .filter((key): key is SetupKey => (INSTANCE_SETUP_KEYS as readonly string[]).includes(key));

runBench({ replicas: 0, settings: { max_connections: params.maxConnections } }, async (cluster) => {
  const schema = await createBenchSchema(cluster.primaryUrl, 'bench_instances', {
    users: params.users,
    ordersPerUser: 1,
  });
  try {
    const measured = await measureInstances(cluster.primaryUrl, params, schema.name, pgbouncerSetup, progress, only);
    progress('');
    process.stdout.write(
      [
        instancesHeader(params, measured.budget, isQuickRun()),
        '',
        instancesTable(measured.results, measured.skipped),
        '',
        cpuTable(measured.results, measured.runs),
        '',
        instancesRatios(measured),
        '',
        targetList(instancesTargets(measured.budgeted, measured.single, measured.budget)),
        '',
      ].join('\n'),
    );
  } finally {
    await schema.drop();
  }
});
