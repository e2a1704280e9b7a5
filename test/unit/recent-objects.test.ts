import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../src/apimachinery/types.js";
import { StatusError } from "../../src/apimachinery/status.js";
import { parseMutationOptions, type DeleteOptions } from "../../src/registry/options.js";
import { RecentObjects } from "../../src/registry/recent.js";
import { Registry } from "../../src/registry/store.js";
import { loadResources } from "../../src/resources/index.js";
import { deepFreeze } from "../../src/storage/encoded.js";
import { StorageError, type Storage } from "../../src/storage/interface.js";
import { createMemoryStorage } from "../../src/storage/memory/index.js";
import { POLICY_REPORT, makeReport } from "../support/reports.js";

const def = loadResources().find((d) => d.kind === "PolicyReport")!;
const opts = (q = "") => parseMutationOptions(new URLSearchParams(q), "test/1.0", "UpdateOptions");
const noDelete: DeleteOptions = { dryRun: false };

function sized(name: string, bytes: number): KubeObject {
  return deepFreeze({ metadata: { name }, pad: "x".repeat(bytes) });
}

describe("recent objects", () => {
  it("keep the most recently touched objects within their byte budget", () => {
    const r = new RecentObjects(1100); // each entry is ~335 bytes of JSON
    r.remember("a", sized("a", 300));
    r.remember("b", sized("b", 300));
    r.rememberJson("c", JSON.stringify(sized("c", 300)));
    r.remember("a", sized("a", 300)); // touched again: now the newest
    r.remember("d", sized("d", 300)); // over budget: the oldest (b) goes
    expect(r.get("b")).toBeUndefined();
    expect(r.get("a")?.metadata.name).toBe("a");
    expect(r.get("c")?.metadata.name).toBe("c"); // decoded on demand
    expect(r.get("d")?.metadata.name).toBe("d");
    r.remember("huge", sized("huge", 5000)); // larger than the budget: not kept, nothing evicted
    expect(r.get("huge")).toBeUndefined();
    expect(r.get("a")).toBeDefined();
    r.forget("a");
    expect(r.get("a")).toBeUndefined();
  });

  it("forget text that does not decode", () => {
    const r = new RecentObjects(1000);
    r.rememberJson("bad", "{not json");
    expect(r.get("bad")).toBeUndefined();
  });
});

/**
 * Two registries with recent objects over one store are two replicas: each one's recent objects go
 * stale when the other writes, and every answer must still be the one a fresh read would give.
 */
describe("a replica whose recent object is stale", () => {
  function replicas() {
    const storage = createMemoryStorage();
    const mk = () => new Registry(def, storage, { maxPageSize: 500, recentObjectBytes: 1 << 20 });
    return { a: mk(), b: mk(), storage };
  }
  const ns = "team";
  const summary = (pass: number) => ({ pass, fail: 0, warn: 0, error: 0, skip: 0 });
  const create = async (r: Registry, name: string) =>
    (await r.create(ns, makeReport(POLICY_REPORT, { name, namespace: ns }), opts())).object;
  const put = (r: Registry, obj: KubeObject, change: Record<string, unknown>) =>
    r.update(ns, obj.metadata.name!, structuredClone({ ...obj, ...change }), opts());

  it("updates from the version the client sent, not the stale one (no false 409)", async () => {
    const { a, b } = replicas();
    const v1 = await create(a, "r1");
    const v2 = (await put(b, v1, { summary: summary(2) })).object;
    const v3 = (await put(a, v2, { summary: summary(3) })).object;
    expect(v3.summary).toEqual(summary(3));
    expect(Number(v3.metadata.resourceVersion)).toBeGreaterThan(Number(v2.metadata.resourceVersion));
    // and a version that really is stale is still a 409
    await expect(put(a, v2, { summary: summary(4) })).rejects.toMatchObject({ code: 409 });
    expect((await a.get(ns, "r1")).summary).toEqual(summary(3));
  });

  it("patches on top of what the other replica wrote", async () => {
    const { a, b } = replicas();
    const v1 = await create(a, "r2");
    await b.patch(ns, "r2", "merge", { metadata: { labels: { from: "b" } } }, opts());
    const patched = (await a.patch(ns, "r2", "merge", { summary: summary(7) }, opts())).object;
    expect(patched.metadata.labels).toMatchObject({ from: "b" });
    expect(patched.summary).toEqual(summary(7));
    expect(patched.metadata.uid).toBe(v1.metadata.uid);
    expect(await b.get(ns, "r2")).toEqual(patched);
  });

  it("sees an object deleted and created again elsewhere by its new uid", async () => {
    const { a, b } = replicas();
    await create(a, "r3");
    await b.delete(ns, "r3", noDelete);
    const again = await create(b, "r3");
    const res = await put(a, again, { summary: summary(5) });
    expect(res.object.metadata.uid).toBe(again.metadata.uid);
    // a patch of an object deleted elsewhere is a 404, not a write on the remembered one
    await b.delete(ns, "r3", noDelete);
    await expect(a.patch(ns, "r3", "merge", { summary: summary(6) }, opts())).rejects.toMatchObject({
      code: 404,
    });
  });

  it("answers a no-op write with the stored object, and deletes with a fresh precondition", async () => {
    const { a, b } = replicas();
    const v1 = await create(a, "r4");
    const v2 = (await put(b, v1, { summary: summary(9) })).object;
    // the same content as the object a remembers, but the store moved on: a write, not a no-op
    const res = await put(a, v2, { summary: v1.summary });
    expect(res.object.summary).toEqual(v1.summary);
    expect(Number(res.object.metadata.resourceVersion)).toBeGreaterThan(Number(v2.metadata.resourceVersion));
    const same = await put(a, res.object, {});
    expect(same.object).toEqual(res.object);
    const v4 = (await put(b, res.object, { summary: summary(1) })).object;
    const gone = await a.delete(ns, "r4", {
      dryRun: false,
      preconditions: { resourceVersion: v4.metadata.resourceVersion },
    });
    expect(gone.deleted).toBe(true);
    await expect(b.get(ns, "r4")).rejects.toBeInstanceOf(StatusError);
  });

  it("dry runs on the stored object", async () => {
    const { a, b } = replicas();
    const v1 = await create(a, "r5");
    await b.patch(ns, "r5", "merge", { metadata: { labels: { from: "b" } } }, opts());
    const dry = await a.patch(ns, "r5", "merge", { summary: summary(8) }, { ...opts(), dryRun: true });
    expect(dry.object.metadata.labels).toMatchObject({ from: "b" });
    expect((await a.get(ns, "r5")).summary).toEqual(v1.summary);
  });

  it("answers a write that took effect but then failed (a timeout) with the error, never doing it twice", async () => {
    // The real store, with a failure injected after the write: what a database that commits and
    // then stops answering looks like from here.
    const inner = createMemoryStorage();
    let failAfterWrite = false;
    const flaky: Storage = Object.assign(Object.create(inner) as Storage, {
      update: async (...args: Parameters<Storage["update"]>) => {
        const stored = await inner.update(...args);
        if (failAfterWrite) throw new StorageError("Unavailable", "database did not answer in time");
        return stored;
      },
    });
    const a = new Registry(def, flaky, { maxPageSize: 500, recentObjectBytes: 1 << 20 });
    await create(a, "r6");
    failAfterWrite = true;
    const add = [{ op: "add", path: "/results/-", value: { policy: "p", result: "pass" } }];
    await expect(a.patch(ns, "r6", "json", add, opts())).rejects.toMatchObject({ code: 503 });
    failAfterWrite = false;
    const before = makeReport(POLICY_REPORT, { name: "r6", namespace: ns }).results as unknown[];
    expect(((await a.get(ns, "r6")).results as unknown[]).length).toBe(before.length + 1);
  });
});
