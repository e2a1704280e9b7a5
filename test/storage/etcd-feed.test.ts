import { Etcd3 } from "etcd3";
import { Writable } from "node:stream";
import { pino } from "pino";
import type { Logger } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../src/apimachinery/types.js";
import type { EtcdOptions, EtcdStorage } from "../../src/storage/etcd/index.js";
import { RangeWatch } from "../../src/storage/etcd/range-watch.js";
import type { RangeSink } from "../../src/storage/etcd/range-watch.js";
import { createEtcdStorage } from "../../src/storage/etcd/index.js";
import { StorageError } from "../../src/storage/interface.js";
import type { StorageResource, WatchEvent } from "../../src/storage/interface.js";
import { startEtcd } from "../support/etcd.js";
import { all, etcdStore, eventually, report, reports } from "./etcd-fixtures.js";
import type { PrivateEtcd } from "../support/etcd.js";
import { CLUSTER_POLICY_REPORT, makeReport } from "../support/reports.js";
import { WatchReader, describeEvents, storageError } from "./suite/helpers.js";

/**
 * The etcd backend's shared watch: one etcd watch per collection, fanned out in process, with a
 * ring of recent events; watchers it cannot serve get an etcd watch of their own. What etcd sees
 * is read from its own `/metrics` (the watcher gauge), what watchers see from their events.
 *
 * etcd's periodic progress notifications are off (10 minutes) so that a feed's resume revision
 * moves only with its collection's events, which the compaction test relies on.
 */

let etcd: PrivateEtcd;
let raw: Etcd3;

beforeAll(async () => {
  etcd = await startEtcd({ progressNotifyIntervalMs: 600_000 });
  raw = new Etcd3({ hosts: etcd.endpoints });
});

afterAll(async () => {
  raw?.close();
  await etcd?.stop();
});

const clusterReports: StorageResource = {
  group: "wgpolicyk8s.io",
  resource: "clusterpolicyreports",
  namespaced: false,
};

function store(clusterName: string, overrides: Partial<EtcdOptions> = {}): Promise<EtcdStorage> {
  return etcdStore(etcd, clusterName, overrides);
}

/** The watchers etcd has now (etcd_debugging_mvcc_watcher_total; the etcd_mvcc_ name too, should etcd promote it). */
async function etcdWatchers(): Promise<number> {
  const text = await (await fetch(`${etcd.endpoints[0]}/metrics`)).text();
  const found = /^etcd_(?:debugging_)?mvcc_watcher_total (\d+)/m.exec(text);
  if (found === null) throw new Error("etcd's /metrics has no watcher gauge");
  return Number(found[1]);
}

/** Waits until etcd has exactly `n` watchers (watch creation and cancellation are asynchronous). */
const watchersBecome = (n: number) => eventually(async () => expect(await etcdWatchers()).toBe(n));

async function create(s: EtcdStorage, name: string): Promise<number> {
  return Number(
    (await s.create(reports, { namespace: "apps", name }, report(name))).metadata.resourceVersion,
  );
}

/** Compacts etcd's whole history up to its current revision, as an operator's `etcdctl compact` would. */
async function compactAll(): Promise<number> {
  const { header } = await raw.kv.range({ key: Buffer.from("/"), count_only: true });
  await raw.kv.compact({ revision: header.revision, physical: true });
  return Number(header.revision);
}

const names = (events: WatchEvent[]) =>
  events.map((e) => (e.type === "BOOKMARK" ? "" : e.object.metadata.name));

describe("etcd watch cache: one etcd watch per collection", () => {
  it("serves 50 watchers of a collection with one etcd watch, each getting every change in order", async () => {
    await watchersBecome(0);
    const s = await store("fifty");
    const readers: WatchReader[] = [];
    let closed = false;
    try {
      const from = await s.currentResourceVersion();
      for (let i = 0; i < 50; i++) readers.push(new WatchReader(s, reports, { fromResourceVersion: from }));
      const received = readers.map((r) => r.take(22));
      await watchersBecome(1);

      const rvs: number[] = [];
      for (let i = 0; i < 20; i++) rvs.push(await create(s, `r${String(i).padStart(2, "0")}`));
      const updated = await s.update(
        reports,
        { namespace: "apps", name: "r00" },
        report("r00", { n: 2 }),
        rvs[0],
      );
      await s.delete(reports, { namespace: "apps", name: "r01" });

      const expected = describeEvents(await received[0]);
      expect(expected.slice(0, 20)).toEqual(
        rvs.map((rv, i) => `ADDED apps/r${String(i).padStart(2, "0")}@${rv}`),
      );
      expect(expected[20]).toBe(`MODIFIED apps/r00@${updated.metadata.resourceVersion}`);
      expect(expected[21]).toMatch(/^DELETED apps\/r01@/);
      for (const got of received) expect(describeEvents(await got)).toEqual(expected);
      // still the one etcd watch: the watchers did not open their own on the way
      expect(await etcdWatchers()).toBe(1);

      // closing the store ends every watch cleanly, and its etcd watch
      closed = true;
      await s.close();
      for (const r of readers) expect((await r.nextAny()).done).toBe(true);
      await watchersBecome(0);
    } finally {
      for (const r of readers) r.stop();
      if (!closed) await s.close();
    }
  });

  it("gives a watcher from before the ring's events etcd's history on a watch of its own; newer ones share", async () => {
    await watchersBecome(0);
    // a ring of a few events, so that most of what follows leaves it
    const s = await store("ring", { watchCacheBytes: 16 * 1024 });
    const readers: WatchReader[] = [];
    const reader = (from: number) => {
      const r = new WatchReader(s, reports, { fromResourceVersion: from });
      readers.push(r);
      return r;
    };
    try {
      const start = await s.currentResourceVersion();
      const live = reader(start);
      const liveEvents = live.take(41);
      await watchersBecome(1);
      const rvs: number[] = [];
      for (let i = 0; i < 40; i++) rvs.push(await create(s, `r${String(i).padStart(2, "0")}`));
      const all41 = [...rvs.map((_, i) => `r${String(i).padStart(2, "0")}`), "last"];

      // the ring no longer holds the first writes: this watcher's history comes from etcd
      const old = reader(start);
      const oldEvents = old.take(41);
      await watchersBecome(2);
      // the last few are in the ring: no etcd watch for this one
      const recent = reader(rvs[36]);
      const recentFirst = await recent.take(3);
      expect(names(recentFirst)).toEqual(["r37", "r38", "r39"]);
      expect(await etcdWatchers()).toBe(2);

      const last = await create(s, "last");
      expect(names(await liveEvents)).toEqual(all41);
      expect(names(await oldEvents)).toEqual(all41);
      expect((await recent.next()).resourceVersion).toBe(last);

      // after a compaction, a watcher from a compacted revision gets Compacted from etcd (410 to
      // the client), also when the ring still holds the changes it asked for; one with nothing to
      // replay is served by the feed
      await compactAll();
      await storageError(reader(rvs[2]).next(), "Compacted");
      await storageError(reader(rvs[38]).next(), "Compacted");
      const now = reader(last);
      const next = now.next();
      const after = await create(s, "after");
      expect((await next).resourceVersion).toBe(after);
    } finally {
      for (const r of readers) r.stop();
      await s.close();
    }
  });

  it("drops a slow watcher of the feed (TooSlow) while the others keep receiving", async () => {
    await watchersBecome(0);
    const s = await store("slow", { watchBufferSize: 8 });
    const slow = new WatchReader(s, reports, { fromResourceVersion: await s.currentResourceVersion() });
    const fast = new WatchReader(s, reports, { fromResourceVersion: await s.currentResourceVersion() });
    try {
      const slowFirst = slow.next();
      const fastFirst = fast.next();
      await watchersBecome(1);
      await create(s, "marker");
      expect((await slowFirst).type).toBe("ADDED");
      expect((await fastFirst).type).toBe("ADDED");
      expect(await etcdWatchers()).toBe(1);
      for (let batch = 0; batch < 40; batch += 4) {
        const batchNames = [0, 1, 2, 3].map((i) => `o${String(batch + i).padStart(2, "0")}`);
        for (const name of batchNames) await create(s, name);
        expect(names(await fast.take(4))).toEqual(batchNames);
      }
      let received = 0;
      const err = await (async () => {
        for (;;) {
          await slow.next();
          received++;
        }
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err).toMatchObject({ code: "TooSlow" });
      expect(received).toBeLessThan(40);
      // the feed and the fast watcher carry on
      await create(s, "after");
      expect(names([await fast.next()])).toEqual(["after"]);
    } finally {
      slow.stop();
      fast.stop();
      await s.close();
    }
  });
});

describe("etcd watch cache: where a watch starts", () => {
  it("starts the shared watch at the first watcher's revision when it is only a little behind (a re-watch after a restart)", async () => {
    await watchersBecome(0);
    const s = await store("rewatch");
    const readers: WatchReader[] = [];
    try {
      const from = await create(s, "seen");
      // written while this replica was away: nobody listed or watched the kind here yet
      const missed = [await create(s, "missed-1"), await create(s, "missed-2")];
      for (let i = 0; i < 3; i++) readers.push(new WatchReader(s, reports, { fromResourceVersion: from }));
      for (const r of readers) expect((await r.take(2)).map((e) => e.resourceVersion)).toEqual(missed);
      const live = await create(s, "live");
      for (const r of readers) expect((await r.take(1)).map((e) => e.resourceVersion)).toEqual([live]);
      // one etcd watch, the kind's, replayed from the first watcher's revision: none of their own
      expect(await etcdWatchers()).toBe(1);
    } finally {
      for (const r of readers) r.stop();
      await s.close();
    }
  });

  it("serves an informer's list-then-watch from the shared watch, writes in between included", async () => {
    await watchersBecome(0);
    const s = await store("informer");
    const readers: WatchReader[] = [];
    try {
      await create(s, "before");
      const listed = await s.list(reports, { ...all, consistency: { kind: "latest" } });
      expect(listed.items.map((o) => o.metadata.name)).toEqual(["before"]);
      // the list started the kind's shared watch at its revision: writes between the list and the
      // watches are in its ring
      const between = [await create(s, "between-1"), await create(s, "between-2")];
      await watchersBecome(1);
      for (let i = 0; i < 5; i++)
        readers.push(new WatchReader(s, reports, { fromResourceVersion: listed.resourceVersion }));
      for (const r of readers) expect((await r.take(2)).map((e) => e.resourceVersion)).toEqual(between);
      expect(await etcdWatchers()).toBe(1);
    } finally {
      for (const r of readers) r.stop();
      await s.close();
    }
  });

  it("gives every watcher every change once while writes push its start out of a tiny ring", async () => {
    await watchersBecome(0);
    // a ring that keeps one event: a watcher from the one before it races the next writes
    const s = await store("race", { watchCacheBytes: 1 });
    const stop = new AbortController();
    const sync = new WatchReader(s, reports, { fromResourceVersion: await s.currentResourceVersion() });
    try {
      const syncing = sync.next();
      await watchersBecome(1);
      const writes: { name: string; rv: number }[] = [];
      const write = async (name: string) => writes.push({ name, rv: await create(s, name) });
      await write("w0");
      await syncing;
      const watchers: { from: number; seen: WatchEvent[]; done: Promise<unknown> }[] = [];
      for (let round = 0; round < 10; round++) {
        await write(`r${round}`);
        // the feed has the newest write: its ring holds that one, and covers the one before
        expect(names([await sync.next()])).toEqual([`r${round}`]);
        const from = writes[writes.length - 2].rv;
        const seen: WatchEvent[] = [];
        const done = (async () => {
          for await (const event of s.watch(reports, { ...all, fromResourceVersion: from }, stop.signal))
            if (event.type !== "BOOKMARK") seen.push(event);
        })();
        done.catch(() => undefined); // awaited below
        watchers.push({ from, seen, done });
        await Promise.all([write(`r${round}a`), write(`r${round}b`)]);
        writes.sort((a, b) => a.rv - b.rv);
        await sync.take(2);
      }
      const last = writes[writes.length - 1].rv;
      for (const w of watchers) {
        await eventually(async () => {
          expect(w.seen.at(-1)?.resourceVersion ?? 0).toBeGreaterThanOrEqual(last);
        });
        expect(names(w.seen)).toEqual(writes.filter((x) => x.rv > w.from).map((x) => x.name));
      }
      stop.abort();
      // none of them failed: a ring that moved on is no reason for a 410
      for (const w of watchers) await w.done;
    } finally {
      stop.abort();
      sync.stop();
      await s.close();
    }
  });
});

describe("etcd watch cache when etcd restarts", () => {
  it("resumes the shared watch without losing or repeating an event", async () => {
    await watchersBecome(0);
    const s = await store("restart");
    const stop = new AbortController();
    try {
      const from = await s.currentResourceVersion();
      const seen: WatchEvent[][] = [[], [], []];
      const errors: unknown[] = [];
      const watching = seen.map((events) =>
        (async () => {
          for await (const event of s.watch(reports, { ...all, fromResourceVersion: from }, stop.signal))
            if (event.type !== "BOOKMARK") events.push(event);
        })().catch((err: unknown) => errors.push(err)),
      );
      await watchersBecome(1);

      const written: string[] = [];
      let writing = true;
      const writer = (async () => {
        for (let i = 0; writing; i++) {
          const name = `r${String(i).padStart(4, "0")}`;
          await create(s, name).then(
            () => written.push(name),
            () => undefined, // etcd is down: Unavailable
          );
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      await eventually(async () => expect(written.length).toBeGreaterThanOrEqual(10));
      await etcd.kill();
      const before = written.length;
      await new Promise((r) => setTimeout(r, 300));
      await etcd.start();
      await eventually(async () => expect(written.length).toBeGreaterThanOrEqual(before + 10));
      writing = false;
      await writer;

      const stored = (await s.list(reports, { ...all, consistency: { kind: "latest" } })).items;
      const storedNames = stored.map((o) => o.metadata.name);
      expect(storedNames).toEqual(expect.arrayContaining(written));
      for (const events of seen) {
        await eventually(async () => expect(events.length).toBeGreaterThanOrEqual(stored.length));
        expect(names(events)).toEqual(storedNames);
        const rvs = events.map((e) => e.resourceVersion);
        expect([...rvs].sort((a, b) => a - b)).toEqual(rvs);
      }
      expect(errors).toEqual([]);
      // still one etcd watch for the three of them, the resumed one
      await watchersBecome(1);
      stop.abort();
      await Promise.all(watching);
    } finally {
      stop.abort();
      await s.close();
    }
  });

  it("fails the feed's watchers with Compacted when it cannot resume past a compaction, then starts afresh", async () => {
    await watchersBecome(0);
    const s = await store("feed-compacted");
    const stopped = new WatchReader(s, reports, { fromResourceVersion: await s.currentResourceVersion() });
    let fresh: WatchReader | undefined;
    try {
      const failure = stopped.next(30_000);
      failure.catch(() => undefined); // awaited below
      await watchersBecome(1);
      // etcd moves on without an event for the feed (other collections), and compacts
      for (const name of ["a", "b", "c"])
        await s.create(
          clusterReports,
          { namespace: "", name },
          makeReport(CLUSTER_POLICY_REPORT, { name }) as KubeObject,
        );
      await compactAll();
      // the feed's stream breaks; it can only resume from before the compaction
      await etcd.kill();
      await etcd.start();
      const err = await failure.then(
        () => new Error("expected a failure"),
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: "Compacted" });

      // the next watch starts a new feed at etcd's current revision
      await eventually(() => s.ready());
      fresh = new WatchReader(s, reports, { fromResourceVersion: await s.currentResourceVersion() });
      const next = fresh.next();
      await watchersBecome(1);
      const rv = await create(s, "after");
      expect(describeEvents([await next])).toEqual([`ADDED apps/after@${rv}`]);
    } finally {
      stopped.stop();
      fresh?.stop();
      await s.close();
    }
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A RangeWatch over `/<name>/` from now, with a bound of 5 waiting events and `sink`. */
async function boundedWatch(name: string, sink: RangeSink): Promise<RangeWatch> {
  const watch = new RangeWatch(
    {
      client: raw,
      log: pino({ level: "silent" }),
      progressIntervalMs: 0,
      orderedProgress: async () => false,
      maxPendingEvents: 5,
    },
    name,
    Buffer.from(`/${name}/`),
    Buffer.from(`/${name}0`),
    Number((await raw.get("health").exec()).header.revision),
    sink,
  );
  watch.start();
  // created before the writes: etcd then sends them as they happen, not as one response of history
  await until(() => watch.horizon > 0);
  return watch;
}

async function putKeys(name: string, n: number): Promise<number[]> {
  const written: number[] = [];
  for (let i = 0; i < n; i++)
    written.push(Number((await raw.put(`/${name}/k${i}`).value(String(i)).exec()).header.revision));
  return written;
}

async function until(done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await sleep(20);
}

const rethrow = (err: unknown) => {
  throw err;
};

describe("an etcd watch whose consumer falls behind", () => {
  it("keeps at most its bound of events waiting, then takes the rest from etcd: every change once, in order", async () => {
    const seen: number[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const watch = await boundedWatch("bounded", {
      // the first event blocks the sink, as a slow decode would
      event: async (_ev, revision) => {
        if (seen.length === 0) await blocked;
        seen.push(revision);
        return true;
      },
      progress: () => {},
      failed: rethrow,
    });
    try {
      const written = await putKeys("bounded", 40);
      await sleep(300);
      expect(watch.pendingEvents).toBeLessThanOrEqual(5);
      release();
      await until(() => seen.length >= written.length);
      expect(seen).toEqual(written);
    } finally {
      watch.close();
    }
  });

  it("keeps a sink's own suspension (until its consumer reads on) when the bound paused the stream first", async () => {
    const seen: number[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let first = true;
    const watch: RangeWatch = await boundedWatch("conflict", {
      // as an API watcher's own watch does when its buffer is full while it reads history
      event: async (_ev, revision) => {
        if (first) {
          first = false;
          await blocked;
          watch.suspend(gate);
          return false;
        }
        seen.push(revision);
        return true;
      },
      progress: () => {},
      failed: rethrow,
    });
    try {
      const written = await putKeys("conflict", 40);
      await sleep(300); // more than 5 waiting: the bound paused the stream
      release();
      await sleep(500);
      expect(seen, "nothing before the sink's own condition").toEqual([]);
      openGate();
      await until(() => seen.length >= written.length);
      expect(seen).toEqual(written);
    } finally {
      watch.close();
    }
  });
});

describe("etcd watch cache whose feed fails on a value it cannot decode", () => {
  const bad = (cluster: string) =>
    raw.put(`/reports-server/${cluster}/wgpolicyk8s.io/policyreports/apps/bad`).value("not json").exec();

  function logged(): { log: Logger; failures: () => number } {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    return {
      log: pino({ level: "warn" }, sink),
      failures: () => lines.filter((l) => l.includes("etcd watch cache failed")).length,
    };
  }

  it("does not give a watcher it dropped as too slow a watch of its own", async () => {
    const s = await createEtcdStorage(
      { endpoints: etcd.endpoints, clusterName: "tooslow", compactionIntervalMs: 0, watchBufferSize: 3 },
      logged().log,
    );
    const from = await s.currentResourceVersion();
    const slow = new WatchReader(s, reports, { fromResourceVersion: from });
    const active = new WatchReader(s, reports, { fromResourceVersion: from });
    try {
      const first = slow.next(); // the slow watcher reads one event, then nothing more
      const a = active.next();
      await create(s, "r0");
      await first;
      await a;
      for (let i = 1; i <= 5; i++) {
        await create(s, `r${i}`); // more than 3 waiting: the slow watcher is dropped (TooSlow)
        await active.next();
      }
      await bad("tooslow"); // fails the feed, which decodes for the active watcher
      await active.next().catch(() => undefined);
      await sleep(200);
      let err: unknown;
      try {
        while (!(await slow.nextAny(2_000)).done);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: "TooSlow" });
    } finally {
      slow.stop();
      active.stop();
      await s.close();
    }
  });

  it("does not start feeds at a revision before that value again (they would fail on it again)", async () => {
    const { log, failures } = logged();
    const s = await createEtcdStorage(
      { endpoints: etcd.endpoints, clusterName: "poison", compactionIntervalMs: 0 },
      log,
    );
    const readers: WatchReader[] = [];
    try {
      const from = await create(s, "ok-0");
      await bad("poison");
      await create(s, "ok-1");
      // a client re-watching from before the bad value, three times
      for (let i = 0; i < 3; i++) {
        const r = new WatchReader(s, reports, { fromResourceVersion: from });
        readers.push(r);
        await r.next().catch(() => undefined);
        await sleep(100);
      }
      expect(failures()).toBe(1);
    } finally {
      for (const r of readers) r.stop();
      await s.close();
    }
  });
});
