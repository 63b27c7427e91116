export { NodePool, isConnectionLevelError } from './node-pool.js';
export type { NodePoolOptions, NodePoolStats, NodeConnection, BatchStatement, BatchOutcome, ConnectionLeak } from './node-pool.js';
export type { StatementCacheCounters, StatementUse } from './statement-cache.js';
