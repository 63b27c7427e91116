import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBenchSchema, type BenchSchema } from '../bench/lib/schema.js';
import { QUICK_INSTANCES_PARAMS, type InstancesBenchParams } from '../bench/instances/params.js';
import {
  CPU_HEADERS,
  INSTANCES_HEADERS,
  cpuTable,
  instancesRatios,
  instancesTable,
  instancesTargets,
} from '../bench/instances/report.js';
import { measureInstances } from '../bench/instances/setups.js';
import { pgbouncerSetup } from '../bench/instances/pgbouncer-hook.js';
import { findPgBouncer, startLocalCluster, type LocalCluster } from '../src/testing.js';

// Tiny counts on a cluster of its own (its connection counts are the benchmark's alone): this checks that the
// benchmark runs end to end with child processes and what must hold whatever the speed — with a shared budget, no
// statement fails and the node never holds more connections than the budget. Never how fast anything is.
const params: InstancesBenchParams = {
  ...QUICK_INSTANCES_PARAMS,
  instances: 3,
  poolMax: 10,
  callersPerInstance: 6,
  durationMs: 1_500,
  maxConnections: 40,
  budgetPerNode: 9,
  users: 200,
};

describe('bench:instances smoke run (child processes, tiny counts, no timing assertions)', () => {
  let cluster: LocalCluster;
  let schema: BenchSchema;
  beforeAll(async () => {
    cluster = await startLocalCluster({ replicas: 0, settings: { max_connections: params.maxConnections } });
    schema = await createBenchSchema(cluster.primaryUrl, 'bench_instances', { users: params.users, ordersPerUser: 1 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('runs every set-up in processes of their own; the shared budget holds with no failed statement', async () => {
    const measured = await measureInstances(cluster.primaryUrl, params, schema.name, pgbouncerSetup);
    expect(measured.budget).toBe(9);
    // (c) runs where a PgBouncer binary is (CI installs one), and is reported as not run elsewhere.
    const bouncer = findPgBouncer() !== undefined;
    expect(measured.results.map((result) => result.setup.key)).toEqual(
      bouncer ? ['a', 'b', 'c', 'd', 'e', 'f', 'g'] : ['a', 'b', 'd', 'e', 'f', 'g'],
    );
    expect(measured.skipped.map((setup) => setup.key)).toEqual(bouncer ? [] : ['c']);
    if (bouncer) {
      // Through PgBouncer holding the budget's server connections: nothing fails, the node stays within it.
      const through = measured.results[2]!;
      expect(through.errors).toEqual({});
      expect(through.peakConnections).toBeLessThanOrEqual(9);
    }
    for (const result of measured.results) {
      expect(result.statements).toBeGreaterThan(0);
      expect(result.samples).toBeGreaterThan(0);
      expect(Number.isFinite(result.p99Ms)).toBe(true);
      // Every process reported its own CPU time; only routers report their pools.
      expect(result.cpu.clientMs).toBeGreaterThan(0);
      expect(result.pool === null).toBe(result.setup.driver === 'pg');
      expect(measured.runs[result.setup.key]).toHaveLength(1);
    }
    // The raw-driver baselines: plain pg.Pool sized so K × max fits the budget, and one process of it.
    expect(measured.rawInstances?.setup.poolMax).toBe(3);
    expect(measured.rawInstances?.errors).toEqual({});
    expect(measured.rawSingle?.setup.processes).toBe(1);
    // The router with static pools of the budget's even share (9 less 3 health checks, over 3).
    expect(measured.staticPools?.setup.poolMax).toBe(2);
    expect(measured.staticPools?.errors).toEqual({});
    expect(measured.budgeted.pool!.rounds).toBeGreaterThan(0);
    // 3 × 6 callers against 9 connections: the budget holds, callers wait, nothing fails.
    expect(measured.budgeted.errors).toEqual({});
    expect(measured.budgeted.peakConnections).toBeLessThanOrEqual(9);
    expect(measured.budgeted.peakConnections).toBeGreaterThan(3);
    const targets = instancesTargets(measured.budgeted, measured.single, measured.budget);
    expect(targets.slice(0, 2).every((target) => target.met)).toBe(true);
    const lines = instancesTable(measured.results, measured.skipped).split('\n');
    expect(lines[0]).toContain(INSTANCES_HEADERS[9]);
    expect(lines).toHaveLength(2 + 7);
    for (const line of lines.slice(2, bouncer ? 9 : 8)) expect(line).not.toMatch(/NaN|undefined|not run/);
    if (!bouncer) expect(lines[8]).toContain('not run');
    const cpu = cpuTable(measured.results, measured.runs).split('\n');
    expect(cpu[0]).toContain(CPU_HEADERS[2]);
    expect(cpu).toHaveLength(2 + measured.results.length);
    for (const line of cpu.slice(2)) expect(line).not.toMatch(/NaN|undefined|Infinity/);
    const ratios = instancesRatios(measured);
    expect(ratios).toMatch(/^- \(b\)\/\(d\) = \d+\.\d\d×/);
    expect(ratios).toContain('(b)/(g)');
    expect(ratios).toContain('(e)/(f)');
  }, 180_000);
});
