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
}

/**
 * Most connections opened at once by growth. Opening one costs the server a fork and an authentication (tens of
 * ms of CPU); opening dozens at once starves everything else on a small machine for the better part of a second,
 * which hurts far more than waiting for a few to come up.
 */
export const MAX_OPENING = 4;

/** A change of the target size. */
export interface Resize {
  readonly from: number;
  readonly to: number;
  /** Why, for humans and the `poolResize` event. */
  readonly reason: string;
}

/**
 * Decides a pool's target size. Little's law gives the connections busy on average: L = λ·W, arrival rate times
 * the mean time a connection is held, measured directly as held time per elapsed time. The target is
 * ⌈L / targetUtilization⌉ plus the callers waiting now, clamped to [min, max].
 *
 * It grows at once, but never more than {@link MAX_OPENING} connections ahead of those already open (each growth
 * step is taken as the previous connections come up). It shrinks only below the hysteresis band and after the
 * cool-down, so a rate that wobbles around a threshold does not make the pool flap; and while there is traffic it
 * shrinks half-way at a time, so a pool that recurring bursts need decays instead of dropping to `min` between
 * them. With no traffic at all in an interval it goes straight to the target.
 */
export class PoolSizer {
  private current: number;
  private lastChange = Number.NEGATIVE_INFINITY;

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

  /** The target Little's law asks for, before hysteresis: what {@link evaluate} aims at. */
  desired(sample: PoolSample): number {
    const busy = sample.elapsedMs > 0 ? sample.heldMs / sample.elapsedMs : 0;
    return this.clamp(Math.ceil(busy / this.options.targetUtilization - 1e-9) + sample.waiting);
  }

  /** The periodic decision: a {@link Resize} when the target changes, else `undefined`. */
  evaluate(sample: PoolSample): Resize | undefined {
    const desired = this.desired(sample);
    const busy = sample.elapsedMs > 0 ? sample.heldMs / sample.elapsedMs : 0;
    const rate = sample.elapsedMs > 0 ? (sample.acquisitions * 1000) / sample.elapsedMs : 0;
    const why = `${rate.toFixed(1)} acquisitions/s × ${(sample.acquisitions > 0 ? sample.heldMs / sample.acquisitions : 0).toFixed(1)} ms held = ${busy.toFixed(2)} busy connections at ${Math.round(this.options.targetUtilization * 100)} % utilisation${sample.waiting > 0 ? `, ${sample.waiting} waiting` : ''}`;
    if (desired > this.current) return this.change(this.reachable(desired, sample.open, sample.opening), sample.now, `grow: ${why}`);
    if (desired < this.current * (1 - this.options.hysteresis) && sample.now - this.lastChange >= this.options.cooldownMs) {
      const to = sample.acquisitions === 0 ? desired : Math.max(desired, Math.ceil(this.current - (this.current - desired) / 2));
      return this.change(to, sample.now, `shrink: ${why}`);
    }
    return undefined;
  }

  /** `wanted`, but at most {@link MAX_OPENING} connections beyond those open or being opened. */
  private reachable(wanted: number, open: number | undefined, opening: number | undefined): number {
    if (open === undefined) return wanted;
    return Math.max(this.current, Math.min(wanted, open + Math.max(0, MAX_OPENING - (opening ?? 0))));
  }

  /**
   * Callers are waiting with every connection busy or being opened: grow at once by that many, without waiting
   * for the interval, but with at most {@link MAX_OPENING} connections being opened at a time.
   */
  pressure(now: number, waiting: number, busy: number, opening = 0): Resize | undefined {
    const open = busy + opening;
    const wanted = this.reachable(this.clamp(Math.max(open, this.current) + waiting), Math.max(open, this.current), opening);
    if (wanted <= this.current) return undefined;
    return this.change(wanted, now, `grow: ${waiting} caller${waiting === 1 ? '' : 's'} waiting with ${busy} connection${busy === 1 ? '' : 's'} busy${opening > 0 ? ` and ${opening} opening` : ''}`);
  }

  /** Sets the target (e.g. pre-warming to a learned size); clamped. */
  reset(target: number, now: number): void {
    this.current = this.clamp(target);
    this.lastChange = now;
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
