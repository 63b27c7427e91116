import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandLine, isAlive, killTree, removeTreeSync, waitUntilGoneSync } from './process-tree.js';

/** Prefix of every cluster's temporary directory; the reaper only ever looks at these. */
export const CLUSTER_DIR_PREFIX = 'pgrouter-cluster-';

/** Name of the state file inside a cluster's directory. */
const STATE_FILE = 'cluster.json';

/**
 * cluster.json is written right after mkdtemp, so a directory a minute old without one is a leftover
 * (a removal cut short), not a cluster being created.
 */
const ORPHAN_DIR_AGE_MS = 60_000;

/** Contents of `cluster.json`: enough for a later process to clean up after a dead owner. */
export interface ClusterState {
  readonly ownerPid: number;
  readonly nodes: readonly { readonly name: string; readonly pid: number | undefined; readonly dataDir: string }[];
}

/** What the registry needs from a live cluster to clean it up synchronously at exit. */
export interface RegisteredCluster {
  /** SIGKILLs every running node and removes the directory, synchronously. Never throws. */
  killNowSync(): void;
}

const live = new Set<RegisteredCluster>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function killAll(): void {
  for (const cluster of live) cluster.killNowSync();
  live.clear();
}

/**
 * Our listener only acts when it is the only one, i.e. when the signal would otherwise kill the
 * process without running 'exit' handlers; then it cleans up and re-raises the signal, so the
 * process still dies by it. When the application listens too, it decides, and 'exit' cleans up.
 * It is prepended so that it runs before `once` listeners remove themselves from the count.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  killAll();
  uninstall();
  process.kill(process.pid, signal);
}

function install(): void {
  process.on('exit', killAll);
  for (const signal of SIGNALS) process.prependListener(signal, onSignal);
}

function uninstall(): void {
  process.off('exit', killAll);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/** Tracks a cluster so that an exiting process kills its servers and deletes its directory. */
export function registerCluster(cluster: RegisteredCluster): void {
  if (live.size === 0) install();
  live.add(cluster);
}

/** Stops tracking a cluster (after it stopped cleanly). */
export function unregisterCluster(cluster: RegisteredCluster): void {
  if (!live.delete(cluster)) return;
  if (live.size === 0) uninstall();
}

/** Writes `cluster.json` into `dir`. */
export function writeClusterState(dir: string, state: ClusterState): void {
  writeFileSync(join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

function readClusterState(dir: string): ClusterState | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as Partial<ClusterState>;
    if (typeof parsed.ownerPid !== 'number' || !Array.isArray(parsed.nodes)) return undefined;
    return parsed as ClusterState;
  } catch {
    return undefined;
  }
}

/**
 * Kills the servers and deletes the directories of clusters left behind by processes that died
 * without cleaning up (SIGKILL, a crash, a debugger stop). A server is only killed when its command
 * line still names its data directory, so a recycled pid never hits a stranger.
 *
 * @returns the directories removed
 */
export function reapStaleClusters(baseDir: string, log?: (line: string) => void): string[] {
  let entries: string[];
  try {
    entries = readdirSync(baseDir).filter((e) => e.startsWith(CLUSTER_DIR_PREFIX));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const dir = join(baseDir, entry);
    const state = readClusterState(dir);
    if (state === undefined) {
      let age = 0;
      try {
        age = Date.now() - statSync(dir).mtimeMs;
      } catch {
        continue;
      }
      if (age < ORPHAN_DIR_AGE_MS) continue;
    } else {
      if (state.ownerPid === process.pid || isAlive(state.ownerPid)) continue;
      const killed: number[] = [];
      for (const node of state.nodes) {
        if (node.pid === undefined || !isAlive(node.pid)) continue;
        if (commandLine(node.pid)?.includes(node.dataDir) === true) killed.push(...killTree(node.pid));
      }
      waitUntilGoneSync(killed, 3_000);
    }
    try {
      removeTreeSync(dir);
      removed.push(dir);
      log?.(`removed stale cluster ${dir}`);
    } catch {
      // another user's directory, or another process reaping it at the same time
    }
  }
  return removed;
}
