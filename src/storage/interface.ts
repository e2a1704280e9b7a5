import type { EncodedJson } from "./encoded.js";
import type { FieldSelector, LabelSelector } from "../apimachinery/selector-ast.js";
import type { KubeObject } from "../apimachinery/types.js";

/**
 * The one storage interface. Backends store whole objects, own `metadata.resourceVersion` (one global,
 * strictly increasing counter per store, as in etcd), filter and page lists where the data lives, and
 * stream changes. They know nothing of HTTP, Status errors or API conventions beyond selectors.
 */

/** Which collection: the same for every backend, e.g. `{ group: "wgpolicyk8s.io", resource: "policyreports" }`. */
export interface StorageResource {
  group: string;
  resource: string;
  namespaced: boolean;
}

/** One object's key. `namespace` is "" for cluster-scoped kinds. */
export interface ObjectKey {
  namespace: string;
  name: string;
}

/**
 * The order of every list and of continue positions: the byte order of `namespace/name`
 * (just `name` for cluster-scoped kinds), which is etcd's key order as kube-apiserver lists CRDs.
 */
export function keyString(key: ObjectKey): string {
  return key.namespace ? `${key.namespace}/${key.name}` : key.name;
}

export function compareKeys(a: ObjectKey, b: ObjectKey): number {
  const x = Buffer.from(keyString(a));
  const y = Buffer.from(keyString(b));
  return Buffer.compare(x, y);
}

export type StorageErrorCode =
  /** get/update/delete of a key that is not there. */
  | "KeyNotFound"
  /** create of a key that is there. */
  | "KeyExists"
  /** compare-and-swap lost: the stored resource version is not the expected one. */
  | "Conflict"
  /** the requested resource version (watch start, continue token, exact list) is no longer kept. */
  | "Compacted"
  /** the requested resource version is newer than anything the store has. */
  | "TooLargeResourceVersion"
  /** the store cannot be reached or timed out; the request may be retried. */
  | "Unavailable"
  /** a watcher fell too far behind and was dropped. */
  | "TooSlow";

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    /** For Compacted: the oldest resource version still kept; for TooLarge: the current one. */
    readonly resourceVersion?: number,
  ) {
    super(message);
    this.name = "StorageError";
  }
}

export function isStorageError(err: unknown, code?: StorageErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code);
}

/** Which state a list reads (see k8s api-concepts "Semantics for get and list"). */
export type ReadConsistency =
  /** resourceVersion unset: the most recent state. */
  | { kind: "latest" }
  /** resourceVersion="0": any state; a backend may serve its newest. */
  | { kind: "any" }
  /** resourceVersion=N (NotOlderThan): at least N; TooLargeResourceVersion if the store has not reached N. */
  | { kind: "notOlderThan"; resourceVersion: number }
  /** resourceVersionMatch=Exact: the state at exactly N, or Compacted if N is no longer kept. */
  | { kind: "exact"; resourceVersion: number };

export interface ListOptions {
  /** Only this namespace; undefined lists every namespace (and is the only choice for cluster kinds). */
  namespace?: string;
  labelSelector: LabelSelector;
  fieldSelector: FieldSelector;
  /** At most this many items; undefined or 0 means all. */
  limit?: number;
  /**
   * Continue a list: items strictly after this key, at (or as if at) `resourceVersion`, the
   * resource version of the list's first page. The registry encodes and decodes the token.
   */
  continueFrom?: { after: ObjectKey; resourceVersion: number };
  consistency: ReadConsistency;
  /**
   * The caller only sends the items on as JSON: a backend that keeps objects as JSON text may answer
   * with `encoded` (each item's JSON, resourceVersion included) instead of `items`, and skip decoding.
   */
  encoded?: boolean;
}

export interface ListResult {
  /** The page's objects; empty when the backend answered with `encoded`. */
  items: KubeObject[];
  /** The page as JSON (text or bytes), in order, when `ListOptions.encoded` was asked and the backend can. */
  encoded?: EncodedJson[];
  /** The resource version the list was read at (the first page's for a continued list). */
  resourceVersion: number;
  /** Present when more items may follow: the key of the last item returned. */
  continueAfter?: ObjectKey;
  /** How many matching items follow this page, when the backend knows it cheaply. */
  remainingItemCount?: number;
}

export type WatchEvent =
  | {
      type: "ADDED" | "MODIFIED" | "DELETED";
      /** For DELETED, the last state of the object with `resourceVersion` set to the deletion's. */
      object: KubeObject;
      resourceVersion: number;
    }
  /** Progress: every change up to this resource version has been delivered or filtered away. */
  | { type: "BOOKMARK"; resourceVersion: number };

export interface WatchOptions {
  namespace?: string;
  labelSelector: LabelSelector;
  fieldSelector: FieldSelector;
  /** Deliver every change strictly after this resource version, in order, exactly once. */
  fromResourceVersion: number;
}

/**
 * A change as a backend records it, before selectors. `prevObject` lets a selector turn an update
 * that moves an object out of (into) a selection into DELETED (ADDED), as kube-apiserver does.
 */
export interface RawChange {
  type: "ADDED" | "MODIFIED" | "DELETED";
  resource: StorageResource;
  object: KubeObject;
  prevObject?: KubeObject;
  resourceVersion: number;
}

export interface Storage {
  /** The current object, with its resource version; KeyNotFound if absent. */
  get(resource: StorageResource, key: ObjectKey): Promise<KubeObject>;
  /**
   * Optional: the current object as JSON (text, or UTF-8 bytes) with its resource version, for an
   * answer that sends it on as is. Backends that store JSON implement it to spare a decode and an
   * encode; the databases answer with the bytes they read, never decoded into text.
   */
  getEncoded?(resource: StorageResource, key: ObjectKey): Promise<string | Buffer>;
  /**
   * Stores a new object; KeyExists if the key is taken. Returns it with its new resource version.
   * A write owns the object it is given (and the memory store freezes it in place): the caller must
   * not change it afterwards.
   */
  create(resource: StorageResource, key: ObjectKey, object: KubeObject): Promise<KubeObject>;
  /**
   * Compare and swap: replaces the object only if its stored resource version is `expectedResourceVersion`
   * (Conflict otherwise, KeyNotFound if absent). Returns it with its new resource version.
   * `previous`, when the caller holds it, is the object as stored at `expectedResourceVersion`: a
   * backend may skip work for what the update leaves unchanged (etcd's label index), never decide
   * the outcome by it, as only the compare proves it current.
   */
  update(
    resource: StorageResource,
    key: ObjectKey,
    object: KubeObject,
    expectedResourceVersion: number,
    previous?: KubeObject,
  ): Promise<KubeObject>;
  /**
   * Removes the object if its stored resource version is `expectedResourceVersion` (when given);
   * Conflict otherwise, KeyNotFound if absent. Returns the object as it was last stored, with the
   * deletion's resource version (as kube-apiserver answers and a watch's DELETED event carries).
   */
  delete(resource: StorageResource, key: ObjectKey, expectedResourceVersion?: number): Promise<KubeObject>;
  list(resource: StorageResource, options: ListOptions): Promise<ListResult>;
  /**
   * Every change after `fromResourceVersion` that matches, in resource version order, then live
   * changes, until `signal` aborts. Throws Compacted (before or as the first step) when history no
   * longer reaches back that far; throws TooSlow when the consumer falls behind its bounded buffer.
   * Yields BOOKMARK events now and then so that idle watchers learn the store's progress.
   */
  watch(resource: StorageResource, options: WatchOptions, signal: AbortSignal): AsyncIterable<WatchEvent>;
  /** The newest resource version the store has assigned. */
  currentResourceVersion(): Promise<number>;
  /** Resolves when the store can serve requests; rejects with the reason otherwise. */
  ready(): Promise<void>;
  /** Objects stored per resource, for metrics; backends answer from something cheap. */
  count(resource: StorageResource): Promise<number>;
  close(): Promise<void>;
}
