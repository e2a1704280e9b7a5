import { readFileSync, readdirSync } from "node:fs";

/** Resident set size of a process in MiB, from /proc/<pid>/status (0 if it is gone). */
export function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** The child of this process whose command line contains `marker` (the server's --secure-port flag). */
export function childPid(marker: string): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== process.pid) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (cmdline.includes(marker)) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

/** Samples a process's RSS every `everyMs` and keeps the peak, for the duration of one workload. */
export class RssSampler {
  private peak = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pid: number | undefined) {}

  start(everyMs = 200): void {
    if (this.pid === undefined) return;
    this.peak = rssMiB(this.pid);
    this.timer = setInterval(() => (this.peak = Math.max(this.peak, rssMiB(this.pid ?? 0))), everyMs);
  }

  stop(): number | undefined {
    if (this.pid === undefined) return undefined;
    clearInterval(this.timer);
    return Math.max(this.peak, rssMiB(this.pid));
  }
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; with `reaped`, also
 * what its children that have exited and been waited for used (cutime, cstime).
 */
export function cpuSeconds(pid: number, reaped = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime, stime, cutime and cstime are fields 14–17 of stat (11–14 after the command name).
    const own = Number(fields[11]) + Number(fields[12]);
    return (reaped ? own + Number(fields[13]) + Number(fields[14]) : own) / 100;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds a store has used so far: its first process (PostgreSQL's postmaster, with the backends
 * that exited) and every other process it has now. A difference of two readings is the store's CPU
 * in between, also when backends come and go.
 */
export function storeCpuSeconds(pids: number[]): number {
  return pids.reduce((sum, pid, i) => sum + cpuSeconds(pid, i === 0), 0);
}

/**
 * CPU seconds every core of the machine has been busy so far (all processes and the kernel), from
 * the first line of /proc/stat: user, nice, system, irq, softirq and steal; idle and iowait are not
 * busy. Undefined where there is no /proc/stat.
 */
export function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0];
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    // USER_HZ is 100 on every Linux this runs on (the same unit as cpuSeconds reads)
    return (user + nice + system + irq + softirq + (steal || 0)) / 100;
  } catch {
    return undefined;
  }
}
