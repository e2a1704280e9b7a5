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
  /**
   * JSON, not objects: a text is a third of the memory, and a write decodes what it starts from
   * anyway. Bytes as a database read them (outside the JavaScript heap) or text as a write encoded it.
   */
  private readonly entries = new Map<string, string | Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** An object from a write (its JSON is usually known already: encoded.ts). */
  remember(key: string, object: KubeObject): void {
    this.rememberJson(key, toJson(object));
  }

  /** A read answered as JSON. */
  rememberJson(key: string, json: string | Buffer): void {
    this.forget(key);
    if (json.length > this.maxBytes) return;
    this.entries.set(key, json);
    this.bytes += json.length;
    // Map iteration is insertion order: the first keys are the least recently touched.
    for (const [k] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.forget(k);
    }
  }

  /** A new decoded copy of the object, which the caller may change. */
  get(key: string): KubeObject | undefined {
    const json = this.entries.get(key);
    if (json === undefined) return undefined;
    try {
      return JSON.parse(typeof json === "string" ? json : json.toString()) as KubeObject;
    } catch {
      this.forget(key);
      return undefined;
    }
  }

  forget(key: string): void {
    const json = this.entries.get(key);
    if (json === undefined) return;
    this.entries.delete(key);
    this.bytes -= json.length;
  }
}
