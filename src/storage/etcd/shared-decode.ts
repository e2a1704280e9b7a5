import type { KubeObject } from "../../apimachinery/types.js";
import { decodeValue } from "./codec.js";

/**
 * One write reaches the process once per etcd watch that covers it: once for a collection's shared
 * watch (feed.ts), and again for each watcher on a watch of its own (one that started before the
 * feed's ring, see feeds.ts), and the feed decodes a ring entry again for each watcher that replays
 * it. Decoding it once for all of them (and handing them the same object) also lets the watch
 * endpoint encode it once per shape (event-cache.ts). Bounded by count and bytes, oldest out first;
 * events are delivered within moments, so only recent values are worth keeping. Consumers never
 * change event objects (the memory backend hands out frozen ones).
 */
const MAX_ENTRIES = 1024;
const MAX_BYTES = 32 * 1024 * 1024;

const cache = new Map<string, { object: Promise<KubeObject>; size: number }>();
let bytes = 0;

/** `value` (the bytes of `key` at `modRevision`) decoded with `resourceVersion`, shared by every caller. */
export function sharedDecode(
  key: Buffer,
  modRevision: string,
  value: Buffer,
  resourceVersion: string,
): Promise<KubeObject> {
  const id = `${modRevision}\0${resourceVersion}\0${key.toString("latin1")}`;
  const hit = cache.get(id);
  if (hit) return hit.object;
  const object = decodeValue(value, resourceVersion);
  cache.set(id, { object, size: value.length });
  bytes += value.length;
  // a value that fails to decode is not kept: the next watcher tries (and logs) for itself
  object.catch(() => forget(id));
  for (const [oldest, entry] of cache) {
    if (cache.size <= MAX_ENTRIES && bytes <= MAX_BYTES) break;
    cache.delete(oldest);
    bytes -= entry.size;
  }
  return object;
}

function forget(id: string): void {
  const entry = cache.get(id);
  if (!entry) return;
  cache.delete(id);
  bytes -= entry.size;
}
