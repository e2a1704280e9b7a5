import type { Etcd3, IEvent, IWatchRequest, IWatchResponse } from "etcd3";
import type { IDuplexStream } from "etcd3";
import type { Logger } from "pino";
import type { KubeObject } from "../../apimachinery/types.js";
import { filterChange } from "../filter.js";
import type { Selection } from "../filter.js";
import { StorageError } from "../interface.js";
import type { RawChange, StorageResource, WatchEvent, WatchOptions } from "../interface.js";
import { sharedDecode } from "./shared-decode.js";
import { prefixEnd } from "./keys.js";
import type { KeyLayout } from "./keys.js";
import { BoundedBuffer } from "./watch-buffer.js";

export interface WatchContext {
  client: Etcd3;
  keys: KeyLayout;
  log: Logger;
  bufferSize: number;
  bookmarkIntervalMs: number;
  progressIntervalMs: number;
  /** Whether etcd orders requested progress notifications with events (see `orderedProgress`). */
  orderedProgress: () => Promise<boolean>;
}

/**
 * One API watcher = one etcd watch on its own gRPC stream (HTTP/2 multiplexes them on the one
 * connection), from revision N+1 over the collection's (or namespace's) key prefix, with prev_kv,
 * as kube-apiserver's etcd3 watcher does. Not the process-wide fan-out (fanout.ts): etcd already
 * is a fan-out with history. A shared feed would need its own history for watchers that start
 * behind it, and etcd can only tell "this watch has caught up to revision R" through progress
 * notifications, which versions before 3.4.24/3.5.8 may send ahead of pending events (etcd #15220).
 * A watcher of its own gets exactly etcd's order, resumes from its own revision, gets its own
 * compaction error, and buffers at most `bufferSize` events: a slow consumer is dropped (TooSlow),
 * never slowing writers or other watchers.
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
  const watch = new RangeWatch(ctx, resource, selection, options.fromResourceVersion, buffer);
  const onAbort = () => buffer.end();
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

type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5_000;

/**
 * The etcd side of one watcher: a stream, re-opened from the next revision whenever it breaks.
 *
 * History (what etcd already had when the stream was created, e.g. a watcher resuming after a
 * reconnect) is not a slow consumer: when the buffer fills with it, the stream is cancelled and
 * re-opened from the first undelivered revision once the consumer has read half of it, so a
 * watcher catches up through any amount of history in bounded memory (a paused gRPC stream could
 * stall the shared connection instead). Only live events overflowing the buffer drop the watcher.
 */
class RangeWatch {
  private readonly key: Buffer;
  private readonly end: Buffer;
  /** The revision to resume from: one past the newest etcd has sent (events or progress). */
  private next: number;
  /** The newest revision processed; events at or below it are replays after a resume. */
  private delivered: number;
  /** The newest revision handed to the consumer's buffer, as an event or a BOOKMARK. */
  private pushed: number;
  /** etcd's revision when the current stream was created: events up to it are history. */
  private horizon = 0;
  private stream: WatchStream | undefined;
  /** Bumped when a stream is abandoned on purpose: its responses still queued are ignored. */
  private generation = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private progressTimer: ReturnType<typeof setInterval> | undefined;
  private bookmarkTimer: ReturnType<typeof setInterval> | undefined;
  private retryMs = RETRY_MIN_MS;
  private closed = false;
  /** Responses are decoded (gunzip) asynchronously, one after the other, to keep etcd's order. */
  private processing: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: WatchContext,
    private readonly resource: StorageResource,
    private readonly selection: Selection,
    from: number,
    private readonly buffer: BoundedBuffer<WatchEvent>,
  ) {
    this.key = ctx.keys.collection(resource, selection.namespace);
    this.end = prefixEnd(this.key);
    this.next = from + 1;
    this.delivered = from;
    this.pushed = from;
  }

  start(): void {
    void this.open();
    this.bookmarkTimer = setInterval(() => this.offerBookmark(), this.ctx.bookmarkIntervalMs);
    this.bookmarkTimer.unref();
    void this.ctx.orderedProgress().then((ordered) => {
      if (!ordered || this.closed || this.ctx.progressIntervalMs <= 0) return;
      this.progressTimer = setInterval(
        () => this.stream?.write({ progress_request: {} }),
        this.ctx.progressIntervalMs,
      );
      this.progressTimer.unref();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.progressTimer);
    clearInterval(this.bookmarkTimer);
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
  }

  private async open(): Promise<void> {
    // a stream that broke keeps its generation: its responses still queued are valid, in order
    const generation = this.generation;
    let stream: WatchStream;
    try {
      stream = await this.ctx.client.watchClient.watch();
    } catch (err) {
      this.lost(err);
      return;
    }
    if (this.closed || generation !== this.generation || this.stream !== undefined) {
      stream.cancel();
      return;
    }
    this.stream = stream;
    let gone = false;
    const onGone = (err: unknown) => {
      if (gone || generation !== this.generation) return;
      gone = true;
      if (this.stream === stream) this.stream = undefined;
      this.lost(err);
    };
    stream.on("data", (res) => this.receive(res, generation));
    stream.on("error", onGone);
    stream.on("end", () => onGone(new Error("etcd ended the watch stream")));
    stream.write({
      create_request: {
        key: this.key,
        range_end: this.end,
        start_revision: this.next,
        prev_kv: true,
        progress_notify: true,
      },
    });
  }

  /** The stream broke (etcd restarted, network): resume from the next revision, with backoff. */
  private lost(err: unknown): void {
    if (this.closed) return;
    // a blip is normal (etcd restarts, leader changes); a watch that keeps failing is worth a warning
    const level = this.retryMs >= RETRY_MAX_MS ? "warn" : "debug";
    this.ctx.log[level](
      { err, resource: this.resource.resource, next: this.next },
      "etcd watch lost, resuming",
    );
    this.retryTimer = setTimeout(() => void this.open(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  private receive(res: IWatchResponse, generation: number): void {
    if (this.closed || generation !== this.generation) return;
    if (res.canceled) {
      this.cancelled(res);
      return;
    }
    if (res.created) {
      this.retryMs = RETRY_MIN_MS;
      this.horizon = Math.max(this.horizon, Number(res.header.revision));
      return;
    }
    const last = res.events.length > 0 ? Number(res.events[res.events.length - 1].kv.mod_revision) : 0;
    // A response without events is a progress notification: every change up to its header's
    // revision has been sent. Event responses' headers are not used: while etcd catches a watcher
    // up, they carry the current revision although more events follow (mvcc syncWatchers).
    const progress = res.events.length === 0 ? Number(res.header.revision) : last;
    if (progress >= this.next) this.next = progress + 1;
    this.processing = this.processing
      .then(() => this.deliver(res, generation))
      .catch((err: unknown) => this.fail(err));
  }

  private async deliver(res: IWatchResponse, generation: number): Promise<void> {
    if (generation !== this.generation) return;
    if (res.events.length === 0) {
      this.delivered = Math.max(this.delivered, Number(res.header.revision));
      return;
    }
    for (const ev of res.events) {
      const rv = Number(ev.kv.mod_revision);
      if (rv <= this.delivered) continue;
      const event = filterChange(await this.change(ev, rv), this.selection);
      if (this.closed || generation !== this.generation) return;
      if (event !== undefined && !this.buffer.push(event)) {
        if (rv <= this.horizon) this.suspend();
        else this.tooSlow();
        return;
      }
      this.delivered = rv;
      if (event !== undefined) this.pushed = rv;
    }
  }

  /** The consumer is still reading history: stop the stream, resume where it stopped once it read on. */
  private suspend(): void {
    this.generation++;
    clearTimeout(this.retryTimer);
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
    this.next = this.delivered + 1;
    void this.buffer.waitForRoom(Math.ceil(this.buffer.capacity / 2)).then(() => {
      if (!this.closed) void this.open();
    });
  }

  /**
   * Tells a consumer that has nothing waiting how far etcd has taken this watch: through events
   * its selection filtered away, or progress notifications (which etcd sends in order with events).
   */
  private offerBookmark(): void {
    if (this.closed || this.buffer.length > 0 || this.delivered <= this.pushed) return;
    if (this.buffer.push({ type: "BOOKMARK", resourceVersion: this.delivered })) this.pushed = this.delivered;
  }

  private tooSlow(): void {
    this.fail(
      new StorageError(
        "TooSlow",
        `watcher fell more than ${this.buffer.capacity} events behind and was dropped`,
      ),
    );
  }

  private fail(err: unknown): void {
    this.buffer.fail(err);
    this.close();
  }

  private cancelled(res: IWatchResponse): void {
    const compacted = Number(res.compact_revision);
    if (compacted > 0) {
      this.fail(
        new StorageError("Compacted", `too old resource version: ${this.next - 1} (${compacted})`, compacted),
      );
    } else {
      this.fail(
        new StorageError(
          "Unavailable",
          `etcd cancelled the watch: ${res.cancel_reason || "no reason given"}`,
        ),
      );
    }
  }

  private async change(ev: IEvent, rv: number): Promise<RawChange> {
    const resource = this.resource;
    if (ev.type === "Delete") {
      // the last state, stamped with the deletion's revision, as kube-apiserver's watcher sends it
      const object = ev.prev_kv
        ? await sharedDecode(ev.kv.key, ev.prev_kv.mod_revision, ev.prev_kv.value, String(rv))
        : this.stub(ev.kv.key, rv);
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
  private stub(key: Buffer, rv: number): KubeObject {
    const { namespace, name } = this.ctx.keys.objectKey(this.resource, key);
    this.ctx.log.warn({ key: key.toString(), rv }, "etcd delete event without its previous value");
    return { metadata: { name, ...(namespace ? { namespace } : {}), resourceVersion: String(rv) } };
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
