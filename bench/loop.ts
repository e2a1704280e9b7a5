import { performance } from "node:perf_hooks";
import { Samples, summarize, type Summary } from "./stats.js";

export interface LoopLimits {
  /** Requests in flight at once. */
  concurrency: number;
  /** Stop after this many operations… */
  maxOps: number;
  /** …or this many milliseconds, whichever comes first. */
  maxMs: number;
}

/** A failing workload stops early instead of hammering the server with doomed requests. */
const MAX_ERRORS = 50;

/**
 * A closed loop: `concurrency` workers each issue one operation after the other until the count or
 * the time runs out. Each operation's latency is recorded; `op` gets its global index and worker.
 */
export async function closedLoop(
  limits: LoopLimits,
  op: (index: number, worker: number) => Promise<void>,
): Promise<Summary> {
  const samples = new Samples();
  let issued = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const deadline = start + limits.maxMs;
  const worker = async (w: number) => {
    while (issued < limits.maxOps && errors < MAX_ERRORS && performance.now() < deadline) {
      const i = issued++;
      const t0 = performance.now();
      try {
        await op(i, w);
        samples.add(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: limits.concurrency }, (_, w) => worker(w)));
  return summarize(samples.values(), samples.count, errors, performance.now() - start, firstError);
}

/** Runs `tasks` with at most `concurrency` at once (loading data), failing on the first error. */
export async function pooled(count: number, concurrency: number, task: (i: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
