import { LRUCache } from 'lru-cache';
import { LatencyHistogram } from '../metrics/latency-histogram.js';
import type { Clock } from './clock.js';
import { DecayingRate } from './decaying-rate.js';

/** What the learner needs to know of a statement: its shape, not its text. */
export interface PatternShape {
  readonly fingerprint: string;
  readonly fingerprintHash: string;
  /** `select`, `insert`, `ddl`, … */
  readonly kind: string;
  readonly tables: readonly string[];
}

/** One learned pattern, as `router.patterns()` and `stats()` report it. */
export interface PatternSnapshot {
  readonly fingerprint: string;
  readonly fingerprintHash: string;
  readonly kind: string;
  readonly tables: readonly string[];
  /** Where its statements ran last: `'primary'` or `'replica'`. */
  readonly route: 'primary' | 'replica';
  /** Statements seen since the pattern was first tracked (or re-tracked after eviction). */
  readonly count: number;
  /** Statements that failed. */
  readonly errors: number;
  /** Arrivals per second, exponentially weighted (half-life one minute). */
  readonly ratePerSecond: number;
  /** Mean and 95th percentile duration in milliseconds (connection wait included). */
  readonly meanMs: number;
  readonly p95Ms: number;
  /** When it was last seen (epoch milliseconds). */
  readonly lastSeen: number;
}

interface Pattern {
  readonly shape: PatternShape;
  route: 'primary' | 'replica';
  count: number;
  errors: number;
  readonly rate: DecayingRate;
  readonly latency: LatencyHistogram;
  lastSeen: number;
}

/** Options of a {@link PatternLearner}. */
export interface PatternLearnerOptions {
  /** Most patterns tracked; the least recently seen is forgotten to make room. */
  readonly maxPatterns: number;
  readonly clock: Clock;
  /** Half-life of the arrival rate, in milliseconds. Default one minute. */
  readonly rateHalfLifeMs?: number;
}

/** Statements recorded before they are counted in one pass (see {@link PatternLearner.record}). */
const RECORD_BATCH = 128;

/**
 * Per-fingerprint statistics of the workload: count, arrival rate, latency mean and p95, route, tables, last
 * seen. Memory is bounded: at most `maxPatterns` patterns (least recently seen evicted), each with a fixed-size
 * histogram (~0.2 KB), whatever the number of distinct statements.
 */
export class PatternLearner {
  private readonly patterns: LRUCache<string, Pattern>;
  private readonly clock: Clock;
  private readonly halfLifeMs: number;
  private forgotten = 0;
  // Statements recorded and not yet counted, in parallel arrays: a statement only writes its row here, and a full
  // batch (or any read) is counted in one pass while the patterns' maps, histograms and rates are in the cache,
  // instead of touching them between every statement's network I/O.
  private readonly pendingShapes: (PatternShape | undefined)[] = new Array<PatternShape | undefined>(RECORD_BATCH);
  private readonly pendingOnReplica = new Uint8Array(RECORD_BATCH);
  private readonly pendingOk = new Uint8Array(RECORD_BATCH);
  private readonly pendingDurations = new Float64Array(RECORD_BATCH);
  private readonly pendingTimes = new Float64Array(RECORD_BATCH);
  private pending = 0;

  constructor(options: PatternLearnerOptions) {
    this.clock = options.clock;
    this.halfLifeMs = options.rateHalfLifeMs ?? 60_000;
    this.patterns = new LRUCache<string, Pattern>({
      max: options.maxPatterns,
      dispose: (_value, _key, reason) => void (reason === 'evict' && this.forgotten++),
    });
  }

  /** Number of patterns tracked now (never above `maxPatterns`). */
  get size(): number {
    this.count();
    return this.patterns.size;
  }

  /** Patterns forgotten to make room. */
  get evicted(): number {
    this.count();
    return this.forgotten;
  }

  /**
   * Records one statement of `shape` that ran on `route`, took `durationMs`, and succeeded or not, at `now` (epoch
   * milliseconds; default the clock's time). Counted with the next batch or read.
   */
  record(
    shape: PatternShape,
    route: 'primary' | 'replica',
    durationMs: number,
    ok: boolean,
    now: number = this.clock.now(),
  ): void {
    const i = this.pending;
    this.pendingShapes[i] = shape;
    this.pendingOnReplica[i] = route === 'replica' ? 1 : 0;
    this.pendingOk[i] = ok ? 1 : 0;
    this.pendingDurations[i] = durationMs;
    this.pendingTimes[i] = now;
    if ((this.pending = i + 1) === RECORD_BATCH) this.count();
  }

  /** Counts the statements recorded since the last time, in the order they were recorded. */
  private count(): void {
    const pending = this.pending;
    this.pending = 0;
    for (let i = 0; i < pending; i++) {
      const shape = this.pendingShapes[i]!;
      this.pendingShapes[i] = undefined;
      this.countOne(
        shape,
        this.pendingOnReplica[i] === 1 ? 'replica' : 'primary',
        this.pendingDurations[i]!,
        this.pendingOk[i] === 1,
        this.pendingTimes[i]!,
      );
    }
  }

  private countOne(
    shape: PatternShape,
    route: 'primary' | 'replica',
    durationMs: number,
    ok: boolean,
    now: number,
  ): void {
    let pattern = this.patterns.get(shape.fingerprintHash);
    if (pattern === undefined) {
      pattern = {
        shape,
        route,
        count: 0,
        errors: 0,
        rate: new DecayingRate(this.halfLifeMs, now),
        latency: new LatencyHistogram(2),
        lastSeen: now,
      };
      this.patterns.set(shape.fingerprintHash, pattern);
    }
    pattern.route = route;
    pattern.count++;
    if (!ok) pattern.errors++;
    pattern.rate.add(now);
    pattern.latency.observe(durationMs);
    pattern.lastSeen = now;
  }

  /** The `n` patterns with the highest arrival rate now (ties: the higher count). */
  top(n: number): PatternSnapshot[] {
    this.count();
    const now = this.clock.now();
    const all: PatternSnapshot[] = [];
    for (const pattern of this.patterns.values()) all.push(snapshot(pattern, now));
    all.sort((a, b) => b.ratePerSecond - a.ratePerSecond || b.count - a.count);
    return all.slice(0, Math.max(0, n));
  }
}

function snapshot(pattern: Pattern, now: number): PatternSnapshot {
  const { shape } = pattern;
  return {
    fingerprint: shape.fingerprint,
    fingerprintHash: shape.fingerprintHash,
    kind: shape.kind,
    tables: shape.tables,
    route: pattern.route,
    count: pattern.count,
    errors: pattern.errors,
    ratePerSecond: pattern.rate.perSecond(now),
    meanMs: pattern.latency.meanMs,
    p95Ms: pattern.latency.quantile(0.95),
    lastSeen: pattern.lastSeen,
  };
}
