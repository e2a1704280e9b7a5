import type { Etcd3, ICompare, IKeyValue } from "etcd3";
import type { Logger } from "pino";
import { decodeValue } from "./codec.js";
import { etcdCall } from "./errors.js";
import { keyAfter, prefixEnd } from "./keys.js";
import type { KeyLayout } from "./keys.js";
import { MAX_TXN_OPS, chunks, deleteEntries, labelIndexKeys, putEntries } from "./label-index.js";

/** Stale-entry removals a replica runs at once; more are left for the next list that finds them. */
const MAX_CLEANUPS = 64;
/**
 * Index transactions in flight while backfilling. etcd applying the entries is what takes the time
 * (about 30,000 entries a second on two cores), so more than a few in flight gains little.
 */
const BACKFILL_CONCURRENCY = 8;

/**
 * The label index's life outside the write path: the backfill that indexes objects stored before the
 * index existed (run by every replica that starts without the marker key, then the marker is created),
 * the revision from which lists may use the index, and the conditional removal of stale entries.
 */
export class LabelIndex {
  /** The marker's create revision: from there on every object has its entries. Undefined until then. */
  private since: number | undefined;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private wake: (() => void) | undefined;
  private readonly readyWaiters: (() => void)[] = [];
  private readonly cleaning = new Map<string, Promise<void>>();

  constructor(
    private readonly client: Etcd3,
    private readonly keys: KeyLayout,
    private readonly pageSize: number,
    private readonly log: Logger,
  ) {}

  /** Starts checking for the marker (and backfilling when it is absent), retrying until etcd answers. */
  start(): void {
    void this.run();
  }

  /** Whether a list at `revision` may be read from the index: every object then had its entries. */
  usableAt(revision: number): boolean {
    return this.since !== undefined && revision >= this.since;
  }

  /** Resolves once lists use the index. */
  ready(): Promise<void> {
    if (this.since !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /**
   * Removes an entry a list found stale, unless its object changed since it was read (then the entry
   * may be current again): `modRevision` is the object's at the list's revision, undefined if absent.
   */
  removeStale(entry: Buffer, object: Buffer, modRevision: string | undefined): void {
    const id = entry.toString("latin1");
    if (this.stopped || this.cleaning.has(id) || this.cleaning.size >= MAX_CLEANUPS) return;
    const compare: ICompare = modRevision
      ? { key: object, target: "Mod", result: "Equal", mod_revision: modRevision }
      : { key: object, target: "Create", result: "Equal", create_revision: 0 };
    const done = etcdCall("remove a stale label index entry", () =>
      this.client.kv.txn({ compare: [compare], success: deleteEntries([entry]), failure: [] }),
    )
      .then(() => undefined)
      .catch((err: unknown) => this.log.debug({ err }, "could not remove a stale label index entry"))
      .finally(() => this.cleaning.delete(id));
    this.cleaning.set(id, done);
  }

  /**
   * Removes a deleted object's entries, only while it stays deleted: a create racing with this must
   * keep the entries it wrote. A failure leaves stale entries, which cost reads, never answers.
   */
  async removeDeleted(object: Buffer, entries: Buffer[]): Promise<void> {
    const absent: ICompare = { key: object, target: "Create", result: "Equal", create_revision: 0 };
    try {
      for (const part of chunks(entries, MAX_TXN_OPS))
        await etcdCall("remove label index entries", () =>
          this.client.kv.txn({ compare: [absent], success: deleteEntries(part), failure: [] }),
        );
    } catch (err) {
      this.log.debug({ err }, "could not remove the label index entries of a deleted object");
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    await Promise.all(this.cleaning.values());
  }

  private async run(): Promise<void> {
    for (let delay = 500; !this.stopped; delay = Math.min(delay * 2, 30_000)) {
      try {
        const marker = await etcdCall("read the label index marker", () =>
          this.client.kv.range({ key: this.keys.labelIndexMarker }),
        );
        const kv = marker.kvs[0];
        if (kv === undefined) {
          await this.backfill();
          if (this.stopped) return;
          this.markReady(await this.createMarker());
        } else this.markReady(Number(kv.create_revision));
        return;
      } catch (err) {
        if (this.stopped) return;
        this.log.warn({ err }, "label index: could not check or build it; lists scan until it is built");
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.timer = setTimeout(resolve, delay);
          this.timer.unref();
        });
      }
    }
  }

  private markReady(revision: number): void {
    this.since = revision;
    for (const resolve of this.readyWaiters.splice(0)) resolve();
  }

  /** Creates the marker if no other replica did; either way, its create revision. */
  private async createMarker(): Promise<number> {
    const key = this.keys.labelIndexMarker;
    const resp = await etcdCall("write the label index marker", () =>
      this.client.kv.txn({
        compare: [{ key, target: "Create", result: "Equal", create_revision: 0 }],
        success: [{ request_put: { key, value: Buffer.from("1") } }],
        failure: [{ request_range: { key } }],
      }),
    );
    if (resp.succeeded) return Number(resp.header.revision);
    return Number(resp.responses[0]?.response_range.kvs[0]?.create_revision ?? resp.header.revision);
  }

  /**
   * Indexes every stored object, page by page over everything under the root except the index
   * itself. Idempotent (puts of empty keys), so replicas doing it at once, or a retry after a
   * failure, do no harm. Objects written meanwhile got their entries from the write itself.
   */
  private async backfill(): Promise<void> {
    const started = Date.now();
    const root = Buffer.from(`${this.keys.root}/`);
    const index = this.keys.labelIndex;
    let objects = 0;
    let entries = 0;
    for (const [from, end] of [
      [root, index],
      [prefixEnd(index), prefixEnd(root)],
    ]) {
      const read = (start: Buffer) => {
        const page = etcdCall("read objects to index their labels", () =>
          this.client.kv.range({ key: start, range_end: end, limit: this.pageSize }),
        );
        page.catch(() => undefined); // awaited below; may fail while the previous page is written
        return page;
      };
      let next = read(from);
      for (;;) {
        const resp = await next;
        if (this.stopped) return;
        // the next page is read while this one's entries are written
        const more = resp.more && resp.kvs.length > 0;
        if (more) next = read(keyAfter(resp.kvs[resp.kvs.length - 1].key));
        const keys = await this.entriesOf(resp.kvs);
        objects += resp.kvs.length;
        entries += keys.length;
        const parts = chunks(keys, MAX_TXN_OPS);
        for (let i = 0; i < parts.length; i += BACKFILL_CONCURRENCY)
          await Promise.all(
            parts
              .slice(i, i + BACKFILL_CONCURRENCY)
              .map((part) =>
                etcdCall("write label index entries", () =>
                  this.client.kv.txn({ compare: [], success: putEntries(part), failure: [] }),
                ),
              ),
          );
        if (!more) break;
      }
    }
    this.log.info({ objects, entries, ms: Date.now() - started }, "label index built");
  }

  private async entriesOf(kvs: IKeyValue[]): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (const kv of kvs) {
      const stored = this.keys.storedObject(kv.key);
      if (stored === undefined) continue;
      try {
        const object = await decodeValue(kv.value, kv.mod_revision);
        out.push(...labelIndexKeys(this.keys, stored.resource, stored.key, object.metadata.labels));
      } catch (err) {
        // not an object this server wrote: nothing a list could return either
        this.log.warn({ err, key: kv.key.toString() }, "label index: skipped a value that is not JSON");
      }
    }
    return out;
  }
}
