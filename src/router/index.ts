export { QueryRouter } from './query-router.js';
export type { WorkloadPatterns } from './query-router.js';
export type { QueryOptions, CloseOptions } from '../config/index.js';
export type { RouterEvents } from './router-events.js';
export { classifyQuery } from '../sql/index.js';
export type { Classification, Route, StatementKind } from '../sql/index.js';
export type { TransactionClient, TransactionOptions, IsolationLevel } from './transaction.js';
export type {
  RoutedPool,
  RoutedPoolEvents,
  RoutedPoolOptions,
  RoutedClient,
  RoutedClientEvents,
  PgQueryConfig,
  PgQueryCallback,
  QueryCursor,
} from '../pg-compat/index.js';
export type { RouterStats, NodeStats } from './router-stats.js';
export type { SessionOptions } from './read-consistency.js';
export { MAX_SCOPES, MAX_SCOPE_NAME_LENGTH, PREWARM_WAIT_MS } from './workload-scope.js';
export type { ScopePrewarm } from './workload-scope.js';
export { RoundRobinBalancer, LeastBusyBalancer, LatencyBalancer } from './replica-balancer.js';
export type { ReplicaBalancer, BalancedNode } from './replica-balancer.js';
