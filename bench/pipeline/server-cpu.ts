import { readdirSync, readFileSync } from 'node:fs';

const PID = /^\d+$/;

/** Reads the CPU time used so far by a PostgreSQL server's processes, in µs; `undefined` where it cannot. */
export type ServerCpuClock = () => number | undefined;

/** `pid`'s parent, from `/proc/<pid>/stat` (the fields after the parenthesised command name). */
function parentOf(pid: string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined; // exited meanwhile
  }
}

/** Nanoseconds `pid` has spent on a CPU, from `/proc/<pid>/schedstat`. */
function runTimeNs(pid: string): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) || 0;
  } catch {
    return 0;
  }
}

/**
 * A clock of the CPU time of the postmaster `postmasterPid` and all its children (backends, WAL writer,
 * checkpointer, …), so each run can report the server's share of the work next to the client's. Reads
 * `/proc/<pid>/schedstat`, which counts in nanoseconds (`/proc/<pid>/stat` ticks at 10 ms, too coarse for a run
 * of a few hundred milliseconds). Processes that exit during a run take their time with them; the contenders
 * keep their connections open, so their backends do not. Linux only: elsewhere, or without a pid, the clock
 * reads `undefined` and the table leaves the server's share out.
 */
export function serverCpuClock(postmasterPid: number | undefined): ServerCpuClock {
  if (postmasterPid === undefined || process.platform !== 'linux') return () => undefined;
  const root = String(postmasterPid);
  return () => {
    let entries: string[];
    try {
      entries = readdirSync('/proc');
    } catch {
      return undefined;
    }
    let ns = runTimeNs(root);
    for (const entry of entries) {
      if (entry === root || !PID.test(entry)) continue;
      if (parentOf(entry) === postmasterPid) ns += runTimeNs(entry);
    }
    return ns / 1000;
  };
}
