/**
 * Coalesces the reads by key that arrive in one turn of the event loop into one request to the
 * store (DataLoader's idea, with a bound). Each request to etcd or PostgreSQL has a fixed cost on
 * both sides: on the server a gRPC call (an HTTP/2 stream, 30% of an etcd GET's CPU) or a
 * postgres.js query, on the store a linearizable read or a statement's bind and execute. Under
 * load many GETs (Kyverno's, and the read before every update) are waiting at once, and one
 * request answering all of them costs little more than one answering one.
 *
 * The batch is sent from setImmediate: after the poll phase that delivered the requests, so every
 * request whose bytes came in that phase joins it, and a lone read waits only for the rest of the
 * loop's turn. A batch that reaches `maxBatch` is sent at once. The read happens after every waiter
 * asked, so each sees a state at least as new as when it asked, as a read of its own would.
 */
export class ReadBatcher<K, V> {
  private pending: Map<string, Pending<K, V>> | undefined;

  constructor(
    /** Reads `keys` (distinct) in one request; answers in the same order, undefined for a missing key. */
    private readonly fetch: (keys: K[]) => Promise<(V | undefined)[]>,
    private readonly idOf: (key: K) => string,
    private readonly maxBatch: number,
  ) {}

  load(key: K): Promise<V | undefined> {
    let batch = this.pending;
    if (batch === undefined) {
      batch = this.pending = new Map();
      const scheduled = batch;
      setImmediate(() => this.send(scheduled));
    }
    const id = this.idOf(key);
    let entry = batch.get(id);
    if (entry === undefined) {
      entry = { key, waiters: [] };
      batch.set(id, entry);
    }
    const waiters = entry.waiters;
    const promise = new Promise<V | undefined>((resolve, reject) => waiters.push({ resolve, reject }));
    if (batch.size >= this.maxBatch) this.send(batch);
    return promise;
  }

  private send(batch: Map<string, Pending<K, V>>): void {
    // sent already, because it filled up before its setImmediate ran
    if (this.pending !== batch) return;
    this.pending = undefined;
    const entries = [...batch.values()];
    let answer: Promise<(V | undefined)[]>;
    try {
      answer = this.fetch(entries.map((e) => e.key));
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (values) => {
        entries.forEach((e, i) => e.waiters.forEach((w) => w.resolve(values[i])));
      },
      (err: unknown) => {
        for (const e of entries) for (const w of e.waiters) w.reject(err);
      },
    );
  }
}

interface Pending<K, V> {
  key: K;
  waiters: { resolve: (v: V | undefined) => void; reject: (err: unknown) => void }[];
}
