import { AsyncLocalStorage } from 'node:async_hooks';
import { ConfigError } from '../errors.js';
import { ScopePeaks, type Clock, type ScopeSnapshot, type ScopeUsage } from '../adaptive/index.js';

/** The scopes a statement runs in: every enclosing scope, outermost first, each once. */
export type ActiveScopes = readonly ScopeUsage[];

/** What {@link QueryRouter.prewarm} did. */
export interface ScopePrewarm {
  readonly scope: string;
  /**
   * Connections reserved and opened per node: the scope's peak of concurrent statements there during its last
   * run. Empty when the scope has not completed a run yet (nothing is known to pre-warm).
   */
  readonly connections: Readonly<Record<string, number>>;
}

/** How scopes reach the nodes' pools, by node index (0: the primary, then the replicas in order). */
export interface ScopePools {
  /** Keeps `count` more connections allowed and open on node `node` (resolves once they are open). */
  reserve(node: number, count: number): Promise<void>;
  /** Gives them back: the pool returns to its adaptive target. */
  unreserve(node: number, count: number): void;
}

/** Most scopes tracked; the least recently used is forgotten first. */
export const MAX_SCOPES = 256;
/** How long a pre-warm reservation waits for its scope to start before it lapses, in milliseconds. */
export const PREWARM_WAIT_MS = 60_000;
/** Longest scope name accepted. */
export const MAX_SCOPE_NAME_LENGTH = 100;

/** True if `text` holds a control character (they would garble logs and the dashboard). */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** `name` if it is a valid scope name; otherwise a {@link ConfigError} naming `key`. */
export function checkScopeName(name: unknown, key: string): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > MAX_SCOPE_NAME_LENGTH ||
    hasControlCharacter(name)
  ) {
    const got =
      typeof name === 'string'
        ? name.length === 0
          ? 'an empty string'
          : name.length > MAX_SCOPE_NAME_LENGTH
            ? `${name.length} characters`
            : 'control characters'
        : name === null
          ? 'null'
          : typeof name;
    throw new ConfigError(
      key,
      `must be a non-empty string of at most ${MAX_SCOPE_NAME_LENGTH} characters without control characters, got ${got}`,
    );
  }
  return name;
}

/** Connections reserved by one `prewarm()`, released when the scope's next period of activity ends. */
interface Reservation {
  readonly sizes: readonly number[];
  /** Releases the reservation if the scope does not start in time; cleared once it has started. */
  timer: NodeJS.Timeout | undefined;
}

/**
 * Named workload scopes: `run(name, fn)` tags every statement started inside `fn` (through AsyncLocalStorage) so
 * that each scope's peak of concurrent statements per node is learned ({@link ScopePeaks}); `prewarm(name)`
 * reserves and opens that many connections before the next run, and gives them back when it ends. Until the
 * first `run`, {@link used} is false and the statement path does not even read the AsyncLocalStorage.
 */
export class WorkloadScopes {
  private readonly storage = new AsyncLocalStorage<ActiveScopes>();
  private readonly peaks: ScopePeaks;
  private readonly reservations = new Map<ScopeUsage, Reservation[]>();
  /** True once a scope has run: only then does the statement path look for one. */
  used = false;

  /**
   * @param nodes node names by index (0: the primary).
   * @param waitMs how long a reservation waits for its scope to start before it is released.
   */
  constructor(
    private readonly nodes: readonly string[],
    private readonly pools: ScopePools,
    private readonly waitMs: number,
    clock: Clock,
  ) {
    this.peaks = new ScopePeaks(nodes, MAX_SCOPES, clock);
  }

  /** The scopes the caller runs in now, or `undefined`. */
  current(): ActiveScopes | undefined {
    return this.storage.getStore();
  }

  /**
   * Runs `fn` inside scope `name`. Scopes nest: a statement counts towards every enclosing scope; re-entering a
   * scope already enclosing the caller adds nothing.
   */
  async run<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    checkScopeName(name, 'scope.name');
    if (typeof fn !== 'function') throw new ConfigError('scope', 'expects a callback () => result');
    this.used = true;
    const outer = this.storage.getStore();
    const enclosing = outer?.find((usage) => usage.name === name);
    if (enclosing !== undefined) return fn();
    const usage = this.peaks.begin(name);
    if (usage.active === 1) this.started(usage);
    try {
      return await this.storage.run(outer === undefined ? [usage] : [...outer, usage], fn);
    } finally {
      if (this.peaks.end(usage)) this.release(usage);
    }
  }

  /**
   * Reserves and opens, on each node, as many connections as scope `name` had statements in flight at its peak
   * last time. They stay reserved until the scope's next period of activity ends (or, if it does not start within
   * `waitMs`, until then).
   */
  async prewarm(name: string): Promise<ScopePrewarm> {
    checkScopeName(name, 'prewarm.name');
    const usage = this.peaks.peek(name);
    const peak = usage?.last;
    if (usage === undefined || peak === undefined) return { scope: name, connections: {} };
    const reservation: Reservation = { sizes: [...peak], timer: undefined };
    let pending = this.reservations.get(usage);
    if (pending === undefined) this.reservations.set(usage, (pending = []));
    pending.push(reservation);
    if (usage.active === 0) {
      reservation.timer = setTimeout(() => this.drop(usage, reservation), this.waitMs);
      reservation.timer.unref();
    }
    await Promise.all(reservation.sizes.map((size, node) => (size > 0 ? this.pools.reserve(node, size) : undefined)));
    return {
      scope: name,
      connections: Object.fromEntries(
        this.nodes.map((node, i) => [node, reservation.sizes[i] ?? 0]).filter(([, size]) => (size as number) > 0),
      ),
    };
  }

  /** Every tracked scope, most recently used first. */
  snapshot(): ScopeSnapshot[] {
    return this.peaks.snapshot();
  }

  /** Connections reserved now per node index, over all pending pre-warms. */
  reserved(): number[] {
    const total = new Array<number>(this.nodes.length).fill(0);
    for (const list of this.reservations.values())
      for (const reservation of list) reservation.sizes.forEach((size, i) => (total[i]! += size));
    return total;
  }

  /** Releases every reservation (the router is closing). */
  clear(): void {
    for (const [usage, list] of this.reservations) for (const reservation of [...list]) this.drop(usage, reservation);
  }

  /** The scope started: its reservations now last until it ends. */
  private started(usage: ScopeUsage): void {
    for (const reservation of this.reservations.get(usage) ?? []) {
      clearTimeout(reservation.timer);
      reservation.timer = undefined;
    }
  }

  /** The scope's period of activity ended: the pools go back to their targets. */
  private release(usage: ScopeUsage): void {
    for (const reservation of [...(this.reservations.get(usage) ?? [])]) this.drop(usage, reservation);
  }

  private drop(usage: ScopeUsage, reservation: Reservation): void {
    const list = this.reservations.get(usage);
    const index = list?.indexOf(reservation) ?? -1;
    if (list === undefined || index < 0) return;
    list.splice(index, 1);
    if (list.length === 0) this.reservations.delete(usage);
    clearTimeout(reservation.timer);
    reservation.sizes.forEach((size, node) => {
      if (size > 0) this.pools.unreserve(node, size);
    });
  }
}

/** Counts a statement starting on node `node` in each of `scopes`. */
export function enterScopes(scopes: ActiveScopes, node: number): void {
  for (let i = 0; i < scopes.length; i++) scopes[i]!.enter(node);
}

/** Counts that statement's end. */
export function leaveScopes(scopes: ActiveScopes, node: number): void {
  for (let i = 0; i < scopes.length; i++) scopes[i]!.leave(node);
}
