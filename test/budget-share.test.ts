import { describe, expect, it } from 'vitest';
import {
  budgetCeiling,
  healthConnectionName,
  instancesOf,
  poolConnectionName,
  type ActivityRow,
} from '../src/adaptive/index.js';
import { fairShare } from '../src/adaptive/budget-share.js';
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
    // 30 for pools; the idle two claim 1 each (their foothold), the busy one the rest.
    expect(busy.target).toBe(28);
    expect(busy.ceiling).toBe(busy.target);
    // Within the dead band of its current ceiling, the ceiling stays: no connection closed and reopened for jitter.
    expect(budgetCeiling(33, idle, { instance: 'a', demand: 0, floor: 1, max: 50, current: 12 }).ceiling).toBe(12);
    expect(budgetCeiling(33, idle, { instance: 'a', demand: 40, floor: 1, max: 50, current: 11 }).ceiling).toBe(
      busy.target,
    );
    // A target one above the ceiling is taken (a ceiling held below its share keeps a caller waiting for good); one
    // below it is not.
    expect(budgetCeiling(33, idle, { instance: 'a', demand: 40, floor: 1, max: 50, current: 27 }).ceiling).toBe(28);
    expect(budgetCeiling(33, idle, { instance: 'a', demand: 40, floor: 1, max: 50, current: 29 }).ceiling).toBe(29);
  });

  it('shares max-min fairly: claims that fit are met with the spare in proportion, else small claims are met and the rest split evenly', () => {
    expect([2, 3].map((own) => fairShare(10, [2, 3], own))).toEqual([4, 6]);
    expect([3, 20, 20].map((own) => fairShare(21, [3, 20, 20], own))).toEqual([3, 9, 9]);
    expect(fairShare(30, [1, 1, 41], 41)).toBe(28);
    expect(fairShare(51, [13, 17, 15, 14, 16, 13], 17)).toBe(8.5);
    // Whatever the claims, the shares add up to the total (to rounding) and none exceeds its claim when short.
    const next = random(7);
    for (let trial = 0; trial < 500; trial++) {
      const claims = Array.from({ length: 1 + Math.floor(next() * 8) }, () => 1 + Math.floor(next() * 30));
      const total = Math.floor(next() * 120);
      const shares = claims.map((claim) => fairShare(total, claims, claim));
      expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(total, 6);
      const short = claims.reduce((a, b) => a + b, 0) > total;
      claims.forEach((claim, i) => (short ? expect(shares[i]).toBeLessThanOrEqual(claim + 1e-9) : undefined));
    }
  });

  it('keeps the ceilings of instances that are all busy where they are, however their demands jitter', () => {
    // Six instances of 16 callers each on a budget of 57 (51 for pools): as a benchmark's processes are.
    const next = random(11);
    const ceilings = new Map<string, number>();
    const changes: string[] = [];
    for (let round = 0; round < 300; round++) {
      const who = String(Math.floor(next() * 6));
      const demandOf = (): number => 9 + Math.floor(next() * 8);
      const view = new Map(
        Array.from({ length: 6 }, (_, i) => [
          String(i),
          {
            pool: ceilings.get(String(i)) ?? 1,
            busy: 0,
            health: 1,
            demand: demandOf(),
            ceiling: ceilings.get(String(i)),
          },
        ]),
      );
      const share = budgetCeiling(57, view, {
        instance: who,
        demand: demandOf(),
        floor: 1,
        max: 20,
        current: ceilings.get(who),
      });
      if (ceilings.has(who) && ceilings.get(who) !== share.ceiling)
        changes.push(`round ${round}: ${who} ${ceilings.get(who)} → ${share.ceiling}`);
      ceilings.set(who, share.ceiling);
    }
    expect(changes).toEqual([]);
    expect([...ceilings.values()].every((ceiling) => ceiling === 8)).toBe(true);
  });

  it('gives back a ceiling kept a little above its share when another instance waits below its own', () => {
    // Six busy instances on 51 connections for pools: an even share is 8.
    const view = (
      short: number,
    ): Map<string, { pool: number; busy: number; health: number; demand: number; ceiling: number }> =>
      new Map(
        ['a', 'b', 'c', 'd', 'e', 'f'].map((i) => {
          const ceiling = i === 'a' ? 9 : i === 'b' ? short : 8;
          return [i, { pool: ceiling, busy: ceiling, health: 1, demand: 16, ceiling }];
        }),
      );
    const own = { instance: 'a', demand: 16, floor: 1, max: 20, current: 9 };
    // Nobody short: within the dead band, a keeps its 9 (no connection closed for a difference of one).
    expect(budgetCeiling(57, view(8), own).ceiling).toBe(9);
    // b waits under 6: a gives its extra connection back, and b can grow into it.
    expect(budgetCeiling(57, view(6), own).ceiling).toBe(8);
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
});
