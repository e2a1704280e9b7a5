import { StorageError } from "../interface.js";
import type { RawChange } from "../interface.js";
import { resourceId } from "../fanout.js";

/**
 * The last `capacity` changes of every resource, in resource version order, in a ring buffer: what a
 * watch resumes from. Changes older than the ring are gone, and a watch from before them is
 * Compacted, as a watch from a compacted etcd revision is.
 */
export class ChangeHistory {
  private readonly ring: (RawChange | undefined)[];
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
    this.ring = new Array<RawChange | undefined>(capacity);
  }

  /** Records a change; its resource version must be above every recorded one. */
  append(change: RawChange): void {
    if (this.length === this.capacity) {
      const oldest = this.ring[this.start] as RawChange;
      this.evictedUpTo = oldest.resourceVersion;
      this.ring[this.start] = change;
      this.start = (this.start + 1) % this.capacity;
    } else {
      this.ring[(this.start + this.length) % this.capacity] = change;
      this.length++;
    }
  }

  /** Whether the changes strictly after `resourceVersion` are all still kept. */
  reaches(resourceVersion: number): boolean {
    return resourceVersion >= this.evictedUpTo;
  }

  /** The changes of one resource strictly after `resourceVersion`, oldest first; Compacted if gone. */
  since(resourceIdentity: string, resourceVersion: number): RawChange[] {
    this.mustReach(resourceVersion);
    const out: RawChange[] = [];
    for (let i = this.firstAfter(resourceVersion); i < this.length; i++) {
      const change = this.at(i);
      if (resourceId(change.resource) === resourceIdentity) out.push(change);
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
      if (resourceId(this.at(i).resource) === resourceIdentity) return true;
    }
    return false;
  }

  private mustReach(resourceVersion: number): void {
    if (!this.reaches(resourceVersion)) {
      const oldest = this.evictedUpTo + 1;
      throw new StorageError("Compacted", `too old resource version: ${resourceVersion} (${oldest})`, oldest);
    }
  }

  private at(logicalIndex: number): RawChange {
    return this.ring[(this.start + logicalIndex) % this.capacity] as RawChange;
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
