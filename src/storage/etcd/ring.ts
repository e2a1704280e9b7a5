import type { IEvent } from "etcd3";

export interface RingEntry {
  readonly revision: number;
  /** As etcd sent it: key and value buffers, decoded only when a watcher needs it. */
  readonly event: IEvent;
  readonly bytes: number;
}

/**
 * What one event costs beyond its buffers: the event and key-value objects with their revision
 * strings, the buffers' own objects, and the entry (measured at 550–615 bytes of heap). An
 * estimate, so that a collection of tiny values is bounded too.
 */
const ENTRY_OVERHEAD_BYTES = 640;

/** Takes an evicted entry's slot until the array is compacted, so its buffers can be freed at once. */
const EVICTED: RingEntry = { revision: 0, event: undefined as unknown as IEvent, bytes: 0 };

/**
 * A collection's recent etcd events, oldest out first once they take more than `maxBytes`, for
 * watchers that start a little behind the feed (an informer's list, then its watch). `floor` is
 * the revision after which it holds every change of the collection: a watcher from a revision at
 * or above it can be served from here; one from below needs etcd's own history.
 */
export class EventRing {
  private entries: RingEntry[] = [];
  private head = 0;
  private bytes = 0;

  constructor(
    private lowest: number,
    private readonly maxBytes: number,
  ) {}

  get floor(): number {
    return this.lowest;
  }

  get length(): number {
    return this.entries.length - this.head;
  }

  /** Appends an event newer than any held, then evicts the oldest beyond the bound (never the newest). */
  push(received: IEvent, revision: number): void {
    const event = ownedEvent(received);
    const bytes =
      ENTRY_OVERHEAD_BYTES + event.kv.key.length + event.kv.value.length + (event.prev_kv?.value.length ?? 0);
    this.entries.push({ revision, event, bytes });
    this.bytes += bytes;
    while (this.bytes > this.maxBytes && this.length > 1) this.evictOldest();
    if (this.head >= 1024 && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** The newest revision held (the floor when none is). */
  get newest(): number {
    return this.length > 0 ? this.entries[this.entries.length - 1].revision : this.lowest;
  }

  /** The held events after `revision`, oldest first; undefined when some of them were evicted. */
  since(revision: number): RingEntry[] | undefined {
    if (revision < this.lowest) return undefined;
    // binary search for the first entry after `revision`
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid].revision <= revision) lo = mid + 1;
      else hi = mid;
    }
    return this.entries.slice(lo);
  }

  private evictOldest(): void {
    // events of one revision (one transaction) leave together, so `floor` stays exact
    const revision = this.entries[this.head].revision;
    while (this.length > 1 && this.entries[this.head].revision === revision) {
      this.bytes -= this.entries[this.head].bytes;
      this.entries[this.head++] = EVICTED;
    }
    this.lowest = Math.max(this.lowest, revision);
  }
}

/**
 * The event with buffers of its own. The etcd client's key and value buffers are views into the
 * buffer the whole gRPC message was read into (often an 8 KiB slab shared with other messages), so
 * keeping them would keep those alive too: several times what the ring counts.
 */
function ownedEvent(ev: IEvent): IEvent {
  const key = owned(ev.kv.key);
  const kv = { ...ev.kv, key, value: owned(ev.kv.value) };
  const prev = ev.prev_kv;
  return { ...ev, kv, prev_kv: prev && { ...prev, key, value: owned(prev.value) } };
}

function owned(view: Buffer): Buffer {
  // allocUnsafeSlow: never a slice of Node's shared pool, which would pin 8 KiB as well
  const copy = Buffer.allocUnsafeSlow(view.length);
  view.copy(copy);
  return copy;
}
