/** Wait `ms`, or less when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** client-go's wait.Jitter: `ms` plus up to `factor`·`ms` at random, so replicas do not move in lockstep. */
export function jitter(ms: number, factor = 1.2): number {
  return ms + Math.random() * factor * ms;
}
