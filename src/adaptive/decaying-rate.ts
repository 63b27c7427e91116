/**
 * An event rate that forgets exponentially: each event adds 1 to a sum that decays with time constant τ, so a
 * steady rate r settles at r·τ and the rate is read back as sum / τ. Early on the sum has not had time to
 * settle; dividing by τ·(1 − e^(−age/τ)) instead removes that start-up bias.
 */
export class DecayingRate {
  private sum = 0;
  private last: number;
  private readonly tauMs: number;

  /** @param halfLifeMs how long until an event weighs half as much. */
  constructor(
    halfLifeMs: number,
    private readonly started: number,
  ) {
    this.tauMs = halfLifeMs / Math.LN2;
    this.last = started;
  }

  /** Counts `n` events at time `now` (ms). */
  add(now: number, n = 1): void {
    this.decay(now);
    this.sum += n;
  }

  /** Events per second at time `now`. */
  perSecond(now: number): number {
    this.decay(now);
    const age = Math.max(1, now - this.started);
    return (this.sum / (this.tauMs * (1 - Math.exp(-age / this.tauMs)))) * 1000;
  }

  private decay(now: number): void {
    if (now > this.last) {
      this.sum *= Math.exp(-(now - this.last) / this.tauMs);
      this.last = now;
    }
  }
}
