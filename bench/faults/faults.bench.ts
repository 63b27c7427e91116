/**
 * `npm run bench:faults`: about a minute of mixed reads and writes through one router on a local primary and two
 * streaming replicas while a replica is SIGKILLed and restarted, another frozen and resumed, and the primary
 * stopped and restarted; then the router's own cost per call against raw `pg.Pool`, and opossum's. Prints Markdown
 * tables on stdout (progress on stderr), also written into docs/benchmarks/faults.md with `BENCH_WRITE_DOCS=1`.
 * `BENCH_QUICK=1` shortens every phase.
 *
 * @packageDocumentation
 */
import { publishReport } from '../lib/docs-page.js';
import { progress, runBench } from '../lib/harness.js';
import { describeEnvironment } from '../lib/environment.js';
import { analyseScenario } from './analysis.js';
import { measureOpossum, measureOverhead } from './overhead.js';
import { benchParams } from '../lib/params.js';
import { FULL_FAULTS_PARAMS, QUICK_FAULTS_PARAMS } from './params.js';
import { faultsHeader, faultsReport, renderFaultsReport } from './report.js';
import { runFaultScenario } from './scenario.js';
import { createFaultsSchema } from './workload.js';
import { runTimeNote } from '../lib/report.js';

const params = benchParams(FULL_FAULTS_PARAMS, QUICK_FAULTS_PARAMS);
runBench({ replicas: params.replicas }, async (cluster) => {
  const started = performance.now();
  const environment = await describeEnvironment(cluster.primaryUrl);
  const schema = await createFaultsSchema(cluster.primaryUrl, 'bench_faults', params.accounts);
  await cluster.waitForReplication();

  // Measured first, on a cluster that has seen no fault: no crash recovery or reconnecting replica competes.
  const overhead = await measureOverhead(cluster.primaryUrl, params.overhead, progress);
  progress('opossum micro-benchmark…');
  const opossum = await measureOpossum(params.opossum);

  const scenario = await runFaultScenario(cluster, schema, params, progress);
  progress('');
  const report = faultsReport(analyseScenario(scenario), overhead, opossum);
  const footer = `- ${runTimeNote(started, environment)}`;
  publishReport(
    'faults',
    `${faultsHeader(environment, params, scenario)}\n\n${renderFaultsReport(report)}\n${footer}\n`,
  );
});
