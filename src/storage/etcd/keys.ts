import type { ObjectKey, StorageResource } from "../interface.js";

/**
 * The key layout, as kube-apiserver lays out CRs: `<prefix>/<cluster>/<group>/<resource>/[<namespace>/]<name>`.
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

  /** The key's `namespace/name` part, relative to its collection. */
  objectKey(resource: StorageResource, key: Buffer): ObjectKey {
    const rest = key.subarray(this.collection(resource).length).toString();
    if (!resource.namespaced) return { namespace: "", name: rest };
    const slash = rest.indexOf("/");
    return { namespace: rest.slice(0, slash), name: rest.slice(slash + 1) };
  }
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
