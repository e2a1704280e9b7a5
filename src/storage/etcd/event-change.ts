import type { IEvent } from "etcd3";
import type { Logger } from "pino";
import type { KubeObject } from "../../apimachinery/types.js";
import type { RawChange, StorageResource } from "../interface.js";
import type { KeyLayout } from "./keys.js";
import { sharedDecode } from "./shared-decode.js";

/** An etcd watch event of `resource` (at revision `rv`) as the change watchers are given. */
export async function eventChange(
  keys: KeyLayout,
  log: Logger,
  resource: StorageResource,
  ev: IEvent,
  rv: number,
): Promise<RawChange> {
  if (ev.type === "Delete") {
    // the last state, stamped with the deletion's revision, as kube-apiserver's watcher sends it
    const object = ev.prev_kv
      ? await sharedDecode(ev.kv.key, ev.prev_kv.mod_revision, ev.prev_kv.value, String(rv))
      : stub(keys, log, resource, ev.kv.key, rv);
    return { type: "DELETED", resource, object, resourceVersion: rv };
  }
  const object = await sharedDecode(ev.kv.key, ev.kv.mod_revision, ev.kv.value, ev.kv.mod_revision);
  const created = ev.kv.create_revision === ev.kv.mod_revision;
  const prevObject = ev.prev_kv
    ? await sharedDecode(ev.kv.key, ev.prev_kv.mod_revision, ev.prev_kv.value, ev.prev_kv.mod_revision)
    : undefined;
  return { type: created ? "ADDED" : "MODIFIED", resource, object, prevObject, resourceVersion: rv };
}

/** etcd could not give the deleted value (its previous revision was compacted): what the key tells. */
function stub(keys: KeyLayout, log: Logger, resource: StorageResource, key: Buffer, rv: number): KubeObject {
  const { namespace, name } = keys.objectKey(resource, key);
  log.warn({ key: key.toString(), rv }, "etcd delete event without its previous value");
  return { metadata: { name, ...(namespace ? { namespace } : {}), resourceVersion: String(rv) } };
}
