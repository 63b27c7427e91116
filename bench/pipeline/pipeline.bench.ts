/**
 * `npm run bench:pipeline`: `QueryPipeline` against sequential and concurrent `pg`, postgres.js pipelining,
 * a hand-written multi-row INSERT and COPY, on single-row INSERTs and UPDATEs against one throwaway local
 * PostgreSQL. Prints a header and one Markdown table on stdout (progress goes to stderr), also written into
 * docs/benchmarks/pipeline.md with `BENCH_WRITE_DOCS=1`. `BENCH_QUICK=1` shrinks every count.
 *
 * @packageDocumentation
 */
import { loadavg } from 'node:os';
import { publishReport } from '../lib/docs-page.js';
import { progress, runBench } from '../lib/harness.js';
import { describeEnvironment } from '../lib/environment.js';
import { pipelineContenders, type PipelineContender, type QueryPipelineContender } from './contenders.js';
import { benchParams } from '../lib/params.js';
import { FULL_PIPELINE_PARAMS, QUICK_PIPELINE_PARAMS } from './params.js';
import { pipelineHeader, pipelineReport } from './report.js';
import { runPipelineRounds } from './rounds.js';
import { serverCpuClock } from './server-cpu.js';
import { createPipelineSchema, type PipelineSchema } from './workloads.js';
import { bulletList, targetLines } from '../lib/report.js';

const params = benchParams(FULL_PIPELINE_PARAMS, QUICK_PIPELINE_PARAMS);
function isQueryPipeline(contender: PipelineContender): contender is QueryPipelineContender {
  return 'pipeline' in contender;
}

runBench({ replicas: 0 }, async (cluster) => {
  const started = performance.now();
  let schema: PipelineSchema | undefined;
  let contenders: PipelineContender[] = [];
  try {
    // No replicas: nothing but the contenders competes for the machine's cores.
    const url = cluster.primaryUrl;
    const environment = await describeEnvironment(url);
    schema = await createPipelineSchema(url, 'bench_pipeline', params.statements);
    contenders = pipelineContenders(url, params);
    const results = await runPipelineRounds(
      contenders,
      schema,
      params,
      progress,
      serverCpuClock(cluster.nodes[0]?.pid),
    );
    progress('');

    const report = pipelineReport(results, contenders);
    const batches = contenders
      .filter(isQueryPipeline)
      .map(
        (c) =>
          `${c.name}: ${c.lastFlush?.batches ?? 0} batches in the last UPDATE run, ${c.pipeline.stats().coalesced.toLocaleString('en-US')} statements coalesced over all runs (${c.pipeline.stats().coalescedAsArrays.toLocaleString('en-US')} as unnest arrays, ${c.pipeline.stats().coalescedAsCopy.toLocaleString('en-US')} as COPY, ${c.pipeline.stats().coalescedKeyed.toLocaleString('en-US')} as merged UPDATEs and DELETEs)`,
      );
    const seconds = (performance.now() - started) / 1000;
    const notes = [
      ...report.notes,
      ...batches,
      `Total run time ${seconds.toFixed(0)} s; load ${loadavg()[0]?.toFixed(2) ?? '?'} at the end.`,
    ];
    const targets = targetLines(report.targets);
    publishReport(
      'pipeline',
      `${pipelineHeader(environment, params)}\n\n${report.table}\n\n${targets.join('\n')}\n\n${bulletList(notes)}\n`,
    );
  } finally {
    await Promise.allSettled(contenders.map((c) => c.close()));
    await schema?.close().catch(() => undefined);
  }
});
