/**
 * What the fault scenario records: every statement (in growable typed columns, so half a million failed writes
 * cost a few megabytes and no per-statement object), the router's events, and the cluster actions.
 */

/** Kind of a statement routed as a read (`SELECT`). */
export const READ = 0;
/** Kind of a statement that must run on the primary (`INSERT`, `UPDATE`). */
export const WRITE = 1;
/** `READ` or `WRITE`. */
export type StatementKind = typeof READ | typeof WRITE;

/** Every statement of a run, in the order they completed. */
export class StatementLog {
  private starts = new Float64Array(1 << 16);
  private latencies = new Float64Array(1 << 16);
  private kinds = new Uint8Array(1 << 16);
  private oks = new Uint8Array(1 << 16);
  private ports = new Uint16Array(1 << 16);
  private codeIds = new Uint16Array(1 << 16);
  private readonly codes: string[] = [''];
  private readonly codeIndex = new Map<string, number>([['', 0]]);
  /** Statements recorded. */
  length = 0;

  /** Appends one statement (see {@link StatementLog.forEach} for the fields). */
  record(startMs: number, latencyMs: number, kind: StatementKind, ok: boolean, port: number, code: string): void {
    if (this.length === this.starts.length) this.grow();
    const i = this.length++;
    this.starts[i] = startMs;
    this.latencies[i] = latencyMs;
    this.kinds[i] = kind;
    this.oks[i] = ok ? 1 : 0;
    this.ports[i] = port;
    let id = this.codeIndex.get(code);
    if (id === undefined) {
      id = this.codes.length;
      this.codes.push(code);
      this.codeIndex.set(code, id);
    }
    this.codeIds[i] = id;
  }

  /**
   * Calls `fn` for every statement: when it started (`performance.now()`, ms), its latency (ms), its kind, whether it
   * succeeded, the server port that answered (reads return `inet_server_port()`; 0 when unknown) and its error code
   * (SQLSTATE, errno or `PGR_…`; `''` for a success). Allocates nothing per statement.
   */
  forEach(
    fn: (startMs: number, latencyMs: number, kind: StatementKind, ok: boolean, port: number, code: string) => void,
  ): void {
    for (let i = 0; i < this.length; i++)
      fn(
        this.starts[i]!,
        this.latencies[i]!,
        this.kinds[i] as StatementKind,
        this.oks[i] === 1,
        this.ports[i]!,
        this.codes[this.codeIds[i]!]!,
      );
  }

  private grow(): void {
    const size = this.starts.length * 2;
    const grown = <T extends Float64Array | Uint8Array | Uint16Array>(old: T, make: (n: number) => T): T => {
      const next = make(size);
      next.set(old);
      return next;
    };
    this.starts = grown(this.starts, (n) => new Float64Array(n));
    this.latencies = grown(this.latencies, (n) => new Float64Array(n));
    this.kinds = grown(this.kinds, (n) => new Uint8Array(n));
    this.oks = grown(this.oks, (n) => new Uint8Array(n));
    this.ports = grown(this.ports, (n) => new Uint16Array(n));
    this.codeIds = grown(this.codeIds, (n) => new Uint16Array(n));
  }
}

/** Names of the router events the scenario listens to. */
export const ROUTER_EVENT_NAMES = [
  'breakerOpen',
  'breakerHalfOpen',
  'breakerClose',
  'replicaDown',
  'replicaUp',
] as const;
/** One of {@link ROUTER_EVENT_NAMES}. */
export type RouterEventName = (typeof ROUTER_EVENT_NAMES)[number];

/** One router event as it arrived. */
export interface RecordedEvent {
  /** `performance.now()` when the listener ran, in ms. */
  readonly atMs: number;
  readonly name: RouterEventName;
  /** The router's node name: `primary`, `replica-0`, … */
  readonly node: string;
  /** The health check's reason for `replicaDown`. */
  readonly detail?: string;
}

/** What a cluster action did to a node: break it, or bring it back. */
export type ActionEffect = 'fault' | 'back';

/** One cluster action of the scenario. */
export interface ClusterAction {
  /** E.g. `killNode(1)`. */
  readonly label: string;
  /** Index in `cluster.nodes`. */
  readonly nodeIndex: number;
  readonly effect: ActionEffect;
  /** `performance.now()` when it was called, in ms. */
  readonly startedMs: number;
  /** When its promise resolved (the node gone, or accepting connections again). */
  readonly doneMs: number;
}

/** One phase of the scenario, with the action that opened it, if any. */
export interface Phase {
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly action?: ClusterAction;
}
