import { keyString } from "../interface.js";
import type { ObjectKey, StorageResource } from "../interface.js";

/**
 * The key layout, as kube-apiserver lays out CRs: `<prefix>/<cluster>/<group>/<resource>/[<namespace>/]<name>`,
 * plus a label index beside the collections (`<prefix>/<cluster>/.labels/…`, see `labelValue`).
 * Names and namespaces never contain "/", so the byte order of keys under one resource prefix is
 * the byte order of `namespace/name`, which is `compareKeys` in interface.ts.
 */
export class KeyLayout {
  readonly root: string;

  constructor(prefix: string, clusterName: string) {
    this.root = `${prefix}/${clusterName}`;
  }

  /** The key holding the last compacted revision; its version is the compactors' logical clock. */
  get compaction(): Buffer {
    return Buffer.from(`${this.root}/compaction`);
  }

  /** What readiness reads: a key nobody writes, so the read costs etcd nothing. */
  get health(): Buffer {
    return Buffer.from(`${this.root}/health`);
  }

  /** Every key of a collection, or of one namespace of it, ends with "/" so `foo` never matches `foobar`. */
  collection(resource: StorageResource, namespace?: string): Buffer {
    const base = `${this.root}/${resource.group}/${resource.resource}/`;
    return Buffer.from(resource.namespaced && namespace ? `${base}${namespace}/` : base);
  }

  object(resource: StorageResource, key: ObjectKey): Buffer {
    const base = `${this.root}/${resource.group}/${resource.resource}/`;
    return Buffer.from(resource.namespaced ? `${base}${key.namespace}/${key.name}` : `${base}${key.name}`);
  }

  /**
   * Everything of the label index: `<root>/.labels/`. A group never starts with ".", so no collection
   * range, watch or count ever reaches it.
   */
  get labelIndex(): Buffer {
    return Buffer.from(`${this.root}/.labels/`);
  }

  /** Present once every stored object has its index entries (written after the first backfill). */
  get labelIndexMarker(): Buffer {
    return Buffer.from(`${this.root}/.labels-version`);
  }

  /**
   * The index entries of one label value, or of one namespace of them:
   * `<root>/.labels/<group>/<resource>/<labelKey>=<value>/[<namespace>/]`. Label keys never contain
   * "=" and values never "/" (see `indexableLabel`), so the prefix ends exactly where the entries'
   * `namespace/name` begins, and the entries' order is the collection's order.
   */
  labelValue(resource: StorageResource, labelKey: string, value: string, namespace?: string): Buffer {
    const base = `${this.root}/.labels/${resource.group}/${resource.resource}/${labelKey}=${value}/`;
    return Buffer.from(resource.namespaced && namespace ? `${base}${namespace}/` : base);
  }

  /** One object's entry under one of its labels; its value is empty. */
  labelEntry(resource: StorageResource, labelKey: string, value: string, key: ObjectKey): Buffer {
    return Buffer.concat([this.labelValue(resource, labelKey, value), Buffer.from(keyString(key))]);
  }

  /** The object an index entry points at, given the prefix of its label value (without namespace). */
  labelEntryObject(resource: StorageResource, valuePrefix: Buffer, entry: Buffer): ObjectKey {
    return splitKey(resource.namespaced, entry.subarray(valuePrefix.length).toString());
  }

  /**
   * The stored object a key under the root holds, whatever its collection: `<group>/<resource>/<name>`
   * (cluster-scoped) or `<group>/<resource>/<namespace>/<name>`, since none of the parts contains "/".
   * Undefined for the server's own keys (compaction, health, the label index).
   */
  storedObject(key: Buffer): { resource: StorageResource; key: ObjectKey } | undefined {
    const rest = key.subarray(this.root.length + 1).toString();
    if (rest.startsWith(".")) return undefined;
    const parts = rest.split("/");
    if (parts.length === 3)
      return {
        resource: { group: parts[0], resource: parts[1], namespaced: false },
        key: { namespace: "", name: parts[2] },
      };
    if (parts.length === 4)
      return {
        resource: { group: parts[0], resource: parts[1], namespaced: true },
        key: { namespace: parts[2], name: parts[3] },
      };
    return undefined;
  }

  /** The key's `namespace/name` part, relative to its collection. */
  objectKey(resource: StorageResource, key: Buffer): ObjectKey {
    return splitKey(resource.namespaced, key.subarray(this.collection(resource).length).toString());
  }
}

function splitKey(namespaced: boolean, rest: string): ObjectKey {
  if (!namespaced) return { namespace: "", name: rest };
  const slash = rest.indexOf("/");
  return { namespace: rest.slice(0, slash), name: rest.slice(slash + 1) };
}

/** The end of the range of every key starting with `prefix` (etcd's "prefix end": last byte + 1). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every key
}

/** The first key strictly after `key`: a continued list starts there, as kube-apiserver's tokens do. */
export function keyAfter(key: Buffer): Buffer {
  return Buffer.concat([key, Buffer.from([0])]);
}
