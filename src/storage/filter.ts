import { matchFields } from "../apimachinery/fields.js";
import { matchLabels } from "../apimachinery/labels.js";
import type { FieldSelector, LabelSelector } from "../apimachinery/selector-ast.js";
import type { KubeObject } from "../apimachinery/types.js";
import type { RawChange, WatchEvent } from "./interface.js";

export interface Selection {
  namespace?: string;
  labelSelector: LabelSelector;
  fieldSelector: FieldSelector;
}

/** Whether one object is in a selection (namespace, labels, fields). */
export function inSelection(obj: KubeObject, sel: Selection): boolean {
  const meta = obj.metadata;
  if (sel.namespace !== undefined && (meta.namespace ?? "") !== sel.namespace) return false;
  if (sel.labelSelector.length > 0 && !matchLabels(sel.labelSelector, meta.labels)) return false;
  if (
    sel.fieldSelector.length > 0 &&
    !matchFields(sel.fieldSelector, { name: meta.name ?? "", namespace: meta.namespace ?? "" })
  ) {
    return false;
  }
  return true;
}

/**
 * What a watcher with this selection sees of one change, as kube-apiserver's watch cache decides it:
 * an update that moves an object out of the selection is DELETED, one that moves it in is ADDED.
 * Returns undefined when the watcher sees nothing.
 */
export function filterChange(change: RawChange, sel: Selection): WatchEvent | undefined {
  const now = inSelection(change.object, sel);
  // an update keeps its name and namespace: only a label selector can see it move in or out (and a
  // replayed change decodes its previous object only then)
  if (change.type !== "MODIFIED" || sel.labelSelector.length === 0 || change.prevObject === undefined) {
    return now
      ? { type: change.type, object: change.object, resourceVersion: change.resourceVersion }
      : undefined;
  }
  const before = inSelection(change.prevObject, sel);
  if (now && before)
    return { type: "MODIFIED", object: change.object, resourceVersion: change.resourceVersion };
  if (now) return { type: "ADDED", object: change.object, resourceVersion: change.resourceVersion };
  if (before) {
    // as kube-apiserver's cacheWatcher: the content the watcher last saw, at the update's version
    const metadata = { ...change.prevObject.metadata, resourceVersion: String(change.resourceVersion) };
    return {
      type: "DELETED",
      object: { ...change.prevObject, metadata },
      resourceVersion: change.resourceVersion,
    };
  }
  return undefined;
}
