import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EtcdOptions } from "../../src/storage/etcd/index.js";
import { StorageError, isStorageError } from "../../src/storage/interface.js";
import type { Storage, WatchEvent } from "../../src/storage/interface.js";
import { startEtcd } from "../support/etcd.js";
import { all, etcdStore, eventually, report, reports } from "./etcd-fixtures.js";
import type { PrivateEtcd } from "../support/etcd.js";

/** etcd going away and coming back: restarts, crashes in the middle of traffic, a frozen etcd. */

let etcd: PrivateEtcd;

beforeAll(async () => {
  etcd = await startEtcd();
});

afterAll(async () => {
  await etcd?.stop();
});

function store(clusterName: string, overrides: Partial<EtcdOptions> = {}): Promise<Storage> {
  return etcdStore(etcd, clusterName, overrides);
}

/** How long `promise` takes to fail, and with what. */
async function failure(promise: Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const start = Date.now();
  const err = await promise.then(
    () => new Error("expected a failure"),
    (e: unknown) => e,
  );
  return { err, ms: Date.now() - start };
}

describe("etcd storage when etcd goes away", () => {
  it("keeps reports and their resource versions across an etcd restart", async () => {
    const before = await store("restart");
    const a = await before.create(reports, { namespace: "apps", name: "a" }, report("a"));
    const b = await before.create(reports, { namespace: "apps", name: "b" }, report("b"));
    const b2 = await before.update(
      reports,
      { namespace: "apps", name: "b" },
      report("b", { n: 2 }),
      Number(b.metadata.resourceVersion),
    );
    const revision = await before.currentResourceVersion();
    await before.close();

    await etcd.kill();
    await etcd.start();

    const after = await store("restart");
    try {
      expect(await after.get(reports, { namespace: "apps", name: "a" })).toEqual(a);
      expect(await after.get(reports, { namespace: "apps", name: "b" })).toEqual(b2);
      expect((await after.list(reports, { ...all, consistency: { kind: "latest" } })).items).toEqual([a, b2]);
      // resource versions never go backwards
      expect(await after.currentResourceVersion()).toBeGreaterThanOrEqual(revision);
      const c = await after.create(reports, { namespace: "apps", name: "c" }, report("c"));
      expect(Number(c.metadata.resourceVersion)).toBeGreaterThan(revision);
    } finally {
      await after.close();
    }
  });

  it("fails fast while etcd is down and recovers without a new Storage, its watch missing nothing", async () => {
    const s = await store("outage");
    const stopWatch = new AbortController();
    const seen: WatchEvent[] = [];
    let watchError: unknown;
    try {
      const from = await s.currentResourceVersion();
      const watching = (async () => {
        for await (const event of s.watch(reports, { ...all, fromResourceVersion: from }, stopWatch.signal))
          if (event.type !== "BOOKMARK") seen.push(event);
      })().catch((err: unknown) => (watchError = err));

      // steady traffic, recording what each write answered
      const written: string[] = [];
      const failed: unknown[] = [];
      let writing = true;
      const writer = (async () => {
        for (let i = 0; writing; i++) {
          const name = `r${String(i).padStart(4, "0")}`;
          await s.create(reports, { namespace: "apps", name }, report(name)).then(
            () => written.push(name),
            (err: unknown) => failed.push(err),
          );
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      await eventually(async () => expect(written.length).toBeGreaterThanOrEqual(10));

      await etcd.kill();
      const okBefore = written.length;
      // every call answers quickly with Unavailable: no hang, no restart needed
      // Each call gets its failure handler at once: one that fails early must not go unhandled.
      const outcomes = await Promise.all(
        [
          s.get(reports, { namespace: "apps", name: "r0000" }),
          s.list(reports, { ...all, consistency: { kind: "latest" } }),
          s.create(reports, { namespace: "apps", name: "during" }, report("during")),
          s.ready(),
        ].map(failure),
      );
      for (const { err, ms } of outcomes) {
        expect(err).toBeInstanceOf(StorageError);
        expect((err as StorageError).code).toBe("Unavailable");
        expect(ms).toBeLessThan(1_500);
      }
      await new Promise((r) => setTimeout(r, 500));
      expect(failed.length).toBeGreaterThan(0);
      expect(failed.every((err) => isStorageError(err, "Unavailable"))).toBe(true);

      await etcd.start();
      await eventually(() => s.ready());
      await eventually(async () => expect(written.length).toBeGreaterThanOrEqual(okBefore + 10));
      writing = false;
      await writer;

      // the watch resumed where it was: every stored object exactly once, in resource version order
      const listed = (await s.list(reports, { ...all, consistency: { kind: "latest" } })).items;
      const names = listed.map((o) => o.metadata.name);
      expect(names).toEqual(expect.arrayContaining(written));
      await eventually(async () => expect(seen.length).toBeGreaterThanOrEqual(listed.length));
      expect(watchError).toBeUndefined();
      expect(seen.map((e) => (e.type === "BOOKMARK" ? "" : e.object.metadata.name))).toEqual(names);
      expect(seen.every((e) => e.type === "ADDED")).toBe(true);
      const rvs = seen.map((e) => e.resourceVersion);
      expect([...rvs].sort((x, y) => x - y)).toEqual(rvs);
      stopWatch.abort();
      await watching;
    } finally {
      stopWatch.abort();
      await s.close();
    }
  });

  it("times out against a frozen etcd instead of hanging, and carries on when it wakes", async () => {
    const s = await store("frozen");
    try {
      await s.create(reports, { namespace: "apps", name: "x" }, report("x"));
      await etcd.pause();
      try {
        const got = await failure(s.get(reports, { namespace: "apps", name: "x" }));
        expect(isStorageError(got.err, "Unavailable")).toBe(true);
        expect(got.ms).toBeLessThan(2_500);
        const ready = await failure(s.ready());
        expect(isStorageError(ready.err, "Unavailable")).toBe(true);
        expect(ready.ms).toBeLessThan(1_500);
      } finally {
        etcd.resume();
      }
      await eventually(() => s.ready());
      expect((await s.get(reports, { namespace: "apps", name: "x" })).metadata.name).toBe("x");
    } finally {
      await s.close();
    }
  });
});
