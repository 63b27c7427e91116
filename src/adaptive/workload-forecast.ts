import { hourOfDay } from './clock.js';
import type { HourlyProfile } from './hourly-profile.js';

/** What the router expects of the day ahead, from what it learned by hour (UTC). */
export interface WorkloadForecast {
  /** Hours of the day (UTC) with data, out of 24. */
  readonly hoursObserved: number;
  /** Expected statements per second over all nodes, by hour of the day (UTC); `null` for an hour never observed. */
  readonly expectedRatePerHour: readonly (number | null)[];
  /** Hours (UTC) whose expected rate is at least 80 % of the busiest hour's, busiest first. */
  readonly peakHours: readonly number[];
  /**
   * Per node: the pool size its busiest observed hour needs, ⌈peak busy connections ÷ targetUtilization⌉ within
   * [pool.min, pool.max]; the size to plan the database's connection budget for.
   */
  readonly recommendedPoolSize: Readonly<Record<string, number>>;
  /** Per node: the size the current hour needs, as above (`pool.min` for an hour never observed). */
  readonly recommendedPoolSizeNow: Readonly<Record<string, number>>;
  /** Per node, by hour of the day (UTC): the size that hour needs, or `null` if never observed. */
  readonly recommendedPoolSizeByHour: Readonly<Record<string, readonly (number | null)[]>>;
}

/** One node's learned profiles. */
export interface NodeProfiles {
  readonly name: string;
  /** Statements per second. */
  readonly arrivals: HourlyProfile;
  /** Connections busy on average (Little's law, as the pool sizer counts them: the median of its last intervals). */
  readonly busy: HourlyProfile;
}

/** Sizing bounds and goal for the recommendations. */
export interface ForecastBounds {
  readonly min: number;
  readonly max: number;
  readonly targetUtilization: number;
}

/** The pool size that keeps `busy` connections at `targetUtilization`, within the bounds. */
export function poolSizeFor(busy: number, bounds: ForecastBounds): number {
  return Math.min(bounds.max, Math.max(bounds.min, 1, Math.ceil(busy / bounds.targetUtilization - 1e-9)));
}

/** Builds the {@link WorkloadForecast} from every node's profiles at time `now`. */
export function forecastWorkload(
  nodes: readonly NodeProfiles[],
  bounds: ForecastBounds,
  now: number,
): WorkloadForecast {
  const expectedRatePerHour: (number | null)[] = new Array<number | null>(24).fill(null);
  const recommendedPoolSize: Record<string, number> = {};
  const recommendedPoolSizeNow: Record<string, number> = {};
  const recommendedPoolSizeByHour: Record<string, (number | null)[]> = {};
  const hourNow = hourOfDay(now);
  for (const node of nodes) {
    const arrivals = node.arrivals.view();
    const busy = node.busy.view();
    arrivals.forEach((slot, hour) => {
      if (slot !== undefined) expectedRatePerHour[hour] = (expectedRatePerHour[hour] ?? 0) + slot.mean;
    });
    const byHour = busy.map((slot) => (slot === undefined ? null : poolSizeFor(slot.peak, bounds)));
    recommendedPoolSizeByHour[node.name] = byHour;
    recommendedPoolSize[node.name] = Math.max(poolSizeFor(0, bounds), ...byHour.map((size) => size ?? 0));
    recommendedPoolSizeNow[node.name] = byHour[hourNow] ?? poolSizeFor(0, bounds);
  }
  const observed = expectedRatePerHour.filter((rate): rate is number => rate !== null);
  const busiest = observed.length === 0 ? 0 : Math.max(...observed);
  const peakHours =
    busiest <= 0
      ? []
      : expectedRatePerHour
          .map((rate, hour) => ({ rate: rate ?? 0, hour }))
          .filter(({ rate }) => rate >= 0.8 * busiest)
          .sort((a, b) => b.rate - a.rate || a.hour - b.hour)
          .map(({ hour }) => hour);
  return {
    hoursObserved: observed.length,
    expectedRatePerHour,
    peakHours,
    recommendedPoolSize,
    recommendedPoolSizeNow,
    recommendedPoolSizeByHour,
  };
}
