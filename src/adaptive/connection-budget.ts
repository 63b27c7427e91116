import {
  autoBudget,
  budgetCeiling,
  healthConnectionName,
  instancesOf,
  poolConnectionName,
  type ActivityRow,
} from './budget-share.js';

/** The budget's settings (the `connectionBudget` option, validated). */
export interface BudgetSettings {
  readonly group: string;
  readonly perNode: number | 'auto';
  readonly reserve: number;
  readonly instance: string;
}

/** One node's pool as the budget sees it. */
export interface BudgetedPool {
  readonly node: string;
  /** The ceiling never goes below this (the pool's `min`, at least 1). */
  readonly floor: number;
  /** Nor above this (the pool's `max`). */
  readonly max: number;
  /** Statements running on the node or waiting for a connection to it now. */
  demand(): number;
  /** Caps the pool's ceiling at the budget's share; returns the ceiling then in force. */
  limit(cap: number): number;
}

/** The little of a pg client a budget round needs: the node's health-check connection. */
export interface BudgetClient {
  query<R extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** One node's budget in `stats()`: the group's use of the node and this instance's share. */
export interface ConnectionBudgetStats {
  readonly group: string;
  readonly instance: string;
  /** Connections the group may hold on the node (health checks included); `null` before the first round. */
  readonly budget: number | null;
  /** Connections the group held on the node at the last round, health checks included. */
  readonly total: number;
  /** The same by instance. */
  readonly byInstance: Readonly<Record<string, number>>;
  /** Statements running or waiting over the whole group, and this instance's own, at the last round. */
  readonly demand: number;
  readonly ownDemand: number;
  /** This instance's pool ceiling on the node from the budget, and its fair share by demand; `null` before the first round. */
  readonly ceiling: number | null;
  readonly target: number | null;
  /** `ceiling` over the connections the budget leaves for pools (0–1); `null` before the first round. */
  readonly share: number | null;
  /** Rounds completed, and why the last one failed if it did (the ceiling then stays as it was). */
  readonly rounds: number;
  readonly lastError: string | null;
}

interface NodeBudget {
  readonly pool: BudgetedPool;
  stats: ConnectionBudgetStats;
}

/** The advisory lock's first key: "pgrb". Its second is a hash of the group. */
const LOCK_CLASS = 0x70677262;

/** The server's connection settings, on every row of {@link ROUND_SQL}. */
interface SettingsRow {
  readonly max_connections: number;
  readonly superuser_reserved: number;
  readonly reserved: number;
}

/**
 * The group's connections by `application_name` (busy: active, idle in transaction, fastpath) with the server's
 * connection settings on every row; one row with a null name when the group has none (never: this connection is
 * one of them).
 */
const ROUND_SQL =
  'WITH settings AS (SELECT ' +
  "current_setting('max_connections')::int AS max_connections, " +
  "current_setting('superuser_reserved_connections')::int AS superuser_reserved, " +
  "coalesce(current_setting('reserved_connections', true), '0')::int AS reserved), " +
  'activity AS (SELECT application_name AS name, count(*)::int AS total, ' +
  "count(*) FILTER (WHERE state IN ('active', 'idle in transaction', 'idle in transaction (aborted)', 'fastpath function call'))::int AS busy " +
  'FROM pg_stat_activity WHERE left(application_name, $2) = $1 GROUP BY application_name) ' +
  'SELECT activity.*, settings.* FROM settings LEFT JOIN activity ON true';

/** The advisory lock a group's rounds take on each node: `pg_advisory_xact_lock(classId, objId)`. */
export function budgetLockKey(group: string): { readonly classId: number; readonly objId: number } {
  return { classId: LOCK_CLASS, objId: hash32(group) };
}

/** FNV-1a, as a signed 32-bit integer (an `int4` for `pg_advisory_xact_lock(int, int)`). */
function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}

/**
 * A connection budget per node shared by every instance of a group, coordinated through PostgreSQL: once per health
 * round, on the node's health-check connection and under an advisory lock that serialises the group's rounds on
 * that node, the instance reads the group's connections from `pg_stat_activity`, works out its ceiling (see
 * {@link budgetCeiling}), applies it to its pool and publishes it with its demand in its health
 * connection's `application_name`. A shrunk ceiling closes idle connections above it at once (and busy ones as
 * they come back idle, at the next round); a grown one opens connections for the callers waiting.
 */
export class ConnectionBudget {
  private readonly nodes = new Map<string, NodeBudget>();
  private readonly lockKey: number;

  constructor(
    private readonly settings: BudgetSettings,
    pools: readonly BudgetedPool[],
    /** Longest wait for the group's lock, in milliseconds: a round that cannot have it is skipped. */
    private readonly lockTimeoutMs: number,
  ) {
    this.lockKey = hash32(settings.group);
    for (const pool of pools) {
      // Until the first round says more, an instance holds itself to its floor: it cannot know the others yet.
      pool.limit(pool.floor);
      this.nodes.set(pool.node, {
        pool,
        stats: {
          group: settings.group,
          instance: settings.instance,
          budget: null,
          total: 0,
          byInstance: {},
          demand: 0,
          ownDemand: 0,
          ceiling: null,
          target: null,
          share: null,
          rounds: 0,
          lastError: null,
        },
      });
    }
  }

  /** The `application_name` of this instance's pool connections. */
  get poolConnectionName(): string {
    return poolConnectionName(this.settings.group, this.settings.instance);
  }

  /**
   * The `application_name` a health-check connection opens with: the ceiling in force (the floor before the first
   * round). A reopened connection must not publish less than the pool may hold, or the others would take it.
   */
  healthConnectionName(node: string): string {
    const entry = this.nodes.get(node);
    const ceiling = entry?.stats.ceiling ?? entry?.pool.floor ?? 1;
    return healthConnectionName(this.settings.group, this.settings.instance, 0, ceiling);
  }

  /** One node's budget for `stats()`, or `undefined` for a node the budget does not know. */
  snapshot(node: string): ConnectionBudgetStats | undefined {
    return this.nodes.get(node)?.stats;
  }

  /**
   * One round on `node`'s health-check connection `client`. Never throws for a failure of the round itself: the
   * ceiling stays as it was and `lastError` says why. A lost connection still rejects, for the caller to drop it.
   */
  async round(node: string, client: BudgetClient): Promise<void> {
    const entry = this.nodes.get(node);
    if (entry === undefined) return;
    const { group, instance, perNode, reserve } = this.settings;
    const { pool } = entry;
    // Set before the first statement: a lock wait that times out leaves the transaction open and aborted.
    let open = true;
    try {
      // Three round trips: the group's names are validated to [A-Za-z0-9._-], so they are safe as literals here.
      await client.query(
        `BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.round(this.lockTimeoutMs))}; ` +
          `SELECT pg_advisory_xact_lock(${LOCK_CLASS}, ${this.lockKey})`,
      );
      const prefix = `${group}/`;
      const rows = (
        await client.query<ActivityRow & SettingsRow & Record<string, unknown>>(ROUND_SQL, [prefix, prefix.length])
      ).rows;
      const settings = rows[0]!;
      const budget =
        perNode === 'auto'
          ? autoBudget(settings.max_connections, settings.superuser_reserved, settings.reserved, reserve)
          : perNode;
      const instances = instancesOf(
        group,
        rows.filter((row) => row.name !== null),
      );
      const demand = pool.demand();
      const share = budgetCeiling(budget, instances, {
        instance,
        demand,
        floor: pool.floor,
        max: pool.max,
        current: entry.stats.ceiling ?? undefined,
      });
      const before = entry.stats.ceiling ?? pool.floor;
      // Shrinking takes effect before the others can read the smaller ceiling; growing only once it is published.
      if (share.ceiling < before) pool.limit(share.ceiling);
      await client.query(
        `SELECT set_config('application_name', '${healthConnectionName(group, instance, demand, share.ceiling)}', false); COMMIT`,
      );
      open = false;
      if (share.ceiling >= before) pool.limit(share.ceiling);
      const byInstance: Record<string, number> = {};
      let total = 0;
      for (const [name, use] of instances) {
        byInstance[name] = use.pool + use.health;
        total += use.pool + use.health;
      }
      entry.stats = {
        ...entry.stats,
        budget,
        total,
        byInstance,
        demand: share.demand,
        ownDemand: share.ownDemand,
        ceiling: share.ceiling,
        target: share.target,
        share: share.forPools > 0 ? share.ceiling / share.forPools : 0,
        rounds: entry.stats.rounds + 1,
        lastError: null,
      };
    } catch (error) {
      entry.stats = { ...entry.stats, lastError: error instanceof Error ? error.message : String(error) };
      if (open) await client.query('ROLLBACK');
    }
  }
}
