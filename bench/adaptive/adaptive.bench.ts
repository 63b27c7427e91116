/**
 * `npm run bench:adaptive`: a bursty open-loop workload (quiet, burst, quiet, burst) through three routers on one
 * throwaway local PostgreSQL: a fixed pool of `min` connections, a fixed pre-warmed pool of `max`, and the
 * adaptive pool between them. Prints a header and one Markdown table on stdout (progress goes to stderr), also written
 * into docs/benchmarks/adaptive.md with `BENCH_WRITE_DOCS=1`, and fails if any request failed. `BENCH_QUICK=1`
 * shrinks every phase.
 *
 * `BENCH_ADAPTIVE_TRACE=1` also writes the adaptive pool's timeline (open, target, busy and waiting connections,
 * resizes) of every adaptive run to stderr.
 *
 * @packageDocumentation
 */
import { publishReport } from '../lib/docs-page.js';
import { progress, runBench } from '../lib/harness.js';
import { benchParams } from '../lib/params.js';
import { FULL_ADAPTIVE_PARAMS, QUICK_ADAPTIVE_PARAMS } from './params.js';
import { runAdaptiveBenchmark } from './run.js';
import { formatTrace } from './trace.js';

const params = benchParams(FULL_ADAPTIVE_PARAMS, QUICK_ADAPTIVE_PARAMS);
const trace = process.env.BENCH_ADAPTIVE_TRACE === '1';

runBench({ replicas: 0 }, async (cluster) => {
  const outcome = await runAdaptiveBenchmark(cluster.primaryUrl, params, progress);
  progress('');
  if (trace) {
    for (const run of outcome.results.get('adaptive') ?? []) process.stderr.write(`\n${formatTrace(run, params)}\n`);
  }
  publishReport('adaptive', outcome.text);
  if (outcome.failures > 0)
    throw new Error(`${outcome.failures} of ${outcome.requests} requests failed (see the notes above)`);
});
