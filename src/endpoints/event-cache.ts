import { toJson } from "../storage/encoded.js";

/**
 * Encoded watch objects shared by every watcher of one event: the fan-out hands all watchers the same
 * object, so it is encoded once per shape instead of once per watcher (kube-apiserver's cacher does
 * the same with cachingObject). Bounded by count and bytes, oldest out first: an event is fanned out
 * within moments, so only recent ones are worth keeping.
 */
const MAX_ENTRIES = 512;
const MAX_BYTES = 16 * 1024 * 1024;

interface Entry {
  json: string;
  variant: string;
}

const cache = new Map<object, Map<string, Entry>>();
const order: { obj: object; variant: string; size: number }[] = [];
let head = 0;
let bytes = 0;

function evict(): void {
  while ((order.length - head > MAX_ENTRIES || bytes > MAX_BYTES) && head < order.length) {
    const old = order[head++];
    bytes -= old.size;
    const byVariant = cache.get(old.obj);
    byVariant?.delete(old.variant);
    if (byVariant && byVariant.size === 0) cache.delete(old.obj);
  }
  // Compact the queue now and then instead of shifting on every eviction.
  if (head > 4096) {
    order.splice(0, head);
    head = 0;
  }
}

export function encodeShared(variant: string, obj: object, make: () => unknown): string {
  let byVariant = cache.get(obj);
  const hit = byVariant?.get(variant);
  if (hit) return hit.json;
  const json = toJson(make());
  if (!byVariant) cache.set(obj, (byVariant = new Map()));
  byVariant.set(variant, { json, variant });
  order.push({ obj, variant, size: json.length });
  bytes += json.length;
  evict();
  return json;
}
