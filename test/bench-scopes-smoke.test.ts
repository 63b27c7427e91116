import { describe, expect, inject, it } from 'vitest';
import { describeEnvironment } from '../bench/lib/environment.js';
import { CALL_COST_NAMES, measureBookkeeping, measureCallCost } from '../bench/scopes/overhead.js';
import { QUICK_SCOPES_PARAMS, type ScopesBenchParams } from '../bench/scopes/params.js';
import { PREWARM_NAMES, measurePrewarm } from '../bench/scopes/prewarm.js';
import { CALL_COST_HEADERS, PREWARM_HEADERS, scopesHeader, scopesReport } from '../bench/scopes/report.js';

const primaryUrl = inject('primaryUrl');

// Tiny counts: this checks that the benchmark runs end to end on the shared cluster (primary only) and that the
// report has every row with numbers in it, never how fast anything is.
const params: ScopesBenchParams = {
  ...QUICK_SCOPES_PARAMS,
  overhead: { rounds: 2, callsPerRound: 30, warmupCalls: 10 },
  bookkeeping: { rounds: 1, statementsPerRound: 10_000 },
  prewarm: { ...QUICK_SCOPES_PARAMS.prewarm, rounds: 1, concurrency: 6, statementMs: 5 },
};

describe('bench:scopes smoke run (tiny counts, no timing assertions)', () => {
  it('measures every contender and prints both tables with numbers in every row', async () => {
    const bookkeeping = measureBookkeeping(params.bookkeeping);
    const callCost = await measureCallCost(primaryUrl, params.overhead);
    const prewarm = await measurePrewarm(primaryUrl, params.prewarm);

    expect(callCost.withoutScopes.map((row) => row.name)).toEqual([
      CALL_COST_NAMES.named,
      CALL_COST_NAMES.router,
      CALL_COST_NAMES.noThreshold,
    ]);
    expect(callCost.withScopes.map((row) => row.name)).toEqual([
      CALL_COST_NAMES.named,
      CALL_COST_NAMES.unscoped,
      CALL_COST_NAMES.scoped,
    ]);
    for (const row of [...callCost.withoutScopes, ...callCost.withScopes]) {
      expect(Number.isFinite(row.p50Us)).toBe(true);
      expect(Number.isFinite(row.addedUs)).toBe(true);
    }
    expect(bookkeeping.checkinNs).toBeGreaterThan(0);
    expect(prewarm.learnedPeak).toBe(params.prewarm.concurrency);
    expect(prewarm.prewarmed.openAtStart).toBeGreaterThanOrEqual(params.prewarm.concurrency);
    expect(prewarm.prewarmed.prewarmMs).toBeGreaterThan(0);
    expect(prewarm.cold.prewarmMs).toBeUndefined();

    const report = scopesReport(callCost, bookkeeping, prewarm);
    const callLines = report.callCostTable.split('\n');
    expect(callLines[0]).toContain(CALL_COST_HEADERS[3]!);
    expect(callLines).toHaveLength(2 + 6);
    const prewarmLines = report.prewarmTable.split('\n');
    expect(prewarmLines[0]).toContain(PREWARM_HEADERS[1]!);
    expect(prewarmLines).toHaveLength(2 + 2);
    expect(prewarmLines[2]).toContain(PREWARM_NAMES.cold);
    expect(prewarmLines[3]).toContain(PREWARM_NAMES.prewarmed);
    for (const line of [...callLines.slice(2), ...prewarmLines.slice(2)]) expect(line).not.toMatch(/NaN|undefined/);
    expect(report.notes).toHaveLength(4);
    expect(scopesHeader(await describeEnvironment(primaryUrl), params)).toMatch(
      /^## Health scores and workload scopes \(BENCH_QUICK/,
    );
  });
});
