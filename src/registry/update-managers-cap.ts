/**
 * kube-apiserver keeps at most ten managedFields entries from updates (capManagersManager, in
 * k8s.io/apimachinery's managedfields): every write by a new controller or `kubectl edit` session would
 * otherwise add one for good. The oldest are merged, per API version, into one `ancient-changes` entry.
 * Applies are never merged: an applier must keep finding its own entry.
 */
import { union } from "../apimachinery/fieldset.js";
import { goJsonStruct } from "../apimachinery/go-format.js";
import type { ManagedFieldsEntry } from "./managedfields.js";

/** DefaultMaxUpdateManagers. */
export const MAX_UPDATE_MANAGERS = 10;
export const ANCIENT_CHANGES = "ancient-changes";

/** BuildManagerIdentifier: the entry's JSON without time and fields (appliers without apiVersion). */
function identifier(e: Pick<ManagedFieldsEntry, "manager" | "operation" | "apiVersion">): string {
  return e.operation === "Apply"
    ? goJsonStruct({ manager: e.manager, operation: e.operation })
    : goJsonStruct({ manager: e.manager, operation: e.operation, apiVersion: e.apiVersion });
}

const secondsOf = (e: ManagedFieldsEntry): number => (e.time ? Math.floor(Date.parse(e.time) / 1000) : 0);

/**
 * The list with the oldest update entries merged until at most MAX_UPDATE_MANAGERS remain; the same
 * array when there is nothing to merge. Follows capUpdateManagers step by step, over entries keyed by
 * identifier as its map is, including its quirk: when the walk reaches an existing bucket that is not
 * the oldest of its version, the bucket merges into itself and is then deleted, fields and all.
 */
export function capUpdateManagers(entries: ManagedFieldsEntry[]): ManagedFieldsEntry[] {
  const updaters = entries.filter((e) => e.operation === "Update");
  if (updaters.length <= MAX_UPDATE_MANAGERS) return entries;
  const fields = new Map(entries.map((e) => [identifier(e), e]));
  const ids = updaters.map((e) => ({ id: identifier(e), seconds: secondsOf(e) }));
  ids.sort((a, b) => a.seconds - b.seconds || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  const firstOf = new Map<string, string>();
  let length = ids.length;
  for (let i = 0; i < ids.length && length > MAX_UPDATE_MANAGERS; i++) {
    const manager = ids[i].id;
    const vs = fields.get(manager)!;
    const version = vs.apiVersion;
    const bucket = identifier({ manager: ANCIENT_CHANGES, operation: "Update", apiVersion: version });
    const first = firstOf.get(version);
    if (first === undefined) {
      firstOf.set(version, manager);
      continue;
    }
    let into = fields.get(bucket);
    if (!into) {
      // the first of the version becomes the bucket, under the bucket's name
      into = { ...fields.get(first)!, manager: ANCIENT_CHANGES, operation: "Update" };
      fields.delete(first);
    }
    // the bucket takes the merged entry's time, the more recent one
    const merged: ManagedFieldsEntry = { ...into, fieldsV1: union(vs.fieldsV1, into.fieldsV1) };
    if (vs.time === undefined) delete (merged as Partial<ManagedFieldsEntry>).time;
    else merged.time = vs.time;
    fields.set(bucket, merged);
    fields.delete(manager);
    length--;
  }
  return [...fields.values()];
}
