import type { IncomingMessage, ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import type { RequestContext } from "../../src/endpoints/context.js";
import { requestInfo } from "../../src/endpoints/requestinfo.js";
import { loadResources } from "../../src/resources/index.js";
import { createMetrics, type Metrics } from "../../src/server/metrics.js";
import { reportedVerb, requestScope, ServedResources } from "../../src/server/metrics/labels.js";

const resources = loadResources();

/** A request as the HTTP server hands it to the observer: the real RequestInfo of a method and path. */
function ctxFor(method: string, url: string, headers: Record<string, string> = {}): RequestContext {
  const [path, qs = ""] = url.split("?");
  const query = new URLSearchParams(qs);
  return {
    req: { headers } as unknown as IncomingMessage,
    res: {} as ServerResponse,
    method,
    path,
    query,
    info: requestInfo(method, path, query),
    signal: new AbortController().signal,
    abort: () => {},
    body: async () => Buffer.alloc(0),
    warnings: [],
    log: {},
  };
}

async function sample(m: Metrics, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const found = values.filter((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} series`);
  return found[0]?.value;
}

const PR = "/apis/wgpolicyk8s.io/v1alpha2";

describe("metric labels", () => {
  it("reports verbs as kube-apiserver does", () => {
    const v = (method: string, url: string, ct?: string) => {
      const c = ctxFor(method, url);
      return reportedVerb(c.info, ct);
    };
    expect(v("GET", `${PR}/namespaces/a/policyreports`)).toBe("LIST");
    expect(v("GET", `${PR}/namespaces/a/policyreports?watch=true`)).toBe("WATCH");
    expect(v("GET", `${PR}/namespaces/a/policyreports/x`)).toBe("GET");
    expect(v("POST", `${PR}/namespaces/a/policyreports`)).toBe("POST");
    expect(v("PUT", `${PR}/namespaces/a/policyreports/x`)).toBe("PUT");
    expect(v("PATCH", `${PR}/namespaces/a/policyreports/x`, "application/merge-patch+json")).toBe("PATCH");
    expect(v("PATCH", `${PR}/namespaces/a/policyreports/x`, "application/apply-patch+yaml")).toBe("APPLY");
    expect(v("DELETE", `${PR}/namespaces/a/policyreports`)).toBe("DELETECOLLECTION");
    expect(v("GET", "/metrics")).toBe("GET");
    // CanonicalVerb from CleanScope: a list selecting one object by name is a GET of it
    const one = `${PR}/namespaces/a/policyreports?fieldSelector=metadata.name%3Dx`;
    expect(v("GET", one)).toBe("GET");
    expect(v("GET", `${one}&watch=true`)).toBe("WATCH");
    expect(requestScope(ctxFor("GET", one).info)).toBe("resource");
  });

  it("tells one object, one namespace and the cluster apart", () => {
    expect(requestScope(ctxFor("GET", `${PR}/namespaces/a/policyreports/x`).info)).toBe("resource");
    expect(requestScope(ctxFor("GET", `${PR}/namespaces/a/policyreports`).info)).toBe("namespace");
    expect(requestScope(ctxFor("GET", `${PR}/policyreports`).info)).toBe("cluster");
    expect(requestScope(ctxFor("GET", "/openapi/v2").info)).toBe("");
  });

  it("names only served kinds, so made-up paths cannot add series", () => {
    const served = new ServedResources(resources);
    expect(served.labels(ctxFor("GET", `${PR}/policyreports`).info)).toEqual({
      group: "wgpolicyk8s.io",
      version: "v1alpha2",
      resource: "policyreports",
    });
    const none = { group: "", version: "", resource: "" };
    expect(served.labels(ctxFor("GET", "/apis/wgpolicyk8s.io/v9/policyreports").info)).toEqual(none);
    expect(served.labels(ctxFor("GET", `${PR}/random-${Math.random()}`).info)).toEqual(none);
    expect(served.labels(ctxFor("GET", "/healthz").info)).toEqual(none);
  });
});

describe("API request metrics", () => {
  it("count each request once with its labels and time all but watches", async () => {
    const m = createMetrics({ resources, defaultMetrics: false });
    const create = ctxFor("POST", `${PR}/namespaces/a/policyreports`);
    m.api.started(create);
    m.api.finished(create, 201, 0.03);
    const watch = ctxFor("GET", `${PR}/policyreports?watch=1`);
    m.api.started(watch);
    m.api.finished(watch, 200, 300);
    // kube-apiserver's CleanScope counts a create as the one object it makes
    const labels = { verb: "POST", group: "wgpolicyk8s.io", resource: "policyreports", scope: "resource" };
    expect(await sample(m, "apiserver_request_total", { ...labels, code: "201" })).toBe(1);
    expect(await sample(m, "apiserver_request_total", { verb: "WATCH", scope: "cluster", code: "200" })).toBe(
      1,
    );
    const text = await m.registry.metrics();
    expect(text).toMatch(
      /apiserver_request_duration_seconds_bucket\{le="0\.05",verb="POST",group="wgpolicyk8s.io",version="v1alpha2",resource="policyreports",scope="resource"\} 1/,
    );
    expect(text).not.toMatch(/apiserver_request_duration_seconds_\w+\{[^}]*verb="WATCH"/);
  });

  it("track requests in flight by kind, leaving watches to the watch gauge", async () => {
    const m = createMetrics({ resources, defaultMetrics: false });
    const read = ctxFor("GET", `${PR}/policyreports`);
    const write = ctxFor("DELETE", `${PR}/namespaces/a/policyreports/x`);
    const watch = ctxFor("GET", `${PR}/policyreports?watch=true`);
    for (const c of [read, write, watch]) m.api.started(c);
    expect(await sample(m, "apiserver_current_inflight_requests", { request_kind: "readOnly" })).toBe(1);
    expect(await sample(m, "apiserver_current_inflight_requests", { request_kind: "mutating" })).toBe(1);
    m.api.finished(write, 200, 0.01);
    m.api.finished(read, 200, 0.01);
    m.api.finished(watch, 200, 10);
    expect(await sample(m, "apiserver_current_inflight_requests", { request_kind: "readOnly" })).toBe(0);
    expect(await sample(m, "apiserver_current_inflight_requests", { request_kind: "mutating" })).toBe(0);
  });

  it("count rejections by reason: 429 from the in-flight limits, 413 and 504 from their codes", async () => {
    const m = createMetrics({ resources, defaultMetrics: false });
    m.rejected("max-mutating-inflight");
    const big = ctxFor("POST", `${PR}/namespaces/a/policyreports`);
    m.api.started(big);
    m.api.finished(big, 413, 0.001);
    const slow = ctxFor("GET", `${PR}/policyreports`);
    m.api.started(slow);
    m.api.finished(slow, 504, 60);
    const ok = ctxFor("GET", `${PR}/policyreports`);
    m.api.started(ok);
    m.api.finished(ok, 200, 0.01);
    const name = "reports_server_rejected_requests_total";
    expect(await sample(m, name, { reason: "max-mutating-inflight", code: "429" })).toBe(1);
    expect(await sample(m, name, { reason: "body-too-large", code: "413" })).toBe(1);
    expect(await sample(m, name, { reason: "timeout", code: "504" })).toBe(1);
    const { values } = await m.registry.getSingleMetric(name)!.get();
    expect(values.reduce((n, v) => n + v.value, 0)).toBe(3);
  });

  it("count validation failures: any 422, and a 400 only on a write", async () => {
    const m = createMetrics({ resources, defaultMetrics: false });
    const cases: [string, string, number][] = [
      ["POST", `${PR}/namespaces/a/policyreports`, 422],
      ["PUT", `${PR}/namespaces/a/policyreports/x`, 400],
      ["GET", `${PR}/policyreports?labelSelector=%3D`, 400],
      ["POST", `${PR}/namespaces/a/policyreports`, 409],
    ];
    for (const [method, url, code] of cases) {
      const c = ctxFor(method, url);
      m.api.started(c);
      m.api.finished(c, code, 0.001);
    }
    const name = "reports_server_validation_failures_total";
    expect(await sample(m, name, { verb: "POST", resource: "policyreports", code: "422" })).toBe(1);
    expect(await sample(m, name, { verb: "PUT", resource: "policyreports", code: "400" })).toBe(1);
    expect(await sample(m, name, { verb: "LIST" })).toBeUndefined();
    expect(await sample(m, name, { code: "409" })).toBeUndefined();
  });
});

describe("watch metrics", () => {
  it("show open watches, events by type (bookmarks too) and slow watchers dropped", async () => {
    const m = createMetrics({ resources, defaultMetrics: false });
    const def = resources.find((d) => d.plural === "ephemeralreports")!;
    const labels = { group: "reports.kyverno.io", resource: "ephemeralreports" };
    expect(await sample(m, "reports_server_watches", labels)).toBe(0);
    const a = m.watch.opened(def)!;
    const b = m.watch.opened(def)!;
    expect(await sample(m, "reports_server_watches", labels)).toBe(2);
    a.sent("ADDED");
    a.sent("ADDED");
    b.sent("BOOKMARK");
    b.sent("MODIFIED");
    b.dropped("slow");
    b.closed();
    b.closed();
    expect(await sample(m, "reports_server_watches", labels)).toBe(1);
    const events = "reports_server_watch_events_sent_total";
    expect(await sample(m, events, { ...labels, type: "ADDED" })).toBe(2);
    expect(await sample(m, events, { ...labels, type: "BOOKMARK" })).toBe(1);
    expect(await sample(m, events, { ...labels, type: "MODIFIED" })).toBe(1);
    expect(await sample(m, "reports_server_watchers_dropped_total", { ...labels, reason: "slow" })).toBe(1);
    a.closed();
    expect(await sample(m, "reports_server_watches", labels)).toBe(0);
  });
});

describe("process metrics", () => {
  it("carry the build and the leader status, in a registry of their own", async () => {
    const one = createMetrics({ resources, version: "1.2.3" });
    const two = createMetrics({ resources });
    expect(
      await sample(one, "reports_server_build_info", { version: "1.2.3", node_version: process.version }),
    ).toBe(1);
    const pkgVersion = (await two.registry.getSingleMetric("reports_server_build_info")!.get()).values[0]
      .labels.version;
    expect(pkgVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(await sample(one, "leader_election_master_status", { name: "reports-server" })).toBeUndefined();
    one.setLeader(true);
    expect(await sample(one, "leader_election_master_status", { name: "reports-server" })).toBe(1);
    one.setLeader(false);
    expect(await sample(one, "leader_election_master_status", { name: "reports-server" })).toBe(0);
    // Default Node.js metrics in both registries, counters apart.
    expect(await one.registry.getSingleMetric("process_cpu_user_seconds_total")).toBeDefined();
    expect(await two.registry.getSingleMetric("process_cpu_user_seconds_total")).toBeDefined();
    const ctx = ctxFor("GET", "/metrics");
    one.api.started(ctx);
    one.api.finished(ctx, 200, 0.001);
    expect(await sample(one, "apiserver_request_total", { verb: "GET", code: "200" })).toBe(1);
    expect(await sample(two, "apiserver_request_total", { verb: "GET", code: "200" })).toBeUndefined();
  });
});
