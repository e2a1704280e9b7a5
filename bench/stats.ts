/** Latency samples and what the table shows of them. Pure. */

export interface Summary {
  ops: number;
  errors: number;
  elapsedMs: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** The first error seen, so a failing workload says why. */
  firstError?: string;
  /** Every latency, sorted (kept so that slices of one workload can be merged exactly). */
  samples?: Float64Array;
}

/** The q-quantile (0..1) of sorted samples, nearest-rank as most load tools report it. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

export function summarize(
  samples: Float64Array,
  count: number,
  errors: number,
  elapsedMs: number,
  firstError?: string,
): Summary {
  const sorted = samples.slice(0, count).sort();
  return {
    ops: count,
    errors,
    elapsedMs,
    opsPerSec: elapsedMs > 0 ? (count * 1000) / elapsedMs : 0,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    firstError,
    samples: sorted,
  };
}

/** Several slices of one workload as one: operations and time add up, percentiles over all samples. */
export function mergeSummaries(parts: Summary[]): Summary {
  const total = parts.reduce((n, p) => n + (p.samples?.length ?? 0), 0);
  const all = new Float64Array(total);
  let at = 0;
  for (const p of parts) {
    if (!p.samples) continue;
    all.set(p.samples, at);
    at += p.samples.length;
  }
  return summarize(
    all,
    total,
    parts.reduce((n, p) => n + p.errors, 0),
    parts.reduce((n, p) => n + p.elapsedMs, 0),
    parts.find((p) => p.firstError)?.firstError,
  );
}

/** A growable array of latencies in milliseconds without per-sample allocation. */
export class Samples {
  private data = new Float64Array(4096);
  count = 0;

  add(ms: number): void {
    if (this.count === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.count++] = ms;
  }

  values(): Float64Array {
    return this.data;
  }
}
