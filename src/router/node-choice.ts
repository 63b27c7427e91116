import type { ResolvedOptions } from '../config/index.js';
import type { NodeSet, RoutedNode } from './node-set.js';
import { createBalancer, type ReplicaBalancer } from './replica-balancer.js';

/** Routing decisions since start, as `stats().routing` reports them. */
export interface RoutingCounts {
  /** Statements and transactions sent to the primary and to replicas. */
  primary: number;
  replica: number;
  /** Statements whose route the caller forced. */
  forced: number;
  /** Reads sent to the primary because of a VOLATILE (or unknown) function. */
  volatileFunction: number;
  /** Reads retried on another replica or the primary after their replica failed. */
  readFallbacks: number;
  /** Statements answered by a caller's `fallback`. */
  callerFallbacks: number;
  /** Writes a replica refused (SQLSTATE 25006) that were re-run on the primary, their verdict corrected. */
  selfHealed: number;
}

/**
 * The one place a node is picked: for a read, for a transaction or pinned client, for a read's next try after its
 * replica failed, and for a read that must see a WAL position. Every pick that carries work is counted here.
 */
export class NodeChoice {
  readonly counts: RoutingCounts = {
    primary: 0,
    replica: 0,
    forced: 0,
    volatileFunction: 0,
    readFallbacks: 0,
    callerFallbacks: 0,
    selfHealed: 0,
  };
  private readonly balancer: ReplicaBalancer;

  constructor(
    private readonly nodes: NodeSet,
    private readonly options: Pick<ResolvedOptions, 'loadBalancing' | 'readFallback'>,
  ) {
    this.balancer = createBalancer(options.loadBalancing);
  }

  /**
   * The node for one read (not counted yet: read-your-writes may still move it): a replica in the balancer; with
   * none, the primary — or, when the caller forced a replica or `readFallback` is `'replicas-only'`, any replica.
   */
  forRead(forcedReplica: boolean): RoutedNode {
    const { nodes } = this;
    return (
      this.balancer.pick(nodes.healthyReplicas) ??
      (forcedReplica || this.options.readFallback === 'replicas-only'
        ? (this.balancer.pick(nodes.replicas) ?? nodes.primary)
        : nodes.primary)
    );
  }

  /**
   * The node for work that holds one connection (a transaction, a pinned client), counted: the primary, or for
   * work that may run on a replica one in the balancer — and one known to have replayed `position`, if given.
   */
  forConnection(mayUseReplica: boolean, position: bigint | undefined): RoutedNode {
    const { primary, healthyReplicas } = this.nodes;
    let target = mayUseReplica ? (this.balancer.pick(healthyReplicas) ?? primary) : primary;
    if (target !== primary && position !== undefined) target = this.freshReplica(position) ?? primary;
    return this.count(target);
  }

  /** A replica in the balancer known to have replayed `position` (from health checks and earlier probes). */
  freshReplica(position: bigint): RoutedNode | undefined {
    let fresh: RoutedNode[] | undefined;
    for (const node of this.nodes.healthyReplicas) if (node.replayed >= position) (fresh ??= []).push(node);
    return fresh === undefined ? undefined : this.balancer.pick(fresh);
  }

  /**
   * Where a read goes after `failed` could not serve it: another replica in the balancer, else the primary when
   * `readFallback` is `'primary'`; `undefined` when neither may take it. Counted as a read fallback.
   */
  nextForRead(failed: RoutedNode): RoutedNode | undefined {
    const candidates = this.nodes.healthyReplicas.filter((node) => node !== failed);
    const next =
      this.balancer.pick(candidates) ?? (this.options.readFallback === 'primary' ? this.nodes.primary : undefined);
    if (next !== undefined) this.counts.readFallbacks++;
    return next;
  }

  /** Counts work sent to `target` and returns it. */
  count(target: RoutedNode): RoutedNode {
    if (target === this.nodes.primary) this.counts.primary++;
    else this.counts.replica++;
    return target;
  }
}
