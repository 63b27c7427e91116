export { startMonitorServer } from './monitor-server.js';
export type { MonitorServer, MonitorServerOptions, MonitorSource } from './monitor-server.js';
export {
  HANDLER_KEYS,
  checkOptionKeys,
  createMonitorHandler,
  resolveHandlerOptions,
  type MonitorHandler,
  type MonitorHandlerOptions,
} from './monitor-handler.js';
export type { MonitorAuth } from './monitor-access.js';
export { healthReport } from './health-report.js';
export type { HealthReport } from './health-report.js';
export type { MonitoredStats, MonitoredNode, MonitoredPool, MonitoredPattern } from './monitored-stats.js';
export { RouterMetrics } from './router-metrics.js';
export type { MetricsSnapshot, NodeHistograms } from './router-metrics.js';
export { LatencyHistogram } from './latency-histogram.js';
export { silentLogger, isLogger } from './logger.js';
export type { Logger, LogMethod } from './logger.js';
export { RouterTracing, type TraceSpan } from './tracing.js';
