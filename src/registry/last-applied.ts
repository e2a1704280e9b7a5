import { getPath, leavesOf, pathKey } from "../apimachinery/fieldset.js";
import { goJson } from "../apimachinery/go-format.js";
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

/**
 * After kubectl's server-side apply on an object that has the record: the record becomes what was
 * applied (without the record itself), encoded as kubectl encodes it, so that a later client-side
 * apply or `kubectl diff` starts from the truth.
 */
export function refreshLastApplied(result: KubeObject, applied: KubeObject): void {
  const annotations = result.metadata.annotations;
  if (!annotations?.[LAST_APPLIED]) return;
  const record = structuredClone(applied);
  if (record.metadata.annotations) {
    delete record.metadata.annotations[LAST_APPLIED];
  }
  annotations[LAST_APPLIED] = `${goJson(record)}\n`;
  // SetLastApplied: a record that would break the annotations' size limit is dropped instead
  if (annotationBytes(annotations) > ANNOTATIONS_MAX_BYTES) delete annotations[LAST_APPLIED];
}

/** ValidateAnnotationsSize's limit on the keys and values together. */
const ANNOTATIONS_MAX_BYTES = 256 * 1024;

function annotationBytes(annotations: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(annotations)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}
