import type { KubeObject } from "../../apimachinery/types.js";
import { inSelection } from "../filter.js";
import type { Selection } from "../filter.js";
import { keyString } from "../interface.js";
import type { ListOptions, ObjectKey } from "../interface.js";
import { compareUtf8 } from "./key-order.js";
import type { Entry, Table } from "./table.js";

export interface Page {
  items: KubeObject[];
  continueAfter?: ObjectKey;
  remainingItemCount?: number;
}

/** What a page read takes from the options: what to select, where to start, how many at most. */
export function pageBounds(
  namespace: string | undefined,
  options: ListOptions,
): { selection: Selection; after?: string; limit: number } {
  return {
    selection: { namespace, labelSelector: options.labelSelector, fieldSelector: options.fieldSelector },
    after: options.continueFrom ? keyString(options.continueFrom.after) : undefined,
    limit: options.limit && options.limit > 0 ? options.limit : Infinity,
  };
}

/**
 * One page of a list from the table's key order. A namespace is a contiguous key range ("ns/" …),
 * found by binary search, and so is a continue position; a page without selectors costs the page.
 * Selectors are matched while scanning forward until the page is full.
 */
export function readPage(table: Table, namespaced: boolean, options: ListOptions): Page {
  const namespace = namespaced ? narrowNamespace(options) : undefined;
  if (namespace === null) return { items: [] };
  const { selection, after, limit } = pageBounds(namespace, options);

  const name = selectedName(options);
  if (name !== undefined && (namespace !== undefined || !namespaced)) {
    // a list for one object by name (kubectl wait, informers on one object) is a point read
    const key = keyString({ namespace: namespace ?? "", name });
    const entry = table.get(key);
    const wanted =
      entry !== undefined &&
      inSelection(entry.object, selection) &&
      (after === undefined || compareUtf8(key, after) > 0);
    return { items: wanted ? [entry.object] : [] };
  }

  const [first, end] =
    namespace !== undefined ? table.order.prefixRange(`${namespace}/`) : [0, table.order.size];
  const start = after !== undefined ? Math.max(first, table.order.upperBound(after)) : first;

  if (options.labelSelector.length === 0 && options.fieldSelector.length === 0) {
    const stop = Math.min(end, start + limit);
    const entries: Entry[] = [];
    for (let i = start; i < stop; i++) entries.push(table.at(i));
    const items = entries.map((e) => e.object);
    if (stop >= end || entries.length === 0) return { items };
    return { items, continueAfter: entries[entries.length - 1].key, remainingItemCount: end - stop };
  }

  const candidates = table.labels.candidates(options.labelSelector);
  if (candidates !== undefined && candidates.size < (end - start) / 8) {
    return indexedPage(table, candidates, selection, namespace, after, limit);
  }

  const entries: Entry[] = [];
  let i = start;
  for (; i < end && entries.length < limit; i++) {
    const entry = table.at(i);
    if (inSelection(entry.object, selection)) entries.push(entry);
  }
  const items = entries.map((e) => e.object);
  // more keys follow, so more items may: kube-apiserver answers the same way over etcd
  if (i < end && entries.length > 0) return { items, continueAfter: entries[entries.length - 1].key };
  return { items };
}

/**
 * The one namespace a list is limited to, from the namespace option and `metadata.namespace=`
 * field requirements; null when they contradict each other; undefined for every namespace.
 */
function narrowNamespace(options: ListOptions): string | undefined | null {
  let namespace = options.namespace || undefined;
  for (const req of options.fieldSelector) {
    if (req.field !== "metadata.namespace" || req.op !== "=") continue;
    if (namespace !== undefined && namespace !== req.value) return null;
    namespace = req.value;
  }
  return namespace;
}

function selectedName(options: ListOptions): string | undefined {
  return options.fieldSelector.find((req) => req.field === "metadata.name" && req.op === "=")?.value;
}

/** A page from the label index's few candidates, in key order: the cost follows the matches, not the table. */
function indexedPage(
  table: Table,
  candidates: Set<string>,
  selection: Selection,
  namespace: string | undefined,
  after: string | undefined,
  limit: number,
): Page {
  const prefix = namespace !== undefined ? `${namespace}/` : "";
  const keys = [...candidates]
    .filter((k) => k.startsWith(prefix) && (after === undefined || compareUtf8(k, after) > 0))
    .sort(compareUtf8);
  const entries: Entry[] = [];
  let i = 0;
  for (; i < keys.length && entries.length < limit; i++) {
    const entry = table.get(keys[i]);
    if (entry && inSelection(entry.object, selection)) entries.push(entry);
  }
  const items = entries.map((e) => e.object);
  if (i < keys.length && entries.length > 0) return { items, continueAfter: entries[entries.length - 1].key };
  return { items };
}
