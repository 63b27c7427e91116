import { EventEmitter } from 'node:events';
import type { InspectOptions } from 'node:util';
import type { QueryResult, QueryResultRow } from 'pg';
import type { Registry } from 'prom-client';
import {
  PROFILES,
  optionsFromEnv,
  resolveOptions,
  closeTimeoutOf,
  type CloseOptions,
  type ConfigurationProfile,
  type ProfileName,
  type QueryOptions,
  type QueryRouterOptions,
  type ResolvedOptions,
} from '../config/index.js';
import { ConfigError, RouterClosedError } from '../errors.js';
import {
  AdaptiveController,
  PatternLearner,
  systemClock,
  type PatternSnapshot,
  type WorkloadForecast,
} from '../adaptive/index.js';
import {
  RouterMetrics,
  RouterTracing,
  silentLogger,
  type MonitorHandler,
  type MonitorHandlerOptions,
  type MonitorServer,
  type MonitorServerOptions,
} from '../metrics/index.js';
import { RoutedPool, type PoolConnectionEvents } from '../pg-compat/index.js';
import {
  PIPELINE_BACKEND,
  QueryPipeline,
  type AttachedPipeline,
  type PipelineBackend,
  type PipelineHost,
  type PipelineOptions,
} from '../pipeline/index.js';
import { INSPECT, inspectAs } from '../safe-inspect.js';
import type { Classification } from '../sql/index.js';
import { NodeChoice } from './node-choice.js';
import { NodeSet } from './node-set.js';
import { createPipelineBackend } from './pipeline-backend.js';
import type { SessionOptions } from './read-consistency.js';
import { ReadFallback } from './read-fallback.js';
import { ReadYourWrites } from './read-your-writes.js';
import type { RouterEvents } from './router-events.js';
import { logRouterEvents } from './router-log.js';
import type { RouterStats } from './router-stats.js';
import { RouterMonitors } from './router-monitors.js';
import { RouterWarnings } from './router-warnings.js';
import { acquireFrom } from './statement-call.js';
import { StatementRouting } from './statement-routing.js';
import { assembleStats, type StatsParts } from './stats-assembly.js';
import type { TransactionClient, TransactionOptions } from './transaction.js';
import { TransactionRunner } from './transaction-runner.js';
import { PREWARM_WAIT_MS, WorkloadScopes, type ScopePrewarm } from './workload-scope.js';

/** What {@link QueryRouter.patterns} returns. */
export interface WorkloadPatterns {
  /** The patterns with the highest arrival rate now, most frequent first. */
  readonly frequent: readonly PatternSnapshot[];
  readonly forecast: WorkloadForecast;
}

/**
 * One PostgreSQL primary and its streaming replicas behind a single `query()`.
 *
 * Each statement is classified (lexically, cached by SQL text) and sent to a replica only when it is provably a
 * read; everything else goes to the primary. Parameterised statements run as named prepared statements from a
 * bounded per-connection cache.
 *
 * This class only wires the parts together and checks the caller's arguments: the nodes and their health live in
 * `NodeSet`, the choice of a node in `NodeChoice`, one statement's path in `StatementRouting`, read-your-writes in
 * `ReadYourWrites`, fallbacks in `ReadFallback`, transactions in `TransactionRunner`.
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
  private readonly nodes: NodeSet;
  private readonly choice: NodeChoice;
  private readonly statements: StatementRouting;
  private readonly readYourWrites: ReadYourWrites;
  private readonly transactions: TransactionRunner;
  private readonly learner: PatternLearner | undefined;
  private readonly adaptive: AdaptiveController;
  private readonly instruments: RouterMetrics;
  private readonly scopes: WorkloadScopes;
  private readonly pipelines = new Set<AttachedPipeline>();
  private readonly pipelineBackend: PipelineBackend;
  private readonly statsParts: StatsParts;
  private readonly monitors: RouterMonitors;
  private readonly connections = new EventEmitter<PoolConnectionEvents>();
  private closing: Promise<void> | undefined;

  /**
   * Configuration presets — `development`, `production`, `highThroughput`, `lowLatency`, `reliable` — for the
   * pool, breaker, cache and adaptive settings; each setting's reason is documented in `src/config/profiles.ts` and
   * `docs/operations.md`. Spread one under your options, or name it with the `profile` option to merge section by section.
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
    const resolved = (this.options = resolveOptions(options));
    const { pool, adaptive, logger } = resolved;
    // First: a missing @opentelemetry/api fails the constructor before any pool or timer exists.
    const tracing = resolved.tracing ? new RouterTracing() : undefined;
    this.instruments = new RouterMetrics(() => this.stats(), resolved.metrics);
    this.monitors = new RouterMonitors(() => this.stats(), this.instruments);
    const replicas = resolved.replicas.map((node) => node.label);
    if (logger !== silentLogger) logRouterEvents(this, logger, { primary: resolved.primary.label, replicas });
    const warnings = new RouterWarnings(this);
    const nodes = (this.nodes = new NodeSet(resolved, {
      events: this,
      connections: this.connections,
      instruments: this.instruments,
      warn: (message) => warnings.warn(message),
      pressure: adaptive.enabled
        ? (node, waiting, busy, opening) => this.adaptive.pressure(node, waiting, busy, opening)
        : undefined,
    }));
    const choice = (this.choice = new NodeChoice(nodes, resolved));
    const fallback = new ReadFallback(nodes, choice, resolved);
    const readYourWrites = (this.readYourWrites = new ReadYourWrites(resolved, nodes, choice, fallback));
    this.learner =
      adaptive.maxPatterns > 0
        ? new PatternLearner({ maxPatterns: adaptive.maxPatterns, clock: systemClock })
        : undefined;
    this.adaptive = new AdaptiveController(
      nodes.sizedPools(),
      { ...adaptive, min: pool.min, max: pool.max },
      systemClock,
      {
        onResize: (node, resize) => {
          this.instruments.resize(node, resize.from, resize.to);
          this.emit('poolResize', { node, ...resize });
        },
        onWarning: (message) => warnings.warn(message),
      },
    );
    this.adaptive.start();
    const names = nodes.all.map(({ node }) => node.name);
    const scopes = (this.scopes = new WorkloadScopes(names, nodes.scopePools(), PREWARM_WAIT_MS, systemClock));
    const parts = {
      options: resolved,
      nodes,
      choice,
      readYourWrites,
      fallback,
      scopes,
      learner: this.learner,
      tracing,
    };
    const statements = (this.statements = new StatementRouting({ ...parts, warnings, events: this }));
    this.transactions = new TransactionRunner({ ...parts, statements });
    this.pipelineBackend = createPipelineBackend({
      ...parts,
      statements,
      warnings,
      instruments: this.instruments,
      pipelines: this.pipelines,
      closed: () => this.closing !== undefined,
    });
    this.statsParts = { ...parts, statements, pipelines: this.pipelines };
    // Pre-warm: what this hour needed in an earlier run (from the state file), else pool.min.
    nodes.warm((node) => this.adaptive.learnedSize(node) ?? pool.min);
  }

  /**
   * A router configured from the environment: `DATABASE_URL` (the primary, required), `DATABASE_REPLICA_URLS`
   * (comma-separated, optional) and the `PGROUTER_*` variables listed in `docs/configuration.md`; `overrides` win.
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
  query<R extends QueryResultRow = QueryResultRow>(
    sql: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>> {
    // Not an async function: returning run()'s own promise saves the hops of wrapping it in another.
    if (this.closing !== undefined) return Promise.reject(new RouterClosedError());
    return this.statements.run<R>(sql, params, options);
  }

  /**
   * Runs `fn` as a read-your-writes session (an AsyncLocalStorage scope: everything it starts, across awaits,
   * belongs to it): a read after a write of the session — or after a committed `transaction()` — runs on a replica
   * only if it has replayed that write, else on the primary (or after waiting up to `waitForReplicaMs` for a
   * replica). `{ consistency: 'eventual' }` opts out. A session inside a session shares it; with options of its own
   * it starts from the outer one's position and hands its writes back.
   *
   * @example
   * await router.session(async () => {
   *   await router.query('UPDATE profiles SET name = $1 WHERE id = $2', [name, id]);
   *   return router.query('SELECT * FROM profiles WHERE id = $1', [id]); // sees the new name
   * });
   */
  async session<T>(fn: () => T | Promise<T>, options?: SessionOptions): Promise<T> {
    if (this.closing !== undefined) throw new RouterClosedError();
    return this.readYourWrites.session(fn, options);
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
    return this.readYourWrites.middleware(options);
  }

  /**
   * The current session's consistency token: the WAL position of its latest write (PostgreSQL's text form, e.g.
   * `"0/16B3748"`), to hand to a later request or another process (`{ after: token }`, `session(fn, { after })`).
   * `undefined` outside a read-your-writes session and before its first write.
   */
  consistencyToken(): string | undefined {
    return this.readYourWrites.token();
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
    return this.monitors.serve(options);
  }

  /**
   * The same routes as {@link serve}, as a handler to mount in an app of your own, closed with the router:
   * Express/Connect middleware (`app.use('/monitor', router.monitorHandler())`, other paths go to `next`), or a
   * plain `node:http`/Fastify handler with `basePath` (404 for other paths). Access is the app's, plus `auth`.
   */
  monitorHandler(options?: MonitorHandlerOptions): MonitorHandler {
    if (this.closing !== undefined) throw new RouterClosedError();
    return this.monitors.handler(options);
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
   * Runs `fn` inside one transaction on one connection: `BEGIN` (with the isolation level and access mode
   * asked for), the callback's statements, then `COMMIT`; `ROLLBACK` if the callback throws or a statement
   * fails, and the error is rethrown. Runs on the primary, except `readOnly` transactions, which may run on a
   * replica. Inside another transaction's callback it becomes a SAVEPOINT of that transaction.
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
    return this.transactions.run(fn, options, holder);
  }

  /**
   * How `sql` would be routed, without running it: `{ route, kind, reason, fingerprint, tables, … , cached }`.
   * Never throws for a string. Calls of user-defined functions are judged from the catalog cache when their
   * volatility is already known.
   */
  explain(sql: string): Classification {
    return this.statements.explain(sql);
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
    const { statements, readYourWrites, choice, nodes } = this;
    return new RoutedPool(this, {
      connections: this.connections,
      entry: (sql, params) => statements.entry(sql, params),
      statementName: (sql, entry) => statements.statementName(entry, sql, entry.classification.paramCount),
      pin: async (readOnly, holder) => {
        const session = readYourWrites.current();
        const ryw = session?.consistency === 'read-your-writes' ? session : undefined;
        const target = choice.forConnection(readOnly, readYourWrites.positionOf(ryw));
        // What a pinned client commits is not probed: the session's later reads go to the primary, never stale.
        if (ryw !== undefined && target === nodes.primary && !readOnly) readYourWrites.noteWrite(ryw, undefined);
        return { node: target.node.name, connection: await acquireFrom(target, holder) };
      },
      pools: () => [nodes.primary, ...nodes.replicas].map(({ pool }) => pool.stats()),
    });
  }

  /** The narrow interface a {@link QueryPipeline} uses; not part of the router's API. */
  [PIPELINE_BACKEND](): PipelineBackend {
    return this.pipelineBackend;
  }

  /** What `console.log(router)` shows: the nodes by label, never the pools (and secrets) behind them. */
  [INSPECT](depth: number, options: InspectOptions): string {
    const { primary, replicas } = this.nodes;
    const shown = { primary: primary.node.label, replicas: replicas.map((replica) => replica.node.label) };
    return inspectAs('QueryRouter', { ...shown, closed: this.closing !== undefined }, depth, options);
  }

  /** A JSON-serialisable snapshot of the router: nodes, pools, routing counts and caches. */
  stats(): RouterStats {
    return assembleStats(this.statsParts, this.closing !== undefined);
  }

  /** For `await using router = new QueryRouter(…)`: {@link close} when the block ends, however it ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Stops taking statements, waits for the ones running, and closes every connection. Idempotent; later calls
   * of `query()` and `transaction()` reject with `RouterClosedError`.
   */
  async close(options?: CloseOptions): Promise<void> {
    const timeoutMs = closeTimeoutOf(options);
    this.closing ??= (async () => {
      const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
      this.nodes.health.stop();
      this.adaptive.stop();
      this.scopes.clear();
      const servers = this.monitors.close();
      // Pipelines first: what they accepted is written before the pools close.
      const pipelines = Promise.all([...this.pipelines].map((pipeline) => pipeline.close()));
      const untilDeadline = (resolve: (value: unknown) => void): void => {
        setTimeout(resolve, Math.max(0, deadline! - Date.now())).unref();
      };
      await (deadline === undefined ? pipelines : Promise.race([pipelines, new Promise(untilDeadline)]));
      await this.nodes.end(deadline);
      await servers;
      this.options.logger.info({ event: 'closed' }, 'router closed');
    })();
    await this.closing;
  }
}
