import { describeEnvironment, type Environment } from '../lib/environment.js';
import type { AdaptiveBenchParams } from './params.js';
import { adaptiveHeader, adaptiveReport, type AdaptiveReport } from './report.js';
import { runAdaptiveRounds, type AdaptiveProgress, type AdaptiveResults } from './rounds.js';
import { bulletList, runTimeNote, targetLines } from '../lib/report.js';

/** Everything one `bench:adaptive` run produced. */
export interface AdaptiveBenchOutcome {
  readonly environment: Environment;
  readonly results: AdaptiveResults;
  readonly report: AdaptiveReport;
  /** Requests sent over all runs, and how many of them failed. */
  readonly requests: number;
  readonly failures: number;
  /** The header, the table, the targets and the notes, as printed. */
  readonly text: string;
}

/**
 * The benchmark itself, against the PostgreSQL at `url` (primary only: no replica is configured, so every
 * request runs on the primary's pool): every contender in rounds, then the report. Never throws for failed
 * requests: they are counted and printed, and the caller decides (the entry point fails the run).
 */
export async function runAdaptiveBenchmark(
  url: string,
  params: AdaptiveBenchParams,
  progress?: AdaptiveProgress,
): Promise<AdaptiveBenchOutcome> {
  const started = performance.now();
  const environment = await describeEnvironment(url);
  const results = await runAdaptiveRounds(url, params, progress);
  const report = adaptiveReport(results, params);
  const runs = [...results.values()].flat();
  const requests = runs.reduce((sum, r) => sum + r.requests, 0);
  const failures = runs.reduce((sum, r) => sum + r.failures, 0);
  const targets = targetLines(report.targets);
  const notes = [...report.notes, runTimeNote(started, environment)];
  const text = `${adaptiveHeader(environment, params)}\n\n${report.table}\n\n${targets.join('\n')}\n\n${bulletList(notes)}\n`;
  return { environment, results, report, requests, failures, text };
}
