import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { get, post, type JsonObject } from "../../support/http.js";
import {
  KINDS,
  POLICY_REPORT,
  makeReport,
  resourcePath,
  uniqueName,
  type Obj,
} from "../../support/reports.js";
import { nsArgs, testLabel } from "./crud.js";
import { k, kOk, names, tableRows, yamlOf, type SuiteContext } from "./context.js";

const TABLE_ACCEPT =
  "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
const POM_LIST_ACCEPT =
  "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
const POM_ACCEPT =
  "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

type List = {
  kind: string;
  apiVersion: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: Obj[];
};

/** Five reports in a fresh namespace with labels for every selector operator. */
async function seed(ctx: SuiteContext, prefix: string): Promise<string> {
  const ns = uniqueName(prefix);
  const labels: Record<string, Record<string, string>> = {
    a: { env: "prod", tier: "web", "audit.kyverno.io/resource.uid": "uid-a" },
    b: { env: "prod", tier: "db" },
    c: { env: "dev", tier: "web" },
    d: { env: "test" },
    e: { owner: "team-x" },
  };
  await kOk(ctx, ["create", "-f", "-"], {
    stdin: yamlOf(
      ...Object.entries(labels).map(([n, l]) =>
        makeReport(POLICY_REPORT, { name: n, namespace: ns, labels: { ...l, ...testLabel(ns) } }),
      ),
    ),
  });
  return ns;
}

function itemNames(list: List): string[] {
  return list.items.map((i) => i.metadata.name as string);
}

export function listTests(ctx: SuiteContext) {
  describe.concurrent("list", () => {
    it("label selectors: =, ==, !=, in, notin, exists, !exists, AND, prefixed keys", async () => {
      const ns = await seed(ctx, "labels");
      const cases: [string, string[]][] = [
        ["env=prod", ["a", "b"]],
        ["env==prod", ["a", "b"]],
        ["env!=prod", ["c", "d", "e"]],
        ["env in (dev,test)", ["c", "d"]],
        ["env notin (prod,dev)", ["d", "e"]],
        ["tier", ["a", "b", "c"]],
        ["!tier", ["d", "e"]],
        ["env=prod,tier=web", ["a"]],
        ["env,!tier", ["d"]],
        ["audit.kyverno.io/resource.uid=uid-a", ["a"]],
        ["env in (nothing)", []],
      ];
      const outs = await Promise.all(
        cases.map(([sel]) => kOk(ctx, ["get", "polr", "-n", ns, "-l", sel, "-o", "name"])),
      );
      cases.forEach(([sel, want], i) => expect(namesIn(outs[i]), sel).toEqual(want));
      const bad = await get(
        ctx.server(),
        `${resourcePath(POLICY_REPORT, ns)}?labelSelector=${encodeURIComponent("env in prod")}`,
      );
      expect(bad.status).toBe(400);
      expect(bad.json()).toMatchObject({ kind: "Status", reason: "BadRequest", code: 400 });
    });

    it("label selectors: gt and lt compare integer labels as numbers; a bound that is no int64 → 400", async () => {
      const ns = uniqueName("gtlt");
      const priorities: Record<string, string> = {
        p1: "1",
        p5: "5",
        p7: "007",
        p10: "10",
        p12: "12",
        px: "high",
      };
      await kOk(ctx, ["create", "-f", "-"], {
        stdin: yamlOf(
          ...Object.entries(priorities).map(([n, p]) =>
            makeReport(POLICY_REPORT, { name: n, namespace: ns, labels: { priority: p, ...testLabel(ns) } }),
          ),
          makeReport(POLICY_REPORT, { name: "none", namespace: ns, labels: testLabel(ns) }),
        ),
      });
      const cases: [string, string[]][] = [
        ["priority>5", ["p10", "p12", "p7"]],
        ["priority<10", ["p1", "p5", "p7"]],
        ["priority>1,priority<12", ["p10", "p5", "p7"]],
        ["priority>12", []],
      ];
      const outs = await Promise.all(
        cases.map(([sel]) => kOk(ctx, ["get", "polr", "-n", ns, "-l", sel, "-o", "name"])),
      );
      cases.forEach(([sel, want], i) => expect(namesIn(outs[i]), sel).toEqual(want));
      // the Table kubectl prints by default goes through the same selection
      expect(names(await kOk(ctx, ["get", "polr", "-n", ns, "-l", "priority>11"]))).toEqual(["p12"]);
      const bad = await k(ctx, ["get", "polr", "-n", ns, "-l", "priority>99999999999999999999"]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain(
        // kubectl's own wording around the server's message, as against kube-apiserver
        `Error from server (BadRequest): Unable to find "wgpolicyk8s.io/v1alpha2, Resource=policyreports" that match label selector "priority>99999999999999999999", field selector "": unable to parse requirement: values[0]: Invalid value: "99999999999999999999": for 'Gt', 'Lt' operators, the value must be an integer`,
      );
    });

    it("field selectors: metadata.name and metadata.namespace; other fields → 400", async () => {
      const ns = await seed(ctx, "fields");
      const [byName, notName, byNs] = await Promise.all([
        kOk(ctx, ["get", "polr", "-n", ns, "--field-selector", "metadata.name=b"]),
        kOk(ctx, ["get", "polr", "-n", ns, "--field-selector", "metadata.name!=b"]),
        kOk(ctx, ["get", "polr", "-A", "--field-selector", `metadata.namespace==${ns}`, "-l", "env=prod"]),
      ]);
      expect(names(byName)).toEqual(["b"]);
      expect(names(notName)).toEqual(["a", "c", "d", "e"]);
      expect(names(byNs, 1)).toEqual(["a", "b"]);
      const r = await k(ctx, ["get", "polr", "-n", ns, "--field-selector", "spec.foo=x"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("field label not supported: spec.foo");
      const raw = await get(
        ctx.server(),
        `${resourcePath(POLICY_REPORT, ns)}?fieldSelector=summary.pass%3D1`,
      );
      expect(raw.status).toBe(400);
      expect(raw.json().message).toContain("field label not supported: summary.pass");
    });

    it("limit/continue pages in key order with remainingItemCount, pinned to the first page", async () => {
      const ns = await seed(ctx, "pages");
      const srv = ctx.server();
      const path = resourcePath(POLICY_REPORT, ns);
      const p1 = (await get(srv, `${path}?limit=2`)).json<List>();
      expect(itemNames(p1)).toEqual(["a", "b"]);
      expect(p1.metadata.continue).toBeTruthy();
      expect(p1.metadata.remainingItemCount).toBe(3);
      // A write between pages does not show: every page is read at the first page's resource version.
      await post(srv, path, makeReport(POLICY_REPORT, { name: "bb", namespace: ns }));
      const p2 = (
        await get(srv, `${path}?limit=2&continue=${encodeURIComponent(p1.metadata.continue!)}`)
      ).json<List>();
      expect(itemNames(p2)).toEqual(["c", "d"]);
      expect(p2.metadata.resourceVersion).toBe(p1.metadata.resourceVersion);
      expect(p2.metadata.remainingItemCount).toBe(1);
      const p3 = (
        await get(srv, `${path}?limit=2&continue=${encodeURIComponent(p2.metadata.continue!)}`)
      ).json<List>();
      expect(itemNames(p3)).toEqual(["e"]);
      // a custom resource list always says continue, "" on its last page (unstructured lists do)
      expect(p3.metadata).toEqual({ continue: "", resourceVersion: p1.metadata.resourceVersion });
      const whole = (await get(srv, path)).json<List>();
      expect(whole.metadata).toEqual({ continue: "", resourceVersion: whole.metadata.resourceVersion });

      // Across namespaces the key is namespace/name: a cluster-wide page stays in key order.
      const cluster = (
        await get(
          srv,
          `/apis/${POLICY_REPORT.apiVersion}/policyreports?limit=3&labelSelector=${encodeURIComponent(`e2e.reports.test/id=${ns}`)}`,
        )
      ).json<List>();
      expect(itemNames(cluster)).toEqual(["a", "b", "c"]);

      const garbage = await get(srv, `${path}?limit=2&continue=not-a-token`);
      expect(garbage.status).toBe(400);
    });

    it("kubectl --chunk-size=2 pages through every item, in a namespace and with -A", async () => {
      const ns = await seed(ctx, "chunks");
      const [chunked, chunkedAll] = await Promise.all([
        kOk(ctx, ["get", "polr", "-n", ns, "--chunk-size=2"]),
        kOk(ctx, ["get", "polr", "-A", "--chunk-size=2", "-l", `e2e.reports.test/id=${ns}`]),
      ]);
      expect(names(chunked)).toEqual(["a", "b", "c", "d", "e"]);
      expect(names(chunkedAll, 1)).toEqual(["a", "b", "c", "d", "e"]);
    });

    it("kubectl get --sort-by (a Table with whole objects) sorts by a field of the report", async () => {
      const ns = uniqueName("sort");
      await kOk(ctx, ["create", "-f", "-"], {
        stdin: yamlOf(
          makeReport(POLICY_REPORT, { name: "low", namespace: ns, pass: 2 }),
          makeReport(POLICY_REPORT, { name: "high", namespace: ns, pass: 30 }),
          makeReport(POLICY_REPORT, { name: "mid", namespace: ns, pass: 7 }),
        ),
      });
      const out = await kOk(ctx, ["get", "polr", "-n", ns, "--sort-by=.summary.pass"]);
      expect(
        tableRows(out)
          .slice(1)
          .map((r) => r[0]),
      ).toEqual(["low", "mid", "high"]);
    });

    it("every kind lists cluster-wide (-A) and by namespace; cluster kinds ignore -n", async () => {
      const ns = uniqueName("allkinds");
      await kOk(ctx, ["create", "-f", "-"], {
        stdin: yamlOf(
          ...KINDS.map((kd) => makeReport(kd, { name: ns, namespace: ns, labels: testLabel(ns) })),
        ),
      });
      const outs = await Promise.all(
        KINDS.flatMap((kd) => [
          kOk(ctx, ["get", kd.short, "-A", "-l", `e2e.reports.test/id=${ns}`, "-o", "name"]),
          kOk(ctx, ["get", kd.short, ...nsArgs(kd, ns), "-l", `e2e.reports.test/id=${ns}`, "-o", "name"]),
        ]),
      );
      KINDS.forEach((kd, i) => {
        expect(outs[2 * i].trim(), kd.kind).toBe(`${kd.singular}.${kd.group}/${ns}`);
        expect(outs[2 * i + 1].trim(), kd.kind).toBe(`${kd.singular}.${kd.group}/${ns}`);
      });
    });

    it("Table: columns with priorities, includeObject Metadata/Object/None, bad value → 400", async () => {
      const ns = await seed(ctx, "table");
      const srv = ctx.server();
      const path = `${resourcePath(POLICY_REPORT, ns)}?limit=500`;
      const res = await get(srv, path, { headers: { Accept: TABLE_ACCEPT } });
      expect(res.status).toBe(200);
      const table = res.json<{
        kind: string;
        apiVersion: string;
        metadata: { resourceVersion: string };
        columnDefinitions: { name: string; type: string; format: string; priority: number }[];
        rows: { cells: unknown[]; object: JsonObject }[];
      }>();
      expect(table.kind).toBe("Table");
      expect(table.apiVersion).toBe("meta.k8s.io/v1");
      expect(table.metadata.resourceVersion).toMatch(/^[1-9][0-9]*$/);
      expect(table.columnDefinitions.map((c) => [c.name, c.type, c.priority])).toEqual([
        ["Name", "string", 0],
        ["Kind", "string", 0],
        ["Name", "string", 0],
        ["Pass", "integer", 0],
        ["Fail", "integer", 0],
        ["Warn", "integer", 0],
        ["Error", "integer", 0],
        ["Skip", "integer", 0],
        ["Age", "date", 0],
      ]);
      expect(table.columnDefinitions[0].format).toBe("name");
      expect(table.rows).toHaveLength(5);
      expect(table.rows[0].cells.slice(0, 3)).toEqual(["a", "Pod", "a"]);
      expect(table.rows[0].cells[3]).toBe(1);
      expect(table.rows[0].object).toMatchObject({
        kind: "PartialObjectMetadata",
        apiVersion: "meta.k8s.io/v1",
        metadata: { name: "a", namespace: ns },
      });
      expect(table.rows[0].object.summary).toBeUndefined();

      const [full, none, bad] = await Promise.all([
        get(srv, `${path}&includeObject=Object`, { headers: { Accept: TABLE_ACCEPT } }),
        get(srv, `${path}&includeObject=None`, { headers: { Accept: TABLE_ACCEPT } }),
        get(srv, `${path}&includeObject=Everything`, { headers: { Accept: TABLE_ACCEPT } }),
      ]);
      const fullRow = full.json<{ rows: { object: JsonObject }[] }>().rows[0].object;
      expect(fullRow).toMatchObject({
        kind: "PolicyReport",
        apiVersion: "wgpolicyk8s.io/v1alpha2",
        summary: { pass: 1 },
      });
      for (const row of none.json<{ rows: { object?: JsonObject | null }[] }>().rows)
        expect(row.object ?? null).toBeNull();
      expect(bad.status).toBe(400);

      // Wide-only columns carry priority 1.
      const reps = (
        await get(srv, `/apis/openreports.io/v1alpha1/reports?limit=1`, { headers: { Accept: TABLE_ACCEPT } })
      ).json<{ columnDefinitions: { name: string; priority: number }[] }>();
      expect(reps.columnDefinitions.filter((c) => c.priority === 1).map((c) => c.name)).toEqual([
        "Kind",
        "Name",
      ]);

      // One object as a Table, too.
      const one = await get(srv, resourcePath(POLICY_REPORT, ns, "a"), { headers: { Accept: TABLE_ACCEPT } });
      expect(one.json<{ kind: string; rows: unknown[] }>()).toMatchObject({
        kind: "Table",
        rows: [expect.anything()],
      });
    });

    it("PartialObjectMetadata(List) for metadata-only clients", async () => {
      const ns = await seed(ctx, "pom");
      const srv = ctx.server();
      const list = await get(srv, resourcePath(POLICY_REPORT, ns), { headers: { Accept: POM_LIST_ACCEPT } });
      expect(list.status).toBe(200);
      expect(list.headers["content-type"]).toContain("application/json");
      const body = list.json<List>();
      expect(body.kind).toBe("PartialObjectMetadataList");
      expect(body.apiVersion).toBe("meta.k8s.io/v1");
      expect(body.metadata.resourceVersion).toMatch(/^[1-9][0-9]*$/);
      expect(body.metadata.continue).toBeUndefined(); // a ListMeta: an empty continue is left out
      expect(itemNames(body)).toEqual(["a", "b", "c", "d", "e"]);
      for (const item of body.items) {
        expect(item.kind).toBe("PartialObjectMetadata");
        expect(item.apiVersion).toBe("meta.k8s.io/v1");
        expect(item.summary).toBeUndefined();
        expect(item.results).toBeUndefined();
        expect(item.metadata.uid).toBeTruthy();
      }
      const one = await get(srv, resourcePath(POLICY_REPORT, ns, "a"), { headers: { Accept: POM_ACCEPT } });
      expect(one.json()).toMatchObject({
        kind: "PartialObjectMetadata",
        apiVersion: "meta.k8s.io/v1",
        metadata: { name: "a", namespace: ns },
      });
      expect(one.json().summary).toBeUndefined();
    });

    it("YAML output with Accept: application/yaml", async () => {
      const ns = await seed(ctx, "yaml");
      const srv = ctx.server();
      const res = await get(srv, resourcePath(POLICY_REPORT, ns, "a"), {
        headers: { Accept: "application/yaml" },
      });
      expect(res.status).toBe(200);
      expect(res.headers["content-type"]).toContain("application/yaml");
      const obj = parse(res.body) as Obj;
      expect(obj).toMatchObject({ kind: "PolicyReport", metadata: { name: "a", namespace: ns } });
      const list = await get(srv, resourcePath(POLICY_REPORT, ns), {
        headers: { Accept: "application/yaml" },
      });
      expect((parse(list.body) as List).items).toHaveLength(5);
      const none = await get(srv, resourcePath(POLICY_REPORT, ns), {
        headers: { Accept: "application/x-nothing" },
      });
      expect(none.status).toBe(406);
    });

    it("resourceVersion / resourceVersionMatch rules and their 422s; too new → 504", async () => {
      const ns = await seed(ctx, "rvm");
      const srv = ctx.server();
      const path = resourcePath(POLICY_REPORT, ns);
      const now = (await get(srv, path)).json<List>().metadata.resourceVersion!;
      const ok = await Promise.all([
        get(srv, `${path}?resourceVersion=0`),
        get(srv, `${path}?resourceVersion=${now}`),
        get(srv, `${path}?resourceVersion=${now}&resourceVersionMatch=NotOlderThan`),
        get(srv, `${path}?resourceVersion=0&resourceVersionMatch=NotOlderThan`),
      ]);
      for (const r of ok) {
        expect(r.status, r.body).toBe(200);
        expect(itemNames(r.json<List>())).toEqual(["a", "b", "c", "d", "e"]);
      }
      // Exact: the state at exactly that resource version.
      await post(srv, path, makeReport(POLICY_REPORT, { name: "later", namespace: ns }));
      const exact = await get(srv, `${path}?resourceVersion=${now}&resourceVersionMatch=Exact`);
      expect(exact.status, exact.body).toBe(200);
      expect(itemNames(exact.json<List>())).toEqual(["a", "b", "c", "d", "e"]);
      expect(exact.json<List>().metadata.resourceVersion).toBe(now);

      const p1 = (await get(srv, `${path}?limit=2`)).json<List>();
      const invalid = await Promise.all([
        get(srv, `${path}?resourceVersionMatch=NotOlderThan`),
        get(srv, `${path}?resourceVersionMatch=Exact&resourceVersion=0`),
        get(
          srv,
          `${path}?limit=2&continue=${encodeURIComponent(p1.metadata.continue!)}&resourceVersion=${now}&resourceVersionMatch=NotOlderThan`,
        ),
        get(srv, `${path}?sendInitialEvents=true`),
        get(srv, `${path}?resourceVersionMatch=Sometimes&resourceVersion=1`),
      ]);
      for (const r of invalid) {
        expect(r.status, r.body).toBe(422);
        expect(r.json()).toMatchObject({
          kind: "Status",
          reason: "Invalid",
          details: { kind: "ListOptions", group: "meta.k8s.io" },
          code: 422,
        });
      }

      const tooNew = await get(
        srv,
        `${path}?resourceVersion=${BigInt(now) + 1_000_000n}&resourceVersionMatch=NotOlderThan`,
        { timeoutMs: 60_000 },
      );
      expect(tooNew.status).toBe(504);
      expect(tooNew.json<{ details: { causes: { reason: string }[] } }>().details.causes).toContainEqual(
        expect.objectContaining({ reason: "ResourceVersionTooLarge" }),
      );
      expect(tooNew.json().message).toMatch(/^Timeout: Too large resource version: \d+, current: \d+$/);
      const exactTooNew = await get(
        srv,
        `${path}?resourceVersion=${BigInt(now) + 1_000_000n}&resourceVersionMatch=Exact`,
      );
      expect(exactTooNew.status).toBe(504);
      const current = /current: (\d+)$/.exec(exactTooNew.json().message as string)?.[1];
      expect(Number(current)).toBeGreaterThanOrEqual(Number(now));

      // a GET of one object honours its resourceVersion the same way
      const items = (await get(srv, path)).json<{ items: { metadata: { name: string } }[] }>().items;
      expect(items.length).toBeGreaterThan(0);
      const one = `${path}/${items[0].metadata.name}`;
      expect((await get(srv, `${one}?resourceVersion=${now}`)).status).toBe(200);
      const oneTooNew = await get(srv, `${one}?resourceVersion=${BigInt(now) + 1_000_000n}`);
      expect(oneTooNew.status).toBe(504);
      expect(oneTooNew.json()).toMatchObject({ reason: "Timeout", code: 504 });
      expect((await get(srv, `${one}?resourceVersion=abc`)).status).toBe(400);
    });
  });
}

/** The names `kubectl get -o name` printed, sorted. */
function namesIn(out: string): string[] {
  const text = out.trim();
  return text === ""
    ? []
    : text
        .split("\n")
        .map((l) => l.replace(/^.*\//, ""))
        .sort();
}
