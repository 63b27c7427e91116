import type { EventEmitter } from 'node:events';
import type { ResolvedNode, ResolvedOptions } from '../config/index.js';
import { QueryError } from '../errors.js';
import type { RouterMetrics } from '../metrics/index.js';
import { NodePool } from '../pool/index.js';
import { HealthMonitor, NodeBreaker } from '../resilience/index.js';
import type { PoolConnectionEvents } from '../pg-compat/index.js';
import { ConnectionBudget, type ConnectionBudgetStats, type SizedPool } from '../adaptive/index.js';
import type { RouterEvents } from './router-events.js';
import type { ScopePools } from './workload-scope.js';

/** One node as the router sees it: its pool and breaker, and what health checks and probes learned of it. */
export interface RoutedNode {
  readonly node: ResolvedNode;
  readonly pool: NodePool;
  readonly breaker: NodeBreaker;
  /** Read by the balancer without a function call: statements in flight on this node. */
  readonly inFlight: number;
  readonly latencyMs: number;
  /** Its role now: the configured one until a failover. */
  role: 'primary' | 'replica';
  /** The highest WAL position this replica is known to have replayed (health checks, probes); 0 when unknown. */
  replayed: bigint;
  /** Out of the balancer because it trails by more than `maxReplicaLagMs` / `maxReplicaLagBytes`. */
  lagging: boolean;
  /** Out of the balancer because its data is not the primary's history (see `HealthMonitor.divergence`). */
  diverged: string | undefined;
}

function routedNode(node: ResolvedNode, pool: NodePool, breaker: NodeBreaker): RoutedNode {
  return {
    node,
    pool,
    breaker,
    role: node.role,
    replayed: 0n,
    lagging: false,
    diverged: undefined,
    get inFlight() {
      return pool.inFlight;
    },
    get latencyMs() {
      return pool.latencyMs;
    },
  };
}

/** What the node set tells the rest of the router. */
export interface NodeSetHooks {
  /** The router's events (breakers, health, lag, failover, connection errors, leaks). */
  readonly events: EventEmitter<RouterEvents>;
  readonly instruments: RouterMetrics;
  warn(message: string): void;
  /** Every node's connections opening, closing and failing while idle (for `asPool()`'s pg-pool events). */
  readonly connections: EventEmitter<PoolConnectionEvents>;
  /** A pool's callers wait for connections (for adaptive sizing); absent when adaptive sizing is off. */
  readonly pressure: ((node: string, waiting: number, busy: number, opening: number) => void) | undefined;
}

/**
 * The nodes and what is known of them: one pool and breaker per node, which node is the primary now, which replicas
 * may take reads (breaker not open, healthy, caught up, following the primary's history), the health checks that
 * keep this current, and failover.
 */
export class NodeSet {
  /** The node writes go to: the configured primary, or the node a failover promoted. */
  primary: RoutedNode;
  /** Every node but the primary, in configuration order. */
  replicas: readonly RoutedNode[];
  /** Every node, in configuration order (the configured primary first); fixed. */
  readonly all: readonly RoutedNode[];
  /** Replicas whose breaker is not open, healthy, not lagging and not diverged: the only ones reads use. */
  healthyReplicas: readonly RoutedNode[] = [];
  /** The primary's last health check said it is in recovery: it takes no writes. */
  primaryInRecovery = false;
  /** How many times failover changed the primary. */
  failovers = 0;
  readonly health: HealthMonitor;
  /** The last "two primaries" warning, so a split is reported once. */
  private splitWarning: string | undefined;
  /** The cluster-wide connection budget (option `connectionBudget`), if any. */
  private readonly budget: ConnectionBudget | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly hooks: NodeSetHooks,
  ) {
    const budgetSettings = options.connectionBudget;
    // With a budget, connections are named after the group and instance: that is how the group finds them.
    const connectionName =
      budgetSettings === undefined ? undefined : `${budgetSettings.group}/${budgetSettings.instance}`;
    this.primary = this.build(options.primary, connectionName);
    this.replicas = options.replicas.map((node) => this.build(node, connectionName));
    this.all = [this.primary, ...this.replicas];
    const timeoutMs = Math.min(2_000, options.pool.healthCheckIntervalMs);
    // A budget round waits for the group's other instances' rounds on the node (an advisory lock): it gets longer
    // than a health check, and skips a round rather than fail anything.
    const budgetRoundMs = Math.max(2_000, timeoutMs);
    this.budget =
      budgetSettings === undefined
        ? undefined
        : new ConnectionBudget(
            budgetSettings,
            this.all.map(({ node, pool: nodePool }) => ({
              node: node.name,
              floor: Math.max(1, node.config.min ?? options.pool.min),
              max: node.config.max ?? options.pool.max,
              demand: () => nodePool.inFlight,
              limit: (cap: number) => nodePool.limit(cap),
            })),
            budgetRoundMs / 2,
          );
    this.healthyReplicas = this.replicas;
    const { pool, applicationName } = options;
    // The health check also reads WAL positions: with replicas (lag) or failover (who is primary) it runs at
    // least every lagCheckIntervalMs.
    const watchesPositions = this.replicas.length > 0 || options.failover === 'auto';
    const checkEveryMs =
      pool.healthCheckIntervalMs > 0 && watchesPositions
        ? Math.min(pool.healthCheckIntervalMs, options.lagCheckIntervalMs)
        : pool.healthCheckIntervalMs;
    this.health = new HealthMonitor(
      [options.primary, ...options.replicas],
      {
        intervalMs: checkEveryMs,
        timeoutMs,
        applicationName,
        primary: options.primary.name,
        onRound: () => this.afterHealthRound(),
        connectionName: this.budget === undefined ? undefined : (node) => this.budget!.healthConnectionName(node),
        afterCheck: this.budget === undefined ? undefined : (node, client) => this.budget!.round(node, client),
        afterCheckTimeoutMs: budgetRoundMs,
      },
      (node, healthy, reason) => {
        // A node that answers its health check again gets traffic at once, instead of after resetTimeoutMs
        // (or after a trial call that hit it while it was still starting).
        if (healthy) this.all.find((routed) => routed.node.name === node)?.breaker.close();
        this.refreshHealthyReplicas();
        if (node === this.primary.node.name) return;
        if (healthy) this.hooks.events.emit('replicaUp', { node });
        else this.hooks.events.emit('replicaDown', { node, reason });
      },
    );
    this.health.start();
    // Budgeted pools start at their floor: the first round, now rather than an interval later, gives them their share.
    if (this.budget !== undefined) void this.health.checkAll();
  }

  /** A node's connection budget for `stats()`; `undefined` without one. */
  budgetOf(node: string): ConnectionBudgetStats | undefined {
    return this.budget?.snapshot(node);
  }

  /** A node's index in configuration order (the configured primary first), as workload scopes count them. */
  indexOf(target: RoutedNode): number {
    return this.all.indexOf(target);
  }

  /** Notes that `node` has replayed at least `position`. */
  noteReplayed(node: RoutedNode, position: bigint): void {
    if (position > node.replayed) node.replayed = position;
  }

  /** The error of a write while the primary is in recovery and no promoted node is known. */
  noWritablePrimary(): QueryError {
    return new QueryError(
      'PGR_NO_PRIMARY',
      `${this.primary.node.name} is in recovery (a standby) and takes no writes${this.options.failover === 'auto' ? '; no promoted node has been found yet' : ''}`,
      { context: { node: this.primary.node.name } },
    );
  }

  /** Why no replica takes reads now, replica by replica; `null` while one does. */
  readsOnPrimaryReason(): string | null {
    if (this.replicas.length === 0) return 'no replicas are configured';
    if (this.healthyReplicas.length > 0) return null;
    const { maxReplicaLagMs, maxReplicaLagBytes } = this.options;
    const why = this.replicas.map((node) => {
      const name = node.node.name;
      if (!this.health.isHealthy(name))
        return `${name}: health check failed (${this.health.lastError(name) ?? 'no answer'})`;
      if (node.breaker.isOpen) return `${name}: circuit breaker open`;
      if (this.health.isStandby(name) === false)
        return `${name}: not in recovery (a primary of its own), so not a replica of ${this.primary.node.name}`;
      if (node.diverged !== undefined) return `${name}: ${node.diverged}`;
      const lag = this.health.lag(name);
      if (node.lagging && lag !== undefined)
        return `${name}: lags ${Math.round(lag.ms)} ms / ${lag.bytes} bytes (maxReplicaLagMs ${maxReplicaLagMs}${maxReplicaLagBytes > 0 ? `, maxReplicaLagBytes ${maxReplicaLagBytes}` : ''})`;
      return `${name}: unavailable`;
    });
    return why.join('; ');
  }

  /** Opens `size(node)` connections on each node in the background; a failure is a `connectionError` event. */
  warm(size: (node: string) => number): void {
    for (const { node, pool } of this.all)
      pool
        .warm(size(node.name))
        .catch((error: Error) => this.hooks.events.emit('connectionError', { node: node.name, error }));
  }

  /** Each node's pool as adaptive sizing sees it: its counters and its resize. */
  sizedPools(): SizedPool[] {
    return this.all.map(({ node, pool }) => ({
      name: node.name,
      label: node.label,
      counters: () => pool.stats(),
      resize: (target: number) => pool.resize(target, true),
    }));
  }

  /** The pools as workload scopes reserve connections of them, by node index (configuration order). */
  scopePools(): ScopePools {
    return {
      reserve: (node, count) => this.all[node]!.pool.reserve(count),
      unreserve: (node, count) => this.all[node]!.pool.unreserve(count),
    };
  }

  /** Stops the health checks, closes every pool (see `NodePool.end`) and shuts the breakers down. */
  async end(deadline: number | undefined): Promise<void> {
    this.health.stop();
    await Promise.all(this.all.map((node) => node.pool.end(deadline)));
    for (const node of this.all) node.breaker.shutdown();
  }

  private build(node: ResolvedNode, connectionName: string | undefined): RoutedNode {
    const { events, instruments, pressure, connections } = this.hooks;
    const { pool, statementCache, applicationName, hooks } = this.options;
    const { onConnect, onCheckout, onCheckin } = hooks;
    const nodePool = new NodePool({
      name: node.name,
      connection: node.config,
      ...pool,
      statementCacheMax: statementCache.max,
      statementTimeoutMs: this.options.breaker.timeoutMs,
      applicationName: connectionName ?? applicationName,
      onIdleError: (error) => events.emit('connectionError', { node: node.name, error }),
      onLeak: (leak) => events.emit('leak', leak),
      onStatementCacheDisabled: (_disabled, message) => this.hooks.warn(message),
      onConnectRetry: (retry, delayMs, error) =>
        events.emit('connectRetry', { node: node.name, retry, delayMs: Math.round(delayMs), error: error as Error }),
      onPressure:
        pressure === undefined ? undefined : (waiting, busy, opening) => pressure(node.name, waiting, busy, opening),
      onConnect:
        onConnect === undefined ? undefined : (client) => onConnect(client, { node: node.name, role: node.role }),
      observer: {
        checkout: onCheckout === undefined ? undefined : (waitedMs) => onCheckout({ node: node.name, waitedMs }),
        checkin: onCheckin === undefined ? undefined : (heldMs) => onCheckin({ node: node.name, heldMs }),
        opened: (client) => void connections.emit('connect', client),
        closed: (client) => void connections.emit('remove', client),
        // An 'error' nobody hears would throw.
        failedIdle: (error, client) =>
          void (connections.listenerCount('error') > 0 && connections.emit('error', error, client)),
        internalsMissing: (disabled) =>
          this.hooks.warn(
            `${node.name}: the installed pg lacks internals the router relies on, so these features are off: ` +
              disabled.map(({ feature, reason }) => `${feature} (${reason})`).join('; '),
          ),
      },
    });
    instruments.node(node.name, node.role, nodePool.histograms);
    const breakerEvent = (event: 'open' | 'halfOpen' | 'close'): void => {
      instruments.breakerEvent(node.name, event);
      this.refreshHealthyReplicas();
    };
    const breaker = new NodeBreaker(node.name, this.options.breaker, {
      onOpen: (retryAt) => {
        breakerEvent('open');
        events.emit('breakerOpen', { node: node.name, retryAt });
      },
      onHalfOpen: () => {
        breakerEvent('halfOpen');
        events.emit('breakerHalfOpen', { node: node.name });
      },
      onClose: () => {
        breakerEvent('close');
        events.emit('breakerClose', { node: node.name });
      },
    });
    return routedNode(node, nodePool, breaker);
  }

  /**
   * The replicas reads may use: breaker not open, last health check passed, not lagging, and not a node that says
   * it is out of recovery (a promoted replica, or an old primary back on its own: its data has diverged).
   */
  private refreshHealthyReplicas(): void {
    this.healthyReplicas = this.replicas.filter(
      (node) =>
        !node.breaker.isOpen &&
        this.health.isHealthy(node.node.name) &&
        !node.lagging &&
        node.diverged === undefined &&
        this.health.isStandby(node.node.name) !== false,
    );
  }

  /** After each round of health checks: replayed positions, lag exclusion, the primary's state and failover. */
  private afterHealthRound(): void {
    const { maxReplicaLagMs, maxReplicaLagBytes } = this.options;
    for (const node of this.replicas) {
      const name = node.node.name;
      if (!this.health.isHealthy(name)) {
        // Replay restarts from a checkpoint after a restart: what it had replayed before says nothing now.
        node.replayed = 0n;
      } else if (this.health.isStandby(name) === true) {
        const position = this.health.position(name);
        if (position !== undefined) this.noteReplayed(node, position);
      }
      const diverged = this.health.isHealthy(name) ? this.health.divergence(name) : undefined;
      if (diverged !== node.diverged) {
        node.diverged = diverged;
        if (diverged !== undefined)
          this.hooks.warn(`${name} ${diverged}: out of the balancer until it follows the primary again`);
      }
      const lag = this.health.lag(name);
      const lagging =
        lag !== undefined &&
        ((maxReplicaLagMs > 0 && lag.ms > maxReplicaLagMs) ||
          (maxReplicaLagBytes > 0 && lag.bytes > maxReplicaLagBytes));
      if (lagging === node.lagging) continue;
      node.lagging = lagging;
      if (lagging)
        this.hooks.events.emit('replicaLagging', { node: name, lagMs: Math.round(lag!.ms), lagBytes: lag!.bytes });
      else this.hooks.events.emit('replicaCaughtUp', { node: name });
    }
    const primary = this.primary.node.name;
    this.primaryInRecovery = this.health.isStandby(primary) === true;
    if (this.options.failover === 'auto' && (this.primaryInRecovery || !this.health.isHealthy(primary)))
      this.failOver();
    this.refreshHealthyReplicas();
  }

  /**
   * The primary is down or in recovery: if exactly one other node answers and says it is not in recovery, it was
   * promoted and becomes the primary. Two such nodes would mean a split cluster: the router picks neither, and says so.
   */
  private failOver(): void {
    const promoted = this.all.filter(
      (node) =>
        node !== this.primary &&
        this.health.isHealthy(node.node.name) &&
        this.health.isStandby(node.node.name) === false,
    );
    if (promoted.length > 1) {
      const message = `failover: ${promoted.map((node) => node.node.name).join(' and ')} all say they are primaries; writes wait until only one does`;
      // Once per split, not once per health check round.
      if (message !== this.splitWarning) this.hooks.warn(message);
      this.splitWarning = message;
      return;
    }
    this.splitWarning = undefined;
    const next = promoted[0];
    if (next === undefined) return;
    const from = this.primary;
    from.role = 'replica';
    next.role = 'primary';
    next.lagging = false;
    next.diverged = undefined;
    this.primary = next;
    this.replicas = this.all.filter((node) => node !== next);
    this.primaryInRecovery = false;
    this.health.setPrimary(next.node.name);
    next.breaker.close();
    this.failovers++;
    this.options.logger.warn(
      { event: 'primaryChanged', from: from.node.name, to: next.node.name },
      `primary changed from ${from.node.name} to ${next.node.name}`,
    );
    this.hooks.events.emit('primaryChanged', { from: from.node.name, to: next.node.name });
  }
}
