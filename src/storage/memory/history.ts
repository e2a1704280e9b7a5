import type { KubeObject } from "../../apimachinery/types.js";
import { StorageError, keyString } from "../interface.js";
import type { RawChange, StorageResource } from "../interface.js";
import { resourceId } from "../fanout.js";
import { toJson } from "../encoded.js";
import { storedFromJson } from "./freeze.js";

/**
 * A change as the history keeps it: JSON text instead of the decoded objects. Every update of a large
 * report left one more decoded tree in the ring for the garbage collector to copy and mark over and
 * over (with 10,000 changes of 27 KB reports kept, a fifth of the CPU an update cost), where a text is a
 * third of the memory and never walked. The texts cost nothing to take: stored objects carry theirs
 * (encoded.ts). Decoded again only when a watch resumes or a list reads the past.
 */
interface Kept {
  readonly type: RawChange["type"];
  readonly resource: StorageResource;
  readonly resourceId: string;
  readonly resourceVersion: number;
  readonly namespace: string;
  readonly name: string;
  readonly json: string;
  readonly prevJson: string | undefined;
}

/** A kept change handed out: its objects are decoded on first use, once per hand-out. */
export class PastChange implements RawChange {
  private decoded: KubeObject | undefined;
  private prevDecoded: KubeObject | undefined;

  constructor(private readonly kept: Kept) {}

  get type(): RawChange["type"] {
    return this.kept.type;
  }
  get resource(): StorageResource {
    return this.kept.resource;
  }
  get resourceVersion(): number {
    return this.kept.resourceVersion;
  }
  /** `namespace/name`, without decoding the object. */
  get key(): string {
    return keyString(this.kept);
  }
  get object(): KubeObject {
    return (this.decoded ??= storedFromJson(this.kept.json));
  }
  /** Whether the change replaced an object (an update's or a deletion's), without decoding it. */
  get hasPrevious(): boolean {
    return this.kept.prevJson !== undefined;
  }
  get prevObject(): KubeObject | undefined {
    if (this.kept.prevJson === undefined) return undefined;
    return (this.prevDecoded ??= storedFromJson(this.kept.prevJson));
  }
}

/**
 * The last `capacity` changes of every resource, in resource version order, in a ring buffer: what a
 * watch resumes from. Changes older than the ring are gone, and a watch from before them is
 * Compacted, as a watch from a compacted etcd revision is.
 */
export class ChangeHistory {
  private readonly ring: (Kept | undefined)[];
  private start = 0;
  private length = 0;
  /** The resource version of the newest change that fell out of the ring (at first: the store's start). */
  private evictedUpTo: number;

  constructor(
    private readonly capacity: number,
    startResourceVersion = 0,
  ) {
    this.evictedUpTo = startResourceVersion;
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`history size must be >= 1, got ${capacity}`);
    this.ring = new Array<Kept | undefined>(capacity);
  }

  /** Records a change; its resource version must be above every recorded one. */
  append(change: RawChange): void {
    const kept: Kept = {
      type: change.type,
      resource: change.resource,
      resourceId: resourceId(change.resource),
      resourceVersion: change.resourceVersion,
      namespace: change.object.metadata.namespace ?? "",
      name: change.object.metadata.name ?? "",
      json: toJson(change.object),
      prevJson: change.prevObject === undefined ? undefined : toJson(change.prevObject),
    };
    if (this.length === this.capacity) {
      const oldest = this.ring[this.start] as Kept;
      this.evictedUpTo = oldest.resourceVersion;
      this.ring[this.start] = kept;
      this.start = (this.start + 1) % this.capacity;
    } else {
      this.ring[(this.start + this.length) % this.capacity] = kept;
      this.length++;
    }
  }

  /** Whether the changes strictly after `resourceVersion` are all still kept. */
  reaches(resourceVersion: number): boolean {
    return resourceVersion >= this.evictedUpTo;
  }

  /** The changes of one resource strictly after `resourceVersion`, oldest first; Compacted if gone. */
  since(resourceIdentity: string, resourceVersion: number): PastChange[] {
    this.mustReach(resourceVersion);
    const out: PastChange[] = [];
    for (let i = this.firstAfter(resourceVersion); i < this.length; i++) {
      const kept = this.at(i);
      if (kept.resourceId === resourceIdentity) out.push(new PastChange(kept));
    }
    return out;
  }

  /**
   * Whether one resource changed after `resourceVersion`; undefined when the history does not reach
   * back that far and the answer is unknown.
   */
  changedSince(resourceIdentity: string, resourceVersion: number): boolean | undefined {
    if (!this.reaches(resourceVersion)) return undefined;
    for (let i = this.firstAfter(resourceVersion); i < this.length; i++) {
      if (this.at(i).resourceId === resourceIdentity) return true;
    }
    return false;
  }

  private mustReach(resourceVersion: number): void {
    if (!this.reaches(resourceVersion)) {
      const oldest = this.evictedUpTo + 1;
      throw new StorageError("Compacted", `too old resource version: ${resourceVersion} (${oldest})`, oldest);
    }
  }

  private at(logicalIndex: number): Kept {
    return this.ring[(this.start + logicalIndex) % this.capacity] as Kept;
  }

  /** Logical index of the first kept change with a resource version above `resourceVersion`. */
  private firstAfter(resourceVersion: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).resourceVersion <= resourceVersion) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
