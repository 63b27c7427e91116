import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEnvironment } from '../bench/lib/environment.js';
import { analyseScenario, type FaultsAnalysis } from '../bench/faults/analysis.js';
import {
  measureOpossum,
  measureOverhead,
  OPOSSUM_NAMES,
  OVERHEAD_NAMES,
  type OpossumResult,
  type OverheadResult,
} from '../bench/faults/overhead.js';
import { QUICK_FAULTS_PARAMS, type FaultsBenchParams } from '../bench/faults/params.js';
import { faultsHeader, faultsReport, renderFaultsReport } from '../bench/faults/report.js';
import { runFaultScenario, type ScenarioResult } from '../bench/faults/scenario.js';
import { createFaultsSchema } from '../bench/faults/workload.js';
import { startLocalCluster, type LocalCluster } from '../src/testing.js';

// Tiny counts and phases of well under a second: this checks that the scenario runs end to end and that the report
// has every row with numbers in it, never how fast anything is. It kills, freezes and restarts nodes, so it runs on
// a cluster of its own, never the shared one.
const params: FaultsBenchParams = {
  ...QUICK_FAULTS_PARAMS,
  readers: 3,
  writers: 2,
  accounts: 200,
  replicas: 1,
  killReplica: 1,
  pauseReplica: 1,
  phases: {
    warmupMs: 200,
    baselineMs: 500,
    replicaKilledMs: 600,
    replicaRestartedMs: 600,
    replicaPausedMs: 800,
    replicaResumedMs: 600,
    primaryDownMs: 700,
    recoveryMs: 900,
  },
  overhead: { rounds: 2, callsPerRound: 30, warmupCalls: 10 },
  opossum: { rounds: 1, callsPerRound: 2_000 },
};

const PHASES = [
  'baseline',
  'replica1 SIGKILLed',
  'replica1 restarted',
  'replica1 frozen (SIGSTOP)',
  'replica1 resumed',
  'primary stopped',
  'primary restarted, recovery',
];

const finite = (value: number | undefined): boolean => value !== undefined && Number.isFinite(value);

describe('bench:faults smoke run (own 1-replica cluster, tiny phases, no timing assertions)', () => {
  let cluster: LocalCluster | undefined;
  let scenario: ScenarioResult;
  let analysis: FaultsAnalysis;
  let overhead: OverheadResult;
  let opossum: OpossumResult;

  beforeAll(async () => {
    cluster = await startLocalCluster({ replicas: 1 });
    const schema = await createFaultsSchema(cluster.primaryUrl, 'bench_faults_smoke', params.accounts);
    await cluster.waitForReplication();
    overhead = await measureOverhead(cluster.primaryUrl, params.overhead);
    opossum = await measureOpossum(params.opossum);
    scenario = await runFaultScenario(cluster, schema, params);
    analysis = analyseScenario(scenario);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('leaves every node running and streaming again', async () => {
    expect(cluster!.nodes.every((node) => node.pid !== undefined)).toBe(true);
    await cluster!.waitForReplication(10_000);
  });

  it('records every phase, with statements and finite baseline latencies', () => {
    expect(analysis.phases.map((p) => p.name)).toEqual(PHASES);
    const baseline = analysis.phases[0]!;
    expect(baseline.reads).toBeGreaterThan(0);
    expect(baseline.writes).toBeGreaterThan(0);
    for (const value of [
      baseline.readLatency.p50Ms,
      baseline.readLatency.p99Ms,
      baseline.readMaxMs,
      baseline.writeLatency.p50Ms,
      baseline.writeLatency.p99Ms,
    ]) {
      expect(finite(value)).toBe(true);
    }
    expect(analysis.total.reads + analysis.total.writes).toBe(
      analysis.phases.reduce((sum, p) => sum + p.reads + p.writes, 0),
    );
    for (const p of analysis.phases) expect(p.toMs).toBeGreaterThan(p.fromMs);
  });

  it('pairs each fault with the action that repaired it', () => {
    expect(analysis.faults.map((f) => [f.fault, f.node.routerName, f.faultAction.label, f.backAction.label])).toEqual([
      ['replica1 SIGKILLed', 'replica-0', 'killNode(1)', 'startNode(1)'],
      ['replica1 frozen (SIGSTOP)', 'replica-0', 'pauseNode(1)', 'resumeNode(1)'],
      ['primary stopped', 'primary', 'stopNode(0)', 'startNode(0)'],
    ]);
    for (const f of analysis.faults) {
      expect(finite(f.backTookMs)).toBe(true);
      expect(f.recoveryLimitMs).toBe(scenario.options.breaker.resetTimeoutMs + 1_000);
      // Whatever was or was not seen in phases this short, every duration is a number or absent.
      for (const value of [
        f.breakerOpenAfterMs,
        f.replicaDownAfterMs,
        f.detectedAfterMs,
        f.breakerCloseAfterMs,
        f.replicaUpAfterMs,
        f.firstSuccessAfterMs,
        f.recoveredAfterMs,
      ]) {
        if (value !== undefined) expect(finite(value)).toBe(true);
      }
    }
    expect(analysis.writes).toBeDefined();
    expect(analysis.writes!.failedWrites).toBe(analysis.total.failedWrites);
  });

  it('measures the overhead per call and opossum alone', () => {
    expect(overhead.contenders.map((c) => c.name)).toEqual(Object.values(OVERHEAD_NAMES));
    for (const c of overhead.contenders) expect(finite(c.p50Us) && c.p50Us > 0 && finite(c.addedUs)).toBe(true);
    expect(finite(overhead.addedUs) && finite(overhead.addedVsUnnamedUs)).toBe(true);
    expect(opossum.variants.map((v) => v.name)).toEqual(Object.values(OPOSSUM_NAMES));
    for (const v of opossum.variants) expect(finite(v.nsPerCall) && v.nsPerCall > 0).toBe(true);
  });

  it('renders every table with one row per phase, fault and contender, and no NaN', async () => {
    const report = faultsReport(analysis, overhead, opossum);
    const header = faultsHeader(await describeEnvironment(cluster!.primaryUrl), params, scenario);
    const text = `${header}\n\n${renderFaultsReport(report)}`;
    expect(text).not.toMatch(/NaN|Infinity|undefined/);
    const tableOf = (prefix: string): string[] =>
      report.sections.find((s) => s.title.startsWith(prefix))!.table.split('\n');
    // Header, rule, one row per phase, the total.
    expect(tableOf('Statements per phase')).toHaveLength(2 + PHASES.length + 1);
    expect(tableOf('Statements per phase').at(-1)).toContain('statements attempted');
    expect(tableOf('Detection and recovery')).toHaveLength(2 + 3);
    expect(tableOf('Writes during the primary outage')).toHaveLength(2 + 4);
    expect(tableOf('Router events')).toHaveLength(2 + analysis.events.length);
    expect(tableOf('Per-call overhead')).toHaveLength(2 + overhead.contenders.length + 1);
    expect(tableOf('opossum alone')).toHaveLength(2 + opossum.variants.length);
    // 0 failed reads, writes only while down, fast failure, one recovery per fault, the overhead.
    expect(report.targets).toHaveLength(3 + analysis.faults.length + 1);
    for (const target of report.targets) expect(text).toContain(`${target.met ? '✓' : '✗'} ${target.name}`);
    expect(header).toContain('"resetTimeoutMs":2000');
  });
});
