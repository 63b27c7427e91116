import { hourOfDay } from './clock.js';

/** What is known of one hour of the day. */
export interface HourSlot {
  /** Time-weighted mean of the samples over that hour. */
  readonly mean: number;
  /** Highest sample seen in that hour. */
  readonly peak: number;
}

const HOUR_MS = 3_600_000;

interface OpenHour {
  /** Hours since the epoch. */
  readonly hour: number;
  sum: number;
  spanMs: number;
  peak: number;
}

/**
 * A quantity (an arrival rate, a number of busy connections) learned by hour of the day (UTC). Samples are
 * averaged within the hour; when the hour ends it is folded into its slot with weight `dayWeight` (scaled down
 * for an hour observed only in part), so the profile follows a workload that changes over days without
 * forgetting it after one odd day.
 */
export class HourlyProfile {
  private readonly slots: (HourSlot | undefined)[] = new Array<HourSlot | undefined>(24).fill(undefined);
  private open: OpenHour | undefined;

  constructor(private readonly dayWeight = 0.5) {}

  /** Records `value`, which held over the `spanMs` milliseconds ending at `now`. */
  observe(now: number, value: number, spanMs: number): void {
    // A sample belongs to the hour its middle falls in: one ending exactly on the hour is the earlier hour's.
    const hour = Math.floor((now - spanMs / 2) / HOUR_MS);
    if (this.open !== undefined && this.open.hour !== hour) this.close();
    this.open ??= { hour, sum: 0, spanMs: 0, peak: 0 };
    this.open.sum += value * spanMs;
    this.open.spanMs += spanMs;
    if (value > this.open.peak) this.open.peak = value;
  }

  /** The 24 slots, index = hour of the day (UTC), with the hour in progress folded in; `undefined` = never seen. */
  view(): (HourSlot | undefined)[] {
    const slots = [...this.slots];
    if (this.open !== undefined && this.open.spanMs > 0) {
      const index = this.open.hour % 24;
      slots[index] = this.folded(slots[index], this.open);
    }
    return slots;
  }

  /** The slots as plain data, for a state file. */
  toJSON(): (HourSlot | null)[] {
    return this.view().map((slot) => slot ?? null);
  }

  /** A profile from {@link toJSON}'s output; throws `TypeError` on anything else. */
  static fromJSON(data: unknown, dayWeight?: number): HourlyProfile {
    if (!Array.isArray(data) || data.length !== 24) throw new TypeError('an hourly profile is an array of 24 slots');
    const profile = new HourlyProfile(dayWeight);
    data.forEach((slot: unknown, i) => {
      if (slot === null) return;
      const { mean, peak } = (slot ?? {}) as { mean?: unknown; peak?: unknown };
      if (
        typeof mean !== 'number' ||
        typeof peak !== 'number' ||
        !Number.isFinite(mean) ||
        !Number.isFinite(peak) ||
        mean < 0 ||
        peak < 0
      ) {
        throw new TypeError(`hour ${i}: expected { mean, peak } with finite numbers ≥ 0`);
      }
      profile.slots[i] = { mean, peak };
    });
    return profile;
  }

  /** The slot of the hour of day of `epochMs`, hour in progress included. */
  at(epochMs: number): HourSlot | undefined {
    return this.view()[hourOfDay(epochMs)];
  }

  private close(): void {
    const open = this.open!;
    const index = open.hour % 24;
    if (open.spanMs > 0) this.slots[index] = this.folded(this.slots[index], open);
    this.open = undefined;
  }

  private folded(previous: HourSlot | undefined, open: OpenHour): HourSlot {
    const mean = open.sum / open.spanMs;
    if (previous === undefined) return { mean, peak: open.peak };
    const weight = this.dayWeight * Math.min(1, open.spanMs / HOUR_MS);
    return {
      mean: previous.mean + (mean - previous.mean) * weight,
      peak: previous.peak + (open.peak - previous.peak) * weight,
    };
  }
}
