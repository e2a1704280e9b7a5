/**
 * What one API watcher has been sent by etcd and not yet consumed. Bounded: `push` refuses when
 * full, and the watch then either drops the watcher (TooSlow, for live events) or stops its etcd
 * stream until `waitForRoom` says the consumer read on (while catching up through history); it
 * never grows, nor slows the etcd stream that every write reaches. A failure is thrown to the
 * consumer at once, ahead of any events still waiting, as the watcher is going away anyway.
 */
export class BoundedBuffer<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private head = 0;
  private failure: unknown;
  private failed = false;
  private ended = false;
  private wake: (() => void) | undefined;
  private roomWaiters: { below: number; resolve: () => void }[] = [];

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** False when the buffer is full (the item is not kept). */
  push(item: T): boolean {
    if (this.ended || this.failed) return true;
    if (this.length >= this.capacity) return false;
    this.items.push(item);
    this.wakeUp();
    return true;
  }

  fail(err: unknown): void {
    if (this.ended || this.failed) return;
    this.failed = true;
    this.failure = err;
    this.wakeUp();
    this.notifyRoom();
  }

  /** The consumer goes away: iteration ends after nothing more. */
  end(): void {
    this.ended = true;
    this.items = [];
    this.head = 0;
    this.wakeUp();
    this.notifyRoom();
  }

  /** Resolves once the consumer has taken items until fewer than `below` wait (or it went away). */
  waitForRoom(below: number): Promise<void> {
    if (this.length < below || this.ended || this.failed) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push({ below, resolve }));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.failed) throw this.failure;
      if (this.ended) return;
      if (this.length > 0) {
        const item = this.items[this.head++];
        if (this.head === this.items.length) {
          this.items = [];
          this.head = 0;
        } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
          this.items = this.items.slice(this.head);
          this.head = 0;
        }
        this.notifyRoom();
        yield item;
      } else {
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    }
  }

  private notifyRoom(): void {
    if (this.roomWaiters.length === 0) return;
    const done = this.ended || this.failed;
    const ready = this.roomWaiters.filter((w) => done || this.length < w.below);
    this.roomWaiters = this.roomWaiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
