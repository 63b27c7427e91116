import { describe, expect, it } from 'vitest';
import { LatencyBalancer, LeastBusyBalancer, RoundRobinBalancer } from '../src/index.js';

interface FakeNode {
  name: string;
  inFlight: number;
  latencyMs: number;
}

const nodes = (...specs: [number, number][]): FakeNode[] =>
  specs.map(([inFlight, latencyMs], i) => ({ name: `r${i}`, inFlight, latencyMs }));

describe('replica balancers', () => {
  it('round-robin takes each replica in turn', () => {
    const balancer = new RoundRobinBalancer();
    const candidates = nodes([0, 0], [0, 0], [0, 0]);
    expect(Array.from({ length: 6 }, () => balancer.pick(candidates)!.name)).toEqual([
      'r0',
      'r1',
      'r2',
      'r0',
      'r1',
      'r2',
    ]);
  });

  it('every balancer returns undefined when no replica is eligible', () => {
    for (const balancer of [new RoundRobinBalancer(), new LeastBusyBalancer(), new LatencyBalancer()])
      expect(balancer.pick([])).toBeUndefined();
  });

  it('least-busy picks the replica with the fewest statements in flight', () => {
    const balancer = new LeastBusyBalancer();
    const candidates = nodes([5, 0], [1, 0], [3, 0]);
    for (let i = 0; i < 5; i++) expect(balancer.pick(candidates)!.name).toBe('r1');
  });

  it('least-busy shares the load between equally busy replicas', () => {
    const balancer = new LeastBusyBalancer();
    const candidates = nodes([2, 0], [2, 0]);
    const picks = new Set(Array.from({ length: 4 }, () => balancer.pick(candidates)!.name));
    expect(picks).toEqual(new Set(['r0', 'r1']));
  });

  it('latency prefers the faster replica, weighted by its queue', () => {
    const balancer = new LatencyBalancer();
    expect(balancer.pick(nodes([0, 5], [0, 1]))!.name).toBe('r1');
    // The fast replica is so busy that the slower idle one scores better: 1 × (1 + 9) > 5 × (1 + 0).
    expect(balancer.pick(nodes([0, 5], [9, 1]))!.name).toBe('r0');
  });
});
