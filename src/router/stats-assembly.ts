import type { PatternLearner } from '../adaptive/index.js';
import type { ResolvedOptions } from '../config/index.js';
import type { AttachedPipeline } from '../pipeline/index.js';
import type { ReplicaLag } from '../resilience/index.js';
import type { NodeChoice } from './node-choice.js';
import type { NodeSet, RoutedNode } from './node-set.js';
import type { ReadYourWrites } from './read-your-writes.js';
import { NODE_POOL_COUNTERS, NODE_POOL_SIZES, type NodeStats, type RouterStats } from './router-stats.js';
import type { StatementRouting } from './statement-routing.js';
import type { WorkloadScopes } from './workload-scope.js';

/** Where `stats()` reads from: each part reports its own state. */
export interface StatsParts {
  readonly options: ResolvedOptions;
  readonly nodes: NodeSet;
  readonly choice: NodeChoice;
  readonly readYourWrites: ReadYourWrites;
  readonly statements: StatementRouting;
  readonly learner: PatternLearner | undefined;
  readonly scopes: WorkloadScopes;
  readonly pipelines: ReadonlySet<AttachedPipeline>;
}

/** The lag fields of a node in `stats()`: `null` for the primary and for a replica not measured yet. */
function replicaLag(
  lag: ReplicaLag | undefined,
  role: 'primary' | 'replica',
): { lagMs: number | null; lagBytes: number | null } {
  if (role === 'primary' || lag === undefined) return { lagMs: null, lagBytes: null };
  return { lagMs: Math.round(lag.ms), lagBytes: lag.bytes };
}

/** The fields `keys` of `from`, in that order. */
function pick<T, K extends keyof T>(from: T, keys: readonly K[]): Pick<T, K> {
  const picked = {} as Pick<T, K>;
  for (const key of keys) picked[key] = from[key];
  return picked;
}

function nodeStats({ node, pool, breaker, role, lagging, diverged }: RoutedNode, nodes: NodeSet): NodeStats {
  const { health } = nodes;
  const counts = pool.stats();
  return {
    name: node.name,
    role,
    inRecovery: health.isStandby(node.name) ?? null,
    lagging,
    url: node.label,
    healthy: health.isHealthy(node.name),
    lastHealthError: health.lastError(node.name),
    breaker: breaker.state.state,
    breakerOpens: breaker.opens,
    pool: pick(counts, NODE_POOL_SIZES),
    ...pick(counts, NODE_POOL_COUNTERS),
    // The pool's refused connection attempts and its health checks' (on their own connection) alike.
    connectionRefusals: counts.connectionRefusals + health.refusals(node.name),
    ...replicaLag(health.lag(node.name), role),
    timeline: health.timeline(node.name) ?? null,
    diverged: role === 'replica' ? (diverged ?? null) : null,
    budget: nodes.budgetOf(node.name) ?? null,
  };
}

const rate = (hits: number, misses: number): number => (hits + misses === 0 ? 0 : hits / (hits + misses));

/** The JSON snapshot of `router.stats()`. */
export function assembleStats(parts: StatsParts, closed: boolean): RouterStats {
  const { options, nodes: nodeSet, choice, statements, learner } = parts;
  const nodes = [nodeSet.primary, ...nodeSet.replicas].map((node) => nodeStats(node, nodeSet));
  const statement = { hits: 0, misses: 0, evictions: 0 };
  for (const node of nodes) {
    statement.hits += node.statementCache.hits;
    statement.misses += node.statementCache.misses;
    statement.evictions += node.statementCache.evictions;
  }
  const pipelines = {
    open: parts.pipelines.size,
    queued: 0,
    held: 0,
    batches: 0,
    statements: 0,
    failed: 0,
    coalesced: 0,
  };
  for (const pipeline of parts.pipelines) {
    const one = pipeline.stats();
    pipelines.queued += one.queued;
    pipelines.held += one.held;
    pipelines.batches += one.batches;
    pipelines.statements += one.statements;
    pipelines.failed += one.failed;
    pipelines.coalesced += one.coalesced;
  }
  const { classifier } = statements;
  return {
    closed,
    nodes,
    pipelines,
    routing: {
      ...choice.counts,
      catalogLookups: statements.volatility.lookups,
      replicasAvailable: nodeSet.healthyReplicas.length,
      readsOnPrimary: nodeSet.replicas.length === 0 || nodeSet.healthyReplicas.length === 0,
      readsOnPrimaryReason: nodeSet.readsOnPrimaryReason(),
    },
    primary: nodeSet.primary.node.name,
    failovers: nodeSet.failovers,
    consistency: { mode: options.consistency, ...parts.readYourWrites.counts },
    classifierCache: {
      size: classifier.size,
      max: classifier.max,
      hits: classifier.hits,
      misses: classifier.misses,
      hitRate: rate(classifier.hits, classifier.misses),
    },
    statementCache: {
      ...statement,
      maxPerConnection: options.statementCache.max,
      hitRate: rate(statement.hits, statement.misses),
    },
    adaptive: {
      enabled: options.adaptive.enabled,
      patternsTracked: learner?.size ?? 0,
      patternsEvicted: learner?.evicted ?? 0,
    },
    patterns: learner?.top(10) ?? [],
    scopes: parts.scopes.snapshot(),
  };
}
