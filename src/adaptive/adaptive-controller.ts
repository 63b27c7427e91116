import type { Clock } from './clock.js';
import { HourlyProfile } from './hourly-profile.js';
import { PoolSizer, type Resize } from './pool-sizer.js';
import { readStateFile, writeStateFile, type SavedNode } from './state-file.js';
import { forecastWorkload, poolSizeFor, type WorkloadForecast } from './workload-forecast.js';

/** A node's pool as the controller sees it. */
export interface SizedPool {
  /** `'primary'`, `'replica-0'`, … */
  readonly name: string;
  /** `host:port/database`: how the state file recognises the node across restarts. */
  readonly label: string;
  /** Cumulative counters since the pool started. */
  counters(): {
    readonly queries: number;
    readonly acquisitions: number;
    readonly heldMs: number;
    readonly waiting: number;
    readonly total?: number;
    readonly opening?: number;
    /** Recent mean time to open a connection (ms; 0: not measured yet). */
    readonly connectMs?: number;
  };
  /** Sets the pool's ceiling, and keeps that many connections warm. */
  resize(target: number): void;
}

/** Settings of the controller (validated by the router's options). */
export interface AdaptiveSettings {
  /** Whether pool sizes follow the workload; the workload is learned either way. */
  readonly enabled: boolean;
  readonly intervalMs: number;
  readonly targetUtilization: number;
  readonly hysteresis: number;
  readonly cooldownMs: number;
  readonly peakHoldMs: number;
  /** Where the learned profile is kept across restarts; `undefined`: nowhere. */
  readonly stateFile: string | undefined;
  readonly saveIntervalMs: number;
  readonly min: number;
  readonly max: number;
}

/** What the controller tells its owner. */
export interface AdaptiveEvents {
  onResize(node: string, resize: Resize): void;
  onWarning(message: string): void;
}

interface Tracked {
  readonly pool: SizedPool;
  readonly arrivals: HourlyProfile;
  readonly busy: HourlyProfile;
  readonly sizer: PoolSizer;
  last: { queries: number; acquisitions: number; heldMs: number };
  /** The size learned for this hour in an earlier run, if a state file said so. */
  learned: number | undefined;
}

/**
 * Learns each node's workload by hour (statements per second, busy connections) and, when enabled, sizes each
 * pool to it every `intervalMs` (see {@link PoolSizer}), growing at once under pressure. Saves and restores the
 * learned profile through a state file.
 */
export class AdaptiveController {
  private readonly nodes: Tracked[];
  private lastTick: number;
  private lastSave: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    pools: readonly SizedPool[],
    private readonly settings: AdaptiveSettings,
    private readonly clock: Clock,
    private readonly events: AdaptiveEvents,
  ) {
    const now = clock.now();
    this.lastTick = now;
    this.lastSave = now;
    const saved = this.restore();
    const bounds = { min: settings.min, max: settings.max, targetUtilization: settings.targetUtilization };
    this.nodes = pools.map((pool) => {
      const previous = saved.get(pool.label);
      const arrivals = previous?.arrivals ?? new HourlyProfile();
      const busy = previous?.busy ?? new HourlyProfile();
      const slot = previous?.busy.at(now);
      const learned = slot === undefined ? undefined : poolSizeFor(slot.peak, bounds);
      const sizer = new PoolSizer(settings, settings.min);
      // A restarted service opens what this hour needed before and keeps it for the hold, as if it had just seen it.
      if (learned !== undefined) sizer.reset(learned, now);
      const counters = pool.counters();
      return {
        pool,
        arrivals,
        busy,
        sizer,
        learned,
        last: { queries: counters.queries, acquisitions: counters.acquisitions, heldMs: counters.heldMs },
      };
    });
    if (saved.size > 0 && !pools.some((pool) => saved.has(pool.label))) {
      events.onWarning(
        `adaptive state file ${settings.stateFile} ignored: it describes other nodes (${[...saved.keys()].join(', ')})`,
      );
    }
    if (settings.enabled) for (const node of this.nodes) node.pool.resize(node.sizer.target);
  }

  /** The size to pre-warm `name`'s pool to: learned for this hour, else `undefined` (use `min`). */
  learnedSize(name: string): number | undefined {
    return this.nodes.find((node) => node.pool.name === name)?.learned;
  }

  /** The target of `name`'s pool (its ceiling when sizing is enabled). */
  target(name: string): number | undefined {
    return this.nodes.find((node) => node.pool.name === name)?.sizer.target;
  }

  /** Starts the periodic learning and sizing (the timer does not keep the process alive). */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.tick(), this.settings.intervalMs);
    this.timer.unref();
  }

  /** One interval: learn from what each pool did since the last one, resize when enabled, save when due. */
  tick(): void {
    const now = this.clock.now();
    const elapsedMs = now - this.lastTick;
    if (elapsedMs <= 0) return;
    this.lastTick = now;
    for (const node of this.nodes) {
      const counters = node.pool.counters();
      const sample = {
        now,
        elapsedMs,
        acquisitions: counters.acquisitions - node.last.acquisitions,
        heldMs: Math.max(0, counters.heldMs - node.last.heldMs),
        waiting: counters.waiting,
        open: counters.total,
        opening: counters.opening,
        connectMs: counters.connectMs,
      };
      node.arrivals.observe(now, ((counters.queries - node.last.queries) * 1000) / elapsedMs, elapsedMs);
      // The median of the last few intervals, as the sizer goes by: one stalled interval does not become the hour's peak.
      const busy = node.sizer.observe(sample);
      node.busy.observe(now, busy, elapsedMs);
      node.last = { queries: counters.queries, acquisitions: counters.acquisitions, heldMs: counters.heldMs };
      if (this.settings.enabled) this.apply(node, node.sizer.decide(sample, busy));
    }
    if (this.settings.stateFile !== undefined && now - this.lastSave >= this.settings.saveIntervalMs) this.save();
  }

  /** A caller of `name`'s pool must wait with every connection busy: grow at once. */
  pressure(name: string, waiting: number, busy: number, opening = 0): void {
    if (!this.settings.enabled) return;
    const node = this.nodes.find((candidate) => candidate.pool.name === name);
    if (node !== undefined) this.apply(node, node.sizer.pressure(this.clock.now(), waiting, busy, opening));
  }

  /** The forecast from everything learned so far (and restored from the state file). */
  forecast(): WorkloadForecast {
    const bounds = {
      min: this.settings.min,
      max: this.settings.max,
      targetUtilization: this.settings.targetUtilization,
    };
    return forecastWorkload(
      this.nodes.map((node) => ({ name: node.pool.name, arrivals: node.arrivals, busy: node.busy })),
      bounds,
      this.clock.now(),
    );
  }

  /** Writes the state file now (when one is configured); a failure is reported as a warning, never thrown. */
  save(): void {
    const path = this.settings.stateFile;
    if (path === undefined) return;
    const now = this.clock.now();
    this.lastSave = now;
    try {
      writeStateFile(
        path,
        new Map(
          this.nodes.map((node): [string, SavedNode] => [
            node.pool.label,
            { arrivals: node.arrivals, busy: node.busy },
          ]),
        ),
        now,
      );
    } catch (error) {
      this.events.onWarning(`adaptive state file ${path} not saved: ${(error as Error).message}`);
    }
  }

  /** Stops the timer; with a state file, learns from the last partial interval and saves. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.settings.stateFile !== undefined) {
      this.tick();
      this.save();
    }
  }

  private apply(node: Tracked, resize: Resize | undefined): void {
    if (resize === undefined) return;
    node.pool.resize(resize.to);
    this.events.onResize(node.pool.name, resize);
  }

  private restore(): ReadonlyMap<string, SavedNode> {
    const path = this.settings.stateFile;
    if (path === undefined) return new Map();
    const read = readStateFile(path);
    if (!read.ok) {
      if (!read.missing) this.events.onWarning(`adaptive state file ${path} ignored: ${read.reason}`);
      return new Map();
    }
    return read.nodes;
  }
}
