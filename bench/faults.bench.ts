/**
 * `npm run bench:faults`: about a minute of mixed reads and writes through one router on a local primary and two
 * streaming replicas while a replica is SIGKILLed and restarted, another frozen and resumed, and the primary
 * stopped and restarted; then the router's own cost per call against raw `pg.Pool`, and opossum's. Prints Markdown
 * tables on stdout (progress on stderr), ready for the README. `BENCH_QUICK=1` shortens every phase.
 *
 * @packageDocumentation
 */
import { loadavg } from 'node:os';
import { startLocalCluster, type LocalCluster } from '../src/cluster/index.js';
import { describeEnvironment } from './environment.js';
import { analyseScenario } from './faults-analysis.js';
import { measureOpossum, measureOverhead } from './faults-overhead.js';
import { faultsParamsFromEnv } from './faults-params.js';
import { faultsHeader, faultsReport, renderFaultsReport } from './faults-report.js';
import { runFaultScenario } from './faults-scenario.js';
import { createFaultsSchema } from './faults-workload.js';

const params = faultsParamsFromEnv(process.env);
let cluster: LocalCluster | undefined;
let interrupted = false;
/** The servers' last log lines, printed if the benchmark fails: a node that would not restart says why only there. */
const serverLog: string[] = [];
const SERVER_LOG_LINES = 60;

function rememberServerLine(line: string): void {
  serverLog.push(line);
  if (serverLog.length > SERVER_LOG_LINES) serverLog.shift();
}

function progress(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${message}`);
  else process.stderr.write(`${message}\n`);
}

function onSigint(): void {
  // A second Ctrl-C means "now": exiting still kills the servers through the cluster's own exit hook.
  if (interrupted) process.exit(130);
  interrupted = true;
  process.stderr.write('\ninterrupted: stopping the local cluster…\n');
  void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
}

async function main(): Promise<void> {
  process.on('SIGINT', onSigint);
  const started = performance.now();
  try {
    progress(`starting a local primary and ${params.replicas} replicas…`);
    cluster = await startLocalCluster({ replicas: params.replicas, log: rememberServerLine });
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
    const seconds = (performance.now() - started) / 1000;
    const footer = `- Total run time ${seconds.toFixed(0)} s; 1-minute load ${environment.loadAverage.toFixed(2)} at start, ${(loadavg()[0] ?? 0).toFixed(2)} at the end.`;
    process.stdout.write(`${faultsHeader(environment, params, scenario)}\n\n${renderFaultsReport(report)}\n${footer}\n`);
  } finally {
    process.off('SIGINT', onSigint);
    await cluster?.stop();
  }
}

main().catch((error: unknown) => {
  // After Ctrl-C the statements in flight fail as the servers go away; that is not worth a stack trace.
  if (interrupted) return;
  process.stderr.write(`\nbenchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  if (serverLog.length > 0) process.stderr.write(`last server log lines:\n${serverLog.join('\n')}\n`);
  process.exitCode = 1;
});
