import type { IEvent } from "etcd3";
import { filterChange } from "../filter.js";
import type { Selection } from "../filter.js";
import { StorageError } from "../interface.js";
import type { StorageResource, WatchEvent, WatchOptions } from "../interface.js";
import { eventChange } from "./event-change.js";
import { prefixEnd } from "./keys.js";
import type { KeyLayout } from "./keys.js";
import { RangeWatch } from "./range-watch.js";
import type { RangeSink, StreamContext } from "./range-watch.js";
import { BoundedBuffer } from "./watch-buffer.js";

export interface WatchContext extends StreamContext {
  keys: KeyLayout;
  bufferSize: number;
  bookmarkIntervalMs: number;
}

/**
 * An API watcher's own etcd watch, for those the collection's shared feed (feed.ts) cannot serve:
 * one that starts before the feed's ring of recent events (or before the feed runs). It is an etcd
 * watch from revision N+1 over the collection's (or namespace's) key prefix, with prev_kv, as
 * kube-apiserver's etcd3 watcher does, so it gets exactly etcd's history and order, resumes from
 * its own revision and gets its own compaction error. It buffers at most `bufferSize` events: a
 * slow consumer is dropped (TooSlow), never slowing writers or other watchers.
 *
 * Bookmarks only report progress etcd orders with events: event revisions, and progress
 * notifications, which versions before 3.4.24/3.5.8 may send ahead of pending events when asked
 * for (etcd #15220), so the watch only asks on versions that order them (`orderedProgress`).
 */
export async function* watchRange(
  ctx: WatchContext,
  resource: StorageResource,
  options: WatchOptions,
  signal: AbortSignal,
): AsyncGenerator<WatchEvent> {
  if (signal.aborted) return;
  const namespace = resource.namespaced ? options.namespace || undefined : undefined;
  const selection: Selection = {
    namespace,
    labelSelector: options.labelSelector,
    fieldSelector: options.fieldSelector,
  };
  const buffer = new BoundedBuffer<WatchEvent>(ctx.bufferSize);
  const watch = new OwnWatch(ctx, resource, selection, options.fromResourceVersion, buffer);
  // the etcd watch goes at once, even while the consumer holds the generator paused at a yield
  const onAbort = () => {
    buffer.end();
    watch.close();
  };
  signal.addEventListener("abort", onAbort, { once: true });
  watch.start();
  try {
    let last = options.fromResourceVersion;
    for await (const event of buffer) {
      if (event.type === "BOOKMARK" && event.resourceVersion <= last) continue;
      last = event.resourceVersion;
      yield event;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    watch.close();
  }
}

/**
 * What one watcher of its own does with its etcd watch: decode, filter, buffer.
 *
 * History (what etcd already had when the stream was created, e.g. a watcher resuming after a
 * reconnect) is not a slow consumer: when the buffer fills with it, the stream is suspended and
 * resumed from the first undelivered revision once the consumer has read half of it, so a watcher
 * catches up through any amount of history in bounded memory. Only live events overflowing the
 * buffer drop the watcher.
 */
class OwnWatch implements RangeSink {
  private readonly stream: RangeWatch;
  /** The newest revision handed to the consumer's buffer, as an event or a BOOKMARK. */
  private pushed: number;
  private bookmarkTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly ctx: WatchContext,
    private readonly resource: StorageResource,
    private readonly selection: Selection,
    from: number,
    private readonly buffer: BoundedBuffer<WatchEvent>,
  ) {
    const key = ctx.keys.collection(resource, selection.namespace);
    this.stream = new RangeWatch(ctx, resource.resource, key, prefixEnd(key), from, this);
    this.pushed = from;
  }

  start(): void {
    this.stream.start();
    this.bookmarkTimer = setInterval(() => this.offerBookmark(), this.ctx.bookmarkIntervalMs);
    this.bookmarkTimer.unref();
  }

  close(): void {
    clearInterval(this.bookmarkTimer);
    this.stream.close();
  }

  async event(ev: IEvent, rv: number): Promise<boolean> {
    const change = await eventChange(this.ctx.keys, this.ctx.log, this.resource, ev, rv);
    if (this.stream.closed) return false;
    const event = filterChange(change, this.selection);
    if (event === undefined) return true;
    if (!this.buffer.push(event)) {
      if (rv <= this.stream.horizon)
        this.stream.suspend(this.buffer.waitForRoom(Math.ceil(this.buffer.capacity / 2)));
      else
        this.failed(
          new StorageError(
            "TooSlow",
            `watcher fell more than ${this.buffer.capacity} events behind and was dropped`,
          ),
        );
      return false;
    }
    this.pushed = rv;
    return true;
  }

  progress(): void {
    // offerBookmark reads the stream's progress when the consumer has nothing waiting
  }

  failed(err: unknown): void {
    this.buffer.fail(err);
    this.close();
  }

  /**
   * Tells a consumer that has nothing waiting how far etcd has taken this watch: through events
   * its selection filtered away, or progress notifications.
   */
  private offerBookmark(): void {
    const delivered = this.stream.delivered;
    if (this.stream.closed || this.buffer.length > 0 || delivered <= this.pushed) return;
    if (this.buffer.push({ type: "BOOKMARK", resourceVersion: delivered })) this.pushed = delivered;
  }
}

/**
 * Whether an etcd version sends requested progress notifications in order with events and only
 * for watchers that have caught up (etcd #15220, fixed in 3.4.24 and 3.5.8). Older versions still
 * send the periodic ones (--experimental-watch-progress-notify-interval) safely.
 */
export function orderedProgress(version: string): boolean {
  const [major, minor, patch] = version.split(".").map((n) => parseInt(n, 10));
  if (major !== 3) return major > 3;
  if (minor === 4) return patch >= 24;
  if (minor === 5) return patch >= 8;
  return minor > 5;
}
