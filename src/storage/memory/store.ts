import type { KubeObject } from "../../apimachinery/types.js";
import { WatchFanout, resourceId } from "../fanout.js";
import { StorageError, keyString } from "../interface.js";
import type {
  ListOptions,
  ListResult,
  ObjectKey,
  RawChange,
  Storage,
  StorageResource,
  WatchEvent,
  WatchOptions,
} from "../interface.js";
import { toJson } from "../encoded.js";
import { storedObject, withResourceVersion } from "./freeze.js";
import { ChangeHistory } from "./history.js";
import { readPage } from "./page.js";
import { readPastPage, stateAt } from "./snapshot.js";
import { Table } from "./table.js";

export interface MemoryStorageOptions {
  /** Changes kept for watches to resume from (default 10,000). */
  historySize?: number;
  /** Events a watcher may have waiting before it is dropped as too slow (default 1,000). */
  watchBufferSize?: number;
  /** How often idle watchers get a BOOKMARK (default 1,000 ms). */
  bookmarkIntervalMs?: number;
}

/**
 * A store in this process's memory, for development, tests and single-replica installs that may lose
 * their reports on restart. Objects are stored frozen and handed out as they are: callers
 * must clone before changing one (see freeze.ts). Lists read the latest state; a continued list
 * reports its first page's resource version, as the interface asks.
 */
export function createMemoryStorage(options: MemoryStorageOptions = {}): Storage {
  return new MemoryStorage(options);
}

/**
 * The resource version of an empty store; the first write gets the next one. Taken from the clock,
 * in microseconds, so that versions still only grow across a restart (or between the old and the new
 * pod of a rollout): a client that resumes a watch or a list from a version of the store it knew
 * gets 410 and relists, where a counter starting again at 1 would let it wait, unaware, for versions
 * it already has. Safe as a JavaScript integer until the year 2255, and ahead of the clock only for
 * a store that wrote a million times a second for its whole life.
 */
const initialResourceVersion = (): number => Date.now() * 1000;

class MemoryStorage implements Storage {
  private readonly tables = new Map<string, Table>();
  private readonly history: ChangeHistory;
  private readonly fanout: WatchFanout;
  private rv = initialResourceVersion();

  constructor(options: MemoryStorageOptions) {
    // nothing before the first version is kept: a watch or read from a version of the store's last
    // life is too old
    this.history = new ChangeHistory(options.historySize ?? 10_000, this.rv);
    this.fanout = new WatchFanout({
      history: (resource, after) => this.history.since(resourceId(resource), after),
      watchBufferSize: options.watchBufferSize,
      bookmarkIntervalMs: options.bookmarkIntervalMs,
      initialResourceVersion: this.rv,
    });
  }

  async get(resource: StorageResource, key: ObjectKey): Promise<KubeObject> {
    return this.mustGet(resource, key).object;
  }

  async getEncoded(resource: StorageResource, key: ObjectKey): Promise<string> {
    return toJson(this.mustGet(resource, key).object);
  }

  async create(resource: StorageResource, key: ObjectKey, object: KubeObject): Promise<KubeObject> {
    const table = this.table(resource);
    const k = keyString(key);
    if (table.get(k) !== undefined)
      throw new StorageError("KeyExists", `${describe(resource, key)} already exists`);
    const stored = storedObject(object, ++this.rv);
    table.set(k, { key: { namespace: key.namespace, name: key.name }, object: stored });
    this.record({ type: "ADDED", resource, object: stored, resourceVersion: this.rv });
    return stored;
  }

  async update(
    resource: StorageResource,
    key: ObjectKey,
    object: KubeObject,
    expectedResourceVersion: number,
  ): Promise<KubeObject> {
    const entry = this.mustGet(resource, key);
    mustMatch(resource, key, entry.object, expectedResourceVersion);
    const stored = storedObject(object, ++this.rv);
    this.table(resource).set(keyString(key), { key: entry.key, object: stored });
    this.record({
      type: "MODIFIED",
      resource,
      object: stored,
      prevObject: entry.object,
      resourceVersion: this.rv,
    });
    return stored;
  }

  async delete(
    resource: StorageResource,
    key: ObjectKey,
    expectedResourceVersion?: number,
  ): Promise<KubeObject> {
    const entry = this.mustGet(resource, key);
    if (expectedResourceVersion !== undefined)
      mustMatch(resource, key, entry.object, expectedResourceVersion);
    this.table(resource).delete(keyString(key));
    // as kube-apiserver over etcd: the last state, stamped with the deletion's resource version
    const last = withResourceVersion(entry.object, ++this.rv);
    this.record({
      type: "DELETED",
      resource,
      object: last,
      prevObject: entry.object,
      resourceVersion: this.rv,
    });
    return last;
  }

  async list(resource: StorageResource, options: ListOptions): Promise<ListResult> {
    const resourceVersion = this.readAt(resource, options);
    if (resourceVersion < this.rv) {
      const changes = this.history.since(resourceId(resource), resourceVersion);
      if (changes.length > 0) {
        const namespace = resource.namespaced ? options.namespace || undefined : undefined;
        const page = readPastPage(this.table(resource), namespace, options, stateAt(changes));
        return encodedIfAsked({ ...page, resourceVersion }, options);
      }
    }
    const page = readPage(this.table(resource), resource.namespaced, options);
    return encodedIfAsked({ ...page, resourceVersion }, options);
  }

  watch(resource: StorageResource, options: WatchOptions, signal: AbortSignal): AsyncIterable<WatchEvent> {
    return this.fanout.watch(resource, options, signal);
  }

  async currentResourceVersion(): Promise<number> {
    return this.rv;
  }

  async ready(): Promise<void> {}

  async count(resource: StorageResource): Promise<number> {
    return this.tables.get(resourceId(resource))?.size ?? 0;
  }

  async close(): Promise<void> {
    this.fanout.close();
  }

  /**
   * The resource version a list answers with. Memory keeps only the latest state, so an exact older
   * version is served only when the history shows that this resource has not changed since.
   */
  private readAt(resource: StorageResource, options: ListOptions): number {
    const current = this.rv;
    const tooLarge = (rv: number) =>
      new StorageError(
        "TooLargeResourceVersion",
        `Too large resource version: ${rv}, current: ${current}`,
        current,
      );
    if (options.continueFrom) {
      const rv = options.continueFrom.resourceVersion;
      if (rv > current) throw tooLarge(rv);
      // A token older than the kept history is expired, as one older than etcd's compaction is.
      if (!this.history.reaches(rv)) {
        throw new StorageError("Compacted", `continue resource version ${rv} is no longer kept`, current);
      }
      return rv;
    }
    const c = options.consistency;
    if (c.kind === "latest" || c.kind === "any") return current;
    if (c.resourceVersion > current) throw tooLarge(c.resourceVersion);
    if (c.kind === "notOlderThan" || c.resourceVersion === current) return current;
    // Exact: served from the kept history (list() rebuilds the past state); older → Compacted.
    if (this.history.reaches(c.resourceVersion)) return c.resourceVersion;
    throw new StorageError(
      "Compacted",
      `resource version ${c.resourceVersion} is older than the kept history (current ${current})`,
      current,
    );
  }

  private record(change: RawChange): void {
    this.history.append(change);
    this.fanout.publish(change);
  }

  private table(resource: StorageResource): Table {
    const id = resourceId(resource);
    let table = this.tables.get(id);
    if (table === undefined) this.tables.set(id, (table = new Table()));
    return table;
  }

  private mustGet(resource: StorageResource, key: ObjectKey) {
    const entry = this.tables.get(resourceId(resource))?.get(keyString(key));
    if (entry === undefined) throw new StorageError("KeyNotFound", `${describe(resource, key)} not found`);
    return entry;
  }
}

function mustMatch(resource: StorageResource, key: ObjectKey, stored: KubeObject, expected: number): void {
  const actual = Number(stored.metadata.resourceVersion);
  if (actual !== expected) {
    throw new StorageError(
      "Conflict",
      `${describe(resource, key)} is at resource version ${actual}, not ${expected}`,
      actual,
    );
  }
}

function describe(resource: StorageResource, key: ObjectKey): string {
  return `${resource.resource}.${resource.group} ${keyString(key)}`;
}

/** Stored objects carry their JSON (freeze.ts), so a page asked for as JSON costs no encoding. */
function encodedIfAsked(page: ListResult, options: ListOptions): ListResult {
  return options.encoded ? { ...page, items: [], encoded: page.items.map(toJson) } : page;
}
