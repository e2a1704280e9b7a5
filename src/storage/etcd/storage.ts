import type { Etcd3, ICompare, IKeyValue, ITxnRequest, ITxnResponse } from "etcd3";
import type { Logger } from "pino";
import type { KubeObject } from "../../apimachinery/types.js";
import { StorageError, isStorageError, keyString } from "../interface.js";
import type {
  ListOptions,
  ListResult,
  ObjectKey,
  Storage,
  StorageResource,
  WatchEvent,
  WatchOptions,
} from "../interface.js";
import { decodeValue, encodedBytes, encodeValue } from "./codec.js";
import { joinBytes, writtenObject } from "../encoded.js";
import { Compactor } from "./compactor.js";
import { etcdCall } from "./errors.js";
import { KeyLayout, prefixEnd } from "./keys.js";
import { LabelIndex } from "./label-backfill.js";
import { MAX_TXN_OPS, chunks, labelIndexKeys, putEntries } from "./label-index.js";
import { listRange } from "./list.js";
import type { ResolvedEtcdOptions } from "./options.js";
import { Feeds } from "./feeds.js";
import { ReadBatcher } from "../read-batch.js";
import { orderedProgress } from "./watch.js";

/**
 * Storage on a dedicated etcd, the way kube-apiserver's etcd3 store works: resource version =
 * mod_revision, every write one transaction whose compare is the precondition (no locks, so any
 * number of replicas can write), lists are ranges at a pinned revision. Watches are served as
 * kube-apiserver's watch cache serves them: one etcd watch per collection, fanned out in process
 * with a ring of recent events (feed.ts); a watcher from before the ring gets an etcd watch of its
 * own (feeds.ts). Every write also keeps the label index (label-index.ts) in the same transaction.
 */
export class EtcdStorage implements Storage {
  private readonly keys: KeyLayout;
  private readonly compactor: Compactor;
  private readonly labelIndex: LabelIndex;
  private readonly feeds: Feeds;
  private readonly watches = new Set<AbortController>();
  /** Concurrent GETs (and the reads before updates) share one etcd request (read-batch.ts). */
  private readonly reads = new ReadBatcher<Buffer, IKeyValue>(
    (keys) => this.rangeEach(keys),
    (key) => key.toString("latin1"),
    MAX_TXN_OPS,
  );
  private version: Promise<string> | undefined;

  constructor(
    private readonly client: Etcd3,
    private readonly opts: ResolvedEtcdOptions,
    private readonly log: Logger,
  ) {
    this.keys = new KeyLayout(opts.prefix, opts.clusterName);
    this.compactor = new Compactor(client, this.keys.compaction, opts.compactionIntervalMs, log);
    this.compactor.start();
    this.labelIndex = new LabelIndex(client, this.keys, opts.pageSize, log);
    this.labelIndex.start();
    this.feeds = new Feeds(
      {
        client,
        keys: this.keys,
        log,
        bufferSize: opts.watchBufferSize,
        bookmarkIntervalMs: opts.bookmarkIntervalMs,
        progressIntervalMs: opts.progressIntervalMs,
        orderedProgress: () => this.orderedProgress(),
        ringBytes: opts.watchCacheBytes,
      },
      {
        currentRevision: () => this.currentResourceVersion(),
        keeps: (revision) => this.keeps(revision),
      },
    );
  }

  /** Resolves once label-selected lists may read the label index (after the first start's backfill). */
  labelIndexReady(): Promise<void> {
    return this.labelIndex.ready();
  }

  async get(resource: StorageResource, key: ObjectKey): Promise<KubeObject> {
    const kv = await this.current(resource, key);
    return decodeValue(kv.value, kv.mod_revision);
  }

  async getEncoded(resource: StorageResource, key: ObjectKey): Promise<Buffer> {
    const kv = await this.current(resource, key);
    return joinBytes(await encodedBytes(kv.value, kv.mod_revision));
  }

  private async current(resource: StorageResource, key: ObjectKey): Promise<IKeyValue> {
    const kv = await etcdCall(`get ${describe(resource, key)}`, () =>
      this.reads.load(this.keys.object(resource, key)),
    );
    if (kv === undefined) throw notFound(resource, key);
    return kv;
  }

  /** The keys' current values, in one read-only transaction when there are several (linearizable, as a range is). */
  private async rangeEach(keys: Buffer[]): Promise<(IKeyValue | undefined)[]> {
    if (keys.length === 1) return [(await this.client.kv.range({ key: keys[0] })).kvs[0]];
    const resp = await this.client.kv.txn({ success: keys.map((key) => ({ request_range: { key } })) });
    return resp.responses.map((r) => r.response_range.kvs[0]);
  }

  async create(resource: StorageResource, key: ObjectKey, object: KubeObject): Promise<KubeObject> {
    const k = this.keys.object(resource, key);
    const { value, json } = await encodeValue(object, this.opts.compressAboveBytes);
    const [entries, more] = this.indexEntries(resource, key, object);
    const resp = await this.txn(`create ${describe(resource, key)}`, {
      compare: [{ key: k, target: "Create", result: "Equal", create_revision: 0 }],
      success: [{ request_put: { key: k, value } }, ...putEntries(entries)],
    });
    if (!resp.succeeded) throw new StorageError("KeyExists", `${describe(resource, key)} already exists`);
    await this.putMoreEntries(resource, key, more);
    return writtenObject(object, json, resp.header.revision);
  }

  async update(
    resource: StorageResource,
    key: ObjectKey,
    object: KubeObject,
    expectedResourceVersion: number,
    previous?: KubeObject,
  ): Promise<KubeObject> {
    const k = this.keys.object(resource, key);
    const { value, json } = await encodeValue(object, this.opts.compressAboveBytes);
    // entries of labels the update removed stay behind (stale) until a list finds and removes them
    // (removing them here, when `previous` tells them, would add operations to every such update)
    const [entries, more] = this.indexEntries(resource, key, object, previous);
    const resp = await this.txn(`update ${describe(resource, key)}`, {
      compare: exists(k, expectedResourceVersion),
      success: [{ request_put: { key: k, value } }, ...putEntries(entries)],
      failure: [{ request_range: { key: k, keys_only: true } }],
    });
    if (!resp.succeeded) throw this.preconditionFailed(resource, key, resp, expectedResourceVersion);
    await this.putMoreEntries(resource, key, more);
    return writtenObject(object, json, resp.header.revision);
  }

  async delete(
    resource: StorageResource,
    key: ObjectKey,
    expectedResourceVersion?: number,
  ): Promise<KubeObject> {
    const k = this.keys.object(resource, key);
    const resp = await this.txn(`delete ${describe(resource, key)}`, {
      compare: exists(k, expectedResourceVersion),
      success: [{ request_delete_range: { key: k, prev_kv: true } }],
      failure: [{ request_range: { key: k, keys_only: true } }],
    });
    if (!resp.succeeded) throw this.preconditionFailed(resource, key, resp, expectedResourceVersion);
    const prev = resp.responses[0]?.response_delete_range.prev_kvs[0];
    if (prev === undefined) throw notFound(resource, key); // deleted between compare and delete: cannot happen in one txn
    // the last state, stamped with the deletion's revision, as kube-apiserver returns it
    const last = await decodeValue(prev.value, resp.header.revision);
    await this.labelIndex.removeDeleted(k, labelIndexKeys(this.keys, resource, key, last.metadata.labels));
    return last;
  }

  async list(resource: StorageResource, options: ListOptions): Promise<ListResult> {
    const result = await listRange(
      { kv: this.client.kv, keys: this.keys, pageSize: this.opts.pageSize, index: this.labelIndex },
      resource,
      options,
    );
    // an informer lists, then watches from the list's revision: have the feed start there
    if (!options.continueFrom && options.consistency.kind !== "exact")
      this.feeds.warm(resource, result.resourceVersion);
    return result;
  }

  async *watch(
    resource: StorageResource,
    options: WatchOptions,
    signal: AbortSignal,
  ): AsyncIterable<WatchEvent> {
    // close() ends every watch cleanly, as the other backends do
    const own = new AbortController();
    const onAbort = () => own.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) own.abort();
    this.watches.add(own);
    try {
      yield* this.feeds.watch(resource, options, own.signal);
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.watches.delete(own);
    }
  }

  async currentResourceVersion(): Promise<number> {
    const resp = await etcdCall("read the current revision", () =>
      this.client.kv.range({ key: this.keys.health, count_only: true }),
    );
    return Number(resp.header.revision);
  }

  /** A linearizable read with a short deadline: it needs a leader and a quorum, as a write would. */
  async ready(): Promise<void> {
    await etcdCall("readiness check", () =>
      this.client.kv.range(
        { key: this.keys.health, count_only: true },
        { deadline: Date.now() + this.opts.readyTimeoutMs },
      ),
    );
  }

  async count(resource: StorageResource): Promise<number> {
    const key = this.keys.collection(resource);
    const resp = await etcdCall(`count ${resource.resource}.${resource.group}`, () =>
      this.client.kv.range({ key, range_end: prefixEnd(key), count_only: true }),
    );
    return Number(resp.count);
  }

  async close(): Promise<void> {
    this.compactor.stop();
    await this.labelIndex.stop();
    this.feeds.close();
    for (const w of this.watches) w.abort();
    this.watches.clear();
    this.client.close();
  }

  /**
   * The index entries a write puts, split into those that fit in its transaction (etcd allows
   * MAX_TXN_OPS operations) and the rest. An update puts only the entries of labels `previous` (the
   * version it replaces) did not have: those it had exist as long as it is the stored version (each
   * write puts its own in its transaction; a stale entry is removed only while its object lacks the
   * label), and the update's compare proves it is. Rewriting them cost etcd a revision of every
   * entry on every update. When `previous` had more labels than one transaction holds, some of its
   * entries were put after it, so all are put again.
   */
  private indexEntries(
    resource: StorageResource,
    key: ObjectKey,
    object: KubeObject,
    previous?: KubeObject,
  ): [Buffer[], Buffer[]] {
    const labels = object.metadata.labels;
    const before = previous?.metadata.labels;
    const kept =
      labels && before && Object.keys(before).length < MAX_TXN_OPS
        ? Object.fromEntries(Object.entries(labels).filter(([k, v]) => before[k] !== v))
        : labels;
    const entries = labelIndexKeys(this.keys, resource, key, kept);
    return [entries.slice(0, MAX_TXN_OPS - 1), entries.slice(MAX_TXN_OPS - 1)];
  }

  /**
   * Entries that did not fit in the write's transaction, right after it. Until they are written, a
   * list by one of those labels may miss the object: the price of more than 127 labels.
   */
  private async putMoreEntries(resource: StorageResource, key: ObjectKey, entries: Buffer[]): Promise<void> {
    for (const part of chunks(entries, MAX_TXN_OPS))
      await this.txn(`index the labels of ${describe(resource, key)}`, {
        compare: [],
        success: putEntries(part),
      });
  }

  private txn(what: string, req: ITxnRequest): Promise<ITxnResponse> {
    return etcdCall(what, () => this.client.kv.txn({ failure: [], ...req }));
  }

  /** Why a guarded write did not apply: the key is gone, or it moved on to another revision. */
  private preconditionFailed(
    resource: StorageResource,
    key: ObjectKey,
    resp: ITxnResponse,
    expected: number | undefined,
  ): StorageError {
    const kv = resp.responses[0]?.response_range.kvs[0];
    if (kv === undefined) return notFound(resource, key);
    const actual = Number(kv.mod_revision);
    return new StorageError(
      "Conflict",
      `${describe(resource, key)} is at resource version ${actual}, not ${expected}`,
      actual,
    );
  }

  /**
   * Whether etcd still has its history from `revision` on: a read at that revision fails once it is
   * compacted. When etcd cannot be asked, the feed's ring is trusted (its events are etcd's).
   */
  private async keeps(revision: number): Promise<boolean> {
    try {
      await etcdCall("check the history is kept", () =>
        this.client.kv.range({ key: this.keys.health, revision, count_only: true }),
      );
      return true;
    } catch (err) {
      return !isStorageError(err, "Compacted");
    }
  }

  /** etcd's version, asked once it answers; decides how watches get their bookmarks. */
  private async orderedProgress(): Promise<boolean> {
    this.version ??= etcdCall("read the etcd version", () => this.client.maintenance.status()).then(
      (s) => s.version,
    );
    try {
      return orderedProgress(await this.version);
    } catch {
      this.version = undefined;
      return false;
    }
  }
}

/** The key exists (and is at `modRevision`, when given): the precondition of update and delete. */
function exists(key: Buffer, modRevision?: number): ICompare[] {
  const compare: ICompare[] = [{ key, target: "Create", result: "Greater", create_revision: 0 }];
  if (modRevision !== undefined)
    compare.push({ key, target: "Mod", result: "Equal", mod_revision: modRevision });
  return compare;
}

function notFound(resource: StorageResource, key: ObjectKey): StorageError {
  return new StorageError("KeyNotFound", `${describe(resource, key)} not found`);
}

function describe(resource: StorageResource, key: ObjectKey): string {
  return `${resource.resource}.${resource.group} ${keyString(key)}`;
}
