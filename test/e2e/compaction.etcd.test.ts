import { describe, expect, it } from "vitest";
import { get, openWatch, post } from "../support/http.js";
import { POLICY_REPORT, makeReport, resourcePath, uniqueName } from "../support/reports.js";
import { listItems, nameOf, sleep } from "./support/events.js";
import { useCluster } from "./support/stores.js";

type Page = { metadata: { resourceVersion: string; continue?: string } };

/**
 * The server's own compactor (elected among replicas, one interval of history kept) forgets old
 * revisions: what pointed into them (a watch's resource version, a continue token) gets
 * 410 Expired, as from kube-apiserver, and clients recover by listing again.
 */
describe("etcd compaction by the servers themselves", () => {
  // two replicas compete for the compaction election; one compacts each interval
  const cluster = useCluster("etcd", [["--etcd-compaction-interval=1s"], ["--etcd-compaction-interval=1s"]]);

  it("a watch from a compacted resource version gets 410 Expired; so does a continue token", async () => {
    const [a, b] = cluster.servers();
    const ns = uniqueName("compact");
    const path = resourcePath(POLICY_REPORT, ns);
    for (const n of ["a", "b", "c"]) {
      const res = await post(a, path, makeReport(POLICY_REPORT, { name: n, namespace: ns }));
      expect(res.status, res.body).toBe(201);
    }
    const page = (await get(b, `${path}?limit=1`)).json<Page>();
    const old = page.metadata.resourceVersion;
    expect(page.metadata.continue).toBeTruthy();

    // Keep writing (a compaction at R keeps R; a watch from `old` needs old+1) until a watch from
    // `old` is refused: that takes two or three intervals.
    let i = 0;
    let expired: Awaited<ReturnType<typeof openWatch>> | undefined;
    const deadline = Date.now() + 20_000;
    while (!expired && Date.now() < deadline) {
      const res = await post(a, path, makeReport(POLICY_REPORT, { name: `more-${i++}`, namespace: ns }));
      expect(res.status, res.body).toBe(201);
      const w = await openWatch(b, `${path}?watch=true&resourceVersion=${old}`);
      expect(w.status, w.body).toBe(200);
      const first = await w.next(1_000);
      if (first?.type === "ERROR") expired = w;
      else w.close();
      await sleep(300);
    }
    expect(
      expired,
      "a watch from a resource version older than two compaction intervals still replays",
    ).toBeDefined();
    const ended = await Promise.race([expired!.ended.then(() => true), sleep(5_000).then(() => false)]);
    expired!.close();
    expect(ended, "the stream stays open after the ERROR event").toBe(true);
    expect(expired!.events).toHaveLength(1);
    expect(expired!.events[0].object).toMatchObject({
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      reason: "Expired",
      code: 410,
    });
    expect(expired!.events[0].object.message as string).toMatch(
      new RegExp(`^too old resource version: ${old} \\(\\d+\\)$`),
    );

    for (const s of [a, b]) {
      const cont = await get(s, `${path}?limit=1&continue=${encodeURIComponent(page.metadata.continue!)}`);
      expect(cont.status, cont.body).toBe(410);
      expect(cont.json()).toMatchObject({ kind: "Status", reason: "Expired", code: 410 });
      expect(cont.json().message as string).toMatch(
        /^The provided continue parameter is too old to display a consistent list result/,
      );
    }

    // What a client does next: list again and watch from there; that works on either replica.
    const fresh = listItems(await get(a, path));
    expect(fresh.items.map(nameOf).sort()).toEqual(
      ["a", "b", "c", ...Array.from({ length: i }, (_, k) => `more-${k}`)].sort(),
    );
    const w = await openWatch(b, `${path}?watch=true&resourceVersion=${fresh.resourceVersion}`);
    try {
      expect(w.status, w.body).toBe(200);
      const res = await post(a, path, makeReport(POLICY_REPORT, { name: "after", namespace: ns }));
      expect(res.status, res.body).toBe(201);
      const e = await w.waitFor((x) => x.type !== "BOOKMARK");
      expect([e.type, nameOf(e.object)]).toEqual(["ADDED", "after"]);
    } finally {
      w.close();
    }
  }, 60_000);
});
