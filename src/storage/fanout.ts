import { filterChange } from "./filter.js";
import type { Selection } from "./filter.js";
import { StorageError } from "./interface.js";
import type { RawChange, StorageResource, WatchEvent, WatchOptions } from "./interface.js";

/**
 * One change feed per process, fanned out to every watcher of this process (STYLE.md §6).
 *
 * A backend feeds `publish()` with its changes in resource version order (memory as it writes,
 * PostgreSQL from its changelog poller, etcd from its one watch) and gives a `history` reader for
 * the changes a new watcher missed. A writer never waits for a watcher: each watcher has a bounded
 * queue, filled with the events its selection lets through, and a watcher whose queue is full is
 * dropped with TooSlow (kube-apiserver's watch cache does the same, and client-go re-watches).
 *
 * A watcher subscribes before it reads history and drops anything at or below the last resource
 * version it delivered, so a change is seen exactly once whether it came from history or live.
 * For that to hold, the backend must publish a change no earlier than `history` can return it.
 */

/**
 * The changes of `resource` strictly after `afterResourceVersion`, oldest first. Throws (or rejects,
 * or fails while iterating) with StorageError("Compacted") when they are no longer all kept. It may
 * return changes of other resources and changes that are also published; the fan-out skips those.
 */
export type HistoryReader = (
  resource: StorageResource,
  afterResourceVersion: number,
  signal: AbortSignal,
) => Iterable<RawChange> | AsyncIterable<RawChange> | Promise<Iterable<RawChange> | AsyncIterable<RawChange>>;

export interface FanoutOptions {
  history: HistoryReader;
  /** Events a watcher may have waiting before it is dropped as too slow (default 1,000). */
  watchBufferSize?: number;
  /** How often idle watchers are told of the store's progress with a BOOKMARK (default 1,000 ms). */
  bookmarkIntervalMs?: number;
  /** The store's resource version when the fan-out starts: the progress bookmarks may report. */
  initialResourceVersion?: number;
}

/** The identity of a collection, as a map key. */
export function resourceId(resource: StorageResource): string {
  return `${resource.group}/${resource.resource}`;
}

export class WatchFanout {
  private readonly byResource = new Map<string, Set<Watcher>>();
  private readonly bufferSize: number;
  private readonly bookmarkIntervalMs: number;
  private progressRV: number;
  private timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private watchers = 0;
  private dropped = 0;

  constructor(private readonly options: FanoutOptions) {
    this.bufferSize = options.watchBufferSize ?? 1000;
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
    this.progressRV = options.initialResourceVersion ?? 0;
    if (!(this.bufferSize >= 1)) throw new Error(`watch buffer size must be >= 1, got ${this.bufferSize}`);
  }

  /** Watchers now subscribed, for metrics. */
  get watcherCount(): number {
    return this.watchers;
  }

  /** Watchers dropped as too slow since start, for metrics. */
  get droppedCount(): number {
    return this.dropped;
  }

  /** Whether any watcher of the collection `resourceId(resource)` is subscribed. */
  watches(id: string): boolean {
    return (this.byResource.get(id)?.size ?? 0) > 0;
  }

  /** The ids (`resourceId`) of the collections with a watcher subscribed now. */
  watchedResources(): string[] {
    const ids: string[] = [];
    for (const [id, watchers] of this.byResource) if (watchers.size > 0) ids.push(id);
    return ids;
  }

  /**
   * Whether a watcher of the collection `id` has a label selector, the only selection an update can
   * move an object into or out of (names and namespaces never change): only then is a change's
   * previous object (RawChange.prevObject) of use.
   */
  needsPrevious(id: string): boolean {
    for (const w of this.byResource.get(id) ?? []) if (w.selection.labelSelector.length > 0) return true;
    return false;
  }

  /** The ids of the collections for which needsPrevious holds now. */
  resourcesNeedingPrevious(): string[] {
    return [...this.byResource.keys()].filter((id) => this.needsPrevious(id));
  }

  /** Hands one change to every watcher of its resource. Call in resource version order; never blocks. */
  publish(change: RawChange): void {
    this.progress(change.resourceVersion);
    const watchers = this.byResource.get(resourceId(change.resource));
    if (watchers === undefined) return;
    for (const w of watchers) {
      const event = filterChange(change, w.selection);
      if (event === undefined) continue;
      if (w.queue.length >= this.bufferSize) {
        this.drop(w);
        continue;
      }
      w.queue.push(event);
      wake(w);
    }
  }

  /**
   * The store has reached `resourceVersion` and every change up to it has been published (e.g. a
   * write to a resource nobody watches, or an etcd progress notification): bookmarks may report it.
   */
  progress(resourceVersion: number): void {
    if (resourceVersion > this.progressRV) this.progressRV = resourceVersion;
  }

  /**
   * The events of `resource` after `options.fromResourceVersion` that the selection lets through,
   * then live ones, with a BOOKMARK every `bookmarkIntervalMs` when the store moved on and nothing
   * else was sent. Ends cleanly when `signal` aborts or the fan-out closes.
   */
  watch(resource: StorageResource, options: WatchOptions, signal: AbortSignal): AsyncIterable<WatchEvent> {
    return this.stream(resource, options, signal);
  }

  /** Ends every watch cleanly and stops the bookmark timer. */
  close(): void {
    this.closed = true;
    for (const watchers of [...this.byResource.values()]) for (const w of [...watchers]) this.end(w);
    this.stopTimer();
  }

  private async *stream(
    resource: StorageResource,
    options: WatchOptions,
    signal: AbortSignal,
  ): AsyncGenerator<WatchEvent> {
    if (signal.aborted || this.closed) return;
    const selection: Selection = {
      // "" and undefined both mean every namespace; cluster-scoped objects have none to select on
      namespace: resource.namespaced ? options.namespace || undefined : undefined,
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
    };
    const w = this.subscribe(resourceId(resource), selection);
    // the consumer knows where it started: no bookmark until the store has moved past it
    w.lastTold = options.fromResourceVersion;
    const onAbort = () => this.end(w);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      let last = options.fromResourceVersion;
      const changes = await this.options.history(resource, last, signal);
      for await (const change of changes) {
        if (w.failure) throw w.failure;
        if (w.ended) return;
        if (change.resourceVersion <= last || resourceId(change.resource) !== w.resource) continue;
        last = change.resourceVersion;
        const event = filterChange(change, selection);
        if (event !== undefined) {
          w.lastTold = last;
          yield event;
        }
      }
      w.lastSeen = last;
      w.live = true;
      while (true) {
        if (w.failure) throw w.failure;
        if (w.ended) return;
        const event = w.queue.shift();
        if (event !== undefined) {
          if (event.resourceVersion <= w.lastSeen) continue;
          w.lastSeen = w.lastTold = event.resourceVersion;
          yield event;
        } else if (w.bookmarkDue) {
          w.bookmarkDue = false;
          // the queue is empty: every change up to the published progress has been handled
          const progress = this.bookmarkable(w);
          if (progress > w.lastTold) {
            w.lastSeen = w.lastTold = progress;
            yield { type: "BOOKMARK", resourceVersion: progress };
          }
        } else {
          await new Promise<void>((resolve) => (w.wake = resolve));
        }
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.unsubscribe(w);
    }
  }

  private subscribe(resource: string, selection: Selection): Watcher {
    const w: Watcher = {
      resource,
      selection,
      queue: new EventQueue(),
      live: false,
      lastSeen: 0,
      lastTold: 0,
      bookmarkDue: false,
      ended: false,
      subscribed: true,
    };
    let watchers = this.byResource.get(resource);
    if (watchers === undefined) this.byResource.set(resource, (watchers = new Set()));
    watchers.add(w);
    if (this.watchers++ === 0) this.startTimer();
    return w;
  }

  private unsubscribe(w: Watcher): void {
    if (!w.subscribed) return;
    w.subscribed = false;
    w.queue.clear();
    const watchers = this.byResource.get(w.resource);
    watchers?.delete(w);
    if (watchers?.size === 0) this.byResource.delete(w.resource);
    if (--this.watchers === 0) this.stopTimer();
  }

  private end(w: Watcher): void {
    w.ended = true;
    this.unsubscribe(w);
    wake(w);
  }

  private drop(w: Watcher): void {
    this.dropped++;
    w.failure = new StorageError(
      "TooSlow",
      `watcher fell more than ${this.bufferSize} events behind and was dropped`,
    );
    this.unsubscribe(w);
    wake(w);
  }

  /** The resource version a bookmark may report to a live watcher whose queue is empty. */
  private bookmarkable(w: Watcher): number {
    return Math.max(this.progressRV, w.lastSeen);
  }

  private startTimer(): void {
    this.timer = setInterval(() => this.offerBookmarks(), this.bookmarkIntervalMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private offerBookmarks(): void {
    for (const watchers of this.byResource.values()) {
      for (const w of watchers) {
        if (w.live && w.queue.length === 0 && this.bookmarkable(w) > w.lastTold) {
          w.bookmarkDue = true;
          wake(w);
        }
      }
    }
  }
}

interface Watcher {
  readonly resource: string;
  readonly selection: Selection;
  readonly queue: EventQueue;
  /** History has been delivered; the queue is now the source. */
  live: boolean;
  /** The highest resource version delivered or passed over (filtered away): for de-duplication. */
  lastSeen: number;
  /** The highest resource version the consumer has been given, in an event or a bookmark. */
  lastTold: number;
  bookmarkDue: boolean;
  ended: boolean;
  subscribed: boolean;
  failure?: StorageError;
  wake?: () => void;
}

function wake(w: Watcher): void {
  const resolve = w.wake;
  w.wake = undefined;
  resolve?.();
}

/** A FIFO that advances an index instead of shifting the array, compacting now and then. */
class EventQueue {
  private items: WatchEvent[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(event: WatchEvent): void {
    this.items.push(event);
  }

  shift(): WatchEvent | undefined {
    if (this.head === this.items.length) return undefined;
    const event = this.items[this.head++];
    if (this.head === this.items.length) this.clear();
    else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return event;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
