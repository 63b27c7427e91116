import { describe, expect, it } from 'vitest';
import {
  budgetCeiling,
  fairShares,
  healthConnectionName,
  instancesOf,
  poolConnectionName,
  type ActivityRow,
} from '../src/adaptive/index.js';
import { defaultInstanceName } from '../src/config/index.js';

/** A seeded generator, so a failure replays. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('budget shares', () => {
  it('reads pool and health connections of the group by instance, ignoring other names', () => {
    const rows: ActivityRow[] = [
      { name: poolConnectionName('orders', 'a'), total: 4, busy: 3 },
      { name: healthConnectionName('orders', 'a', 7, 5), total: 1, busy: 1 },
      { name: poolConnectionName('orders', 'b'), total: 2, busy: 0 },
      { name: 'orders-old/a', total: 9, busy: 9 },
      { name: 'psql', total: 1, busy: 1 },
    ];
    const instances = instancesOf('orders', rows);
    expect([...instances.keys()].sort()).toEqual(['a', 'b']);
    expect(instances.get('a')).toEqual({ pool: 4, busy: 3, health: 1, demand: 7, ceiling: 5 });
    expect(instances.get('b')).toEqual({ pool: 2, busy: 0, health: 0, demand: undefined, ceiling: undefined });
  });

  it('keeps every name within PostgreSQL’s 63 bytes of application_name', () => {
    const name = healthConnectionName('g'.repeat(20), 'i'.repeat(24), 1e9, 1e9);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(defaultInstanceName('a-very-long-host-name-of-a-kubernetes-pod-abcdef', 123456)).toMatch(/^[\w.-]{1,24}$/);
    expect(defaultInstanceName('a-very-long-host-name-of-a-kubernetes-pod-abcdef', 123456)).toMatch(/-123456$/);
    expect(defaultInstanceName('', 1)).toMatch(/^[0-9a-f]{8}$/);
  });

  it('gives an idle group equal shares and a busy instance most of the budget', () => {
    const idle = new Map(['a', 'b', 'c'].map((i) => [i, { pool: 0, busy: 0, health: 1, demand: 0, ceiling: 0 }]));
    expect(budgetCeiling(33, idle, { instance: 'a', demand: 0, floor: 1, max: 50 }).ceiling).toBe(10);
    const busy = budgetCeiling(33, idle, { instance: 'a', demand: 40, floor: 1, max: 50 });
    expect(busy.target).toBe(Math.floor((30 * 41) / 43));
    expect(busy.ceiling).toBe(busy.target);
    // Within the dead band of its current ceiling, the ceiling stays: no connection closed and reopened for jitter.
    expect(budgetCeiling(33, idle, { instance: 'a', demand: 0, floor: 1, max: 50, current: 12 }).ceiling).toBe(12);
    expect(budgetCeiling(33, idle, { instance: 'a', demand: 40, floor: 1, max: 50, current: 11 }).ceiling).toBe(
      busy.target,
    );
  });

  it('never lets serialised rounds reserve more than the budget, whatever the demand (random rounds)', () => {
    const next = random(42);
    for (let trial = 0; trial < 200; trial++) {
      const count = 2 + Math.floor(next() * 5);
      const floors = Array.from({ length: count }, () => 1 + Math.floor(next() * 2));
      const budget = floors.reduce((a, b) => a + b + 1, 0) + Math.floor(next() * 30);
      const max = 5 + Math.floor(next() * 20);
      // What each instance holds open and the ceiling it published.
      const held = floors.slice();
      const ceilings = floors.slice();
      for (let round = 0; round < 60; round++) {
        const who = Math.floor(next() * count);
        const demand = Math.floor(next() * 30);
        const view = new Map(
          held.map((pool, i) => [
            String(i),
            { pool, busy: Math.min(pool, demand), health: 1, demand: undefined, ceiling: ceilings[i] },
          ]),
        );
        const share = budgetCeiling(budget, view, {
          instance: String(who),
          demand,
          floor: floors[who]!,
          max,
          current: round % 3 === 0 ? undefined : ceilings[who],
        });
        ceilings[who] = share.ceiling;
        // Between rounds an instance opens up to its ceiling, or closes down to it as connections come back.
        held[who] = Math.min(share.ceiling, Math.max(floors[who]!, demand));
        const reserved = held.reduce((sum, pool, i) => sum + Math.max(pool, ceilings[i]!), 0) + count;
        expect(reserved, `trial ${trial} round ${round}`).toBeLessThanOrEqual(budget);
      }
    }
  });

  it('splits the connections for pools into whole shares that add up to all of them (largest remainder)', () => {
    const equal = fairShares(51, new Map(['a', 'b', 'c', 'd', 'e', 'f'].map((name) => [name, 17])));
    expect([...equal.values()].reduce((x, y) => x + y, 0)).toBe(51);
    // 8.5 each: the three names that sort first get the three connections flooring would leave unused.
    expect(Object.fromEntries(equal)).toEqual({ a: 9, b: 9, c: 9, d: 8, e: 8, f: 8 });
    const skewed = fairShares(
      9,
      new Map([
        ['busy', 41],
        ['idle1', 1],
        ['idle2', 1],
      ]),
    );
    expect(Object.fromEntries(skewed)).toEqual({ busy: 9, idle1: 0, idle2: 0 });
    expect(Object.fromEntries(fairShares(0, new Map([['a', 3]])))).toEqual({ a: 0 });
    const next = random(7);
    for (let trial = 0; trial < 200; trial++) {
      const forPools = Math.floor(next() * 100);
      const weights = new Map(
        Array.from({ length: 1 + Math.floor(next() * 8) }, (_, i) => [`i${i}`, 1 + Math.floor(next() * 40)]),
      );
      const shares = fairShares(forPools, weights);
      expect([...shares.values()].reduce((x, y) => x + y, 0)).toBe(forPools);
      let total = 0;
      for (const weight of weights.values()) total += weight;
      for (const [name, share] of shares)
        expect(Math.abs(share - (forPools * weights.get(name)!) / total)).toBeLessThan(1);
    }
  });

  it('six equally busy instances, rounds one after another, end up holding the whole budget between them', () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    // Budget 57: 6 health checks, 51 for pools; each instance has 16 callers and pool.max 20, and starts at its floor.
    const ceilings = new Map(names.map((name) => [name, 1]));
    for (let pass = 0; pass < 4; pass++)
      for (const name of names) {
        const view = new Map(
          names.map((other) => [
            other,
            {
              pool: ceilings.get(other)!,
              busy: ceilings.get(other)!,
              health: 1,
              demand: 16,
              ceiling: ceilings.get(other)!,
            },
          ]),
        );
        const share = budgetCeiling(57, view, {
          instance: name,
          demand: 16,
          floor: 1,
          max: 20,
          current: ceilings.get(name),
        });
        ceilings.set(name, share.ceiling);
        const held = [...ceilings.values()].reduce((x, y) => x + y, 0);
        expect(held + names.length, `pass ${pass}, ${name}`).toBeLessThanOrEqual(57);
      }
    expect([...ceilings.values()].reduce((x, y) => x + y, 0)).toBe(51);
    for (const ceiling of ceilings.values()) expect([8, 9]).toContain(ceiling);
  });

  it('with jittering demand, serialised rounds stay within the budget and leave little of it unused', () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const next = random(1);
    const ceilings = new Map(names.map((name) => [name, 1]));
    const published = new Map(names.map((name) => [name, 16]));
    let unused = 0;
    let counted = 0;
    for (let round = 0; round < 600; round++) {
      const name = names[Math.floor(next() * names.length)]!;
      // Every instance has more callers than its share; how many are in flight at its round varies.
      const demand = 10 + Math.floor(next() * 7);
      const view = new Map(
        names.map((other) => [
          other,
          {
            pool: ceilings.get(other)!,
            busy: 8,
            health: 1,
            demand: published.get(other)!,
            ceiling: ceilings.get(other)!,
          },
        ]),
      );
      const share = budgetCeiling(57, view, {
        instance: name,
        demand,
        floor: 1,
        max: 20,
        current: round < names.length ? undefined : ceilings.get(name),
      });
      ceilings.set(name, share.ceiling);
      published.set(name, demand);
      const held = [...ceilings.values()].reduce((x, y) => x + y, 0);
      expect(held + names.length).toBeLessThanOrEqual(57);
      if (round >= 60) {
        unused += 51 - held;
        counted++;
      }
    }
    // Flooring each share left ~2.9 of the 51 unused on average here; whole shares that add up leave ~1.4.
    expect(unused / counted).toBeLessThan(2);
  });
});
