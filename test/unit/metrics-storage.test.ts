import { describe, expect, it } from "vitest";
import { loadResources } from "../../src/resources/index.js";
import { createMetrics, type Metrics } from "../../src/server/metrics.js";
import { StorageError, type Storage, type StorageResource } from "../../src/storage/interface.js";
import { hasPoolStats, instrumentStorage, type PoolStats } from "../../src/storage/instrumented.js";
import { createMemoryStorage } from "../../src/storage/memory/index.js";
import { runStorageSuite } from "../storage/suite.js";

const resources = loadResources();
const PR: StorageResource = { group: "wgpolicyk8s.io", resource: "policyreports", namespaced: true };
const all = { labelSelector: [], fieldSelector: [] };

async function sample(m: Metrics, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const { values } = await m.registry.getSingleMetric(name)!.get();
  const found = values.filter((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} series`);
  return found[0]?.value;
}

const ops = (m: Metrics, operation: string, result: string) =>
  sample(m, "reports_server_storage_operations_total", { backend: "memory", operation, result });

// The wrapper must be invisible: the whole storage contract holds through it.
runStorageSuite("memory, instrumented", async (options) => {
  const m = createMetrics({ resources, defaultMetrics: false });
  const store = instrumentStorage(createMemoryStorage({ historySize: 500, ...options }), "memory", m.storage);
  return { store, cleanup: () => store.close() };
});

describe("storage metrics", () => {
  it("count operations by result and time them", async () => {
    const m = createMetrics({ resources, defaultMetrics: false });
    const store = instrumentStorage(createMemoryStorage(), "memory", m.storage);
    const created = await store.create(
      PR,
      { namespace: "a", name: "x" },
      { metadata: { name: "x", namespace: "a" } },
    );
    await expect(
      store.create(PR, { namespace: "a", name: "x" }, { metadata: { name: "x" } }),
    ).rejects.toThrow(StorageError);
    await expect(store.get(PR, { namespace: "a", name: "nope" })).rejects.toThrow(StorageError);
    await expect(
      store.update(
        PR,
        { namespace: "a", name: "x" },
        created,
        Number(created.metadata.resourceVersion) + 100,
      ),
    ).rejects.toThrow(StorageError);
    await store.list(PR, { ...all, consistency: { kind: "latest" } });
    expect(await ops(m, "create", "ok")).toBe(1);
    expect(await ops(m, "create", "KeyExists")).toBe(1);
    expect(await ops(m, "get", "KeyNotFound")).toBe(1);
    expect(await ops(m, "update", "Conflict")).toBe(1);
    expect(await ops(m, "list", "ok")).toBe(1);
    const text = await m.registry.metrics();
    expect(text).toMatch(
      /reports_server_storage_operation_duration_seconds_count\{backend="memory",operation="create"\} 2/,
    );
  });

  it("count a watch once, when it ends, with the error that ended it", async () => {
    const m = createMetrics({ resources, defaultMetrics: false });
    const inner = createMemoryStorage({ historySize: 2 });
    const store = instrumentStorage(inner, "memory", m.storage);
    for (const name of ["a", "b", "c", "d"])
      await store.create(PR, { namespace: "n", name }, { metadata: { name, namespace: "n" } });

    const ac = new AbortController();
    const it = store.watch(PR, { ...all, fromResourceVersion: 0 }, ac.signal)[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toMatchObject({ code: "Compacted" });
    expect(await ops(m, "watch", "Compacted")).toBe(1);

    const live = new AbortController();
    const rv = await store.currentResourceVersion();
    const events = store.watch(PR, { ...all, fromResourceVersion: rv }, live.signal);
    const seen: string[] = [];
    const consumed = (async () => {
      for await (const e of events) {
        seen.push(e.type);
        if (e.type === "ADDED") break;
      }
    })();
    await store.create(PR, { namespace: "n", name: "e" }, { metadata: { name: "e", namespace: "n" } });
    await consumed;
    live.abort();
    expect(seen).toContain("ADDED");
    expect(await ops(m, "watch", "ok")).toBe(1);
    const text = await m.registry.metrics();
    expect(text).not.toMatch(/reports_server_storage_operation_duration_seconds_\w+\{[^}]*operation="watch"/);
  });

  it("count a watcher the store drops for falling behind (TooSlow) as a slow watcher of its kind", async () => {
    const m = createMetrics({ resources, defaultMetrics: false });
    const store = instrumentStorage(createMemoryStorage({ watchBufferSize: 4 }), "memory", m.storage);
    const ac = new AbortController();
    const from = await store.currentResourceVersion();
    const slow = store.watch(PR, { ...all, fromResourceVersion: from }, ac.signal)[Symbol.asyncIterator]();
    const first = slow.next();
    await store.create(PR, { namespace: "n", name: "o0" }, { metadata: { name: "o0", namespace: "n" } });
    expect((await first).value).toMatchObject({ type: "ADDED" });
    for (let i = 1; i < 20; i++)
      await store.create(
        PR,
        { namespace: "n", name: `o${i}` },
        { metadata: { name: `o${i}`, namespace: "n" } },
      );
    const drained = async () => {
      for (;;) await slow.next();
    };
    await expect(drained()).rejects.toMatchObject({ code: "TooSlow" });
    ac.abort();
    expect(await ops(m, "watch", "TooSlow")).toBe(1);
    const dropped = "reports_server_watchers_dropped_total";
    expect(await sample(m, dropped, { group: PR.group, resource: PR.resource, reason: "store-buffer" })).toBe(
      1,
    );
  });

  it("count stored objects per kind on scrape, reusing a count for objectsCacheMs", async () => {
    const m = createMetrics({ resources, defaultMetrics: false, objectsCacheMs: 60_000 });
    const store = instrumentStorage(createMemoryStorage(), "memory", m.storage);
    await store.create(PR, { namespace: "a", name: "x" }, { metadata: { name: "x", namespace: "a" } });
    const objects = (resource: string) => sample(m, "apiserver_storage_objects", { resource });
    expect(await objects("policyreports.wgpolicyk8s.io")).toBe(1);
    expect(await objects("clusterreports.openreports.io")).toBe(0);
    const counts = await ops(m, "count", "ok");
    expect(counts).toBe(resources.length);
    await store.create(PR, { namespace: "a", name: "y" }, { metadata: { name: "y", namespace: "a" } });
    // Within the cache window: no new count, the old value.
    expect(await objects("policyreports.wgpolicyk8s.io")).toBe(1);
    expect(await ops(m, "count", "ok")).toBe(counts);

    const fresh = createMetrics({ resources, defaultMetrics: false, objectsCacheMs: 0 });
    instrumentStorage(store, "memory", fresh.storage);
    expect(
      await sample(fresh, "apiserver_storage_objects", { resource: "policyreports.wgpolicyk8s.io" }),
    ).toBe(2);
  });

  it("report -1 for a kind whose count failed, as kube-apiserver does", async () => {
    const m = createMetrics({ resources, defaultMetrics: false, objectsCacheMs: 0 });
    const inner = createMemoryStorage();
    await inner.close();
    const failing: Storage = {
      ...bind(inner),
      count: async () => {
        throw new StorageError("Unavailable", "store closed");
      },
    };
    instrumentStorage(failing, "memory", m.storage);
    expect(await sample(m, "apiserver_storage_objects", { resource: "policyreports.wgpolicyk8s.io" })).toBe(
      -1,
    );
    expect(await ops(m, "count", "Unavailable")).toBe(resources.length);
  });

  it("show a pool's occupancy when the backend reports one, and nothing otherwise", async () => {
    const m = createMetrics({ resources, defaultMetrics: false });
    const plain = instrumentStorage(createMemoryStorage(), "memory", m.storage);
    expect(hasPoolStats(plain)).toBe(false);
    expect(await m.registry.metrics()).not.toMatch(/^reports_server_storage_pool_\w+\{/m);

    // A backend that implements the optional poolStats() (as PostgreSQL should).
    const stats: PoolStats = { size: 10, idle: 3, waiting: 4 };
    const pooled = Object.assign(bind(createMemoryStorage()), { poolStats: () => stats });
    const m2 = createMetrics({ resources, defaultMetrics: false });
    const wrapped = instrumentStorage(pooled, "postgres", m2.storage);
    expect(hasPoolStats(wrapped)).toBe(true);
    const pool = "reports_server_storage_pool_connections";
    expect(await sample(m2, pool, { backend: "postgres", state: "open" })).toBe(10);
    expect(await sample(m2, pool, { backend: "postgres", state: "idle" })).toBe(3);
    expect(await sample(m2, "reports_server_storage_pool_waiting", { backend: "postgres" })).toBe(4);
    stats.waiting = 0;
    expect(await sample(m2, "reports_server_storage_pool_waiting", { backend: "postgres" })).toBe(0);
  });
});

/** The store's methods as own properties, so a spread or Object.assign keeps them. */
function bind(s: Storage): Storage {
  return {
    get: s.get.bind(s),
    create: s.create.bind(s),
    update: s.update.bind(s),
    delete: s.delete.bind(s),
    list: s.list.bind(s),
    watch: s.watch.bind(s),
    count: s.count.bind(s),
    currentResourceVersion: s.currentResourceVersion.bind(s),
    ready: s.ready.bind(s),
    close: s.close.bind(s),
  };
}
