import type pg from 'pg';
import type { PoolClient } from 'pg';
import { stateOf } from './client-state.js';
import type { ConnectionRecycler } from './connection-recycler.js';
import { setPoolCeiling } from './pg-internals.js';

/** Weight of the newest connect time in {@link PoolSizing.connectMs}'s moving mean. */
const CONNECT_WEIGHT = 0.2;

/** What {@link PoolSizing} needs of its pool: the bounds, where connections come from, and where errors go. */
export interface PoolSizingOptions {
  /** Connections kept open however small the target (pg-pool's `min`). */
  readonly min: number;
  /** The configured ceiling, which no target exceeds. */
  readonly max: number;
  /** Opens a connection or takes an idle one (with the pool's connect retries). */
  readonly connect: () => Promise<PoolClient>;
  /** Told of a connection opened in the background that failed. */
  readonly onError?: (error: Error) => void;
}

/**
 * How many connections a pool may open and keeps open: its ceiling (`max`, or a smaller adaptive target), the
 * connections reserved for pre-warmed workload scopes on top of it, and the connections opened or closed at once
 * when either changes. Resizing rewrites pg-pool's own limits (see `setPoolCeiling`); when pg-pool does not look
 * as expected the ceiling stays at `max` and resizing does nothing.
 */
export class PoolSizing {
  /** The most connections opened now: `max`, or a smaller adaptive target. */
  ceiling: number;
  /** Connections reserved by {@link reserve} now. */
  reserved = 0;
  /** Exponentially weighted mean time to open a connection for {@link resize}, in milliseconds (`0`: none opened yet). */
  connectMs = 0;
  /** The target last asked of {@link resize}, and whether to keep it warm: re-applied when reservations change. */
  private requested: number;
  private keptWarm = false;
  /** The cluster-wide connection budget's share for this pool (see `adaptive/connection-budget.ts`), if any. */
  private budgetCap: number | undefined;
  /** The connections the node had room for when it last refused one (53300), while that holds. */
  private refusalCap: number | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly recycler: ConnectionRecycler,
    private readonly options: PoolSizingOptions,
  ) {
    this.ceiling = options.max;
    this.requested = options.max;
  }

  /**
   * Sets the most connections the pool opens (clamped to [max(min, 1), max]). Raising it opens connections for
   * the callers already waiting (with `keepWarm`: up to the new ceiling) in the background; lowering it closes
   * idle connections above the new ceiling (busy ones close as they are returned, by the idle timeout). With
   * `keepWarm`, connections up to the ceiling are also kept open when idle (the idle timeout then closes only
   * those above it), so a pool sized for recurring bursts stays ready. Connections {@link reserve}d for a
   * pre-warmed scope are kept on top: the ceiling is never below them.
   */
  resize(target: number, keepWarm = false): void {
    this.requested = target;
    this.keptWarm = keepWarm;
    this.apply(true);
  }

  /**
   * Caps the ceiling from outside whatever {@link resize} asked: `'budget'` is this pool's share of a cluster-wide
   * connection budget (at least 1), `'refusal'` the connections a full node had room for (may be 0: every caller
   * queues). `undefined` lifts the cap. A refusal cap never opens connections itself (its probe does); a budget cap
   * that rises opens them for the callers waiting. Returns the ceiling now in force (`max` when resizing is off).
   */
  limit(kind: 'budget' | 'refusal', cap: number | undefined): number {
    if (kind === 'budget') this.budgetCap = cap === undefined ? undefined : Math.max(1, Math.floor(cap));
    else this.refusalCap = cap === undefined ? undefined : Math.max(0, Math.floor(cap));
    this.apply(kind === 'budget');
    return this.ceiling;
  }

  private apply(openForWaiters: boolean): void {
    const { min, max } = this.options;
    const target = this.requested;
    const keepWarm = this.keptWarm;
    let ceiling = Math.min(max, Math.max(1, min, Math.floor(target), this.reserved));
    if (this.budgetCap !== undefined) ceiling = Math.min(ceiling, this.budgetCap);
    if (this.refusalCap !== undefined) ceiling = Math.min(ceiling, this.refusalCap);
    if (!setPoolCeiling(this.pool, ceiling, keepWarm ? ceiling : Math.min(min, ceiling))) return;
    this.ceiling = ceiling;
    if (!openForWaiters) ceiling = Math.min(ceiling, this.pool.totalCount);
    // A new connection joins the idle ones and goes to the first caller in line, so a waiter takes whichever comes
    // first: a busy connection back in a few ms or the new one. pg-pool left to itself would tie each waiter to a
    // connection of its own and make it wait the whole connect (~30 ms of CPU under load here).
    let opening = Math.min(
      keepWarm ? Number.POSITIVE_INFINITY : this.pool.waitingCount,
      ceiling - this.pool.totalCount,
    );
    while (opening-- > 0) {
      const started = performance.now();
      this.options.connect().then(
        (client) => {
          const tookMs = performance.now() - started;
          this.connectMs = this.connectMs === 0 ? tookMs : this.connectMs + (tookMs - this.connectMs) * CONNECT_WEIGHT;
          client.release();
        },
        (error: Error) => this.options.onError?.(error),
      );
    }
    let surplus = Math.min(this.pool.totalCount - ceiling, this.pool.idleCount - this.pool.waitingCount);
    while (surplus-- > 0) {
      // Taking an idle connection and discarding it is the public way to close one.
      this.pool.connect().then(
        (client) => {
          this.recycler.recycle(stateOf(client), 'shrink');
          client.release(true);
        },
        () => undefined,
      );
    }
  }

  /** Opens connections until `count` (at most the ceiling) are open, so the first queries do not pay for connecting. */
  async warm(count: number): Promise<void> {
    const missing = Math.min(count, this.ceiling) - this.pool.totalCount;
    if (missing > 0) await this.holdAtOnce(missing);
  }

  /**
   * Keeps at least `count` more connections allowed (the ceiling is never below the reservations) and opens them
   * now; with adaptive sizing they are also kept open while idle. For a workload scope about to start: release
   * them with {@link unreserve} when it ends, and the pool returns to its target.
   */
  async reserve(count: number): Promise<void> {
    this.reserved += Math.max(0, Math.floor(count));
    this.resize(this.requested, this.keptWarm);
    // Holding that many at once is what proves they are open: counting the pool's clients would include ones
    // still connecting.
    await this.holdAtOnce(Math.min(this.reserved, this.ceiling));
  }

  /** Gives back what {@link reserve} took: the pool returns to the target adaptive sizing set (idle surplus closes at once). */
  unreserve(count: number): void {
    this.reserved = Math.max(0, this.reserved - Math.max(0, Math.floor(count)));
    this.resize(this.requested, this.keptWarm);
  }

  /** Takes `count` connections at once and returns them; throws the first failure once every attempt settled. */
  private async holdAtOnce(count: number): Promise<void> {
    const clients = await Promise.allSettled(Array.from({ length: count }, () => this.options.connect()));
    for (const outcome of clients) if (outcome.status === 'fulfilled') outcome.value.release();
    const failure = clients.find((outcome) => outcome.status === 'rejected');
    if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
  }
}
