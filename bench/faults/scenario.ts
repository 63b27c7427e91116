import { QueryRouter, type ResolvedOptions } from '../../src/index.js';
import type { LocalCluster } from '../../src/testing.js';
import {
  ROUTER_EVENT_NAMES,
  StatementLog,
  type ActionEffect,
  type ClusterAction,
  type Phase,
  type RecordedEvent,
} from './log.js';
import type { FaultsBenchParams } from './params.js';
import { startLoad, type FaultsSchema } from './workload.js';

/** One node of the scenario's cluster under both of its names. */
export interface ScenarioNode {
  /** Index in `cluster.nodes` (0 is the primary). */
  readonly index: number;
  /** The cluster's name: `primary`, `replica1`, … */
  readonly clusterName: string;
  /** The router's name: `primary`, `replica-0`, … */
  readonly routerName: string;
  readonly port: number;
}

/** Everything the scenario recorded, for {@link analyseScenario}. */
export interface ScenarioResult {
  /** Every statement, warm-up included (those start before the first phase). */
  readonly log: StatementLog;
  readonly events: readonly RecordedEvent[];
  readonly phases: readonly Phase[];
  readonly nodes: readonly ScenarioNode[];
  /** The router's options after defaults, as the scenario ran with them. */
  readonly options: Pick<ResolvedOptions, 'pool' | 'breaker' | 'readFallback' | 'loadBalancing' | 'statementCache'>;
}

/** Called when a phase begins. */
export type ScenarioProgress = (message: string) => void;

interface PlannedPhase {
  readonly name: string;
  readonly durationMs: number;
  readonly action?: {
    readonly label: string;
    readonly nodeIndex: number;
    readonly effect: ActionEffect;
    readonly run: () => Promise<void> | void;
  };
}

/** The router's name of cluster node `index`: the router numbers its replicas from 0, the cluster from 1. */
export function routerNodeName(index: number): string {
  return index === 0 ? 'primary' : `replica-${index - 1}`;
}

function plan(cluster: LocalCluster, params: FaultsBenchParams): PlannedPhase[] {
  const { killReplica: kill, pauseReplica: pause, phases: ms } = params;
  const name = (index: number): string => cluster.nodes[index]?.name ?? `node ${index}`;
  for (const index of [kill, pause]) {
    if (!Number.isInteger(index) || index < 1 || index >= cluster.nodes.length)
      throw new RangeError(`replica index ${index}: expected 1 to ${cluster.nodes.length - 1}`);
  }
  return [
    { name: 'baseline', durationMs: ms.baselineMs },
    {
      name: `${name(kill)} SIGKILLed`,
      durationMs: ms.replicaKilledMs,
      action: { label: `killNode(${kill})`, nodeIndex: kill, effect: 'fault', run: () => cluster.killNode(kill) },
    },
    {
      name: `${name(kill)} restarted`,
      durationMs: ms.replicaRestartedMs,
      action: { label: `startNode(${kill})`, nodeIndex: kill, effect: 'back', run: () => cluster.startNode(kill) },
    },
    {
      name: `${name(pause)} frozen (SIGSTOP)`,
      durationMs: ms.replicaPausedMs,
      action: { label: `pauseNode(${pause})`, nodeIndex: pause, effect: 'fault', run: () => cluster.pauseNode(pause) },
    },
    {
      name: `${name(pause)} resumed`,
      durationMs: ms.replicaResumedMs,
      action: { label: `resumeNode(${pause})`, nodeIndex: pause, effect: 'back', run: () => cluster.resumeNode(pause) },
    },
    {
      name: 'primary stopped',
      durationMs: ms.primaryDownMs,
      action: { label: 'stopNode(0)', nodeIndex: 0, effect: 'fault', run: () => cluster.stopNode(0) },
    },
    {
      name: 'primary restarted, recovery',
      durationMs: ms.recoveryMs,
      action: { label: 'startNode(0)', nodeIndex: 0, effect: 'back', run: () => cluster.startNode(0) },
    },
  ];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * Runs the mixed load through one router on `cluster` (a primary and at least one replica, all running) while
 * breaking and repairing its nodes phase by phase: a replica SIGKILLed then restarted, a replica frozen then
 * resumed, the primary stopped then restarted. Leaves every node running again. The load stops and the router
 * closes before this resolves or rejects.
 */
export async function runFaultScenario(
  cluster: LocalCluster,
  schema: FaultsSchema,
  params: FaultsBenchParams,
  progress?: ScenarioProgress,
): Promise<ScenarioResult> {
  const phasesPlanned = plan(cluster, params);
  const router = new QueryRouter({ primary: cluster.primaryUrl, replicas: [...cluster.replicaUrls], ...params.router });
  const events: RecordedEvent[] = [];
  for (const name of ROUTER_EVENT_NAMES) {
    router.on(name, (event: { node: string; reason?: string | undefined }) => {
      const atMs = performance.now();
      events.push(
        event.reason === undefined
          ? { atMs, name, node: event.node }
          : { atMs, name, node: event.node, detail: event.reason },
      );
    });
  }
  // Idle connections to a node that dies fail outside any statement; the router reports them here, and they need no action.
  router.on('connectionError', () => undefined);
  const log = new StatementLog();
  const phases: Phase[] = [];
  const load = startLoad(router, schema, params.readers, params.writers, log);
  try {
    progress?.('fault scenario: warm-up');
    await sleep(params.phases.warmupMs);
    for (const planned of phasesPlanned) {
      progress?.(`fault scenario: ${planned.name}`);
      const startMs = performance.now();
      let action: ClusterAction | undefined;
      if (planned.action !== undefined) {
        const { label, nodeIndex, effect, run } = planned.action;
        await run();
        action = { label, nodeIndex, effect, startedMs: startMs, doneMs: performance.now() };
      }
      await sleep(startMs + planned.durationMs - performance.now());
      phases.push({
        name: planned.name,
        startMs,
        endMs: performance.now(),
        ...(action === undefined ? {} : { action }),
      });
    }
  } finally {
    await load.stop();
    await router.close({ timeoutMs: 5_000 });
  }
  const { pool, breaker, readFallback, loadBalancing, statementCache } = router.options;
  return {
    log,
    events,
    phases,
    nodes: cluster.nodes.map((node, index) => ({
      index,
      clusterName: node.name,
      routerName: routerNodeName(index),
      port: node.port,
    })),
    options: { pool, breaker, readFallback, loadBalancing, statementCache },
  };
}
