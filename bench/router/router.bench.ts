/**
 * `npm run bench:router`: the router against raw `pg.Pool` and postgres.js on one throwaway local PostgreSQL,
 * plus the classifier's and the statement cache's costs. Prints a header and one Markdown table on stdout
 * (progress goes to stderr), also written into docs/benchmarks/router.md with `BENCH_WRITE_DOCS=1`. `BENCH_QUICK=1`
 * shrinks every count.
 *
 * @packageDocumentation
 */
import { classificationCorpus } from '../../test/fixtures/classification-corpus.js';
import { measureClassification } from './classification.js';
import { LatencyBuffer } from '../lib/closed-loop.js';
import { publishReport } from '../lib/docs-page.js';
import { progress, runBench } from '../lib/harness.js';
import { describeEnvironment } from '../lib/environment.js';
import { benchParams } from '../lib/params.js';
import { FULL_ROUTER_PARAMS, QUICK_ROUTER_PARAMS } from './params.js';
import { routerHeader } from './report.js';
import { bulletList, runTimeNote, targetsMet, type Measurement } from '../lib/report.js';
import { createBenchSchema } from '../lib/schema.js';
import { measureStatementCache } from './statement-cache.js';
import { renderTable } from '../lib/table.js';
import { measureThroughput } from './throughput.js';

const params = benchParams(FULL_ROUTER_PARAMS, QUICK_ROUTER_PARAMS);

runBench({ replicas: 0 }, async (cluster) => {
  const started = performance.now();
  const url = cluster.primaryUrl;
  const environment = await describeEnvironment(url);
  progress('seeding the bench schema…');
  const schema = await createBenchSchema(url, 'bench', params.seed);
  const buffer = new LatencyBuffer(params.sampleCapacity);

  progress('classification…');
  const classification = measureClassification(
    classificationCorpus.map((c) => c.sql),
    params.classification,
  );
  const throughput = await measureThroughput(url, schema, params.throughput, buffer, progress);
  const cache = await measureStatementCache(url, schema, params.statementCache, buffer, progress);
  const measurements: Measurement[] = [throughput, cache, classification];
  progress('');

  const targets = measurements.flatMap((m) => m.targets);
  const notes = [
    ...measurements.flatMap((m) => m.notes),
    `Statement cache counters: max 500 → ${cache.cached.hits} hits, ${cache.cached.misses} misses; max 0 → ${cache.uncached.hits} hits, ${cache.uncached.misses} misses.`,
    `${targetsMet(targets)} ${runTimeNote(started, environment, true)}`,
  ];
  publishReport(
    'router',
    `${routerHeader(environment, params)}\n\n${renderTable(measurements.flatMap((m) => m.rows))}\n\n${bulletList(notes)}\n`,
  );
});
