import type { KubeObject } from "../../apimachinery/types.js";
import { inSelection } from "../filter.js";
import type { ListOptions } from "../interface.js";
import type { PastChange } from "./history.js";
import { compareUtf8 } from "./key-order.js";
import { pageBounds, type Page } from "./page.js";
import type { Table } from "./table.js";

/**
 * A key's state at an earlier resource version: null when it was absent, else the change whose
 * previous object it was, decoded only if a page reaches the key.
 */
export type PastState = PastChange | null;

/**
 * The keys that changed after a resource version, with their state at it, from the kept history:
 * undoing the changes newest first leaves each key's oldest prior state.
 */
export function stateAt(changes: PastChange[]): Map<string, PastState> {
  const past = new Map<string, PastState>();
  for (let i = changes.length - 1; i >= 0; i--) {
    const c = changes[i];
    past.set(c.key, c.type === "ADDED" || !c.hasPrevious ? null : c);
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
  past: Map<string, PastState>,
): Page {
  const { selection, after, limit } = pageBounds(namespace, options);
  const prefix = namespace !== undefined ? `${namespace}/` : "";
  const inRange = (k: string) => k.startsWith(prefix) && (after === undefined || compareUtf8(k, after) > 0);
  const restored = [...past.entries()]
    .filter((e): e is [string, PastChange] => e[1] !== null && inRange(e[0]))
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
      const [k, was] = restored[j++];
      key = k;
      object = was.prevObject!;
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
