import type { Counter } from "prom-client";

/**
 * Counts kept in plain numbers where the work happens and handed to a prom-client counter when it is
 * read (its `collect` hook, which every scrape and `get()` runs first). prom-client hashes and
 * validates the label set on every `inc()`, even through a `labels()` child, and a request counts
 * several things; a scrape every few seconds does that once per series instead. Series are as many
 * as the label values the caller passes, which callers already bound (served kinds, fixed verbs).
 */
export class Tally {
  private readonly pending = new Map<string, { values: string[]; n: number }>();

  add(...values: string[]): void {
    const key = values.join("\u0000");
    const entry = this.pending.get(key);
    if (entry) entry.n++;
    else this.pending.set(key, { values, n: 1 });
  }

  /** Moves what was counted since the last flush into `counter`. */
  flush(counter: Counter<string>): void {
    for (const entry of this.pending.values()) {
      if (entry.n === 0) continue;
      counter.labels(...entry.values).inc(entry.n);
      entry.n = 0;
    }
  }
}
