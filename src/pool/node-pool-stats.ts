import { LatencyHistogram, WindowedLatencyHistogram } from '../metrics/latency-histogram.js';
import type { ConnectionHealthStats, RecycleCounts } from './connection-health.js';
import type { InternalFeature } from './pg-internals.js';
import type { StatementCacheCounters } from './statement-cache.js';
import type { StatementCacheDisabled } from './statement-cache-switch.js';

/** Counters of one node, read by `stats()`. */
export interface NodePoolStats {
  readonly total: number;
  readonly idle: number;
  readonly active: number;
  readonly waiting: number;
  readonly max: number;
  /** The ceiling now: `max`, or the adaptive target when adaptive sizing is on. */
  readonly target: number;
  /** Statements run on this node, and how many failed (any cause). */
  readonly queries: number;
  readonly errors: number;
  /** Statements running or waiting for a connection now. */
  readonly inFlight: number;
  /** Exponentially weighted mean time per statement, acquisition included, in milliseconds. */
  readonly latencyMs: number;
  /**
   * Time per statement since the pool started, acquisition included: median and 99th percentile, in milliseconds
   * (±19 %: log buckets).
   */
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /**
   * Time per statement now: median and 99th percentile of the statements that ended in the last minute (between
   * 50 and 60 s: six 10-second slices), acquisition included, in milliseconds (±19 %: log buckets); `0` when none
   * ended in that window. Unlike `latencyP50Ms` / `latencyP99Ms`, a slow spell ages out of these.
   */
  readonly recentLatencyP50Ms: number;
  readonly recentLatencyP99Ms: number;
  /** Time waited for a connection: mean and 99th percentile, in milliseconds, and how many hand-outs. */
  readonly acquireMeanMs: number;
  readonly acquireP99Ms: number;
  readonly acquisitions: number;
  /** Total time connections were held by callers, in milliseconds (Little's law: held time ÷ elapsed = busy connections). */
  readonly heldMs: number;
  /** Connections being opened now (counted in `total`, neither idle nor handed out yet). */
  readonly opening: number;
  /** Exponentially weighted mean time to open a connection for resizing the pool (adaptive sizing, pre-warming), in milliseconds (`0`: none opened yet). */
  readonly connectMs: number;
  /** This node's prepared-statement cache: hits, misses (statement prepared) and evictions (closed on the server). */
  readonly statementCache: Readonly<StatementCacheCounters>;
  /**
   * Each open connection, lowest health score first: an opaque `id`, its `score` (0–100; below
   * `pool.healthThreshold` it is closed at its next check-in), `statements` run, `failures` through its own fault,
   * `ageMs` and whether it is `active` (checked out).
   */
  readonly connections: readonly ConnectionHealthStats[];
  /** Connections closed since start, by reason: `lifetime`, `idle`, `health`, `error` and `shrink` (adaptive sizing). */
  readonly recycled: Readonly<RecycleCounts>;
  /** Connection attempts retried since start (see the `pool.connectRetries` option). */
  readonly connectRetries: number;
  /**
   * Connection attempts the node refused for lack of room since start (SQLSTATE 53300 "too many clients", 53400):
   * back-pressure, not a failure — the callers waited for a connection instead.
   */
  readonly connectionRefusals: number;
  /** Pipelined batches of prepared writes sent lean: Bind/Execute per statement and one Sync for the batch. */
  readonly leanBatches: number;
  /** Connections reserved for pre-warmed workload scopes (`router.prewarm()`) now. */
  readonly reserved: number;
  /**
   * Features off because the installed pg lacks an internal they use (`statement-cache`, `pipeline-mode`,
   * `socket-cork`, `socket-destroy`, `backend-key`, `pool-ceiling`, `lean-batch`), found when the first connection
   * opened and reported once as a `warning` event; empty when all are there (every pg 8 release so far).
   */
  readonly disabledInternals: readonly InternalFeature[];
  /**
   * Why this node's prepared-statement cache is off although `statementCache.max > 0`: its server connections did
   * not keep the statements its connections prepared (SQLSTATE `26000` or `42P05`), as behind PgBouncer < 1.21 in
   * transaction mode, so every statement runs unnamed since `at`. `null` while the cache works.
   */
  readonly statementCacheDisabled: StatementCacheDisabled | null;
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
  /** Time per statement over the last minute only: what the node is like now. */
  readonly recentLatency = new WindowedLatencyHistogram();
  /** Time waited for a connection, per hand-out. */
  readonly acquireWait = new LatencyHistogram();

  /**
   * Counts one statement that ended after `ms` (waiting for a connection included): the one place `queries`,
   * `errors` and the latency histogram are updated, so they always agree (and the metrics read them as they are).
   * `now`: the time it ended on `performance.now()`'s clock, when the caller has read it already.
   */
  ended(ms: number, ok: boolean, now?: number): void {
    this.queries++;
    if (!ok) this.errors++;
    this.latency.observe(ms);
    this.recentLatency.observe(ms, now);
  }
}
