import { READ, WRITE, type ClusterAction, type Phase, type RecordedEvent } from './log.js';
import type { ScenarioNode, ScenarioResult } from './scenario.js';
import { percentileOfSorted } from '../lib/stats.js';

/** Targets from the issue. */
export const FAULT_TARGETS = Object.freeze({
  /** Reads that fail, over the whole run. */
  maxFailedReads: 0,
  /** p99 latency of writes failing while the primary's breaker is open, in ms. */
  maxOpenBreakerFailedWriteP99Ms: 5,
  /** Recovery within `resetTimeoutMs` plus this, in ms. */
  recoverySlackMs: 1_000,
});

/** Latency percentiles of a set of statements, in ms (`NaN` when there are none). */
export interface Latency {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** One phase's statements. Times are relative to the start of the first phase. */
export interface PhaseSummary {
  readonly name: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly reads: number;
  readonly failedReads: number;
  /** Latency of the reads that succeeded. */
  readonly readLatency: Latency;
  /** The slowest read, failed or not, in ms (`NaN` for none): a read that waited out a frozen node shows here. */
  readonly readMaxMs: number;
  readonly writes: number;
  readonly failedWrites: number;
  /** Latency of the writes that succeeded. */
  readonly writeLatency: Latency;
  /** The slowest write, failed or not, in ms (`NaN` for none). */
  readonly writeMaxMs: number;
}

/** How one fault was detected and recovered from. Durations in ms; `undefined`: not seen. */
export interface FaultOutcome {
  /** The phase the fault opened, e.g. `replica1 SIGKILLed`. */
  readonly fault: string;
  readonly node: ScenarioNode;
  readonly faultAction: ClusterAction;
  readonly backAction: ClusterAction;
  /** From the fault to the node's first `breakerOpen`. */
  readonly breakerOpenAfterMs: number | undefined;
  /** From the fault to the node's first `replicaDown` (replicas only). */
  readonly replicaDownAfterMs: number | undefined;
  /** The earlier of the two: when the router knew. */
  readonly detectedAfterMs: number | undefined;
  /**
   * How long the action that brought the node back took to resolve: for a restart, until the cluster saw it
   * accept connections (crash recovery included), which the router may notice first.
   */
  readonly backTookMs: number;
  /** From the restart or resume call to the node's first `breakerClose`, when its breaker was not closed then. */
  readonly breakerCloseAfterMs: number | undefined;
  /** From the restart or resume call to the node's first `replicaUp`, when it was marked down then. */
  readonly replicaUpAfterMs: number | undefined;
  /** From the restart or resume call to the end of the first statement the node answered successfully. */
  readonly firstSuccessAfterMs: number | undefined;
  /** From the restart or resume call to the moment its breaker was closed, it was healthy, and it had answered a statement. */
  readonly recoveredAfterMs: number | undefined;
  /** `resetTimeoutMs` + the slack. */
  readonly recoveryLimitMs: number;
  readonly recoveryMet: boolean;
}

/** Writes around the primary's outage. Times relative to the moment the primary was stopped, in ms. */
export interface WriteOutage {
  readonly failedWrites: number;
  /** Failed writes by error code, most frequent first. */
  readonly codes: readonly (readonly [code: string, count: number])[];
  /** Start of the first failed write and end of the last one. */
  readonly firstFailureMs: number | undefined;
  readonly lastFailureMs: number | undefined;
  /** When the primary was started again, and when the cluster saw it accept connections. */
  readonly restartMs: number;
  readonly backMs: number;
  /** Failures are allowed from the stop to `backMs` + `resetTimeoutMs` + the slack. */
  readonly allowedUntilMs: number;
  /** Failed writes outside the allowed window. */
  readonly outside: number;
  /** When the primary's breaker first opened, and when it closed again after the restart. */
  readonly breakerOpenedMs: number | undefined;
  readonly breakerClosedMs: number | undefined;
  /** Failed writes that started before the breaker opened: in flight at the stop, or tried against the dying node. */
  readonly beforeOpen: Latency & { readonly maxMs: number };
  /** Failed writes that started once the breaker had opened, until it closed: the target's population. */
  readonly onceOpen: Latency;
  /** Of {@link onceOpen}: rejected by the breaker without a try (`PGR_CIRCUIT_OPEN`), and half-open trial calls that failed. */
  readonly rejected: number;
  readonly failedTrials: number;
  readonly fastFailMet: boolean;
}

/** Everything the report prints, computed from a {@link ScenarioResult}. */
export interface FaultsAnalysis {
  readonly phases: readonly PhaseSummary[];
  readonly total: PhaseSummary;
  readonly faults: readonly FaultOutcome[];
  /** Undefined when the scenario did not stop the primary. */
  readonly writes: WriteOutage | undefined;
  /** Failed reads by error code, most frequent first. */
  readonly failedReadCodes: readonly (readonly [code: string, count: number])[];
  /** Router events, times relative to the start of the first phase. */
  readonly events: readonly RecordedEvent[];
  /** Start of the first phase, as `performance.now()`. */
  readonly originMs: number;
}

function latency(samples: number[]): Latency {
  const sorted = Float64Array.from(samples).sort();
  return { count: sorted.length, p50Ms: percentileOfSorted(sorted, 50), p99Ms: percentileOfSorted(sorted, 99) };
}

function countCodes(codes: Map<string, number>): (readonly [string, number])[] {
  return [...codes].sort((a, b) => b[1] - a[1]);
}

/**
 * The statements that started in [`from`, `to`); `shownTo` is the phase's end as printed (the last phase also
 * takes the statements that started before its end and were still running).
 */
function summarisePhase(
  result: ScenarioResult,
  name: string,
  from: number,
  to: number,
  shownTo: number,
  origin: number,
): PhaseSummary {
  const reads: number[] = [];
  const writes: number[] = [];
  let readCount = 0;
  let writeCount = 0;
  let failedReads = 0;
  let failedWrites = 0;
  let readMax = Number.NaN;
  let writeMax = Number.NaN;
  result.log.forEach((start, ms, kind, ok) => {
    if (start < from || start >= to) return;
    if (kind === READ) {
      readCount++;
      if (!(ms <= readMax)) readMax = ms;
      if (ok) reads.push(ms);
      else failedReads++;
    } else {
      writeCount++;
      if (!(ms <= writeMax)) writeMax = ms;
      if (ok) writes.push(ms);
      else failedWrites++;
    }
  });
  return {
    name,
    fromMs: from - origin,
    toMs: shownTo - origin,
    reads: readCount,
    failedReads,
    readLatency: latency(reads),
    readMaxMs: readMax,
    writes: writeCount,
    failedWrites,
    writeLatency: latency(writes),
    writeMaxMs: writeMax,
  };
}

const first = (
  events: readonly RecordedEvent[],
  node: string,
  name: RecordedEvent['name'],
  from: number,
  to = Number.POSITIVE_INFINITY,
): RecordedEvent | undefined => events.find((e) => e.node === node && e.name === name && e.atMs >= from && e.atMs < to);

/**
 * The node's breaker and health state at `at`, replaying its events from the scenario's start. Before any event
 * a breaker is closed and a node healthy, as the router starts them.
 */
function stateAt(
  events: readonly RecordedEvent[],
  node: string,
  at: number,
): { breakerClosed: boolean; healthy: boolean } {
  let breakerClosed = true;
  let healthy = true;
  for (const e of events) {
    if (e.atMs > at) break;
    if (e.node !== node) continue;
    if (e.name === 'breakerOpen' || e.name === 'breakerHalfOpen') breakerClosed = false;
    else if (e.name === 'breakerClose') breakerClosed = true;
    else if (e.name === 'replicaDown') healthy = false;
    else if (e.name === 'replicaUp') healthy = true;
  }
  return { breakerClosed, healthy };
}

/** When, at or after `from`, the node's breaker is closed and it is healthy: the first such event, or `from`. */
function backInRotationAt(events: readonly RecordedEvent[], node: string, from: number): number | undefined {
  let { breakerClosed, healthy } = stateAt(events, node, from);
  if (breakerClosed && healthy) return from;
  for (const e of events) {
    if (e.atMs <= from || e.node !== node) continue;
    if (e.name === 'breakerOpen' || e.name === 'breakerHalfOpen') breakerClosed = false;
    else if (e.name === 'breakerClose') breakerClosed = true;
    else if (e.name === 'replicaDown') healthy = false;
    else if (e.name === 'replicaUp') healthy = true;
    if (breakerClosed && healthy) return e.atMs;
  }
  return undefined;
}

/** End of the first statement `node` answered successfully that ended at or after `from`. */
function firstSuccessOn(result: ScenarioResult, node: ScenarioNode, from: number): number | undefined {
  let best = Number.POSITIVE_INFINITY;
  result.log.forEach((start, ms, kind, ok, port) => {
    if (!ok) return;
    // Writes always run on the primary; reads say which node answered.
    const on = kind === WRITE ? node.index === 0 : port === node.port;
    const end = start + ms;
    if (on && end >= from && end < best) best = end;
  });
  return Number.isFinite(best) ? best : undefined;
}

function analyseFault(
  result: ScenarioResult,
  fault: ClusterAction,
  back: ClusterAction,
  phase: string,
  limitMs: number,
): FaultOutcome {
  const node = result.nodes[fault.nodeIndex]!;
  const name = node.routerName;
  const open = first(result.events, name, 'breakerOpen', fault.startedMs, back.startedMs);
  const down =
    node.index === 0 ? undefined : first(result.events, name, 'replicaDown', fault.startedMs, back.startedMs);
  const detectedAt = Math.min(open?.atMs ?? Number.POSITIVE_INFINITY, down?.atMs ?? Number.POSITIVE_INFINITY);
  // From the call, not its resolution: the cluster polls for the restarted node, and the router may see it first.
  const backAt = back.startedMs;
  const state = stateAt(result.events, name, backAt);
  const close = state.breakerClosed ? undefined : first(result.events, name, 'breakerClose', backAt);
  const up = state.healthy ? undefined : first(result.events, name, 'replicaUp', backAt);
  const inRotation = backInRotationAt(result.events, name, backAt);
  const success = firstSuccessOn(result, node, backAt);
  const recoveredAt = inRotation === undefined || success === undefined ? undefined : Math.max(inRotation, success);
  const recoveredAfterMs = recoveredAt === undefined ? undefined : recoveredAt - backAt;
  return {
    fault: phase,
    node,
    faultAction: fault,
    backAction: back,
    breakerOpenAfterMs: open === undefined ? undefined : open.atMs - fault.startedMs,
    replicaDownAfterMs: down === undefined ? undefined : down.atMs - fault.startedMs,
    detectedAfterMs: Number.isFinite(detectedAt) ? detectedAt - fault.startedMs : undefined,
    backTookMs: back.doneMs - back.startedMs,
    breakerCloseAfterMs: close === undefined ? undefined : close.atMs - backAt,
    replicaUpAfterMs: up === undefined ? undefined : up.atMs - backAt,
    firstSuccessAfterMs: success === undefined ? undefined : success - backAt,
    recoveredAfterMs,
    recoveryLimitMs: limitMs,
    recoveryMet: recoveredAfterMs !== undefined && recoveredAfterMs <= limitMs,
  };
}

function analyseWrites(result: ScenarioResult, stop: ClusterAction, back: ClusterAction, limitMs: number): WriteOutage {
  const opened = first(result.events, 'primary', 'breakerOpen', stop.startedMs);
  const closed = first(result.events, 'primary', 'breakerClose', back.startedMs);
  const openFrom = opened?.atMs ?? Number.POSITIVE_INFINITY;
  const openUntil = closed?.atMs ?? Number.POSITIVE_INFINITY;
  const allowedUntil = back.doneMs + limitMs;
  const codes = new Map<string, number>();
  const before: number[] = [];
  const once: number[] = [];
  let failed = 0;
  let outside = 0;
  let rejected = 0;
  let firstFailure = Number.POSITIVE_INFINITY;
  let lastFailure = Number.NEGATIVE_INFINITY;
  const origin = result.phases[0]?.startMs ?? 0;
  result.log.forEach((start, ms, kind, ok, _port, code) => {
    if (kind !== WRITE || ok || start < origin) return;
    failed++;
    codes.set(code, (codes.get(code) ?? 0) + 1);
    const end = start + ms;
    if (start < stop.startedMs || end > allowedUntil) outside++;
    firstFailure = Math.min(firstFailure, start);
    lastFailure = Math.max(lastFailure, end);
    if (start >= stop.startedMs && start < openFrom) before.push(ms);
    else if (start >= openFrom && start < openUntil) {
      once.push(ms);
      if (code === 'PGR_CIRCUIT_OPEN') rejected++;
    }
  });
  const onceOpen = latency(once);
  const relative = (at: number | undefined): number | undefined => (at === undefined ? undefined : at - stop.startedMs);
  return {
    failedWrites: failed,
    codes: countCodes(codes),
    firstFailureMs: failed === 0 ? undefined : firstFailure - stop.startedMs,
    lastFailureMs: failed === 0 ? undefined : lastFailure - stop.startedMs,
    restartMs: back.startedMs - stop.startedMs,
    backMs: back.doneMs - stop.startedMs,
    allowedUntilMs: allowedUntil - stop.startedMs,
    outside,
    breakerOpenedMs: relative(opened?.atMs),
    breakerClosedMs: relative(closed?.atMs),
    beforeOpen: {
      ...latency(before),
      maxMs: before.length === 0 ? Number.NaN : before.reduce((max, ms) => Math.max(max, ms), Number.NEGATIVE_INFINITY),
    },
    onceOpen,
    rejected,
    failedTrials: once.length - rejected,
    // With no failure once the breaker was open (it never opened, or no write came), nothing was slow to fail.
    fastFailMet: onceOpen.count === 0 || onceOpen.p99Ms < FAULT_TARGETS.maxOpenBreakerFailedWriteP99Ms,
  };
}

/** Pairs each fault with the next action that brought the same node back. */
function faultPairs(phases: readonly Phase[]): { phase: string; fault: ClusterAction; back: ClusterAction }[] {
  const pairs: { phase: string; fault: ClusterAction; back: ClusterAction }[] = [];
  phases.forEach((phase, i) => {
    const fault = phase.action;
    if (fault?.effect !== 'fault') return;
    const back = phases
      .slice(i + 1)
      .find((p) => p.action?.effect === 'back' && p.action.nodeIndex === fault.nodeIndex)?.action;
    if (back !== undefined) pairs.push({ phase: phase.name, fault, back });
  });
  return pairs;
}

/** Per phase and in total: statements, failures and latencies; per fault: detection and recovery; the write outage. */
export function analyseScenario(result: ScenarioResult): FaultsAnalysis {
  const firstPhase = result.phases[0];
  const last = result.phases[result.phases.length - 1];
  if (firstPhase === undefined || last === undefined) throw new RangeError('the scenario recorded no phase');
  const origin = firstPhase.startMs;
  // A statement still running when its phase ended belongs to the phase it started in; the last phase takes the stragglers.
  const phases = result.phases.map((p, i) =>
    summarisePhase(
      result,
      p.name,
      p.startMs,
      i === result.phases.length - 1 ? Number.POSITIVE_INFINITY : p.endMs,
      p.endMs,
      origin,
    ),
  );
  const total = summarisePhase(result, 'all phases', origin, Number.POSITIVE_INFINITY, last.endMs, origin);
  const limitMs = result.options.breaker.resetTimeoutMs + FAULT_TARGETS.recoverySlackMs;
  const pairs = faultPairs(result.phases);
  const faults = pairs.map(({ phase, fault, back }) => analyseFault(result, fault, back, phase, limitMs));
  const primary = pairs.find((p) => p.fault.nodeIndex === 0);
  const readCodes = new Map<string, number>();
  result.log.forEach((start, _ms, kind, ok, _port, code) => {
    if (kind === READ && !ok && start >= origin) readCodes.set(code, (readCodes.get(code) ?? 0) + 1);
  });
  return {
    phases,
    total,
    faults,
    writes: primary === undefined ? undefined : analyseWrites(result, primary.fault, primary.back, limitMs),
    failedReadCodes: countCodes(readCodes),
    events: result.events.filter((e) => e.atMs >= origin).map((e) => ({ ...e, atMs: e.atMs - origin })),
    originMs: origin,
  };
}
