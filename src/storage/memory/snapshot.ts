import type { KubeObject } from "../../apimachinery/types.js";
import { inSelection } from "../filter.js";
import { keyString, type ListOptions, type RawChange } from "../interface.js";
import { compareUtf8 } from "./key-order.js";
import { pageBounds, type Page } from "./page.js";
import type { Table } from "./table.js";

/**
 * The objects of the keys that changed after a resource version, as they were at it (null: absent),
 * from the kept history: undoing the changes newest first leaves each key's oldest prior state.
 */
export function stateAt(changes: RawChange[]): Map<string, KubeObject | null> {
  const past = new Map<string, KubeObject | null>();
  for (let i = changes.length - 1; i >= 0; i--) {
    const c = changes[i];
    const key = keyString({
      namespace: c.object.metadata.namespace ?? "",
      name: c.object.metadata.name ?? "",
    });
    past.set(key, c.type === "ADDED" ? null : (c.prevObject ?? null));
  }
  return past;
}

/**
 * One page of a list as it was at an earlier resource version: the current key order with the keys
 * that changed since replaced by their past state. Continued lists read this way stay consistent with
 * their first page, as lists over etcd at a pinned revision are.
 */
export function readPastPage(
  table: Table,
  namespace: string | undefined,
  options: ListOptions,
  past: Map<string, KubeObject | null>,
): Page {
  const { selection, after, limit } = pageBounds(namespace, options);
  const prefix = namespace !== undefined ? `${namespace}/` : "";
  const inRange = (k: string) => k.startsWith(prefix) && (after === undefined || compareUtf8(k, after) > 0);
  const restored = [...past.entries()]
    .filter((e): e is [string, KubeObject] => e[1] !== null && inRange(e[0]))
    .sort((a, b) => compareUtf8(a[0], b[0]));
  const [first, end] = namespace !== undefined ? table.order.prefixRange(prefix) : [0, table.order.size];
  let i = after !== undefined ? Math.max(first, table.order.upperBound(after)) : first;
  let j = 0;
  const items: KubeObject[] = [];
  let lastKey = "";
  let more = false;
  for (;;) {
    while (i < end && past.has(table.order.at(i))) i++;
    const fromTable = i < end ? table.order.at(i) : undefined;
    const fromPast = j < restored.length ? restored[j][0] : undefined;
    if (fromTable === undefined && fromPast === undefined) break;
    if (items.length >= limit) {
      more = true;
      break;
    }
    let key: string;
    let object: KubeObject;
    if (fromPast !== undefined && (fromTable === undefined || compareUtf8(fromPast, fromTable) < 0)) {
      [key, object] = restored[j++];
    } else {
      key = fromTable!;
      object = table.at(i++).object;
    }
    if (!inSelection(object, selection)) continue;
    items.push(object);
    lastKey = key;
  }
  if (!more) return { items };
  const obj = items[items.length - 1];
  const page: Page = {
    items,
    continueAfter: { namespace: obj.metadata.namespace ?? "", name: obj.metadata.name ?? "" },
  };
  if (options.labelSelector.length === 0 && options.fieldSelector.length === 0) {
    // Counted from positions, not by walking the rest: keys now, less those that changed, plus their past.
    let remaining = end - Math.max(first, table.order.upperBound(lastKey));
    for (const [key, was] of past) {
      if (!inRange(key) || compareUtf8(key, lastKey) <= 0) continue;
      if (table.get(key) !== undefined) remaining--;
      if (was !== null) remaining++;
    }
    page.remainingItemCount = remaining;
  }
  return page;
}
