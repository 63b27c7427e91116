import type { QueryResult } from 'pg';
import { ConfigError } from '../errors.js';

/**
 * Turns a statement that failed because of the primary (its breaker open, its connection refused or lost) into a
 * result of the caller's own — e.g. after writing the row to a local spool for later replay. Never called for the
 * statement's own errors (constraints, syntax). Throw to fail after all.
 */
export type PipelineFallback = (
  error: Error,
  sql: string,
  params: readonly unknown[] | undefined,
) => QueryResult | Promise<QueryResult>;

/** Options of a {@link QueryPipeline}. */
export interface PipelineOptions {
  /** Most statements sent in one round trip. Default `100`. */
  batchSize?: number;
  /** A partial batch is sent this long after its first statement was queued, in milliseconds. Default `50`. */
  flushIntervalMs?: number;
  /** Most statements held (queued, waiting for a batch slot or in flight) at once. Default `5000`. */
  maxQueueSize?: number;
  /**
   * What `addQuery` does when `maxQueueSize` statements are held: `'reject'` rejects at once with
   * `PipelineFullError`; `'wait'` waits for room (back-pressure), so memory stays bounded. Default `'reject'`.
   */
  onFull?: 'reject' | 'wait';
  /** Batches in flight at once, each on its own primary connection. Default `2`. */
  concurrency?: number;
  /**
   * `'independent'`: each statement commits or fails on its own; `'atomic'`: each batch is one transaction, and
   * if any statement fails none of the batch is kept. Default `'independent'`.
   */
  mode?: 'atomic' | 'independent';
  /**
   * Merge consecutive single-row `INSERT INTO t (cols) VALUES (…)` statements of the same shape into one
   * multi-row INSERT, and consecutive `UPDATE t SET c = $1, … WHERE k = $2 AND …` / `DELETE FROM t WHERE k = $1
   * AND …` statements keyed by a unique index into one statement over arrays. Off by default: statement-level
   * triggers then fire once per merged group.
   */
  coalesce?: boolean;
  /**
   * In `'independent'` mode, commit a batch of plain reads and writes as one transaction when every statement in
   * it succeeds (one commit instead of one per statement); when one fails, the batch is rolled back and re-run
   * statement by statement, so each still commits or fails on its own. Turn it off for statements with effects
   * outside the transaction (a function writing through dblink, say), which a re-run would repeat. Default `true`.
   */
  groupCommit?: boolean;
  /** See {@link PipelineFallback}. Default: none (such statements reject with their error). */
  fallback?: PipelineFallback;
}

/** Pipeline options after defaults and validation. */
export type ResolvedPipelineOptions = Readonly<Required<Omit<PipelineOptions, 'fallback'>>> & {
  readonly fallback: PipelineFallback | undefined;
};

/** Defaults of every pipeline option. */
export const PIPELINE_DEFAULTS: ResolvedPipelineOptions = Object.freeze({
  batchSize: 100,
  flushIntervalMs: 50,
  maxQueueSize: 5000,
  onFull: 'reject',
  concurrency: 2,
  mode: 'independent',
  coalesce: false,
  groupCommit: true,
  fallback: undefined,
});

function positiveInteger(value: unknown, key: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ConfigError(`pipeline.${key}`, `must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function oneOf<T extends string>(value: unknown, key: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T))
    throw new ConfigError(`pipeline.${key}`, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

/** Applies defaults and validates; throws {@link ConfigError} naming the bad key. */
export function resolvePipelineOptions(input: unknown): ResolvedPipelineOptions {
  if (input === undefined) return PIPELINE_DEFAULTS;
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new ConfigError('pipeline', 'options must be an object');
  const options = input as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (!(key in PIPELINE_DEFAULTS))
      throw new ConfigError(
        `pipeline.${key}`,
        `unknown option; expected one of ${Object.keys(PIPELINE_DEFAULTS).join(', ')}`,
      );
  }
  const batchSize = positiveInteger(options['batchSize'], 'batchSize', PIPELINE_DEFAULTS.batchSize, 1);
  const maxQueueSize = positiveInteger(options['maxQueueSize'], 'maxQueueSize', PIPELINE_DEFAULTS.maxQueueSize, 1);
  if (maxQueueSize < batchSize)
    throw new ConfigError('pipeline.maxQueueSize', `must be at least batchSize (${batchSize}), got ${maxQueueSize}`);
  const fallback = options['fallback'];
  if (fallback !== undefined && typeof fallback !== 'function')
    throw new ConfigError('pipeline.fallback', 'must be a function (error, sql, params) => result');
  const coalesce = options['coalesce'] ?? PIPELINE_DEFAULTS.coalesce;
  if (typeof coalesce !== 'boolean')
    throw new ConfigError('pipeline.coalesce', `must be a boolean, got ${JSON.stringify(coalesce)}`);
  const groupCommit = options['groupCommit'] ?? PIPELINE_DEFAULTS.groupCommit;
  if (typeof groupCommit !== 'boolean')
    throw new ConfigError('pipeline.groupCommit', `must be a boolean, got ${JSON.stringify(groupCommit)}`);
  return Object.freeze({
    batchSize,
    flushIntervalMs: positiveInteger(
      options['flushIntervalMs'],
      'flushIntervalMs',
      PIPELINE_DEFAULTS.flushIntervalMs,
      0,
    ),
    maxQueueSize,
    onFull: oneOf(options['onFull'], 'onFull', ['reject', 'wait'], PIPELINE_DEFAULTS.onFull),
    concurrency: positiveInteger(options['concurrency'], 'concurrency', PIPELINE_DEFAULTS.concurrency, 1),
    mode: oneOf(options['mode'], 'mode', ['atomic', 'independent'], PIPELINE_DEFAULTS.mode),
    coalesce,
    groupCommit,
    fallback: fallback as PipelineFallback | undefined,
  });
}
