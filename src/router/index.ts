export { QueryRouter } from './query-router.js';
export type { QueryOptions, RouterEvents, CloseOptions, WorkloadPatterns } from './query-router.js';
export { classifyQuery } from './classify.js';
export type { Classification, Route, StatementKind } from './classification.js';
export type { TransactionClient, TransactionOptions, IsolationLevel } from './transaction.js';
export type { RouterStats, NodeStats } from './router-stats.js';
export { RoundRobinBalancer, LeastBusyBalancer, LatencyBalancer } from './replica-balancer.js';
export type { ReplicaBalancer, BalancedNode } from './replica-balancer.js';
