import type { KubeObject } from "../../apimachinery/types.js";
import { rememberJson } from "../encoded.js";

/**
 * The memory store keeps objects as deeply frozen copies: it copies once on write and hands the stored
 * value out on every read without copying, so no caller can change what others read (callers that
 * want to change an object clone it first, as the registry does). Freezing costs the same walk as
 * the copy, and catches an accidental write with a TypeError in strict mode instead of corrupting
 * the store.
 */
export function frozenCopy<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return Object.freeze(value.map(frozenCopy)) as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = frozenCopy((value as Record<string, unknown>)[key]);
  return Object.freeze(out) as T;
}

/**
 * A frozen copy of `object` with `metadata.resourceVersion` set by the store, and its JSON encoded
 * once now: the write's own answer and every later plain JSON read reuse it (encoded.ts).
 */
export function storedCopy(object: KubeObject, resourceVersion: number): KubeObject {
  const stored = frozenCopy({
    ...object,
    metadata: { ...object.metadata, resourceVersion: String(resourceVersion) },
  });
  rememberJson(stored, JSON.stringify(stored));
  return stored;
}

/**
 * The last state of a stored object with another resource version (a deletion's); shares the frozen
 * subtrees of `stored` instead of copying them.
 */
export function withResourceVersion(stored: KubeObject, resourceVersion: number): KubeObject {
  const metadata = Object.freeze({ ...stored.metadata, resourceVersion: String(resourceVersion) });
  return Object.freeze({ ...stored, metadata });
}
