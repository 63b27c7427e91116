/**
 * `npm run bench:overhead`: what `router.query` costs per call beyond pg's hand-named prepared statements (and
 * plain `pg.Pool#query`), counted in instructions by valgrind (cachegrind, or callgrind with `OVERHEAD_TOOL=callgrind`), which no load of a shared machine
 * changes, then timed natively (client CPU per query, interleaved p50). Needs valgrind (`VALGRIND` names another
 * binary). Prints a header and one Markdown table (progress on stderr), also written into
 * docs/benchmarks/overhead.md with `BENCH_WRITE_DOCS=1`. `BENCH_QUICK=1` shrinks every count.
 *
 * @packageDocumentation
 */
import { LatencyBuffer } from '../lib/closed-loop.js';
import { publishReport } from '../lib/docs-page.js';
import { describeEnvironment } from '../lib/environment.js';
import { progress, runBench } from '../lib/harness.js';
import { benchParams } from '../lib/params.js';
import { mark } from '../lib/format.js';
import { bulletList, runTimeNote, targetsMet } from '../lib/report.js';
import { createBenchSchema } from '../lib/schema.js';
import { countingTool, valgrindVersion } from './valgrind.js';
import { measureInstructions, measureTiming } from './measure.js';
import { FULL_OVERHEAD_PARAMS, QUICK_OVERHEAD_PARAMS } from './params.js';
import { overheadHeader, overheadReport } from './report.js';

const params = benchParams(FULL_OVERHEAD_PARAMS, QUICK_OVERHEAD_PARAMS);
const valgrind = valgrindVersion();
if (valgrind === undefined) {
  process.stderr.write(
    'bench:overhead counts instructions with valgrind, which was not found (install it, or set VALGRIND)\n',
  );
  process.exit(1);
}

runBench({ replicas: 0 }, async (cluster) => {
  const started = performance.now();
  const url = cluster.primaryUrl;
  const environment = await describeEnvironment(url);
  progress('seeding the bench schema…');
  const schema = await createBenchSchema(url, 'bench', params.seed);
  const counts = await measureInstructions(url, schema, params.count, progress);
  const timings = await measureTiming(url, schema, params.timing, new LatencyBuffer(params.sampleCapacity), progress);
  progress('');
  const { table, targets } = overheadReport(counts, timings);
  const notes = [
    ...targets.map((t) => `${mark(t.met)} ${t.name}: ${t.measured}`),
    `${targetsMet(targets)} ${runTimeNote(started, environment, true)}`,
  ];
  publishReport(
    'overhead',
    `${overheadHeader(environment, params, `${valgrind} ${countingTool()}`)}\n\n${table}\n\n${bulletList(notes)}\n`,
  );
});
