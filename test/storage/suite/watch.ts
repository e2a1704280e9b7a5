import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/apimachinery/types.js";
import { StorageError } from "../../../src/storage/interface.js";
import type { WatchEvent } from "../../../src/storage/interface.js";
import type { MakeStore, StoreUnderTest } from "./helpers.js";
import {
  WatchReader,
  cluster,
  describeEvents,
  fields,
  freshResource,
  labels,
  list,
  ns,
  rvOf,
  storageError,
  thing,
  within,
} from "./helpers.js";

const line = (type: string, key: string, rv: number) => `${type} ${key}@${rv}`;

/** Watches: resume from a version, filtering, ordering, slow consumers, bookmarks, compaction. */
export function watchTests(current: () => StoreUnderTest, makeStore: MakeStore): void {
  describe("watch", () => {
    it("delivers exactly the changes after the given resource version, in order", async () => {
      const { store } = current();
      const r = freshResource();
      const a = await store.create(r, ns("w", "a"), thing(ns("w", "a"), undefined, { n: 1 }));
      const from = rvOf(a);
      const b = await store.create(r, ns("w", "b"), thing(ns("w", "b")));
      const a2 = await store.update(r, ns("w", "a"), thing(ns("w", "a"), undefined, { n: 2 }), rvOf(a));
      await store.delete(r, ns("w", "b"));
      const c = await store.create(r, ns("v", "c"), thing(ns("v", "c")));

      const watch = new WatchReader(store, r, { fromResourceVersion: from });
      try {
        const events = await watch.take(4);
        const deletion = events[2].resourceVersion;
        expect(describeEvents(events)).toEqual([
          line("ADDED", "w/b", rvOf(b)),
          line("MODIFIED", "w/a", rvOf(a2)),
          line("DELETED", "w/b", deletion),
          line("ADDED", "v/c", rvOf(c)),
        ]);
        expect(events[1]).toMatchObject({ object: { spec: { n: 2 } } });
        expect(events[0]).toMatchObject({ object: b });
        // a deletion has a resource version of its own, carried by the object too
        expect(deletion).toBeGreaterThan(rvOf(a2));
        expect(deletion).toBeLessThan(rvOf(c));
        expect((events[2] as { object: KubeObject }).object.metadata.resourceVersion).toBe(String(deletion));

        // then live changes, after the history
        const d = await store.create(r, ns("w", "d"), thing(ns("w", "d")));
        expect(describeEvents([await watch.next()])).toEqual([line("ADDED", "w/d", rvOf(d))]);
      } finally {
        watch.stop();
      }
    });

    it("continues a list without a gap: watching from the list's version sees only later writes", async () => {
      const { store } = current();
      const r = freshResource();
      await store.create(r, ns("w", "a"), thing(ns("w", "a")));
      const listed = await list(store, r);
      const b = await store.create(r, ns("w", "b"), thing(ns("w", "b")));
      const watch = new WatchReader(store, r, { fromResourceVersion: listed.resourceVersion });
      try {
        expect(describeEvents([await watch.next()])).toEqual([line("ADDED", "w/b", rvOf(b))]);
      } finally {
        watch.stop();
      }
    });

    it("does not see other resources' changes", async () => {
      const { store } = current();
      const r = freshResource();
      const other = { ...r, group: "other.suite.storage.test" };
      const from = await store.currentResourceVersion();
      const watch = new WatchReader(store, r, { fromResourceVersion: from });
      try {
        await store.create(other, ns("w", "a"), thing(ns("w", "a")));
        await store.create(freshResource(), ns("w", "a"), thing(ns("w", "a")));
        const mine = await store.create(r, ns("w", "a"), thing(ns("w", "a")));
        expect(describeEvents([await watch.next()])).toEqual([line("ADDED", "w/a", rvOf(mine))]);
      } finally {
        watch.stop();
      }
    });

    it("filters by namespace and by fields", async () => {
      const { store } = current();
      const r = freshResource();
      const from = await store.currentResourceVersion();
      const inW = new WatchReader(store, r, { fromResourceVersion: from, namespace: "w" });
      const named = new WatchReader(store, r, {
        fromResourceVersion: from,
        fieldSelector: fields({ field: "metadata.name", op: "=", value: "x" }),
      });
      const notW = new WatchReader(store, r, {
        fromResourceVersion: from,
        fieldSelector: fields({ field: "metadata.namespace", op: "!=", value: "w" }),
      });
      try {
        const wx = await store.create(r, ns("w", "x"), thing(ns("w", "x")));
        const wy = await store.create(r, ns("w", "y"), thing(ns("w", "y")));
        const wwx = await store.create(r, ns("ww", "x"), thing(ns("ww", "x")));
        const vy = await store.create(r, ns("v", "y"), thing(ns("v", "y")));
        await store.delete(r, ns("w", "y"));
        const end = await store.create(r, ns("w", "x-end"), thing(ns("w", "x-end")));
        const endX = await store.create(r, ns("v", "x"), thing(ns("v", "x")));

        const wEvents = describeEvents(await inW.take(4));
        expect(wEvents.slice(0, 2)).toEqual([line("ADDED", "w/x", rvOf(wx)), line("ADDED", "w/y", rvOf(wy))]);
        expect(wEvents[2]).toMatch(/^DELETED w\/y@/);
        expect(wEvents[3]).toBe(line("ADDED", "w/x-end", rvOf(end)));

        expect(describeEvents(await named.take(3))).toEqual([
          line("ADDED", "w/x", rvOf(wx)),
          line("ADDED", "ww/x", rvOf(wwx)),
          line("ADDED", "v/x", rvOf(endX)),
        ]);
        expect(describeEvents(await notW.take(3))).toEqual([
          line("ADDED", "ww/x", rvOf(wwx)),
          line("ADDED", "v/y", rvOf(vy)),
          line("ADDED", "v/x", rvOf(endX)),
        ]);
      } finally {
        inW.stop();
        named.stop();
        notW.stop();
      }
    });

    /** Writes that move objects in and out of `env=prod`, watched from before them; `late`: the watch starts after them. */
    async function labelMoves(late: boolean): Promise<void> {
      const { store } = current();
      const r = freshResource();
      const from = await store.currentResourceVersion();
      const watchFrom = () =>
        new WatchReader(store, r, {
          fromResourceVersion: from,
          labelSelector: labels({ key: "env", op: "=", value: "prod" }),
        });
      let watch = late ? undefined : watchFrom();
      try {
        const key = ns("w", "x");
        const x1 = await store.create(r, key, thing(key, { env: "dev" }));
        const x2 = await store.update(r, key, thing(key, { env: "prod" }), rvOf(x1));
        const x3 = await store.update(r, key, thing(key, { env: "prod", tier: "web" }), rvOf(x2));
        const x4 = await store.update(r, key, thing(key, { env: "dev" }), rvOf(x3));
        const x5 = await store.update(r, key, thing(key, { env: "qa" }), rvOf(x4));
        const y = await store.create(r, ns("w", "y"), thing(ns("w", "y"), { env: "prod" }));
        await store.delete(r, ns("w", "y"));
        await store.delete(r, key, rvOf(x5));
        const z = await store.create(r, ns("w", "z"), thing(ns("w", "z"), { env: "prod" }));
        watch ??= watchFrom();

        const events = await watch.take(6);
        const yGone = events[4].resourceVersion;
        expect(describeEvents(events)).toEqual([
          line("ADDED", "w/x", rvOf(x2)),
          line("MODIFIED", "w/x", rvOf(x3)),
          line("DELETED", "w/x", rvOf(x4)),
          line("ADDED", "w/y", rvOf(y)),
          line("DELETED", "w/y", yGone),
          line("ADDED", "w/z", rvOf(z)),
        ]);
        expect(events[1]).toMatchObject({ object: { metadata: { labels: { env: "prod", tier: "web" } } } });
        // leaving the selection: the content the watcher last saw, at the update's resource version
        expect(events[2]).toMatchObject({
          object: { metadata: { labels: { env: "prod", tier: "web" }, resourceVersion: String(rvOf(x4)) } },
        });
        expect(yGone).toBeGreaterThan(rvOf(y));
      } finally {
        watch?.stop();
      }
    }

    it("turns updates that move an object into or out of a label selection into ADDED and DELETED", async () => {
      await labelMoves(false);
    });

    it("replays the same events to a watch that starts after the writes, from the kept history", async () => {
      await labelMoves(true);
    });

    it("watches cluster-scoped resources", async () => {
      const { store } = current();
      const r = freshResource(false);
      const from = await store.currentResourceVersion();
      const watch = new WatchReader(store, r, { fromResourceVersion: from });
      try {
        const a = await store.create(r, cluster("a"), thing(cluster("a")));
        const a2 = await store.update(r, cluster("a"), thing(cluster("a"), { k: "v" }), rvOf(a));
        await store.delete(r, cluster("a"));
        const events = await watch.take(3);
        expect(describeEvents(events)).toEqual([
          line("ADDED", "a", rvOf(a)),
          line("MODIFIED", "a", rvOf(a2)),
          line("DELETED", "a", events[2].resourceVersion),
        ]);
      } finally {
        watch.stop();
      }
    });

    it("waits for a resource version from the future instead of failing", async () => {
      const { store } = current();
      const r = freshResource();
      const from = (await store.currentResourceVersion()) + 3;
      const watch = new WatchReader(store, r, { fromResourceVersion: from });
      try {
        const written: KubeObject[] = [];
        for (let i = 0; i < 6; i++)
          written.push(await store.create(r, ns("w", `o${i}`), thing(ns("w", `o${i}`))));
        const expected = written.filter((o) => rvOf(o) > from);
        expect(expected.length).toBeGreaterThan(0);
        expect(describeEvents(await watch.take(expected.length))).toEqual(
          expected.map((o) => line("ADDED", `w/${o.metadata.name}`, rvOf(o))),
        );
      } finally {
        watch.stop();
      }
    });

    it("gives one watcher every write of many concurrent writers, once each, in resource version order", async () => {
      const { store } = current();
      const r = freshResource();
      const from = await store.currentResourceVersion();
      const watch = new WatchReader(store, r, { fromResourceVersion: from });
      try {
        const writers = 5;
        const rounds = 12;
        const results = await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            const out: string[] = [];
            for (let i = 0; i < rounds; i++) {
              const key = ns(`c${w}`, `o${i % 4}`);
              if (i < 4) {
                out.push(line("ADDED", `c${w}/o${i}`, rvOf(await store.create(r, key, thing(key)))));
              } else {
                const current = await store.get(r, key);
                const next = await store.update(r, key, thing(key, { round: String(i) }), rvOf(current));
                out.push(line("MODIFIED", `c${w}/o${i % 4}`, rvOf(next)));
              }
            }
            return out;
          }),
        );
        const expected = results.flat().sort((a, b) => Number(a.split("@")[1]) - Number(b.split("@")[1]));
        expect(new Set(expected.map((e) => e.split("@")[1])).size).toBe(writers * rounds);
        expect(describeEvents(await watch.take(writers * rounds))).toEqual(expected);
      } finally {
        watch.stop();
      }
    });

    it("starts a watch while writers run: every later write once, none twice, in order", async () => {
      const { store } = current();
      const r = freshResource();
      const written: string[] = [];
      const turn = () => new Promise((resolve) => setImmediate(resolve));
      let writing = true;
      const writer = async (w: number) => {
        // each writer yields between writes (so the test can act meanwhile) and stops on its own
        for (let i = 0; i < 200 && (writing || i < 5); i++) {
          const key = ns(`s${w}`, `o${i}`);
          written.push(line("ADDED", `s${w}/o${i}`, rvOf(await store.create(r, key, thing(key)))));
          await turn();
        }
      };
      const writers = [writer(0), writer(1), writer(2)];
      try {
        // start from a version in the middle of the writes, while they go on
        while (written.length < 6) await turn();
        const from = Number(written[3].split("@")[1]);
        const watch = new WatchReader(store, r, { fromResourceVersion: from });
        try {
          const first = await watch.next();
          writing = false;
          await Promise.all(writers);
          const rvAt = (l: string) => Number(l.split("@")[1]);
          const expected = written.filter((l) => rvAt(l) > from).sort((a, b) => rvAt(a) - rvAt(b));
          const events = [first, ...(await watch.take(expected.length - 1))];
          expect(describeEvents(events)).toEqual(expected);
        } finally {
          watch.stop();
        }
      } finally {
        writing = false;
        await Promise.all(writers);
      }
    });

    it("ends cleanly when the signal aborts, also while waiting", async () => {
      const { store } = current();
      const r = freshResource();
      const controller = new AbortController();
      const from = await store.currentResourceVersion();
      const a = await store.create(r, ns("w", "a"), thing(ns("w", "a")));
      const seen: WatchEvent[] = [];
      const done = (async () => {
        for await (const event of store.watch(
          r,
          { fromResourceVersion: from, labelSelector: [], fieldSelector: [] },
          controller.signal,
        )) {
          if (event.type === "BOOKMARK") continue;
          seen.push(event);
          if (seen.length === 1) setTimeout(() => controller.abort(), 20);
        }
      })();
      await within(done, "waiting for the aborted watch to end");
      expect(describeEvents(seen)).toEqual([line("ADDED", "w/a", rvOf(a))]);

      // a watch whose signal has already aborted ends at once
      const seenAfter: WatchEvent[] = [];
      const afterAbort = store.watch(
        r,
        { fromResourceVersion: from, labelSelector: [], fieldSelector: [] },
        controller.signal,
      );
      await within(
        (async () => {
          for await (const event of afterAbort) seenAfter.push(event);
        })(),
        "waiting for a watch with an aborted signal to end",
      );
      expect(seenAfter).toEqual([]);
    });

    it("drops a watcher that falls behind its buffer (TooSlow) without slowing writers", async () => {
      const { store, cleanup } = await makeStore({ watchBufferSize: 8 });
      try {
        const r = freshResource();
        const from = await store.currentResourceVersion();
        await store.create(r, ns("w", "marker"), thing(ns("w", "marker")));
        const slow = new WatchReader(store, r, { fromResourceVersion: from });
        const fast = new WatchReader(store, r, { fromResourceVersion: from });
        try {
          // both have started: they got the first change
          expect((await slow.next()).type).toBe("ADDED");
          expect((await fast.next()).type).toBe("ADDED");
          // writes in batches the fast watcher reads up between; the slow one never reads
          const writes = 40;
          for (let batch = 0; batch < writes; batch += 4) {
            const names = [0, 1, 2, 3].map((i) => `o${String(batch + i).padStart(2, "0")}`);
            for (const name of names) await store.create(r, ns("w", name), thing(ns("w", name)));
            expect((await fast.take(4)).map((e) => e.type === "ADDED" && e.object.metadata.name)).toEqual(
              names,
            );
          }
          // the fast watcher has everything, so the slow one has been offered everything too
          let received = 0;
          const err = await (async () => {
            while (true) {
              await slow.next();
              received++;
            }
          })().catch((e: unknown) => e);
          expect(err).toBeInstanceOf(StorageError);
          expect(err).toMatchObject({ code: "TooSlow" });
          expect(received).toBeLessThan(writes);
        } finally {
          slow.stop();
          fast.stop();
        }
      } finally {
        await cleanup();
      }
    });

    it("sends bookmarks to an idle filtered watcher as the store moves on", async () => {
      const { store, cleanup } = await makeStore({ bookmarkIntervalMs: 50 });
      try {
        const r = freshResource();
        const from = await store.currentResourceVersion();
        const watch = new WatchReader(store, r, {
          fromResourceVersion: from,
          labelSelector: labels({ key: "app", op: "=", value: "nobody" }),
        });
        try {
          let last = 0;
          for (let i = 0; i < 3; i++)
            last = rvOf(await store.create(r, ns("w", `o${i}`), thing(ns("w", `o${i}`))));
          let bookmark = 0;
          while (bookmark < last) {
            const result = await watch.nextAny();
            expect(result.done).toBeFalsy();
            expect(result.value.type).toBe("BOOKMARK");
            expect(result.value.resourceVersion).toBeGreaterThan(from);
            expect(result.value.resourceVersion).toBeGreaterThanOrEqual(bookmark);
            bookmark = result.value.resourceVersion;
          }
          // and the bookmark is a promise: nothing before it is still to come
          const later = await store.create(r, ns("w", "hit"), thing(ns("w", "hit"), { app: "nobody" }));
          expect(describeEvents([await watch.next()])).toEqual([line("ADDED", "w/hit", rvOf(later))]);
        } finally {
          watch.stop();
        }
      } finally {
        await cleanup();
      }
    });

    it("fails with Compacted when asked to resume from a version no longer kept", async () => {
      const { store, compact } = current();
      if (compact === undefined) return; // the backend cannot be made to compact on demand
      const r = freshResource();
      const from = await store.currentResourceVersion();
      await store.create(r, ns("w", "a"), thing(ns("w", "a")));
      await store.create(r, ns("w", "b"), thing(ns("w", "b")));
      await compact();
      const watch = new WatchReader(store, r, { fromResourceVersion: from });
      try {
        await storageError(watch.next(), "Compacted");
      } finally {
        watch.stop();
      }
      await storageError(
        list(store, r, { consistency: { kind: "exact", resourceVersion: from } }),
        "Compacted",
      );
      // a watch from now works again
      const now = await store.currentResourceVersion();
      const fresh = new WatchReader(store, r, { fromResourceVersion: now });
      try {
        const c = await store.create(r, ns("w", "c"), thing(ns("w", "c")));
        expect(describeEvents([await fresh.next()])).toEqual([line("ADDED", "w/c", rvOf(c))]);
      } finally {
        fresh.stop();
      }
    });
  });
}
