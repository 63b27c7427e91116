import type { MonitoredNode, MonitoredStats } from './monitored-stats.js';

/** The verdict of {@link healthReport}: what `/health` answers. */
export interface HealthReport {
  /** False when the application cannot be served as configured: `/health` then answers 503. */
  readonly healthy: boolean;
  /** Why it is unhealthy, one sentence a cause, each naming the node; empty when healthy. */
  readonly reasons: readonly string[];
  /** Degraded but still serving (a replica down while another takes reads, a breaker half-open). */
  readonly warnings: readonly string[];
}

function healthFailure(node: MonitoredNode): string {
  return `${node.name} failed its health check: ${node.lastHealthError ?? 'no reason reported'}`;
}

/** A replica takes reads only while it is healthy, its breaker lets calls through and it keeps up. */
function canTakeReads(node: MonitoredNode): boolean {
  return node.healthy && node.breaker !== 'open' && node.lagging !== true && (node.diverged ?? null) === null;
}

/**
 * Judges a stats snapshot. Pure: the same snapshot always gives the same report.
 *
 * Unhealthy when the router is closed, when the primary failed its health check or its breaker is open (writes
 * cannot run), or when replicas are configured and none can take reads (every read lands on the primary, which
 * it was not sized for). A replica that is down while another takes reads, and any half-open breaker, are
 * warnings only: the application is served.
 *
 * @example
 * const { healthy, reasons } = healthReport(router.stats());
 * if (!healthy) console.error(reasons.join('; '));
 */
export function healthReport(stats: MonitoredStats): HealthReport {
  const reasons: string[] = [];
  const warnings: string[] = [];
  if (stats.closed) reasons.push('router is closed');
  const replicas: MonitoredNode[] = [];
  for (const node of stats.nodes) {
    if (node.role === 'replica') replicas.push(node);
    const serious = node.role === 'primary';
    const into = serious ? reasons : warnings;
    if (!node.healthy) into.push(healthFailure(node));
    if (node.breaker === 'open') into.push(`${node.name} breaker open`);
    else if (node.breaker === 'halfOpen') warnings.push(`${node.name} breaker half-open`);
    if (node.role === 'replica' && node.diverged !== undefined && node.diverged !== null)
      warnings.push(`${node.name} ${node.diverged}: out of the balancer`);
    if (node.lagging === true)
      warnings.push(
        `${node.name} lags ${node.lagMs ?? '?'} ms behind the primary: out of the balancer until it catches up`,
      );
  }
  // The router's own count is what routing uses; the node flags can be a tick ahead of it, so either saying
  // "none" means reads are on the primary now or are about to be.
  if (replicas.length > 0 && (stats.routing.replicasAvailable === 0 || !replicas.some(canTakeReads))) {
    reasons.push(
      `no healthy replica: reads run on the primary${stats.routing.readsOnPrimaryReason ? ` (${stats.routing.readsOnPrimaryReason})` : ''}`,
    );
  }
  return { healthy: reasons.length === 0, reasons, warnings };
}
