import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { measureClassification } from '../bench/router/classification.js';
import { LatencyBuffer, type RunResult } from '../bench/lib/closed-loop.js';
import { describeEnvironment } from '../bench/lib/environment.js';
import { QUICK_ROUTER_PARAMS } from '../bench/router/params.js';
import { routerHeader } from '../bench/router/report.js';
import type { LoopParams, RoundResults } from '../bench/lib/rounds.js';
import { createBenchSchema, type BenchSchema } from '../bench/lib/schema.js';
import { measureStatementCache } from '../bench/router/statement-cache.js';
import { renderTable, TABLE_COLUMNS, type TableRow } from '../bench/lib/table.js';
import { measureThroughput } from '../bench/router/throughput.js';
import { classificationCorpus } from './fixtures/classification-corpus.js';

const primaryUrl = inject('primaryUrl');

// Tiny counts: this checks that every measurement still runs and reports, never how fast anything is.
const loop: LoopParams = { rounds: 2, runMs: 30, warmupMs: 10, rewarmMs: 5 };
const pool = { max: 4 };

/** The `[benchmark, contender]` cells of each body line of a rendered table. */
function renderedRows(markdown: string): [string, string][] {
  const lines = markdown.split('\n');
  expect(
    lines[0]!
      .split('|')
      .map((cell) => cell.trim())
      .filter(Boolean),
  ).toEqual(TABLE_COLUMNS);
  return lines.slice(2).map((line) => {
    const cells = line
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim());
    return [cells[0]!, cells[1]!];
  });
}

function expectRowsRendered(rows: readonly TableRow[], expected: readonly (readonly [string, string])[]): void {
  expect(rows.map((row) => [row.benchmark, row.contender])).toEqual(expected);
  expect(renderedRows(renderTable(rows))).toEqual(expected);
}

function expectMeasured(run: RunResult): void {
  for (const value of [run.queries, run.seconds, run.qps, run.p50Us, run.p99Us, run.cpuUsPerQuery]) {
    expect(Number.isFinite(value)).toBe(true);
    expect(value).toBeGreaterThan(0);
  }
  expect(run.p99Us).toBeGreaterThanOrEqual(run.p50Us);
}

function expectAllMeasured(results: RoundResults, contenders: readonly string[]): void {
  expect([...results.keys()].sort()).toEqual([...contenders].sort());
  for (const runs of results.values()) {
    expect(runs).toHaveLength(loop.rounds);
    runs.forEach(expectMeasured);
  }
}

describe('bench/ smoke run (tiny counts, no timing assertions)', () => {
  const schemaName = `bench_smoke_${process.pid}`;
  const buffer = new LatencyBuffer(1 << 16);
  let schema: BenchSchema | undefined;

  beforeAll(async () => {
    schema = await createBenchSchema(primaryUrl, schemaName, { users: 50, ordersPerUser: 3 });
  });

  afterAll(async () => {
    await schema?.drop();
  });

  it('measures router.query against pg.Pool, pg named statements and postgres.js', async () => {
    const result = await measureThroughput(
      primaryUrl,
      schema!,
      { loop, pool, concurrency: [1, 4], interleavedMs: 40 },
      buffer,
    );
    const contenders = ['pg.Pool#query', 'router.query', 'pg.Pool#query (named)', 'postgres.js unsafe'];
    expect(result.scenarios.map((s) => s.scenario.label)).toEqual([
      'SELECT $1::int, 1 caller',
      'SELECT $1::int, 4 callers',
      'OLTP mix, 1 caller',
      'OLTP mix, 4 callers',
    ]);
    for (const { results } of result.scenarios) expectAllMeasured(results, contenders);
    const interleavedLabels = ['SELECT $1::int, 1 caller, interleaved', 'OLTP mix, 1 caller, interleaved'];
    expect(result.interleaved.map((i) => i.label)).toEqual(interleavedLabels);
    for (const { contenders: names, results } of result.interleaved) {
      expect(names).toEqual(contenders);
      for (const run of results) {
        for (const value of [run.queries, run.p50Us, run.p99Us]) expect(Number.isFinite(value) && value > 0).toBe(true);
      }
    }
    expectRowsRendered(result.rows, [
      ...result.scenarios.flatMap(({ scenario }) => contenders.map((c) => [scenario.label, c] as const)),
      ...interleavedLabels.flatMap(
        (label) =>
          [
            [label, 'added by router vs pg.Pool#query'],
            [label, 'added by router vs pg named'],
          ] as const,
      ),
    ]);
    expect(result.targets).toHaveLength(4);
  });

  it('measures the statement cache on a repeated join', async () => {
    const result = await measureStatementCache(primaryUrl, schema!, { loop, pool, concurrency: [1, 4] }, buffer);
    const contenders = ['router, statementCache.max 500', 'router, statementCache.max 0'];
    for (const { results, ratio } of result.scenarios) {
      expectAllMeasured(results, contenders);
      expect(Number.isFinite(ratio) && ratio > 0).toBe(true);
    }
    expect(result.cached.hits).toBeGreaterThan(0);
    expect(result.uncached.hits + result.uncached.misses).toBe(0);
    expectRowsRendered(
      result.rows,
      ['Repeated join, 1 caller', 'Repeated join, 4 callers'].flatMap((label) =>
        contenders.map((c) => [label, c] as const),
      ),
    );
  });

  it('measures classification cost over corpus statements', () => {
    const statements = classificationCorpus.slice(0, 40).map((c) => c.sql);
    const result = measureClassification(statements, {
      coldRepetitions: 3,
      warmPasses: 5,
      warmRounds: 2,
      parserRepetitions: 3,
    });
    expect(result.statements).toBe(40);
    for (const value of [
      result.coldP50Us,
      result.coldP95Us,
      result.coldMaxUs,
      result.warmUs,
      result.warmFreshStringUs,
      result.parserReferenceUs,
      result.lexerReferenceUs,
    ]) {
      expect(Number.isFinite(value)).toBe(true);
      expect(value).toBeGreaterThan(0);
    }
    expect(result.parserFallbacks).toBeGreaterThanOrEqual(0);
    const cold = 'Classification, cold (40 corpus statements)';
    const warm = 'Classification, warm (40 corpus statements)';
    const typical = 'Typical statement (join, GROUP BY), cold';
    expectRowsRendered(result.rows, [
      [cold, 'classifyQuery'],
      [warm, 'Classifier.classify, cache hit'],
      [warm, 'Classifier.classify, equal new string'],
      [typical, 'classifyQuery'],
      [typical, 'node-sql-parser astify (reference)'],
    ]);
  });

  it('describes the environment for the header', async () => {
    const environment = await describeEnvironment(primaryUrl);
    expect(environment.postgres).toMatch(/^\d+/);
    expect(environment.cpus).toBeGreaterThan(0);
    const header = routerHeader(environment, QUICK_ROUTER_PARAMS);
    expect(header).toContain(`Node ${process.version}`);
    expect(header).toContain(`PostgreSQL ${environment.postgres}`);
  });
});
