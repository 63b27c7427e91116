import { LRUCache } from 'lru-cache';
import type { Clock } from './clock.js';

/** One workload scope as `stats().scopes` reports it; per-node figures are keyed by node name. */
export interface ScopeSnapshot {
  readonly name: string;
  /** Runs of the scope that have finished. */
  readonly runs: number;
  /** Runs in progress now. */
  readonly active: number;
  /** Its statements running or waiting for a connection now, per node. */
  readonly inFlight: Readonly<Record<string, number>>;
  /**
   * The most of its statements in flight at once on each node during its last completed period of activity (from
   * the first run starting to the last overlapping run ending): what `router.prewarm(name)` opens. `null` before
   * one completed.
   */
  readonly lastPeak: Readonly<Record<string, number>> | null;
  /** When that period ended (epoch ms), or `null`. */
  readonly lastEndedAt: number | null;
}

/**
 * One scope's counters, shared by all of its runs: statements in flight and the peak per node (by index, in the
 * order the nodes were given), updated on the statement path with no look-up.
 */
export class ScopeUsage {
  readonly name: string;
  /** Runs in progress now. */
  active = 0;
  /** Runs that have finished. */
  runs = 0;
  /** Statements of the scope running or waiting for a connection now, per node. */
  readonly inFlight: number[];
  /** The most in flight at once per node during the current period of activity. */
  readonly peak: number[];
  /** {@link peak} as it was when the last period ended; `undefined` before one ended. */
  last: number[] | undefined;
  /** When the last period ended (clock ms). */
  lastEndedAt: number | undefined;

  constructor(name: string, nodes: number) {
    this.name = name;
    this.inFlight = new Array<number>(nodes).fill(0);
    this.peak = new Array<number>(nodes).fill(0);
  }

  /** A statement of this scope starts on node `node` (it may still wait for a connection). */
  enter(node: number): void {
    const now = ++this.inFlight[node]!;
    if (now > this.peak[node]!) this.peak[node] = now;
  }

  /** That statement ended. */
  leave(node: number): void {
    this.inFlight[node]!--;
  }
}

/**
 * Per-scope peaks of concurrent statements per node: how many connections each node needed for a named piece of
 * work last time, so it can be pre-warmed before the next run. Runs of the same scope that overlap form one period
 * of activity; its peak is kept when the last of them ends. Memory is bounded: at most `maxScopes` scopes, the
 * least recently used forgotten first.
 */
export class ScopePeaks {
  private readonly scopes: LRUCache<string, ScopeUsage>;

  constructor(
    private readonly nodes: readonly string[],
    maxScopes: number,
    private readonly clock: Clock,
  ) {
    this.scopes = new LRUCache<string, ScopeUsage>({ max: maxScopes });
  }

  /** A run of scope `name` starts: its usage, to count statements with and to pass to {@link end}. */
  begin(name: string): ScopeUsage {
    let usage = this.scopes.get(name);
    if (usage === undefined) {
      usage = new ScopeUsage(name, this.nodes.length);
      this.scopes.set(name, usage);
    }
    if (usage.active++ === 0) {
      // A new period of activity: its peak starts from what is still running (statements a finished run left behind).
      for (let i = 0; i < usage.peak.length; i++) usage.peak[i] = usage.inFlight[i]!;
    }
    return usage;
  }

  /** A run ends; true when it was the last one running, which closes the period and keeps its peak. */
  end(usage: ScopeUsage): boolean {
    usage.runs++;
    if (--usage.active > 0) return false;
    usage.last = [...usage.peak];
    usage.lastEndedAt = this.clock.now();
    return true;
  }

  /** The peak per node (by index) of the scope's last completed period, or `undefined`. */
  lastPeak(name: string): readonly number[] | undefined {
    return this.scopes.peek(name)?.last;
  }

  /** The usage of `name` if tracked (without refreshing its place in the LRU order). */
  peek(name: string): ScopeUsage | undefined {
    return this.scopes.peek(name);
  }

  /** Every tracked scope, most recently used first. */
  snapshot(): ScopeSnapshot[] {
    const byNode = (values: readonly number[]): Record<string, number> =>
      Object.fromEntries(this.nodes.map((node, i) => [node, values[i] ?? 0]));
    const result: ScopeSnapshot[] = [];
    for (const usage of this.scopes.values()) {
      result.push({
        name: usage.name,
        runs: usage.runs,
        active: usage.active,
        inFlight: byNode(usage.inFlight),
        lastPeak: usage.last === undefined ? null : byNode(usage.last),
        lastEndedAt: usage.lastEndedAt ?? null,
      });
    }
    return result;
  }
}
