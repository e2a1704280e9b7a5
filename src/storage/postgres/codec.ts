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

/** The key column back to a key (names and namespaces never contain a slash). */
export function keyFromColumn(column: string, namespaced: boolean): ObjectKey {
  const slash = namespaced ? column.indexOf("/") : -1;
  return slash < 0
    ? { namespace: "", name: column }
    : { namespace: column.slice(0, slash), name: column.slice(slash + 1) };
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

/**
 * A PostgreSQL array literal (`{"a","b"}`): the pool runs without fetch_types, so postgres.js cannot
 * encode a JS array itself.
 */
export function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(",")}}`;
}
