import type { KindInfo, Obj } from "./fixtures.js";

/**
 * What a workload asks of a store, whether it is reports-server over HTTP or a raw store driven
 * directly (PostgreSQL through postgres.js, etcd through etcd3, a bare HTTPS server for memory).
 * Workloads are written once against this, so the server and its baseline do the same work.
 */

export interface Written {
  name: string;
  resourceVersion: string;
}

export interface Fetched {
  resourceVersion: string;
  /** Parses the object (only the workloads that need it pay for it). */
  object(): Obj;
}

export interface ListQuery {
  /** Undefined: across all namespaces. */
  namespace?: string;
  /** Equality requirements, ANDed. */
  labels?: Record<string, string>;
  limit?: number;
}

export interface Listed {
  items(): Obj[];
}

export interface WatchOptions {
  /** Informer-style metadata-only events (the PartialObjectMetadata Accept header). */
  metadataOnly: boolean;
  /** Called with the text of every event, one event per call. */
  onEvent(text: string): void;
}

export interface WatchHandle {
  close(): void;
}

export interface Target {
  /** "reports-server" or the baseline's name. */
  readonly name: string;
  /** Creates `obj` (with `metadata.generateName` when it has no name); fails if the name is taken. */
  create(kind: KindInfo, obj: Obj): Promise<Written>;
  /** Undefined when there is no such object. */
  get(kind: KindInfo, namespace: string, name: string): Promise<Fetched | undefined>;
  /** A full replace, conditional on `obj.metadata.resourceVersion`. */
  update(kind: KindInfo, obj: Obj): Promise<Written>;
  remove(kind: KindInfo, namespace: string, name: string): Promise<void>;
  list(kind: KindInfo, query: ListQuery): Promise<Listed>;
  /** Watches every namespace of each kind from now on; resolves once every watch is established. */
  watch(kinds: KindInfo[], options: WatchOptions): Promise<WatchHandle>;
  close(): Promise<void>;
}

export function nameOf(obj: Obj): string {
  return String(obj.metadata.name ?? "");
}

export function namespaceOf(obj: Obj): string {
  return String(obj.metadata.namespace ?? "");
}

/** A short random suffix, as the API server appends to generateName. */
export function randomSuffix(): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  let s = "";
  for (let i = 0; i < 5; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}
