export { startMonitorServer } from './monitor-server.js';
export type { MonitorServer, MonitorServerOptions, MonitorSource } from './monitor-server.js';
export { healthReport } from './health-report.js';
export type { HealthReport } from './health-report.js';
export type { MonitoredStats, MonitoredNode, MonitoredPool, MonitoredPattern } from './monitored-stats.js';
