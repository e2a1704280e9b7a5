import type { IRequestOp } from "etcd3";
import type { LabelSelector } from "../../apimachinery/selector-ast.js";
import type { ObjectKey, StorageResource } from "../interface.js";
import type { KeyLayout } from "./keys.js";

/**
 * The label index, as keys: one empty key per (object, label), `…/.labels/<group>/<resource>/<key>=<value>/<namespace>/<name>`
 * (see KeyLayout.labelValue). etcd has no secondary index, so without these a label-selected list reads
 * and decodes the whole collection. Entries are written in the same transaction as their object, so an
 * object with a label always has its entry; an entry whose object no longer has the label (a label
 * removed by an update) is stale, costs a read and is removed when a list finds it.
 */

/** etcd's default `--max-txn-ops`: the most operations one transaction may hold. */
export const MAX_TXN_OPS = 128;

/**
 * Labels the index can hold: a "=" in the key or a "/" in the value would make entries ambiguous.
 * Validation never lets either through; anything else is simply never looked up in the index.
 */
export function indexableLabel(key: string, value: string): boolean {
  return !key.includes("=") && !value.includes("/");
}

/** The index keys of an object's labels. bench/bulk.ts writes them with the objects it loads. */
export function labelIndexKeys(
  layout: KeyLayout,
  resource: StorageResource,
  key: ObjectKey,
  labels: Record<string, string> | undefined,
): Buffer[] {
  if (!labels) return [];
  const out: Buffer[] = [];
  for (const [k, v] of Object.entries(labels))
    if (typeof v === "string" && indexableLabel(k, v)) out.push(layout.labelEntry(resource, k, v, key));
  return out;
}

export function putEntries(entries: Buffer[]): IRequestOp[] {
  return entries.map((key) => ({ request_put: { key, value: Buffer.alloc(0) } }));
}

export function deleteEntries(entries: Buffer[]): IRequestOp[] {
  return entries.map((key) => ({ request_delete_range: { key } }));
}

/** `items` in pieces of at most `size`. */
export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** One requirement the index can answer: the label `key` equals `value`. */
export interface LabelEquality {
  key: string;
  value: string;
}

/** The selector's requirements an index range can serve: `k=v`, `k==v` and `k in (v)`. */
export function indexableRequirements(selector: LabelSelector): LabelEquality[] {
  const out: LabelEquality[] = [];
  for (const r of selector) {
    const value = r.op === "=" ? r.value : r.op === "in" && r.values.length === 1 ? r.values[0] : undefined;
    if (value !== undefined && indexableLabel(r.key, value)) out.push({ key: r.key, value });
  }
  return out;
}
