import type { Etcd3, IDuplexStream, IEvent, IWatchRequest, IWatchResponse } from "etcd3";
import type { Logger } from "pino";
import { StorageError } from "../interface.js";

export interface StreamContext {
  client: Etcd3;
  log: Logger;
  progressIntervalMs: number;
  /** Whether etcd orders requested progress notifications with events (see `orderedProgress`). */
  orderedProgress: () => Promise<boolean>;
  /**
   * Events received and not yet handled before the stream is paused (default 1,024); a response is
   * always taken when nothing waits, so one etcd response (up to 1,000 events) may exceed it.
   */
  maxPendingEvents?: number;
}

/**
 * Where a RangeWatch delivers what etcd sends, in etcd's order: the next call comes only once the
 * previous one has settled. Events at or below a revision already handled (replays after a resume)
 * never reach the sink.
 */
export interface RangeSink {
  /**
   * One event newer than any handled. True once handled; false when the sink stopped the watch
   * (`suspend` or `close`), which drops the rest of this response.
   */
  event(ev: IEvent, revision: number): boolean | Promise<boolean>;
  /** etcd has sent every change up to `revision` (a progress notification). */
  progress(revision: number): void;
  /** The watch cannot go on (etcd cancelled it, e.g. compacted, or the sink threw); it is closed. */
  failed(err: unknown): void;
}

type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

const RETRY_MIN_MS = 200;
const MAX_PENDING_EVENTS = 1024;
const RETRY_MAX_MS = 5_000;

/**
 * One etcd watch over a key range, with prev_kv and progress_notify, from a revision on: a stream
 * re-opened from the next revision (with backoff) whenever it breaks, so the sink sees every change
 * once, in order, across etcd restarts and leader changes. With etcd versions that order requested
 * progress notifications, it also asks for one every `progressIntervalMs`. Used by an API watcher
 * of its own (watch.ts) and by a collection's shared feed (feed.ts).
 */
export class RangeWatch {
  /** The revision to resume from: one past the newest etcd has sent (events or progress). */
  private next: number;
  private handled: number;
  /** etcd's revision when the current stream was created: events up to it are history. */
  private createdAt = 0;
  private stream: WatchStream | undefined;
  /** Bumped when a stream is abandoned on purpose: its responses still queued are ignored. */
  private generation = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private progressTimer: ReturnType<typeof setInterval> | undefined;
  private retryMs = RETRY_MIN_MS;
  private stopped = false;
  /** Responses are handled one after the other (the sink may decode asynchronously) to keep etcd's order. */
  private processing: Promise<void> = Promise.resolve();
  /** Events received whose handling has not finished. */
  private pending = 0;

  constructor(
    private readonly ctx: StreamContext,
    private readonly what: string,
    private readonly key: Buffer,
    private readonly end: Buffer,
    from: number,
    private readonly sink: RangeSink,
  ) {
    this.next = from + 1;
    this.handled = from;
  }

  /** The newest revision handled: every change up to it has reached the sink (or was filtered there). */
  get delivered(): number {
    return this.handled;
  }

  /** etcd's revision when the current stream was created: events up to it were history then. */
  get horizon(): number {
    return this.createdAt;
  }

  get closed(): boolean {
    return this.stopped;
  }

  /** Events received and not yet handled (bounded by `maxPendingEvents`, see there). */
  get pendingEvents(): number {
    return this.pending;
  }

  start(): void {
    void this.open();
    void this.ctx.orderedProgress().then((ordered) => {
      if (!ordered || this.stopped || this.ctx.progressIntervalMs <= 0) return;
      this.progressTimer = setInterval(
        () => this.stream?.write({ progress_request: {} }),
        this.ctx.progressIntervalMs,
      );
      this.progressTimer.unref();
    });
  }

  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.progressTimer);
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
  }

  /**
   * Stops the stream and resumes after the newest revision handled once `until` resolves: a
   * consumer still reading history holds it back without a paused gRPC stream stalling the shared
   * connection.
   */
  suspend(until: Promise<void>): void {
    // only the latest suspension reopens: an earlier one's `until` may come first
    const generation = ++this.generation;
    clearTimeout(this.retryTimer);
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
    this.next = this.handled + 1;
    void until.then(() => {
      if (!this.stopped && generation === this.generation) void this.open();
    });
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
    if (this.stopped || generation !== this.generation || this.stream !== undefined) {
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
    if (this.stopped) return;
    // a blip is normal (etcd restarts, leader changes); a watch that keeps failing is worth a warning
    const level = this.retryMs >= RETRY_MAX_MS ? "warn" : "debug";
    this.ctx.log[level]({ err, watch: this.what, next: this.next }, "etcd watch lost, resuming");
    this.retryTimer = setTimeout(() => void this.open(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  private receive(res: IWatchResponse, generation: number): void {
    if (this.stopped || generation !== this.generation) return;
    if (res.canceled) {
      this.cancelled(res);
      return;
    }
    if (res.created) {
      this.retryMs = RETRY_MIN_MS;
      this.createdAt = Math.max(this.createdAt, Number(res.header.revision));
      return;
    }
    const events = Math.max(1, res.events.length);
    if (this.pending > 0 && this.pending + events > (this.ctx.maxPendingEvents ?? MAX_PENDING_EVENTS)) {
      // The sink falls behind etcd (e.g. decoding large values for a shared feed's watchers):
      // rather than queue without bound, stop the stream and take the rest from etcd once the
      // queue has drained; what was queued for this stream is dropped and fetched again.
      this.suspend(this.processing);
      return;
    }
    const last = res.events.length > 0 ? Number(res.events[res.events.length - 1].kv.mod_revision) : 0;
    // A response without events is a progress notification: every change up to its header's
    // revision has been sent. Event responses' headers are not used: while etcd catches a watcher
    // up, they carry the current revision although more events follow (mvcc syncWatchers).
    const progress = res.events.length === 0 ? Number(res.header.revision) : last;
    if (progress >= this.next) this.next = progress + 1;
    this.pending += events;
    this.processing = this.processing
      .then(() => this.deliver(res, generation))
      .catch((err: unknown) => this.fail(err))
      .then(() => {
        this.pending -= events;
      });
  }

  private async deliver(res: IWatchResponse, generation: number): Promise<void> {
    if (this.stopped || generation !== this.generation) return;
    if (res.events.length === 0) {
      const revision = Number(res.header.revision);
      if (revision <= this.handled) return;
      this.handled = revision;
      this.sink.progress(revision);
      return;
    }
    for (const ev of res.events) {
      const rv = Number(ev.kv.mod_revision);
      if (rv <= this.handled) continue;
      const handled = this.sink.event(ev, rv);
      if (!(handled === true || (handled !== false && (await handled)))) return;
      // the sink has it, even if the stream was suspended meanwhile: its replay must skip it
      this.handled = Math.max(this.handled, rv);
      if (this.stopped || generation !== this.generation) return;
    }
  }

  private fail(err: unknown): void {
    if (this.stopped) return;
    this.close();
    this.sink.failed(err);
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
}
