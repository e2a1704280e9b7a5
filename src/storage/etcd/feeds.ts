import { resourceId } from "../fanout.js";
import type { StorageResource, WatchEvent, WatchOptions } from "../interface.js";
import { CollectionFeed, RingEvicted } from "./feed.js";
import type { FeedContext } from "./feed.js";
import { watchRange } from "./watch.js";

/** What the feeds read from etcd besides their watches. */
export interface FeedReads {
  currentRevision(): Promise<number>;
  /** Whether etcd still keeps its history from `revision` on (it has not been compacted past it). */
  keeps(revision: number): Promise<boolean>;
}

/**
 * The etcd backend's watches: through the collection's shared feed when its ring covers the
 * requested revision, else on an etcd watch of their own (watch.ts), which has etcd's full history
 * and its Compacted error. Feeds start lazily, at etcd's current revision (or the first watcher's,
 * if it is a little behind, see `start`), and then run until the store closes (or they fail). A list
 * starts its collection's feed at the list's revision, so an informer's list-then-watch lands
 * inside the ring.
 *
 * Before replaying the ring's events to a watcher, the watch asks etcd whether it still keeps that
 * history: a watcher from a revision etcd has compacted gets etcd's Compacted (410) on its own
 * watch, as on every replica and as before the rings existed, not history one replica happens to
 * hold. A watcher with nothing to replay (it starts at or after the ring's newest event) is served
 * without asking.
 */
/** After a kind's feed failed, new feeds of it start at the current revision for this long. */
const CATCH_UP_AFTER_FAILURE_MS = 60_000;

export class Feeds {
  private readonly feeds = new Map<string, Promise<CollectionFeed | undefined>>();
  /** When each kind's last feed failed: one that failed on an event must not replay it again. */
  private readonly failedAt = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly ctx: FeedContext,
    private readonly reads: FeedReads,
  ) {}

  /**
   * Starts the collection's feed at `revision` if it is not running: after a list at etcd's current
   * revision, so that the watch which follows it is served by the feed.
   */
  warm(resource: StorageResource, revision: number): void {
    if (this.closed || this.ctx.ringBytes <= 0) return;
    const id = resourceId(resource);
    if (!this.feeds.has(id)) this.run(resource, id, revision);
  }

  async *watch(
    resource: StorageResource,
    options: WatchOptions,
    signal: AbortSignal,
  ): AsyncGenerator<WatchEvent> {
    let from = options.fromResourceVersion;
    const feed = await this.feed(resource, from);
    if (signal.aborted) return;
    if (feed?.covers(from) && (!feed.replays(from) || (await this.reads.keeps(from + 1)))) {
      try {
        for await (const event of feed.watch({ ...options, fromResourceVersion: from }, signal)) {
          from = event.resourceVersion;
          yield event;
        }
        return;
      } catch (err) {
        // The ring moved on between covers() and the read, or the feed failed (also while this
        // watcher was joining it): etcd may still have the changes after the last one delivered,
        // and if it has compacted them, the watch of its own gets etcd's Compacted.
        if (!(err instanceof RingEvicted) && !feed.failedWith(err)) throw err;
        if (signal.aborted) return;
      }
    }
    yield* watchRange(this.ctx, resource, { ...options, fromResourceVersion: from }, signal);
  }

  /** Ends every feed and the watches on them cleanly. */
  close(): void {
    this.closed = true;
    for (const feed of this.feeds.values()) void feed.then((f) => f?.close());
    this.feeds.clear();
  }

  /** The running feed of `resource`, started if need be; undefined when etcd cannot be reached now. */
  private feed(resource: StorageResource, from: number): Promise<CollectionFeed | undefined> {
    if (this.closed || this.ctx.ringBytes <= 0) return Promise.resolve(undefined);
    const id = resourceId(resource);
    let feed = this.feeds.get(id);
    if (feed === undefined) {
      feed = this.start(resource, id, from);
      this.feeds.set(id, feed);
    }
    return feed;
  }

  /**
   * Starts the feed at etcd's current revision, or at the first watcher's own revision when that
   * is only a little behind (an informer re-watching after this replica restarted): etcd replays the
   * few changes since into the feed, and that watcher and the ones after it share the feed instead
   * of keeping watches of their own until they re-watch. "A little": at most half a watcher's
   * buffer of revisions, so the replay never drops the watcher as too slow.
   */
  private async start(
    resource: StorageResource,
    id: string,
    from: number,
  ): Promise<CollectionFeed | undefined> {
    let revision: number;
    try {
      revision = await this.reads.currentRevision();
      const failedLately = Date.now() - (this.failedAt.get(id) ?? -Infinity) < CATCH_UP_AFTER_FAILURE_MS;
      // (a compaction between keeps() and etcd creating the watch cancels the new feed: its
      // watchers then go on with watches of their own, and this one gets its 410 there)
      if (
        !failedLately &&
        from < revision &&
        revision - from <= this.ctx.bufferSize / 2 &&
        (await this.reads.keeps(from + 1))
      )
        revision = from;
    } catch (err) {
      this.ctx.log.debug({ err, resource: resource.resource }, "etcd watch cache not started");
      this.feeds.delete(id);
      return undefined;
    }
    if (this.closed) return undefined;
    return this.run(resource, id, revision);
  }

  private run(resource: StorageResource, id: string, revision: number): CollectionFeed {
    const feed: CollectionFeed = new CollectionFeed(this.ctx, resource, revision, () => {
      this.failedAt.set(id, Date.now());
      if (this.feeds.get(id) === started) this.feeds.delete(id);
    });
    const started = Promise.resolve(feed);
    this.feeds.set(id, started);
    feed.start();
    return feed;
  }
}
