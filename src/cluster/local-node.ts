import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { freePort } from './free-port.js';
import { NODE_CONF_FILE, nodeConf } from './node-config.js';
import { queryOnce, sleep, withClient } from './pg-queries.js';
import { childPids, commandLine, continueTree, killTree, stopTree, trySignal, waitUntilGone } from './process-tree.js';
import { describeExit, spawnServerProcess, type ServerProcess } from './server-process.js';
import { chownTree, type ServerUser } from './server-user.js';
import type { LocalNode } from './types.js';

/** A port someone grabbed between our probe and the server's bind: pick another, this often. */
const PORT_ATTEMPTS = 5;
/** A restart right after SIGKILL can find shared memory or the lock file still claimed; retry this often. */
const RESTART_ATTEMPTS = 10;
const RESTART_DELAY_MS = 300;

const BIND_FAILURE = /could not bind|address already in use|could not create any TCP\/IP sockets/i;
const STALE_STATE = /shared memory block|lock file .* already exists|postmaster\.pid/i;

/** What a node needs from its cluster. */
export interface NodeContext {
  readonly binDir: string;
  readonly clusterDir: string;
  readonly password: string;
  readonly user: ServerUser | undefined;
  readonly startTimeoutMs: number;
  readonly log: ((line: string) => void) | undefined;
  /** Replaces the password in text meant for messages. */
  readonly scrub: (text: string) => string;
  /** Called whenever the node's pid changes, to keep cluster.json current. */
  readonly onChange: () => void;
}

/** Resolves `promise`'s value, or `undefined` after `ms`; the timer is cleared either way. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((r) => (timer = setTimeout(r, ms, undefined)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** One server of a local cluster: its files, its process and its lifecycle. */
export class ClusterNode implements LocalNode {
  readonly name: string;
  readonly dataDir: string;
  #role: 'primary' | 'replica';
  #port = 0;
  #server: ServerProcess | undefined;
  #paused = false;
  readonly #upstream: ClusterNode | undefined;
  readonly #ctx: NodeContext;

  constructor(name: string, upstream: ClusterNode | undefined, ctx: NodeContext) {
    this.name = name;
    this.#role = upstream === undefined ? 'primary' : 'replica';
    this.#upstream = upstream;
    this.#ctx = ctx;
    this.dataDir = join(ctx.clusterDir, name);
  }

  get role(): 'primary' | 'replica' {
    return this.#role;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `postgres://postgres:${encodeURIComponent(this.#ctx.password)}@127.0.0.1:${this.#port}/postgres`;
  }

  get pid(): number | undefined {
    return this.running ? this.#server?.pid : undefined;
  }

  /** Whether the postmaster is alive (paused counts as alive). */
  get running(): boolean {
    return this.#server !== undefined && this.#server.exitStatus === undefined;
  }

  get paused(): boolean {
    return this.#paused && this.running;
  }

  /** The node a replica streams from. */
  get upstream(): ClusterNode | undefined {
    return this.#upstream;
  }

  get streamsFrom(): string | undefined {
    return this.#role === 'replica' ? this.#upstream?.name : undefined;
  }

  /** Connection settings for our own queries; an object, so the password is never parsed out of a URL. */
  connection(): pg.ClientConfig {
    return {
      host: '127.0.0.1',
      port: this.#port,
      user: 'postgres',
      password: this.#ctx.password,
      database: 'postgres',
    };
  }

  /** The public fields only: `console.log(node)` and JSON show no process internals. */
  toJSON(): LocalNode {
    return {
      name: this.name,
      role: this.role,
      port: this.port,
      url: this.url,
      dataDir: this.dataDir,
      pid: this.pid,
      streamsFrom: this.streamsFrom,
    };
  }

  #writeNodeConf(): void {
    const upstream =
      this.#role === 'replica' && this.#upstream !== undefined
        ? { port: this.#upstream.port, password: this.#ctx.password, applicationName: this.name }
        : undefined;
    const file = join(this.dataDir, NODE_CONF_FILE);
    writeFileSync(file, nodeConf(this.#port, upstream), { mode: 0o600 });
    if (this.#ctx.user !== undefined) chownTree(file, this.#ctx.user);
  }

  /**
   * Starts the server and resolves once it accepts connections. With `usedPorts` it picks a fresh
   * port first (and again when the bind fails); without, it keeps its port.
   */
  async start(usedPorts?: Set<number>): Promise<void> {
    if (this.running) return;
    for (let attempt = 1; ; attempt++) {
      if (usedPorts !== undefined) this.#port = await pickPort(usedPorts);
      this.#writeNodeConf();
      const server = await spawnServerProcess(join(this.#ctx.binDir, 'postgres'), ['-D', this.dataDir], {
        label: this.name,
        cwd: this.#ctx.clusterDir,
        user: this.#ctx.user,
        log: this.#ctx.log,
      });
      this.#server = server;
      this.#paused = false;
      this.#ctx.onChange();
      const outcome = await this.#waitUntilAccepting(server);
      if (outcome === 'ready') return;
      if (outcome === 'timeout') {
        await waitUntilGone(killTree(server.pid), 5_000);
        await server.drained();
        throw new Error(
          `${this.name} did not accept connections within ${this.#ctx.startTimeoutMs} ms. Last log lines:\n${this.#tail(server)}`,
        );
      }
      await server.drained();
      const tail = server.tail().join('\n');
      const retry =
        (usedPorts !== undefined && attempt < PORT_ATTEMPTS && BIND_FAILURE.test(tail)) ||
        (attempt < RESTART_ATTEMPTS && STALE_STATE.test(tail));
      if (!retry) {
        const status = server.exitStatus;
        throw new Error(
          `${this.name} exited during start (${status === undefined ? 'unknown' : describeExit(status)}). Last log lines:\n${this.#tail(server)}`,
        );
      }
      this.#ctx.log?.(`[${this.name}] start failed, retrying (attempt ${attempt + 1})`);
      if (usedPorts === undefined) await sleep(RESTART_DELAY_MS);
    }
  }

  #tail(server: ServerProcess): string {
    return this.#ctx.scrub(server.tail().join('\n'));
  }

  async #waitUntilAccepting(server: ServerProcess): Promise<'ready' | 'exited' | 'timeout'> {
    const deadline = Date.now() + this.#ctx.startTimeoutMs;
    for (;;) {
      if (server.exitStatus !== undefined) return 'exited';
      try {
        await queryOnce(this.connection(), 'SELECT 1', [], { timeoutMs: 2_000 });
        return 'ready';
      } catch {
        // starting up, recovering, not listening yet: all mean "poll again"
      }
      if (server.exitStatus !== undefined) return 'exited';
      if (Date.now() >= deadline) return 'timeout';
      await sleep(50);
    }
  }

  /**
   * For a replica: resolves once its WAL receiver streams and its upstream lists it in
   * pg_stat_replication as streaming. Returns at once when the upstream is stopped or paused, as
   * nothing could stream then.
   */
  async waitUntilStreaming(deadline: number): Promise<void> {
    const upstream = this.#upstream;
    if (this.#role !== 'replica' || upstream === undefined) return;
    if (!upstream.running || upstream.paused) {
      this.#ctx.log?.(
        `[${this.name}] not waiting for streaming: ${upstream.name} is ${upstream.running ? 'paused' : 'stopped'}`,
      );
      return;
    }
    for (;;) {
      const receiving = await queryOnce<{ status: string }>(
        this.connection(),
        'SELECT status FROM pg_stat_wal_receiver',
      )
        .then((rows) => rows.some((r) => r.status === 'streaming'))
        .catch(() => false);
      const listed = await queryOnce<{ state: string }>(
        upstream.connection(),
        'SELECT state FROM pg_stat_replication WHERE application_name = $1',
        [this.name],
      )
        .then((rows) => rows.length > 0 && rows.every((r) => r.state === 'streaming'))
        .catch(() => false);
      if (receiving && listed) return;
      if (!this.running) throw new Error(`${this.name} exited while waiting for it to stream`);
      if (Date.now() >= deadline) {
        throw new Error(`${this.name} accepts connections but did not start streaming from ${upstream.name} in time`);
      }
      await sleep(50);
    }
  }

  /** Fast shutdown (SIGINT); SIGKILL of everything after `graceMs`. Resolves once every process is gone. */
  async stop(graceMs: number): Promise<void> {
    const server = this.#server;
    if (server === undefined || !this.running) {
      this.#server = undefined;
      return;
    }
    // A stopped process only acts on SIGINT after SIGCONT.
    if (this.#paused) this.resume();
    const family = [server.pid, ...childPids(server.pid)];
    trySignal(server.pid, 'SIGINT');
    if ((await within(server.exited, graceMs)) === undefined) {
      this.#ctx.log?.(`[${this.name}] no exit ${graceMs} ms after SIGINT; sending SIGKILL`);
      family.push(...killTree(server.pid));
      await within(server.exited, 5_000);
    }
    await waitUntilGone(family, 5_000);
    this.#server = undefined;
    this.#ctx.onChange();
  }

  /** SIGKILL of the postmaster and every child; resolves once all are gone. */
  async kill(): Promise<void> {
    const server = this.#server;
    if (server === undefined || !this.running) return;
    const pids = killTree(server.pid);
    this.#paused = false;
    await within(server.exited, 10_000);
    if (!(await waitUntilGone(pids, 10_000))) {
      throw new Error(`${this.name}: processes ${pids.join(', ')} survived SIGKILL for 10 s`);
    }
    this.#server = undefined;
    this.#ctx.onChange();
  }

  /** SIGSTOP of the postmaster and every child. */
  pause(): void {
    const pid = this.pid;
    if (pid === undefined) throw new Error(`${this.name} is not running`);
    if (this.#paused) return;
    stopTree(pid);
    this.#paused = true;
  }

  /** SIGCONT of a paused node. */
  resume(): void {
    const pid = this.pid;
    if (pid !== undefined && this.#paused) continueTree(pid);
    this.#paused = false;
  }

  /**
   * SIGSTOPs (`freeze`) or SIGCONTs the standby's startup process, the one that replays WAL: the node keeps
   * answering queries and receiving WAL, but its data stops moving, as on a replica whose replay is stuck.
   */
  signalReplay(freeze: boolean): void {
    const pid = this.pid;
    if (pid === undefined) throw new Error(`${this.name} is not running`);
    const startup = childPids(pid).find((child) => /\bstartup\b/.test(commandLine(child) ?? ''));
    if (startup === undefined)
      throw new Error(`${this.name} has no startup process: it is not replaying WAL (not a standby)`);
    trySignal(startup, freeze ? 'SIGSTOP' : 'SIGCONT');
  }

  /** `pg_promote` and wait until the node has left recovery. */
  async promote(): Promise<void> {
    if (!this.running) throw new Error(`${this.name} is not running`);
    if (this.paused) throw new Error(`${this.name} is paused`);
    if (this.#role === 'primary') return;
    await withClient(this.connection(), (c) => c.query('SELECT pg_promote(true, 60)'), { timeoutMs: 70_000 });
    const deadline = Date.now() + this.#ctx.startTimeoutMs;
    for (;;) {
      const [row] = await queryOnce<{ recovering: boolean }>(
        this.connection(),
        'SELECT pg_is_in_recovery() AS recovering',
      );
      if (row?.recovering === false) break;
      if (Date.now() >= deadline) throw new Error(`${this.name} is still in recovery after pg_promote`);
      await sleep(50);
    }
    this.#role = 'primary';
    // Keep the node a primary across restarts: without primary_conninfo it would not follow anyone anyway.
    this.#writeNodeConf();
    this.#ctx.onChange();
  }

  /** SIGKILL everything now, without waiting: for the exit handler. Returns the pids killed. */
  killNowSync(): number[] {
    const pid = this.pid;
    return pid === undefined ? [] : killTree(pid);
  }
}

async function pickPort(used: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!used.has(port)) {
      used.add(port);
      return port;
    }
  }
}
