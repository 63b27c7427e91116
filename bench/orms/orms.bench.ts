/**
 * `npm run bench:orms`: Drizzle (node-postgres driver) and Kysely (PostgresDialect) over a raw `pg.Pool` against
 * the same over `router.asPool()`, one process, one throwaway local cluster, a read-heavy mix at 1 and 32 callers.
 * Prints a header and one Markdown table on stdout (progress goes to stderr), also written into
 * docs/benchmarks/orms.md with `BENCH_WRITE_DOCS=1`.
 * `BENCH_QUICK=1` shrinks every count.
 *
 * @packageDocumentation
 */
import { LatencyBuffer } from '../lib/closed-loop.js';
import { describeEnvironment } from '../lib/environment.js';
import { publishReport } from '../lib/docs-page.js';
import { progress, runBench } from '../lib/harness.js';
import { benchParams } from '../lib/params.js';
import { FULL_ORMS_PARAMS, QUICK_ORMS_PARAMS } from './params.js';
import { ormsHeader, ormsReport } from './report.js';
import { measureOrms } from './run.js';
import { createBenchSchema } from '../lib/schema.js';
import { renderTable } from '../lib/table.js';
import { bulletList, runTimeNote, targetLines } from '../lib/report.js';

const params = benchParams(FULL_ORMS_PARAMS, QUICK_ORMS_PARAMS);

runBench({ replicas: params.replicas }, async (cluster) => {
  const started = performance.now();
  const environment = await describeEnvironment(cluster.primaryUrl);
  progress('seeding the bench schema…');
  const schema = await createBenchSchema(cluster.primaryUrl, 'bench_orms', params.seed);
  await cluster.waitForReplication();
  try {
    const results = await measureOrms(cluster, schema, params, new LatencyBuffer(params.sampleCapacity), progress);
    progress('');
    const { rows, targets, notes } = ormsReport(results, params);
    const lines = [...targetLines(targets), bulletList([...notes, runTimeNote(started, environment)])];
    publishReport('orms', `${ormsHeader(environment, params)}\n\n${renderTable(rows)}\n\n${lines.join('\n')}\n`);
  } finally {
    await schema.drop().catch(() => undefined);
  }
});
