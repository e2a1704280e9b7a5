import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../src/apimachinery/types.js";
import { WatchFanout } from "../../src/storage/fanout.js";
import { StorageError } from "../../src/storage/interface.js";
import type { RawChange, StorageResource, WatchEvent } from "../../src/storage/interface.js";
import { createMemoryStorage } from "../../src/storage/memory/index.js";
import { compareUtf8 } from "../../src/storage/memory/key-order.js";
import { runStorageSuite } from "./suite.js";

const HISTORY = 500;

runStorageSuite("memory", async (options) => {
  const store = createMemoryStorage({ historySize: HISTORY, ...options });
  const filler: StorageResource = { group: "filler.test", resource: "fillers", namespaced: false };
  let n = 0;
  return {
    store,
    cleanup: () => store.close(),
    // memory forgets by overflowing its bounded history
    compact: async () => {
      for (let i = 0; i <= HISTORY; i++) {
        const name = `f${n++}`;
        await store.create(filler, { namespace: "", name }, { metadata: { name } });
      }
    },
  };
});

const res: StorageResource = { group: "memory.test", resource: "things", namespaced: true };
const all = { labelSelector: [], fieldSelector: [] };

function iterate<T>(iterable: AsyncIterable<T>): AsyncIterator<T> {
  return iterable[Symbol.asyncIterator]();
}

/** Changing the list under spec or a label throws: the object is frozen below its top level. */
function expectFrozenBelowTop(obj: KubeObject): void {
  expect(() => {
    (obj.spec as { list: number[] }).list.push(3);
  }).toThrow(TypeError);
  expect(() => {
    (obj.metadata.labels as Record<string, string>).k = "changed";
  }).toThrow(TypeError);
}

describe("memory storage", () => {
  it("hands out frozen objects; the object a write is given is frozen too, so no later change reaches the store", async () => {
    const store = createMemoryStorage();
    const input: KubeObject = {
      metadata: { name: "x", namespace: "a", labels: { k: "v" } },
      spec: { list: [1, 2] },
    };
    const created = await store.create(res, { namespace: "a", name: "x" }, input);
    expect(input.metadata.resourceVersion).toBeUndefined();
    expectFrozenBelowTop(input);
    // the caller's top level and metadata stay its own
    input.metadata = { ...input.metadata, labels: { k: "changed" } };

    const got = await store.get(res, { namespace: "a", name: "x" });
    expect(got).toEqual({
      metadata: {
        name: "x",
        namespace: "a",
        labels: { k: "v" },
        resourceVersion: created.metadata.resourceVersion,
      },
      spec: { list: [1, 2] },
    });
    expectFrozenBelowTop(got);
    const [listed] = (await store.list(res, { ...all, consistency: { kind: "latest" } })).items;
    expect(Object.isFrozen(listed.metadata)).toBe(true);
    expect(listed).toEqual(got);
    await store.close();
  });

  it("starts above zero so that no list ever answers resourceVersion 0", async () => {
    const store = createMemoryStorage();
    const first = await store.list(res, { ...all, consistency: { kind: "latest" } });
    expect(first.resourceVersion).toBeGreaterThan(0);
    const created = await store.create(res, { namespace: "a", name: "x" }, { metadata: { name: "x" } });
    expect(Number(created.metadata.resourceVersion)).toBe(first.resourceVersion + 1);
    await store.close();
  });

  it("resumes a watch only from versions its bounded history still holds", async () => {
    const store = createMemoryStorage({ historySize: 3 });
    const start = await store.currentResourceVersion();
    for (const name of ["a", "b", "c", "d"])
      await store.create(res, { namespace: "n", name }, { metadata: { name } });
    const from = async (rv: number) => {
      const it = iterate(store.watch(res, { ...all, fromResourceVersion: rv }, AbortSignal.timeout(5000)));
      return (await it.next()).value as WatchEvent;
    };
    await expect(from(start)).rejects.toMatchObject({ code: "Compacted", resourceVersion: start + 2 });
    expect(await from(start + 1)).toMatchObject({ type: "ADDED", object: { metadata: { name: "b" } } });
    await store.close();
  });

  it("orders keys by UTF-8 bytes without encoding them", () => {
    const samples = [
      "a",
      "a/b",
      "a-b",
      "a.b",
      "ä",
      "\uffff",
      "\ue000",
      "😀",
      "\ud7ff",
      "ab",
      "",
      "z/😀",
      "z/\uffee",
    ];
    for (const x of samples) {
      for (const y of samples) {
        expect(Math.sign(compareUtf8(x, y)), `${x} vs ${y}`).toBe(
          Math.sign(Buffer.compare(Buffer.from(x), Buffer.from(y))),
        );
      }
    }
  });
});

describe("watch fan-out", () => {
  const change = (rv: number, name = `o${rv}`): RawChange => ({
    type: "ADDED",
    resource: res,
    object: { metadata: { name, namespace: "n", resourceVersion: String(rv) } },
    resourceVersion: rv,
  });

  it("frees a watcher's slot when its signal aborts, even if it never reads again", async () => {
    const fanout = new WatchFanout({ history: () => [] });
    const controller = new AbortController();
    const it = iterate(fanout.watch(res, { ...all, fromResourceVersion: 0 }, controller.signal));
    const pending = it.next();
    expect(fanout.watcherCount).toBe(1);
    controller.abort();
    await expect(pending).resolves.toMatchObject({ done: true });
    expect(fanout.watcherCount).toBe(0);
    fanout.publish(change(1));
    fanout.close();
  });

  it("de-duplicates what arrives both from history and live, and drops a full queue", async () => {
    const history = [change(1), change(2)];
    const fanout = new WatchFanout({ history: () => history, watchBufferSize: 2 });
    const controller = new AbortController();
    const it = iterate(fanout.watch(res, { ...all, fromResourceVersion: 0 }, controller.signal));
    const first = it.next();
    // published while the watcher reads history: 2 is in both
    fanout.publish(change(2));
    fanout.publish(change(3));
    const seen = [await first, await it.next(), await it.next()].map(
      (r) => (r.value as WatchEvent).resourceVersion,
    );
    expect(seen).toEqual([1, 2, 3]);
    for (const rv of [4, 5, 6]) fanout.publish(change(rv));
    await expect(it.next()).rejects.toBeInstanceOf(StorageError);
    expect(fanout.watcherCount).toBe(0);
    expect(fanout.droppedCount).toBe(1);
    fanout.close();
  });

  it("ends every watch cleanly on close", async () => {
    const fanout = new WatchFanout({ history: () => [] });
    const it = iterate(fanout.watch(res, { ...all, fromResourceVersion: 0 }, new AbortController().signal));
    const pending = it.next();
    fanout.close();
    await expect(pending).resolves.toMatchObject({ done: true });
  });
});
