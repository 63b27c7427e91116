export { NodeBreaker, BREAKER_DEFAULTS } from './node-breaker.js';
export type { BreakerOptions, BreakerState, BreakerListener } from './node-breaker.js';
export { blame, isNodeFailure, SQLSTATE_CLASS_BLAME, NODE_CODES } from './error-classification.js';
export type { ErrorBlame } from './error-classification.js';
export { HealthMonitor } from './health-monitor.js';
export type { HealthTarget, HealthMonitorOptions, HealthListener, ReplicaLag } from './health-monitor.js';
export { parseLsn, formatLsn } from './wal-position.js';
