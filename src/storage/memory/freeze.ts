import type { KubeObject } from "../../apimachinery/types.js";
import { deepFreeze, rememberJson, withResourceVersion as stamped } from "../encoded.js";

/**
 * The memory store keeps objects deeply frozen and hands the stored value out on every read without
 * copying, so no caller can change what others read (callers that want to change an object clone it
 * first, as the registry does). A write takes ownership of the object it is given and freezes it in
 * place rather than copying it: the registry builds a new object for every write and never touches
 * it again, and a caller that did would get a TypeError (strict mode) instead of corrupting the
 * store. Its JSON is encoded once now: the write's own answer and every later plain JSON read reuse
 * it (encoded.ts).
 */
export function storedObject(object: KubeObject, resourceVersion: number): KubeObject {
  const stored = deepFreeze(stamped(object, resourceVersion));
  rememberJson(stored, JSON.stringify(stored));
  return stored;
}

/**
 * The last state of a stored object with another resource version (a deletion's); shares the frozen
 * subtrees of `stored` instead of copying them. Encoded once, for the answer and the history alike.
 */
export function withResourceVersion(stored: KubeObject, resourceVersion: number): KubeObject {
  const metadata = Object.freeze({ ...stored.metadata, resourceVersion: String(resourceVersion) });
  const last = Object.freeze({ ...stored, metadata });
  rememberJson(last, JSON.stringify(last));
  return last;
}

/** A stored object again from the JSON text it was remembered with (the change history's). */
export function storedFromJson(json: string): KubeObject {
  const object = deepFreeze(JSON.parse(json) as KubeObject);
  rememberJson(object, json);
  return object;
}
