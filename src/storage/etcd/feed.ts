import type { IEvent } from "etcd3";
import { WatchFanout, resourceId } from "../fanout.js";
import { StorageError } from "../interface.js";
import type { RawChange, StorageResource, WatchEvent, WatchOptions } from "../interface.js";
import { eventChange } from "./event-change.js";
import { prefixEnd } from "./keys.js";
import { RangeWatch } from "./range-watch.js";
import type { RangeSink } from "./range-watch.js";
import { EventRing } from "./ring.js";
import type { RingEntry } from "./ring.js";
import type { WatchContext } from "./watch.js";

export interface FeedContext extends WatchContext {
  /** Bytes of recent events the feed keeps for watchers that start a little behind it. */
  ringBytes: number;
}

/**
 * The ring no longer holds the changes after the revision a watcher asked for (it was evicted
 * between the check and the read): etcd may still have them, so the watcher needs a watch of its
 * own, never a false 410.
 */
export class RingEvicted extends StorageError {
  constructor(revision: number, floor: number) {
    super("Compacted", `the watch cache holds changes after ${floor}, not after ${revision}`, floor);
  }
}

/**
 * One collection's shared etcd watch (all namespaces), fanned out in process, as kube-apiserver's
 * watch cache: etcd sends each change once, it is decoded once, and every watcher of the
 * collection gets it from a WatchFanout of the feed's own (its bookmarks' progress is this
 * collection's, never another's). Recent events are kept in a bounded ring, as etcd sent them, for
 * watchers that start a little behind; an event is decoded only when someone watches, so a
 * collection nobody watches costs no gunzip or JSON.parse per write.
 *
 * Bookmarks keep the guarantees of a watcher's own etcd watch (watch.ts): the fan-out's progress
 * moves only with events the feed handled (published, or kept unwatched) and with etcd's progress
 * notifications, handled in order with the events; the feed asks etcd for progress (once per feed,
 * not per watcher) only on versions that order those answers with events (etcd #15220).
 *
 * A feed fails when etcd cancels its watch (e.g. its next revision was compacted while etcd was
 * out of reach) or an event cannot be decoded: each of its watchers goes on with an etcd watch of
 * its own from the last revision it was given (feeds.ts), which gets etcd's Compacted (→ 410, the
 * client relists) if that history is gone, and the next watch or list starts a new feed.
 */
export class CollectionFeed implements RangeSink {
  private readonly fanout: WatchFanout;
  private readonly ring: EventRing;
  private readonly stream: RangeWatch;
  private readonly id: string;
  private failure: unknown;

  constructor(
    private readonly ctx: FeedContext,
    private readonly resource: StorageResource,
    start: number,
    private readonly onFailed: (feed: CollectionFeed) => void,
  ) {
    this.id = resourceId(resource);
    this.ring = new EventRing(start, ctx.ringBytes);
    this.fanout = new WatchFanout({
      history: (_resource, after) => this.history(after),
      watchBufferSize: ctx.bufferSize,
      bookmarkIntervalMs: ctx.bookmarkIntervalMs,
      initialResourceVersion: start,
    });
    const key = ctx.keys.collection(resource);
    this.stream = new RangeWatch(ctx, `${resource.resource} feed`, key, prefixEnd(key), start, this);
  }

  start(): void {
    this.stream.start();
  }

  /**
   * Whether `err` is the feed's own failure (etcd cancelled its watch, or an event could not be
   * decoded), as its watchers are given it: they then need watches of their own. A watcher's own
   * end (TooSlow) is not.
   */
  failedWith(err: unknown): boolean {
    return this.failure !== undefined && err === this.failure;
  }

  /** Whether a watcher from `revision` gets every change after it from this feed. */
  covers(revision: number): boolean {
    return !this.stream.closed && revision >= this.ring.floor;
  }

  /**
   * The fan-out's watch, ending with the feed's failure if it fails. Throws RingEvicted (before
   * any event) when the ring no longer covers `fromResourceVersion`.
   */
  async *watch(options: WatchOptions, signal: AbortSignal): AsyncGenerator<WatchEvent> {
    yield* this.fanout.watch(this.resource, options, signal);
    if (this.failure !== undefined && !signal.aborted) throw this.failure;
  }

  /** Whether a watcher from `revision` would be given events from the ring (history). */
  replays(revision: number): boolean {
    return this.ring.newest > revision;
  }

  /** Ends the feed and every watch of it cleanly. */
  close(): void {
    this.stream.close();
    this.fanout.close();
  }

  event(ev: IEvent, revision: number): boolean | Promise<boolean> {
    this.ring.push(ev, revision);
    if (!this.fanout.watches(this.id)) {
      // nobody to decode it for; a watcher that comes later reads it from the ring
      this.fanout.progress(revision);
      return true;
    }
    return this.change(ev, revision).then((change) => {
      if (this.stream.closed) return false;
      this.fanout.publish(change);
      return true;
    });
  }

  progress(revision: number): void {
    this.fanout.progress(revision);
  }

  failed(err: unknown): void {
    this.ctx.log.warn(
      { err, resource: this.resource.resource },
      "etcd watch cache failed, its watchers go on with watches of their own",
    );
    this.failure = err;
    this.close();
    this.onFailed(this);
  }

  private history(after: number): AsyncIterable<RawChange> {
    const entries = this.ring.since(after);
    if (entries === undefined) throw new RingEvicted(after, this.ring.floor);
    return this.decoded(entries);
  }

  private async *decoded(entries: RingEntry[]): AsyncGenerator<RawChange> {
    for (const entry of entries) yield await this.change(entry.event, entry.revision);
  }

  /** sharedDecode's bounded cache is the memo: the live event and a history read decode once. */
  private change(ev: IEvent, revision: number): Promise<RawChange> {
    return eventChange(this.ctx.keys, this.ctx.log, this.resource, ev, revision);
  }
}
