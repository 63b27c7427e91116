export { NodePool, isConnectionLevelError } from './node-pool.js';
export { destroySocket, failSubmittable } from './pg-internals.js';
export { sendableValues } from './parameter-values.js';
export { prepareValue } from './pg-internals.js';
export { HEALTH_PENALTIES, isConnectionFault } from './connection-health.js';
export type { ConnectionHealthStats, RecycleCounts, RecycleReason } from './connection-health.js';
export { isRetryableConnectError, connectRetryDelayMs, MAX_CONNECT_RETRY_DELAY_MS } from './connect-retry.js';
export type { ConnectRetryPolicy } from './connect-retry.js';
export type {
  NodePoolOptions,
  NodePoolStats,
  NodeConnection,
  StatementOptions,
  StatementProbe,
  BatchStatement,
  BatchOutcome,
  ConnectionLeak,
  PoolObserver,
  DisabledInternal,
  InternalFeature,
} from './node-pool.js';
export type { StatementCacheCounters, StatementUse } from './statement-cache.js';
export { withoutConnectionString } from './pool-config.js';
export { supportsCopyIn } from './pg-internals.js';
