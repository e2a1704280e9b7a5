import { getPath, leavesOf, pathKey } from "../apimachinery/fieldset.js";
import { isPlainObject, type KubeObject } from "../apimachinery/types.js";
import type { ResourceDef } from "../resources/types.js";
import { deepEqual } from "./metadata.js";

/**
 * kubectl's client-side apply record, as kube-apiserver's field manager reads and keeps it for the
 * manager "kubectl", so that an object moves from client-side to server-side apply without
 * conflicts (lastAppliedManager, lastAppliedUpdater).
 */
export const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/** The manager whose server-side applies honour and refresh the record (kubectl's default). */
export const KUBECTL_MANAGER = "kubectl";

/**
 * The fields client-side apply last set that still hold the value it set (path keys): a conflict
 * on them is no conflict for kubectl's server-side apply. Undefined without a usable record.
 */
export function fieldsLastApplied(def: ResourceDef, live: KubeObject): Set<string> | undefined {
  const text = live.metadata.annotations?.[LAST_APPLIED];
  if (!text) return undefined;
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isPlainObject(record) || record.apiVersion !== def.groupVersion) return undefined;
  const unchanged = new Set<string>();
  for (const p of leavesOf(record, def.schema)) {
    if (deepEqual(getPath(record, p), getPath(live, p))) unchanged.add(pathKey(p));
  }
  return unchanged;
}

/** Go's json.Marshal of a map: keys sorted, HTML characters escaped. */
function goJson(value: unknown): string {
  const sorted = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sorted);
    if (!isPlainObject(v)) return v;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sorted(v[k]);
    return out;
  };
  return JSON.stringify(sorted(value)).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * After kubectl's server-side apply on an object that has the record: the record becomes what was
 * applied (without the record itself), encoded as kubectl encodes it, so that a later client-side
 * apply or `kubectl diff` starts from the truth.
 */
export function refreshLastApplied(result: KubeObject, applied: KubeObject): void {
  const annotations = result.metadata.annotations;
  if (annotations?.[LAST_APPLIED] === undefined) return;
  const record = structuredClone(applied);
  if (record.metadata.annotations) {
    delete record.metadata.annotations[LAST_APPLIED];
  }
  annotations[LAST_APPLIED] = `${goJson(record)}\n`;
}
