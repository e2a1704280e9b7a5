import { describe, expect, it } from "vitest";
import { get, openWatch, post, type Endpoint } from "../support/http.js";
import { makeReport, POLICY_REPORT, resourcePath, uniqueName } from "../support/reports.js";
import { useServer } from "../support/server.js";
import { SLOW_REQUEST_MS } from "../../src/server/logger.js";

/** One sample line of the Prometheus text format: `name{k="v",...} value`. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample with this name whose labels include `labels`; 0 when there is none. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value ?? 0;
}

async function scrape(ep: Endpoint): Promise<Sample[]> {
  const res = await get(ep, "/metrics");
  expect(res.status, res.body).toBe(200);
  expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(res.body);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Scrapes until `pred` holds (metrics recorded as a response finishes may trail the response by a tick). */
async function scrapeUntil(ep: Endpoint, pred: (s: Sample[]) => boolean, what: string): Promise<Sample[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const s = await scrape(ep);
    if (pred(s)) return s;
    if (Date.now() > deadline) throw new Error(`metrics never showed ${what}`);
    await sleep(50);
  }
}

const PR = { group: POLICY_REPORT.group, version: POLICY_REPORT.version, resource: POLICY_REPORT.plural };

describe("/metrics on a memory server", () => {
  const fx = useServer("memory");
  const ep = (): Endpoint => fx.server();

  it("needs credentials like any other path", async () => {
    const res = await get(ep(), "/metrics", { token: null });
    expect(res.status).toBe(401);
    const bad = await get(ep(), "/metrics", { token: "not-the-token" });
    expect(bad.status).toBe(401);
  });

  it("serves process, build and storage-object metrics", async () => {
    const s = await scrape(ep());
    expect(value(s, "process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(value(s, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
    const build = s.find((x) => x.name === "reports_server_build_info");
    expect(build?.labels.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(build?.labels.node_version).toBe(process.version.replace(/^v?/, "v"));
    expect(
      s.some(
        (x) => x.name === "apiserver_storage_objects" && x.labels.resource === "policyreports.wgpolicyk8s.io",
      ),
    ).toBe(true);
  });

  it("counts a create by verb, group, version, resource, scope and code, and its storage write", async () => {
    const ns = uniqueName("metrics");
    // a create is scoped to the one object it makes, as kube-apiserver's CleanScope has it
    const labels = { verb: "POST", ...PR, scope: "resource", code: "201" };
    const store = { backend: "memory", operation: "create", result: "ok" };
    const before = await scrape(ep());
    const res = await post(
      ep(),
      resourcePath(POLICY_REPORT, ns),
      makeReport(POLICY_REPORT, { name: "one", namespace: ns }),
    );
    expect(res.status, res.body).toBe(201);
    const after = await scrapeUntil(
      ep(),
      (s) => value(s, "apiserver_request_total", labels) > value(before, "apiserver_request_total", labels),
      "the create",
    );
    expect(value(after, "apiserver_request_total", labels)).toBe(
      value(before, "apiserver_request_total", labels) + 1,
    );
    const durationCount = { verb: "POST", ...PR, scope: "resource" };
    expect(value(after, "apiserver_request_duration_seconds_count", durationCount)).toBe(
      value(before, "apiserver_request_duration_seconds_count", durationCount) + 1,
    );
    expect(value(after, "reports_server_storage_operations_total", store)).toBe(
      value(before, "reports_server_storage_operations_total", store) + 1,
    );
    expect(
      value(after, "reports_server_storage_operation_duration_seconds_count", {
        backend: "memory",
        operation: "create",
      }),
    ).toBeGreaterThan(0);
    // No namespace or name ever becomes a label value.
    expect(after.some((x) => Object.values(x.labels).some((v) => v === ns || v === "one"))).toBe(false);
  });

  it("counts a missing object as a storage KeyNotFound and a 404 of scope resource", async () => {
    const ns = uniqueName("metrics");
    const labels = { verb: "GET", ...PR, scope: "resource", code: "404" };
    const store = { backend: "memory", operation: "get", result: "KeyNotFound" };
    const before = await scrape(ep());
    expect((await get(ep(), resourcePath(POLICY_REPORT, ns, "absent"))).status).toBe(404);
    const after = await scrapeUntil(
      ep(),
      (s) => value(s, "apiserver_request_total", labels) > value(before, "apiserver_request_total", labels),
      "the 404",
    );
    expect(value(after, "reports_server_storage_operations_total", store)).toBe(
      value(before, "reports_server_storage_operations_total", store) + 1,
    );
  });

  it("counts a 422 as a validation failure", async () => {
    const ns = uniqueName("metrics");
    const labels = { verb: "POST", ...PR, code: "422" };
    const before = await scrape(ep());
    const bad = makeReport(POLICY_REPORT, { name: "Not_A_Valid_Name", namespace: ns });
    const res = await post(ep(), resourcePath(POLICY_REPORT, ns), bad);
    expect(res.status, res.body).toBe(422);
    const after = await scrapeUntil(
      ep(),
      (s) =>
        value(s, "reports_server_validation_failures_total", labels) >
        value(before, "reports_server_validation_failures_total", labels),
      "the validation failure",
    );
    expect(value(after, "reports_server_validation_failures_total", labels)).toBe(
      value(before, "reports_server_validation_failures_total", labels) + 1,
    );
    expect(value(after, "apiserver_request_total", { ...labels, scope: "resource" })).toBe(
      value(before, "apiserver_request_total", { ...labels, scope: "resource" }) + 1,
    );
  });

  it("counts a body over the limit as a rejection", async () => {
    const ns = uniqueName("metrics");
    const rejected = { reason: "body-too-large", code: "413" };
    const before = await scrape(ep());
    const res = await post(ep(), resourcePath(POLICY_REPORT, ns), "x".repeat(3 * 1024 * 1024 + 1));
    expect(res.status).toBe(413);
    const after = await scrapeUntil(
      ep(),
      (s) =>
        value(s, "reports_server_rejected_requests_total", rejected) >
        value(before, "reports_server_rejected_requests_total", rejected),
      "the 413",
    );
    expect(value(after, "reports_server_rejected_requests_total", rejected)).toBe(
      value(before, "reports_server_rejected_requests_total", rejected) + 1,
    );
  });

  it("shows an open watch, the events it was sent, and its end", async () => {
    const ns = uniqueName("metrics");
    const open = { group: PR.group, resource: PR.resource };
    const added = { ...open, type: "ADDED" };
    const bookmarks = { ...open, type: "BOOKMARK" };
    const before = await scrape(ep());
    expect(value(before, "reports_server_watches", open)).toBe(0);
    const w = await openWatch(
      ep(),
      `${resourcePath(POLICY_REPORT, ns)}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan`,
    );
    try {
      expect(w.status, w.body).toBe(200);
      await w.waitFor((e) => e.type === "BOOKMARK");
      const during = await scrape(ep());
      expect(value(during, "reports_server_watches", open)).toBe(1);
      expect(value(during, "reports_server_watch_events_sent_total", bookmarks)).toBe(
        value(before, "reports_server_watch_events_sent_total", bookmarks) + 1,
      );
      const res = await post(
        ep(),
        resourcePath(POLICY_REPORT, ns),
        makeReport(POLICY_REPORT, { name: "watched", namespace: ns }),
      );
      expect(res.status, res.body).toBe(201);
      await w.waitFor((e) => e.type === "ADDED");
      const sent = await scrapeUntil(
        ep(),
        (s) =>
          value(s, "reports_server_watch_events_sent_total", added) >
          value(before, "reports_server_watch_events_sent_total", added),
        "the ADDED event",
      );
      expect(value(sent, "reports_server_watch_events_sent_total", added)).toBe(
        value(before, "reports_server_watch_events_sent_total", added) + 1,
      );
    } finally {
      w.close();
    }
    const watchDone = { verb: "WATCH", ...PR, scope: "namespace", code: "200" };
    const after = await scrapeUntil(
      ep(),
      (s) => value(s, "reports_server_watches", open) === 0,
      "the watch closing",
    );
    expect(value(after, "apiserver_request_total", watchDone)).toBe(
      value(before, "apiserver_request_total", watchDone) + 1,
    );
    expect(
      value(after, "reports_server_storage_operations_total", {
        backend: "memory",
        operation: "watch",
        result: "ok",
      }),
    ).toBe(
      value(before, "reports_server_storage_operations_total", {
        backend: "memory",
        operation: "watch",
        result: "ok",
      }) + 1,
    );
    // Watches stay out of the latency histogram: their length is the client's choice.
    expect(
      after.some((x) => x.name.startsWith("apiserver_request_duration_seconds") && x.labels.verb === "WATCH"),
    ).toBe(false);
  });

  it("counts requests for paths it does not serve without their path as a label", async () => {
    const before = await scrape(ep());
    const labels = { verb: "LIST", group: "", version: "", resource: "", scope: "cluster", code: "404" };
    expect((await get(ep(), "/apis/made.up/v1/things-9f3a")).status).toBe(404);
    const after = await scrapeUntil(
      ep(),
      (s) => value(s, "apiserver_request_total", labels) > value(before, "apiserver_request_total", labels),
      "the unknown path",
    );
    expect(
      after.some((x) => Object.values(x.labels).some((v) => v.includes("things-9f3a") || v === "made.up")),
    ).toBe(false);
  });

  it("logs no line for a fast write at the default level (requests are logged at debug)", async () => {
    const ns = uniqueName("quiet");
    const id = uniqueName("req");
    const res = await post(
      ep(),
      resourcePath(POLICY_REPORT, ns),
      makeReport(POLICY_REPORT, { name: "q", namespace: ns }),
      {
        headers: { "X-Request-Id": id },
      },
    );
    expect(res.status, res.body).toBe(201);
    // the line of a finished request is written within milliseconds when it is written at all
    await sleep(300);
    const line = fx
      .server()
      .logs()
      .split("\n")
      .find((l) => l.includes(`"requestId":"${id}"`));
    // only a create that took SLOW_REQUEST_MS or more (a starved CI machine) is logged, at info
    if (line !== undefined) {
      const rec = JSON.parse(line) as { level: number; ms: number };
      expect(rec.level).toBe(30);
      expect(rec.ms).toBeGreaterThanOrEqual(SLOW_REQUEST_MS);
    }
  });
});

describe("request logs on a server at --log-level=debug", () => {
  const fx = useServer("memory", { args: ["--log-level=debug"] });
  const ep = (): Endpoint => fx.server();

  it("logs each request as one JSON line at debug with request id, user, verb, resource, code and latency", async () => {
    const ns = uniqueName("logs");
    const id = uniqueName("req");
    const logLine = async (requestId: string): Promise<Record<string, unknown>> => {
      const deadline = Date.now() + 5_000;
      for (;;) {
        const line = fx
          .server()
          .logs()
          .split("\n")
          .find((l) => l.includes(`"requestId":"${requestId}"`));
        if (line) return JSON.parse(line) as Record<string, unknown>;
        if (Date.now() > deadline) throw new Error(`no log line for ${requestId}:\n${fx.server().logs()}`);
        await sleep(50);
      }
    };
    const read = await get(ep(), resourcePath(POLICY_REPORT, ns), {
      headers: { "X-Request-Id": `${id}-read` },
    });
    expect(read.status).toBe(200);
    const report = makeReport(POLICY_REPORT, { name: "logged", namespace: ns });
    const res = await post(ep(), resourcePath(POLICY_REPORT, ns), report, {
      headers: { "X-Request-Id": `${id}-write` },
    });
    expect(res.status, res.body).toBe(201);
    const rec = await logLine(`${id}-write`);
    expect(rec).toMatchObject({
      level: 20,
      msg: "request",
      verb: "create",
      resource: "policyreports",
      code: 201,
    });
    expect(rec.user).toEqual(expect.any(String));
    expect(rec.ms).toEqual(expect.any(Number));
    expect(await logLine(`${id}-read`)).toMatchObject({ level: 20, verb: "list", code: 200 });
    // Never the body of a report, never the bearer token.
    expect(fx.server().logs()).not.toContain("Sharing the host namespaces is disallowed");
    expect(fx.server().logs()).not.toContain(fx.server().token);
  });
});

describe("/metrics on a server with one watch allowed", () => {
  const fx = useServer("memory", { args: ["--max-watches=1"] });
  const ep = (): Endpoint => fx.server();

  it("counts the watch beyond --max-watches as a 429 rejection by reason", async () => {
    const rejected = { reason: "max-watches", code: "429" };
    const before = await scrape(ep());
    const path = `${resourcePath(POLICY_REPORT)}?watch=true`;
    const first = await openWatch(ep(), path);
    try {
      expect(first.status, first.body).toBe(200);
      const second = await openWatch(ep(), path);
      second.close();
      expect(second.status, second.body).toBe(429);
      expect(second.headers["retry-after"]).toBe("1");
      const after = await scrapeUntil(
        ep(),
        (s) =>
          value(s, "reports_server_rejected_requests_total", rejected) >
          value(before, "reports_server_rejected_requests_total", rejected),
        "the 429",
      );
      expect(value(after, "reports_server_rejected_requests_total", rejected)).toBe(
        value(before, "reports_server_rejected_requests_total", rejected) + 1,
      );
      expect(
        value(after, "apiserver_request_total", { verb: "WATCH", ...PR, scope: "cluster", code: "429" }),
      ).toBe(1);
      expect(value(after, "reports_server_watches", { group: PR.group, resource: PR.resource })).toBe(1);
    } finally {
      first.close();
    }
  });
});
