/** How a {@link PoolSizer} decides. */
export interface PoolSizerOptions {
  /** Bounds of the target: the pool's `min` and `max`. */
  readonly min: number;
  readonly max: number;
  /** Share of the pool's connections that should be busy on average (0–1): the head-room for bursts. */
  readonly targetUtilization: number;
  /** A smaller target is taken only when it is below `current × (1 − hysteresis)`. */
  readonly hysteresis: number;
  /** After any change, the target does not shrink for this long (growth is never held back). */
  readonly cooldownMs: number;
  /**
   * The target does not shrink below the largest Little's-law size of the last `peakHoldMs` (ms), so a pool that
   * recurring bursts need is still open when the next one comes; `0`: no hold.
   */
  readonly peakHoldMs: number;
}

/** What a pool did over one interval. */
export interface PoolSample {
  /** End of the interval (ms). */
  readonly now: number;
  /** Length of the interval (ms). */
  readonly elapsedMs: number;
  /** Connections handed out during the interval (statements, batches, transactions). */
  readonly acquisitions: number;
  /** Total time connections were held, summed over the hand-outs that ended in the interval (ms). */
  readonly heldMs: number;
  /** Callers waiting for a connection now. */
  readonly waiting: number;
  /** Connections open now (idle, busy or still being opened), and how many of them are still being opened. */
  readonly open?: number;
  readonly opening?: number;
  /** Recent mean time to open a connection (ms); `0` or absent: not measured yet. */
  readonly connectMs?: number;
}

/**
 * Most connections opened at once by growth. Opening one costs the server a fork and an authentication (tens of
 * ms of CPU); opening dozens at once starves everything else on a small machine for the better part of a second,
 * which hurts far more than waiting for a few to come up.
 */
export const MAX_OPENING = 4;

/**
 * Intervals whose busy-connection measurements are taken together: the sizer uses their median, so one slow interval
 * (a GC pause, a noisy neighbour, a stalled event loop) neither grows the pool nor sets its hold, while a change that
 * lasts three intervals counts in full.
 */
export const BUSY_WINDOW = 5;

/** A change of the target size. */
export interface Resize {
  readonly from: number;
  readonly to: number;
  /** Why, for humans and the `poolResize` event. */
  readonly reason: string;
}

/** One interval's Little's-law size, kept while it may still be the largest of the hold window. */
interface HeldSize {
  readonly at: number;
  readonly size: number;
}

/**
 * Decides a pool's target size. Little's law gives the connections busy on average: L = λ·W, arrival rate times
 * the mean time a connection is held, measured directly as held time per elapsed time, and taken as the median of
 * the last {@link BUSY_WINDOW} intervals. The target is max(⌈L / targetUtilization⌉ + the callers waiting now, the
 * largest ⌈L / targetUtilization⌉ of the last `peakHoldMs`), clamped to [min, max].
 *
 * It grows at once, but never more than {@link MAX_OPENING} connections ahead of those already open (each growth
 * step is taken as the previous connections come up). Waiting callers count only when the connections would not
 * clear them before a new connection could be opened (waiting × held ÷ connections ≥ connect time, both as last
 * measured): a shorter queue is served by the connections coming back, and a connection opened for it would help
 * nobody. It shrinks only below the hysteresis band, after the cool-down and once the hold has passed, so a pool
 * that recurring bursts need is kept between them and a rate that wobbles around a threshold does not make the
 * pool flap; while there is traffic it shrinks half-way at a time, with no traffic at all in an interval it goes
 * straight to the target.
 */
export class PoolSizer {
  private current: number;
  private lastChange = Number.NEGATIVE_INFINITY;
  /** Little's-law sizes of the hold window, oldest first, each larger than every later one (a sliding maximum). */
  private readonly held: HeldSize[] = [];
  /** Mean time a connection was held per hand-out, and to open one, as last measured (ms; 0: not yet). */
  private heldPerAcquisitionMs = 0;
  private connectMs = 0;
  /** Busy connections measured in the last {@link BUSY_WINDOW} intervals, oldest first. */
  private readonly recentBusy: number[] = [];

  constructor(
    private readonly options: PoolSizerOptions,
    initial: number,
  ) {
    this.current = this.clamp(initial);
  }

  /** The target now. */
  get target(): number {
    return this.current;
  }

  /**
   * What one interval alone asks for: ⌈L / targetUtilization⌉ plus the callers waiting, clamped (the formula,
   * without the median, the hold or hysteresis).
   */
  desired(sample: PoolSample): number {
    return this.clamp(this.sizeFor(busyOf(sample)) + sample.waiting);
  }

  /** The largest ⌈L / targetUtilization⌉ of the last `peakHoldMs` before `now` (at least `min`): the hold. */
  floor(now: number): number {
    while (this.held.length > 0 && this.held[0]!.at <= now - this.options.peakHoldMs) this.held.shift();
    return this.held.length > 0 ? this.held[0]!.size : this.clamp(0);
  }

  /** The periodic decision: a {@link Resize} when the target changes, else `undefined`. */
  evaluate(sample: PoolSample): Resize | undefined {
    return this.decide(sample, this.observe(sample));
  }

  /**
   * Takes in an interval's measurements (what {@link evaluate} does before deciding) and returns the busy
   * connections the sizer goes by: the median of the last {@link BUSY_WINDOW} intervals. For learning the
   * workload while sizing is off.
   */
  observe(sample: PoolSample): number {
    if (sample.acquisitions > 0) this.heldPerAcquisitionMs = sample.heldMs / sample.acquisitions;
    if (sample.connectMs !== undefined && sample.connectMs > 0) this.connectMs = sample.connectMs;
    this.recentBusy.push(busyOf(sample));
    if (this.recentBusy.length > BUSY_WINDOW) this.recentBusy.shift();
    return medianOf(this.recentBusy);
  }

  /** The decision on an interval already {@link observe}d, whose median busy connections are `median`. */
  decide(sample: PoolSample, median: number): Resize | undefined {
    const busy = busyOf(sample);
    const needed = this.sizeFor(median);
    this.remember(needed, sample.now);
    const waiting = this.worthOpeningFor(sample.waiting, sample.open ?? this.current) ? sample.waiting : 0;
    const desired = this.clamp(needed + waiting);
    const floor = this.floor(sample.now);
    const aim = Math.max(desired, floor);
    const rate = sample.elapsedMs > 0 ? (sample.acquisitions * 1000) / sample.elapsedMs : 0;
    const why =
      `${rate.toFixed(1)} acquisitions/s × ${(sample.acquisitions > 0 ? sample.heldMs / sample.acquisitions : 0).toFixed(1)} ms held = ${busy.toFixed(2)} busy connections ` +
      `(median of the last ${this.recentBusy.length}: ${median.toFixed(2)}) at ${Math.round(this.options.targetUtilization * 100)} % utilisation` +
      `${waiting > 0 ? `, ${waiting} waiting` : ''}${floor > desired ? `; holding ${floor}, the peak of the last ${formatSeconds(this.options.peakHoldMs)}` : ''}`;
    if (aim > this.current)
      return this.change(this.reachable(aim, sample.open, sample.opening), sample.now, `grow: ${why}`);
    if (aim < this.current * (1 - this.options.hysteresis) && sample.now - this.lastChange >= this.options.cooldownMs) {
      // Half-way, but at least one connection, so a small pool does not stop one short of its target.
      const to =
        sample.acquisitions === 0
          ? aim
          : Math.max(aim, Math.min(this.current - 1, Math.ceil(this.current - (this.current - aim) / 2)));
      return this.change(to, sample.now, `shrink: ${why}`);
    }
    return undefined;
  }

  /**
   * Callers are waiting with every connection busy or being opened: grow at once by that many, without waiting for
   * the interval, with at most {@link MAX_OPENING} connections being opened at a time; but only when the busy
   * connections would not clear the queue before a new connection could be open (`waiting × held ÷ busy ≥
   * connect time`, both as last measured; until they are, always).
   */
  pressure(now: number, waiting: number, busy: number, opening = 0): Resize | undefined {
    if (!this.worthOpeningFor(waiting, busy)) return undefined;
    const open = busy + opening;
    const wanted = this.reachable(
      this.clamp(Math.max(open, this.current) + waiting),
      Math.max(open, this.current),
      opening,
    );
    if (wanted <= this.current) return undefined;
    return this.change(
      wanted,
      now,
      `grow: ${waiting} caller${waiting === 1 ? '' : 's'} waiting with ${busy} connection${busy === 1 ? '' : 's'} busy${opening > 0 ? ` and ${opening} opening` : ''}`,
    );
  }

  /** Sets the target (e.g. pre-warming to a learned size), clamped; it is held like a measured peak. */
  reset(target: number, now: number): void {
    this.current = this.clamp(target);
    this.lastChange = now;
    this.remember(this.current, now);
  }

  /**
   * Whether `waiting` callers served by `serving` connections would still be waiting when a connection opened now
   * is ready (always, until a hold time and a connect time have been measured).
   */
  private worthOpeningFor(waiting: number, serving: number): boolean {
    if (waiting <= 0) return false;
    if (serving <= 0 || this.heldPerAcquisitionMs <= 0 || this.connectMs <= 0) return true;
    return (waiting * this.heldPerAcquisitionMs) / serving >= this.connectMs;
  }

  /** ⌈busy / targetUtilization⌉, clamped. */
  private sizeFor(busy: number): number {
    return this.clamp(Math.ceil(busy / this.options.targetUtilization - 1e-9));
  }

  /** `wanted`, but at most {@link MAX_OPENING} connections beyond those open or being opened. */
  private reachable(wanted: number, open: number | undefined, opening: number | undefined): number {
    if (open === undefined) return wanted;
    return Math.max(this.current, Math.min(wanted, open + Math.max(0, MAX_OPENING - (opening ?? 0))));
  }

  /** Adds a size to the hold window: every earlier size not larger can never be the maximum again. */
  private remember(size: number, now: number): void {
    while (this.held.length > 0 && this.held[this.held.length - 1]!.size <= size) this.held.pop();
    this.held.push({ at: now, size });
  }

  private change(to: number, now: number, reason: string): Resize | undefined {
    const from = this.current;
    if (to === from) return undefined;
    this.current = to;
    this.lastChange = now;
    return { from, to, reason };
  }

  private clamp(size: number): number {
    return Math.min(this.options.max, Math.max(this.options.min, Math.max(1, size)));
  }
}

/** Busy connections over the sample's interval (Little's law: held time ÷ elapsed time). */
function busyOf(sample: PoolSample): number {
  return sample.elapsedMs > 0 ? sample.heldMs / sample.elapsedMs : 0;
}

/** The median of a few numbers; of an even count, the upper one (growth is the safer error). */
function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
