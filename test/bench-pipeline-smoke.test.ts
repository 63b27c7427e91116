import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { describeEnvironment } from '../bench/lib/environment.js';
import {
  pipelineContenders,
  type PipelineContender,
  type QueryPipelineContender,
} from '../bench/pipeline/contenders.js';
import { QUICK_PIPELINE_PARAMS, type PipelineBenchParams } from '../bench/pipeline/params.js';
import { pipelineHeader, pipelineReport } from '../bench/pipeline/report.js';
import { serverCpuClock } from '../bench/pipeline/server-cpu.js';
import { runPipelineRounds, summarisePipeline, timedRun, type PipelineRun } from '../bench/pipeline/rounds.js';
import { accountUpdates, createPipelineSchema, type PipelineSchema } from '../bench/pipeline/workloads.js';

const primaryUrl = inject('primaryUrl');

// Tiny counts: this checks that every contender still runs and writes exactly what it should, never how fast.
const params: PipelineBenchParams = {
  ...QUICK_PIPELINE_PARAMS,
  statements: 40,
  rounds: 1,
  warmupRuns: 0,
  poolMax: 4,
  pipelineBatchSize: 10,
  coalesceBatchSize: 15,
  copyBatchSize: 15,
  multiRowBatch: 15,
  copyChunkRows: 15,
};

function expectMeasured(run: PipelineRun): void {
  expect(run.rows).toBe(params.statements);
  for (const value of [run.seconds, run.rowsPerSecond, run.cpuUsPerRow]) {
    expect(Number.isFinite(value)).toBe(true);
    expect(value).toBeGreaterThan(0);
  }
}

describe('bench:pipeline smoke run (tiny counts, no timing assertions)', () => {
  let schema: PipelineSchema | undefined;
  let contenders: PipelineContender[] = [];

  beforeAll(async () => {
    schema = await createPipelineSchema(primaryUrl, `bench_pipeline_smoke_${process.pid}`, params.statements);
    contenders = pipelineContenders(primaryUrl, params);
  });

  afterAll(async () => {
    await Promise.allSettled(contenders.map((c) => c.close()));
    await schema?.close();
  });

  it('builds UPDATE pairs that touch every id exactly once', () => {
    for (const count of [1, 2, 40, 10_000]) {
      const ids = accountUpdates(count).map(([delta, id]) => {
        expect(delta).toBeGreaterThan(0);
        return id;
      });
      expect(new Set(ids).size).toBe(count);
      expect(Math.min(...ids)).toBe(1);
      expect(Math.max(...ids)).toBe(count);
    }
  });

  it('runs every contender on every workload it supports, each run verified', async () => {
    expect(contenders.map((c) => c.name)[0]).toBe('pg.Pool#query, sequential');
    for (const contender of contenders) {
      for (const kind of contender.kinds) expectMeasured(await timedRun(contender, schema!, kind));
    }
    expect(contenders.filter((c) => c.kinds.includes('update'))).toHaveLength(11);
    expect(contenders.filter((c) => c.kinds.includes('delete'))).toHaveLength(11);
    // Each coalescing contender merged its INSERTs the way its name says, and its UPDATE and DELETE runs.
    for (const contender of contenders) {
      if (!('pipeline' in contender) || !contender.name.includes('+ coalesce')) continue;
      const stats = (contender as QueryPipelineContender).pipeline.stats();
      const copy = contender.name.endsWith('(COPY)');
      expect(stats.coalescedAsCopy > 0).toBe(copy);
      expect(stats.coalescedAsArrays > 0).toBe(!copy);
      expect(stats.coalescedKeyed).toBe(2 * params.statements);
    }
  });

  it('fails a run that does not write every row', async () => {
    const lazy: PipelineContender = {
      name: 'writes half',
      kinds: ['insert', 'update', 'delete'],
      run: (workload) => contenders[0]!.run({ ...workload, params: workload.params.slice(0, 20) }),
      close: async () => undefined,
    };
    await expect(timedRun(lazy, schema!, 'insert')).rejects.toThrow(/expected 40 rows/);
    await expect(timedRun(lazy, schema!, 'update')).rejects.toThrow(/expected 40 rows/);
    await expect(timedRun(lazy, schema!, 'delete')).rejects.toThrow(/expected 40 rows/);
  });

  it('runs rounds and reports medians, ratios, targets and dashes', async () => {
    const results = await runPipelineRounds(contenders, schema!, params);
    for (const contender of contenders) {
      for (const kind of ['insert', 'update', 'delete'] as const) {
        const summary = summarisePipeline(results, kind, contender.name);
        if (!contender.kinds.includes(kind)) {
          expect(summary).toBeUndefined();
          continue;
        }
        expect(summary?.runs).toBe(params.rounds);
        for (const value of [summary!.rowsPerSecond, summary!.cpuUsPerRow])
          expect(Number.isFinite(value) && value > 0).toBe(true);
      }
    }
    const report = pipelineReport(results, contenders);
    const lines = report.table.split('\n');
    expect(lines).toHaveLength(2 + contenders.length);
    expect(lines[2]).toContain('1.00× (baseline)');
    const copyLine = lines.find((line) => line.includes('COPY FROM STDIN'))!;
    expect(copyLine.split('|').map((cell) => cell.trim())[4]).toBe('—');
    const unnestLine = lines.find((line) => line.includes('unnest(…)'))!;
    expect(unnestLine.split('|').map((cell) => cell.trim())[2]).toBe('—');
    // 2 modes × 2 workloads × (vs sequential pg, vs postgres.js) + 4 coalesced INSERT targets vs sequential pg
    // + 2 COPY-form INSERT targets vs COPY FROM STDIN + 4 coalescing contenders × merged UPDATEs (vs sequential
    // pg, vs the same pipeline unmerged).
    expect(report.targets).toHaveLength(22);
    expect(report.targets.filter((target) => target.name.includes('≥ 0.8× COPY FROM STDIN'))).toHaveLength(2);
    expect(report.targets.filter((target) => target.name.includes('without coalescing (UPDATE)'))).toHaveLength(4);
    for (const target of report.targets) expect(target.measured).toMatch(/^\d+\.\d\d×$/);
  });

  it("reads a process tree's CPU time where /proc allows, and nothing without a pid", () => {
    expect(serverCpuClock(undefined)()).toBeUndefined();
    const reading = serverCpuClock(process.pid)();
    if (process.platform === 'linux') expect(Number.isFinite(reading) && reading! > 0).toBe(true);
    else expect(reading).toBeUndefined();
  });

  it('describes the environment in the header', async () => {
    const environment = await describeEnvironment(primaryUrl);
    const header = pipelineHeader(environment, params);
    expect(header).toContain(`Node ${process.version}`);
    expect(header).toContain(`PostgreSQL ${environment.postgres}`);
    expect(header).toContain(`${environment.cpus} CPUs`);
  });
});
