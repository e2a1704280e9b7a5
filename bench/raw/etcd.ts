import type { Etcd3, IKeyValue, Watcher } from "etcd3";
import { createEtcdClient } from "../../src/storage/etcd/client.js";
import { resolveEtcdOptions } from "../../src/storage/etcd/options.js";
import { startEtcd } from "../../test/support/etcd.js";
import type { KindInfo, Obj } from "../fixtures.js";
import type { Subject } from "../subject.js";
import type { Fetched, ListQuery, Listed, Target, WatchHandle, WatchOptions, Written } from "../target.js";
import { nameOf, namespaceOf, randomSuffix } from "../target.js";

/**
 * The etcd baseline: the same client (etcd3, configured by the server's own createEtcdClient: no
 * circuit breaker, no gRPC message limit, the same deadlines), the same key layout and values (the object's JSON
 * without its resource version, mod_revision standing for it) and the same requests the server's
 * etcd store sends: a create-if-absent transaction, a compare-mod-revision update transaction, a
 * delete, a range with a limit for a page, and for a label selector the same growing ranges over the
 * collection with each value decoded and matched (etcd has no index on labels), one etcd watch per
 * watcher on the collection's prefix.
 */

const ROOT = "/bench/default";
const MAX_BATCH = 10_000;
const PAGE = 500;

function collectionPrefix(kind: KindInfo, namespace?: string): Buffer {
  const base = `${ROOT}/${kind.group}/${kind.plural}/`;
  return Buffer.from(kind.namespaced && namespace ? `${base}${namespace}/` : base);
}

function objectKey(kind: KindInfo, namespace: string, name: string): Buffer {
  return Buffer.from(`${ROOT}/${kind.group}/${kind.plural}/${kind.namespaced ? `${namespace}/` : ""}${name}`);
}

function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1]++; // every prefix ends with "/", never 0xff
  return end;
}

function encode(obj: Obj): Buffer {
  const { resourceVersion: _rv, ...metadata } = obj.metadata;
  return Buffer.from(JSON.stringify({ ...obj, metadata }));
}

function decode(kv: IKeyValue): Obj {
  const obj = JSON.parse(kv.value.toString()) as Obj;
  obj.metadata.resourceVersion = kv.mod_revision;
  return obj;
}

function matches(obj: Obj, labels: Record<string, string>): boolean {
  const have = (obj.metadata.labels ?? {}) as Record<string, string>;
  for (const [k, v] of Object.entries(labels)) if (have[k] !== v) return false;
  return true;
}

class EtcdTarget implements Target {
  readonly name = "etcd3 client";

  constructor(private readonly client: Etcd3) {}

  async create(kind: KindInfo, obj: Obj): Promise<Written> {
    const name = nameOf(obj) || `${String(obj.metadata.generateName ?? "")}${randomSuffix()}`;
    const key = objectKey(kind, namespaceOf(obj), name);
    const resp = await this.client.kv.txn({
      compare: [{ key, target: "Create", result: "Equal", create_revision: 0 }],
      success: [{ request_put: { key, value: encode({ ...obj, metadata: { ...obj.metadata, name } }) } }],
      failure: [],
    });
    if (!resp.succeeded) throw new Error(`create ${key.toString()}: exists`);
    return { name, resourceVersion: resp.header.revision };
  }

  async get(kind: KindInfo, namespace: string, name: string): Promise<Fetched | undefined> {
    const resp = await this.client.kv.range({ key: objectKey(kind, namespace, name) });
    const kv = resp.kvs[0];
    return kv && { resourceVersion: kv.mod_revision, object: () => decode(kv) };
  }

  async update(kind: KindInfo, obj: Obj): Promise<Written> {
    const key = objectKey(kind, namespaceOf(obj), nameOf(obj));
    const resp = await this.client.kv.txn({
      compare: [
        { key, target: "Create", result: "Greater", create_revision: 0 },
        { key, target: "Mod", result: "Equal", mod_revision: String(obj.metadata.resourceVersion ?? "0") },
      ],
      success: [{ request_put: { key, value: encode(obj) } }],
      failure: [],
    });
    if (!resp.succeeded) throw new Error(`update ${key.toString()}: conflict or not found`);
    return { name: nameOf(obj), resourceVersion: resp.header.revision };
  }

  async remove(kind: KindInfo, namespace: string, name: string): Promise<void> {
    const resp = await this.client.kv.deleteRange({ key: objectKey(kind, namespace, name) });
    if (Number(resp.deleted) === 0) throw new Error(`delete ${name}: not found`);
  }

  async list(kind: KindInfo, query: ListQuery): Promise<Listed> {
    const prefix = collectionPrefix(kind, query.namespace);
    const end = prefixEnd(prefix);
    const limit = query.limit ?? 0;
    const labels = query.labels;
    if (!labels) {
      const resp = await this.client.kv.range({ key: prefix, range_end: end, limit });
      return { items: () => resp.kvs.map(decode) };
    }
    // As the server's store does: growing batches at one revision, every value decoded and matched.
    const items: Obj[] = [];
    let start = prefix;
    let batch = Math.max(PAGE, limit);
    let revision: string | undefined;
    for (;;) {
      const resp = await this.client.kv.range({ key: start, range_end: end, limit: batch, revision });
      revision ??= resp.header.revision;
      for (const kv of resp.kvs) {
        const obj = decode(kv);
        if (matches(obj, labels)) items.push(obj);
        if (limit > 0 && items.length >= limit) break;
      }
      if (!resp.more || resp.kvs.length === 0 || (limit > 0 && items.length >= limit)) break;
      start = Buffer.concat([resp.kvs[resp.kvs.length - 1].key, Buffer.from([0])]);
      batch = Math.min(batch * 2, MAX_BATCH);
    }
    return { items: () => items };
  }

  async watch(kinds: KindInfo[], options: WatchOptions): Promise<WatchHandle> {
    const watchers: Watcher[] = [];
    for (const kind of kinds) {
      const w = await this.client.watch().prefix(collectionPrefix(kind)).create();
      w.on("put", (kv) => options.onEvent(`{"type":"MODIFIED","object":${kv.value.toString()}}`));
      w.on("delete", () => options.onEvent(`{"type":"DELETED"}`));
      watchers.push(w);
    }
    return { close: () => watchers.forEach((w) => void w.cancel()) };
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

export async function startRawEtcd(): Promise<Subject> {
  const etcd = await startEtcd();
  const client = createEtcdClient(resolveEtcdOptions({ endpoints: etcd.endpoints, clusterName: "default" }));
  return { target: new EtcdTarget(client), storePids: () => etcd.pids(), stop: () => etcd.stop() };
}
