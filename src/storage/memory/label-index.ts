import type { LabelSelector } from "../../apimachinery/selector-ast.js";

/**
 * label key → value → object keys: a selector with an equality (`k=v`, `k in (…)`) reads only the
 * objects carrying those labels instead of filtering the whole table, as a GIN index does in SQL.
 */
export class LabelIndex {
  private readonly byLabel = new Map<string, Map<string, Set<string>>>();

  add(key: string, labels: Record<string, string> | undefined): void {
    if (!labels) return;
    for (const [k, v] of Object.entries(labels)) {
      let values = this.byLabel.get(k);
      if (!values) this.byLabel.set(k, (values = new Map()));
      let keys = values.get(v);
      if (!keys) values.set(v, (keys = new Set()));
      keys.add(key);
    }
  }

  /** An update: only the labels it changed move (most updates change none). */
  replace(
    key: string,
    before: Record<string, string> | undefined,
    after: Record<string, string> | undefined,
  ): void {
    if (before === after) return;
    const same = (a: Record<string, string> | undefined, k: string, v: string) =>
      a !== undefined && Object.hasOwn(a, k) && a[k] === v;
    const gone = Object.entries(before ?? {}).filter(([k, v]) => !same(after, k, v));
    const added = Object.entries(after ?? {}).filter(([k, v]) => !same(before, k, v));
    if (gone.length > 0) this.remove(key, Object.fromEntries(gone));
    if (added.length > 0) this.add(key, Object.fromEntries(added));
  }

  remove(key: string, labels: Record<string, string> | undefined): void {
    if (!labels) return;
    for (const [k, v] of Object.entries(labels)) {
      const values = this.byLabel.get(k);
      const keys = values?.get(v);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) values!.delete(v);
      if (values!.size === 0) this.byLabel.delete(k);
    }
  }

  /**
   * The keys that can match the selector, from its most selective equality requirement; undefined
   * when the selector has none (then the caller scans in key order). Callers still match every
   * requirement: this only narrows.
   */
  candidates(sel: LabelSelector): Set<string> | undefined {
    let best: Set<string> | undefined;
    for (const r of sel) {
      let found: Set<string> | undefined;
      if (r.op === "=") {
        found = this.byLabel.get(r.key)?.get(r.value) ?? new Set();
      } else if (r.op === "in") {
        const values = this.byLabel.get(r.key);
        found = new Set();
        for (const v of r.values) for (const k of values?.get(v) ?? []) found.add(k);
      } else {
        continue;
      }
      if (!best || found.size < best.size) best = found;
      if (best.size === 0) break;
    }
    return best;
  }
}
