import type { LoadBalancing } from '../config.js';

/** What a balancer may read of a replica. */
export interface BalancedNode {
  /** Statements running or waiting for a connection on this node. */
  readonly inFlight: number;
  /** Exponentially weighted mean latency, in milliseconds. */
  readonly latencyMs: number;
}

/**
 * Chooses the replica for a read among the eligible ones. Implementations must be cheap: `pick` runs on
 * every routed read.
 */
export interface ReplicaBalancer {
  pick<T extends BalancedNode>(candidates: readonly T[]): T | undefined;
}

/** Each replica in turn. */
export class RoundRobinBalancer implements ReplicaBalancer {
  private next = 0;

  pick<T extends BalancedNode>(candidates: readonly T[]): T | undefined {
    if (candidates.length === 0) return undefined;
    const chosen = candidates[this.next % candidates.length];
    this.next = (this.next + 1) % 1_000_000_007;
    return chosen;
  }
}

/** The replica with the fewest statements in flight; ties are broken in turn so equal replicas share the load. */
export class LeastBusyBalancer implements ReplicaBalancer {
  private turn = 0;

  pick<T extends BalancedNode>(candidates: readonly T[]): T | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    this.turn = (this.turn + 1) % n;
    let best = candidates[this.turn]!;
    for (let k = 1; k < n; k++) {
      const candidate = candidates[(this.turn + k) % n]!;
      if (candidate.inFlight < best.inFlight) best = candidate;
    }
    return best;
  }
}

/**
 * The replica with the lowest recent mean latency. A replica that has never served a read scores 0, so each
 * one is tried before the averages take over; in-flight statements add to the score so one fast replica is
 * not buried under every read.
 */
export class LatencyBalancer implements ReplicaBalancer {
  private turn = 0;

  pick<T extends BalancedNode>(candidates: readonly T[]): T | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    this.turn = (this.turn + 1) % n;
    let best = candidates[this.turn]!;
    let bestScore = best.latencyMs * (1 + best.inFlight);
    for (let k = 1; k < n; k++) {
      const candidate = candidates[(this.turn + k) % n]!;
      const score = candidate.latencyMs * (1 + candidate.inFlight);
      if (score < bestScore) {
        best = candidate;
        bestScore = score;
      }
    }
    return best;
  }
}

/** The balancer for a `loadBalancing` option. */
export function createBalancer(strategy: LoadBalancing): ReplicaBalancer {
  switch (strategy) {
    case 'least-busy':
      return new LeastBusyBalancer();
    case 'latency':
      return new LatencyBalancer();
    default:
      return new RoundRobinBalancer();
  }
}
