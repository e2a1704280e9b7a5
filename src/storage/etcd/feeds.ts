import { resourceId } from "../fanout.js";
import type { StorageResource, WatchEvent, WatchOptions } from "../interface.js";
import { CollectionFeed, RingEvicted } from "./feed.js";
import type { FeedContext } from "./feed.js";
import { watchRange } from "./watch.js";

/** What the feeds read from etcd besides their watches. */
export interface FeedReads {
  currentRevision(): Promise<number>;
  /** The revision the servers' compactor (compactor.ts, any replica) last compacted to; 0 if none. */
  compactedRevision(): Promise<number>;
}

/**
 * The etcd backend's watches: through the collection's shared feed when its ring covers the
 * requested revision, else on an etcd watch of their own (watch.ts), which has etcd's full history
 * and its Compacted error. Feeds start lazily, at etcd's current revision, and then run until the
 * store closes (or they fail), so an informer's list-then-watch lands inside the ring.
 *
 * Every compaction interval the feeds read how far the servers' compactor (on any replica) has
 * compacted and drop older events from their rings: a watcher from a compacted revision then gets
 * 410 from etcd on every replica alike, as before the rings existed, instead of history that one
 * replica happens to keep. (An operator's own `etcdctl compact` is not seen: such watchers may still
 * be served from a ring, never refused while the history is at hand.)
 */
export class Feeds {
  private readonly feeds = new Map<string, Promise<CollectionFeed | undefined>>();
  private compactionTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(
    private readonly ctx: FeedContext,
    private readonly reads: FeedReads,
    private readonly compactionIntervalMs: number,
  ) {}

  /** Starts the collection's feed if it is not running (e.g. on its first list), without waiting. */
  warm(resource: StorageResource): void {
    void this.feed(resource);
  }

  async *watch(
    resource: StorageResource,
    options: WatchOptions,
    signal: AbortSignal,
  ): AsyncGenerator<WatchEvent> {
    let from = options.fromResourceVersion;
    const feed = await this.feed(resource);
    if (signal.aborted) return;
    if (feed?.covers(from)) {
      try {
        for await (const event of feed.watch(options, signal)) {
          from = event.resourceVersion;
          yield event;
        }
        return;
      } catch (err) {
        // the ring moved on between covers() and the read: etcd may still have the changes
        if (!(err instanceof RingEvicted)) throw err;
      }
    }
    yield* watchRange(this.ctx, resource, { ...options, fromResourceVersion: from }, signal);
  }

  /** Ends every feed and the watches on them cleanly. */
  close(): void {
    this.closed = true;
    clearInterval(this.compactionTimer);
    for (const feed of this.feeds.values()) void feed.then((f) => f?.close());
    this.feeds.clear();
  }

  /** The running feed of `resource`, started if need be; undefined when etcd cannot be reached now. */
  private feed(resource: StorageResource): Promise<CollectionFeed | undefined> {
    if (this.closed || this.ctx.ringBytes <= 0) return Promise.resolve(undefined);
    const id = resourceId(resource);
    let feed = this.feeds.get(id);
    if (feed === undefined) {
      feed = this.start(resource, id);
      this.feeds.set(id, feed);
    }
    return feed;
  }

  private async start(resource: StorageResource, id: string): Promise<CollectionFeed | undefined> {
    let revision: number;
    try {
      revision = await this.reads.currentRevision();
    } catch (err) {
      this.ctx.log.debug({ err, resource: resource.resource }, "etcd watch cache not started");
      this.feeds.delete(id);
      return undefined;
    }
    if (this.closed) return undefined;
    const feed: CollectionFeed = new CollectionFeed(this.ctx, resource, revision, () => {
      if (this.feeds.get(id) === started) this.feeds.delete(id);
    });
    const started = Promise.resolve(feed);
    this.feeds.set(id, started);
    feed.start();
    this.followCompactions();
    return feed;
  }

  private followCompactions(): void {
    if (this.compactionTimer !== undefined || this.compactionIntervalMs <= 0) return;
    this.compactionTimer = setInterval(() => void this.applyCompaction(), this.compactionIntervalMs);
    this.compactionTimer.unref();
  }

  private async applyCompaction(): Promise<void> {
    let revision: number;
    try {
      revision = await this.reads.compactedRevision();
    } catch {
      return; // etcd is out of reach: nothing is compacted meanwhile either
    }
    if (revision <= 0) return;
    for (const feed of this.feeds.values()) void feed.then((f) => f?.compacted(revision));
  }
}
