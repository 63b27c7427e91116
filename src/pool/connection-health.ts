/**
 * Why a pool closed one of its connections:
 * - `lifetime`: it reached `pool.maxLifetimeMs`;
 * - `idle`: it sat idle past `pool.idleTimeoutMs` (above `pool.min`);
 * - `health`: its health score fell below `pool.healthThreshold` (docs/operations.md, "Connection health scores");
 * - `error`: it failed at connection level (lost, reset, refused its `onConnect` hook or a ping) or could not be
 *   trusted any more (a cancel request for a statement that had already ended was still on its way);
 * - `shrink`: adaptive sizing lowered the pool's target below the connections open;
 * - `session`: a statement left session state on it (a setting, `LISTEN`, a temporary table, a prepared statement
 *   or cursor of the caller's, a session advisory lock, an open transaction) that must not reach the next caller.
 */
export type RecycleReason = 'lifetime' | 'idle' | 'health' | 'error' | 'shrink' | 'session';

/** Connections closed by a pool since it started, by {@link RecycleReason}. */
export type RecycleCounts = Record<RecycleReason, number>;

/** One open connection in `stats()`. */
export interface ConnectionHealthStats {
  /** Opaque, unique within the process (`'c17'`); a recycled connection's replacement gets a new id. */
  readonly id: string;
  /** Health score 0–100 now (see docs/operations.md, "Connection health scores"). */
  readonly score: number;
  /** Statements it ran. */
  readonly statements: number;
  /**
   * Statements that failed through the connection's fault (a session stuck in an aborted transaction, the server out
   * of resources or failing internally on it), never through the caller's own.
   */
  readonly failures: number;
  /** How long it has been open, in milliseconds. */
  readonly ageMs: number;
  /** Whether it is checked out now. */
  readonly active: boolean;
}

/**
 * Most points each part of the score can take off 100 (the score is clamped at 0). Failures and latency can each
 * push a connection below the default threshold (50) on their own when they persist; age never can, and recent
 * errors only together with failures.
 */
export const HEALTH_PENALTIES = Object.freeze({ failures: 50, latency: 60, errors: 20, age: 10 });

// Weight of the newest statement in the success rate: four failures in a row take it from 1 to 0.32.
const SUCCESS_ALPHA = 0.25;
// Weight of the newest statement in the latency average: slower than the success rate, so that only a sustained run
// of slow statements counts, not a handful of heavy ones that happened to share a connection.
const LATENCY_ALPHA = 0.1;
// Each statement's latency enters as log2(its time / the node's median), clamped: −2 lets fast statements pull the
// average back, 8 (256×) stops one stall from dominating it.
const LATENCY_LOG_MIN = -2;
const LATENCY_LOG_MAX = 8;
// No penalty while the connection is typically within 2× its node's median; the full penalty at 64×.
const LATENCY_LOG_FREE = 1;
const LATENCY_LOG_FULL = 6;
const ERROR_HALF_LIFE_MS = 60_000;
const ERROR_POINTS = 10;
// Without a maximum lifetime, age is judged over an hour: old connections are nudged, never recycled for age alone.
const DEFAULT_AGE_HORIZON_MS = 3_600_000;

// Math.log2 is a call into V8's C++ (measured here: ~20 ns, twice per check-in); reading the float's exponent and
// mantissa bits costs a quarter of that. The piecewise-linear result is monotonic and off by at most 0.086, far
// below the resolution the score needs.
const float = new Float64Array(1);
const words = new Uint32Array(float.buffer);
const HIGH_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** log₂ of a positive, normal `x`, to within 0.09. */
export function approxLog2(x: number): number {
  float[0] = x;
  const high = words[HIGH_WORD]!;
  return (high >>> 20) - 1023 + (high & 0xfffff) / 0x100000;
}

/**
 * True when a statement's failure is the connection's fault rather than the caller's: the server ran out of
 * resources or failed internally on it (classes 53, 58, XX), or — for a statement run on its own — the session is
 * stuck in an aborted transaction (25P02: a `BEGIN` sent through `query()` and then an error left it so). Inside a
 * transaction the caller owns (`callerTransaction`), 25P02 is the ordinary sequel of the caller's own failed
 * statement. Caller errors — syntax, constraints, data, permissions, serialization failures, a cancelled
 * statement (57014) — never count. Errors without a SQLSTATE end the connection anyway.
 */
export function isConnectionFault(error: unknown, callerTransaction = false): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || code.length !== 5) return false;
  return (
    (code === '25P02' && !callerTransaction) || code.startsWith('53') || code.startsWith('58') || code.startsWith('XX')
  );
}

const REFERENCE_WINDOW = 64;
// Buckets of the reference histogram: 4 per doubling from 10 µs, up to ~11 minutes.
const REFERENCE_FLOOR_MS = 0.01;
const REFERENCE_PER_DOUBLING = 4;

/**
 * The median time per statement of one node's connections, over roughly its last few hundred statements: what each
 * connection's latency is judged against. Fixed log buckets (4 per doubling, from 10 µs), an O(1) `observe`; every
 * {@link LatencyReference.WINDOW} statements the median is recomputed and the counts halved, so the median follows
 * the node when all of it gets slower (a cold cache after a restart, a load spike) and only a connection slower
 * than its peers stands out.
 */
export class LatencyReference {
  /** Statements between two recomputations of the median. */
  static readonly WINDOW = REFERENCE_WINDOW;
  private readonly counts = new Float64Array(26 * REFERENCE_PER_DOUBLING + 1);
  private total = 0;
  private sinceUpdate = 0;
  /** The median in milliseconds; `0` until the first window is complete. */
  medianMs = 0;

  /** Records one statement's time on a connection, in milliseconds. */
  observe(ms: number): void {
    let index = ms > REFERENCE_FLOOR_MS ? (approxLog2(ms / REFERENCE_FLOOR_MS) * REFERENCE_PER_DOUBLING) | 0 : 0;
    if (index >= this.counts.length) index = this.counts.length - 1;
    this.counts[index]! += 1;
    this.total += 1;
    if (++this.sinceUpdate >= REFERENCE_WINDOW) this.update();
  }

  private update(): void {
    this.sinceUpdate = 0;
    const half = this.total / 2;
    let seen = 0;
    let median = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      // The bucket's upper bound: never an underestimate by more than one bucket.
      if (median === 0 && seen >= half) median = REFERENCE_FLOOR_MS * 2 ** ((i + 1) / REFERENCE_PER_DOUBLING);
      this.counts[i]! /= 2;
    }
    this.medianMs = median;
    this.total /= 2;
  }
}

let sequence = 0;

/**
 * The health of one pooled connection, a score from 0 to 100: 100 minus four penalties (clamped at 0):
 *
 * - failures, up to 50 points: 50 × (1 − success rate), the success rate being an exponentially weighted average
 *   (newest statement 25 %) of 1 for a statement that ended normally or with the caller's own error and 0 for one
 *   that failed through the connection's fault ({@link isConnectionFault});
 * - latency, up to 60 points: from the weighted average (newest 10 %) of log2(statement time ÷ node median):
 *   nothing while it is below 1 (2× the median), rising linearly to 60 at 6 (64×);
 * - recent errors, up to 20 points: 10 per connection-fault failure, each halving every minute;
 * - age, up to 10 points: in proportion to its age over `pool.maxLifetimeMs` (over an hour without a lifetime).
 *
 * All times are `performance.now()` milliseconds passed in by the caller, so the arithmetic is tested with a fake
 * clock. Updating and scoring are O(1) and allocate nothing.
 */
export class ConnectionHealth {
  /** See {@link ConnectionHealthStats.id}. */
  readonly id: string;
  /** When the connection was opened (`performance.now()` ms). */
  readonly connectedAt: number;
  /** Statements counted so far. */
  statements = 0;
  /** Of those, the ones that failed through the connection's fault. */
  failures = 0;
  private successRate = 1;
  private latencyLog = 0;
  private errors = 0;
  private errorsAt = 0;

  constructor(connectedAt: number) {
    this.id = `c${++sequence}`;
    this.connectedAt = connectedAt;
  }

  /**
   * Counts one statement that took `ms` on this connection and ended well (`fault` false: success or the caller's
   * error) or through the connection's fault. `referenceMs` is the node's median ({@link LatencyReference}); `0`
   * (not known yet) or a negative `ms` (no comparable time, e.g. a statement of a pipelined batch) leaves the
   * latency average as it is.
   */
  record(ms: number, fault: boolean, referenceMs: number, now: number): void {
    this.statements++;
    this.successRate += ((fault ? 0 : 1) - this.successRate) * SUCCESS_ALPHA;
    if (fault) {
      this.failures++;
      this.errors = this.recentErrors(now) + 1;
      this.errorsAt = now;
    }
    if (referenceMs > 0 && ms >= 0) {
      let log = approxLog2((ms > 0.001 ? ms : 0.001) / referenceMs);
      if (log < LATENCY_LOG_MIN) log = LATENCY_LOG_MIN;
      else if (log > LATENCY_LOG_MAX) log = LATENCY_LOG_MAX;
      this.latencyLog += (log - this.latencyLog) * LATENCY_ALPHA;
    }
  }

  /** The score at `now`, 0–100; `lifetimeMs` is the pool's maximum lifetime (`0`: none). */
  score(now: number, lifetimeMs: number): number {
    const failures = HEALTH_PENALTIES.failures * (1 - this.successRate);
    const latencyShare = (this.latencyLog - LATENCY_LOG_FREE) / (LATENCY_LOG_FULL - LATENCY_LOG_FREE);
    const latency = latencyShare <= 0 ? 0 : HEALTH_PENALTIES.latency * (latencyShare >= 1 ? 1 : latencyShare);
    const errors = this.errors === 0 ? 0 : Math.min(HEALTH_PENALTIES.errors, ERROR_POINTS * this.recentErrors(now));
    const ageShare = (now - this.connectedAt) / (lifetimeMs > 0 ? lifetimeMs : DEFAULT_AGE_HORIZON_MS);
    const age = HEALTH_PENALTIES.age * (ageShare >= 1 ? 1 : ageShare > 0 ? ageShare : 0);
    const score = 100 - failures - latency - errors - age;
    return score > 0 ? score : 0;
  }

  /** The error count decayed to `now`; forgets it once it is negligible, so healthy connections skip the decay. */
  private recentErrors(now: number): number {
    if (this.errors === 0) return 0;
    const decayed = this.errors * 2 ** (-(now - this.errorsAt) / ERROR_HALF_LIFE_MS);
    if (decayed < 0.01) this.errors = 0;
    return decayed < 0.01 ? 0 : decayed;
  }

  /** This connection in `stats()`. */
  snapshot(now: number, lifetimeMs: number, active: boolean): ConnectionHealthStats {
    return {
      id: this.id,
      score: Math.round(this.score(now, lifetimeMs) * 10) / 10,
      statements: this.statements,
      failures: this.failures,
      ageMs: Math.round(now - this.connectedAt),
      active,
    };
  }
}
