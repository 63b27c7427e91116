import pg from 'pg';
import type { PoolConfig } from 'pg';
import { parseLsn } from './wal-position.js';
import { destroySocket, unrefClient } from '../pool/pg-internals.js';
import { isConnectionRefusal } from '../pool/connection-errors.js';

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
  /** The name of the primary, whose WAL position replica lag is measured against (see {@link HealthMonitor.setPrimary}). */
  readonly primary: string;
  /** Called after every round of checks, once lag has been measured. */
  readonly onRound?: () => void;
  /** The health-check connection's `application_name` on `node`; default `<applicationName> health`. */
  readonly connectionName?: (node: string) => string;
  /**
   * Runs on the node's health-check connection after each check that passed (the connection budget's round), within
   * `afterCheckTimeoutMs`; a failure or timeout here drops the connection but never fails the check.
   */
  readonly afterCheck?: (node: string, client: pg.Client) => Promise<void>;
  /** How long {@link afterCheck} may take, in milliseconds. Default `timeoutMs`. */
  readonly afterCheckTimeoutMs?: number;
}

/** Called when a node's health changes. */
export type HealthListener = (node: string, healthy: boolean, reason: string | undefined) => void;

/** How far a replica trails the primary, as of the last health checks of both. */
export interface ReplicaLag {
  /** WAL the replica has not replayed yet: the primary's current LSN minus the replica's replay LSN. */
  readonly bytes: number;
  /**
   * 0 when the replica had replayed everything the primary had written at the last checks. Otherwise how long
   * its data has been stale: the shorter of the time since it replayed its last transaction (its own clock) and
   * the time it has been seen behind without a break. The first alone would report an hour after a write that
   * follows an idle hour; the second alone would grow without bound under a steady stream of small lags.
   */
  readonly ms: number;
}

interface Position {
  /** In recovery (a standby), or not (a primary: maybe a promoted replica). */
  readonly standby: boolean;
  /** Current WAL LSN of a primary, replay LSN of a standby. */
  readonly lsn: bigint | undefined;
  /** Milliseconds since the standby replayed its last transaction; undefined on a primary. */
  readonly sinceReplayMs: number | undefined;
}

/** Which history a node's data belongs to, from {@link IDENTITY_SQL}. */
interface Lineage {
  /** The cluster's system identifier: the same on a primary and every standby made from it. */
  readonly systemId: string | undefined;
  /**
   * The timeline a primary writes, or that a standby receives; `undefined` where the server does not say (a standby
   * not streaming, or a role without `pg_read_all_stats`, which sees no `received_tli`).
   */
  readonly timeline: number | undefined;
}

interface Watched {
  readonly target: HealthTarget;
  client: pg.Client | undefined;
  healthy: boolean;
  lastError: string | undefined;
  checking: boolean;
  position: Position | undefined;
  lineage: Lineage | undefined;
  /** When the checks first saw this replica behind the primary, without a check in between that saw it caught up. */
  behindSince: number | undefined;
  lag: ReplicaLag | undefined;
  /** Checks that could not connect because the node was full (53300): counted, not failed. */
  refusals: number;
}

/**
 * The health check: besides answering, each node says where its WAL is, so replica lag comes for free.
 * `pg_last_xact_replay_timestamp()` is null on a primary and on a standby that has replayed nothing yet.
 */
const HEALTH_SQL =
  'SELECT pg_is_in_recovery() AS standby, (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn, ' +
  'EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp())) * 1000 AS since_replay_ms';

/**
 * Kept apart from the health check, and allowed to fail without failing it: `pg_control_system()` may be
 * revoked on a managed server. A primary's timeline is in its current WAL file name.
 */
const IDENTITY_SQL =
  'SELECT (SELECT system_identifier FROM pg_control_system())::text AS system_id, ' +
  'CASE WHEN pg_is_in_recovery() THEN (SELECT received_tli FROM pg_stat_wal_receiver) ' +
  "ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS timeline";

/**
 * Checks every node on its own connection (so a full pool never delays a check) every `intervalMs`: one small
 * query that must answer within `timeoutMs` and also reports the node's WAL position (for replica lag). A node
 * that fails a check is unhealthy until one succeeds.
 * Timers are unref'ed: a forgotten monitor never keeps the process alive.
 */
export class HealthMonitor {
  private readonly watched: Map<string, Watched>;
  private timer: NodeJS.Timeout | undefined;
  private primary: string;

  constructor(
    targets: readonly HealthTarget[],
    private readonly options: HealthMonitorOptions,
    private readonly onChange: HealthListener,
  ) {
    this.primary = options.primary;
    this.watched = new Map(
      targets.map((target) => [
        target.name,
        {
          target,
          client: undefined,
          healthy: true,
          lastError: undefined,
          checking: false,
          position: undefined,
          lineage: undefined,
          behindSince: undefined,
          lag: undefined,
          refusals: 0,
        },
      ]),
    );
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

  /**
   * How far `replica` trails `primary`, from their last successful checks; `undefined` until both were checked
   * (or when `replica` is not in recovery: a promoted node has no lag).
   */
  lag(replica: string): ReplicaLag | undefined {
    return this.watched.get(replica)?.lag;
  }

  /**
   * Whether the node said it is in recovery at its last check: `undefined` before one succeeded and while its
   * checks fail.
   */
  isStandby(node: string): boolean | undefined {
    return this.watched.get(node)?.position?.standby;
  }

  /** The node's WAL position at its last successful check: replayed (a standby) or written (a primary). */
  position(node: string): bigint | undefined {
    return this.watched.get(node)?.position?.lsn;
  }

  /**
   * Why `replica`'s data cannot be trusted to be the primary's history, or `undefined`: it belongs to another
   * cluster, or it is on another timeline than the primary (it still follows an old primary after a failover, or
   * has not switched to the new timeline yet). Unknown lineage (see {@link Lineage}) says nothing.
   */
  divergence(replica: string): string | undefined {
    const own = this.watched.get(replica)?.lineage;
    const leader = this.watched.get(this.primary)?.lineage;
    if (own === undefined || leader === undefined || replica === this.primary) return undefined;
    if (own.systemId !== undefined && leader.systemId !== undefined && own.systemId !== leader.systemId) {
      return `belongs to another cluster (system identifier ${own.systemId}, the primary's is ${leader.systemId})`;
    }
    if (own.timeline !== undefined && leader.timeline !== undefined && own.timeline !== leader.timeline) {
      return `follows timeline ${own.timeline}, the primary ${this.primary} is on timeline ${leader.timeline}`;
    }
    return undefined;
  }

  /** The timeline the node writes (a primary) or receives (a standby), when known. */
  timeline(node: string): number | undefined {
    return this.watched.get(node)?.lineage?.timeline;
  }

  /** Health checks of `node` that could not connect because it was full (53300), since start. */
  refusals(node: string): number {
    return this.watched.get(node)?.refusals ?? 0;
  }

  /** Measures lag against `node` from now on (after a failover). */
  setPrimary(node: string): void {
    this.primary = node;
    for (const watched of this.watched.values()) watched.behindSince = undefined;
  }

  /** Checks every node now; resolves when all checks are done. */
  async checkAll(): Promise<void> {
    await Promise.all([...this.watched.values()].map((watched) => this.check(watched)));
    this.measureLag(Date.now());
    this.options.onRound?.();
  }

  private measureLag(now: number): void {
    const leader = this.watched.get(this.primary)?.position;
    for (const watched of this.watched.values()) {
      const standby = watched.position;
      if (
        watched.target.name === this.primary ||
        standby === undefined ||
        !standby.standby ||
        standby.lsn === undefined ||
        leader?.lsn === undefined
      ) {
        watched.lag = undefined;
        continue;
      }
      const behind = leader.lsn - standby.lsn;
      if (behind <= 0n) {
        watched.behindSince = undefined;
        watched.lag = { bytes: 0, ms: 0 };
        continue;
      }
      watched.behindSince ??= now;
      watched.lag = {
        bytes: Number(behind),
        ms: Math.max(0, Math.min(standby.sinceReplayMs ?? Number.POSITIVE_INFINITY, now - watched.behindSince)),
      };
    }
  }

  private async check(watched: Watched): Promise<void> {
    if (watched.checking) return;
    watched.checking = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${this.options.timeoutMs} ms`)),
          this.options.timeoutMs,
        );
      });
      await Promise.race([this.ping(watched), timeout]);
      this.mark(watched, true, undefined);
      const afterCheck = this.options.afterCheck;
      const client = watched.client;
      if (afterCheck !== undefined && client !== undefined) {
        clearTimeout(timer);
        const extra = new Promise<'late'>((resolve) => {
          timer = setTimeout(() => resolve('late'), this.options.afterCheckTimeoutMs ?? this.options.timeoutMs);
        });
        const outcome = await Promise.race([
          afterCheck(watched.target.name, client).catch(() => 'failed' as const),
          extra,
        ]);
        // A connection that did not finish the round in time may be stuck mid-transaction: a new one next time.
        if (outcome !== undefined) this.drop(watched);
      }
    } catch (error) {
      this.drop(watched);
      if (isConnectionRefusal(error)) {
        // "Too many clients": the node answered, so it is up, only full. What the last check learned stays.
        watched.refusals++;
        this.mark(watched, true, undefined);
        return;
      }
      watched.position = undefined;
      watched.lineage = undefined;
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
        application_name:
          this.options.connectionName?.(watched.target.name) ?? `${this.options.applicationName} health`,
        connectionTimeoutMillis: this.options.timeoutMs,
      });
      client.on('error', () => this.drop(watched));
      watched.client = client;
      await client.connect();
      // Health checks alone never keep the process alive: a script that never calls close() still exits.
      unrefClient(client);
    }
    const { rows } = await watched.client.query<{
      standby: boolean;
      lsn: string | null;
      since_replay_ms: string | number | null;
    }>(HEALTH_SQL);
    const row = rows[0];
    if (row !== undefined) {
      const since = row.since_replay_ms === null ? undefined : Number(row.since_replay_ms);
      watched.position = { standby: row.standby, lsn: parseLsn(row.lsn), sinceReplayMs: since };
    }
    try {
      const lineage = (await watched.client.query<{ system_id: string | null; timeline: number | null }>(IDENTITY_SQL))
        .rows[0];
      watched.lineage = { systemId: lineage?.system_id ?? undefined, timeline: lineage?.timeline ?? undefined };
    } catch {
      watched.lineage = undefined;
    }
  }

  private drop(watched: Watched): void {
    const client = watched.client;
    watched.client = undefined;
    if (client !== undefined) {
      // A frozen node never answers a Terminate: close the socket instead of waiting on end().
      destroySocket(client);
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
