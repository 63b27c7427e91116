import { describe, expect, it } from 'vitest';
import { benchParams } from '../bench/lib/params.js';
import {
  CONSISTENCY_ENV_OVERRIDES,
  FULL_CONSISTENCY_PARAMS,
  QUICK_CONSISTENCY_PARAMS,
  POLICIES,
  type ConsistencyBenchParams,
} from '../bench/consistency/params.js';
import { consistencyVerdicts, renderConsistencyTable, summariseConsistency } from '../bench/consistency/report.js';
import { createConsistencySchema, benchRouter, runCell, type CellResult } from '../bench/consistency/workload.js';
import { sharedCluster } from './helpers/cluster.js';

// A tiny run of the benchmark's workload on the shared cluster: it checks that every policy runs, that the report has
// every row with numbers in it, and that read-your-writes read nothing stale — never how fast anything is. (The
// shared cluster commits asynchronously, so this also covers the insert-position path of read-your-writes.)
const params: ConsistencyBenchParams = {
  ...QUICK_CONSISTENCY_PARAMS,
  users: 12,
  thinkMs: 20,
  writeShares: [0.5],
  cellMs: 700,
};

describe('bench:consistency smoke run (shared cluster, tiny cells, no timing assertions)', () => {
  it('runs every policy and reports stale reads, replica share and latency for each', async () => {
    const cluster = sharedCluster();
    await createConsistencySchema(cluster.primaryUrl, params.users);
    await cluster.waitForReplication();
    const primaryPort = Number(new URL(cluster.primaryUrl).port);
    const cells: CellResult[] = [];
    const writesTracked = new Map<string, number>();
    for (const policy of POLICIES) {
      const router = benchRouter(cluster, params);
      try {
        cells.push(await runCell(router, policy, 0.5, params, primaryPort, 7));
        writesTracked.set(policy, router.stats().consistency.writesTracked);
      } finally {
        await router.close();
      }
    }
    const rows = summariseConsistency(cells);
    expect(rows.map((row) => row.policy)).toEqual([...POLICIES]);
    for (const row of rows) {
      expect(row.readsPerSecond).toBeGreaterThan(0);
      expect(row.writesPerSecond).toBeGreaterThan(0);
      expect(Number.isFinite(row.readP99Ms)).toBe(true);
      expect(row.replicaShare).toBeGreaterThanOrEqual(0);
      expect(row.replicaShare).toBeLessThanOrEqual(1);
    }
    const ryw = rows.find((row) => row.policy === 'read-your-writes')!;
    expect(ryw.staleReads).toBe(0);
    // Only the read-your-writes policy's sessions track their writes: the others compare against eventual reads.
    expect(writesTracked.get('read-your-writes')).toBeGreaterThan(0);
    for (const policy of POLICIES) if (policy !== 'read-your-writes') expect(writesTracked.get(policy), policy).toBe(0);
    expect(consistencyVerdicts(rows)[0]!.noStaleReads).toBe(true);
    const table = renderConsistencyTable(rows);
    expect(table.split('\n')).toHaveLength(2 + POLICIES.length);
    expect(table).toContain('| Write share | Policy');
  });

  it('picks its parameters from BENCH_QUICK, BENCH_ROUNDS and BENCH_CELL_MS', () => {
    const read = (env: Record<string, string>): ConsistencyBenchParams =>
      benchParams(FULL_CONSISTENCY_PARAMS, QUICK_CONSISTENCY_PARAMS, CONSISTENCY_ENV_OVERRIDES, env);
    expect(read({})).toBe(FULL_CONSISTENCY_PARAMS);
    expect(read({ BENCH_QUICK: '1' })).toBe(QUICK_CONSISTENCY_PARAMS);
    expect(read({ BENCH_QUICK: 'true' })).toBe(QUICK_CONSISTENCY_PARAMS);
    expect(read({ BENCH_QUICK: '1', BENCH_ROUNDS: '4', BENCH_CELL_MS: '900' })).toEqual({
      ...QUICK_CONSISTENCY_PARAMS,
      rounds: 4,
      cellMs: 900,
    });
    expect(read({ BENCH_ROUNDS: '2' })).toEqual({ ...FULL_CONSISTENCY_PARAMS, rounds: 2 });
    expect(() => read({ BENCH_CELL_MS: '-5' })).toThrow(/BENCH_CELL_MS must be a positive integer/);
  });
});
