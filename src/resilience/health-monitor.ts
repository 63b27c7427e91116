import pg from 'pg';
import type { PoolConfig } from 'pg';

/** A node the monitor watches. */
export interface HealthTarget {
  readonly name: string;
  readonly config: PoolConfig;
}

/** Health monitor settings. */
export interface HealthMonitorOptions {
  /** Time between checks of one node, in milliseconds. */
  readonly intervalMs: number;
  /** A check that takes longer fails, in milliseconds. */
  readonly timeoutMs: number;
  readonly applicationName: string;
}

/** Called when a node's health changes. */
export type HealthListener = (node: string, healthy: boolean, reason: string | undefined) => void;

interface Watched {
  readonly target: HealthTarget;
  client: pg.Client | undefined;
  healthy: boolean;
  lastError: string | undefined;
  checking: boolean;
}

/**
 * Checks every node on its own connection (so a full pool never delays a check) every `intervalMs`: a
 * `SELECT 1` that must answer within `timeoutMs`. A node that fails a check is unhealthy until one succeeds.
 * Timers are unref'ed: a forgotten monitor never keeps the process alive.
 */
export class HealthMonitor {
  private readonly watched: Map<string, Watched>;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    targets: readonly HealthTarget[],
    private readonly options: HealthMonitorOptions,
    private readonly onChange: HealthListener,
  ) {
    this.watched = new Map(targets.map((target) => [target.name, { target, client: undefined, healthy: true, lastError: undefined, checking: false }]));
  }

  /** Starts checking every node periodically. */
  start(): void {
    if (this.timer !== undefined || this.options.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.checkAll(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Whether the node passed its last check (true before the first one). */
  isHealthy(node: string): boolean {
    return this.watched.get(node)?.healthy ?? true;
  }

  /** Why the node's last check failed, if it did. */
  lastError(node: string): string | undefined {
    return this.watched.get(node)?.lastError;
  }

  /** Checks every node now; resolves when all checks are done. */
  async checkAll(): Promise<void> {
    await Promise.all([...this.watched.values()].map((watched) => this.check(watched)));
  }

  private async check(watched: Watched): Promise<void> {
    if (watched.checking) return;
    watched.checking = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
      });
      await Promise.race([this.ping(watched), timeout]);
      this.mark(watched, true, undefined);
    } catch (error) {
      this.drop(watched);
      this.mark(watched, false, error instanceof Error ? error.message : String(error));
    } finally {
      clearTimeout(timer);
      watched.checking = false;
    }
  }

  private async ping(watched: Watched): Promise<void> {
    if (watched.client === undefined) {
      const config = watched.target.config;
      const client = new pg.Client({
        ...config,
        password: config.password,
        connectionString: config.connectionString,
        application_name: `${this.options.applicationName} health`,
        connectionTimeoutMillis: this.options.timeoutMs,
      });
      client.on('error', () => this.drop(watched));
      watched.client = client;
      await client.connect();
    }
    await watched.client.query('SELECT 1');
  }

  private drop(watched: Watched): void {
    const client = watched.client;
    watched.client = undefined;
    if (client !== undefined) {
      // A frozen node never answers a Terminate: close the socket instead of waiting on end().
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      client.end().catch(() => undefined);
    }
  }

  private mark(watched: Watched, healthy: boolean, reason: string | undefined): void {
    watched.lastError = reason;
    if (watched.healthy === healthy) return;
    watched.healthy = healthy;
    this.onChange(watched.target.name, healthy, reason);
  }

  /** Stops the checks and closes their connections. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const watched of this.watched.values()) this.drop(watched);
  }
}
