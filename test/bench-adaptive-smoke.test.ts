import { describe, expect, inject, it } from 'vitest';
import {
  ADAPTIVE,
  ADAPTIVE_COLD,
  FIXED_MAX,
  FIXED_MIN,
  QUICK_ADAPTIVE_PARAMS,
  type AdaptiveBenchParams,
} from '../bench/adaptive/params.js';
import { ADAPTIVE_TABLE_HEADERS } from '../bench/adaptive/report.js';
import { runAdaptiveBenchmark } from '../bench/adaptive/run.js';
import { arrivalSchedule } from '../bench/adaptive/workload.js';

const primaryUrl = inject('primaryUrl');

// Tiny phases and pools: this checks that the benchmark runs end to end on the shared cluster (primary only), that
// every request succeeds and that the report has its four contenders, never how fast anything is.
const params: AdaptiveBenchParams = {
  ...QUICK_ADAPTIVE_PARAMS,
  phases: [
    { kind: 'quiet', ratePerSecond: 20, durationMs: 200 },
    { kind: 'burst', ratePerSecond: 300, durationMs: 300 },
    { kind: 'quiet', ratePerSecond: 20, durationMs: 200 },
    { kind: 'burst', ratePerSecond: 300, durationMs: 300 },
  ],
  rounds: 1,
  warmupRounds: 1,
  settleMs: 50,
  contenders: [
    { name: FIXED_MIN, pool: { min: 2, max: 2 } },
    { name: FIXED_MAX, pool: { min: 6, max: 6 } },
    {
      name: ADAPTIVE,
      pool: { min: 2, max: 6, idleTimeoutMs: 200 },
      adaptive: { enabled: true, intervalMs: 50, cooldownMs: 100, peakHoldMs: 400 },
      inService: true,
    },
    {
      name: ADAPTIVE_COLD,
      pool: { min: 2, max: 6, idleTimeoutMs: 200 },
      adaptive: { enabled: true, intervalMs: 50, cooldownMs: 100, peakHoldMs: 400 },
    },
  ],
};

describe('bench:adaptive smoke run (tiny phases, no timing assertions)', () => {
  it('draws the same Poisson arrivals for the same seed, in order and within the phases', () => {
    const a = arrivalSchedule(params.phases, 7);
    expect(arrivalSchedule(params.phases, 7).dueMs).toEqual(a.dueMs);
    expect(arrivalSchedule(params.phases, 8).dueMs).not.toEqual(a.dueMs);
    expect(a.phaseStartsMs).toEqual([0, 200, 500, 700, 1_000]);
    expect(a.durationMs).toBe(1_000);
    for (let i = 0; i < a.dueMs.length; i++) {
      const phase = a.phase[i]!;
      expect(a.dueMs[i]).toBeGreaterThanOrEqual(a.phaseStartsMs[phase]!);
      expect(a.dueMs[i]).toBeLessThan(a.phaseStartsMs[phase + 1]!);
      if (i > 0) expect(a.dueMs[i]).toBeGreaterThanOrEqual(a.dueMs[i - 1]!);
    }
  });

  it('runs every contender, every request succeeds, and the table has the four contenders', async () => {
    const outcome = await runAdaptiveBenchmark(primaryUrl, params);
    const perRun = arrivalSchedule(params.phases, params.seed).dueMs.length;
    expect(outcome.failures).toBe(0);
    // Timed requests only: the in-service contender's untimed pass is not counted.
    expect(outcome.requests).toBe(4 * perRun);
    for (const { name } of params.contenders) {
      const runs = outcome.results.get(name)!;
      expect(runs).toHaveLength(1);
      expect(runs[0]!.failures).toBe(0);
      expect(runs[0]!.requests).toBe(perRun);
      expect(Number.isFinite(runs[0]!.p99Ms)).toBe(true);
      expect(runs[0]!.connectionSeconds).toBeGreaterThan(0);
    }

    const lines = outcome.report.table.split('\n');
    expect(lines).toHaveLength(2 + 4);
    expect(
      lines[0]!
        .split('|')
        .map((cell) => cell.trim())
        .filter((cell) => cell !== ''),
    ).toEqual(ADAPTIVE_TABLE_HEADERS);
    expect(lines.slice(2).map((line) => line.split('|')[1]!.trim())).toEqual([
      FIXED_MIN,
      FIXED_MAX,
      ADAPTIVE,
      ADAPTIVE_COLD,
    ]);
    // The in-service router starts the timed run with the size its earlier bursts needed, not at min.
    const inService = outcome.results.get(ADAPTIVE)![0]!.record.samples[0]!;
    expect(inService.target).toBeGreaterThan(2);
    expect(outcome.results.get(ADAPTIVE_COLD)![0]!.record.samples[0]!.target).toBe(2);
    expect(outcome.report.targets).toHaveLength(3);
    expect(outcome.text).toContain(outcome.report.table);
    expect(outcome.text).toContain(`Node ${process.version}`);
    expect(outcome.text).toContain(`Every one of the ${outcome.requests.toLocaleString('en-US')} requests succeeded.`);
  }, 60_000);
});
