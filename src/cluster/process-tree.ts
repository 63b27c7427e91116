import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';

/*
 * A PostgreSQL server is a postmaster plus the processes it forks (backends, walsenders, the
 * checkpointer, …). Every one of those calls setsid() at birth (InitPostmasterChild), so they are
 * NOT in the postmaster's process group: `kill(-pgid)` reaches only the postmaster. Signalling a
 * whole node therefore means the postmaster's group plus each of its children, found by parent pid.
 */

const HAS_PROC = existsSync('/proc/self/stat');

interface ProcStat {
  readonly ppid: number;
  readonly state: string;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; the fields after the last ')' are fixed.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

/** Live (non-zombie) children of `parentPid`. */
export function childPids(parentPid: number): number[] {
  const out: number[] = [];
  if (HAS_PROC) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      const stat = readStat(pid);
      if (stat !== undefined && stat.ppid === parentPid && stat.state !== 'Z') out.push(pid);
    }
    return out;
  }
  try {
    const table = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    for (const line of table.split('\n')) {
      const [pid, ppid] = line.trim().split(/\s+/).map(Number);
      if (ppid === parentPid && pid !== undefined && pid > 0) out.push(pid);
    }
  } catch {
    // no ps: only the postmaster's own group can be signalled
  }
  return out;
}

/**
 * Whether `pid` names a running process. A zombie counts as gone: it holds no memory or sockets, and
 * orphaned backends stay zombies forever under an init that never reaps.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (HAS_PROC) {
    const stat = readStat(pid);
    return stat !== undefined && stat.state !== 'Z';
  }
  return true;
}

/** Sends `signal`, ignoring a process (or group) that is already gone. */
export function trySignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: already gone
  }
}

/**
 * Freezes a server: the postmaster first, so it cannot fork while its children are listed, then
 * every child. Returns every pid it stopped.
 */
export function stopTree(postmasterPid: number): number[] {
  trySignal(-postmasterPid, 'SIGSTOP');
  trySignal(postmasterPid, 'SIGSTOP');
  const children = childPids(postmasterPid);
  for (const pid of children) trySignal(pid, 'SIGSTOP');
  return [postmasterPid, ...children];
}

/** Thaws a server frozen by {@link stopTree}: children first, so the postmaster wakes to a live family. */
export function continueTree(postmasterPid: number): void {
  for (const pid of childPids(postmasterPid)) trySignal(pid, 'SIGCONT');
  trySignal(-postmasterPid, 'SIGCONT');
  trySignal(postmasterPid, 'SIGCONT');
}

/**
 * SIGKILLs a server and all its children. The postmaster is stopped first: killed children would
 * otherwise make it start crash recovery and fork new ones, and children of a dead postmaster can
 * no longer be found by parent pid. Returns every pid it killed.
 */
export function killTree(postmasterPid: number): number[] {
  const pids = stopTree(postmasterPid);
  trySignal(-postmasterPid, 'SIGKILL');
  for (const pid of pids) trySignal(pid, 'SIGKILL');
  return pids;
}

/** Resolves `true` once none of `pids` is alive, `false` when `timeoutMs` passes first. */
export async function waitUntilGone(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!pids.some(isAlive)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Blocks until none of `pids` is alive or `timeoutMs` passes. Only for exit handlers, where nothing
 * asynchronous runs any more: files must not be deleted while a dying server still writes them.
 */
export function waitUntilGoneSync(pids: readonly number[], timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    if (!pids.some(isAlive)) return true;
    if (Date.now() >= deadline) return false;
    Atomics.wait(cell, 0, 0, 10);
  }
}

/** Deletes a directory tree, retrying while processes that just died may still add files to it. */
export function removeTreeSync(dir: string): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 1; ; attempt++) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 2, retryDelay: 50 });
      return;
    } catch (err) {
      if (attempt >= 5) throw err;
      Atomics.wait(cell, 0, 0, 100 * attempt);
    }
  }
}

/** The command line of `pid` (arguments joined by spaces), or `undefined` when unknown. */
export function commandLine(pid: number): string | undefined {
  try {
    if (HAS_PROC) return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}
