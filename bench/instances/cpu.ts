/**
 * CPU time of the node's server processes and of the whole machine, read from Linux's `/proc`, so `bench:instances`
 * can say where the machine's cores went during a set-up. Elsewhere (no `/proc`) both read `null`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';

/** Reads CPU time used so far, in milliseconds; `null` where it cannot. */
export interface CpuProbe {
  read(): number | null;
}

/** Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`: 100 on every Linux that matters here). */
const TICKS_PER_SECOND = 100;

/** Fields of `/proc/<pid>/stat` after the command: state is [0], ppid [1], utime [11], stime [12], cutime [13], cstime [14]. */
function statFields(pid: string): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * CPU time of the postmaster of the server `client` is connected to and of all its children, those already
 * ended included (a reaped child's time is added to its parent's `cutime`/`cstime`). Needs the server on this
 * machine and a role that may read `data_directory`.
 */
export async function serverCpuProbe(client: pg.Client): Promise<CpuProbe> {
  let postmaster: string | undefined;
  try {
    const { rows } = await client.query<{ dir: string }>("SELECT current_setting('data_directory') AS dir");
    postmaster = readFileSync(`${rows[0]!.dir}/postmaster.pid`, 'utf8').split('\n')[0]!.trim();
  } catch {
    postmaster = undefined;
  }
  const pid = postmaster;
  if (pid === undefined || statFields(pid) === undefined) return { read: () => null };
  return {
    read() {
      const own = statFields(pid);
      if (own === undefined) return null;
      let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        const fields = statFields(entry);
        if (fields !== undefined && fields[1] === pid) ticks += Number(fields[11]) + Number(fields[12]);
      }
      return (ticks * 1000) / TICKS_PER_SECOND;
    },
  };
}

/** Busy CPU time of the whole machine so far, every core summed (all but idle and iowait), in milliseconds. */
export function machineCpuMs(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
    return ((total - ticks[3]! - ticks[4]!) * 1000) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}
