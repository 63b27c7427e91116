import { createRequire } from 'node:module';
import { classifyQuery } from '../../src/index.js';
import { Classifier } from '../../src/sql/classification-cache.js';
import type { Measurement, TargetOutcome } from '../lib/report.js';
import { median, percentileOfSorted } from '../lib/stats.js';
import { formatMicros, formatNanos, formatRate, formatRatio, formatTarget } from '../lib/format.js';
import { type TableRow } from '../lib/table.js';

/** Targets from the issue. */
export const CLASSIFICATION_TARGETS = Object.freeze({
  /** Cached lookup per statement, at most, in µs. */
  maxWarmUs: 2,
  /** p50 over statements of an uncached classification, at most, in µs. */
  maxColdP50Us: 100,
});

/** Repetition counts of {@link measureClassification}. */
export interface ClassificationParams {
  /** Timed `classifyQuery` calls per statement; each statement's median of these is its cost. */
  readonly coldRepetitions: number;
  /** Passes over every statement per warm round; a round's cost is its time over its lookups. */
  readonly warmPasses: number;
  /** Warm rounds; the median round is reported. */
  readonly warmRounds: number;
  /** Timed calls of node-sql-parser (and of `classifyQuery`) on the reference statement. */
  readonly parserRepetitions: number;
}

/** Costs measured by {@link measureClassification}; times in µs. */
export interface ClassificationResult extends Measurement {
  readonly statements: number;
  readonly coldP50Us: number;
  readonly coldP95Us: number;
  readonly coldMaxUs: number;
  /** Mean cost of a cache hit, the statement text being the very string cached. */
  readonly warmUs: number;
  /** Mean cost of a cache hit for an equal but different string object (SQL built at run time). */
  readonly warmFreshStringUs: number;
  /** Statements whose verdict came from node-sql-parser, as far as the reason tells. */
  readonly parserFallbacks: number;
  readonly parserReferenceUs: number;
  readonly lexerReferenceUs: number;
}

/** The statement the parser is timed on: the shape of a typical application query. */
export const REFERENCE_STATEMENT =
  'SELECT u.id, u.name, count(o.id) AS orders, sum(o.amount) AS total FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = $1 AND o.status = $2 GROUP BY u.id, u.name ORDER BY total DESC LIMIT 10';

interface SqlParser {
  astify(sql: string, options: { database: string }): unknown;
}

/**
 * Classification cost over `statements`: uncached (`classifyQuery`), cached (`Classifier`), how many needed the
 * parser, and what node-sql-parser alone costs for a typical statement, for scale.
 */
export function measureClassification(
  statements: readonly string[],
  params: ClassificationParams,
): ClassificationResult {
  if (statements.length === 0) throw new RangeError('statements: expected at least one');
  let sink = 0;

  // Untimed passes: JIT tiers and lazily loaded code would otherwise land in the first statements' samples.
  for (let pass = 0; pass < 3; pass++) for (const sql of statements) sink += classifyQuery(sql).paramCount;

  // Repetitions outermost: a slow moment of the machine then touches every statement a little instead of
  // a few statements entirely.
  const reps = params.coldRepetitions;
  const samples = statements.map(() => new Float64Array(reps));
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < statements.length; i++) {
      const sql = statements[i]!;
      const started = performance.now();
      const verdict = classifyQuery(sql);
      samples[i]![r] = performance.now() - started;
      sink += verdict.paramCount;
    }
  }
  const perStatement = Float64Array.from(samples, (s) => median(s) * 1000).sort();
  const parserFallbacks = statements.filter((sql) => /parser/i.test(classifyQuery(sql).reason)).length;

  const classifier = new Classifier(Math.max(1, statements.length));
  for (const sql of statements) classifier.classify(sql);
  const warmRounds: number[] = [];
  const freshRounds: number[] = [];
  for (let round = 0; round < params.warmRounds; round++) {
    let started = performance.now();
    for (let pass = 0; pass < params.warmPasses; pass++) {
      for (let i = 0; i < statements.length; i++) sink += classifier.classify(statements[i]!).classification.paramCount;
    }
    warmRounds.push(((performance.now() - started) * 1000) / (params.warmPasses * statements.length));
    // A string's hash is cached in the string, so looking up the same object is cheaper than looking up an
    // equal text built afresh (as a query builder or a template literal does on every call).
    const fresh = statements.map((sql) => Buffer.from(sql, 'utf8').toString('utf8'));
    started = performance.now();
    for (let i = 0; i < fresh.length; i++) sink += classifier.classify(fresh[i]!).classification.paramCount;
    freshRounds.push(((performance.now() - started) * 1000) / fresh.length);
  }

  // Timed apart, not interleaved: the parser's garbage and cache footprint would otherwise land on the lexer.
  const reference = (fn: () => number): number => {
    for (let pass = 0; pass < 3; pass++) sink += fn();
    const times = new Float64Array(params.parserRepetitions);
    for (let r = 0; r < times.length; r++) {
      const started = performance.now();
      sink += fn();
      times[r] = performance.now() - started;
    }
    return median(times) * 1000;
  };
  const lexerReferenceUs = reference(() => classifyQuery(REFERENCE_STATEMENT).paramCount);
  globalThis.gc?.();
  const parser = loadParser();
  const parserReferenceUs = reference(() =>
    parser.astify(REFERENCE_STATEMENT, { database: 'postgresql' }) === undefined ? 0 : 1,
  );
  // Keeps every result observably used, so no call can be optimised away.
  if (sink === -1) console.error(sink);

  const result = {
    statements: statements.length,
    coldP50Us: percentileOfSorted(perStatement, 50),
    coldP95Us: percentileOfSorted(perStatement, 95),
    coldMaxUs: perStatement[perStatement.length - 1]!,
    warmUs: median(warmRounds),
    warmFreshStringUs: median(freshRounds),
    parserFallbacks,
    parserReferenceUs,
    lexerReferenceUs,
  };
  return { ...result, ...report(result) };
}

function loadParser(): SqlParser {
  // The PostgreSQL-only build, as src/sql/ast.ts loads it.
  const require = createRequire(import.meta.url);
  const module = require('node-sql-parser/build/postgresql') as { Parser: new () => SqlParser };
  return new module.Parser();
}

type Costs = Omit<ClassificationResult, keyof Measurement>;

function report(costs: Costs): Measurement {
  const { maxColdP50Us, maxWarmUs } = CLASSIFICATION_TARGETS;
  const coldMet = costs.coldP50Us <= maxColdP50Us;
  const warmMet = costs.warmUs <= maxWarmUs;
  const targets: TargetOutcome[] = [
    {
      name: `classifyQuery p50 over the corpus ≤ ${maxColdP50Us} µs`,
      met: coldMet,
      measured: formatMicros(costs.coldP50Us),
    },
    {
      name: `cached classification ≤ ${maxWarmUs} µs per statement`,
      met: warmMet,
      measured: formatNanos(costs.warmUs * 1000),
    },
  ];
  const corpus = `${costs.statements} corpus statements`;
  const rows: TableRow[] = [
    {
      benchmark: `Classification, cold (${corpus})`,
      contender: 'classifyQuery',
      throughput: formatRate(1e6 / costs.coldP50Us, 'stmt/s'),
      p50: formatMicros(costs.coldP50Us),
      tail: `p95 ${formatMicros(costs.coldP95Us)}`,
      ratio: `${costs.parserFallbacks}/${costs.statements} via parser`,
      target: formatTarget(`p50 ≤ ${maxColdP50Us} µs`, coldMet),
    },
    {
      benchmark: `Classification, warm (${corpus})`,
      contender: 'Classifier.classify, cache hit',
      throughput: formatRate(1e6 / costs.warmUs, 'lookups/s'),
      p50: `${formatNanos(costs.warmUs * 1000)} mean`,
      target: formatTarget(`≤ ${maxWarmUs} µs`, warmMet),
    },
    {
      benchmark: `Classification, warm (${corpus})`,
      contender: 'Classifier.classify, equal new string',
      throughput: formatRate(1e6 / costs.warmFreshStringUs, 'lookups/s'),
      p50: `${formatNanos(costs.warmFreshStringUs * 1000)} mean`,
      target: formatTarget(`≤ ${maxWarmUs} µs`, costs.warmFreshStringUs <= maxWarmUs),
    },
    {
      benchmark: 'Typical statement (join, GROUP BY), cold',
      contender: 'classifyQuery',
      p50: formatMicros(costs.lexerReferenceUs),
    },
    {
      benchmark: 'Typical statement (join, GROUP BY), cold',
      contender: 'node-sql-parser astify (reference)',
      p50: formatMicros(costs.parserReferenceUs),
      ratio: formatRatio(costs.parserReferenceUs / costs.lexerReferenceUs, 'classifyQuery'),
    },
  ];
  return { rows, targets, notes: [] };
}
