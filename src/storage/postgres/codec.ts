import type { KubeObject } from "../../apimachinery/types.js";
import type { ObjectKey, StorageResource } from "../interface.js";
import { keyString } from "../interface.js";

/**
 * How objects become rows and back. The stored JSON leaves out metadata.resourceVersion: the `rv`
 * column (or the changelog id) is the one truth, put back on every read.
 */

export function resourceColumn(resource: StorageResource): string {
  return `${resource.group}/${resource.resource}`;
}

export function resourceFromColumn(column: string, namespace: string): StorageResource {
  const slash = column.indexOf("/");
  return { group: column.slice(0, slash), resource: column.slice(slash + 1), namespaced: namespace !== "" };
}

export function keyColumn(key: ObjectKey): string {
  return keyString(key);
}

export function encodeObject(object: KubeObject): string {
  const { resourceVersion: _ignored, ...metadata } = object.metadata;
  return JSON.stringify({ ...object, metadata });
}

export function encodeLabels(object: KubeObject): string {
  return JSON.stringify(object.metadata.labels ?? {});
}

export function decodeObject(data: string, resourceVersion: number | string): KubeObject {
  const object = JSON.parse(data) as KubeObject;
  object.metadata.resourceVersion = String(resourceVersion);
  return object;
}

/** The object a write returns: what was given, with the resource version the database assigned. */
export function withResourceVersion(object: KubeObject, resourceVersion: number | string): KubeObject {
  return { ...object, metadata: { ...object.metadata, resourceVersion: String(resourceVersion) } };
}
