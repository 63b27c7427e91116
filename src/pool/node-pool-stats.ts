import { LatencyHistogram } from '../metrics/latency-histogram.js';
import type { ConnectionHealthStats, RecycleCounts } from './connection-health.js';
import type { InternalFeature } from './pg-internals.js';
import type { StatementCacheCounters } from './statement-cache.js';

/** Counters of one node, read by `stats()`. */
export interface NodePoolStats {
  readonly total: number;
  readonly idle: number;
  readonly active: number;
  readonly waiting: number;
  readonly max: number;
  /** The ceiling now: `max`, or the adaptive target when adaptive sizing is on. */
  readonly target: number;
  readonly queries: number;
  readonly errors: number;
  readonly inFlight: number;
  /** Exponentially weighted mean time per statement, acquisition included, in milliseconds. */
  readonly latencyMs: number;
  /** Statement time (acquisition included) since the pool started: median and 99th percentile, in milliseconds. */
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /** Time waited for a connection: mean and 99th percentile, in milliseconds, and how many hand-outs. */
  readonly acquireMeanMs: number;
  readonly acquireP99Ms: number;
  readonly acquisitions: number;
  /** Total time connections were held by callers, in milliseconds (Little's law: held time ÷ elapsed = busy connections). */
  readonly heldMs: number;
  /** Connections being opened now (counted in `total`, neither idle nor handed out yet). */
  readonly opening: number;
  /** Exponentially weighted mean time to open a connection for {@link NodePool.resize}, in milliseconds (`0`: none opened yet). */
  readonly connectMs: number;
  readonly statementCache: Readonly<StatementCacheCounters>;
  /** Each open connection with its health score. */
  readonly connections: readonly ConnectionHealthStats[];
  /** Connections closed since start, by reason. */
  readonly recycled: Readonly<RecycleCounts>;
  /** Connection attempts retried since start (see {@link NodePoolOptions.connectRetries}). */
  readonly connectRetries: number;
  /** Pipelined `BEGIN … COMMIT` batches sent lean: Bind/Execute per statement and one Sync (see `lean-batch.ts`). */
  readonly leanBatches: number;
  /** Connections reserved by {@link NodePool.reserve} (pre-warmed workload scopes) now. */
  readonly reserved: number;
  /**
   * The pg internals found missing when the first connection opened, so their features are off (see
   * `probeInternals`); empty when all are there, or before any connection opened.
   */
  readonly disabledInternals: readonly InternalFeature[];
}

/**
 * The statement and hand-out counters of one pool, updated on the hot path without allocating: what
 * {@link NodePoolStats} reports of statements, waits and held time, and the histograms the metrics export.
 */
export class PoolMeter {
  queries = 0;
  errors = 0;
  /** Total time connections were held by callers, in milliseconds. */
  heldMs = 0;
  /** Time per statement, waiting for a connection included. */
  readonly latency = new LatencyHistogram();
  /** Time waited for a connection, per hand-out. */
  readonly acquireWait = new LatencyHistogram();

  /**
   * Counts one statement that ended after `ms` (waiting for a connection included): the one place `queries`,
   * `errors` and the latency histogram are updated, so they always agree (and the metrics read them as they are).
   */
  ended(ms: number, ok: boolean): void {
    this.queries++;
    if (!ok) this.errors++;
    this.latency.observe(ms);
  }
}
