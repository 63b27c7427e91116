import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatencyBuffer } from '../bench/lib/closed-loop.js';
import { describeEnvironment } from '../bench/lib/environment.js';
import { QUICK_ORMS_PARAMS, type OrmsBenchParams } from '../bench/orms/params.js';
import { ormsHeader, ormsReport } from '../bench/orms/report.js';
import { measureOrms, type LibraryResult } from '../bench/orms/run.js';
import { createBenchSchema, type BenchSchema } from '../bench/lib/schema.js';
import { renderTable, TABLE_COLUMNS } from '../bench/lib/table.js';
import { sharedCluster } from './helpers/cluster.js';

const cluster = sharedCluster();

// Tiny counts: this checks that the benchmark runs end to end and reports every row, never how fast anything is.
const params: OrmsBenchParams = {
  ...QUICK_ORMS_PARAMS,
  seed: { users: 50, ordersPerUser: 3 },
  loop: { rounds: 2, runMs: 30, warmupMs: 10, rewarmMs: 5 },
  pool: { max: 4 },
  concurrency: [1, 8],
  interleavedMs: 40,
  sampleCapacity: 1 << 16,
};

const TARGETS = [
  'pg.Pool',
  'router.asPool()',
  'router.asPool(), statement cache off',
  'router.asPool(), reads on replicas',
];

describe('bench:orms smoke run (shared cluster, tiny counts, no timing assertions)', () => {
  let schema: BenchSchema | undefined;
  let results: LibraryResult[];

  beforeAll(async () => {
    schema = await createBenchSchema(cluster.primaryUrl, `bench_orms_smoke_${process.pid}`, params.seed);
    await cluster.waitForReplication();
    results = await measureOrms(cluster, schema, params, new LatencyBuffer(params.sampleCapacity));
  });

  afterAll(async () => {
    await schema?.drop();
  });

  it('runs Drizzle and Kysely over raw pg.Pool, the routed pool with and without its statement cache, and with replicas', () => {
    expect(results.map((r) => r.library)).toEqual(['Drizzle', 'Kysely']);
    for (const result of results) {
      expect(result.contenders.map((c) => c.target)).toEqual(TARGETS);
      expect(result.byConcurrency.map((c) => c.concurrency)).toEqual([1, 8]);
      for (const { results: rounds } of result.byConcurrency) {
        for (const runs of rounds.values()) {
          expect(runs).toHaveLength(params.loop.rounds);
          for (const run of runs) expect(run.queries).toBeGreaterThan(0);
        }
      }
      expect(result.interleaved.map((entry) => entry.target)).toEqual(TARGETS.slice(0, 3));
      expect(result.interleaved[0]!.result.queries).toBeGreaterThan(0);
      for (const entry of result.interleaved) expect(entry.result.queries).toBe(result.interleaved[0]!.result.queries);
      // The reads of the last contender went to the replicas (runs this short may hold no update at all).
      expect(result.replicaRouting!.replica).toBeGreaterThan(0);
    }
  });

  it('renders one row per library, concurrency and contender, the interleaved rows, and one target per library', async () => {
    const { rows, targets, notes } = ormsReport(results, params);
    expect(rows).toHaveLength(2 * (2 * TARGETS.length + 2));
    expect(targets.map((t) => t.name)).toEqual([
      'Drizzle over router.asPool() ≥ 0.95× Drizzle over pg.Pool (q/s, 8 callers)',
      'Kysely over router.asPool() ≥ 0.95× Kysely over pg.Pool (q/s, 8 callers)',
    ]);
    expect(notes).toHaveLength(2);
    const table = renderTable(rows);
    expect(
      table
        .split('\n')[0]!
        .split('|')
        .map((cell) => cell.trim())
        .filter(Boolean),
    ).toEqual(TABLE_COLUMNS);
    const header = ormsHeader(await describeEnvironment(cluster.primaryUrl), params);
    const text = `${header}\n\n${table}`;
    expect(text).not.toMatch(/NaN|Infinity|undefined/);
    expect(header).toMatch(/drizzle-orm \d+\.\d+\.\d+ · kysely \d+\.\d+\.\d+/);
  });
});
