import type { KubeObject } from "../apimachinery/types.js";
import {
  isStorageError,
  type ListOptions,
  type ListResult,
  type ObjectKey,
  type Storage,
  type StorageResource,
  type WatchEvent,
  type WatchOptions,
} from "./interface.js";

/** Connection pool occupancy, for backends that keep a pool (PostgreSQL). */
export interface PoolStats {
  /** Connections open now. */
  size: number;
  /** Of those, connections not running a query. */
  idle: number;
  /** Queries waiting for a connection. */
  waiting: number;
}

/** An optional extension of `Storage`: a backend with a connection pool may report its occupancy. */
export interface PoolStatsSource {
  poolStats(): PoolStats;
}

export function hasPoolStats(s: object): s is PoolStatsSource {
  return typeof (s as Partial<PoolStatsSource>).poolStats === "function";
}

export type StorageOperation =
  "get" | "create" | "update" | "delete" | "list" | "watch" | "count" | "currentResourceVersion" | "ready";

/** Receives one record per storage call; the metrics layer implements it. */
export interface StorageObserver {
  /**
   * `result` is "ok", or the StorageError code ("KeyNotFound", "Conflict", ...), or "error".
   * `seconds` is undefined for watches, whose length is the client's choice, not the store's speed.
   * `resource` is the collection, for calls on one (a watch dropped as TooSlow is a slow watcher).
   */
  operation(
    backend: string,
    op: StorageOperation,
    result: string,
    seconds: number | undefined,
    resource?: StorageResource,
  ): void;
  /** Called once with the instrumented store, so gauges (objects, pool) can read from it on scrape. */
  attach?(storage: Storage, backend: string): void;
}

function resultOf(err: unknown): string {
  return isStorageError(err) ? err.code : "error";
}

/**
 * Wraps a backend so every call is counted and timed where it happens, whatever the caller. The
 * wrapper adds one timestamp pair per call; watch streams pay one extra promise per event.
 */
export function instrumentStorage(inner: Storage, backend: string, observer: StorageObserver): Storage {
  const timed = async <T>(
    op: StorageOperation,
    call: () => Promise<T>,
    resource?: StorageResource,
  ): Promise<T> => {
    const start = performance.now();
    try {
      const out = await call();
      observer.operation(backend, op, "ok", (performance.now() - start) / 1000, resource);
      return out;
    } catch (err) {
      observer.operation(backend, op, resultOf(err), (performance.now() - start) / 1000, resource);
      throw err;
    }
  };

  const watch = (
    resource: StorageResource,
    options: WatchOptions,
    signal: AbortSignal,
  ): AsyncIterable<WatchEvent> => ({
    [Symbol.asyncIterator]() {
      const it = inner.watch(resource, options, signal)[Symbol.asyncIterator]();
      let recorded = false;
      const record = (result: string) => {
        if (recorded) return;
        recorded = true;
        observer.operation(backend, "watch", result, undefined, resource);
      };
      return {
        next: () =>
          it.next().then(
            (r) => {
              if (r.done) record("ok");
              return r;
            },
            (err: unknown) => {
              record(resultOf(err));
              throw err;
            },
          ),
        return: async (value?: unknown) => {
          record("ok");
          return it.return ? it.return(value) : { done: true as const, value: undefined };
        },
      };
    },
  });

  const wrapped: Storage & Partial<PoolStatsSource> = {
    get: (resource: StorageResource, key: ObjectKey) =>
      timed("get", () => inner.get(resource, key), resource),
    create: (resource: StorageResource, key: ObjectKey, object: KubeObject) =>
      timed("create", () => inner.create(resource, key, object), resource),
    update: (
      resource: StorageResource,
      key: ObjectKey,
      object: KubeObject,
      expected: number,
      previous?: KubeObject,
    ) => timed("update", () => inner.update(resource, key, object, expected, previous), resource),
    delete: (resource: StorageResource, key: ObjectKey, expected?: number) =>
      timed("delete", () => inner.delete(resource, key, expected), resource),
    list: (resource: StorageResource, options: ListOptions): Promise<ListResult> =>
      timed("list", () => inner.list(resource, options), resource),
    watch,
    count: (resource: StorageResource) => timed("count", () => inner.count(resource), resource),
    currentResourceVersion: () => timed("currentResourceVersion", () => inner.currentResourceVersion()),
    ready: () => timed("ready", () => inner.ready()),
    close: () => inner.close(),
  };
  const getEncoded = inner.getEncoded?.bind(inner);
  if (getEncoded) {
    wrapped.getEncoded = (resource: StorageResource, key: ObjectKey) =>
      timed("get", () => getEncoded(resource, key), resource);
  }
  if (hasPoolStats(inner)) wrapped.poolStats = () => inner.poolStats();
  observer.attach?.(wrapped, backend);
  return wrapped;
}
