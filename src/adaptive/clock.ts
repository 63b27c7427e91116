/** Where the adaptive parts read the time: injectable, so their maths is tested without waiting. */
export interface Clock {
  /** Milliseconds since the Unix epoch (hours of the day are taken from it, in UTC). */
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/** The hour of the day (0–23, UTC) of an epoch time in milliseconds. */
export function hourOfDay(epochMs: number): number {
  return Math.floor(epochMs / 3_600_000) % 24;
}
