import type { KubeObject } from "../apimachinery/types.js";
import { toJson } from "../storage/encoded.js";

/**
 * The objects this process last wrote or read, newest last, as a starting point for the next write
 * of the same object: an update with a recent object skips reading it back from the database, as
 * kube-apiserver starts GuaranteedUpdate from its watch cache. Never an answer to a read: only the
 * compare-and-swap that follows proves a recent object current (another replica may have written
 * since), and a write that fails on it reads the store afresh (see Registry.guaranteedUpdate).
 *
 * Bounded by the JSON size of what it holds, not by N: a collection larger than the budget keeps
 * only its most recently touched objects, which is where Kyverno's writes go (an ephemeral report is
 * created, updated and deleted within seconds; a policy report is read, then replaced).
 */
export class RecentObjects {
  private readonly entries = new Map<string, { object?: KubeObject; json?: string; size: number }>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** A frozen object from a write or a decoded read (the caller never changes it). */
  remember(key: string, object: KubeObject): void {
    this.put(key, { object, size: toJson(object).length });
  }

  /** A read answered as JSON text: decoded only if an update needs it. */
  rememberJson(key: string, json: string): void {
    this.put(key, { json, size: json.length });
  }

  get(key: string): KubeObject | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (!entry.object) {
      try {
        entry.object = JSON.parse(entry.json ?? "") as KubeObject;
      } catch {
        this.forget(key);
        return undefined;
      }
      entry.json = undefined;
    }
    return entry.object;
  }

  forget(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.size;
  }

  private put(key: string, entry: { object?: KubeObject; json?: string; size: number }): void {
    this.forget(key);
    if (entry.size > this.maxBytes) return;
    this.entries.set(key, entry);
    this.bytes += entry.size;
    // Map iteration is insertion order: the first keys are the least recently touched.
    for (const [k] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.forget(k);
    }
  }
}
