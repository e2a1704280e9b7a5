import type { Etcd3, ITxnResponse } from "etcd3";
import type { Logger } from "pino";
import { etcdCall } from "./errors.js";

/**
 * Compacts etcd's history on an interval so a dedicated etcd does not grow without bound, the way
 * kube-apiserver's compactor does (storage/etcd3/compact.go), and with the same election: the key
 * `<prefix>/<cluster>/compaction` holds the last compacted revision, and its etcd `version` is a
 * logical clock. Each tick, a replica compare-and-swaps the key on the version it last saw; only
 * one replica wins per tick and compacts up to the revision it saw on its previous tick, so one
 * interval of history is always kept for watchers and continue tokens. Losers learn the new clock
 * and try again next tick; if the winner dies, another one wins within two intervals.
 */
export class Compactor {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  /** The compaction key's version this replica last saw (0 = absent). */
  private clock = 0;
  /** The revision seen at this replica's last tick: what the next winning tick compacts. */
  private revision = 0;

  constructor(
    private readonly client: Etcd3,
    private readonly key: Buffer,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.intervalMs > 0) this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick().finally(() => this.schedule()), this.intervalMs);
    this.timer.unref();
  }

  /** One round: returns the revision compacted, if this replica won and had something to compact. */
  async tick(): Promise<number | undefined> {
    try {
      const resp: ITxnResponse = await etcdCall("compaction election", () =>
        this.client.kv.txn({
          compare: [{ key: this.key, target: "Version", result: "Equal", version: this.clock }],
          success: [{ request_put: { key: this.key, value: Buffer.from(String(this.revision)) } }],
          failure: [{ request_range: { key: this.key } }],
        }),
      );
      const current = Number(resp.header.revision);
      if (!resp.succeeded) {
        const kv = resp.responses[0]?.response_range.kvs[0];
        this.clock = kv ? Number(kv.version) : 0;
        this.revision = current;
        return undefined;
      }
      this.clock++;
      const target = this.revision;
      this.revision = current;
      if (target === 0) return undefined; // nothing seen yet: the first tick only takes the clock
      await etcdCall("compaction", () => this.client.kv.compact({ revision: target }));
      this.log.info({ revision: target }, "compacted etcd history");
      return target;
    } catch (err) {
      // another replica (or etcd's own auto-compaction) got further already: not a failure
      if (err instanceof Error && err.message.includes("compacted")) return undefined;
      this.log.warn({ err }, "etcd compaction failed; will retry next interval");
      return undefined;
    }
  }
}
