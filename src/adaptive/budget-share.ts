/**
 * The arithmetic of the cluster-wide connection budget, apart from any I/O: how the rows of `pg_stat_activity` name
 * a group's connections, and how much of the budget one instance may use.
 *
 * Every connection of a group is named in `application_name`: `<group>/<instance>` for a pool connection,
 * `<group>/<instance>/d=<demand>,c=<ceiling>` for an instance's health-check connection, on which it publishes
 * how many of its callers wait for a connection and the ceiling it holds itself to. Rounds of the group's instances
 * on a node are serialised by an advisory lock, so each reads the ceilings the others published before it.
 */

/** Published values never exceed this: five digits keep a name within PostgreSQL's 63 bytes. */
const PUBLISHED_MAX = 99_999;

/** The `application_name` of an instance's pool connections. */
export function poolConnectionName(group: string, instance: string): string {
  return `${group}/${instance}`;
}

/**
 * The `application_name` of an instance's health-check connection, publishing its demand (statements running or
 * waiting for a connection, as it counts them itself) and its ceiling.
 */
export function healthConnectionName(group: string, instance: string, demand: number, ceiling: number): string {
  const d = Math.min(PUBLISHED_MAX, Math.max(0, Math.round(demand)));
  const c = Math.min(PUBLISHED_MAX, Math.max(0, Math.round(ceiling)));
  return `${group}/${instance}/d=${d},c=${c}`;
}

/** One `application_name` of the group with its connections, as counted from `pg_stat_activity`. */
export interface ActivityRow {
  readonly name: string;
  /** Connections with this name. */
  readonly total: number;
  /** Of them, busy: `active`, `idle in transaction` (aborted or not), `fastpath function call`. */
  readonly busy: number;
}

/** One instance of the group on one node, as the last round saw it. */
export interface InstanceUse {
  /** Pool connections open, and how many are busy. */
  readonly pool: number;
  readonly busy: number;
  /** Health-check connections (one while it runs). */
  readonly health: number;
  /** Demand and ceiling, as it published them; `undefined` without a health connection. */
  readonly demand: number | undefined;
  readonly ceiling: number | undefined;
}

const PUBLISHED = /^d=(\d+),c=(\d+)$/;

/** The group's instances on a node from the rows whose name starts with `<group>/`; other rows are ignored. */
export function instancesOf(group: string, rows: readonly ActivityRow[]): Map<string, InstanceUse> {
  const prefix = `${group}/`;
  const found = new Map<string, { pool: number; busy: number; health: number; demand?: number; ceiling?: number }>();
  for (const row of rows) {
    if (!row.name.startsWith(prefix)) continue;
    const rest = row.name.slice(prefix.length);
    const slash = rest.indexOf('/');
    const instance = slash < 0 ? rest : rest.slice(0, slash);
    if (instance === '') continue;
    let use = found.get(instance);
    if (use === undefined) found.set(instance, (use = { pool: 0, busy: 0, health: 0 }));
    if (slash < 0) {
      use.pool += row.total;
      use.busy += row.busy;
      continue;
    }
    use.health += row.total;
    const published = PUBLISHED.exec(rest.slice(slash + 1));
    if (published !== null) {
      use.demand = Math.max(use.demand ?? 0, Number(published[1]));
      use.ceiling = Math.max(use.ceiling ?? 0, Number(published[2]));
    }
  }
  const result = new Map<string, InstanceUse>();
  for (const [instance, use] of found)
    result.set(instance, {
      pool: use.pool,
      busy: use.busy,
      health: use.health,
      demand: use.demand,
      ceiling: use.ceiling,
    });
  return result;
}

/** What {@link budgetCeiling} decides for one instance. */
export interface BudgetShare {
  /** The pool ceiling this instance holds itself to until the next round. */
  readonly ceiling: number;
  /** Its fair share of the budget by demand, before what the others hold is taken into account. */
  readonly target: number;
  /** Connections of the budget left for pools: the budget less the group's health-check connections. */
  readonly forPools: number;
  /** The group's demand (statements running or waiting, over every instance) and this instance's own. */
  readonly demand: number;
  readonly ownDemand: number;
}

/** What {@link budgetCeiling} needs of this instance. */
export interface OwnPool {
  readonly instance: string;
  /** Statements of this instance running on the node or waiting for a connection to it now. */
  readonly demand: number;
  /** Never below this (the pool's `min`, at least 1). */
  readonly floor: number;
  /** Never above this (the pool's `max`). */
  readonly max: number;
  /** The ceiling it holds to now, if it had a round before: a target a little below it leaves it as it is. */
  readonly current?: number;
}

/**
 * A target below the current ceiling by less than this leaves the ceiling as it is: demands jitter from round to
 * round, and following them down and up again would close and open connections every round (each a server process
 * forked and its prepared statements lost). A higher target is taken at once, as far as the others left room: a
 * ceiling held one below its share would keep a caller waiting for good. At least 2, or a fifth of the ceiling.
 */
export function deadBand(current: number): number {
  return Math.max(2, Math.ceil(current / 5));
}

/**
 * This instance's ceiling on one node. Each instance claims its demand + 1 (the 1 lets an idle instance keep a
 * foothold; an instance that published no demand counts its busy connections). Its target is its max-min fair share
 * of the connections left for pools: when the claims fit, each gets its claim and the spare connections in
 * proportion to it; when they do not, every claim below an even level is met and the rest share that level equally
 * (so instances that are all busy hold even shares, however their demands jitter, and move no connections between
 * them). It grows only into what the others neither hold nor reserved (each other instance counts for the larger of
 * its published ceiling and its open connections), and shrinks at once, unless by less than {@link deadBand} while
 * no other instance waits under a ceiling below its own share. Never below `floor`, never above `max`. As rounds are serialised, the ceilings published
 * add up to at most the budget, and so do the connections open.
 */
export function budgetCeiling(budget: number, instances: ReadonlyMap<string, InstanceUse>, own: OwnPool): BudgetShare {
  let health = 0;
  let demand = 0;
  let othersHold = 0;
  let ownDemand = 0;
  let ownSeen = false;
  const claims: number[] = [];
  // The others' published ceilings with their claims: one below its fair share is an instance kept short.
  const others: { claim: number; ceiling: number | undefined }[] = [];
  for (const [instance, use] of instances) {
    // An instance seen by its pool connections alone is opening its health connection: it will take a slot too.
    health += Math.max(1, use.health);
    const isOwn = instance === own.instance;
    // Our own demand is known here and now; the others' as they published it (a point sample of busy states
    // would jitter with every statement that just ended).
    const wanted = isOwn ? own.demand : (use.demand ?? use.busy);
    demand += wanted;
    claims.push(wanted + 1);
    if (isOwn) {
      ownSeen = true;
      ownDemand = wanted;
    } else {
      othersHold += Math.max(use.ceiling ?? 0, use.pool);
      others.push({ claim: wanted + 1, ceiling: use.ceiling });
    }
  }
  if (!ownSeen) {
    // Our health connection runs this round, so it is there; counted in case the view missed it.
    health += 1;
    ownDemand = own.demand;
    demand += own.demand;
    claims.push(own.demand + 1);
  }
  const forPools = Math.max(0, budget - health);
  const target = Math.floor(fairShare(forPools, claims, ownDemand + 1));
  const available = forPools - othersHold;
  const current = own.current;
  // Keeping the current ceiling is always within the budget while it fits what the others left: they counted it. It is
  // kept above the target only while no other instance waits under a ceiling below its own share.
  const keep =
    current !== undefined &&
    target < current &&
    current - target < deadBand(current) &&
    !others.some(
      ({ claim, ceiling }) =>
        ceiling !== undefined && ceiling < claim - 1 && ceiling < Math.floor(fairShare(forPools, claims, claim)),
    );
  const wanted = keep ? current : target;
  const ceiling = Math.min(own.max, Math.max(own.floor, Math.min(wanted, available)));
  return { ceiling, target, forPools, demand, ownDemand };
}

/**
 * The max-min fair share of `total` for a claim of `own` among `claims` (which include it): the claim and a part of
 * the spare in proportion to it when the claims fit; else the claim or the level at which the claims, each capped
 * there, add up to `total`, whichever is smaller (water-filling).
 */
export function fairShare(total: number, claims: readonly number[], own: number): number {
  const sum = claims.reduce((a, b) => a + b, 0);
  if (sum <= total) return sum === 0 ? total : (total * own) / sum;
  const sorted = [...claims].sort((a, b) => a - b);
  let left = total;
  for (let i = 0; i < sorted.length; i++) {
    const level = left / (sorted.length - i);
    if (sorted[i]! >= level) return Math.min(own, level);
    left -= sorted[i]!;
  }
  return own;
}

/** `'auto'`'s budget from the server's settings: what is left of `max_connections` for ordinary roles, less `reserve`. */
export function autoBudget(
  maxConnections: number,
  superuserReserved: number,
  reserved: number,
  reserve: number,
): number {
  return Math.max(1, maxConnections - superuserReserved - reserved - reserve);
}
