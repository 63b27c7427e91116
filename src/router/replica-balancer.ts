import type { LoadBalancing } from '../config/index.js';

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

/**
 * The replica with the lowest score; ties are broken in turn, so equally good replicas share the load.
 */
abstract class LowestScoreBalancer implements ReplicaBalancer {
  private turn = 0;

  protected abstract score(node: BalancedNode): number;

  pick<T extends BalancedNode>(candidates: readonly T[]): T | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    this.turn = (this.turn + 1) % n;
    let best = candidates[this.turn]!;
    let bestScore = this.score(best);
    for (let k = 1; k < n; k++) {
      const candidate = candidates[(this.turn + k) % n]!;
      const score = this.score(candidate);
      if (score < bestScore) {
        best = candidate;
        bestScore = score;
      }
    }
    return best;
  }
}

/** The replica with the fewest statements in flight. */
export class LeastBusyBalancer extends LowestScoreBalancer {
  protected score(node: BalancedNode): number {
    return node.inFlight;
  }
}

/**
 * The replica with the lowest recent mean latency. A replica that has never served a read scores 0, so each
 * one is tried before the averages take over; in-flight statements add to the score so one fast replica is
 * not buried under every read.
 */
export class LatencyBalancer extends LowestScoreBalancer {
  protected score(node: BalancedNode): number {
    return node.latencyMs * (1 + node.inFlight);
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
