import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { ServerUser } from './server-user.js';

/** How many recent output lines a process keeps for error messages. */
const TAIL_LINES = 30;

/** How a spawned process ended. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Options of {@link spawnServerProcess}. */
export interface SpawnOptions {
  /** Prefix of forwarded log lines, e.g. the node name. */
  readonly label: string;
  readonly cwd: string;
  readonly user: ServerUser | undefined;
  readonly log: ((line: string) => void) | undefined;
  /**
   * Whether the process may outlive our event loop (default true): servers run until stopped, and a
   * forgotten cluster must not keep Node alive; the exit handler reaps them.
   */
  readonly unref?: boolean;
}

/** A spawned program (postgres or initdb) whose output is kept as a short tail. */
export interface ServerProcess {
  readonly pid: number;
  /** Set once the process has exited (and been reaped). */
  readonly exitStatus: ExitStatus | undefined;
  /** Settles when the process has exited; never rejects. */
  readonly exited: Promise<ExitStatus>;
  /** The last lines it wrote to stdout/stderr. */
  tail(): string[];
  /**
   * Resolves once its output pipes have closed, or after 500 ms: 'exit' can come before the last
   * lines are read, and backends that outlive a postmaster hold the pipes open.
   */
  drained(): Promise<void>;
}

function forwardLines(stream: Readable | null, onLine: (line: string) => void, unref: boolean): void {
  if (stream === null) return;
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      onLine(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  });
  stream.on('end', () => {
    if (pending !== '') onLine(pending);
    pending = '';
  });
  if (unref) (stream as Readable & { unref?: () => void }).unref?.();
}

/**
 * Spawns `file` in a process group of its own (`detached`), so signals aimed at this process never
 * hit ours and a Ctrl-C in our terminal does not reach it. Output is piped, never inherited.
 *
 * @throws when the program cannot be started (missing, not executable).
 */
export async function spawnServerProcess(
  file: string,
  args: readonly string[],
  options: SpawnOptions,
): Promise<ServerProcess> {
  const child = spawn(file, args, {
    cwd: options.cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.user === undefined ? {} : { uid: options.user.uid, gid: options.user.gid }),
  });
  const lines: string[] = [];
  const onLine = (line: string): void => {
    lines.push(line);
    if (lines.length > TAIL_LINES) lines.shift();
    options.log?.(`[${options.label}] ${line}`);
  };
  const unref = options.unref ?? true;
  forwardLines(child.stdout, onLine, unref);
  forwardLines(child.stderr, onLine, unref);

  let exitStatus: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      exitStatus = { code, signal };
      resolve(exitStatus);
    });
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  if (unref) child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.label}: ${file} started without a pid`);
  return {
    pid,
    get exitStatus() {
      return exitStatus;
    },
    exited,
    tail: () => [...lines],
    drained: () => Promise.race([closed, new Promise<void>((r) => setTimeout(r, 500))]),
  };
}

/** Runs a program to completion; rejects with its last output lines when it fails. */
export async function runToCompletion(file: string, args: readonly string[], options: SpawnOptions): Promise<void> {
  const proc = await spawnServerProcess(file, args, { ...options, unref: false });
  const status = await proc.exited;
  await proc.drained();
  if (status.code !== 0) {
    throw new Error(`${options.label} failed (${describeExit(status)}):\n${proc.tail().join('\n')}`);
  }
}

/** "exit code 1" / "signal SIGKILL". */
export function describeExit(status: ExitStatus): string {
  return status.signal !== null ? `signal ${status.signal}` : `exit code ${String(status.code)}`;
}
