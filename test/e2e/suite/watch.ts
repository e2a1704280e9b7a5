import { describe, expect, it } from "vitest";
import {
  del,
  get,
  openWatch,
  patch,
  post,
  type JsonObject,
  type WatchEventJson,
} from "../../support/http.js";
import {
  POLICY_REPORT,
  CLUSTER_REPORT,
  makeReport,
  resourcePath,
  uniqueName,
  type Obj,
} from "../../support/reports.js";
import { testLabel } from "./crud.js";
import { h2Client } from "../support/held.js";
import { kOk, kStart, yamlOf, type SuiteContext } from "./context.js";

const TABLE_ACCEPT =
  "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
const POM_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

const nameOf = (e: WatchEventJson) =>
  (e.object.metadata as JsonObject | undefined)?.name as string | undefined;
const summary = (e: WatchEventJson) => [e.type, nameOf(e)];
const merge = "application/merge-patch+json";

async function seed(ctx: SuiteContext, prefix: string, ...names: string[]): Promise<string> {
  const ns = uniqueName(prefix);
  if (names.length) {
    await kOk(ctx, ["create", "-f", "-"], {
      stdin: yamlOf(
        ...names.map((n) =>
          makeReport(POLICY_REPORT, { name: n, namespace: ns, labels: { ...testLabel(ns), env: "prod" } }),
        ),
      ),
    });
  }
  return ns;
}

/** Collects `n` non-bookmark events. */
async function take(
  w: Awaited<ReturnType<typeof openWatch>>,
  n: number,
  timeoutMs = 10_000,
): Promise<WatchEventJson[]> {
  const out: WatchEventJson[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n && Date.now() < deadline) {
    const e = await w.next(deadline - Date.now());
    if (!e) break;
    if (e.type !== "BOOKMARK") out.push(e);
  }
  return out;
}

export function watchTests(ctx: SuiteContext) {
  describe.concurrent("watch (raw)", () => {
    it.each([
      ["unset", ""],
      ["0", "&resourceVersion=0"],
    ])("from resourceVersion %s: synthetic ADDED, then live changes in order", async (_label, rv) => {
      const ns = await seed(ctx, "w0", "a", "b");
      const srv = ctx.server();
      const path = resourcePath(POLICY_REPORT, ns);
      const w = await openWatch(srv, `${path}?watch=true${rv}`);
      try {
        expect(w.status).toBe(200);
        expect(w.headers["content-type"]).toContain("application/json");
        expect(w.headers["transfer-encoding"]).toBe("chunked");
        const initial = await take(w, 2);
        expect(initial.map(summary).sort()).toEqual([
          ["ADDED", "a"],
          ["ADDED", "b"],
        ]);
        await post(srv, path, makeReport(POLICY_REPORT, { name: "c", namespace: ns }));
        await patch(srv, `${path}/a`, merge, { summary: { pass: 5 } });
        await del(srv, `${path}/b`);
        const live = await take(w, 3);
        expect(live.map(summary)).toEqual([
          ["ADDED", "c"],
          ["MODIFIED", "a"],
          ["DELETED", "b"],
        ]);
        expect((live[1].object.summary as JsonObject).pass).toBe(5);
        const rvs = live.map((e) => BigInt((e.object.metadata as JsonObject).resourceVersion as string));
        expect(rvs[1]).toBeGreaterThan(rvs[0]);
        expect(rvs[2]).toBeGreaterThan(rvs[1]);
        expect(live[0].object).toMatchObject({ kind: "PolicyReport", apiVersion: "wgpolicyk8s.io/v1alpha2" });
      } finally {
        w.close();
      }
    });

    it("from N: only events strictly after N", async () => {
      const ns = await seed(ctx, "wn", "a");
      const srv = ctx.server();
      const path = resourcePath(POLICY_REPORT, ns);
      const listRv = (await get(srv, path)).json<{ metadata: { resourceVersion: string } }>().metadata
        .resourceVersion;
      const x = (
        await post(srv, path, makeReport(POLICY_REPORT, { name: "x", namespace: ns }))
      ).json() as Obj;
      const y = (
        await post(srv, path, makeReport(POLICY_REPORT, { name: "y", namespace: ns }))
      ).json() as Obj;
      const [fromList, fromX] = await Promise.all([
        openWatch(srv, `${path}?watch=true&resourceVersion=${listRv}`),
        openWatch(srv, `${path}?watch=true&resourceVersion=${x.metadata.resourceVersion as string}`),
      ]);
      try {
        expect((await take(fromList, 2)).map(summary)).toEqual([
          ["ADDED", "x"],
          ["ADDED", "y"],
        ]);
        const first = await take(fromX, 1);
        expect(first.map(summary)).toEqual([["ADDED", "y"]]);
        expect((first[0].object.metadata as JsonObject).resourceVersion).toBe(y.metadata.resourceVersion);
        expect(await take(fromX, 1, 500)).toEqual([]);
      } finally {
        fromList.close();
        fromX.close();
      }
    });

    it("label and field selectors filter live events; leaving a selection is DELETED, entering it ADDED", async () => {
      const ns = await seed(ctx, "wsel");
      const srv = ctx.server();
      const path = resourcePath(POLICY_REPORT, ns);
      const [byLabel, byName] = await Promise.all([
        openWatch(srv, `${path}?watch=true&labelSelector=${encodeURIComponent("env=prod")}`),
        openWatch(srv, `${path}?watch=true&fieldSelector=${encodeURIComponent("metadata.name=p2")}`),
      ]);
      try {
        await post(
          srv,
          path,
          makeReport(POLICY_REPORT, { name: "p1", namespace: ns, labels: { env: "prod" } }),
        );
        await post(
          srv,
          path,
          makeReport(POLICY_REPORT, { name: "p2", namespace: ns, labels: { env: "dev" } }),
        );
        await patch(srv, `${path}/p1`, merge, { metadata: { labels: { env: "dev" } } });
        await patch(srv, `${path}/p2`, merge, { metadata: { labels: { env: "prod" } } });
        await del(srv, `${path}/p2`);
        expect((await take(byLabel, 4)).map(summary)).toEqual([
          ["ADDED", "p1"],
          ["DELETED", "p1"],
          ["ADDED", "p2"],
          ["DELETED", "p2"],
        ]);
        expect((await take(byName, 3)).map(summary)).toEqual([
          ["ADDED", "p2"],
          ["MODIFIED", "p2"],
          ["DELETED", "p2"],
        ]);
      } finally {
        byLabel.close();
        byName.close();
      }
    });

    it("watches across namespaces and on cluster kinds", async () => {
      const a = uniqueName("wa");
      const b = uniqueName("wb");
      const srv = ctx.server();
      const sel = encodeURIComponent(`e2e.reports.test/id=${a}`);
      const [all, cluster] = await Promise.all([
        openWatch(srv, `/apis/wgpolicyk8s.io/v1alpha2/policyreports?watch=true&labelSelector=${sel}`),
        openWatch(srv, `/apis/openreports.io/v1alpha1/clusterreports?watch=true&labelSelector=${sel}`),
      ]);
      try {
        await post(
          srv,
          resourcePath(POLICY_REPORT, a),
          makeReport(POLICY_REPORT, { name: "r", namespace: a, labels: testLabel(a) }),
        );
        await post(
          srv,
          resourcePath(POLICY_REPORT, b),
          makeReport(POLICY_REPORT, { name: "r", namespace: b, labels: testLabel(a) }),
        );
        await post(
          srv,
          resourcePath(CLUSTER_REPORT),
          makeReport(CLUSTER_REPORT, { name: a, labels: testLabel(a) }),
        );
        const ev = await take(all, 2);
        expect(ev.map((e) => (e.object.metadata as JsonObject).namespace)).toEqual([a, b]);
        expect((await take(cluster, 1)).map(summary)).toEqual([["ADDED", a]]);
      } finally {
        all.close();
        cluster.close();
      }
    });

    it("Table and PartialObjectMetadata watches send events in that form", async () => {
      const ns = await seed(ctx, "wtab", "a");
      const srv = ctx.server();
      const path = resourcePath(POLICY_REPORT, ns);
      const [tab, pom] = await Promise.all([
        openWatch(srv, `${path}?watch=true&resourceVersion=0`, { headers: { Accept: TABLE_ACCEPT } }),
        openWatch(srv, `${path}?watch=true&resourceVersion=0`, { headers: { Accept: POM_ACCEPT } }),
      ]);
      try {
        const [t] = await take(tab, 1);
        expect(t.type).toBe("ADDED");
        expect(t.object).toMatchObject({ kind: "Table", apiVersion: "meta.k8s.io/v1" });
        expect((t.object.rows as JsonObject[])[0]).toMatchObject({
          cells: expect.arrayContaining(["a", "Pod"]),
        });
        const [p] = await take(pom, 1);
        expect(p.object).toMatchObject({
          kind: "PartialObjectMetadata",
          apiVersion: "meta.k8s.io/v1",
          metadata: { name: "a" },
        });
        expect(p.object.summary).toBeUndefined();
      } finally {
        tab.close();
        pom.close();
      }
    });

    // kube-apiserver's cacher sends a bookmark 2 s before a watch's deadline (and about once a minute):
    // cacheWatcher.nextBookmarkTime in k8s.io/apiserver/pkg/storage/cacher. A client that watches with
    // timeoutSeconds learns the newest resource version before the stream ends.
    it("bookmarks only with allowWatchBookmarks=true: an object of the kind with only its resourceVersion", async () => {
      const ns = await seed(ctx, "wbm", "a");
      const srv = ctx.server();
      const path = resourcePath(POLICY_REPORT, ns);
      const [withBm, without] = await Promise.all([
        openWatch(srv, `${path}?watch=true&allowWatchBookmarks=true&timeoutSeconds=8`),
        openWatch(srv, `${path}?watch=true&timeoutSeconds=8`),
      ]);
      // A bookmark reports only a version after the watch's start: the store has to move on, well
      // before the one bookmark 2 s ahead of the deadline (a kubectl process may take seconds here).
      const other = uniqueName("wbm-other");
      const res = await post(
        srv,
        resourcePath(POLICY_REPORT, other),
        makeReport(POLICY_REPORT, { name: "b", namespace: other }),
      );
      expect(res.status, res.body).toBe(201);
      await Promise.all([withBm.ended, without.ended]);
      const bm = withBm.events.find((e) => e.type === "BOOKMARK");
      expect(bm, JSON.stringify(withBm.events)).toBeDefined();
      expect(bm!.object.kind).toBe("PolicyReport");
      expect(bm!.object.apiVersion).toBe("wgpolicyk8s.io/v1alpha2");
      expect((bm!.object.metadata as JsonObject).resourceVersion).toMatch(/^[1-9][0-9]*$/);
      expect(bm!.object.summary).toBeUndefined();
      expect(without.events.filter((e) => e.type === "BOOKMARK")).toEqual([]);
    });

    it("no bookmark goes out before the initial events are all out, even to a client that reads slowly", async () => {
      const names = Array.from({ length: 60 }, (_, i) => `r${String(i).padStart(2, "0")}`);
      const ns = await seed(ctx, "wbminit", ...names);
      const client = h2Client(ctx.server());
      try {
        // 60 reports are more than the HTTP/2 window: the initial events stall until the client
        // reads, past the bookmark due 2 s before the deadline
        const held = client.get(
          `${resourcePath(POLICY_REPORT, ns)}?watch=true&allowWatchBookmarks=true&timeoutSeconds=3`,
        );
        expect(await held.status).toBe(200);
        await new Promise((r) => setTimeout(r, 1_500));
        const events = (await held.resume())
          .split("\n")
          .filter((l) => l !== "")
          .map((l) => JSON.parse(l) as WatchEventJson);
        const types = events.map((e) => e.type);
        expect(types.filter((t) => t === "ADDED")).toHaveLength(names.length);
        // a bookmark, if any, follows every initial event and reports a version after all of them:
        // a client that resumes from it has seen everything up to it
        const rvOfEvent = (e: WatchEventJson) => Number((e.object.metadata as JsonObject).resourceVersion);
        const newest = Math.max(...events.filter((e) => e.type === "ADDED").map(rvOfEvent));
        events.forEach((e, i) => {
          if (e.type !== "BOOKMARK") return;
          expect(i, types.join(",")).toBeGreaterThan(types.lastIndexOf("ADDED"));
          expect(rvOfEvent(e), types.join(",")).toBeGreaterThan(newest);
        });
      } finally {
        client.close();
      }
    });

    it("the deprecated /watch/ paths stream the same events; a named GET with ?watch=true is a get", async () => {
      const ns = await seed(ctx, "wpath", "a");
      const srv = ctx.server();
      const w = await openWatch(
        srv,
        `/apis/${POLICY_REPORT.apiVersion}/watch/namespaces/${ns}/policyreports`,
      );
      const one = await openWatch(
        srv,
        `/apis/${POLICY_REPORT.apiVersion}/watch/namespaces/${ns}/policyreports/a`,
      );
      try {
        expect(w.status).toBe(200);
        expect((await take(w, 1)).map(summary)).toEqual([["ADDED", "a"]]);
        expect(one.status).toBe(200);
        await patch(srv, `${resourcePath(POLICY_REPORT, ns)}/a`, merge, { summary: { pass: 2 } });
        expect((await take(one, 2)).map(summary)).toEqual([
          ["ADDED", "a"],
          ["MODIFIED", "a"],
        ]);
      } finally {
        w.close();
        one.close();
      }
      // without the prefix, a named GET is a get whatever its query, as kube-apiserver serves it
      const named = await get(srv, `${resourcePath(POLICY_REPORT, ns)}/a?watch=true&timeoutSeconds=1`);
      expect(named.status, named.body).toBe(200);
      expect(named.json()).toMatchObject({ kind: "PolicyReport", metadata: { name: "a" } });
    });

    it("a change made as soon as the watch answers 200 is streamed after the initial ADDED", async () => {
      const names = Array.from({ length: 12 }, (_, i) => `r${i}`);
      const ns = await seed(ctx, "wready", ...names);
      const srv = ctx.server();
      await Promise.all(
        names.map(async (name, i) => {
          const w = await openWatch(
            srv,
            `${resourcePath(POLICY_REPORT, ns)}?watch=true&fieldSelector=metadata.name%3D${name}`,
          );
          try {
            expect(w.status).toBe(200);
            await patch(srv, `${resourcePath(POLICY_REPORT, ns)}/${name}`, merge, {
              summary: { pass: 100 + i },
            });
            const events = await take(w, 2);
            expect(events.map((e) => [e.type, (e.object.summary as JsonObject | undefined)?.pass])).toEqual([
              ["ADDED", 1],
              ["MODIFIED", 100 + i],
            ]);
          } finally {
            w.close();
          }
        }),
      );
    });

    it("timeoutSeconds ends the stream cleanly, not early", async () => {
      const ns = await seed(ctx, "wto");
      const w = await openWatch(
        ctx.server(),
        `${resourcePath(POLICY_REPORT, ns)}?watch=true&timeoutSeconds=2`,
      );
      const ms = await w.ended;
      expect(ms).toBeGreaterThanOrEqual(1_500);
      expect(ms).toBeLessThan(8_000);
    });

    it("WatchList (sendInitialEvents): ADDED in key order, a BOOKMARK marking the end, then changes; or 422", async () => {
      const ns = await seed(ctx, "wl", "c", "a", "b");
      const srv = ctx.server();
      const path = resourcePath(POLICY_REPORT, ns);
      const w = await openWatch(
        srv,
        `${path}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`,
      );
      try {
        if (w.status === 422) {
          expect(JSON.parse(w.body).message).toContain(
            "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
          );
          return;
        }
        expect(w.status).toBe(200);
        const first: WatchEventJson[] = [];
        for (;;) {
          const e = await w.next(10_000);
          expect(e, JSON.stringify(first)).toBeDefined();
          first.push(e!);
          if (
            e!.type === "BOOKMARK" &&
            ((e!.object.metadata as JsonObject).annotations as JsonObject | undefined)?.[
              "k8s.io/initial-events-end"
            ]
          )
            break;
        }
        const added = first.filter((e) => e.type === "ADDED");
        expect(added.map(nameOf)).toEqual(["a", "b", "c"]);
        const end = first[first.length - 1];
        expect(
          ((end.object.metadata as JsonObject).annotations as JsonObject)["k8s.io/initial-events-end"],
        ).toBe("true");
        const list = (await get(srv, path)).json<{ metadata: { resourceVersion: string } }>();
        expect(BigInt((end.object.metadata as JsonObject).resourceVersion as string)).toBeLessThanOrEqual(
          BigInt(list.metadata.resourceVersion),
        );
        await post(srv, path, makeReport(POLICY_REPORT, { name: "d", namespace: ns }));
        expect((await take(w, 1)).map(summary)).toEqual([["ADDED", "d"]]);
      } finally {
        w.close();
      }
    });
  });

  describe.concurrent("watch (kubectl and client-go)", () => {
    it.each(["1.29", "1.33"] as const)(
      "kubectl %s get -w prints existing rows, then each change",
      async (version) => {
        const ns = await seed(ctx, "kw", "a");
        const w = kStart(ctx, ["get", "polr", "-n", ns, "-w"], { version });
        try {
          await w.waitForLine(/^a\s/);
          await kOk(ctx, ["create", "-f", "-"], {
            stdin: yamlOf(makeReport(POLICY_REPORT, { name: "b", namespace: ns, pass: 3 })),
          });
          const line = await w.waitForLine(/^b\s/);
          expect(line).toMatch(/^b\s+Pod\s+b\s+3\s+1\s+0\s+0\s+0\s+\d+s/);
          await kOk(ctx, ["patch", "polr", "a", "-n", ns, "--type=merge", "-p", '{"summary":{"pass":8}}']);
          await w.waitForLine(/^a\s+Pod\s+a\s+8\s/);
        } finally {
          const res = await w.kill();
          expect(res.stderr).not.toMatch(/error|unable/i);
        }
      },
    );

    it("kubectl get <one object> -w drops the synthetic ADDED and shows its changes", async () => {
      const ns = await seed(ctx, "kw1", "a", "b");
      const w = kStart(ctx, [
        "get",
        "polr",
        "a",
        "-n",
        ns,
        "-w",
        "-o",
        "custom-columns=NAME:.metadata.name,PASS:.summary.pass",
        "--no-headers",
      ]);
      try {
        await w.waitForLine(/^a\s+1$/);
        await kOk(ctx, ["patch", "polr", "b", "-n", ns, "--type=merge", "-p", '{"summary":{"pass":4}}']);
        await kOk(ctx, ["patch", "polr", "a", "-n", ns, "--type=merge", "-p", '{"summary":{"pass":6}}']);
        await w.waitForLine(/^a\s+6$/);
        expect(w.stdout()).not.toMatch(/^b\s/m);
      } finally {
        await w.kill();
      }
    });

    const waitCases = [
      ["1.29", {}],
      ["1.33", {}],
      ["1.33", { KUBE_FEATURE_WatchListClient: "true" }],
    ] as const;
    it.each(waitCases)("kubectl %s wait --for=delete (client-go informer) %o", async (version, env) => {
      const ns = await seed(ctx, "kwait", "a");
      // -v=6 logs each request once its response starts: the delete must arrive as a watch event.
      const w = kStart(ctx, ["wait", "--for=delete", "polr/a", "-n", ns, "--timeout=40s", "-v=6"], {
        version,
        env: { ...env },
      });
      await w.waitForLine(/watch=true.*200 OK/, 30_000, "stderr");
      await kOk(ctx, ["delete", "polr", "a", "-n", ns, "--wait=false"]);
      const res = await w.done;
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toContain("condition met");
      // With the WatchListClient gate client-go streams the initial state instead of listing.
      if ("KUBE_FEATURE_WatchListClient" in env) expect(res.stderr).toMatch(/sendInitialEvents=true.*200 OK/);
    });

    it("kubectl get -w with KUBE_FEATURE_WatchListClient=true", async () => {
      const ns = await seed(ctx, "kwl", "a");
      const w = kStart(ctx, ["get", "polr", "-n", ns, "-w", "--no-headers"], {
        env: { KUBE_FEATURE_WatchListClient: "true" },
      });
      try {
        await w.waitForLine(/^a\s/);
        await kOk(ctx, ["create", "-f", "-"], {
          stdin: yamlOf(makeReport(POLICY_REPORT, { name: "b", namespace: ns })),
        });
        await w.waitForLine(/^b\s/);
      } finally {
        await w.kill();
      }
    });
  });
}
