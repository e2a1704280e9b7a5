import { describe, expect, it } from "vitest";
import { parseLabelSelector } from "../../src/apimachinery/labels.js";
import type { KubeObject } from "../../src/apimachinery/types.js";
import type { StorageResource } from "../../src/storage/interface.js";
import { createMemoryStorage } from "../../src/storage/memory/index.js";
import { LabelIndex } from "../../src/storage/memory/label-index.js";

const res: StorageResource = { group: "wgpolicyk8s.io", resource: "policyreports", namespaced: true };

function report(ns: string, name: string, labels: Record<string, string>): KubeObject {
  return {
    apiVersion: "wgpolicyk8s.io/v1alpha2",
    kind: "PolicyReport",
    metadata: { name, namespace: ns, labels },
  };
}

describe("memory label index", () => {
  it("pages a selective label selector from the index, in key order, and follows label changes", async () => {
    const store = createMemoryStorage();
    for (let i = 0; i < 200; i++) {
      const ns = `ns-${i % 4}`;
      const group = i % 50 === 7 ? "wanted" : `g${i}`;
      await store.create(
        res,
        { namespace: ns, name: `r${String(i).padStart(3, "0")}` },
        report(ns, `r${String(i).padStart(3, "0")}`, { group, tier: i % 2 ? "odd" : "even" }),
      );
    }
    const sel = parseLabelSelector("group=wanted,tier=odd");
    const page1 = await store.list(res, {
      labelSelector: sel,
      fieldSelector: [],
      limit: 2,
      consistency: { kind: "latest" },
    });
    const names = page1.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
    expect(names).toEqual(["ns-1/r057", "ns-1/r157"]);
    expect(page1.continueAfter).toEqual({ namespace: "ns-1", name: "r157" });
    const page2 = await store.list(res, {
      labelSelector: sel,
      fieldSelector: [],
      limit: 2,
      continueFrom: { after: page1.continueAfter!, resourceVersion: page1.resourceVersion },
      consistency: { kind: "latest" },
    });
    expect(page2.items.map((o) => o.metadata.name)).toEqual(["r007", "r107"]);
    expect(page2.continueAfter).toBeUndefined();

    // `in` uses the index too; a relabelled object leaves and enters the selection.
    const moved = await store.get(res, { namespace: "ns-3", name: "r007" });
    await store.update(
      res,
      { namespace: "ns-3", name: "r007" },
      { ...moved, metadata: { ...moved.metadata, labels: { group: "other", tier: "odd" } } },
      Number(moved.metadata.resourceVersion),
    );
    const inSel = parseLabelSelector("group in (wanted,other),tier=odd");
    const all = await store.list(res, {
      labelSelector: inSel,
      fieldSelector: [],
      consistency: { kind: "latest" },
    });
    expect(all.items.map((o) => o.metadata.name)).toEqual(["r057", "r157", "r007", "r107"]);
    const wanted = await store.list(res, {
      labelSelector: sel,
      fieldSelector: [],
      namespace: "ns-3",
      consistency: { kind: "latest" },
    });
    expect(wanted.items.map((o) => o.metadata.name)).toEqual(["r107"]);
    await store.delete(res, { namespace: "ns-1", name: "r057" });
    const after = await store.list(res, {
      labelSelector: sel,
      fieldSelector: [],
      consistency: { kind: "latest" },
    });
    expect(after.items.map((o) => o.metadata.name)).toEqual(["r157", "r107"]);
    await store.close();
  });

  it("moves only the labels an update changed, and keeps no key under a label it no longer has", () => {
    const index = new LabelIndex();
    const keys = (selector: string) => [...(index.candidates(parseLabelSelector(selector)) ?? [])];
    index.add("ns/a", { env: "prod", tier: "web", keep: "x" });
    index.add("ns/b", { env: "prod" });
    index.replace("ns/a", { env: "prod", tier: "web", keep: "x" }, { env: "dev", keep: "x", owner: "t" });
    expect(keys("env=prod")).toEqual(["ns/b"]);
    expect(keys("env=dev")).toEqual(["ns/a"]);
    expect(keys("tier=web")).toEqual([]);
    expect(keys("keep=x")).toEqual(["ns/a"]);
    expect(keys("owner=t")).toEqual(["ns/a"]);
    index.replace("ns/b", { env: "prod" }, undefined);
    expect(keys("env=prod")).toEqual([]);
    index.replace("ns/b", undefined, { env: "prod" });
    expect(keys("env=prod")).toEqual(["ns/b"]);
  });
});
