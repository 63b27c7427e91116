/**
 * `npm run bench:pipeline`: `QueryPipeline` against sequential and concurrent `pg`, postgres.js pipelining,
 * a hand-written multi-row INSERT and COPY, on single-row INSERTs and UPDATEs against one throwaway local
 * PostgreSQL. Prints a header and one Markdown table on stdout (progress goes to stderr), ready to paste into the
 * README. `BENCH_QUICK=1` shrinks every count.
 *
 * @packageDocumentation
 */
import { loadavg } from 'node:os';
import { startLocalCluster, type LocalCluster } from '../src/cluster/index.js';
import { describeEnvironment } from './environment.js';
import { pipelineContenders, type PipelineContender, type QueryPipelineContender } from './pipeline-contenders.js';
import { pipelineParamsFromEnv } from './pipeline-params.js';
import { pipelineHeader, pipelineReport } from './pipeline-report.js';
import { runPipelineRounds } from './pipeline-rounds.js';
import { serverCpuClock } from './pipeline-server-cpu.js';
import { createPipelineSchema, type PipelineSchema } from './pipeline-workloads.js';

const params = pipelineParamsFromEnv(process.env);
let cluster: LocalCluster | undefined;
let interrupted = false;
/** The server's last log lines, printed if the benchmark fails: a backend that died says why only there. */
const serverLog: string[] = [];
const SERVER_LOG_LINES = 40;

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

function isQueryPipeline(contender: PipelineContender): contender is QueryPipelineContender {
  return 'pipeline' in contender;
}

async function main(): Promise<void> {
  process.on('SIGINT', onSigint);
  const started = performance.now();
  let schema: PipelineSchema | undefined;
  let contenders: PipelineContender[] = [];
  try {
    progress('starting a local PostgreSQL…');
    // No replicas: nothing but the contenders competes for the machine's cores.
    cluster = await startLocalCluster({ replicas: 0, log: rememberServerLine });
    const url = cluster.primaryUrl;
    const environment = await describeEnvironment(url);
    schema = await createPipelineSchema(url, 'bench_pipeline', params.statements);
    contenders = pipelineContenders(url, params);
    const results = await runPipelineRounds(contenders, schema, params, progress, serverCpuClock(cluster.nodes[0]?.pid));
    progress('');

    const report = pipelineReport(results, contenders);
    const batches = contenders.filter(isQueryPipeline).map((c) => `${c.name}: ${c.lastFlush?.batches ?? 0} batches in the last UPDATE run, ${c.pipeline.stats().coalesced.toLocaleString('en-US')} statements coalesced over all runs`);
    const seconds = (performance.now() - started) / 1000;
    const notes = [...report.notes, ...batches, `Total run time ${seconds.toFixed(0)} s; load ${loadavg()[0]?.toFixed(2) ?? '?'} at the end.`];
    const targets = report.targets.map((t) => `- ${t.met ? '✓' : '✗'} ${t.name}: ${t.measured}`);
    process.stdout.write(`${pipelineHeader(environment, params)}\n\n${report.table}\n\n${targets.join('\n')}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
  } finally {
    process.off('SIGINT', onSigint);
    await Promise.allSettled(contenders.map((c) => c.close()));
    await schema?.close().catch(() => undefined);
    await cluster?.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`\nbenchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  if (serverLog.length > 0) process.stderr.write(`last server log lines:\n${serverLog.join('\n')}\n`);
  process.exitCode = 1;
});
