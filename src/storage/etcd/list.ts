import type { IKeyValue, IRangeResponse, KVClient } from "etcd3";
import type { KubeObject } from "../../apimachinery/types.js";
import { inSelection } from "../filter.js";
import type { Selection } from "../filter.js";
import { StorageError } from "../interface.js";
import type { ListOptions, ListResult, ObjectKey, StorageResource } from "../interface.js";
import { decodeValue, encodedBytes } from "./codec.js";
import type { EncodedJson } from "../encoded.js";
import { etcdCall } from "./errors.js";
import { keyAfter, prefixEnd } from "./keys.js";
import type { KeyLayout } from "./keys.js";
import type { LabelIndex } from "./label-backfill.js";
import { indexableRequirements } from "./label-index.js";
import { firstBatchOf, listByLabel, planLabelList } from "./list-by-label.js";

export interface ListContext {
  kv: KVClient;
  keys: KeyLayout;
  /** Keys per range when reading with selectors or without a limit. */
  pageSize: number;
  /** The label index, when lists may read it (once it is built). */
  index?: LabelIndex;
}

/** kube-apiserver's cap on one range while it searches for matches (storage/etcd3/store.go `maxLimit`). */
const MAX_BATCH = 10_000;

/**
 * A list, all of it at one revision (the first range's, or the continue token's), in key order.
 * A label selector with an equality the label index can serve, on a label few objects have, reads
 * the index (list-by-label.ts); everything else is a scan of the collection.
 */
export async function listRange(
  ctx: ListContext,
  resource: StorageResource,
  options: ListOptions,
): Promise<ListResult> {
  const namespace = resource.namespaced ? options.namespace || undefined : undefined;
  const selection: Selection = {
    namespace,
    labelSelector: options.labelSelector,
    fieldSelector: options.fieldSelector,
  };
  let revision = 0; // 0: the latest, then pinned to the first range's
  if (options.continueFrom) revision = options.continueFrom.resourceVersion;
  else if (options.consistency.kind === "exact") revision = options.consistency.resourceVersion;

  const candidates = ctx.index ? indexableRequirements(options.labelSelector) : [];
  if (candidates.length > 0) {
    // a first page reads the entries from their start: the plan may read the first batch of them
    const firstBatch = options.continueFrom ? undefined : firstBatchOf(options, ctx.pageSize);
    const plan = await planLabelList(ctx, resource, namespace, candidates, revision, firstBatch);
    if (revision === 0) checkNotOlderThan(options, plan.revision);
    if (plan.use) return listByLabel(ctx, resource, options, selection, plan.use, plan.revision, plan.first);
    revision = plan.revision;
  }
  return scanRange(ctx, resource, options, selection, revision);
}

/**
 * A list as kube-apiserver's etcd3 store reads one: ranges over the collection's key prefix at one
 * revision (`revision`, or the first range's when 0). Selectors are applied batch by batch, and
 * batches keep coming (growing, as in store.go) until `limit` items matched or the range ended, so a
 * page is exactly `limit` items unless it is the last one.
 */
async function scanRange(
  ctx: ListContext,
  resource: StorageResource,
  options: ListOptions,
  selection: Selection,
  revision: number,
): Promise<ListResult> {
  const prefix = ctx.keys.collection(resource, selection.namespace);
  const end = prefixEnd(prefix);
  const filtered = options.labelSelector.length > 0 || options.fieldSelector.length > 0;
  const limit = options.limit && options.limit > 0 ? options.limit : 0;

  let start = prefix;
  if (options.continueFrom) {
    const after = keyAfter(ctx.keys.object(resource, options.continueFrom.after));
    if (Buffer.compare(after, prefix) > 0) start = after;
  }

  const items: KubeObject[] = [];
  const encoded: EncodedJson[] = [];
  let lastKey: ObjectKey | undefined;
  const taken = () => (options.encoded ? encoded.length : items.length);
  let batch = limit > 0 && !filtered ? limit : Math.max(ctx.pageSize, limit);
  let hasMore = false;
  let remainingItemCount: number | undefined;
  for (;;) {
    const resp: IRangeResponse = await etcdCall(`list ${resource.resource}.${resource.group}`, () =>
      ctx.kv.range({ key: start, range_end: end, revision: revision || undefined, limit: batch }),
    );
    if (revision === 0) {
      revision = Number(resp.header.revision);
      checkNotOlderThan(options, revision);
    }
    // 0 = no limit (a negative count would stop taking after the first batch with a match)
    const wanted = limit > 0 ? limit - taken() : 0;
    const batchOut = await takeMatches(ctx, resource, resp.kvs, selection, filtered, wanted, {
      items,
      encoded: options.encoded ? encoded : undefined,
    });
    lastKey = batchOut.lastKey ?? lastKey;
    const fullPage = limit > 0 && taken() >= limit;
    if (fullPage && (batchOut.consumed < resp.kvs.length || resp.more)) {
      hasMore = true;
      if (!filtered) remainingItemCount = Number(resp.count) - batchOut.consumed;
      break;
    }
    if (!resp.more || resp.kvs.length === 0) break;
    start = keyAfter(resp.kvs[resp.kvs.length - 1].key);
    if (filtered) batch = Math.min(batch * 2, MAX_BATCH);
  }

  const result: ListResult = { items, resourceVersion: revision };
  if (options.encoded) result.encoded = encoded;
  if (hasMore && lastKey) {
    result.continueAfter = lastKey;
    if (remainingItemCount !== undefined) result.remainingItemCount = remainingItemCount;
  }
  return result;
}

/**
 * Appends the matching objects of one batch, in key order, stopping once `wanted` matched (0 = no
 * limit): decoded to `out.items`, or as JSON to `out.encoded` when given (decoded only to match labels).
 * Field selectors (name, namespace) are checked on the key, so non-matching values are never decoded.
 */
async function takeMatches(
  ctx: ListContext,
  resource: StorageResource,
  kvs: IKeyValue[],
  selection: Selection,
  filtered: boolean,
  wanted: number,
  out: { items: KubeObject[]; encoded?: EncodedJson[] },
): Promise<{ consumed: number; lastKey?: ObjectKey }> {
  let consumed = 0;
  let matched = 0;
  let lastKey: ObjectKey | undefined;
  for (; consumed < kvs.length && (wanted === 0 || matched < wanted); consumed++) {
    const kv = kvs[consumed];
    const key = ctx.keys.objectKey(resource, kv.key);
    if (filtered && selection.fieldSelector.length > 0) {
      const stub: KubeObject = { metadata: { name: key.name, namespace: key.namespace } };
      if (!inSelection(stub, { labelSelector: [], fieldSelector: selection.fieldSelector })) continue;
    }
    if (out.encoded && selection.labelSelector.length === 0) {
      out.encoded.push(await encodedBytes(kv.value, kv.mod_revision));
    } else {
      const object = await decodeValue(kv.value, kv.mod_revision);
      if (filtered && !inSelection(object, selection)) continue;
      if (out.encoded) out.encoded.push(JSON.stringify(object));
      else out.items.push(object);
    }
    matched++;
    lastKey = key;
  }
  return { consumed, lastKey };
}

function checkNotOlderThan(options: ListOptions, current: number): void {
  const c = options.consistency;
  if (options.continueFrom || c.kind !== "notOlderThan" || c.resourceVersion <= current) return;
  throw new StorageError(
    "TooLargeResourceVersion",
    `Too large resource version: ${c.resourceVersion}, current: ${current}`,
    current,
  );
}
