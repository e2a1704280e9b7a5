import { request as httpsRequest } from "node:https";
import { describe, expect, it } from "vitest";
import { del, get, openWatch, patch, post, put, request } from "../support/http.js";
import { makeReport, POLICY_REPORT, resourcePath, uniqueName, type Obj } from "../support/reports.js";
import { useServer } from "../support/server.js";

/** Requests that once broke the server, and answers that must match kube-apiserver's exactly. */
describe("edge cases", () => {
  const ctx = useServer("memory");

  async function created(ns: string, name = "r"): Promise<Obj> {
    const res = await post(
      ctx.server(),
      resourcePath(POLICY_REPORT, ns),
      makeReport(POLICY_REPORT, { name, namespace: ns }),
    );
    expect(res.status, res.body).toBe(201);
    return res.json<Obj>();
  }

  it("a malformed escape in the path is a 400, and the server lives on", async () => {
    const bad = await get(ctx.server(), "/apis/%zz");
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ kind: "Status", code: 400 });
    expect((await get(ctx.server(), "/readyz")).status).toBe(200);
  });

  it("a warning about a non-Latin-1 field name does not cost the response (HTTP/1.1)", async () => {
    const ns = uniqueName("warn");
    const body = { ...makeReport(POLICY_REPORT, { name: "w", namespace: ns }), 日本: 1 };
    const res = await post(ctx.server(), resourcePath(POLICY_REPORT, ns), body, { timeoutMs: 10_000 });
    expect(res.status).toBe(201);
    const warning = Buffer.from(String(res.headers.warning), "latin1").toString("utf8");
    expect(warning).toBe('299 - "unknown field \\"日本\\""');
  });

  it("concurrent patches without a resource version are retried on a lost race, never 409", async () => {
    const ns = uniqueName("patches");
    await created(ns);
    const path = resourcePath(POLICY_REPORT, ns, "r");
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        patch(ctx.server(), path, "application/merge-patch+json", {
          metadata: { labels: { [`l${i}`]: "x" } },
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
    const labels = (await get(ctx.server(), path)).json<Obj>().metadata.labels as Record<string, string>;
    for (let i = 0; i < 30; i++) expect(labels[`l${i}`]).toBe("x");
    // A resource version the patch itself sets is still a precondition.
    const stale = await patch(ctx.server(), path, "application/merge-patch+json", {
      metadata: { resourceVersion: "1", labels: { late: "x" } },
    });
    expect(stale.status).toBe(409);
  });

  it("sendInitialEvents=false without a resource version starts at the most recent change", async () => {
    const ns = uniqueName("noinitial");
    await created(ns, "old");
    const w = await openWatch(
      ctx.server(),
      `${resourcePath(POLICY_REPORT, ns)}?watch=true&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`,
    );
    try {
      expect(w.status).toBe(200);
      await created(ns, "new");
      const ev = await w.waitFor((e) => e.type === "ADDED", 10_000);
      expect((ev!.object.metadata as Obj["metadata"]).name).toBe("new");
      expect(w.events.filter((e) => e.type === "ADDED")).toHaveLength(1);
    } finally {
      w.close();
    }
  });

  // cacheWatcher.process sends only what is newer than the watch's start (the initial-events-end
  // bookmark excepted): a bookmark never echoes the client's own version, which the store may not have.
  it("bookmarks report only versions after the watch's start: none while the store stands still", async () => {
    const ns = uniqueName("bmstart");
    const path = resourcePath(POLICY_REPORT, ns);
    const rvOf = (o: { metadata?: unknown }) => Number((o.metadata as Obj["metadata"]).resourceVersion);
    const now = rvOf((await get(ctx.server(), path)).json<Obj>());
    // nothing is written while these run: one from the store's version, one from a version ahead of it
    const watches = await Promise.all(
      [now, now + 1000].map((from) =>
        openWatch(
          ctx.server(),
          `${path}?watch=true&allowWatchBookmarks=true&timeoutSeconds=3&resourceVersion=${from}`,
        ),
      ),
    );
    for (const w of watches) {
      expect(w.status, w.body).toBe(200);
      await w.ended;
      expect(w.events).toEqual([]);
    }

    // once the store moves on, the bookmark before the deadline carries its version
    const idle = await openWatch(
      ctx.server(),
      `${path}?watch=true&allowWatchBookmarks=true&timeoutSeconds=8&resourceVersion=${now}`,
    );
    const elsewhere = await created(uniqueName("bmother"));
    await idle.ended;
    const marks = idle.events.filter((e) => e.type === "BOOKMARK").map((e) => rvOf(e.object));
    expect(marks.length, JSON.stringify(idle.events)).toBeGreaterThan(0);
    for (const rv of marks) expect(rv).toBeGreaterThanOrEqual(rvOf(elsewhere));
  });

  it("WatchList: the end bookmark only for clients that take bookmarks; metadata clients get a metadata blueprint", async () => {
    const ns = uniqueName("wlbm");
    await created(ns, "a");
    const path = `${resourcePath(POLICY_REPORT, ns)}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=2`;
    const plain = await openWatch(ctx.server(), path);
    expect(plain.status, plain.body).toBe(200);
    await plain.ended;
    expect(plain.events.map((e) => e.type)).toEqual(["ADDED"]);

    const meta = await openWatch(ctx.server(), `${path}&allowWatchBookmarks=true`, {
      headers: { Accept: "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1" },
    });
    try {
      const end = await meta.waitFor((e) => e.type === "BOOKMARK", 10_000);
      const annotations = ((end.object.metadata as Obj["metadata"]).annotations ?? {}) as Record<
        string,
        string
      >;
      expect(annotations["k8s.io/initial-events-end"]).toBe("true");
      const blueprint = Buffer.from(annotations["kubernetes.io/initial-events-list-blueprint"], "base64");
      expect(JSON.parse(blueprint.toString())).toEqual({
        kind: "PartialObjectMetadataList",
        apiVersion: "meta.k8s.io/v1",
        metadata: {},
        items: [],
      });
    } finally {
      meta.close();
    }
  });

  it("a DELETE whose options do not decode is a 400 and deletes nothing (a mistyped dry run stays dry)", async () => {
    const ns = uniqueName("delbody");
    await created(ns);
    const path = resourcePath(POLICY_REPORT, ns, "r");
    for (const body of [{ dryRun: "All" }, { preconditions: { resourceVersion: 5 } }]) {
      const res = await del(ctx.server(), path, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json()).toMatchObject({ kind: "Status", reason: "BadRequest" });
    }
    expect((await get(ctx.server(), path)).status).toBe(200);
  });

  it("a YAML body nested a million deep is a 400 at once, and the server lives on", async () => {
    const ns = uniqueName("yamlbomb");
    const body = `apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata:\n  name: b\nbogus: ${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}\n`;
    const res = await request(ctx.server(), "POST", resourcePath(POLICY_REPORT, ns), {
      body,
      headers: { "Content-Type": "application/yaml" },
    });
    expect(res.status, res.body.slice(0, 200)).toBe(400);
    expect(res.json<{ message: string }>().message).toContain("yaml: exceeded max depth of 1000");
    expect((await get(ctx.server(), "/readyz")).status).toBe(200);
  });

  it("a lone surrogate escape in a body is stored as U+FFFD, as Go's decoder reads it", async () => {
    const ns = uniqueName("surrogate");
    const report = makeReport(POLICY_REPORT, { name: "s", namespace: ns });
    const text = JSON.stringify({
      ...report,
      results: [{ policy: "p", result: "pass", message: "MARK" }],
    }).replace("MARK", "a\\ud800b\\udc00");
    const res = await request(ctx.server(), "POST", resourcePath(POLICY_REPORT, ns), {
      body: text,
      headers: { "Content-Type": "application/json" },
    });
    expect(res.status, res.body).toBe(201);
    const stored = (await get(ctx.server(), resourcePath(POLICY_REPORT, ns, "s"))).json<Obj>();
    expect((stored.results as { message: string }[])[0].message).toBe("a\ufffdb\ufffd");
    // YAML has its own spelling of the escape
    const yaml = `apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata:\n  name: yaml-one\nresults:\n- policy: p\n  result: pass\n  message: "\\U0000D800x"\n`;
    const viaYaml = await request(ctx.server(), "POST", resourcePath(POLICY_REPORT, ns), {
      body: yaml,
      headers: { "Content-Type": "application/yaml" },
    });
    expect(viaYaml.status, viaYaml.body).toBe(201);
    expect((viaYaml.json<Obj>().results as { message: string }[])[0].message).toBe("\ufffdx");
  });

  it("a body nested deeper than 1,000 levels is a 400, also as a patch (no stack overflow, no 500)", async () => {
    const ns = uniqueName("deep");
    await created(ns);
    const deep = `${"[".repeat(3000)}${"]".repeat(3000)}`;
    for (const [type, body] of [
      ["application/merge-patch+json", `{"bogus":${deep}}`],
      ["application/json-patch+json", `[{"op":"add","path":"/bogus","value":${deep}}]`],
      // JSON sent as an apply patch is read as JSON: deeper than the stack, it is still this 400
      ["application/apply-patch+yaml", `{"bogus":${"[".repeat(200_000)}${"]".repeat(200_000)}}`],
    ]) {
      const query = type === "application/apply-patch+yaml" ? "?fieldManager=deep" : "";
      const res = await request(ctx.server(), "PATCH", `${resourcePath(POLICY_REPORT, ns, "r")}${query}`, {
        body,
        headers: { "Content-Type": type },
      });
      expect(res.status, type).toBe(400);
      expect(res.json<{ message: string }>().message).toContain("exceeded max depth of 1000");
    }
  });

  it("duplicate owner references are stored once, with kube-apiserver's warning (create, and a patch's wording)", async () => {
    const ns = uniqueName("owners");
    const owner = { apiVersion: "v1", kind: "Pod", name: "p", uid: "u-1" };
    const body = makeReport(POLICY_REPORT, { name: "o", namespace: ns });
    body.metadata = { ...body.metadata, ownerReferences: [owner, owner, { ...owner, name: "q" }] };
    const res = await post(ctx.server(), resourcePath(POLICY_REPORT, ns), body);
    expect(res.status, res.body).toBe(201);
    expect(res.json<Obj>().metadata.ownerReferences).toEqual([owner, { ...owner, name: "q" }]);
    expect(String(res.headers.warning)).toContain(
      ".metadata.ownerReferences contains duplicate entries; API server dedups owner references in 1.20+, and may reject such requests as early as 1.24; please fix your requests; duplicate UID(s) observed: u-1",
    );
    const patched = await patch(
      ctx.server(),
      resourcePath(POLICY_REPORT, ns, "o"),
      "application/merge-patch+json",
      {
        metadata: { ownerReferences: [owner, owner] },
      },
    );
    expect(patched.json<Obj>().metadata.ownerReferences).toEqual([owner]);
    expect(String(patched.headers.warning)).toContain(
      "contains duplicate entries after mutating admission happens",
    );
  });

  it("a create with a resourceVersion: only a positive integer is refused (500), as the etcd3 store checks it", async () => {
    const ns = uniqueName("createrv");
    for (const [rv, status] of [
      ["0", 201],
      ["abc", 201],
      ["-1", 201],
      ["5", 500],
    ] as const) {
      const body = makeReport(POLICY_REPORT, { name: `r${rv.replace(/\W/g, "x")}`, namespace: ns });
      body.metadata = { ...body.metadata, resourceVersion: rv };
      const res = await post(ctx.server(), resourcePath(POLICY_REPORT, ns), body);
      expect(res.status, rv).toBe(status);
    }
  });

  it("a create in a patch's media type is a 415; an empty Content-Type is JSON; limit must be an int64", async () => {
    const ns = uniqueName("types");
    const path = resourcePath(POLICY_REPORT, ns);
    const body = (name: string) => JSON.stringify(makeReport(POLICY_REPORT, { name, namespace: ns }));
    for (const type of [
      "application/merge-patch+json",
      "application/json-patch+json",
      "application/apply-patch+yaml",
    ]) {
      const res = await request(ctx.server(), "POST", path, {
        body: body("p"),
        headers: { "Content-Type": type },
      });
      expect(res.status, type).toBe(415);
    }
    const empty = await request(ctx.server(), "POST", path, {
      body: body("e"),
      headers: { "Content-Type": "" },
    });
    expect(empty.status, empty.body).toBe(201);
    for (const limit of ["1e3", "99999999999999999999", "1.5", ""]) {
      expect((await get(ctx.server(), `${path}?limit=${limit}`)).status, limit).toBe(400);
    }
    expect((await get(ctx.server(), `${path}?limit=-5`)).status).toBe(200);
  });

  it("an update may not set a deletion timestamp or grace period the object does not have (422 immutable)", async () => {
    const ns = uniqueName("deletion");
    await created(ns);
    for (const metadata of [
      { deletionTimestamp: "2026-01-01T00:00:00Z" },
      { deletionGracePeriodSeconds: 5 },
    ]) {
      const res = await patch(
        ctx.server(),
        resourcePath(POLICY_REPORT, ns, "r"),
        "application/merge-patch+json",
        {
          metadata,
        },
      );
      expect(res.status, res.body).toBe(422);
      expect(res.body).toContain("field is immutable");
    }
  });

  it("a patch that moves the object to another namespace is a 400 in the patcher's words", async () => {
    const ns = uniqueName("movens");
    await created(ns);
    const res = await patch(
      ctx.server(),
      resourcePath(POLICY_REPORT, ns, "r"),
      "application/merge-patch+json",
      {
        metadata: { namespace: "other" },
      },
    );
    expect(res.status).toBe(400);
    expect(res.json<{ message: string }>().message).toBe(
      `the namespace of the object (other) does not match the namespace on the request (${ns})`,
    );
  });

  it("a patch whose result is a list is a 422 on patch, as jsonPatcher cannot decode it", async () => {
    const ns = uniqueName("listresult");
    await created(ns);
    const path = resourcePath(POLICY_REPORT, ns, "r");
    for (const [type, body] of [
      ["application/json-patch+json", [{ op: "replace", path: "", value: [] }]],
      ["application/merge-patch+json", [1, 2]],
    ] as const) {
      const res = await patch(ctx.server(), path, type, body);
      expect(res.status, type).toBe(422);
      expect(res.json()).toMatchObject({
        reason: "Invalid",
        details: { causes: [{ field: "patch", reason: "FieldValueInvalid" }] },
      });
      expect(res.json<{ details: { causes: { message: string }[] } }>().details.causes[0].message).toContain(
        "couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string",
      );
    }
    expect((await get(ctx.server(), path)).status).toBe(200);
  });

  it("a PUT naming another uid fails its precondition with 409, as kube-apiserver answers", async () => {
    const ns = uniqueName("uid");
    const obj = await created(ns);
    const res = await put(ctx.server(), resourcePath(POLICY_REPORT, ns, "r"), {
      ...obj,
      metadata: { ...obj.metadata, uid: "00000000-0000-0000-0000-000000000000" },
    });
    expect(res.status).toBe(409);
    expect(res.json().message).toBe(
      `Operation cannot be fulfilled on policyreports.wgpolicyk8s.io "r": Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000, UID in object meta: ${obj.metadata.uid}`,
    );
  });

  it("bodies in formats the server does not read get 415 (client-go then falls back to JSON)", async () => {
    const ns = uniqueName("ctype");
    const res = await post(
      ctx.server(),
      resourcePath(POLICY_REPORT, ns),
      JSON.stringify(makeReport(POLICY_REPORT, { name: "t", namespace: ns })),
      {
        headers: { "Content-Type": "application/vnd.kubernetes.protobuf" },
      },
    );
    expect(res.status).toBe(415);
    expect(res.json()).toMatchObject({ reason: "UnsupportedMediaType", code: 415 });
  });

  it("force is only for apply patches; resourceVersion is not for continued lists", async () => {
    const ns = uniqueName("opts");
    await created(ns, "a");
    await created(ns, "b");
    const forced = await patch(
      ctx.server(),
      `${resourcePath(POLICY_REPORT, ns, "a")}?force=true`,
      "application/merge-patch+json",
      {
        metadata: { labels: { x: "y" } },
      },
    );
    expect(forced.status).toBe(422);
    expect(forced.json().message).toBe(
      'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch',
    );
    const page = (await get(ctx.server(), `${resourcePath(POLICY_REPORT, ns)}?limit=1`)).json<{
      metadata: { continue: string; resourceVersion: string };
    }>();
    const both = await get(
      ctx.server(),
      `${resourcePath(POLICY_REPORT, ns)}?limit=1&continue=${encodeURIComponent(page.metadata.continue)}&resourceVersion=${page.metadata.resourceVersion}`,
    );
    expect(both.status).toBe(400);
    expect(both.json().message).toBe("specifying resource version is not allowed when using continue");
  });

  it("marking an object for deletion bumps its generation; Background drops the orphan finalizer", async () => {
    const ns = uniqueName("gen");
    const body = makeReport(POLICY_REPORT, { name: "f", namespace: ns });
    body.metadata.finalizers = ["example.com/keep", "orphan"];
    expect((await post(ctx.server(), resourcePath(POLICY_REPORT, ns), body)).status).toBe(201);
    const path = resourcePath(POLICY_REPORT, ns, "f");
    const res = await del(ctx.server(), path, { propagationPolicy: "Background" });
    expect(res.status).toBe(200);
    const marked = res.json<Obj>().metadata;
    expect(marked.generation).toBe(2);
    expect(marked.deletionTimestamp).toBeTruthy();
    expect(marked.finalizers).toEqual(["example.com/keep"]);
    // the deprecated orphanDependents=false on an object that stays answers 202 (it goes on in the background)
    const again = await del(ctx.server(), path, { orphanDependents: false });
    expect(again.status).toBe(202);
    expect(again.json<Obj>().metadata.deletionTimestamp).toBe(marked.deletionTimestamp);
    await request(ctx.server(), "PATCH", path, {
      body: [{ op: "remove", path: "/metadata/finalizers" }],
      headers: { "Content-Type": "application/json-patch+json" },
    });
    expect((await get(ctx.server(), path)).status).toBe(404);
  });

  describe("a YAML body that repeats a key (kept: the last; reported as go-yaml reports it)", () => {
    const yamlReport = (ns: string, name: string) =>
      [
        "apiVersion: wgpolicyk8s.io/v1alpha2",
        "kind: PolicyReport",
        "metadata:",
        `  name: ${name}`,
        `  namespace: ${ns}`,
        "  labels:",
        "    team: a",
        "    team: b",
        "summary:",
        "  pass: 1",
        "  pass: 2",
        "",
      ].join("\n");
    const lines = ['line 8: key "team" already set in map', 'line 11: key "pass" already set in map'];
    const asYaml = { headers: { "Content-Type": "application/yaml" } };
    const warningsOf = (h: string | string[] | undefined) =>
      [h ?? []]
        .flat()
        .flatMap((v) => v.split(/,\s*(?=299)/))
        .map((w) => JSON.parse(w.slice(6)) as string);

    it("Strict: a 400 naming every repeated key by line; nothing is stored", async () => {
      const ns = uniqueName("yamldup");
      const res = await post(
        ctx.server(),
        `${resourcePath(POLICY_REPORT, ns)}?fieldValidation=Strict`,
        yamlReport(ns, "s"),
        asYaml,
      );
      expect(res.status, res.body).toBe(400);
      expect(res.json()).toMatchObject({
        kind: "Status",
        reason: "BadRequest",
        message:
          'PolicyReport in version "v1alpha2" cannot be handled as a PolicyReport: strict decoding error: ' +
          `yaml: unmarshal errors:\n  ${lines.join("\n  ")}`,
      });
      expect((await get(ctx.server(), resourcePath(POLICY_REPORT, ns, "s"))).status).toBe(404);
    });

    it("Warn (the default): stored with the last value of each key, one warning per repeat", async () => {
      const ns = uniqueName("yamldup");
      const res = await post(ctx.server(), resourcePath(POLICY_REPORT, ns), yamlReport(ns, "w"), asYaml);
      expect(res.status, res.body).toBe(201);
      expect(warningsOf(res.headers.warning)).toEqual(lines);
      const stored = (await get(ctx.server(), resourcePath(POLICY_REPORT, ns, "w"))).json<Obj>();
      expect(stored.metadata.labels).toEqual({ team: "b" });
      expect(stored.summary).toEqual({ pass: 2 });
    });

    it("Ignore: stored silently; apply with Strict refuses the same repeats", async () => {
      const ns = uniqueName("yamldup");
      const ok = await post(
        ctx.server(),
        `${resourcePath(POLICY_REPORT, ns)}?fieldValidation=Ignore`,
        yamlReport(ns, "i"),
        asYaml,
      );
      expect(ok.status, ok.body).toBe(201);
      expect(ok.headers.warning).toBeUndefined();
      const applied = await patch(
        ctx.server(),
        `${resourcePath(POLICY_REPORT, ns, "a")}?fieldManager=me&fieldValidation=Strict`,
        "application/apply-patch+yaml",
        yamlReport(ns, "a"),
      );
      expect(applied.status, applied.body).toBe(400);
      expect(applied.json()).toMatchObject({
        kind: "Status",
        reason: "BadRequest",
        message: `error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n  ${lines.join("\n  ")}`,
      });
      expect((await get(ctx.server(), resourcePath(POLICY_REPORT, ns, "a"))).status).toBe(404);
    });

    it("the same warning twice is sent once, as kube-apiserver's warning recorder keeps each text once", async () => {
      const ns = uniqueName("yamldup");
      const body = `apiVersion: wgpolicyk8s.io/v1alpha2\nkind: PolicyReport\nmetadata: {name: d, namespace: ${ns}, labels: {x: "1", x: "2", x: "3"}}\n`;
      const res = await post(ctx.server(), resourcePath(POLICY_REPORT, ns), body, asYaml);
      expect(res.status, res.body).toBe(201);
      expect(warningsOf(res.headers.warning)).toEqual(['line 3: key "x" already set in map']);
      expect(res.json<Obj>().metadata.labels).toEqual({ x: "3" });
    });

    it("a YAML syntax error is still a 400", async () => {
      const ns = uniqueName("yamlbad");
      const res = await post(ctx.server(), resourcePath(POLICY_REPORT, ns), "kind: [\n", asYaml);
      expect(res.status).toBe(400);
      expect(res.json<{ message: string }>().message).toMatch(/^the request body could not be decoded: /);
    });
  });
});

describe("a client that leaves in the middle of a list", () => {
  // Small pages make an unlimited list a stream of many pages; one read slot makes a held list visible.
  const ctx = useServer("memory", {
    args: ["--max-page-size=3", "--max-requests-inflight=1", "--max-mutating-requests-inflight=1"],
  });

  it("frees its read slot at once, not at the request timeout (the request's signal sees the disconnect)", async () => {
    const s = ctx.server();
    const ns = uniqueName("leave");
    const results = Array.from({ length: 200 }, (_, i) => ({
      policy: `p${i}`,
      rule: "r",
      result: "pass",
      message: "m".repeat(300),
      source: "kyverno",
      scored: true,
    }));
    // about 8 MB in all: more than the socket buffers hold, so the server waits on the unread stream
    for (let i = 0; i < 120; i++) {
      const body = makeReport(POLICY_REPORT, { name: `r${i}`, namespace: ns, extra: { results } });
      expect((await post(s, resourcePath(POLICY_REPORT, ns), body)).status).toBe(201);
    }
    const listPath = `${resourcePath(POLICY_REPORT, ns)}?limit=1`;
    const req = httpsRequest(new URL(resourcePath(POLICY_REPORT, ns), s.url), {
      agent: false,
      ca: s.ca,
      headers: { Authorization: `Bearer ${s.token}` },
    });
    req.on("error", () => {});
    const res = await new Promise<import("node:http").IncomingMessage>((resolve) => {
      req.on("response", resolve);
      req.end();
    });
    res.pause();
    try {
      // the unread list holds the only read slot
      const deadline = Date.now() + 5_000;
      let held = false;
      while (!held && Date.now() < deadline) {
        held = (await get(s, listPath)).status === 429;
        if (!held) await new Promise((r) => setTimeout(r, 50));
      }
      expect(held, "the unread list holds the read slot").toBe(true);
    } finally {
      req.destroy();
    }
    const left = Date.now();
    let status = 0;
    while (Date.now() - left < 5_000) {
      status = (await get(s, listPath)).status;
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status, "a list after the client left").toBe(200);
  }, 60_000);
});
