import {
  HANDLER_KEYS,
  checkOptionKeys,
  createMonitorHandler,
  resolveHandlerOptions,
  startMonitorServer,
  type MonitorHandler,
  type MonitorHandlerOptions,
  type MonitorServer,
  type MonitorServerOptions,
  type MonitorSource,
  type MonitoredStats,
  type RouterMetrics,
} from '../metrics/index.js';

/** The monitors a router started (servers) or handed out (handlers): all closed with the router. */
export class RouterMonitors {
  private readonly servers = new Set<MonitorServer>();
  private readonly handlers = new Set<MonitorHandler>();

  private readonly source: MonitorSource;

  constructor(stats: () => MonitoredStats, instruments: RouterMetrics) {
    this.source = { stats, metricsText: () => instruments.text(), metricsContentType: instruments.contentType };
  }

  /** A monitor server of its own (see `QueryRouter.serve`). */
  async serve(options: MonitorServerOptions | undefined): Promise<MonitorServer> {
    const server = await startMonitorServer(this.source, options);
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

  /** A handler to mount in an app (see `QueryRouter.monitorHandler`). */
  handler(options: MonitorHandlerOptions | undefined): MonitorHandler {
    const given = checkOptionKeys(options, 'monitorHandler', HANDLER_KEYS);
    const handler = createMonitorHandler(this.source, resolveHandlerOptions(given, 'monitorHandler', undefined));
    this.handlers.add(handler);
    return handler;
  }

  /** Ends every stream and stops every server; resolves once the servers are closed. */
  async close(): Promise<void> {
    for (const handler of this.handlers) handler.close();
    this.handlers.clear();
    const servers = [...this.servers];
    this.servers.clear();
    await Promise.all(servers.map((server) => server.close()));
  }
}
