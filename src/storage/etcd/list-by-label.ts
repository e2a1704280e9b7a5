import type { IKeyValue, IRangeResponse } from "etcd3";
import type { KubeObject } from "../../apimachinery/types.js";
import { inSelection } from "../filter.js";
import type { Selection } from "../filter.js";
import type { ListOptions, ListResult, ObjectKey, StorageResource } from "../interface.js";
import { decodeValue } from "./codec.js";
import { etcdCall } from "./errors.js";
import { keyAfter, prefixEnd } from "./keys.js";
import type { LabelEquality } from "./label-index.js";
import type { ListContext } from "./list.js";

/** kube-apiserver's cap on one range while it searches for matches (storage/etcd3/store.go `maxLimit`). */
const MAX_BATCH = 10_000;
/**
 * Objects fetched at once while following index entries: one read-only transaction of that many gets,
 * each at the list's revision (within etcd's default `--max-txn-ops` of 128). One unary call per
 * object cost about 0.5 ms each even 64 at a time, as much as decoding 15 objects of a scan.
 */
const GET_BATCH = 64;
/**
 * Follow the index only when at most this share of the collection (or namespace) has the label: a
 * get per match costs a round trip, so for common labels reading the range in pages is cheaper.
 */
const MAX_SHARE = 1 / 4;
/**
 * So few entries that following them is cheap whatever the collection's size: the collection is not
 * even counted (a count walks etcd's in-memory index of every key in the range, which grows with N).
 */
const FEW = 500;

export type LabelPlan = {
  revision: number;
  use?: LabelEquality;
  /** The first range of `use`'s entries, when the plan read it (see planLabelList's `firstBatch`). */
  first?: IRangeResponse;
};

/**
 * Whether a label-selected list reads the index, and which of its equalities: the one with the fewest
 * entries, counted (count_only ranges, which etcd answers from its in-memory key index) at the
 * list's revision, which this pins when it is not given. Many entries, compared with the collection,
 * mean a scan. With one equality and `firstBatch` (a first page, read from the start of the
 * entries), the count comes with the first `firstBatch` entries in one range (etcd counts the whole
 * range whatever the limit), which listByLabel then need not read again: one round trip less for
 * the common list, Kyverno's by one resource's uid.
 */
export async function planLabelList(
  ctx: ListContext,
  resource: StorageResource,
  namespace: string | undefined,
  candidates: LabelEquality[],
  revision: number,
  firstBatch?: number,
): Promise<LabelPlan> {
  const what = `list ${resource.resource}.${resource.group}`;
  const read = (key: Buffer, rev: number, limit?: number) =>
    etcdCall(what, () =>
      ctx.kv.range({
        key,
        range_end: prefixEnd(key),
        revision: rev || undefined,
        ...(limit === undefined ? { count_only: true } : { keys_only: true, limit }),
      }),
    );
  const count = async (key: Buffer, rev: number) => {
    const resp = await read(key, rev);
    return { count: Number(resp.count), revision: Number(resp.header.revision) };
  };
  const prefixOf = (eq: LabelEquality) => ctx.keys.labelValue(resource, eq.key, eq.value, namespace);
  // only when the index will be read: before it is built, its entries are no use to anyone
  // (at most FEW: a label with more is often a scan, where the entries read would go to waste)
  const prefetch =
    firstBatch !== undefined &&
    candidates.length === 1 &&
    ctx.index?.usableAt(revision || Number.MAX_SAFE_INTEGER)
      ? Math.min(firstBatch, FEW)
      : undefined;
  const firstRead = await read(prefixOf(candidates[0]), revision, prefetch);
  const at = revision || Number(firstRead.header.revision);
  if (!ctx.index?.usableAt(at)) return { revision: at };
  const others = await Promise.all(candidates.slice(1).map((eq) => count(prefixOf(eq), at)));
  let best = { eq: candidates[0], count: Number(firstRead.count) };
  others.forEach((o, i) => {
    if (o.count < best.count) best = { eq: candidates[i + 1], count: o.count };
  });
  const use = { revision: at, use: best.eq, first: prefetch === undefined ? undefined : firstRead };
  if (best.count <= FEW) return use;
  const total = await count(ctx.keys.collection(resource, namespace), at);
  if (best.count > total.count * MAX_SHARE) return { revision: at };
  return use;
}

/**
 * A label-selected list read from the index: the entries of `eq` (in the collection's key order) at
 * the list's revision, each object fetched at that same revision and checked against the whole
 * selection, so a stale entry costs a read and never an item. Pages exactly as a range scan does:
 * `limit` items unless it is the last page, continuing after the last item returned.
 */
export async function listByLabel(
  ctx: ListContext,
  resource: StorageResource,
  options: ListOptions,
  selection: Selection,
  eq: LabelEquality,
  revision: number,
  first?: IRangeResponse,
): Promise<ListResult> {
  const what = `list ${resource.resource}.${resource.group}`;
  const valuePrefix = ctx.keys.labelValue(resource, eq.key, eq.value);
  const prefix = ctx.keys.labelValue(resource, eq.key, eq.value, selection.namespace);
  const end = prefixEnd(prefix);
  let start = prefix;
  if (options.continueFrom) {
    const after = keyAfter(ctx.keys.labelEntry(resource, eq.key, eq.value, options.continueFrom.after));
    if (Buffer.compare(after, prefix) > 0) start = after;
  }
  const limit = options.limit && options.limit > 0 ? options.limit : 0;
  const fields: Selection = { labelSelector: [], fieldSelector: selection.fieldSelector };
  const fieldsMatch = (key: ObjectKey) =>
    fields.fieldSelector.length === 0 ||
    inSelection({ metadata: { name: key.name, namespace: key.namespace } }, fields);
  const fetch = async (keys: ObjectKey[]): Promise<(IKeyValue | undefined)[]> => {
    if (keys.length === 0) return [];
    const resp = await etcdCall(what, () =>
      ctx.kv.txn({
        compare: [],
        success: keys.map((key) => ({ request_range: { key: ctx.keys.object(resource, key), revision } })),
        failure: [],
      }),
    );
    return resp.responses.map((r) => r.response_range.kvs[0]);
  };

  const items: KubeObject[] = [];
  const encoded: string[] = [];
  const taken = () => (options.encoded ? encoded.length : items.length);
  const full = () => limit > 0 && taken() >= limit;
  let lastKey: ObjectKey | undefined;
  let hasMore = false;
  let batch = firstBatchOf(options, ctx.pageSize);
  // the plan's first range (it may hold fewer than `batch` entries: the loop reads on after them)
  let prefetched = options.continueFrom ? undefined : first;
  for (;;) {
    const resp =
      prefetched ??
      (await etcdCall(what, () =>
        ctx.kv.range({ key: start, range_end: end, revision, limit: batch, keys_only: true }),
      ));
    prefetched = undefined;
    const entries = resp.kvs.map((kv) => ({
      entry: kv.key,
      key: ctx.keys.labelEntryObject(resource, valuePrefix, kv.key),
    }));
    let consumed = 0;
    while (consumed < entries.length && !full()) {
      const wanted = Math.min(limit > 0 ? limit - taken() : GET_BATCH, GET_BATCH);
      const chunk: number[] = [];
      let next = consumed;
      for (; next < entries.length && chunk.length < wanted; next++)
        if (fieldsMatch(entries[next].key)) chunk.push(next);
      const kvs = await fetch(chunk.map((i) => entries[i].key));
      consumed = next;
      for (let c = 0; c < chunk.length; c++) {
        const { entry, key } = entries[chunk[c]];
        const object = await matching(ctx, resource, eq, entry, key, kvs[c]);
        if (object === undefined || !inSelection(object, selection)) continue;
        if (options.encoded) encoded.push(JSON.stringify(object));
        else items.push(object);
        lastKey = key;
        if (full()) {
          consumed = chunk[c] + 1;
          break;
        }
      }
    }
    if (full() && (consumed < entries.length || resp.more)) {
      hasMore = true;
      break;
    }
    if (!resp.more || resp.kvs.length === 0) break;
    start = keyAfter(resp.kvs[resp.kvs.length - 1].key);
    batch = Math.min(batch * 2, MAX_BATCH);
  }

  const result: ListResult = { items, resourceVersion: revision };
  if (options.encoded) result.encoded = encoded;
  if (hasMore && lastKey) result.continueAfter = lastKey;
  return result;
}

/** How many entries a label-selected list reads first (planLabelList may read them for it). */
export function firstBatchOf(options: ListOptions, pageSize: number): number {
  return options.limit && options.limit > 0 ? Math.min(options.limit, MAX_BATCH) : pageSize;
}

/** The fetched object if it still has the indexed label; otherwise the entry is stale and goes. */
async function matching(
  ctx: ListContext,
  resource: StorageResource,
  eq: LabelEquality,
  entry: Buffer,
  key: ObjectKey,
  kv: IKeyValue | undefined,
): Promise<KubeObject | undefined> {
  const object = kv ? await decodeValue(kv.value, kv.mod_revision) : undefined;
  if (object?.metadata.labels?.[eq.key] === eq.value) return object;
  ctx.index?.removeStale(entry, ctx.keys.object(resource, key), kv?.mod_revision);
  return undefined;
}
