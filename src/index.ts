/**
 * pg-query-router: one PostgreSQL primary and its streaming replicas behind a single `query()`.
 *
 * A throwaway local cluster for tests is a separate entry point, `pg-query-router/testing`, which this one never
 * loads.
 *
 * @packageDocumentation
 */
export { QueryRouter, classifyQuery, RoundRobinBalancer, LeastBusyBalancer, LatencyBalancer } from './router/index.js';
export type {
  QueryOptions,
  RouterEvents,
  CloseOptions,
  Classification,
  Route,
  StatementKind,
  TransactionClient,
  TransactionOptions,
  IsolationLevel,
  RouterStats,
  NodeStats,
  WorkloadPatterns,
  ReplicaBalancer,
  BalancedNode,
  RoutedPool,
  RoutedPoolEvents,
  RoutedPoolOptions,
  RoutedClient,
  RoutedClientEvents,
  PgQueryConfig,
  PgQueryCallback,
  QueryCursor,
  SessionOptions,
} from './router/index.js';
export { QueryPipeline, PIPELINE_DEFAULTS, MAX_PARAMETERS } from './pipeline/index.js';
export type { PipelineOptions, PipelineFallback, FlushResult, PipelineStats } from './pipeline/index.js';
export { DEFAULTS, ENV_OPTIONS } from './config/index.js';
export { PROFILES } from './config/index.js';
export type { ConfigurationProfile, ProfileName } from './config/index.js';
export { HEALTH_PENALTIES, MAX_CONNECT_RETRY_DELAY_MS } from './pool/index.js';
export type { ConnectionHealthStats, RecycleCounts, RecycleReason } from './pool/index.js';
export { MAX_SCOPES, MAX_SCOPE_NAME_LENGTH, PREWARM_WAIT_MS } from './router/index.js';
export type { ScopePrewarm } from './router/index.js';
export type {
  QueryRouterOptions,
  NodeConfig,
  PoolOptions,
  StatementCacheOptions,
  ClassifierCacheOptions,
  LoadBalancing,
  Consistency,
  AdaptiveOptions,
  MetricsOptions,
  ConnectionHooks,
  ResolvedOptions,
  ResolvedNode,
} from './config/index.js';
export { healthReport, silentLogger } from './metrics/index.js';
export type {
  Logger,
  LogMethod,
  HealthReport,
  MonitorServer,
  MonitorServerOptions,
  MonitorHandler,
  MonitorHandlerOptions,
  MonitorAuth,
  MonitoredStats,
} from './metrics/index.js';
export type { PatternSnapshot, WorkloadForecast, ScopeSnapshot, ConnectionBudgetStats } from './adaptive/index.js';
export {
  RouterError,
  ConfigError,
  QueryError,
  RouterClosedError,
  AcquireTimeoutError,
  CircuitOpenError,
  PipelineFullError,
  PipelineClosedError,
  BatchAbortedError,
  TransactionRolledBackError,
  isRouterError,
  isConfigError,
  isQueryError,
  isRouterClosedError,
  isAcquireTimeoutError,
  isCircuitOpenError,
  isPipelineFullError,
  isPipelineClosedError,
  isBatchAbortedError,
  isTransactionRolledBackError,
  isOutcomeUnknown,
  redactSecrets,
} from './errors.js';
export type { RouterErrorCode, QueryErrorContext } from './errors.js';
// Types the public API names (options, statistics): exported so applications can name them too.
export type { BreakerOptions } from './resilience/index.js';
export type { FallbackFunction, ConnectionBudgetOptions, ResolvedConnectionBudget } from './config/index.js';
export type { NodePoolStats, InternalFeature, StatementCacheCounters, StatementCacheDisabled } from './pool/index.js';
export type { MonitoredNode, MonitoredPattern, MonitoredPool } from './metrics/index.js';
export type { RoutingCounts } from './router/node-choice.js';
export type { ConsistencyCounts } from './router/read-your-writes.js';
