import { readFileSync, readdirSync } from "node:fs";

/**
 * SIGSTOP reaches a process at once but stops its threads one by one: a thread in the middle of a
 * syscall (etcd's fsync after a write) goes on until it returns to user space, and until then it can
 * still answer a request. Tests that freeze a store wait here until every thread has stopped, so
 * the first request after "frozen" really meets a frozen store.
 */
export async function freeze(pids: number[], timeoutMs = 5_000): Promise<void> {
  signal(pids, "SIGSTOP");
  const deadline = Date.now() + timeoutMs;
  while (!pids.every(stopped)) {
    if (Date.now() > deadline)
      throw new Error(`processes ${pids.join(", ")} did not stop in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Undoes freeze(). */
export function thaw(pids: number[]): void {
  signal(pids, "SIGCONT");
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/** Every thread of `pid` is stopped (state T), or the process is gone. */
function stopped(pid: number): boolean {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return true;
  }
  return tasks.every((tid) => {
    try {
      // the state follows the command name, which is in parentheses and may itself hold spaces
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      // a zombie (a child that exited while its stopped parent could not reap it) does nothing either
      return state === "T" || state === "t" || state === "Z" || state === "X";
    } catch {
      return true;
    }
  });
}
