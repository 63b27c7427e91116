import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'pg-connection-string';
import {
  CLUSTER_DIR_PREFIX,
  reapStaleClusters,
  registerCluster,
  unregisterCluster,
  writeClusterState,
  type RegisteredCluster,
} from './cluster-registry.js';
import { freePort } from './free-port.js';
import {
  findPgBouncer,
  pgBouncerIni,
  pgBouncerUserlist,
  readPgBouncerVersion,
  type PgBouncerPoolMode,
  type PgBouncerTarget,
} from './pgbouncer-config.js';
import { queryOnce, sleep } from './pg-queries.js';
import { killTree, removeTreeSync, trySignal, waitUntilGone, waitUntilGoneSync } from './process-tree.js';
import { describeExit, spawnServerProcess, type ServerProcess } from './server-process.js';
import { chownTree, serverUser, type ServerUser } from './server-user.js';
import type { LocalCluster } from './types.js';

export type { PgBouncerPoolMode } from './pgbouncer-config.js';

/** A port someone grabbed between our probe and PgBouncer's bind: pick another, this often. */
const PORT_ATTEMPTS = 5;
const BIND_FAILURE = /address already in use|cannot bind|could not bind|bind\(\)/i;
const STOP_GRACE_MS = 5_000;

/** Options of {@link startPgBouncer}. Give `cluster` or `targets`. */
export interface PgBouncerOptions {
  /** One PgBouncer in front of each node of this cluster, in the order of `cluster.nodes`. */
  cluster?: LocalCluster;
  /** Or: one PgBouncer in front of each of these PostgreSQL URLs (127.0.0.1 or any host PgBouncer can reach). */
  targets?: readonly string[];
  /**
   * When PgBouncer hands a server connection back to its pool: after each transaction (`'transaction'`, the mode
   * most deployments with many application instances run), at the client's disconnect (`'session'`) or after each
   * statement (`'statement'`). Default `'transaction'`.
   */
  poolMode?: PgBouncerPoolMode;
  /** Server connections per database and user (`default_pool_size`). Default `20`. */
  poolSize?: number;
  /**
   * Extra `[pgbouncer]` settings, after the generated ones (so they win), e.g. `{ max_prepared_statements: 100 }`
   * on PgBouncer 1.21+.
   */
  settings?: Record<string, string | number>;
  /** The PgBouncer binary. Default: `PGBOUNCER_BIN`, else `/usr/sbin/pgbouncer`, else `pgbouncer` on the PATH. */
  bin?: string;
  /** Parent of the temporary directory holding the ini and auth files. Default `os.tmpdir()`. */
  baseDir?: string;
  /** Receives PgBouncer's log lines, prefixed with `pgbouncer-<node>`. Default: silent. */
  log?: (line: string) => void;
  /** How long each PgBouncer may take to accept connections, in ms. Default `30_000`. */
  startTimeoutMs?: number;
}

/** One running PgBouncer. */
export interface LocalPgBouncer {
  /** `pgbouncer-primary`, `pgbouncer-replica1`, … (or `pgbouncer-0`, … for `targets`). */
  readonly name: string;
  /** TCP port on 127.0.0.1. */
  readonly port: number;
  /** The target's URL with PgBouncer's host and port: same user, password and database. */
  readonly url: string;
  /** PgBouncer's admin console (`SHOW POOLS`, `SHOW SERVERS`, …): the same login, database `pgbouncer`. */
  readonly adminUrl: string;
  /** Process id, or `undefined` once stopped. */
  readonly pid: number | undefined;
}

/** PgBouncers in front of the nodes, started by {@link startPgBouncer}. */
export interface LocalPgBouncers {
  /** One per target, in order. */
  readonly bouncers: readonly LocalPgBouncer[];
  /** URL of the first target's PgBouncer (a cluster's primary). */
  readonly primaryUrl: string;
  /** URLs of the other targets' PgBouncers (a cluster's replicas). */
  readonly replicaUrls: readonly string[];
  /** PgBouncer's version, e.g. `'1.18.0'`. Prepared statements survive transaction pooling from 1.21 on. */
  readonly version: string;
  /** The binary in use. */
  readonly bin: string;
  /** The pool mode every PgBouncer runs. */
  readonly poolMode: PgBouncerPoolMode;
  /** Stops every PgBouncer (SIGTERM: immediate shutdown, SIGKILL after 5 s) and removes the files. Idempotent. */
  stop(): Promise<void>;
}

interface Bouncer {
  readonly name: string;
  readonly port: number;
  readonly target: PgBouncerTarget;
  readonly iniFile: string;
  readonly process: ServerProcess;
}

function targetOf(url: string, index: number): PgBouncerTarget {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(url);
  } catch (err) {
    throw new TypeError(`targets[${index}]: not a PostgreSQL URL`, { cause: err });
  }
  const { host, port, user, password, database } = parsed;
  if (host === undefined || host === null || host === '' || user === undefined || user === '') {
    throw new TypeError(`targets[${index}]: expected a URL with a host and a user`);
  }
  return {
    host,
    port: port === undefined || port === null || port === '' ? 5432 : Number(port),
    user,
    password: password ?? '',
    database: database === undefined || database === null || database === '' ? user : database,
  };
}

function urlOf(target: PgBouncerTarget, port: number, database = target.database): string {
  const auth = `${encodeURIComponent(target.user)}${target.password === '' ? '' : `:${encodeURIComponent(target.password)}`}`;
  return `postgres://${auth}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

function scrubber(passwords: readonly string[]): (text: string) => string {
  const secrets = [...new Set(passwords.flatMap((p) => (p === '' ? [] : [p, encodeURIComponent(p)])))];
  return (text) => secrets.reduce((t, s) => t.split(s).join('***'), text);
}

class PgBouncerGroup implements LocalPgBouncers, RegisteredCluster {
  readonly bouncers: LocalPgBouncer[] = [];
  readonly #running: Bouncer[] = [];
  #stopping: Promise<void> | undefined;

  constructor(
    readonly version: string,
    readonly bin: string,
    readonly poolMode: PgBouncerPoolMode,
    readonly dir: string,
  ) {}

  get primaryUrl(): string {
    return this.bouncers[0]?.url ?? '';
  }

  get replicaUrls(): readonly string[] {
    return this.bouncers.slice(1).map((b) => b.url);
  }

  add(bouncer: Bouncer): void {
    this.#running.push(bouncer);
    const proc = bouncer.process;
    this.bouncers.push(
      Object.freeze({
        name: bouncer.name,
        port: bouncer.port,
        url: urlOf(bouncer.target, bouncer.port),
        adminUrl: urlOf(bouncer.target, bouncer.port, 'pgbouncer'),
        get pid() {
          return proc.exitStatus === undefined ? proc.pid : undefined;
        },
      }),
    );
    this.saveState();
  }

  saveState(): void {
    if (this.#stopping !== undefined) return;
    try {
      // The reaper kills a pid only while its command line names this file: a recycled pid is never hit.
      writeClusterState(this.dir, {
        ownerPid: process.pid,
        nodes: this.#running.map((b) => ({ name: b.name, pid: b.process.pid, dataDir: b.iniFile })),
      });
    } catch {
      // the directory is being removed
    }
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stopAll();
    return this.#stopping;
  }

  async #stopAll(): Promise<void> {
    await Promise.all(
      this.#running.map(async ({ process: proc }) => {
        if (proc.exitStatus !== undefined) return;
        // SIGTERM is PgBouncer's immediate shutdown; SIGINT would wait for every client to leave.
        trySignal(proc.pid, 'SIGTERM');
        const exited = await Promise.race([proc.exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
        if (!exited) killTree(proc.pid);
        await waitUntilGone([proc.pid], 5_000);
      }),
    );
    removeTreeSync(this.dir);
    unregisterCluster(this);
  }

  killNowSync(): void {
    const pids = this.#running
      .filter((b) => b.process.exitStatus === undefined)
      .flatMap((b) => killTree(b.process.pid));
    waitUntilGoneSync(pids, 3_000);
    try {
      removeTreeSync(this.dir);
    } catch {
      // nothing more can be done while exiting; the next start reaps it
    }
  }
}

interface StartContext {
  readonly bin: string;
  readonly dir: string;
  readonly user: ServerUser | undefined;
  readonly log: ((line: string) => void) | undefined;
  readonly scrub: (text: string) => string;
  readonly startTimeoutMs: number;
  readonly poolMode: PgBouncerPoolMode;
  readonly poolSize: number;
  readonly settings: Readonly<Record<string, string | number>>;
  readonly authFile: string;
}

async function startOne(name: string, target: PgBouncerTarget, ctx: StartContext): Promise<Bouncer> {
  const iniFile = join(ctx.dir, `${name}.ini`);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    writeFileSync(
      iniFile,
      pgBouncerIni({
        listenPort: port,
        target,
        poolMode: ctx.poolMode,
        poolSize: ctx.poolSize,
        authFile: ctx.authFile,
        settings: ctx.settings,
      }),
      { mode: 0o600 },
    );
    if (ctx.user !== undefined) chownTree(iniFile, ctx.user);
    const proc = await spawnServerProcess(ctx.bin, [iniFile], {
      label: name,
      cwd: ctx.dir,
      user: ctx.user,
      log: ctx.log,
    });
    const bouncer: Bouncer = { name, port, target, iniFile, process: proc };
    const deadline = Date.now() + ctx.startTimeoutMs;
    for (;;) {
      if (proc.exitStatus !== undefined) break;
      try {
        await queryOnce(urlOf(target, port, 'pgbouncer'), 'SHOW VERSION', [], { timeoutMs: 2_000 });
        return bouncer;
      } catch {
        // not listening yet
      }
      if (Date.now() >= deadline) {
        killTree(proc.pid);
        await proc.drained();
        throw new Error(
          `${name} did not accept connections within ${ctx.startTimeoutMs} ms. Last log lines:\n${ctx.scrub(proc.tail().join('\n'))}`,
        );
      }
      await sleep(50);
    }
    await proc.drained();
    const tail = ctx.scrub(proc.tail().join('\n'));
    if (attempt < PORT_ATTEMPTS && BIND_FAILURE.test(tail)) continue;
    throw new Error(
      `${name} exited during start (${describeExit(proc.exitStatus ?? { code: null, signal: null })}). Last log lines:\n${tail}`,
    );
  }
}

/**
 * Starts one PgBouncer in front of each node of a local cluster (or each URL of `targets`), each on a free port of
 * 127.0.0.1, and resolves once all accept connections. The returned URLs carry the nodes' own logins, so a router
 * built on them runs unchanged: `new QueryRouter({ primary: bouncers.primaryUrl, replicas: bouncers.replicaUrls })`.
 *
 * For tests and benchmarks of the router behind a pooler. Runs PgBouncer as the `postgres` OS user when called
 * as root (PgBouncer refuses root). A process that exits without {@link LocalPgBouncers.stop} still kills them.
 *
 * @example
 * ```ts
 * const cluster = await startLocalCluster({ replicas: 1 });
 * const bouncers = await startPgBouncer({ cluster, poolMode: 'transaction' });
 * const router = new QueryRouter({ primary: bouncers.primaryUrl, replicas: bouncers.replicaUrls });
 * // …
 * await router.close();
 * await bouncers.stop();
 * await cluster.stop();
 * ```
 * @throws Error when no PgBouncer binary is found (install Debian's `pgbouncer` or set `PGBOUNCER_BIN`), or one fails to start.
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<LocalPgBouncers> {
  if (process.platform === 'win32') throw new Error('startPgBouncer needs POSIX signals; Windows is not supported');
  const urls = options.cluster !== undefined ? options.cluster.nodes.map((n) => n.url) : options.targets;
  if (urls === undefined || urls.length === 0)
    throw new TypeError('startPgBouncer: give `cluster` or a non-empty `targets` list of PostgreSQL URLs');
  const names =
    options.cluster !== undefined
      ? options.cluster.nodes.map((n) => `pgbouncer-${n.name}`)
      : urls.map((_, i) => `pgbouncer-${i}`);
  const poolMode = options.poolMode ?? 'transaction';
  if (!['session', 'transaction', 'statement'].includes(poolMode))
    throw new TypeError(`poolMode: expected 'session', 'transaction' or 'statement', got ${String(poolMode)}`);
  const poolSize = options.poolSize ?? 20;
  if (!Number.isInteger(poolSize) || poolSize < 1)
    throw new RangeError(`poolSize: expected a positive integer, got ${String(poolSize)}`);
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  if (!Number.isFinite(startTimeoutMs) || startTimeoutMs <= 0)
    throw new RangeError(`startTimeoutMs: expected a positive number of ms, got ${String(startTimeoutMs)}`);
  const targets = urls.map(targetOf);
  const bin = findPgBouncer(options.bin);
  if (bin === undefined) {
    throw new Error(
      options.bin !== undefined
        ? `bin: ${options.bin} is not an executable file`
        : 'no PgBouncer binary found (PGBOUNCER_BIN, /usr/sbin/pgbouncer, PATH): install it (Debian: apt-get install pgbouncer)',
    );
  }
  const version = readPgBouncerVersion(bin);
  const scrub = scrubber(targets.map((t) => t.password));
  const log = options.log === undefined ? undefined : (line: string): void => options.log?.(scrub(line));
  const baseDir = resolve(options.baseDir ?? tmpdir());
  const user = serverUser();
  reapStaleClusters(baseDir, log);
  const dir = mkdtempSync(join(baseDir, CLUSTER_DIR_PREFIX));
  const group = new PgBouncerGroup(version, bin, poolMode, dir);
  registerCluster(group);
  group.saveState();
  try {
    const users = new Map<string, string>();
    for (const target of targets) {
      const known = users.get(target.user);
      if (known !== undefined && known !== target.password)
        throw new TypeError(`targets: user "${target.user}" has different passwords on different nodes`);
      users.set(target.user, target.password);
    }
    const authFile = join(dir, 'userlist.txt');
    writeFileSync(authFile, pgBouncerUserlist(users), { mode: 0o600 });
    if (user !== undefined) chownTree(dir, user);
    const ctx: StartContext = {
      bin,
      dir,
      user,
      log,
      scrub,
      startTimeoutMs,
      poolMode,
      poolSize,
      settings: options.settings ?? {},
      authFile,
    };
    for (const [i, target] of targets.entries()) group.add(await startOne(names[i]!, target, ctx));
    log?.(`${targets.length} PgBouncer ${version} (${poolMode} pooling) ready in ${dir}`);
  } catch (err) {
    await group.stop().catch(() => undefined);
    if (err instanceof Error) err.message = scrub(err.message);
    throw err;
  }
  return group;
}
