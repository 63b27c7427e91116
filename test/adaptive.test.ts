import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AdaptiveController,
  DecayingRate,
  HourlyProfile,
  PatternLearner,
  PoolSizer,
  MAX_OPENING,
  BUSY_WINDOW,
  forecastWorkload,
  readStateFile,
  type Clock,
  type SizedPool,
} from '../src/adaptive/index.js';
import { LatencyHistogram } from '../src/metrics/latency-histogram.js';

const HOUR = 3_600_000;

class FakeClock implements Clock {
  constructor(public t = Date.UTC(2026, 0, 5, 0, 0, 0)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

// No peak hold here: these pin Little's law, growth, hysteresis and cool-down on their own (the hold has its own tests).
const sizerOptions = { min: 2, max: 40, targetUtilization: 0.5, hysteresis: 0.25, cooldownMs: 10_000, peakHoldMs: 0 };

/** One interval of `elapsedMs` ending at `now` in which `busy` connections were busy on average (5 ms per hand-out). */
function interval(
  now: number,
  busy: number,
  elapsedMs = 1_000,
  waiting = 0,
): { now: number; elapsedMs: number; acquisitions: number; heldMs: number; waiting: number } {
  return { now, elapsedMs, acquisitions: Math.round((busy * elapsedMs) / 5), heldMs: busy * elapsedMs, waiting };
}

describe("PoolSizer (Little's law)", () => {
  it('targets ⌈λ·W / utilisation⌉ for known rates and hold times', () => {
    const sizer = new PoolSizer(sizerOptions, 2);
    // 200 acquisitions/s held 25 ms each = 5 busy connections; at 50 % utilisation → 10.
    expect(sizer.desired({ now: 1_000, elapsedMs: 1_000, acquisitions: 200, heldMs: 200 * 25, waiting: 0 })).toBe(10);
    // 1,000/s × 7 ms = 7 busy → 14, plus 3 callers waiting now → 17.
    expect(sizer.desired({ now: 1_000, elapsedMs: 1_000, acquisitions: 1_000, heldMs: 7_000, waiting: 3 })).toBe(17);
    // Clamped to [min, max].
    expect(sizer.desired({ now: 1_000, elapsedMs: 1_000, acquisitions: 10_000, heldMs: 100_000, waiting: 0 })).toBe(40);
    expect(sizer.desired({ now: 1_000, elapsedMs: 1_000, acquisitions: 0, heldMs: 0, waiting: 0 })).toBe(2);
    const resize = sizer.evaluate({ now: 1_000, elapsedMs: 1_000, acquisitions: 200, heldMs: 5_000, waiting: 0 });
    expect(resize).toMatchObject({ from: 2, to: 10 });
    expect(resize?.reason).toMatch(/^grow: 200\.0 acquisitions\/s × 25\.0 ms held = 5\.00 busy connections/);
  });

  it('grows at once under pressure, beyond the interval, with at most MAX_OPENING connections being opened', () => {
    const sizer = new PoolSizer(sizerOptions, 2);
    expect(MAX_OPENING).toBe(4);
    // 5 callers waiting, 2 busy: room for 4 more now (not 5), the rest as those come up.
    expect(sizer.pressure(0, 5, 2)).toMatchObject({ from: 2, to: 6 });
    expect(sizer.pressure(1, 3, 2, 4)).toBeUndefined(); // 4 still opening: no more yet
    expect(sizer.pressure(2, 1, 6, 0)).toMatchObject({ from: 6, to: 7 }); // one caller, one more connection
    let steps = 0;
    while (sizer.target < 40) {
      const resize = sizer.pressure(3 + steps, 100, sizer.target, 0);
      expect(resize!.to - resize!.from).toBeLessThanOrEqual(4);
      steps++;
    }
    expect(steps).toBe(9); // 7 → 40 in steps of at most 4
    expect(sizer.pressure(100, 5, 40)).toBeUndefined(); // at max: callers wait for a connection to come back
  });

  it('periodic growth also opens at most MAX_OPENING ahead of the open connections', () => {
    const sizer = new PoolSizer(sizerOptions, 2);
    expect(
      sizer.evaluate({
        now: 1_000,
        elapsedMs: 1_000,
        acquisitions: 1_000,
        heldMs: 10_000,
        waiting: 0,
        open: 2,
        opening: 0,
      }),
    ).toMatchObject({ to: 6 });
    expect(
      sizer.evaluate({
        now: 2_000,
        elapsedMs: 1_000,
        acquisitions: 1_000,
        heldMs: 10_000,
        waiting: 0,
        open: 6,
        opening: 2,
      }),
    ).toMatchObject({ to: 8 });
  });

  it('does not flap on a rate oscillating around a threshold', () => {
    const sizer = new PoolSizer(sizerOptions, 2);
    let changes = 0;
    // Busy connections alternate 4.9 and 5.1 each interval: desired 10 and 11.
    for (let i = 0; i < 200; i++) {
      const busy = i % 2 === 0 ? 4.9 : 5.1;
      if (
        sizer.evaluate({ now: i * 1_000, elapsedMs: 1_000, acquisitions: 100, heldMs: busy * 1_000, waiting: 0 }) !==
        undefined
      )
        changes++;
    }
    expect(changes).toBe(2); // 2 → 10, then 10 → 11, never back
    expect(sizer.target).toBe(11);
  });

  it('shrinks only below the hysteresis band and after the cool-down', () => {
    const sizer = new PoolSizer(sizerOptions, 20);
    // 8 busy → desired 16, which is above 20 × 0.75 = 15: kept.
    expect(
      sizer.evaluate({ now: 20_000, elapsedMs: 1_000, acquisitions: 100, heldMs: 8_000, waiting: 0 }),
    ).toBeUndefined();
    sizer.reset(20, 20_000);
    // Desired 4, but the cool-down since the reset at 20 s holds until 30 s.
    expect(
      sizer.evaluate({ now: 25_000, elapsedMs: 1_000, acquisitions: 10, heldMs: 2_000, waiting: 0 }),
    ).toBeUndefined();
    // With traffic it shrinks half-way (a pool recurring bursts need decays), one step per cool-down …
    expect(
      sizer.evaluate({ now: 30_000, elapsedMs: 1_000, acquisitions: 10, heldMs: 2_000, waiting: 0 }),
    ).toMatchObject({ from: 20, to: 12 });
    expect(
      sizer.evaluate({ now: 35_000, elapsedMs: 1_000, acquisitions: 10, heldMs: 2_000, waiting: 0 }),
    ).toBeUndefined();
    expect(
      sizer.evaluate({ now: 40_000, elapsedMs: 1_000, acquisitions: 10, heldMs: 2_000, waiting: 0 }),
    ).toMatchObject({ from: 12, to: 8 });
    // … and with no traffic at all it goes straight to the target (the median of the last intervals: 2 busy → 4, then 0 → 2).
    expect(sizer.evaluate({ now: 50_000, elapsedMs: 1_000, acquisitions: 0, heldMs: 0, waiting: 0 })).toMatchObject({
      from: 8,
      to: 4,
    });
    for (let t = 51_000; t < 60_000; t += 1_000)
      expect(sizer.evaluate({ now: t, elapsedMs: 1_000, acquisitions: 0, heldMs: 0, waiting: 0 })).toBeUndefined();
    expect(sizer.evaluate({ now: 60_000, elapsedMs: 1_000, acquisitions: 0, heldMs: 0, waiting: 0 })).toMatchObject({
      from: 4,
      to: 2,
    });
  });

  it(`takes the median of the last ${BUSY_WINDOW} intervals: one slow interval does not grow the pool, a lasting change does`, () => {
    const sizer = new PoolSizer(sizerOptions, 2);
    for (let t = 1_000; t <= 5_000; t += 1_000) sizer.evaluate(interval(t, 5)); // 5 busy → 10
    expect(sizer.target).toBe(10);
    // A stalled interval: hand-outs held three times as long, 15 busy.
    expect(sizer.evaluate(interval(6_000, 15))).toBeUndefined();
    for (let t = 7_000; t <= 9_000; t += 1_000) expect(sizer.evaluate(interval(t, 5))).toBeUndefined();
    // Three intervals of 12 busy in five: the median is 12 → 24.
    expect(sizer.evaluate(interval(10_000, 12))).toBeUndefined();
    expect(sizer.evaluate(interval(11_000, 12))).toBeUndefined();
    expect(sizer.evaluate(interval(12_000, 12))).toMatchObject({ from: 10, to: 24 });
  });

  it('counts waiting callers in the periodic target only when the connections would not clear them before a new one is open', () => {
    const sizer = new PoolSizer(sizerOptions, 10);
    // 5 ms held per hand-out, 30 ms to open a connection, 10 open: 50 waiting clear in 25 ms, 70 take 35 ms.
    expect(sizer.evaluate({ ...interval(1_000, 4), waiting: 50, open: 10, connectMs: 30 })).toBeUndefined();
    expect(sizer.evaluate({ ...interval(2_000, 4), waiting: 70, open: 10, connectMs: 30 })).toMatchObject({
      from: 10,
      to: 14,
    });
  });

  it('shrinking half-way with light traffic still reaches the target, one connection at least per step', () => {
    const sizer = new PoolSizer(sizerOptions, 5);
    const targets: number[] = [];
    for (let i = 1; i <= 10; i++) {
      sizer.evaluate(interval(i * 10_000, 0.5)); // 0.5 busy → 2
      targets.push(sizer.target);
    }
    expect(targets).toEqual([4, 3, 2, 2, 2, 2, 2, 2, 2, 2]);
  });
});

describe('PoolSizer peak hold (recurring bursts)', () => {
  const hold = { ...sizerOptions, peakHoldMs: 60_000 };

  /** A burst of 10 busy connections (Little's law: 20 at 50 %) for `seconds`, one evaluation a second from `from`. */
  function burst(sizer: PoolSizer, from: number, seconds: number): void {
    for (let s = 1; s <= seconds; s++) sizer.evaluate(interval(from + s * 1_000, 10));
  }

  it("holds the burst size for peakHoldMs after the burst, then decays to the Little's-law target", () => {
    const sizer = new PoolSizer(hold, 2);
    burst(sizer, 0, 10); // last burst interval ends at 10 s
    expect(sizer.target).toBe(20);
    const changes: { at: number; from: number; to: number; reason: string }[] = [];
    // Quiet but not idle: 0.5 busy connections (Little's law: 2).
    for (let t = 11_000; t <= 200_000; t += 1_000) {
      const resize = sizer.evaluate(interval(t, 0.5));
      if (resize !== undefined) changes.push({ at: t, ...resize });
      if (t < 72_000) expect(sizer.target).toBe(20);
      if (t < 72_000) expect(sizer.floor(t)).toBe(20);
    }
    // The median still says 10 busy until 12 s (three burst intervals in the last five); the hold ends
    // peakHoldMs after that, then half-way steps, one per cool-down, down to 2.
    expect(changes.map(({ at, to }) => [at, to])).toEqual([
      [72_000, 11],
      [82_000, 7],
      [92_000, 5],
      [102_000, 4],
      [112_000, 3],
      [122_000, 2],
    ]);
    expect(changes[0]!.reason).toMatch(/^shrink: /);
    expect(sizer.floor(200_000)).toBe(2);
  });

  it('a burst that recurs within the hold finds the pool at its size: no resize between or during the bursts', () => {
    const sizer = new PoolSizer(hold, 2);
    burst(sizer, 0, 10);
    let resizes = 0;
    for (let cycle = 0; cycle < 20; cycle++) {
      const start = 10_000 + cycle * 40_000;
      for (let s = 1; s <= 30; s++) if (sizer.evaluate(interval(start + s * 1_000, 0.5)) !== undefined) resizes++; // 30 s quiet
      for (let s = 31; s <= 40; s++) if (sizer.evaluate(interval(start + s * 1_000, 10)) !== undefined) resizes++; // 10 s burst
    }
    expect(resizes).toBe(0);
    expect(sizer.target).toBe(20);
  });

  it('the hold is the largest size of the window, not the last: a smaller later burst does not lower it', () => {
    const sizer = new PoolSizer(hold, 2);
    burst(sizer, 0, 5); // 20
    for (let s = 6; s <= 15; s++) sizer.evaluate(interval(s * 1_000, 5)); // 5 busy → 10: held at 20
    expect(sizer.target).toBe(20);
    // The median says 10 busy (→ 20) until 7 s and 5 busy (→ 10) from 8 s on.
    expect(sizer.floor(66_000)).toBe(20); // the 20 last needed at 7 s is held until 67 s …
    expect(sizer.floor(67_000)).toBe(10); // … then the 10 last needed at 15 s, until 75 s
    expect(sizer.floor(75_000)).toBe(2);
  });

  it('an idle hour with no traffic at all still ends at min', () => {
    const sizer = new PoolSizer(hold, 2);
    burst(sizer, 0, 10);
    const changes: { at: number; to: number }[] = [];
    for (let t = 11_000; t <= 3_600_000; t += 1_000) {
      const resize = sizer.evaluate(interval(t, 0));
      if (resize !== undefined) changes.push({ at: t, to: resize.to });
    }
    // Straight to min once the hold has passed (no traffic: no half-way steps); the median says 10 busy until 12 s.
    expect(changes).toEqual([{ at: 72_000, to: 2 }]);
    expect(sizer.target).toBe(2);
  });

  it('a pre-warmed size (reset) is held like a measured peak', () => {
    const sizer = new PoolSizer(hold, 2);
    sizer.reset(18, 0);
    for (let t = 1_000; t < 60_000; t += 1_000) expect(sizer.evaluate(interval(t, 0.5))).toBeUndefined();
    expect(sizer.evaluate(interval(60_000, 0.5))).toMatchObject({ from: 18, to: 10 });
  });

  it('growth is never held back by the hold', () => {
    const sizer = new PoolSizer(hold, 2);
    burst(sizer, 0, 5);
    for (const t of [6_000, 7_000]) expect(sizer.evaluate(interval(t, 15))).toBeUndefined();
    expect(sizer.evaluate(interval(8_000, 15))).toMatchObject({ from: 20, to: 30 }); // three of the last five intervals at 15 busy
  });
});

describe('PoolSizer under pressure', () => {
  it('grows for waiting callers only when the busy connections would not clear them before a new one is open', () => {
    const sizer = new PoolSizer(sizerOptions, 10);
    // Measured: 5 ms held per hand-out, 30 ms to open a connection.
    sizer.evaluate({ ...interval(1_000, 4), connectMs: 30 });
    // 10 waiting, 10 busy: the last of them is served in ~5 ms, long before a new connection would be open.
    expect(sizer.pressure(1_100, 10, 10)).toBeUndefined();
    expect(sizer.pressure(1_100, 59, 10)).toBeUndefined(); // ~29.5 ms
    // 60 waiting: ~30 ms to clear, as long as opening one takes: grow (at most MAX_OPENING at once).
    expect(sizer.pressure(1_200, 60, 10)).toMatchObject({ from: 10, to: 14 });
    // A slower connect (150 ms) makes a deeper queue worth waiting out.
    sizer.evaluate({ ...interval(2_000, 7), connectMs: 150 });
    expect(sizer.pressure(2_100, 100, 14)).toBeUndefined();
    expect(sizer.pressure(2_100, 500, 14)).toMatchObject({ from: 14, to: 18 });
  });
});

describe('DecayingRate', () => {
  it('converges on a steady rate without start-up bias', () => {
    const rate = new DecayingRate(60_000, 0);
    for (let t = 0; t < 10_000; t += 10) rate.add(t); // 100/s for 10 s
    expect(rate.perSecond(10_000)).toBeGreaterThan(95);
    expect(rate.perSecond(10_000)).toBeLessThan(105);
    // After a minute of silence the weight has halved.
    const later = rate.perSecond(70_000);
    expect(later).toBeLessThan(20);
  });
});

describe('LatencyHistogram', () => {
  it('gives quantiles within one bucket and exact means', () => {
    const histogram = new LatencyHistogram();
    for (let i = 1; i <= 1_000; i++) histogram.observe(i / 10); // 0.1 … 100 ms
    expect(histogram.meanMs).toBeCloseTo(50.05, 6);
    expect(histogram.quantile(0.5)).toBeGreaterThanOrEqual(50);
    expect(histogram.quantile(0.5)).toBeLessThan(50 * 1.19 + 0.01);
    expect(histogram.quantile(0.99)).toBeGreaterThanOrEqual(99);
    expect(histogram.quantile(0.99)).toBeLessThan(99 * 1.19 + 0.01);
  });
});

describe('LatencyHistogram doublings (the Prometheus buckets)', () => {
  it('gives exact cumulative counts at each doubling of 10 µs', () => {
    const histogram = new LatencyHistogram();
    const values = [0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.5, 1, 7, 2_000, 100_000];
    for (const value of values) histogram.observe(value);
    for (const { leMs, count } of histogram.doublings(60_000)) {
      expect(count).toBe(values.filter((value) => value <= leMs + 1e-12).length);
    }
    const bounds = histogram.doublings(60_000).map((bucket) => bucket.leMs);
    expect(bounds[0]).toBeCloseTo(0.01, 12);
    expect(bounds[1]).toBeCloseTo(0.02, 12);
    expect(bounds.at(-1)!).toBeLessThanOrEqual(60_000);
    expect(histogram.count).toBe(values.length);
  });
});

describe('PatternLearner', () => {
  it('never tracks more than maxPatterns, whatever the workload', () => {
    const clock = new FakeClock();
    const learner = new PatternLearner({ maxPatterns: 50, clock });
    for (let i = 0; i < 5_000; i++) {
      learner.record(
        { fingerprint: `select ? from t${i}`, fingerprintHash: `h${i}`, kind: 'select', tables: [`t${i}`] },
        'replica',
        1,
        true,
      );
      expect(learner.size).toBeLessThanOrEqual(50);
    }
    expect(learner.size).toBe(50);
    expect(learner.evicted).toBe(4_950);
  });

  it('counts each statement at the time it was recorded, whenever it is read', () => {
    const clock = new FakeClock();
    const learner = new PatternLearner({ maxPatterns: 10, clock });
    const shape = { fingerprint: 'select $1', fingerprintHash: 'q', kind: 'select', tables: [] };
    const started = clock.t;
    // Fewer statements than are counted together, then ten minutes without any.
    for (let i = 0; i < 10; i++) {
      learner.record(shape, 'primary', 1, i !== 3);
      clock.advance(1);
    }
    clock.advance(600_000);
    const [pattern] = learner.top(1);
    expect(pattern).toMatchObject({ count: 10, errors: 1, lastSeen: started + 9 });
    // Ten minutes (ten half-lives) after they ran, their rate has decayed to almost nothing.
    expect(pattern!.ratePerSecond).toBeLessThan(0.01);
    // A time given with the statement (the router's own reading of the clock) is the one counted.
    learner.record(shape, 'replica', 1, true, started + 5_000);
    expect(learner.top(1)[0]).toMatchObject({ count: 11, lastSeen: started + 5_000, route: 'replica' });
  });

  it('ranks patterns by arrival rate and keeps count, errors, latency and route', () => {
    const clock = new FakeClock();
    const learner = new PatternLearner({ maxPatterns: 10, clock });
    const hot = {
      fingerprint: 'select * from users where id = $1',
      fingerprintHash: 'a',
      kind: 'select',
      tables: ['users'],
    };
    const cold = { fingerprint: 'update users set x = $1', fingerprintHash: 'b', kind: 'update', tables: ['users'] };
    for (let i = 0; i < 1_000; i++) {
      clock.advance(10);
      learner.record(hot, 'replica', 2, true);
      if (i % 10 === 0) learner.record(cold, 'primary', 20, i % 20 !== 0);
    }
    const [first, second] = learner.top(2);
    expect(first).toMatchObject({ fingerprintHash: 'a', count: 1_000, errors: 0, route: 'replica', tables: ['users'] });
    expect(first!.ratePerSecond).toBeGreaterThan(80);
    expect(first!.p95Ms).toBeGreaterThanOrEqual(2);
    expect(first!.p95Ms).toBeLessThan(3);
    expect(second).toMatchObject({ fingerprintHash: 'b', count: 100, errors: 50, route: 'primary' });
    expect(second!.meanMs).toBeCloseTo(20, 6);
  });
});

/** A synthetic day: busy 09–11 and 14 UTC, quiet otherwise. */
function syntheticDay(clock: FakeClock, profiles: { arrivals: HourlyProfile; busy: HourlyProfile }): void {
  const start = clock.t;
  for (let minute = 0; minute < 24 * 60; minute++) {
    clock.t = start + minute * 60_000 + 60_000;
    const hour = Math.floor(minute / 60);
    const rate = hour >= 9 && hour <= 11 ? 500 + (hour - 9) * 50 : hour === 14 ? 480 : 20;
    profiles.arrivals.observe(clock.t, rate, 60_000);
    profiles.busy.observe(clock.t, rate * 0.01, 60_000); // 10 ms held per statement
  }
}

describe('forecast', () => {
  it('picks the peak hours of a synthetic day and recommends sizes from the busiest hour', () => {
    const clock = new FakeClock();
    const profiles = { arrivals: new HourlyProfile(), busy: new HourlyProfile() };
    syntheticDay(clock, profiles);
    const forecast = forecastWorkload(
      [{ name: 'primary', ...profiles }],
      { min: 2, max: 40, targetUtilization: 0.5 },
      Date.UTC(2026, 0, 6, 10, 30),
    );
    expect(forecast.hoursObserved).toBe(24);
    expect(forecast.peakHours).toEqual([11, 10, 9, 14]);
    expect(forecast.expectedRatePerHour[3]).toBeCloseTo(20, 6);
    expect(forecast.expectedRatePerHour[11]).toBeCloseTo(600, 6);
    // Busiest hour: 600/s × 10 ms = 6 busy, at 50 % → 12; hour 10 (now): 5.5 busy → 11; hour 3: 0.2 busy → min 2.
    expect(forecast.recommendedPoolSize['primary']).toBe(12);
    expect(forecast.recommendedPoolSizeNow['primary']).toBe(11);
    expect(forecast.recommendedPoolSizeByHour['primary']![3]).toBe(2);
  });

  it('a new day moves each hour part of the way, not all of it', () => {
    const clock = new FakeClock();
    const profiles = { arrivals: new HourlyProfile(0.5), busy: new HourlyProfile(0.5) };
    syntheticDay(clock, profiles);
    // Day two: hour 3 is suddenly busy (200/s).
    const start = clock.t;
    for (let minute = 0; minute < 24 * 60; minute++) {
      clock.t = start + minute * 60_000 + 60_000;
      const hour = Math.floor(minute / 60);
      profiles.arrivals.observe(clock.t, hour === 3 ? 200 : 20, 60_000);
    }
    expect(profiles.arrivals.view()[3]!.mean).toBeCloseTo(110, 6);
  });
});

function fakePool(
  name: string,
  label: string,
): SizedPool & {
  counters_: { queries: number; acquisitions: number; heldMs: number; waiting: number };
  sizes: number[];
} {
  const counters_ = { queries: 0, acquisitions: 0, heldMs: 0, waiting: 0 };
  const sizes: number[] = [];
  return {
    name,
    label,
    counters_,
    sizes,
    counters: () => ({ ...counters_ }),
    resize: (target) => void sizes.push(target),
  };
}

const settings = {
  enabled: true,
  intervalMs: 1_000,
  targetUtilization: 0.5,
  hysteresis: 0.25,
  cooldownMs: 5_000,
  peakHoldMs: 0,
  saveIntervalMs: 60_000,
  min: 2,
  max: 40,
};

describe('AdaptiveController', () => {
  it('sizes each pool from what it did in the interval and says why', () => {
    const clock = new FakeClock();
    const pool = fakePool('primary', 'db:5432/app');
    const resizes: unknown[] = [];
    const controller = new AdaptiveController([pool], { ...settings, stateFile: undefined }, clock, {
      onResize: (node, resize) => resizes.push({ node, ...resize }),
      onWarning: () => undefined,
    });
    expect(pool.sizes).toEqual([2]); // starts at min
    clock.advance(1_000);
    pool.counters_.acquisitions += 300;
    pool.counters_.queries += 300;
    pool.counters_.heldMs += 300 * 20; // 6 busy → 12
    controller.tick();
    expect(pool.sizes.at(-1)).toBe(12);
    expect(resizes).toEqual([expect.objectContaining({ node: 'primary', from: 2, to: 12 })]);
    // Load stops: after the cool-down the pool goes back to min.
    for (let i = 0; i < 6; i++) {
      clock.advance(1_000);
      controller.tick();
    }
    expect(pool.sizes.at(-1)).toBe(2);
    expect(controller.forecast().expectedRatePerHour[0]).toBeGreaterThan(0);
  });

  it("saves the learned profile and a restart pre-warms to this hour's size; corrupt or foreign files are ignored with a warning", () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgr-adaptive-'));
    const stateFile = join(dir, 'state', 'adaptive.json');
    const clock = new FakeClock(Date.UTC(2026, 0, 5, 9, 0, 0));
    const pool = fakePool('primary', 'db:5432/app');
    const first = new AdaptiveController([pool], { ...settings, stateFile }, clock, {
      onResize: () => undefined,
      onWarning: (message) => expect.fail(message),
    });
    expect(first.learnedSize('primary')).toBeUndefined();
    for (let i = 0; i < 30; i++) {
      clock.advance(1_000);
      pool.counters_.acquisitions += 1_000;
      pool.counters_.queries += 1_000;
      pool.counters_.heldMs += 9_000; // 9 busy → 18
      first.tick();
    }
    first.stop();
    expect(readStateFile(stateFile)).toMatchObject({ ok: true });

    clock.advance(10 * 60_000); // restarted ten minutes later, same hour
    const second = new AdaptiveController([fakePool('primary', 'db:5432/app')], { ...settings, stateFile }, clock, {
      onResize: () => undefined,
      onWarning: (message) => expect.fail(message),
    });
    expect(second.learnedSize('primary')).toBe(18);
    expect(second.target('primary')).toBe(18);

    const warnings: string[] = [];
    const collect = { onResize: () => undefined, onWarning: (message: string) => warnings.push(message) };
    writeFileSync(stateFile, '{ not json');
    expect(
      new AdaptiveController(
        [fakePool('primary', 'db:5432/app')],
        { ...settings, stateFile },
        clock,
        collect,
      ).learnedSize('primary'),
    ).toBeUndefined();
    writeFileSync(stateFile, JSON.stringify({ format: 'something-else', version: 1, nodes: {} }));
    new AdaptiveController([fakePool('primary', 'db:5432/app')], { ...settings, stateFile }, clock, collect);
    writeFileSync(
      stateFile,
      JSON.stringify({
        format: 'pg-query-router/adaptive-state',
        version: 1,
        nodes: { 'db:5432/app': { arrivals: [1, 2], busy: [] } },
      }),
    );
    new AdaptiveController([fakePool('primary', 'db:5432/app')], { ...settings, stateFile }, clock, collect);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/ignored: not JSON/);
    expect(warnings[1]).toMatch(/ignored: not a pg-query-router state file/);
    expect(warnings[2]).toMatch(/ignored: malformed profile/);
    // A state file of other nodes (another cluster's) is ignored too, and says so.
    second.save();
    writeFileSync(stateFile, readFileSync(stateFile, 'utf8').replace('db:5432/app', 'elsewhere:5432/app'));
    expect(
      new AdaptiveController(
        [fakePool('primary', 'db:5432/app')],
        { ...settings, stateFile },
        clock,
        collect,
      ).learnedSize('primary'),
    ).toBeUndefined();
    expect(warnings[3]).toMatch(/ignored: it describes other nodes \(elsewhere:5432\/app\)/);
  });

  it('learns but never resizes when disabled', () => {
    const clock = new FakeClock();
    const pool = fakePool('primary', 'db:5432/app');
    const controller = new AdaptiveController([pool], { ...settings, enabled: false, stateFile: undefined }, clock, {
      onResize: () => expect.fail('resized'),
      onWarning: () => undefined,
    });
    clock.advance(1_000);
    pool.counters_.queries += 500;
    pool.counters_.acquisitions += 500;
    pool.counters_.heldMs += 10_000;
    controller.tick();
    controller.pressure('primary', 10, 2);
    expect(pool.sizes).toEqual([]);
    expect(controller.forecast().recommendedPoolSizeNow['primary']).toBe(20);
    expect(HOUR).toBe(3_600_000);
  });
});
