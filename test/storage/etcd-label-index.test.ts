import type { Etcd3 } from "etcd3";
import type { IRangeRequest, IRangeResponse, ITxnRequest, ITxnResponse } from "etcd3";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { LabelSelector } from "../../src/apimachinery/selector-ast.js";
import type { KubeObject } from "../../src/apimachinery/types.js";
import { createEtcdClient } from "../../src/storage/etcd/client.js";
import { createEtcdStorage } from "../../src/storage/etcd/index.js";
import type { EtcdOptions } from "../../src/storage/etcd/index.js";
import { resolveEtcdOptions } from "../../src/storage/etcd/options.js";
import { EtcdStorage } from "../../src/storage/etcd/storage.js";
import { StorageError, compareKeys } from "../../src/storage/interface.js";
import type { ListOptions, StorageResource } from "../../src/storage/interface.js";
import { usePrivateEtcd } from "../support/etcd.js";
import type { PrivateEtcd } from "../support/etcd.js";
import {
  cluster,
  decodeEncoded,
  keysOf,
  listAllPages,
  listOptions,
  ns,
  rvOf,
  thing,
} from "./suite/helpers.js";

let etcd: PrivateEtcd;
let raw: Etcd3;

usePrivateEtcd((started, client) => {
  etcd = started;
  raw = client;
});

const group = "index.storage.test";
let sequence = 0;
const fresh = (namespaced = true): StorageResource => ({
  group,
  resource: `things${++sequence}`,
  namespaced,
});

function options(clusterName: string, overrides: Partial<EtcdOptions> = {}): EtcdOptions {
  return { endpoints: etcd.endpoints, clusterName, compactionIntervalMs: 0, ...overrides };
}

/** What the store asked etcd for: reads (ranges and transactions), and the object values they returned. */
interface ReadStats {
  reads: number;
  /** Object values received (index entries and counts carry none). */
  values: number;
  /** Ranges over the label index that return entries (not counts). */
  indexRanges: number;
}

/**
 * A store whose etcd client counts what it reads: the real client and etcd, with `kv.range` and
 * `kv.txn` wrapped. Ready once its label index is usable.
 */
async function countingStore(
  clusterName: string,
  overrides: Partial<EtcdOptions> = {},
): Promise<{ store: EtcdStorage; stats: ReadStats }> {
  const resolved = resolveEtcdOptions(options(clusterName, overrides));
  const client = createEtcdClient(resolved);
  const stats: ReadStats = { reads: 0, values: 0, indexRanges: 0 };
  const range = client.kv.range.bind(client.kv);
  client.kv.range = async (req: IRangeRequest, ...rest): Promise<IRangeResponse> => {
    const resp = await range(req, ...rest);
    stats.reads++;
    const key = Buffer.from(req.key ?? "").toString();
    if (key.includes("/.labels/") && !req.count_only) stats.indexRanges++;
    stats.values += resp.kvs.filter((kv) => kv.value.length > 0).length;
    return resp;
  };
  const txn = client.kv.txn.bind(client.kv);
  client.kv.txn = async (req: ITxnRequest, ...rest): Promise<ITxnResponse> => {
    const resp = await txn(req, ...rest);
    const ranges = resp.responses.filter((r) => r.response_range);
    if (ranges.length > 0) stats.reads++;
    for (const r of ranges) stats.values += r.response_range.kvs.filter((kv) => kv.value.length > 0).length;
    return resp;
  };
  const store = new EtcdStorage(client, resolved, pino({ level: "silent" }));
  await store.labelIndexReady();
  return { store, stats };
}

function reset(stats: ReadStats): void {
  stats.reads = stats.values = stats.indexRanges = 0;
}

const eq = (key: string, value: string): LabelSelector => [{ key, op: "=", value }];
/** The same set as `eq`, as a selector the index cannot serve (an `in` with two values), so lists scan. */
const scanned = (key: string, value: string): LabelSelector => [
  { key, op: "in", values: [value, "no-such-value"] },
];

/** Every page of a list, then the same list as a scan must give: items in order, full pages but the last. */
async function expectSameAsScan(
  store: EtcdStorage,
  r: StorageResource,
  key: string,
  value: string,
  extra: Partial<ListOptions> & { limit: number },
): Promise<string[]> {
  const byIndex = await listAllPages(store, r, { ...extra, labelSelector: eq(key, value) });
  const byScan = await listAllPages(store, r, { ...extra, labelSelector: scanned(key, value) });
  expect(keysOf(byIndex.items), JSON.stringify(extra)).toEqual(keysOf(byScan.items));
  const got = keysOf(byIndex.items);
  expect(new Set(got).size, "no item twice").toBe(got.length);
  if (extra.limit > 0)
    for (const page of byIndex.pages.slice(0, -1)) expect(page.items.length).toBe(extra.limit);
  return got;
}

describe("etcd label index", () => {
  it("lists by label with paging, continue, namespaces and cluster scope as a scan does, reading the index", async () => {
    // small pages: scans and index reads both take several ranges
    const { store, stats } = await countingStore("same-answers", { pageSize: 7 });
    try {
      const r = fresh();
      const keys = Array.from({ length: 60 }, (_, i) =>
        ns(`ns-${i % 4}`, `obj-${String(i).padStart(2, "0")}`),
      );
      // every 7th has pick=yes, half have half=yes, three each uid-N
      const labelsOf = (i: number) => ({
        pick: i % 7 === 0 ? "yes" : "no",
        half: i % 2 === 0 ? "yes" : "no",
        "audit.kyverno.io/resource.uid": `uid-${i % 20}`,
      });
      await Promise.all(keys.map((k, i) => store.create(r, k, thing(k, labelsOf(i)))));
      const picked = keys.filter((_, i) => i % 7 === 0);

      for (const limit of [0, 1, 2, 4, 100]) {
        reset(stats);
        const got = await expectSameAsScan(store, r, "pick", "yes", { limit });
        expect(got).toEqual(keysOf([...picked].sort(compareKeys).map((k) => thing(k))));
        expect(stats.indexRanges, `limit ${limit} reads the index`).toBeGreaterThan(0);
      }
      for (const namespace of ["ns-0", "ns-3", "nothing"])
        await expectSameAsScan(store, r, "pick", "yes", { limit: 2, namespace });
      await expectSameAsScan(store, r, "audit.kyverno.io/resource.uid", "uid-4", { limit: 1 });
      await expectSameAsScan(store, r, "half", "yes", { limit: 5 });
      await expectSameAsScan(store, r, "pick", "maybe", { limit: 3 });
      // with a field selector and a second requirement
      await expectSameAsScan(store, r, "pick", "yes", {
        limit: 2,
        fieldSelector: [{ field: "metadata.namespace", op: "!=", value: "ns-0" }],
      });
      const both = await listAllPages(store, r, {
        limit: 1,
        labelSelector: [...eq("pick", "yes"), ...eq("half", "no")],
      });
      expect(keysOf(both.items)).toEqual(
        keysOf(
          keys
            .filter((_, i) => i % 7 === 0 && i % 2 === 1)
            .sort(compareKeys)
            .map((k) => thing(k)),
        ),
      );
      // `in` with one value is an equality too; JSON answers give the same pages
      const asIn = await listAllPages(store, r, {
        limit: 3,
        labelSelector: [{ key: "pick", op: "in", values: ["yes"] }],
        encoded: true,
      });
      expect(asIn.pages.flatMap((p) => (p.encoded ?? []).map((j) => decodeEncoded(j).metadata.name))).toEqual(
        keysOf([...picked].sort(compareKeys).map((k) => thing(k))).map((k) => k.split("/")[1]),
      );

      const c = fresh(false);
      const names = Array.from({ length: 30 }, (_, i) => cluster(`c-${String(i).padStart(2, "0")}`));
      await Promise.all(
        names.map((k, i) => store.create(c, k, thing(k, { pick: i % 5 === 0 ? "yes" : "no" }))),
      );
      for (const limit of [0, 1, 3]) {
        reset(stats);
        expect(await expectSameAsScan(store, c, "pick", "yes", { limit })).toEqual([
          "c-00",
          "c-05",
          "c-10",
          "c-15",
          "c-20",
          "c-25",
        ]);
        expect(stats.indexRanges).toBeGreaterThan(0);
      }
    } finally {
      await store.close();
    }
  });

  it("follows labels changed or removed by updates, and deletes, and drops the stale entries a list finds", async () => {
    const { store } = await countingStore("updates");
    try {
      const r = fresh();
      const filler = Array.from({ length: 20 }, (_, i) => ns("u", `filler-${i}`));
      await Promise.all(filler.map((k) => store.create(r, k, thing(k, { team: "other" }))));
      const a = await store.create(r, ns("u", "a"), thing(ns("u", "a"), { team: "red" }));
      const b = await store.create(r, ns("u", "b"), thing(ns("u", "b"), { team: "red" }));
      const c = await store.create(r, ns("u", "c"), thing(ns("u", "c"), { team: "red" }));
      const names = async (team: string) =>
        keysOf((await store.list(r, listOptions({ labelSelector: eq("team", team) }))).items);
      expect(await names("red")).toEqual(["u/a", "u/b", "u/c"]);

      await store.update(r, ns("u", "a"), thing(ns("u", "a"), { team: "blue" }), rvOf(a));
      await store.update(r, ns("u", "b"), thing(ns("u", "b")), rvOf(b));
      await store.delete(r, ns("u", "c"), rvOf(c));
      expect(await names("red")).toEqual([]);
      expect(await names("blue")).toEqual(["u/a"]);

      // the delete removed its entries; the updates' stale ones go once a list has found them
      const entries = () =>
        raw.getAll().prefix(`/reports-server/updates/.labels/${group}/${r.resource}/team=red/`).keys();
      await expect.poll(entries, { timeout: 5_000 }).toEqual([]);

      // labels back: found again (the update wrote the entry anew)
      const a2 = await store.get(r, ns("u", "a"));
      await store.update(r, ns("u", "a"), thing(ns("u", "a"), { team: "red" }), rvOf(a2));
      await store.create(r, ns("u", "c"), thing(ns("u", "c"), { team: "red" }));
      expect(await names("red")).toEqual(["u/a", "u/c"]);
      expect(await names("blue")).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it("writes an update's entries only for labels the version it replaces lacked, and lists stay exact", async () => {
    const { store } = await countingStore("unchanged");
    try {
      const r = fresh();
      const k = ns("u", "a");
      const prefix = `/reports-server/unchanged/.labels/${group}/${r.resource}/`;
      // etcd counts the puts of each key since its creation (`version`)
      const versions = async () =>
        Object.fromEntries(
          Object.entries(
            await raw
              .getAll()
              .prefix(prefix)
              .exec()
              .then((res) => res.kvs),
          ).map(([, kv]) => [kv.key.toString().slice(prefix.length), Number(kv.version)]),
        );
      let current = await store.create(r, k, thing(k, { team: "red", tier: "web" }));
      for (let i = 0; i < 3; i++) {
        const next = thing(k, { team: "red", tier: "web" }, { i });
        current = await store.update(r, k, next, rvOf(current), current);
      }
      expect(await versions()).toEqual({ "team=red/u/a": 1, "tier=web/u/a": 1 });

      // a changed label gets its entry; the unchanged one is left as it is
      current = await store.update(r, k, thing(k, { team: "blue", tier: "web" }), rvOf(current), current);
      const names = async (key: string, value: string) =>
        keysOf((await store.list(r, listOptions({ labelSelector: eq(key, value) }))).items);
      expect(await names("team", "blue")).toEqual(["u/a"]);
      expect(await names("tier", "web")).toEqual(["u/a"]);
      expect(await names("team", "red")).toEqual([]);
      await expect.poll(versions, { timeout: 5_000 }).toEqual({ "team=blue/u/a": 1, "tier=web/u/a": 1 });

      // without the previous version every entry is written again, as before
      await store.update(r, k, thing(k, { team: "blue", tier: "web" }, { i: 9 }), rvOf(current));
      expect(await versions()).toEqual({ "team=blue/u/a": 2, "tier=web/u/a": 2 });
    } finally {
      await store.close();
    }
  });

  it("builds the index on start for objects stored before it existed, and lists correctly meanwhile", async () => {
    const clusterName = "backfill";
    const root = `/reports-server/${clusterName}`;
    const r = fresh();
    const c = fresh(false);
    // objects as an older server stored them: values only, no index entries, no marker
    const write = (key: string, object: KubeObject) =>
      raw.put(`${root}/${key}`).value(JSON.stringify(object));
    for (let i = 0; i < 40; i++) {
      const k = ns(`b${i % 3}`, `old-${String(i).padStart(2, "0")}`);
      await write(`${group}/${r.resource}/${k.namespace}/${k.name}`, thing(k, { uid: `u${i % 10}` }));
    }
    for (let i = 0; i < 12; i++)
      await write(`${group}/${c.resource}/old-${i}`, thing(cluster(`old-${i}`), { uid: `u${i % 6}` }));
    await raw.put(`${root}/compaction`).value("0"); // the server's own keys are not objects

    const store = await createEtcdStorage(options(clusterName));
    try {
      // before the marker: a scan, right away
      const early = await store.list(r, listOptions({ labelSelector: eq("uid", "u3") }));
      expect(keysOf(early.items)).toEqual(["b0/old-03", "b0/old-33", "b1/old-13", "b2/old-23"]);
      await store.labelIndexReady();
      expect(await raw.get(`${root}/.labels-version`).string()).toBe("1");
      expect(await raw.getAll().prefix(`${root}/.labels/${group}/${r.resource}/uid=u3/`).keys()).toEqual([
        `${root}/.labels/${group}/${r.resource}/uid=u3/b0/old-03`,
        `${root}/.labels/${group}/${r.resource}/uid=u3/b0/old-33`,
        `${root}/.labels/${group}/${r.resource}/uid=u3/b1/old-13`,
        `${root}/.labels/${group}/${r.resource}/uid=u3/b2/old-23`,
      ]);
    } finally {
      await store.close();
    }

    // an older replica wrote more while the index was there; deleting the marker rebuilds it on start
    const late = await write(`${group}/${r.resource}/b1/late`, thing(ns("b1", "late"), { uid: "u3" }));
    await raw.delete().key(`${root}/.labels-version`);
    const { store: again, stats } = await countingStore(clusterName);
    try {
      reset(stats);
      const page1 = await again.list(r, listOptions({ labelSelector: eq("uid", "u3"), limit: 3 }));
      expect(keysOf(page1.items)).toEqual(["b0/old-03", "b0/old-33", "b1/late"]);
      expect(stats.indexRanges).toBeGreaterThan(0);
      expect(stats.values).toBe(3);
      await expectSameAsScan(again, r, "uid", "u3", { limit: 2 });
      await expectSameAsScan(again, c, "uid", "u1", { limit: 1 });
      // a revision from before the index was complete again is read by a scan: the index then lacked b1/late
      reset(stats);
      const before = await again.list(
        r,
        listOptions({
          labelSelector: eq("uid", "u3"),
          consistency: { kind: "exact", resourceVersion: Number(late.header.revision) },
        }),
      );
      expect(keysOf(before.items)).toEqual(["b0/old-03", "b0/old-33", "b1/late", "b1/old-13", "b2/old-23"]);
      expect(stats.indexRanges).toBe(0);
    } finally {
      await again.close();
    }
  });

  it("reads a continued page at its pinned revision, before later label changes, and Compacted once that is gone", async () => {
    const { store, stats } = await countingStore("pinned");
    try {
      const r = fresh();
      const keys = Array.from({ length: 40 }, (_, i) => ns("p", `o-${String(i).padStart(2, "0")}`));
      const created = await Promise.all(
        keys.map((k, i) => store.create(r, k, thing(k, { pick: i % 5 === 0 ? "yes" : "no" }))),
      );
      const opts = { labelSelector: eq("pick", "yes"), limit: 3 };
      const first = await store.list(r, listOptions(opts));
      expect(keysOf(first.items)).toEqual(["p/o-00", "p/o-05", "p/o-10"]);
      const continueFrom = { after: first.continueAfter!, resourceVersion: first.resourceVersion };

      // after the first page: o-15 loses the label, o-16 gains it, o-20 goes
      await store.update(r, keys[15], thing(keys[15], { pick: "no" }), rvOf(created[15]));
      await store.update(r, keys[16], thing(keys[16], { pick: "yes" }), rvOf(created[16]));
      await store.delete(r, keys[20]);
      // a fresh list sees all that (and finds o-15's entry stale)
      const now = await listAllPages(store, r, { ...opts, limit: 100 });
      expect(keysOf(now.items)).toEqual([
        "p/o-00",
        "p/o-05",
        "p/o-10",
        "p/o-16",
        "p/o-25",
        "p/o-30",
        "p/o-35",
      ]);

      reset(stats);
      const second = await store.list(r, listOptions({ ...opts, continueFrom }));
      expect(keysOf(second.items)).toEqual(["p/o-15", "p/o-20", "p/o-25"]);
      expect(second.resourceVersion).toBe(first.resourceVersion);
      expect(stats.indexRanges).toBeGreaterThan(0);
      const scan = await store.list(
        r,
        listOptions({ ...opts, labelSelector: scanned("pick", "yes"), continueFrom }),
      );
      expect(keysOf(scan.items)).toEqual(keysOf(second.items));

      const { header } = await raw.kv.range({ key: Buffer.from("/"), count_only: true });
      await raw.kv.compact({ revision: header.revision, physical: true });
      const err = await store.list(r, listOptions({ ...opts, continueFrom })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err).toMatchObject({ code: "Compacted" });
    } finally {
      await store.close();
    }
  });

  it("reads only the matches among 3,000 objects, where a scan reads them all", async () => {
    const { store, stats } = await countingStore("many", { pageSize: 500 });
    try {
      const r = fresh();
      const keys = Array.from({ length: 3_000 }, (_, i) =>
        ns(`n${i % 10}`, `r-${String(i).padStart(4, "0")}`),
      );
      const labelsOf = (i: number) => ({
        "app.kubernetes.io/managed-by": "kyverno",
        "audit.kyverno.io/resource.uid": i % 600 === 7 ? "target" : `uid-${i}`,
      });
      for (let i = 0; i < keys.length; i += 100)
        await Promise.all(
          keys.slice(i, i + 100).map((k, j) => store.create(r, k, thing(k, labelsOf(i + j)))),
        );
      const uid = "audit.kyverno.io/resource.uid";
      const expected = keysOf(
        keys
          .filter((_, i) => i % 600 === 7)
          .sort(compareKeys)
          .map((k) => thing(k)),
      );
      expect(expected).toHaveLength(5);

      reset(stats);
      const byIndex = await store.list(r, listOptions({ labelSelector: eq(uid, "target") }));
      expect(keysOf(byIndex.items)).toEqual(expected);
      expect(stats.values).toBe(5);
      expect(stats.reads).toBe(2); // the first entries with their count, one transaction of gets

      reset(stats);
      const byScan = await store.list(r, listOptions({ labelSelector: scanned(uid, "target") }));
      expect(keysOf(byScan.items)).toEqual(expected);
      expect(stats.values).toBe(3_000);

      // one namespace, and a label most objects have: that one is a scan, cheaper than 3,000 gets
      reset(stats);
      const inNs = await store.list(r, listOptions({ namespace: "n7", labelSelector: eq(uid, "target") }));
      expect(keysOf(inNs.items)).toEqual(expected.filter((k) => k.startsWith("n7/")));
      expect(stats.values).toBe(inNs.items.length);
      reset(stats);
      const common = await store.list(
        r,
        listOptions({ labelSelector: eq("app.kubernetes.io/managed-by", "kyverno"), limit: 10 }),
      );
      expect(common.items).toHaveLength(10);
      // the index is not followed: only its first 10 entries were read, with their count
      expect(stats.indexRanges).toBe(1);
    } finally {
      await store.close();
    }
  }, 120_000);
});
