import { EventEmitter } from 'node:events';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { QueryResult, QueryResultRow } from 'pg';
import {
  optionsFromEnv,
  resolveOptions,
  type QueryRouterOptions,
  type ResolvedNode,
  type ResolvedOptions,
} from '../config/index.js';
import {
  ConfigError,
  QueryError,
  RouterClosedError,
  TransactionRolledBackError,
  isCircuitOpenError,
} from '../errors.js';
import { HealthMonitor, NodeBreaker, isNodeFailure, parseLsn, type ReplicaLag } from '../resilience/index.js';
import type { BatchOutcome, BatchStatement } from '../pool/index.js';
import { NodePool, isConnectionLevelError, type StatementProbe } from '../pool/index.js';
import {
  PIPELINE_BACKEND,
  QueryPipeline,
  type AttachedPipeline,
  type PipelineBackend,
  type PipelineHost,
  type PipelineOptions,
  type PipelineStatement,
} from '../pipeline/index.js';
import { insertRowTemplate } from '../sql/insert-template.js';
import type { Classification, Route } from '../sql/classification.js';
import { Classifier, statementNameFor, type ClassifierEntry } from '../sql/classifier.js';
import { classifyQuery } from '../sql/classify.js';
import { FUNCTION_CATALOG_SQL, FunctionVolatility, type FunctionCatalogRow } from './function-volatility.js';
import { COLUMN_CATALOG_SQL, UnnestInserts, type ColumnCatalogRow } from './unnest-insert.js';
import { createBalancer, type ReplicaBalancer } from './replica-balancer.js';
import { checkStatement } from './statement-input.js';
import {
  Transaction,
  parseTransactionOptions,
  type TransactionClient,
  type TransactionOptions,
} from './transaction.js';
import type { RouterStats } from './router-stats.js';
import {
  AdaptiveController,
  PatternLearner,
  systemClock,
  type PatternSnapshot,
  type WorkloadForecast,
} from '../adaptive/index.js';
import {
  RouterMetrics,
  silentLogger,
  startMonitorServer,
  type MonitorServer,
  type MonitorServerOptions,
} from '../metrics/index.js';
import type { Registry } from 'prom-client';
import { logRouterEvents } from './router-log.js';
import {
  COMMIT_WITH_POSITION_SQL,
  REPLAY_POSITION_SQL,
  Sessions,
  UNKNOWN_POSITION,
  WRITE_POSITION_SQL,
  laterPosition,
  positionOfToken,
  tokenOfPosition,
  type SessionOptions,
  type SessionState,
} from './read-consistency.js';
import { PROFILES, type ConfigurationProfile, type ProfileName } from '../config/index.js';
import { PREWARM_WAIT_MS, WorkloadScopes, enterScopes, leaveScopes, type ScopePrewarm } from './workload-scope.js';
import { RoutedPool, checkResultOptions } from '../pg-compat/index.js';
import { INSPECT, inspectAs } from '../safe-inspect.js';
import type { CloseOptions, QueryOptions } from '../config/index.js';
import type { RouterEvents } from './router-events.js';
import type { InspectOptions } from 'node:util';

/** What {@link QueryRouter.patterns} returns. */
export interface WorkloadPatterns {
  /** The patterns with the highest arrival rate now, most frequent first. */
  readonly frequent: readonly PatternSnapshot[];
  readonly forecast: WorkloadForecast;
}

/** One node as the router sees it. */
interface RoutedNode {
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

const QUERY_OPTION_KEYS = new Set(['route', 'fallback', 'timeoutMs', 'signal', 'rowMode', 'types', 'after']);

// Module-level actions for the breakers: passed with their arguments, so a call allocates no closure.
const executeOn = <R extends QueryResultRow>(
  pool: NodePool,
  sql: string,
  params: readonly unknown[] | undefined,
  name: string | undefined,
  options: ProbedOptions | undefined,
): Promise<QueryResult<R>> => pool.execute<R>(sql, params, name, options?.timeoutMs, options);

/** A caller's options plus, for read-your-writes, a WAL-position probe riding in the same round trip. */
type ProbedOptions = QueryOptions & { readonly probe?: StatementProbe; readonly leavesSession?: boolean };
const acquireOn = (pool: NodePool, holder: string | undefined) => pool.acquire(holder);

/** The lag fields of a node in `stats()`: `null` for the primary and for a replica not measured yet. */
function replicaLag(
  lag: ReplicaLag | undefined,
  role: 'primary' | 'replica',
): { lagMs: number | null; lagBytes: number | null } {
  if (role === 'primary' || lag === undefined) return { lagMs: null, lagBytes: null };
  return { lagMs: Math.round(lag.ms), lagBytes: lag.bytes };
}

/** A batch that lost its connection: thrown so the breaker counts it, caught to hand the outcomes back. */
class BatchNodeFailure extends Error {
  constructor(readonly outcomes: BatchOutcome[]) {
    super('a pipelined batch failed at connection level');
  }
}

async function runBatchOn(pool: NodePool, statements: readonly BatchStatement[]): Promise<BatchOutcome[]> {
  const outcomes = await pool.runPipelined(statements);
  for (const outcome of outcomes) if (!outcome.ok && isNodeFailure(outcome.error)) throw new BatchNodeFailure(outcomes);
  return outcomes;
}

/**
 * One PostgreSQL primary and its streaming replicas behind a single `query()`.
 *
 * Each statement is classified (lexically, cached by SQL text) and sent to a replica only when it is provably a
 * read; everything else goes to the primary. Parameterised statements run as named prepared statements from a
 * bounded per-connection cache.
 *
 * @example
 * const router = new QueryRouter({ primary: process.env.DATABASE_URL!, replicas: [process.env.REPLICA_URL!] });
 * const { rows } = await router.query('SELECT * FROM users WHERE id = $1', [42]); // a replica
 * await router.query('UPDATE users SET seen_at = now() WHERE id = $1', [42]);     // the primary
 * await router.close();
 */
export class QueryRouter extends EventEmitter<RouterEvents> implements PipelineHost {
  /** The validated, frozen options in force. */
  readonly options: ResolvedOptions;
  /** The node writes go to: the configured primary, or the node a failover promoted. */
  private primary: RoutedNode;
  /** Every node but the primary, in configuration order. */
  private replicas: readonly RoutedNode[];
  /** Every node, in configuration order (the primary first); fixed. */
  private readonly nodes: readonly RoutedNode[];
  /** The primary's last health check said it is in recovery: it takes no writes. */
  private primaryInRecovery = false;
  private failovers = 0;
  /** The last "two primaries" warning, so a split is reported once. */
  private splitWarning: string | undefined;
  private readonly sessions: Sessions;
  /** Whether the one-time warning about session state sent through `query()` was given. */
  private warnedSessionState = false;
  /** The transaction whose callback is running (across awaits): a `transaction()` inside it becomes a SAVEPOINT. */
  private readonly openTransactions = new AsyncLocalStorage<Transaction>();
  private readonly consistencyCounts = {
    readsOnReplicaKnown: 0,
    readsOnReplicaChecked: 0,
    readsOnReplicaAfterWait: 0,
    readsOnPrimary: 0,
    writesTracked: 0,
  };
  private readonly classifier: Classifier;
  private readonly balancer: ReplicaBalancer;
  private readonly volatility: FunctionVolatility;
  private readonly unnestInserts: UnnestInserts;
  private readonly statementCacheEnabled: boolean;
  private readonly routed = {
    primary: 0,
    replica: 0,
    forced: 0,
    volatileFunction: 0,
    readFallbacks: 0,
    callerFallbacks: 0,
    selfHealed: 0,
  };
  /** Replicas whose breaker is not open: the only ones the balancer sees. Rebuilt on breaker events. */
  private healthyReplicas: readonly RoutedNode[] = [];
  private closing: Promise<void> | undefined;
  private readonly pipelines = new Set<AttachedPipeline>();
  private readonly health: HealthMonitor;
  private readonly learner: PatternLearner | undefined;
  private readonly adaptive: AdaptiveController;
  private readonly instruments: RouterMetrics;
  private readonly servers = new Set<MonitorServer>();
  private readonly scopes: WorkloadScopes;

  /**
   * Configuration presets — `development`, `production`, `highThroughput`, `lowLatency`, `reliable` — for the
   * pool, breaker, cache and adaptive settings; each setting's reason is documented in `src/config/profiles.ts` and
   * the README. Spread one under your options, or name it with the `profile` option to merge section by section.
   *
   * @example
   * new QueryRouter({ ...QueryRouter.profiles.production, primary, replicas });
   * new QueryRouter({ profile: 'production', primary, replicas, pool: { max: 50 } }); // keeps production's other pool settings
   */
  static readonly profiles: Readonly<Record<ProfileName, ConfigurationProfile>> = PROFILES;

  /**
   * Validates `options` (throwing {@link ConfigError} for the first bad key) and creates one pool per node.
   * Connections open lazily, except `pool.min` per node, which are opened in the background at once.
   */
  constructor(options: QueryRouterOptions) {
    super();
    this.options = resolveOptions(options);
    const { pool, statementCache, applicationName, hooks } = this.options;
    this.instruments = new RouterMetrics(() => this.stats(), this.options.metrics);
    if (this.options.logger !== silentLogger) {
      logRouterEvents(this, this.options.logger);
      this.options.logger.info(
        {
          event: 'started',
          primary: this.options.primary.label,
          replicas: this.options.replicas.map((node) => node.label),
        },
        `router started: primary ${this.options.primary.label}, ${this.options.replicas.length} replica(s)`,
      );
    }
    const makePool = (node: ResolvedNode): NodePool => {
      const { onConnect, onCheckout, onCheckin } = hooks;
      const nodePool = new NodePool({
        name: node.name,
        connection: node.config,
        ...pool,
        statementCacheMax: statementCache.max,
        statementTimeoutMs: this.options.breaker.timeoutMs,
        applicationName,
        onIdleError: (error) => this.emit('connectionError', { node: node.name, error }),
        onLeak: (leak) => this.emit('leak', leak),
        onConnectRetry: (retry, delayMs, error) =>
          this.emit('connectRetry', { node: node.name, retry, delayMs: Math.round(delayMs), error: error as Error }),
        onPressure: this.options.adaptive.enabled
          ? (waiting, busy, opening) => this.adaptive.pressure(node.name, waiting, busy, opening)
          : undefined,
        onConnect:
          onConnect === undefined ? undefined : (client) => onConnect(client, { node: node.name, role: node.role }),
        observer: {
          checkout: onCheckout === undefined ? undefined : (waitedMs) => onCheckout({ node: node.name, waitedMs }),
          checkin: onCheckin === undefined ? undefined : (heldMs) => onCheckin({ node: node.name, heldMs }),
        },
      });
      this.instruments.node(node.name, node.role, nodePool.histograms);
      return nodePool;
    };
    const makeBreaker = (node: ResolvedNode): NodeBreaker =>
      new NodeBreaker(node.name, this.options.breaker, {
        onOpen: (retryAt) => {
          this.instruments.breakerEvent(node.name, 'open');
          this.refreshHealthyReplicas();
          this.emit('breakerOpen', { node: node.name, retryAt });
        },
        onHalfOpen: () => {
          this.instruments.breakerEvent(node.name, 'halfOpen');
          this.refreshHealthyReplicas();
          this.emit('breakerHalfOpen', { node: node.name });
        },
        onClose: () => {
          this.instruments.breakerEvent(node.name, 'close');
          this.refreshHealthyReplicas();
          this.emit('breakerClose', { node: node.name });
        },
      });
    this.primary = routedNode(this.options.primary, makePool(this.options.primary), makeBreaker(this.options.primary));
    this.replicas = this.options.replicas.map((node) => routedNode(node, makePool(node), makeBreaker(node)));
    this.nodes = [this.primary, ...this.replicas];
    this.healthyReplicas = this.replicas;
    this.sessions = new Sessions(this.options);
    // The health check also reads WAL positions: with replicas (lag) or failover (who is primary) it runs at
    // least every lagCheckIntervalMs.
    const watchesPositions = this.replicas.length > 0 || this.options.failover === 'auto';
    const checkEveryMs =
      pool.healthCheckIntervalMs > 0 && watchesPositions
        ? Math.min(pool.healthCheckIntervalMs, this.options.lagCheckIntervalMs)
        : pool.healthCheckIntervalMs;
    this.health = new HealthMonitor(
      [this.options.primary, ...this.options.replicas],
      {
        intervalMs: checkEveryMs,
        timeoutMs: Math.min(2_000, pool.healthCheckIntervalMs),
        applicationName,
        primary: this.options.primary.name,
        onRound: () => this.afterHealthRound(),
      },
      (node, healthy, reason) => {
        // A node that answers its health check again gets traffic at once, instead of after resetTimeoutMs
        // (or after a trial call that hit it while it was still starting).
        if (healthy) this.nodes.find((routed) => routed.node.name === node)?.breaker.close();
        this.refreshHealthyReplicas();
        if (node === this.primary.node.name) return;
        if (healthy) this.emit('replicaUp', { node });
        else this.emit('replicaDown', { node, reason });
      },
    );
    this.health.start();
    this.classifier = new Classifier(this.options.classifierCache.max);
    this.balancer = createBalancer(this.options.loadBalancing);
    this.statementCacheEnabled = statementCache.max > 0;
    this.volatility = new FunctionVolatility(async (names) => {
      const result = await this.primary.pool.execute<FunctionCatalogRow>(FUNCTION_CATALOG_SQL, [names], undefined);
      return result.rows;
    });
    this.unnestInserts = new UnnestInserts(
      async (table, columns) =>
        (await this.primary.pool.execute<ColumnCatalogRow>(COLUMN_CATALOG_SQL, [table, columns], undefined)).rows,
      (text) => (this.statementCacheEnabled ? statementNameFor(text) : undefined),
    );
    const { adaptive } = this.options;
    this.learner =
      adaptive.maxPatterns > 0
        ? new PatternLearner({ maxPatterns: adaptive.maxPatterns, clock: systemClock })
        : undefined;
    this.adaptive = new AdaptiveController(
      [this.primary, ...this.replicas].map(({ node, pool: nodePool }) => ({
        name: node.name,
        label: node.label,
        counters: () => nodePool.stats(),
        resize: (target: number) => nodePool.resize(target, true),
      })),
      { ...adaptive, min: pool.min, max: pool.max },
      systemClock,
      {
        onResize: (node, resize) => {
          this.instruments.resize(node, resize.from, resize.to);
          this.emit('poolResize', { node, ...resize });
        },
        onWarning: (message) => this.warn(message),
      },
    );
    this.adaptive.start();
    const nodes = this.nodes;
    this.scopes = new WorkloadScopes(
      nodes.map(({ node }) => node.name),
      {
        reserve: (node, count) => nodes[node]!.pool.reserve(count),
        unreserve: (node, count) => nodes[node]!.pool.unreserve(count),
      },
      PREWARM_WAIT_MS,
      systemClock,
    );
    for (const node of [this.primary, ...this.replicas]) {
      // Pre-warm: what this hour needed in an earlier run (from the state file), else pool.min.
      const size = this.adaptive.learnedSize(node.node.name) ?? pool.min;
      node.pool.warm(size).catch((error: Error) => this.emit('connectionError', { node: node.node.name, error }));
    }
  }

  private warn(message: string): void {
    if (this.listenerCount('warning') > 0) this.emit('warning', { message });
    else process.emitWarning(message, 'PgQueryRouterWarning');
  }

  /**
   * A router configured from the environment: `DATABASE_URL` (the primary, required), `DATABASE_REPLICA_URLS`
   * (comma-separated, optional) and the `PGROUTER_*` variables listed in the README; `overrides` win.
   */
  static fromEnv(
    env: Readonly<Record<string, string | undefined>> = process.env,
    overrides: Partial<QueryRouterOptions> = {},
  ): QueryRouter {
    return new QueryRouter(optionsFromEnv(env, overrides));
  }

  /**
   * Runs one statement (or a parameterless multi-statement string) where the routing rules say, and resolves
   * with pg's `QueryResult`. Rejects with {@link QueryError} (SQLSTATE in `code`), `AcquireTimeoutError`, or
   * `RouterClosedError` after {@link close}.
   */
  async query<R extends QueryResultRow = QueryResultRow>(
    sql: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>> {
    if (this.closing !== undefined) throw new RouterClosedError();
    const entry = checkStatement(this.classifier, sql, params);
    const classification = entry.classification;
    let target = this.primary;
    const route = options === undefined ? 'auto' : this.routeOption(options);
    let read = false;
    // Provably a read: anything else that runs on the primary may write, also a SELECT of a VOLATILE function. (A
    // read may still belong on the primary: a multi-statement string, a view of the node's own state.)
    let provableRead = classification.kind === 'read' && !entry.misrouted;
    if (provableRead && classification.functions.length > 0)
      provableRead = route === 'auto' && this.replicas.length > 0 && (await this.functionsAllowReplica(classification));
    if (this.replicas.length > 0) {
      if (route === 'replica' || (route === 'auto' && provableRead && classification.route === 'replica')) {
        read = true;
        target =
          this.balancer.pick(this.healthyReplicas) ??
          (route === 'replica' || this.options.readFallback === 'replicas-only'
            ? (this.balancer.pick(this.replicas) ?? this.primary)
            : this.primary);
      }
    }
    // Read-your-writes: a read must see a WAL position (the session's writes, a token); a write in such a session
    // learns its position. Both ride a probe in the statement's own round trip.
    let probe: StatementProbe | undefined;
    let required: bigint | undefined;
    const session = this.sessions.current();
    if (session !== undefined || options?.after !== undefined) {
      if (read) {
        if (route === 'auto') required = this.requiredPosition(session, options);
        if (required !== undefined) {
          const fresh = this.freshReplica(required);
          if (fresh !== undefined) {
            target = fresh;
            this.consistencyCounts.readsOnReplicaKnown++;
          } else if (target !== this.primary) probe = { sql: REPLAY_POSITION_SQL, before: true, value: undefined };
          else this.consistencyCounts.readsOnPrimary++;
        }
      } else if (session?.consistency === 'read-your-writes' && !provableRead) {
        // Every statement that is not provably a read is a write of the session: a DML or DDL statement, a SELECT of a
        // VOLATILE function, one a replica once refused as a write (misrouted), whatever its classification says.
        probe = { sql: WRITE_POSITION_SQL, before: false, value: undefined };
      }
    }
    if (this.primaryInRecovery && target === this.primary && (classification.kind !== 'read' || entry.misrouted))
      throw this.noWritablePrimary();
    if (route !== 'auto') this.routed.forced++;
    if (target === this.primary) this.routed.primary++;
    else this.routed.replica++;
    let name: string | undefined;
    if (this.statementCacheEnabled && params !== undefined && params.length > 0)
      name = entry.statementName ??= statementNameFor(sql);
    const scopes = this.scopes.used ? this.scopes.current() : undefined;
    const scopeNode = scopes === undefined ? -1 : this.nodeIndex(target);
    if (scopes !== undefined) enterScopes(scopes, scopeNode);
    let sent: ProbedOptions | undefined = probe === undefined ? options : { ...options, probe };
    if (entry.leavesSession) {
      // Rare by design: the connection is closed after it, so the state never reaches another caller.
      this.warnSessionState();
      sent = { ...sent, leavesSession: true };
    }
    const started = performance.now();
    try {
      const result = await target.breaker.fire(executeOn<R>, target.pool, sql, params, name, sent);
      this.observe(classification, target, performance.now() - started, true);
      if (probe === undefined) return result;
      if (!probe.before) {
        this.noteWrite(session!, probe.value);
        return result;
      }
      // Kept if the replica had replayed the session's writes before the read began (replay only moves forward).
      if (this.replayedBefore(probe, target, required!)) {
        this.consistencyCounts.readsOnReplicaChecked++;
        return result;
      }
      return await this.staleRead<R>(
        target,
        required!,
        session?.waitForReplicaMs ?? this.options.waitForReplicaMs,
        entry,
        sql,
        params,
        name,
        options,
      );
    } catch (error) {
      this.observe(classification, target, performance.now() - started, false);
      const failure = target.breaker.translate(error);
      // A write whose connection failed may have committed: its position is unknown, so the session reads the primary.
      if (probe !== undefined && !probe.before && isConnectionLevelError(error)) this.noteWrite(session!, undefined);
      if (
        required !== undefined &&
        target !== this.primary &&
        (isNodeFailure(failure) || isCircuitOpenError(failure))
      ) {
        // Another replica may be further behind: only the primary surely has the session's writes.
        this.routed.readFallbacks++;
        return this.readOnPrimary<R>(entry, sql, params, name, options);
      }
      if (
        probe?.before === true &&
        (failure as { code?: unknown }).code !== '25006' &&
        !this.replayedBefore(probe, target, required!)
      ) {
        // The replica had not replayed the session's writes when the read ran: its error (42P01 for a table the
        // session just created, 42703 for a new column …) says nothing about the read. Run it where they are.
        return this.staleRead<R>(
          target,
          required!,
          session?.waitForReplicaMs ?? this.options.waitForReplicaMs,
          entry,
          sql,
          params,
          name,
          options,
        );
      }
      const result = await this.recover<R>(
        failure,
        target,
        read && route === 'auto',
        entry,
        sql,
        params,
        name,
        options,
      );
      // A misrouted write (SQLSTATE 25006) re-run on the primary: its position was not probed.
      if (session?.consistency === 'read-your-writes' && entry.misrouted) this.noteWrite(session, undefined);
      return result;
    } finally {
      if (scopes !== undefined) leaveScopes(scopes, scopeNode);
    }
  }

  /** Says once that session state does not carry across `query()` calls. */
  private warnSessionState(): void {
    if (this.warnedSessionState) return;
    this.warnedSessionState = true;
    this.warn(
      'a statement that leaves session state (SET, LISTEN, a temporary table, PREPARE, a session advisory lock, BEGIN, …) ran alone: ' +
        'its connection is closed after it, so the state does not carry to the next call. Use transaction() or asPool().connect() for work that needs it',
    );
  }

  /** The WAL position a read must see: the session's (in read-your-writes) and the caller's `after` token, whichever is later. */
  private requiredPosition(session: SessionState | undefined, options: QueryOptions | undefined): bigint | undefined {
    const own = session?.consistency === 'read-your-writes' ? session.position : undefined;
    return options?.after === undefined ? own : laterPosition(own, positionOfToken(options.after, 'query.after'));
  }

  /** A replica in the balancer known to have replayed `position` (from health checks and earlier probes). */
  private freshReplica(position: bigint): RoutedNode | undefined {
    let fresh: RoutedNode[] | undefined;
    for (const node of this.healthyReplicas) if (node.replayed >= position) (fresh ??= []).push(node);
    return fresh === undefined ? undefined : this.balancer.pick(fresh);
  }

  private noteReplayed(node: RoutedNode, position: bigint): void {
    if (position > node.replayed) node.replayed = position;
  }

  /**
   * The read-your-writes sessions of a pipeline batch's statements learn where their writes landed: the primary's
   * position read after the batch committed covers them. A statement whose connection failed may have committed
   * (its session then reads the primary); one that failed otherwise wrote nothing.
   */
  private async notePipelineWrites(
    statements: readonly PipelineStatement[],
    outcomes: readonly BatchOutcome[],
  ): Promise<void> {
    const committed = new Set<SessionState>();
    statements.forEach((statement, i) => {
      const session = statement.session as SessionState;
      const outcome = outcomes[i]!;
      if (outcome.ok) committed.add(session);
      else if (isConnectionLevelError(outcome.error) || isNodeFailure(outcome.error))
        this.noteWrite(session, undefined);
    });
    if (committed.size === 0) return;
    let lsn: unknown;
    try {
      lsn = (
        await this.primary.breaker.fire(
          executeOn<{ lsn: string }>,
          this.primary.pool,
          WRITE_POSITION_SQL,
          undefined,
          undefined,
          undefined,
        )
      ).rows[0]?.lsn;
    } catch {
      lsn = undefined; // unknown: those sessions read the primary
    }
    for (const session of committed) this.noteWrite(session, lsn);
  }

  /** Records a write of the session at `lsn` (the probe's answer); an unknown position sends its later reads to the primary. */
  private noteWrite(session: SessionState, lsn: unknown): void {
    session.position = laterPosition(session.position, parseLsn(lsn) ?? UNKNOWN_POSITION);
    this.consistencyCounts.writesTracked++;
  }

  /** Whether `target` had replayed `required` when the probe in front of a read ran (and notes what it had). */
  private replayedBefore(probe: StatementProbe, target: RoutedNode, required: bigint): boolean {
    const replayed = parseLsn(probe.value);
    if (replayed !== undefined) this.noteReplayed(target, replayed);
    return replayed !== undefined && replayed >= required;
  }

  /**
   * A read that ran on a replica not yet at `required`: after waiting up to `waitMs` for that replica to catch up,
   * run again there, else on the primary.
   */
  private async staleRead<R extends QueryResultRow>(
    target: RoutedNode,
    required: bigint,
    waitMs: number,
    entry: ClassifierEntry,
    sql: string,
    params: readonly unknown[] | undefined,
    name: string | undefined,
    options: QueryOptions | undefined,
  ): Promise<QueryResult<R>> {
    if (waitMs > 0 && (await this.waitForReplay(target, required, waitMs))) {
      try {
        const again = await target.breaker.fire(executeOn<R>, target.pool, sql, params, name, options);
        this.consistencyCounts.readsOnReplicaAfterWait++;
        this.routed.replica++;
        return again;
      } catch {
        // The replica failed meanwhile: the primary answers.
      }
    }
    return this.readOnPrimary<R>(entry, sql, params, name, options);
  }

  /** Polls `target`'s replayed position (1, 2, 4 … 16 ms apart) until it reaches `required` or `waitMs` pass. */
  private async waitForReplay(target: RoutedNode, required: bigint, waitMs: number): Promise<boolean> {
    const deadline = performance.now() + waitMs;
    for (let delay = 1; performance.now() + delay <= deadline; delay = Math.min(delay * 2, 16)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (target.replayed >= required) return true;
      try {
        const { rows } = await target.pool.execute<{ lsn: string | null }>(REPLAY_POSITION_SQL, undefined, undefined);
        const replayed = parseLsn(rows[0]?.lsn);
        if (replayed !== undefined) this.noteReplayed(target, replayed);
      } catch {
        return false;
      }
      if (target.replayed >= required) return true;
    }
    return false;
  }

  /** A read-your-writes read no replica could serve: the primary has every write. */
  private async readOnPrimary<R extends QueryResultRow>(
    entry: ClassifierEntry,
    sql: string,
    params: readonly unknown[] | undefined,
    name: string | undefined,
    options: QueryOptions | undefined,
  ): Promise<QueryResult<R>> {
    this.consistencyCounts.readsOnPrimary++;
    this.routed.primary++;
    try {
      return await this.primary.breaker.fire(executeOn<R>, this.primary.pool, sql, params, name, options);
    } catch (error) {
      return this.recover<R>(
        this.primary.breaker.translate(error),
        this.primary,
        false,
        entry,
        sql,
        params,
        name,
        options,
      );
    }
  }

  private noWritablePrimary(): QueryError {
    return new QueryError(
      'PGR_NO_PRIMARY',
      `${this.primary.node.name} is in recovery (a standby) and takes no writes${this.options.failover === 'auto' ? '; no promoted node has been found yet' : ''}`,
      {
        context: { node: this.primary.node.name },
      },
    );
  }

  /**
   * Runs `fn` as a read-your-writes session (an AsyncLocalStorage scope: everything it starts, across awaits,
   * belongs to it). With `consistency: 'read-your-writes'` (the router's option or the session's), a read after a
   * write of the session — or after a committed `transaction()` — runs on a replica only if it has replayed that
   * write, else on the primary (or after waiting up to `waitForReplicaMs` for a replica). A session inside a
   * session shares it; with options of its own it starts from the outer one's position and hands its writes back.
   *
   * @example
   * await router.session(async () => {
   *   await router.query('UPDATE profiles SET name = $1 WHERE id = $2', [name, id]);
   *   return router.query('SELECT * FROM profiles WHERE id = $1', [id]); // sees the new name
   * });
   */
  async session<T>(fn: () => T | Promise<T>, options?: SessionOptions): Promise<T> {
    if (this.closing !== undefined) throw new RouterClosedError();
    if (typeof fn !== 'function') throw new ConfigError('session', 'expects a callback () => Promise');
    const outer = this.sessions.current();
    if (outer !== undefined && options === undefined) return fn();
    const state = this.sessions.create(options);
    if (outer !== undefined) state.position = laterPosition(state.position, outer.position);
    try {
      return await this.sessions.run(state, fn);
    } finally {
      if (outer !== undefined) outer.position = laterPosition(outer.position, state.position);
    }
  }

  /**
   * A middleware for Express (`app.use(...)`) and Fastify (`addHook('onRequest', ...)`) that runs each request in
   * its own {@link session}. `token` reads a consistency token from the request (a cookie, a header) so the
   * session starts after that user's previous writes; a missing or malformed token starts a fresh session.
   *
   * @example
   * app.use(router.sessionMiddleware({ token: (req) => req.cookies['db-token'] }));
   * app.post('/profile', async (req, res) => {
   *   await router.query('UPDATE profiles SET name = $1 WHERE id = $2', [req.body.name, req.user.id]);
   *   res.cookie('db-token', router.consistencyToken() ?? '', { maxAge: 60_000 }).redirect('/profile');
   * });
   */
  sessionMiddleware<Request = unknown>(
    options?: { token?: (request: Request) => string | null | undefined } & Omit<SessionOptions, 'after'>,
  ): (request: Request, response: unknown, next: (error?: unknown) => void) => void {
    const { token, ...sessionOptions } = options ?? {};
    if (token !== undefined && typeof token !== 'function')
      throw new ConfigError('sessionMiddleware.token', 'must be a function (request) => string | undefined');
    this.sessions.create(sessionOptions);
    return (request, _response, next) => {
      const raw = token?.(request);
      const after = typeof raw === 'string' && parseLsn(raw) !== undefined ? raw : undefined;
      this.sessions.run(this.sessions.create({ ...sessionOptions, after }), () => next());
    };
  }

  /**
   * The current session's consistency token: the WAL position of its latest write (PostgreSQL's text form, e.g.
   * `"0/16B3748"`), to hand to a later request or another process (`{ after: token }`, `session(fn, { after })`).
   * `undefined` outside a read-your-writes session and before its first write.
   */
  consistencyToken(): string | undefined {
    const position = this.sessions.current()?.position;
    return position === undefined ? undefined : tokenOfPosition(position);
  }

  /** A node's index in the order scopes count them: configuration order, the configured primary first. */
  private nodeIndex(target: RoutedNode): number {
    return this.nodes.indexOf(target);
  }

  /**
   * Runs `fn` as a named workload scope: every statement and transaction started inside it (through
   * AsyncLocalStorage, across awaits) is tagged with `name`, and the scope's peak of concurrent statements per node
   * is learned, so {@link prewarm} can open that many connections before its next run. Scopes nest: a statement
   * counts towards every scope around it. Costs nothing until the first scope runs; then one AsyncLocalStorage
   * read per statement (and, on Node 20, AsyncLocalStorage's promise hooks stay on for the process, as after any
   * use of it). A bad name rejects with `ConfigError`.
   *
   * @example
   * await router.prewarm('nightly-report');              // opens what the last run needed
   * await router.scope('nightly-report', () => buildReport(router));
   */
  scope<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    if (this.closing !== undefined) return Promise.reject(new RouterClosedError());
    return this.scopes.run(name, fn);
  }

  /**
   * Opens, on each node, as many connections as scope `name` had statements in flight at its peak last time (at
   * once, above the adaptive target if need be), and keeps them until the scope's next run ends — then each pool
   * returns to its adaptive target. If the scope does not start within a minute ({@link PREWARM_WAIT_MS}), the
   * reservation lapses. Resolves once the connections are open; a scope that never completed a run warms nothing.
   * Without adaptive sizing the connections are ordinary idle ones, closed by `pool.idleTimeoutMs` if unused.
   */
  async prewarm(name: string): Promise<ScopePrewarm> {
    if (this.closing !== undefined) throw new RouterClosedError();
    return this.scopes.prewarm(name);
  }

  private observe(classification: Classification, target: RoutedNode, durationMs: number, ok: boolean): void {
    this.learner?.record(classification, target.role, durationMs, ok);
    const slowMs = this.options.slowQueryMs;
    if (slowMs > 0 && durationMs >= slowMs)
      this.emit('slowQuery', { node: target.node.name, fingerprint: classification.fingerprint, durationMs });
  }

  /** The router's own prom-client registry (never the global one): mount it, merge it, or read {@link metricsText}. */
  get metrics(): Registry {
    return this.instruments.registry;
  }

  /** Every metric in Prometheus' text format. */
  metricsText(): Promise<string> {
    return this.instruments.text();
  }

  /**
   * Starts the monitor server: `/metrics` (Prometheus), `/health` (200, or 503 with the reasons), `/stats` (the
   * JSON snapshot), `/events` (the snapshot every `intervalMs` as Server-Sent Events) and the live dashboard at
   * `/`. Listens on `127.0.0.1` and a free port unless told otherwise; closed by {@link close}.
   */
  async serve(options?: MonitorServerOptions): Promise<MonitorServer> {
    if (this.closing !== undefined) throw new RouterClosedError();
    const server = await startMonitorServer(
      {
        stats: () => this.stats(),
        metricsText: () => this.metricsText(),
        metricsContentType: this.instruments.contentType,
      },
      options,
    );
    this.servers.add(server);
    return {
      url: server.url,
      port: server.port,
      close: async () => {
        this.servers.delete(server);
        await server.close();
      },
    };
  }

  /**
   * What the router learned of the workload: the `top` most frequent query patterns now (by arrival rate) and
   * the forecast by hour of the day (UTC) with a recommended pool size per node.
   */
  patterns(top = 10): WorkloadPatterns {
    if (!Number.isInteger(top) || top < 0)
      throw new ConfigError('patterns.top', `must be an integer ≥ 0, got ${JSON.stringify(top)}`);
    return { frequent: this.learner?.top(top) ?? [], forecast: this.adaptive.forecast() };
  }

  /**
   * After a statement failed on `failed`: a read that a replica could not serve (connection failure, open
   * breaker) is tried once on another healthy replica, then on the primary (unless `readFallback` is
   * `'replicas-only'`); a write that a replica refused as read-only (SQLSTATE 25006, a misroute) runs on the
   * primary and its cached verdict is corrected. Writes are never retried otherwise: they may have committed.
   * What still fails because of a node goes to the caller's fallback, if any.
   */
  private async recover<R extends QueryResultRow>(
    error: unknown,
    failed: RoutedNode,
    autoRead: boolean,
    entry: ClassifierEntry,
    sql: string,
    params: readonly unknown[] | undefined,
    name: string | undefined,
    options: QueryOptions | undefined,
  ): Promise<QueryResult<R>> {
    let lastError = error;
    if (failed !== this.primary && (error as { code?: unknown })?.code === '25006' && autoRead) {
      entry.misrouted = true;
      this.routed.selfHealed++;
      return this.primary.breaker.call(executeOn<R>, this.primary.pool, sql, params, name, options);
    }
    const nodeFailure = isNodeFailure(error) || isCircuitOpenError(error);
    if (nodeFailure && autoRead && failed !== this.primary) {
      const candidates = this.healthyReplicas.filter((node) => node !== failed);
      const next =
        this.balancer.pick(candidates) ?? (this.options.readFallback === 'primary' ? this.primary : undefined);
      if (next !== undefined) {
        this.routed.readFallbacks++;
        try {
          return await next.breaker.call(executeOn<R>, next.pool, sql, params, name, options);
        } catch (retryError) {
          lastError = retryError;
          if (
            next !== this.primary &&
            this.options.readFallback === 'primary' &&
            (isNodeFailure(retryError) || isCircuitOpenError(retryError))
          ) {
            try {
              return await this.primary.breaker.call(executeOn<R>, this.primary.pool, sql, params, name, options);
            } catch (primaryError) {
              lastError = primaryError;
            }
          }
        }
      }
    }
    const handler = options?.fallback ?? this.options.fallback;
    if (handler !== undefined && (isNodeFailure(lastError) || isCircuitOpenError(lastError))) {
      this.routed.callerFallbacks++;
      return (await handler(lastError as Error, sql)) as QueryResult<R>;
    }
    throw lastError;
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
          this.warn(`${name} ${diverged}: out of the balancer until it follows the primary again`);
      }
      const lag = this.health.lag(name);
      const lagging =
        lag !== undefined &&
        ((maxReplicaLagMs > 0 && lag.ms > maxReplicaLagMs) ||
          (maxReplicaLagBytes > 0 && lag.bytes > maxReplicaLagBytes));
      if (lagging === node.lagging) continue;
      node.lagging = lagging;
      if (lagging) this.emit('replicaLagging', { node: name, lagMs: Math.round(lag!.ms), lagBytes: lag!.bytes });
      else this.emit('replicaCaughtUp', { node: name });
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
    const promoted = this.nodes.filter(
      (node) =>
        node !== this.primary &&
        this.health.isHealthy(node.node.name) &&
        this.health.isStandby(node.node.name) === false,
    );
    if (promoted.length > 1) {
      const message = `failover: ${promoted.map((node) => node.node.name).join(' and ')} all say they are primaries; writes wait until only one does`;
      // Once per split, not once per health check round.
      if (message !== this.splitWarning) this.warn(message);
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
    this.replicas = this.nodes.filter((node) => node !== next);
    this.primaryInRecovery = false;
    this.health.setPrimary(next.node.name);
    next.breaker.close();
    this.failovers++;
    this.options.logger.warn(
      { event: 'primaryChanged', from: from.node.name, to: next.node.name },
      `primary changed from ${from.node.name} to ${next.node.name}`,
    );
    this.emit('primaryChanged', { from: from.node.name, to: next.node.name });
  }

  private routeOption(options: QueryOptions): 'auto' | Route {
    if (typeof options !== 'object' || options === null) throw new ConfigError('query options', 'must be an object');
    for (const key in options) {
      if (!QUERY_OPTION_KEYS.has(key))
        throw new ConfigError(`query.${key}`, `unknown option; expected one of ${[...QUERY_OPTION_KEYS].join(', ')}`);
    }
    const route = options.route ?? 'auto';
    if (route !== 'auto' && route !== 'primary' && route !== 'replica') {
      throw new ConfigError('query.route', `must be 'auto', 'primary' or 'replica', got ${JSON.stringify(route)}`);
    }
    if (options.fallback !== undefined && typeof options.fallback !== 'function')
      throw new ConfigError('query.fallback', 'must be a function (error, sql) => result');
    if (
      options.timeoutMs !== undefined &&
      (typeof options.timeoutMs !== 'number' || !Number.isInteger(options.timeoutMs) || options.timeoutMs < 0)
    ) {
      throw new ConfigError('query.timeoutMs', `must be an integer ≥ 0, got ${JSON.stringify(options.timeoutMs)}`);
    }
    checkResultOptions(options);
    if (options.after !== undefined) positionOfToken(options.after, 'query.after');
    return route;
  }

  private async functionsAllowReplica(classification: Classification): Promise<boolean> {
    let verdict = this.volatility.known(classification.functions);
    if (verdict === undefined) {
      try {
        verdict = await this.volatility.check(classification.functions);
      } catch {
        // The catalog cannot be read (the primary is unreachable): the safe answer is the primary.
        this.routed.volatileFunction++;
        return false;
      }
    }
    if (!verdict.safe) this.routed.volatileFunction++;
    return verdict.safe;
  }

  /**
   * Runs `fn` inside one transaction on one connection: `BEGIN` (with the isolation level and access mode
   * asked for), the callback's statements, then `COMMIT`; `ROLLBACK` if the callback throws or a statement
   * fails, and the error is rethrown. Runs on the primary, except `readOnly` transactions, which may run on a
   * replica.
   *
   * @example
   * await router.transaction(async (tx) => {
   *   await tx.query('UPDATE accounts SET balance = balance - $1 WHERE id = $2', [100, from]);
   *   await tx.query('UPDATE accounts SET balance = balance + $1 WHERE id = $2', [100, to]);
   * }, { isolationLevel: 'serializable' });
   */
  async transaction<T>(fn: (tx: TransactionClient) => Promise<T>, options?: TransactionOptions): Promise<T> {
    // Taken before the first await, so a leak report names the caller's own code.
    const holder = this.options.pool.leakStackTraces ? new Error('connection checked out here').stack : undefined;
    if (this.closing !== undefined) throw new RouterClosedError();
    if (typeof fn !== 'function') throw new ConfigError('transaction', 'expects a callback (tx) => Promise');
    // Called inside a transaction's callback: a SAVEPOINT on that transaction's connection, as query builders do,
    // never a second connection (whose work would commit even if the outer one rolled back, or wait for its locks).
    const outer = this.openTransactions.getStore();
    if (outer !== undefined && !outer.isFinished) return outer.transaction(fn, options);
    const { begin, readOnly, serializable } = parseTransactionOptions(options);
    let target = readOnly && !serializable ? (this.balancer.pick(this.healthyReplicas) ?? this.primary) : this.primary;
    // In a read-your-writes session a read-only transaction needs a replica known to have the session's writes;
    // a writing one reports its commit's position.
    const session = this.sessions.current();
    const rywSession = session?.consistency === 'read-your-writes' ? session : undefined;
    if (target !== this.primary && rywSession?.position !== undefined)
      target = this.freshReplica(rywSession.position) ?? this.primary;
    const track = rywSession !== undefined && target === this.primary && !readOnly ? rywSession : undefined;
    if (target === this.primary) this.routed.primary++;
    else this.routed.replica++;
    const scopes = this.scopes.used ? this.scopes.current() : undefined;
    if (scopes === undefined) return this.transactionOn(target, fn, begin, holder, track);
    // A transaction holds one connection of its node throughout: it counts as one statement in flight there.
    const node = this.nodeIndex(target);
    enterScopes(scopes, node);
    try {
      return await this.transactionOn(target, fn, begin, holder, track);
    } finally {
      leaveScopes(scopes, node);
    }
  }

  private async transactionOn<T>(
    target: RoutedNode,
    fn: (tx: TransactionClient) => Promise<T>,
    begin: string,
    holder: string | undefined,
    track: SessionState | undefined,
  ): Promise<T> {
    const connection = await target.breaker.call(acquireOn, target.pool, holder);
    const tx = new Transaction(target.node.name, connection, this.classifier, this.statementCacheEnabled);
    let begun = false;
    let result: T;
    let committed: string | undefined;
    try {
      await connection.query(begin);
      begun = true;
      result = await this.openTransactions.run(tx, fn, tx);
      tx.finish();
      if (track === undefined) committed = (await connection.query('COMMIT')).command;
      else {
        // COMMIT and the position covering it in one round trip; pg answers a multi-statement string with one result each.
        const results = (await connection.query(COMMIT_WITH_POSITION_SQL)) as unknown;
        committed = Array.isArray(results) ? (results[0] as QueryResult | undefined)?.command : undefined;
        this.noteWrite(
          track,
          Array.isArray(results) ? (results[1] as QueryResult<{ lsn: string }> | undefined)?.rows[0]?.lsn : undefined,
        );
      }
    } catch (error) {
      tx.finish();
      if (!begun) {
        connection.release(isConnectionLevelError(error));
        throw error;
      }
      try {
        await connection.query('ROLLBACK');
        connection.release();
      } catch {
        connection.release(true);
      }
      throw error;
    }
    connection.release();
    // PostgreSQL answers COMMIT of a failed transaction with the tag ROLLBACK, not an error: nothing was kept.
    if (committed === 'ROLLBACK') throw new TransactionRolledBackError(target.node.name, { cause: tx.failure });
    return result;
  }

  /**
   * How `sql` would be routed, without running it: `{ route, kind, reason, fingerprint, tables, … , cached }`.
   * Never throws for a string. Calls of user-defined functions are judged from the catalog cache when their
   * volatility is already known.
   */
  explain(sql: string): Classification {
    if (typeof sql !== 'string') return classifyQuery(sql);
    const cached = this.classifier.peek(sql);
    const entry = cached ?? this.classifier.classify(sql);
    let result: Classification = { ...entry.classification, cached: cached !== undefined };
    if (entry.leavesSession) {
      result = {
        ...result,
        reason: `${result.reason}; sent alone, its connection is closed after it, so its session state does not carry to the next call (use transaction() or asPool().connect())`,
      };
    }
    if (cached?.misrouted === true)
      result = {
        ...result,
        route: 'primary',
        kind: 'write',
        reason: 'a replica refused it as a write (SQLSTATE 25006); now sent to the primary',
      };
    if (result.route === 'replica' && result.functions.length > 0) {
      const verdict = this.volatility.known(result.functions);
      if (verdict === undefined)
        result = {
          ...result,
          reason: `${result.reason}; volatility of ${result.functions.join(', ')} not looked up yet`,
        };
      else if (!verdict.safe) result = { ...result, route: 'primary', kind: 'write', reason: verdict.reason };
    }
    return Object.freeze(result);
  }

  /**
   * A {@link QueryPipeline} writing to the primary: statements queued with `addQuery` go out in batches, one
   * round trip per batch. `close()` of the router flushes every pipeline it made.
   *
   * @example
   * const pipeline = router.pipeline({ batchSize: 200, mode: 'independent' });
   * const done = events.map((e) => pipeline.addQuery('INSERT INTO events (kind, body) VALUES ($1, $2)', [e.kind, e.body]));
   * await pipeline.flush();
   */
  pipeline(options?: PipelineOptions): QueryPipeline {
    if (this.closing !== undefined) throw new RouterClosedError();
    return new QueryPipeline(this, options);
  }

  /**
   * A `pg.Pool`-shaped view of the router for code written against `pg.Pool`, Drizzle's node-postgres driver and
   * Kysely's `PostgresDialect`: `query()` routes each statement as {@link query} does; `connect()` hands out a
   * client that routes statement by statement until a transaction or session state pins it to one connection.
   * `end()` closes the router. See {@link RoutedPool}.
   *
   * @example
   * const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: router.asPool() }) });
   */
  asPool(): RoutedPool {
    if (this.closing !== undefined) throw new RouterClosedError();
    return new RoutedPool(this, {
      entry: (sql, params) => checkStatement(this.classifier, sql, params),
      statementName: (sql, entry) =>
        this.statementCacheEnabled && entry.classification.paramCount > 0
          ? (entry.statementName ??= statementNameFor(sql))
          : undefined,
      pin: async (readOnly, holder) => {
        let target = readOnly ? (this.balancer.pick(this.healthyReplicas) ?? this.primary) : this.primary;
        const session = this.sessions.current();
        if (session?.consistency === 'read-your-writes') {
          if (target !== this.primary && session.position !== undefined)
            target = this.freshReplica(session.position) ?? this.primary;
          // What a pinned client commits is not probed: the session's later reads go to the primary, never stale.
          if (target === this.primary && !readOnly) this.noteWrite(session, undefined);
        }
        if (target === this.primary) this.routed.primary++;
        else this.routed.replica++;
        return { node: target.node.name, connection: await target.breaker.call(acquireOn, target.pool, holder) };
      },
      pools: () => [this.primary, ...this.replicas].map(({ pool }) => pool.stats()),
    });
  }

  /** The narrow interface a {@link QueryPipeline} uses; not part of the router's API. */
  [PIPELINE_BACKEND](): PipelineBackend {
    return {
      prepare: (sql, params) => {
        if (this.closing !== undefined) throw new RouterClosedError();
        if (this.primary.breaker.isOpen) throw this.primary.breaker.openError();
        const entry = checkStatement(this.classifier, sql, params);
        const text = sql as string;
        const values = (params ?? undefined) as readonly unknown[] | undefined;
        if (entry.rowTemplate === undefined) entry.rowTemplate = insertRowTemplate(text) ?? null;
        let statementName: string | undefined;
        if (this.statementCacheEnabled && values !== undefined && values.length > 0)
          statementName = entry.statementName ??= statementNameFor(text);
        const { kind, statementCount, fingerprintHash } = entry.classification;
        const groupable = statementCount === 1 && (kind === 'read' || kind === 'write');
        const current = this.sessions.current();
        const session = current?.consistency === 'read-your-writes' ? current : undefined;
        if (entry.leavesSession) this.warnSessionState();
        return {
          text,
          values,
          statementName,
          fingerprintHash,
          rowTemplate: entry.rowTemplate ?? undefined,
          groupable,
          session,
          leavesSession: entry.leavesSession,
        };
      },
      written: (statements, outcomes) => this.notePipelineWrites(statements, outcomes),
      unnestInsert: (template) => this.unnestInserts.get(template),
      forgetUnnestInsert: (template) => this.unnestInserts.forget(template),
      run: async (statements) => {
        this.routed.primary += statements.length;
        try {
          return await this.primary.breaker.call(runBatchOn, this.primary.pool, statements);
        } catch (error) {
          if (error instanceof BatchNodeFailure) return error.outcomes;
          return statements.map(() => ({ ok: false, error: error as Error }));
        }
      },
      batchDone: (size, durationMs) => this.instruments.batch(size, durationMs),
      attach: (pipeline) => {
        this.pipelines.add(pipeline);
        return () => this.pipelines.delete(pipeline);
      },
    };
  }

  /** What `console.log(router)` shows: the nodes by label, never the pools (and secrets) behind them. */
  [INSPECT](depth: number, options: InspectOptions): string {
    return inspectAs(
      'QueryRouter',
      {
        primary: this.primary.node.label,
        replicas: this.replicas.map((replica) => replica.node.label),
        closed: this.closing !== undefined,
      },
      depth,
      options,
    );
  }

  /** A JSON-serialisable snapshot of the router: nodes, pools, routing counts and caches. */
  stats(): RouterStats {
    const nodes = [this.primary, ...this.replicas].map(({ node, pool, breaker, role, lagging, diverged }) => {
      const pool_ = pool.stats();
      return {
        name: node.name,
        role,
        inRecovery: this.health.isStandby(node.name) ?? null,
        lagging,
        url: node.label,
        healthy: this.health.isHealthy(node.name),
        lastHealthError: this.health.lastError(node.name),
        breaker: breaker.state.state,
        breakerOpens: breaker.opens,
        pool: {
          total: pool_.total,
          idle: pool_.idle,
          active: pool_.active,
          waiting: pool_.waiting,
          target: pool_.target,
          max: pool_.max,
          reserved: pool_.reserved,
        },
        queries: pool_.queries,
        errors: pool_.errors,
        inFlight: pool_.inFlight,
        latencyMs: pool_.latencyMs,
        latencyP50Ms: pool_.latencyP50Ms,
        latencyP99Ms: pool_.latencyP99Ms,
        acquireMeanMs: pool_.acquireMeanMs,
        acquireP99Ms: pool_.acquireP99Ms,
        statementCache: pool_.statementCache,
        ...replicaLag(this.health.lag(node.name), role),
        timeline: this.health.timeline(node.name) ?? null,
        diverged: role === 'replica' ? (diverged ?? null) : null,
        connections: pool_.connections,
        recycled: pool_.recycled,
        connectRetries: pool_.connectRetries,
        leanBatches: pool_.leanBatches,
      };
    });
    const rate = (hits: number, misses: number): number => (hits + misses === 0 ? 0 : hits / (hits + misses));
    const statement = nodes.reduce(
      (sum, node) => ({
        hits: sum.hits + node.statementCache.hits,
        misses: sum.misses + node.statementCache.misses,
        evictions: sum.evictions + node.statementCache.evictions,
      }),
      { hits: 0, misses: 0, evictions: 0 },
    );
    const pipelines = {
      open: this.pipelines.size,
      queued: 0,
      held: 0,
      batches: 0,
      statements: 0,
      failed: 0,
      coalesced: 0,
    };
    for (const pipeline of this.pipelines) {
      const one = pipeline.stats();
      pipelines.queued += one.queued;
      pipelines.held += one.held;
      pipelines.batches += one.batches;
      pipelines.statements += one.statements;
      pipelines.failed += one.failed;
      pipelines.coalesced += one.coalesced;
    }
    return {
      closed: this.closing !== undefined,
      nodes,
      pipelines,
      routing: {
        ...this.routed,
        catalogLookups: this.volatility.lookups,
        replicasAvailable: this.healthyReplicas.length,
        readsOnPrimary: this.replicas.length === 0 || this.healthyReplicas.length === 0,
        readsOnPrimaryReason: this.readsOnPrimaryReason(),
      },
      primary: this.primary.node.name,
      failovers: this.failovers,
      consistency: { mode: this.options.consistency, ...this.consistencyCounts },
      classifierCache: {
        size: this.classifier.size,
        max: this.classifier.max,
        hits: this.classifier.hits,
        misses: this.classifier.misses,
        hitRate: rate(this.classifier.hits, this.classifier.misses),
      },
      statementCache: {
        ...statement,
        maxPerConnection: this.options.statementCache.max,
        hitRate: rate(statement.hits, statement.misses),
      },
      adaptive: {
        enabled: this.options.adaptive.enabled,
        patternsTracked: this.learner?.size ?? 0,
        patternsEvicted: this.learner?.evicted ?? 0,
      },
      patterns: this.learner?.top(10) ?? [],
      scopes: this.scopes.snapshot(),
    };
  }

  /** Why no replica takes reads now, replica by replica; `null` while one does. */
  private readsOnPrimaryReason(): string | null {
    if (this.replicas.length === 0) return 'no replicas are configured';
    if (this.healthyReplicas.length > 0) return null;
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
        return `${name}: lags ${Math.round(lag.ms)} ms / ${lag.bytes} bytes (maxReplicaLagMs ${this.options.maxReplicaLagMs}${this.options.maxReplicaLagBytes > 0 ? `, maxReplicaLagBytes ${this.options.maxReplicaLagBytes}` : ''})`;
      return `${name}: unavailable`;
    });
    return why.join('; ');
  }

  /**
   * Stops taking statements, waits for the ones running, and closes every connection. Idempotent; later calls
   * of `query()` and `transaction()` reject with `RouterClosedError`.
   */
  close(options?: CloseOptions): Promise<void> {
    const timeoutMs = options?.timeoutMs;
    if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs < 0)) {
      return Promise.reject(
        new ConfigError('close.timeoutMs', `must be an integer ≥ 0, got ${JSON.stringify(timeoutMs)}`),
      );
    }
    this.closing ??= (async () => {
      const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
      this.health.stop();
      this.adaptive.stop();
      this.scopes.clear();
      const servers = Promise.all([...this.servers].map((server) => server.close()));
      this.servers.clear();
      // Pipelines first: what they accepted is written before the pools close.
      const pipelines = Promise.all([...this.pipelines].map((pipeline) => pipeline.close()));
      await (deadline === undefined
        ? pipelines
        : Promise.race([
            pipelines,
            new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref()),
          ]));
      await Promise.all([this.primary, ...this.replicas].map((node) => node.pool.end(deadline)));
      for (const node of [this.primary, ...this.replicas]) node.breaker.shutdown();
      await servers;
      this.options.logger.info({ event: 'closed' }, 'router closed');
    })();
    return this.closing;
  }
}
