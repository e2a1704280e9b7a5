import type { Etcd3 } from "etcd3";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../src/apimachinery/types.js";
import { createEtcdStorage } from "../../src/storage/etcd/index.js";
import type { EtcdOptions } from "../../src/storage/etcd/index.js";
import { isStorageError } from "../../src/storage/interface.js";
import type { Storage, StorageResource, WatchEvent } from "../../src/storage/interface.js";
import { usePrivateEtcd } from "../support/etcd.js";
import type { PrivateEtcd } from "../support/etcd.js";
import { POLICY_REPORT, makeReport } from "../support/reports.js";

/** Two servers on one etcd, as two replicas of a Deployment are. */

let etcd: PrivateEtcd;
let raw: Etcd3;

usePrivateEtcd((started, client) => {
  etcd = started;
  raw = client;
});

const reports: StorageResource = { group: "wgpolicyk8s.io", resource: "policyreports", namespaced: true };
const all = { labelSelector: [], fieldSelector: [] };
const report = (name: string, extra: Record<string, unknown> = {}) =>
  makeReport(POLICY_REPORT, { name, namespace: "apps", extra }) as KubeObject;

function replica(
  clusterName: string,
  overrides: Partial<EtcdOptions> = {},
  log?: pino.Logger,
): Promise<Storage> {
  return createEtcdStorage(
    { endpoints: etcd.endpoints, clusterName, compactionIntervalMs: 0, ...overrides },
    log,
  );
}

function iterate<T>(iterable: AsyncIterable<T>): AsyncIterator<T> {
  return iterable[Symbol.asyncIterator]();
}

async function take(events: AsyncIterator<WatchEvent>, n: number): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  while (out.length < n) {
    const next = await events.next();
    if (next.done) throw new Error("watch ended");
    if (next.value.type !== "BOOKMARK") out.push(next.value);
  }
  return out;
}

describe("etcd storage with two replicas", () => {
  it("lets each replica watch what the other writes", async () => {
    const a = await replica("replicas-watch");
    const b = await replica("replicas-watch");
    const stop = new AbortController();
    try {
      const from = await a.currentResourceVersion();
      const onA = iterate(a.watch(reports, { ...all, fromResourceVersion: from }, stop.signal));
      const onB = iterate(b.watch(reports, { ...all, fromResourceVersion: from }, stop.signal));
      const x = await b.create(reports, { namespace: "apps", name: "x" }, report("x"));
      const x2 = await a.update(
        reports,
        { namespace: "apps", name: "x" },
        report("x", { n: 2 }),
        Number(x.metadata.resourceVersion),
      );
      await b.delete(reports, { namespace: "apps", name: "x" });
      const seenByA = await take(onA, 3);
      const seenByB = await take(onB, 3);
      const expected = [
        ["ADDED", x.metadata.resourceVersion],
        ["MODIFIED", x2.metadata.resourceVersion],
        ["DELETED", String(seenByA[2].resourceVersion)],
      ];
      const shape = (es: WatchEvent[]) =>
        es.map((e) => [e.type, e.type === "BOOKMARK" ? "" : e.object.metadata.resourceVersion]);
      expect(shape(seenByA)).toEqual(expected);
      expect(shape(seenByB)).toEqual(expected);
    } finally {
      stop.abort();
      await a.close();
      await b.close();
    }
  });

  it("lets exactly one of two replicas win a create or an update of the same version", async () => {
    const a = await replica("replicas-conflict");
    const b = await replica("replicas-conflict");
    try {
      const key = { namespace: "apps", name: "contended" };
      const creates = await Promise.allSettled([
        a.create(reports, key, report("contended")),
        b.create(reports, key, report("contended")),
      ]);
      expect(creates.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const lost = creates.find((r) => r.status === "rejected");
      expect(isStorageError(lost?.reason, "KeyExists")).toBe(true);

      for (let round = 0; round < 5; round++) {
        const seen = Number((await a.get(reports, key)).metadata.resourceVersion);
        const updates = await Promise.allSettled([
          a.update(reports, key, report("contended", { by: "a", round }), seen),
          b.update(reports, key, report("contended", { by: "b", round }), seen),
        ]);
        const won = updates.filter((r) => r.status === "fulfilled");
        expect(won).toHaveLength(1);
        const failed = updates.find((r) => r.status === "rejected");
        expect(isStorageError(failed?.reason, "Conflict")).toBe(true);
        // both replicas read the winner
        const winner = (won[0] as PromiseFulfilledResult<KubeObject>).value;
        expect(await b.get(reports, key)).toEqual(winner);
        expect(await a.get(reports, key)).toEqual(winner);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("compacts on the interval, with only one replica compacting at a time", async () => {
    const intervalMs = 300;
    const compactions: { replica: string; revision: number; at: number }[] = [];
    const logTo = (name: string) =>
      pino(
        { level: "info" },
        {
          write(line: string) {
            const entry = JSON.parse(line) as { msg: string; revision?: number };
            if (entry.msg === "compacted etcd history" && entry.revision !== undefined)
              compactions.push({ replica: name, revision: entry.revision, at: Date.now() });
          },
        },
      );
    const started = Date.now();
    const a = await replica("compaction", { compactionIntervalMs: intervalMs }, logTo("a"));
    await new Promise((r) => setTimeout(r, intervalMs / 3));
    const b = await replica("compaction", { compactionIntervalMs: intervalMs }, logTo("b"));
    const first = await a.currentResourceVersion();
    try {
      // traffic while the compactors run: eight intervals, longer if a loaded machine delayed the
      // first compactions
      let i = 0;
      const ran = () => Date.now() - started;
      while (ran() < 8 * intervalMs || (compactions.length < 3 && ran() < 40 * intervalMs)) {
        await (i % 2 ? a : b).create(reports, { namespace: "apps", name: `r${i}` }, report(`r${i}`));
        i++;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await a.close();
      await b.close();
    }
    const elapsed = Date.now() - started;
    // each tick after the first compacts once, by whichever replica wins the key; two
    // uncoordinated compactors would compact about twice as often
    expect(compactions.length).toBeGreaterThanOrEqual(3);
    expect(compactions.length).toBeLessThanOrEqual(Math.floor(elapsed / intervalMs));
    const revisions = compactions.map((c) => c.revision);
    expect(new Set(revisions).size).toBe(revisions.length);
    expect([...revisions].sort((x, y) => x - y)).toEqual(revisions);

    // the key holds the last compacted revision; its version counts the won ticks
    const kv = (await raw.get("/reports-server/compaction/compaction").exec()).kvs[0];
    expect(Number(kv.value.toString())).toBe(revisions[revisions.length - 1]);
    expect(Number(kv.version)).toBe(compactions.length + 1);

    // history before the compacted revision is gone for watchers
    const c = await replica("compaction");
    try {
      const watch = c.watch(reports, { ...all, fromResourceVersion: first }, AbortSignal.timeout(10_000));
      const err = await iterate(watch)
        .next()
        .catch((e: unknown) => e);
      expect(isStorageError(err, "Compacted")).toBe(true);
    } finally {
      await c.close();
    }
  });
});
