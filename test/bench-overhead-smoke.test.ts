import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LatencyBuffer } from '../bench/lib/closed-loop.js';
import { describeEnvironment } from '../bench/lib/environment.js';
import { createBenchSchema, type BenchSchema } from '../bench/lib/schema.js';
import { CONTENDERS, NAMED_PG, ROUTER, WORKLOADS } from '../bench/overhead/contenders.js';
import { measureInstructions, measureTiming } from '../bench/overhead/measure.js';
import { QUICK_OVERHEAD_PARAMS } from '../bench/overhead/params.js';
import { OVERHEAD_COLUMNS, overheadHeader, overheadReport } from '../bench/overhead/report.js';
import { instructionsOfProfile, valgrindVersion } from '../bench/overhead/valgrind.js';

const primaryUrl = inject('primaryUrl');
const valgrind = valgrindVersion();
if (valgrind === undefined) {
  // Loud on purpose: a skipped smoke test must not pass unnoticed.
  console.warn('\n*** bench:overhead smoke test SKIPPED: valgrind was not found (install it, or set VALGRIND) ***\n');
}

describe('bench:overhead profile parsing', () => {
  it('reads the instruction total of a callgrind or cachegrind profile', () => {
    expect(instructionsOfProfile('events: Ir\nsummary: 1234\n')).toBe(1234);
    expect(instructionsOfProfile('part: 1\nsummary: 99\ntotals: 98765\n')).toBe(99);
    expect(() => instructionsOfProfile('events: Ir\n')).toThrow(/totals or summary/);
  });
});

describe.skipIf(valgrind === undefined)('bench:overhead smoke run (tiny counts, no timing assertions)', () => {
  const schemaName = `bench_overhead_smoke_${process.pid}`;
  let schema: BenchSchema | undefined;

  beforeAll(async () => {
    schema = await createBenchSchema(primaryUrl, schemaName, { users: 50, ordersPerUser: 3 });
  });

  afterAll(async () => {
    await schema?.drop();
  });

  it('counts instructions per call under valgrind, times every contender and renders the table', async () => {
    // Two contenders on one workload under valgrind (each run starts node under valgrind: slow, not timed).
    const counts = await measureInstructions(
      primaryUrl,
      schema!,
      { warmup: 3, calls: [1, 3], parallel: 2 },
      undefined,
      [NAMED_PG, ROUTER],
      ['SELECT $1::int'],
    );
    expect(counts.map((c) => [c.workload, c.contender])).toEqual([
      ['SELECT $1::int', NAMED_PG],
      ['SELECT $1::int', ROUTER],
    ]);
    for (const count of counts) {
      // A node process runs hundreds of millions of instructions before its first query.
      expect(count.short).toBeGreaterThan(1_000_000);
      expect(count.long).toBeGreaterThan(1_000_000);
      expect(Number.isFinite(count.perCall)).toBe(true);
    }

    const timings = await measureTiming(
      primaryUrl,
      schema!,
      { loop: { rounds: 1, runMs: 20, warmupMs: 5, rewarmMs: 0 }, interleavedMs: 20 },
      new LatencyBuffer(1 << 14),
    );
    expect(timings).toHaveLength(CONTENDERS.length * WORKLOADS.length);
    for (const timing of timings) {
      expect(timing.cpuUsPerQuery).toBeGreaterThan(0);
      expect(timing.interleavedP50Us).toBeGreaterThan(0);
    }

    const { table, targets } = overheadReport(counts, timings);
    const lines = table.split('\n');
    expect(
      lines[0]!
        .split('|')
        .map((cell) => cell.trim())
        .filter(Boolean),
    ).toEqual(OVERHEAD_COLUMNS);
    expect(lines).toHaveLength(2 + CONTENDERS.length * WORKLOADS.length);
    for (const line of lines.slice(2)) expect(line).not.toMatch(/NaN|undefined/);
    expect(lines.find((line) => line.includes(ROUTER) && line.includes('SELECT'))).toMatch(/\d+\.\d\d× /);
    expect(targets).toHaveLength(2 * WORKLOADS.length);
    expect(overheadHeader(await describeEnvironment(primaryUrl), QUICK_OVERHEAD_PARAMS, valgrind!)).toMatch(
      /^## router\.query against hand-named pg statements \(BENCH_QUICK/,
    );
  }, 600_000);
});
