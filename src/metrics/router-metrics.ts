import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { HistogramExport } from './histogram-export.js';
import type { LatencyHistogram } from './latency-histogram.js';

/** The parts of the router's `stats()` snapshot that gauges and cache counters are read from at scrape time. */
export interface MetricsSnapshot {
  readonly nodes: readonly {
    readonly name: string;
    readonly role: 'primary' | 'replica';
    readonly healthy: boolean;
    readonly breaker: 'closed' | 'open' | 'halfOpen';
    readonly pool: {
      readonly idle: number;
      readonly active: number;
      readonly waiting: number;
      readonly target: number;
      readonly max: number;
    };
    readonly inFlight: number;
    /** Statements run, and how many of them failed. */
    readonly queries: number;
    readonly errors: number;
    readonly statementCache: { readonly hits: number; readonly misses: number; readonly evictions: number };
    readonly lagMs?: number | null;
    readonly lagBytes?: number | null;
    readonly lagging?: boolean;
    /** Connections closed since start, by reason (lifetime, idle, health, error, shrink). */
    readonly recycled?: Readonly<Record<string, number>>;
    readonly connectRetries?: number;
    readonly connectionRefusals?: number;
    /** The connection budget on this node, if one is set. */
    readonly budget?: {
      readonly budget: number | null;
      readonly instance: string;
      readonly total: number;
      readonly byInstance: Readonly<Record<string, number>>;
      readonly ceiling: number | null;
    } | null;
  }[];
  readonly failovers?: number;
  readonly consistency?: {
    readonly readsOnReplicaKnown: number;
    readonly readsOnReplicaChecked: number;
    readonly readsOnReplicaAfterWait: number;
    readonly readsOnPrimary: number;
    readonly writesTracked: number;
  };
  readonly routing: {
    readonly primary: number;
    readonly replica: number;
    readonly forced: number;
    readonly volatileFunction: number;
    readonly readFallbacks: number;
    readonly callerFallbacks: number;
    readonly selfHealed: number;
  };
  readonly classifierCache: { readonly size: number; readonly hits: number; readonly misses: number };
  readonly pipelines: { readonly open: number; readonly queued: number; readonly held: number };
}

/** A node's own histograms, kept by its pool for `stats()` and exported as they are. */
export interface NodeHistograms {
  /** Time per statement, waiting for a connection included. */
  readonly statements: Readonly<LatencyHistogram>;
  /** Time waited for a connection. */
  readonly acquisitions: Readonly<LatencyHistogram>;
}

const BATCH_SIZE_BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];
const FLUSH_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const BREAKER_STATES = ['closed', 'halfOpen', 'open'] as const;

/**
 * The router's Prometheus metrics, on a registry of its own (never prom-client's global one, so two routers in
 * one process do not collide). Nothing is updated per statement: statement counts and the duration histograms
 * are the pools' own (exported at scrape time), gauges and cache counters are read from the router's snapshot,
 * and only breaker transitions, resizes and pipelined batches are counted here as they happen. Labels are bounded: node, role, outcome,
 * state, event, decision — never SQL text.
 */
export class RouterMetrics {
  /** The registry every metric is registered on. */
  readonly registry = new Registry();
  private readonly duration: HistogramExport;
  private readonly acquire: HistogramExport;
  private readonly breakerEvents: Counter<'node' | 'role' | 'event'>;
  private readonly batchSize: Histogram;
  private readonly flushDuration: Histogram;
  private readonly resizes: Counter<'node' | 'role' | 'direction'>;
  private readonly roles = new Map<string, 'primary' | 'replica'>();

  constructor(snapshot: () => MetricsSnapshot, options: { readonly defaultMetrics: boolean }) {
    const registers = [this.registry];
    this.duration = new HistogramExport(
      'pgrouter_statement_duration_seconds',
      'Time per statement, waiting for a connection included',
      this.registry,
    );
    this.acquire = new HistogramExport(
      'pgrouter_pool_acquire_duration_seconds',
      'Time waited for a pooled connection',
      this.registry,
    );
    this.breakerEvents = new Counter({
      name: 'pgrouter_breaker_events_total',
      help: 'Circuit breaker transitions (open, halfOpen, close)',
      labelNames: ['node', 'role', 'event'],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'pgrouter_pipeline_batch_size',
      help: 'Statements per pipelined batch',
      buckets: BATCH_SIZE_BUCKETS,
      registers,
    });
    this.flushDuration = new Histogram({
      name: 'pgrouter_pipeline_flush_duration_seconds',
      help: 'Time per pipelined batch, one round trip (plus re-runs of failed merged INSERTs)',
      buckets: FLUSH_BUCKETS,
      registers,
    });
    this.resizes = new Counter({
      name: 'pgrouter_pool_resizes_total',
      help: 'Adaptive pool target changes',
      labelNames: ['node', 'role', 'direction'],
      registers,
    });

    // Read at scrape time from the snapshot: one snapshot per scrape, shared by every collector below.
    let cached: { at: number; value: MetricsSnapshot } | undefined;
    const read = (): MetricsSnapshot => {
      const now = Date.now();
      if (cached === undefined || now - cached.at > 50) cached = { at: now, value: snapshot() };
      return cached.value;
    };
    const perNode = (
      name: string,
      help: string,
      value: (node: MetricsSnapshot['nodes'][number]) => number | undefined,
    ): void => {
      new Gauge({
        name,
        help,
        labelNames: ['node', 'role'],
        registers,
        collect() {
          this.reset();
          for (const node of read().nodes) {
            const v = value(node);
            if (v !== undefined) this.set({ node: node.name, role: node.role }, v);
          }
        },
      });
    };
    new Gauge({
      name: 'pgrouter_pool_connections',
      help: 'Open connections by state (idle or active)',
      labelNames: ['node', 'role', 'state'],
      registers,
      collect() {
        this.reset();
        for (const node of read().nodes) {
          this.set({ node: node.name, role: node.role, state: 'idle' }, node.pool.idle);
          this.set({ node: node.name, role: node.role, state: 'active' }, node.pool.active);
        }
      },
    });
    perNode('pgrouter_pool_waiting', 'Callers waiting for a connection', (node) => node.pool.waiting);
    perNode(
      'pgrouter_pool_target_size',
      'The pool ceiling now (the adaptive target, or pool.max)',
      (node) => node.pool.target,
    );
    perNode('pgrouter_pool_max_size', 'The configured pool.max', (node) => node.pool.max);
    perNode('pgrouter_statements_in_flight', 'Statements running or waiting for a connection', (node) => node.inFlight);
    perNode('pgrouter_node_up', '1 if the node passed its last health check', (node) => (node.healthy ? 1 : 0));
    perNode('pgrouter_replica_lag_seconds', 'How far the replica trails the primary, when known', (node) =>
      node.lagMs === undefined || node.lagMs === null ? undefined : node.lagMs / 1000,
    );
    perNode('pgrouter_replica_lag_bytes', 'WAL the replica has not replayed yet, when known', (node) =>
      node.lagBytes === undefined || node.lagBytes === null ? undefined : node.lagBytes,
    );
    perNode(
      'pgrouter_replica_lagging',
      '1 while the replica is out of the balancer for lagging more than maxReplicaLagMs / maxReplicaLagBytes',
      (node) => (node.role === 'replica' ? (node.lagging === true ? 1 : 0) : undefined),
    );
    new Gauge({
      name: 'pgrouter_breaker_state',
      help: "1 for the state each node's circuit breaker is in (closed, halfOpen, open), 0 for the others",
      labelNames: ['node', 'role', 'state'],
      registers,
      collect() {
        this.reset();
        for (const node of read().nodes)
          for (const state of BREAKER_STATES)
            this.set({ node: node.name, role: node.role, state }, node.breaker === state ? 1 : 0);
      },
    });
    const cacheCounter = (name: string, help: string, value: (s: MetricsSnapshot) => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(value(read()));
        },
      });
    };
    cacheCounter(
      'pgrouter_classifier_cache_hits_total',
      'Classifications answered from the cache',
      (s) => s.classifierCache.hits,
    );
    cacheCounter(
      'pgrouter_classifier_cache_misses_total',
      'Statements classified afresh',
      (s) => s.classifierCache.misses,
    );
    const nodeCounter = (
      name: string,
      help: string,
      value: (node: MetricsSnapshot['nodes'][number]) => number,
    ): void => {
      new Counter({
        name,
        help,
        labelNames: ['node', 'role'],
        registers,
        collect() {
          this.reset();
          for (const node of read().nodes) this.inc({ node: node.name, role: node.role }, value(node));
        },
      });
    };
    new Counter({
      name: 'pgrouter_statements_total',
      help: 'Statements run, by node and outcome (ok or error)',
      labelNames: ['node', 'role', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const node of read().nodes) {
          this.inc({ node: node.name, role: node.role, outcome: 'ok' }, node.queries - node.errors);
          this.inc({ node: node.name, role: node.role, outcome: 'error' }, node.errors);
        }
      },
    });
    nodeCounter(
      'pgrouter_statement_cache_hits_total',
      'Executions of an already prepared statement',
      (node) => node.statementCache.hits,
    );
    nodeCounter(
      'pgrouter_statement_cache_misses_total',
      'Statements prepared (a Parse sent)',
      (node) => node.statementCache.misses,
    );
    nodeCounter(
      'pgrouter_statement_cache_evictions_total',
      'Prepared statements closed to make room',
      (node) => node.statementCache.evictions,
    );
    new Counter({
      name: 'pgrouter_connections_recycled_total',
      help: 'Connections closed, by reason: lifetime, idle, health (score below pool.healthThreshold), error, shrink (adaptive sizing)',
      labelNames: ['node', 'role', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const node of read().nodes)
          for (const [reason, count] of Object.entries(node.recycled ?? {}))
            this.inc({ node: node.name, role: node.role, reason }, count);
      },
    });
    nodeCounter(
      'pgrouter_connect_retries_total',
      'Connection attempts retried after a connection-level failure (pool.connectRetries)',
      (node) => node.connectRetries ?? 0,
    );
    nodeCounter(
      'pgrouter_connection_refusals_total',
      'Connection attempts the node refused for lack of room (53300 too many clients, 53400): callers waited instead of failing',
      (node) => node.connectionRefusals ?? 0,
    );
    /** A counter with one label whose values and counts come from the snapshot as `{ value: count }`. */
    const countsBy = (
      name: string,
      help: string,
      label: string,
      counts: (s: MetricsSnapshot) => Readonly<Record<string, number>> | undefined,
    ): void => {
      new Counter({
        name,
        help,
        labelNames: [label],
        registers,
        collect() {
          this.reset();
          for (const [value, count] of Object.entries(counts(read()) ?? {})) this.inc({ [label]: value }, count);
        },
      });
    };
    countsBy(
      'pgrouter_consistent_reads_total',
      'Read-your-writes reads, by where they ran: a replica known to be caught up, one checked in the same round trip, one waited for, or the primary',
      'outcome',
      ({ consistency: c }) =>
        c && {
          replica_known: c.readsOnReplicaKnown,
          replica_checked: c.readsOnReplicaChecked,
          replica_after_wait: c.readsOnReplicaAfterWait,
          primary: c.readsOnPrimary,
        },
    );
    cacheCounter(
      'pgrouter_failovers_total',
      'Times failover: auto made another node the primary',
      (s) => s.failovers ?? 0,
    );
    new Gauge({
      name: 'pgrouter_budget_connections',
      help: "Connections on the node at the last budget round, by holder: 'group' (every instance of the budget group), 'instance' (this one)",
      // Not one series per instance: every instance exporting every other one's would be instances² series.
      labelNames: ['node', 'holder'],
      registers,
      collect() {
        this.reset();
        for (const node of read().nodes) {
          const budget = node.budget;
          if (budget === undefined || budget === null) continue;
          this.set({ node: node.name, holder: 'group' }, budget.total);
          this.set({ node: node.name, holder: 'instance' }, budget.byInstance[budget.instance] ?? 0);
        }
      },
    });
    new Gauge({
      name: 'pgrouter_budget_limit',
      help: "Connections the budget group may hold on the node, by what: 'budget' (the group's), 'ceiling' (this instance's pool)",
      labelNames: ['node', 'limit'],
      registers,
      collect() {
        this.reset();
        for (const node of read().nodes) {
          const budget = node.budget;
          if (budget === undefined || budget === null) continue;
          if (budget.budget !== null) this.set({ node: node.name, limit: 'budget' }, budget.budget);
          if (budget.ceiling !== null) this.set({ node: node.name, limit: 'ceiling' }, budget.ceiling);
        }
      },
    });
    new Gauge({
      name: 'pgrouter_classifier_cache_entries',
      help: 'SQL texts in the classification cache',
      registers,
      collect() {
        this.set(read().classifierCache.size);
      },
    });
    countsBy(
      'pgrouter_routing_decisions_total',
      'Routing decisions: to the primary or a replica; forced by the caller; reads sent to the primary for a volatile function; read fallbacks; caller fallbacks; self-healed misroutes',
      'decision',
      ({ routing: r }) => ({
        primary: r.primary,
        replica: r.replica,
        forced: r.forced,
        volatile_function: r.volatileFunction,
        read_fallback: r.readFallbacks,
        caller_fallback: r.callerFallbacks,
        self_healed: r.selfHealed,
      }),
    );
    new Gauge({
      name: 'pgrouter_pipeline_queue_depth',
      help: 'Statements held by open pipelines, by state (queued for a batch, or held: queued or in flight)',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const pipelines = read().pipelines;
        this.set({ state: 'queued' }, pipelines.queued);
        this.set({ state: 'held' }, pipelines.held);
      },
    });
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'pgrouter_' });
  }

  /** Exports one node's histograms under its labels. */
  node(name: string, role: 'primary' | 'replica', histograms: NodeHistograms): void {
    this.roles.set(name, role);
    this.duration.add({ node: name, role }, histograms.statements);
    this.acquire.add({ node: name, role }, histograms.acquisitions);
  }

  /** Counts a breaker transition. */
  breakerEvent(node: string, event: 'open' | 'halfOpen' | 'close'): void {
    this.breakerEvents.inc({ node, role: this.roles.get(node) ?? 'primary', event });
  }

  /** Counts an adaptive resize. */
  resize(node: string, from: number, to: number): void {
    this.resizes.inc({ node, role: this.roles.get(node) ?? 'primary', direction: to > from ? 'grow' : 'shrink' });
  }

  /** Records one pipelined batch. */
  batch(size: number, ms: number): void {
    this.batchSize.observe(size);
    this.flushDuration.observe(ms / 1000);
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type of {@link text}. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
