import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { get, type JsonObject } from "../../support/http.js";
import {
  KINDS,
  POLICY_REPORT,
  makeReport,
  resourcePath,
  uniqueName,
  EPHEMERAL_REPORT,
  CLUSTER_EPHEMERAL_REPORT,
} from "../../support/reports.js";
import { kubectl } from "../../support/kubectl.js";
import { kOk, tableRows, yamlOf, type SuiteContext } from "./context.js";

const V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
// What kubectl 1.30+ and 1.27–1.29 send (contract D1).
const ACCEPT_NEW = `${V2},${V2BETA1},application/json`;
const ACCEPT_OLD = `${V2BETA1},application/json`;
const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

type Resource = {
  resource: string;
  responseKind: JsonObject;
  scope: string;
  singularResource: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
};
type GroupDiscovery = {
  metadata: { name: string };
  versions: { version: string; freshness?: string; resources: Resource[] }[];
};

function checkAggregated(body: JsonObject, apiVersion: string) {
  expect(body.kind).toBe("APIGroupDiscoveryList");
  expect(body.apiVersion).toBe(apiVersion);
  const groups = body.items as unknown as GroupDiscovery[];
  for (const kd of KINDS) {
    const g = groups.find((x) => x.metadata.name === kd.group);
    expect(g, kd.group).toBeDefined();
    const v = g!.versions.find((x) => x.version === kd.version);
    expect(v, `${kd.group}/${kd.version}`).toBeDefined();
    expect(v!.freshness ?? "Current").toBe("Current");
    const r = v!.resources.find((x) => x.resource === kd.plural);
    expect(r, kd.plural).toBeDefined();
    expect(r!.responseKind).toEqual({ group: kd.group, version: kd.version, kind: kd.kind });
    expect(r!.scope).toBe(kd.namespaced ? "Namespaced" : "Cluster");
    expect(r!.singularResource).toBe(kd.singular);
    expect([...r!.verbs].sort()).toEqual(VERBS);
    expect(r!.shortNames).toEqual([kd.short]);
    expect(r!.categories ?? []).toEqual(kd.categories);
  }
}

export function discoveryTests(ctx: SuiteContext) {
  describe("discovery", () => {
    it("serves aggregated discovery v2 with the v2 Content-Type (kubectl 1.30+)", async () => {
      const res = await get(ctx.server(), "/apis", { headers: { Accept: ACCEPT_NEW } });
      expect(res.status).toBe(200);
      expect(res.headers["content-type"]).toContain("g=apidiscovery.k8s.io");
      expect(res.headers["content-type"]).toContain("v=v2;");
      expect(res.headers["content-type"]).toContain("as=APIGroupDiscoveryList");
      checkAggregated(res.json(), "apidiscovery.k8s.io/v2");
    });

    it("answers a repeated discovery request with If-None-Match by 304 (the aggregator polls every minute)", async () => {
      const srv = ctx.server();
      const first = await get(srv, "/apis", { headers: { Accept: ACCEPT_NEW } });
      const etag = first.headers["etag"];
      expect(etag, "ETag on aggregated discovery").toBeTruthy();
      const again = await get(srv, "/apis", {
        headers: { Accept: ACCEPT_NEW, "If-None-Match": String(etag) },
      });
      expect(again.status).toBe(304);
      expect(again.body).toBe("");
    });

    it("serves aggregated discovery v2beta1 to kubectl 1.27–1.29", async () => {
      const res = await get(ctx.server(), "/apis", { headers: { Accept: ACCEPT_OLD } });
      expect(res.status).toBe(200);
      expect(res.headers["content-type"]).toContain("v=v2beta1");
      expect(res.headers["content-type"]).toContain("as=APIGroupDiscoveryList");
      checkAggregated(res.json(), "apidiscovery.k8s.io/v2beta1");
    });

    it("serves the legacy APIGroupList, APIGroup and APIResourceList", async () => {
      const srv = ctx.server();
      const list = await get(srv, "/apis", { headers: { Accept: "application/json" } });
      expect(list.status).toBe(200);
      const groups = list.json<{
        kind: string;
        groups: { name: string; preferredVersion: { groupVersion: string } }[];
      }>();
      expect(groups.kind).toBe("APIGroupList");
      for (const kd of KINDS) {
        expect(groups.groups.find((g) => g.name === kd.group)?.preferredVersion.groupVersion).toBe(
          kd.apiVersion,
        );
      }
      const gvs = [...new Set(KINDS.map((kd) => kd.apiVersion))];
      const [groupDocs, resourceLists] = await Promise.all([
        Promise.all(gvs.map((gv) => get(srv, `/apis/${gv.split("/")[0]}`))),
        Promise.all(gvs.map((gv) => get(srv, `/apis/${gv}`))),
      ]);
      gvs.forEach((gv, i) => {
        const g = groupDocs[i].json();
        expect(groupDocs[i].status).toBe(200);
        expect(g.kind).toBe("APIGroup");
        expect(g.name).toBe(gv.split("/")[0]);
        expect(g.versions).toEqual([{ groupVersion: gv, version: gv.split("/")[1] }]);
        expect(g.preferredVersion).toEqual({ groupVersion: gv, version: gv.split("/")[1] });
        const rl = resourceLists[i].json<{
          kind: string;
          groupVersion: string;
          resources: Record<string, unknown>[];
        }>();
        expect(resourceLists[i].status).toBe(200);
        expect(rl.kind).toBe("APIResourceList");
        expect(rl.groupVersion).toBe(gv);
        for (const kd of KINDS.filter((x) => x.apiVersion === gv)) {
          const r = rl.resources.find((x) => x.name === kd.plural);
          expect(r, kd.plural).toMatchObject({
            singularName: kd.singular,
            namespaced: kd.namespaced,
            kind: kd.kind,
            shortNames: [kd.short],
          });
          expect([...(r!.verbs as string[])].sort()).toEqual(VERBS);
          expect((r!.categories as string[] | undefined) ?? []).toEqual(kd.categories);
        }
      });
    });

    it("answers /api with aggregated discovery or 404, never a legacy list beside aggregated /apis", async () => {
      const res = await get(ctx.server(), "/api", { headers: { Accept: ACCEPT_NEW } });
      if (res.status === 200) expect(res.headers["content-type"]).toContain("as=APIGroupDiscoveryList");
      else expect(res.status).toBe(404);
    });

    it("serves /version for the kubectl dispatcher", async () => {
      const res = await get(ctx.server(), "/version");
      expect(res.status).toBe(200);
      const v = res.json();
      for (const f of [
        "major",
        "minor",
        "gitVersion",
        "gitCommit",
        "gitTreeState",
        "buildDate",
        "goVersion",
        "compiler",
        "platform",
      ]) {
        expect(typeof v[f], f).toBe("string");
      }
      const out = await kOk(ctx, ["version", "-o", "json"]);
      expect(JSON.parse(out).serverVersion.gitVersion).toBe(v.gitVersion);
    });

    it.each(["1.29", "1.33"] as const)(
      "kubectl %s api-resources lists all six kinds with short names",
      async (version) => {
        const out = await kOk(ctx, ["api-resources"], { version });
        const rows = tableRows(out);
        expect(rows[0]).toEqual(["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]);
        for (const kd of KINDS) {
          expect(rows, kd.plural).toContainEqual([
            kd.plural,
            kd.short,
            kd.apiVersion,
            String(kd.namespaced),
            kd.kind,
          ]);
        }
      },
    );

    it("kubectl api-resources --categories=kyverno lists the two ephemeral kinds", async () => {
      const out = await kOk(ctx, ["api-resources", "--categories=kyverno", "-o", "name"]);
      expect(out.trim().split("\n").sort()).toEqual([
        "clusterephemeralreports.reports.kyverno.io",
        "ephemeralreports.reports.kyverno.io",
      ]);
    });

    it("kubectl get kyverno expands the category into both ephemeral kinds", async () => {
      const ns = uniqueName("cat");
      const name = uniqueName("eph");
      await kOk(ctx, ["create", "-f", "-"], {
        stdin: yamlOf(
          makeReport(EPHEMERAL_REPORT, { name, namespace: ns }),
          makeReport(CLUSTER_EPHEMERAL_REPORT, { name, labels: { cat: ns } }),
        ),
      });
      const out = await kOk(ctx, ["get", "kyverno", "-n", ns, "-o", "name"]);
      expect(out.trim().split("\n")).toContain(`ephemeralreport.reports.kyverno.io/${name}`);
      expect(out.trim().split("\n")).toContain(`clusterephemeralreport.reports.kyverno.io/${name}`);
    });

    it.each(["1.29", "1.33"] as const)(
      "kubectl %s explain polr.summary renders from OpenAPI v3",
      async (version) => {
        const out = await kOk(ctx, ["explain", "polr.summary"], { version });
        expect(out).toMatch(/KIND:\s+PolicyReport/);
        expect(out).toMatch(/VERSION:\s+v1alpha2/);
        expect(out).toMatch(/GROUP:\s+wgpolicyk8s\.io|wgpolicyk8s\.io\/v1alpha2/);
        expect(out).toMatch(/FIELD:\s+summary/);
        for (const f of ["error", "fail", "pass", "skip", "warn"])
          expect(out).toMatch(new RegExp(`\\b${f}\\s+<integer>`));
      },
    );

    it("kubectl explain works for every kind, down to metadata (ObjectMeta)", async () => {
      const outs = await Promise.all(KINDS.map((kd) => kOk(ctx, ["explain", `${kd.short}.metadata.labels`])));
      KINDS.forEach((kd, i) => {
        expect(outs[i]).toMatch(new RegExp(`KIND:\\s+${kd.kind}`));
        expect(outs[i]).toMatch(/labels\s+<map\[string\]string>/);
      });
    });

    it("OpenAPI v3 lists every group-version and advertises no strategic merge patch", async () => {
      const srv = ctx.server();
      const root = await get(srv, "/openapi/v3");
      expect(root.status).toBe(200);
      const paths = root.json<{ paths: Record<string, { serverRelativeURL: string }> }>().paths;
      for (const gv of new Set(KINDS.map((kd) => kd.apiVersion))) {
        const entry = paths[`apis/${gv}`];
        expect(entry, gv).toBeDefined();
        const doc = await get(srv, entry.serverRelativeURL);
        expect(doc.status).toBe(200);
        const text = doc.body;
        expect(text).not.toContain("application/strategic-merge-patch+json");
        const spec = doc.json<{
          paths: Record<
            string,
            Record<
              string,
              {
                parameters?: { name: string }[];
                requestBody?: { content: Record<string, unknown> };
                "x-kubernetes-group-version-kind"?: unknown;
              }
            >
          >;
          components: { schemas: Record<string, Record<string, unknown>> };
        }>();
        for (const kd of KINDS.filter((x) => x.apiVersion === gv)) {
          const item = Object.entries(spec.paths).find(([p]) => p.endsWith(`/${kd.plural}/{name}`));
          expect(item, `${kd.plural}/{name}`).toBeDefined();
          const patchOp = item![1].patch;
          expect(Object.keys(patchOp.requestBody!.content).sort()).toEqual([
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
          ]);
          const params = [
            ...(patchOp.parameters ?? []),
            ...((item![1].parameters as unknown as { name: string }[]) ?? []),
          ].map((p) => p.name);
          for (const p of ["dryRun", "fieldManager", "fieldValidation", "force"]) expect(params).toContain(p);
          expect(patchOp["x-kubernetes-group-version-kind"]).toEqual({
            group: kd.group,
            version: kd.version,
            kind: kd.kind,
          });
          const schema = Object.values(spec.components.schemas).find((s) =>
            JSON.stringify(s["x-kubernetes-group-version-kind"] ?? null).includes(`"kind":"${kd.kind}"`),
          );
          expect(schema, `schema of ${kd.kind}`).toBeDefined();
          expect(Array.isArray(schema!["x-kubernetes-group-version-kind"])).toBe(true);
        }
      }
    });

    it("marks every answer Cache-Control: no-cache, private, unless it knows better", async () => {
      const srv = ctx.server();
      const polr = resourcePath(POLICY_REPORT, uniqueName("cache"));
      const answers = {
        list: await get(srv, polr),
        notFound: await get(srv, `${polr}/missing`),
        unauthorized: await get(srv, polr, { token: null }),
        readyz: await get(srv, "/readyz", { token: null }),
        healthNotFound: await get(srv, "/readyz/missing", { token: null }),
        legacyDiscovery: await get(srv, "/apis"),
        openapiIndex: await get(srv, "/openapi/v3"),
        version: await get(srv, "/version"),
      };
      for (const [what, res] of Object.entries(answers))
        expect(res.headers["cache-control"], `${what}: ${res.status}`).toBe("no-cache, private");
      expect(answers.notFound.status).toBe(404);
      expect(answers.unauthorized.status).toBe(401);
      // Aggregated discovery is public, as kube-apiserver's ServeHTTPWithETag marks it, 304 included.
      for (const accept of [V2, V2BETA1]) {
        const res = await get(srv, "/apis", { headers: { Accept: accept } });
        expect(res.headers["cache-control"], accept).toBe("public");
        const again = await get(srv, "/apis", {
          headers: { Accept: accept, "If-None-Match": String(res.headers.etag) },
        });
        expect([again.status, again.headers["cache-control"]], accept).toEqual([304, "public"]);
      }
    });

    it("OpenAPI v3 by hash: the current one immutable for a year, a stale one redirected (301) to it", async () => {
      const srv = ctx.server();
      const index = await get(srv, "/openapi/v3");
      const url = index.json<{ paths: Record<string, { serverRelativeURL: string }> }>().paths[
        `apis/${POLICY_REPORT.apiVersion}`
      ].serverRelativeURL;
      const [path, query] = url.split("?");
      const hash = new URLSearchParams(query).get("hash")!;

      const current = await get(srv, url);
      expect(current.status).toBe(200);
      expect(current.headers["content-type"]).toBe("application/json");
      expect(current.headers.etag).toBe(`"${hash}"`);
      expect(current.headers.vary).toBe("Accept");
      expect(current.headers["cache-control"]).toBe("public, immutable");
      const expires = String(current.headers.expires);
      expect(expires).toMatch(/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d UTC$/);
      const ahead = Date.parse(expires.replace(/UTC$/, "GMT")) - Date.now();
      expect(ahead).toBeGreaterThan(364 * 86_400_000);
      expect(ahead).toBeLessThan(367 * 86_400_000);
      const unchanged = await get(srv, url, { headers: { "If-None-Match": `"${hash}"` } });
      expect([unchanged.status, unchanged.headers["cache-control"], unchanged.headers.vary]).toEqual([
        304,
        "public, immutable",
        "Accept",
      ]);

      for (const stale of ["0123ABCD", hash.toLowerCase()]) {
        const moved = await get(srv, `${path}?hash=${stale}`);
        expect(moved.status, stale).toBe(301);
        expect(moved.headers.location).toBe(url);
        expect(moved.headers["content-type"]).toBe("application/json");
        expect(moved.headers.etag).toBe(`"${hash}"`);
        expect(moved.headers.vary).toBe("Accept");
        expect(moved.headers["cache-control"]).toBe("no-cache, private");
        expect(moved.headers.expires).toBeUndefined();
        expect(moved.body).toBe("");
      }

      // Without a hash (or an empty one) the document is served, but not to be kept.
      for (const plain of [path, `${path}?hash=`]) {
        const res = await get(srv, plain);
        expect(res.status, plain).toBe(200);
        expect(res.headers.vary, plain).toBe("Accept");
        expect(res.headers["cache-control"], plain).toBe("no-cache, private");
        expect(res.headers.expires, plain).toBeUndefined();
        expect(res.body, plain).toBe(current.body);
      }
    });

    it("serves OpenAPI v2 as JSON", async () => {
      const res = await get(ctx.server(), "/openapi/v2", { headers: { Accept: "application/json" } });
      expect(res.status).toBe(200);
      const doc = res.json<{ swagger: string; definitions: Record<string, unknown> }>();
      expect(doc.swagger).toBe("2.0");
      expect(JSON.stringify(doc)).not.toContain("application/strategic-merge-patch+json");
      expect(Object.keys(doc.definitions).some((d) => d.endsWith("PolicyReport"))).toBe(true);
    });

    it("serves health endpoints without credentials", async () => {
      const srv = ctx.server();
      for (const p of ["/livez", "/readyz", "/healthz"]) {
        const res = await get(srv, p, { token: null });
        expect(res.status, p).toBe(200);
        expect(res.body, p).toBe("ok");
        expect(res.headers["content-type"], p).toContain("text/plain");
      }
      // Each check on its own path, as healthz registers them; any other sub-path is Go's plain 404.
      for (const p of ["/livez/ping", "/healthz/ping", "/healthz/storage", "/readyz/storage"]) {
        const res = await get(srv, p, { token: null });
        expect([res.status, res.body], p).toEqual([200, "ok"]);
      }
      for (const p of ["/livez/storage", "/healthz/", "/readyz/nope"]) {
        const res = await get(srv, p, { token: null });
        expect([res.status, res.body, res.headers["content-type"]], p).toEqual([
          404,
          "404 page not found\n",
          "text/plain; charset=utf-8",
        ]);
      }
    });

    it("answers 401 without a token or with a wrong one; kubectl says to log in", async () => {
      const srv = ctx.server();
      for (const token of [null, "not-the-token"]) {
        const res = await get(srv, "/apis/wgpolicyk8s.io/v1alpha2/policyreports", { token });
        expect(res.status).toBe(401);
        expect(res.json()).toMatchObject({
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          reason: "Unauthorized",
          code: 401,
        });
      }
      const dir = mkdtempSync(join(tmpdir(), "badkc-"));
      const bad = join(dir, "kubeconfig");
      writeFileSync(bad, readFileSync(srv.kubeconfig, "utf8").replace(srv.token, "not-the-token"));
      const r = await kubectl(["get", "polr", "-A"], { kubeconfig: bad });
      expect(r.code).toBe(1);
      // kubectl's aggregated discovery reads raw bodies, so the parenthesis holds client-go's generic
      // 401 text rather than the Status message, as against kube-apiserver.
      expect(r.stderr).toContain("error: You must be logged in to the server (");
    });
  });
}
