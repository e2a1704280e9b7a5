import { expect } from "vitest";
import type { FieldSelector, LabelSelector } from "../../../src/apimachinery/selector-ast.js";
import type { KubeObject } from "../../../src/apimachinery/types.js";
import type { EncodedJson } from "../../../src/storage/encoded.js";
import { StorageError, keyString } from "../../../src/storage/interface.js";
import type {
  ListOptions,
  ListResult,
  ObjectKey,
  Storage,
  StorageErrorCode,
  StorageResource,
  WatchEvent,
  WatchOptions,
} from "../../../src/storage/interface.js";

/** What a backend's test hands the suite. */
export interface StoreUnderTest {
  store: Storage;
  cleanup: () => Promise<void>;
  /**
   * Makes the store forget its history up to now, so that a watch from an older resource version
   * fails with Compacted. When absent, the Compacted checks are not run.
   */
  compact?: () => Promise<void>;
}

/** Options a few tests need from a store of their own. */
export interface SuiteStoreOptions {
  /** Events a watcher may have waiting before it is dropped (TooSlow). */
  watchBufferSize?: number;
  /** How often idle watchers get a BOOKMARK. */
  bookmarkIntervalMs?: number;
}

export type MakeStore = (options?: SuiteStoreOptions) => Promise<StoreUnderTest>;

/** How long a test waits for one watch event before failing (the store is not expected to be slow). */
export const EVENT_TIMEOUT_MS = 10_000;

const runId = Math.random().toString(36).slice(2, 8);
let sequence = 0;

/**
 * A collection no other test (nor an earlier run against the same database) uses, so that tests
 * never see each other's objects.
 */
export function freshResource(namespaced = true, group = "suite.storage.test"): StorageResource {
  return { group, resource: `things${runId}n${++sequence}`, namespaced };
}

export function thing(
  key: ObjectKey,
  labels?: Record<string, string>,
  spec: Record<string, unknown> = {},
): KubeObject {
  const metadata: KubeObject["metadata"] = { name: key.name };
  if (key.namespace) metadata.namespace = key.namespace;
  if (labels) metadata.labels = labels;
  return { apiVersion: "suite.storage.test/v1", kind: "Thing", metadata, spec };
}

export const ns = (namespace: string, name: string): ObjectKey => ({ namespace, name });
export const cluster = (name: string): ObjectKey => ({ namespace: "", name });

export function rvOf(object: KubeObject): number {
  const rv = object.metadata.resourceVersion;
  expect(rv, "metadata.resourceVersion is a decimal string").toMatch(/^[1-9][0-9]*$/);
  return Number(rv);
}

/** "namespace/name" (or "name") of each item, in the order given. */
export function keysOf(items: KubeObject[]): string[] {
  return items.map((o) => keyString({ namespace: o.metadata.namespace ?? "", name: o.metadata.name ?? "" }));
}

export function listOptions(options: Partial<ListOptions> = {}): ListOptions {
  return { labelSelector: [], fieldSelector: [], consistency: { kind: "latest" }, ...options };
}

export function list(
  store: Storage,
  resource: StorageResource,
  options: Partial<ListOptions> = {},
): Promise<ListResult> {
  return store.list(resource, listOptions(options));
}

export interface PagedList {
  items: KubeObject[];
  pages: ListResult[];
}

/**
 * Follows continue positions until the list ends; `between` runs after each page (to write while a
 * list is in progress). Fails when a continued page does not report the first page's version.
 */
export async function listAllPages(
  store: Storage,
  resource: StorageResource,
  options: Partial<ListOptions> & { limit: number },
  between?: (page: number) => Promise<void>,
): Promise<PagedList> {
  const pages: ListResult[] = [];
  let page = await list(store, resource, options);
  pages.push(page);
  while (page.continueAfter) {
    expect(pages.length, "paging ends").toBeLessThan(10_000);
    expect(page.items.length, "a page never holds more than the limit").toBeLessThanOrEqual(options.limit);
    await between?.(pages.length);
    page = await list(store, resource, {
      ...options,
      continueFrom: { after: page.continueAfter, resourceVersion: pages[0].resourceVersion },
    });
    expect(page.resourceVersion, "a continued page reports the first page's resource version").toBe(
      pages[0].resourceVersion,
    );
    pages.push(page);
  }
  return { items: pages.flatMap((p) => p.items), pages };
}

/** Awaits `promise` and returns the StorageError it must fail with. */
export async function storageError(promise: Promise<unknown>, code: StorageErrorCode): Promise<StorageError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected StorageError ${code}`).toBeInstanceOf(StorageError);
  expect((err as StorageError).code).toBe(code);
  return err as StorageError;
}

export const labels = (...requirements: LabelSelector): LabelSelector => requirements;
export const fields = (...requirements: FieldSelector): FieldSelector => requirements;

/** `promise`, or a rejection naming `what` when it has not settled within `timeoutMs`. */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = EVENT_TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A watch driven one event at a time, with a time limit on each wait so a missing event fails fast. */
export class WatchReader {
  private readonly controller = new AbortController();
  private readonly iterator: AsyncIterator<WatchEvent>;

  constructor(
    store: Storage,
    resource: StorageResource,
    options: Partial<WatchOptions> & { fromResourceVersion: number },
  ) {
    const full: WatchOptions = { labelSelector: [], fieldSelector: [], ...options };
    this.iterator = store.watch(resource, full, this.controller.signal)[Symbol.asyncIterator]();
  }

  /** The next event, BOOKMARKs included. Rejects with the watch's error, or when none arrives in time. */
  async nextAny(timeoutMs = EVENT_TIMEOUT_MS): Promise<IteratorResult<WatchEvent>> {
    return within(this.iterator.next(), "waiting for a watch event", timeoutMs);
  }

  /** The next event that is not a BOOKMARK; fails if the watch ends. */
  async next(timeoutMs = EVENT_TIMEOUT_MS): Promise<WatchEvent> {
    while (true) {
      const result = await this.nextAny(timeoutMs);
      expect(result.done, "the watch ended early").toBeFalsy();
      if (result.value.type !== "BOOKMARK") return result.value;
    }
  }

  /** The next `n` events that are not BOOKMARKs. */
  async take(n: number): Promise<WatchEvent[]> {
    const events: WatchEvent[] = [];
    while (events.length < n) events.push(await this.next());
    return events;
  }

  stop(): void {
    this.controller.abort();
  }
}

/** A compact view of events for comparisons: "TYPE key@rv". */
export function describeEvents(events: WatchEvent[]): string[] {
  return events.map((e) =>
    e.type === "BOOKMARK"
      ? `BOOKMARK@${e.resourceVersion}`
      : `${e.type} ${keysOf([e.object])[0]}@${e.resourceVersion}`,
  );
}

/** JSON a backend handed out (getEncoded) as text, whether it gave text or bytes. */
export function textOf(json: string | Buffer): string {
  return typeof json === "string" ? json : json.toString();
}

/** A list item's JSON (ListResult.encoded) decoded, whether the backend gave text or bytes. */
export function decodeEncoded(e: EncodedJson): KubeObject {
  return JSON.parse(typeof e === "string" ? e : Buffer.concat(e).toString()) as KubeObject;
}
