import type { Etcd3 } from "etcd3";
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../src/apimachinery/types.js";
import { createEtcdStorage } from "../../src/storage/etcd/index.js";
import { orderedProgress } from "../../src/storage/etcd/watch.js";
import type { EtcdOptions } from "../../src/storage/etcd/index.js";
import { StorageError } from "../../src/storage/interface.js";
import type { StorageResource, WatchEvent } from "../../src/storage/interface.js";
import { usePrivateEtcd } from "../support/etcd.js";
import type { PrivateEtcd } from "../support/etcd.js";
import { CLUSTER_POLICY_REPORT, POLICY_REPORT, makeReport } from "../support/reports.js";
import { bigPolicyReport } from "./etcd-reports.js";
import { runStorageSuite } from "./suite.js";

let etcd: PrivateEtcd;
let raw: Etcd3;

usePrivateEtcd((started, client) => {
  etcd = started;
  raw = client;
});

function options(overrides: Partial<EtcdOptions> = {}): EtcdOptions {
  return { endpoints: etcd.endpoints, clusterName: "suite", compactionIntervalMs: 0, ...overrides };
}

/** Compacts etcd's whole history up to its current revision, as an operator's `etcdctl compact` would. */
async function compactAll(): Promise<void> {
  const { header } = await raw.kv.range({ key: Buffer.from("/"), count_only: true });
  await raw.kv.compact({ revision: header.revision, physical: true });
}

runStorageSuite("etcd", async (suiteOptions) => {
  const store = await createEtcdStorage(options(suiteOptions));
  await store.labelIndexReady(); // so the suite's label lists go through the index
  return { store, cleanup: () => store.close(), compact: compactAll };
});

const policyReports: StorageResource = {
  group: "wgpolicyk8s.io",
  resource: "policyreports",
  namespaced: true,
};
const clusterReports: StorageResource = {
  group: "wgpolicyk8s.io",
  resource: "clusterpolicyreports",
  namespaced: false,
};
const all = { labelSelector: [], fieldSelector: [] };

describe("etcd storage", () => {
  it("lays keys out as <prefix>/<cluster>/<group>/<resource>/[<namespace>/]<name>, values the object's JSON", async () => {
    const store = await createEtcdStorage(options({ prefix: "/layout-test/", clusterName: "east" }));
    try {
      await store.labelIndexReady();
      const nsReport = makeReport(POLICY_REPORT, { name: "pod-a", namespace: "team-a" }) as KubeObject;
      const clReport = makeReport(CLUSTER_POLICY_REPORT, { name: "ns-a" }) as KubeObject;
      const created = await store.create(policyReports, { namespace: "team-a", name: "pod-a" }, nsReport);
      const createdCl = await store.create(clusterReports, { namespace: "", name: "ns-a" }, clReport);

      const kvs = await raw.getAll().prefix("/layout-test/").exec();
      const byKey = new Map(kvs.kvs.map((kv) => [kv.key.toString(), kv]));
      expect([...byKey.keys()].sort()).toEqual([
        // the label index: one empty key per label, .labels/<group>/<resource>/<key>=<value>/[<namespace>/]<name>
        "/layout-test/east/.labels-version",
        "/layout-test/east/.labels/wgpolicyk8s.io/clusterpolicyreports/app.kubernetes.io/managed-by=kyverno/ns-a",
        "/layout-test/east/.labels/wgpolicyk8s.io/policyreports/app.kubernetes.io/managed-by=kyverno/team-a/pod-a",
        "/layout-test/east/wgpolicyk8s.io/clusterpolicyreports/ns-a",
        "/layout-test/east/wgpolicyk8s.io/policyreports/team-a/pod-a",
      ]);
      const nsKv = byKey.get("/layout-test/east/wgpolicyk8s.io/policyreports/team-a/pod-a");
      const clKv = byKey.get("/layout-test/east/wgpolicyk8s.io/clusterpolicyreports/ns-a");
      // the value is the object as JSON; the resource version is etcd's mod_revision, not stored in it
      expect(JSON.parse(nsKv?.value.toString() ?? "")).toEqual(nsReport);
      expect(JSON.parse(clKv?.value.toString() ?? "")).toEqual(clReport);
      expect(created.metadata.resourceVersion).toBe(nsKv?.mod_revision);
      expect(createdCl.metadata.resourceVersion).toBe(clKv?.mod_revision);
    } finally {
      await store.close();
      await raw.delete().prefix("/layout-test/");
    }
  });

  it("uses /reports-server as the default prefix", async () => {
    const store = await createEtcdStorage(options({ clusterName: "default-prefix" }));
    try {
      await store.create(
        clusterReports,
        { namespace: "", name: "x" },
        makeReport(CLUSTER_POLICY_REPORT) as KubeObject,
      );
      const keys = await raw.getAll().prefix("/reports-server/default-prefix/").keys();
      expect(keys.filter((k) => !k.includes("/.labels"))).toEqual([
        "/reports-server/default-prefix/wgpolicyk8s.io/clusterpolicyreports/x",
      ]);
    } finally {
      await store.close();
    }
  });

  it("stores a 2.5 MiB report, over etcd's 1.5 MiB request limit, and serves it back whole", async () => {
    const store = await createEtcdStorage(options({ clusterName: "large" }));
    try {
      const key = { namespace: "busy", name: "polr-busy" };
      const report = bigPolicyReport("busy", "polr-busy", 2.5 * 1024 * 1024);
      const json = JSON.stringify(report).length;
      expect(json).toBeGreaterThan(2.5 * 1024 * 1024);

      const from = await store.currentResourceVersion();
      const watchAbort = new AbortController();
      const watched = store.watch(policyReports, { ...all, fromResourceVersion: from }, watchAbort.signal);
      const created = await store.create(policyReports, key, report);
      const rv = created.metadata.resourceVersion;
      expect(await store.get(policyReports, key)).toEqual({
        ...report,
        metadata: { ...report.metadata, resourceVersion: rv },
      });

      // etcd holds it compressed, under its request limit
      const kv = (await raw.get("/reports-server/large/wgpolicyk8s.io/policyreports/busy/polr-busy").exec())
        .kvs[0];
      expect(kv.value.length).toBeLessThan(1.5 * 1024 * 1024);
      expect(kv.value.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));

      const listed = await store.list(policyReports, {
        ...all,
        namespace: "busy",
        consistency: { kind: "latest" },
      });
      expect(listed.items).toHaveLength(1);
      expect((listed.items[0].results as unknown[]).length).toBe((report.results as unknown[]).length);

      const changed = { ...report, summary: { ...(report.summary as object), error: 1 } };
      const updated = await store.update(policyReports, key, changed, Number(rv));
      const events: WatchEvent[] = [];
      for await (const event of watched) {
        if (event.type === "BOOKMARK") continue;
        events.push(event);
        if (events.length === 2) watchAbort.abort();
      }
      expect(events.map((e) => [e.type, e.resourceVersion])).toEqual([
        ["ADDED", Number(rv)],
        ["MODIFIED", Number(updated.metadata.resourceVersion)],
      ]);
      expect(events[1]).toMatchObject({ object: { summary: { error: 1 } } });
    } finally {
      await store.close();
    }
  });

  it("answers Compacted for a continue position whose revision has been compacted", async () => {
    const store = await createEtcdStorage(options({ clusterName: "continue" }));
    try {
      for (const name of ["a", "b", "c", "d"])
        await store.create(
          policyReports,
          { namespace: "n", name },
          makeReport(POLICY_REPORT, { name, namespace: "n" }) as KubeObject,
        );
      const first = await store.list(policyReports, { ...all, limit: 2, consistency: { kind: "latest" } });
      expect(first.continueAfter).toEqual({ namespace: "n", name: "b" });
      expect(first.remainingItemCount).toBe(2);
      const continueFrom = { after: first.continueAfter!, resourceVersion: first.resourceVersion };

      // still kept: the next page is read at the first page's revision, not seeing later writes
      await store.delete(policyReports, { namespace: "n", name: "c" });
      const second = await store.list(policyReports, {
        ...all,
        limit: 2,
        continueFrom,
        consistency: { kind: "latest" },
      });
      expect(second.items.map((o) => o.metadata.name)).toEqual(["c", "d"]);
      expect(second.resourceVersion).toBe(first.resourceVersion);

      await compactAll();
      const err = await store
        .list(policyReports, { ...all, limit: 2, continueFrom, consistency: { kind: "latest" } })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err).toMatchObject({ code: "Compacted" });
    } finally {
      await store.close();
    }
  });

  it("keeps limit exact when matches are spread over many small etcd ranges", async () => {
    const store = await createEtcdStorage(options({ clusterName: "batches", pageSize: 3 }));
    try {
      const matching: string[] = [];
      for (let i = 0; i < 30; i++) {
        const name = `r${String(i).padStart(2, "0")}`;
        const team = i % 3 === 0 ? "a" : "b";
        if (team === "a") matching.push(name);
        await store.create(
          policyReports,
          { namespace: "n", name },
          makeReport(POLICY_REPORT, { name, namespace: "n", labels: { team } }) as KubeObject,
        );
      }
      const selected = { labelSelector: [{ key: "team", op: "=" as const, value: "a" }], fieldSelector: [] };
      const pages: string[][] = [];
      let continueFrom: { after: { namespace: string; name: string }; resourceVersion: number } | undefined;
      for (;;) {
        const page = await store.list(policyReports, {
          ...selected,
          limit: 4,
          continueFrom,
          consistency: { kind: "latest" },
        });
        pages.push(page.items.map((o) => o.metadata.name ?? ""));
        expect(page.remainingItemCount).toBeUndefined();
        if (!page.continueAfter) break;
        continueFrom = {
          after: page.continueAfter,
          resourceVersion: continueFrom?.resourceVersion ?? page.resourceVersion,
        };
      }
      expect(pages.map((p) => p.length)).toEqual([4, 4, 2]);
      expect(pages.flat()).toEqual(matching);
    } finally {
      await store.close();
    }
  });

  it("tells an idle watcher how far the store has moved, from etcd's progress notifications", async () => {
    const store = await createEtcdStorage(options({ clusterName: "progress", bookmarkIntervalMs: 100 }));
    const stop = new AbortController();
    try {
      const from = await store.currentResourceVersion();
      const watch = store.watch(policyReports, { ...all, fromResourceVersion: from }, stop.signal);
      const events = watch[Symbol.asyncIterator]();
      // a write the watcher's range never sees
      const elsewhere = await store.create(
        clusterReports,
        { namespace: "", name: "x" },
        makeReport(CLUSTER_POLICY_REPORT, { name: "x" }) as KubeObject,
      );
      const target = Number(elsewhere.metadata.resourceVersion);
      for (;;) {
        const next = await events.next();
        expect(next.done).toBeFalsy();
        expect(next.value).toMatchObject({ type: "BOOKMARK" });
        if ((next.value as WatchEvent).resourceVersion >= target) break;
      }
    } finally {
      stop.abort();
      await store.close();
    }
  });

  it("asks etcd for progress only on versions that send it in order with events (etcd #15220)", () => {
    expect(["3.4.23", "3.4.24", "3.5.7", "3.5.8", "3.6.0", "4.0.0"].map(orderedProgress)).toEqual([
      false,
      true,
      false,
      true,
      true,
      true,
    ]);
  });

  it("catches a watcher up through more history than its buffer holds, dropping nothing", async () => {
    const store = await createEtcdStorage(options({ clusterName: "catch-up", watchBufferSize: 8 }));
    const stop = new AbortController();
    try {
      const from = await store.currentResourceVersion();
      const names: string[] = [];
      for (let i = 0; i < 60; i++) {
        const name = `r${String(i).padStart(2, "0")}`;
        names.push(name);
        await store.create(
          policyReports,
          { namespace: "n", name },
          makeReport(POLICY_REPORT, { name, namespace: "n" }) as KubeObject,
        );
      }
      const seen: string[] = [];
      const rvs: number[] = [];
      for await (const event of store.watch(
        policyReports,
        { ...all, fromResourceVersion: from },
        stop.signal,
      )) {
        if (event.type === "BOOKMARK") continue;
        seen.push(event.object.metadata.name ?? "");
        rvs.push(event.resourceVersion);
        await new Promise((r) => setTimeout(r, 2)); // a consumer slower than etcd
        if (seen.length === names.length) break;
      }
      expect(seen).toEqual(names);
      expect([...rvs].sort((a, b) => a - b)).toEqual(rvs);
    } finally {
      stop.abort();
      await store.close();
    }
  });
});
