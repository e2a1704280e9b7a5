import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { get, patch, post, put } from "../../support/http.js";
import {
  KINDS,
  POLICY_REPORT,
  SERVED_BY,
  makeReport,
  resourcePath,
  summaryOf,
  uniqueName,
  type KindInfo,
  type Obj,
} from "../../support/reports.js";
import {
  fetchObject,
  header,
  k,
  kJson,
  kOk,
  parseTable,
  tableRows,
  yamlOf,
  type SuiteContext,
} from "./context.js";

/** `-n ns` for namespaced kinds, nothing for cluster kinds. */
export function nsArgs(kd: KindInfo, ns: string): string[] {
  return kd.namespaced ? ["-n", ns] : [];
}

/** Cluster-scoped objects share one space: each test labels its own and selects by that label. */
export function testLabel(ns: string): Record<string, string> {
  return { "e2e.reports.test/id": ns };
}

function meta(o: Obj) {
  return o.metadata as {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion: string;
    generation: number;
    creationTimestamp: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    managedFields?: { manager: string; operation: string; fieldsType: string }[];
  };
}
export { meta };

export function crudTests(ctx: SuiteContext) {
  describe.concurrent("create and get", () => {
    it.each(KINDS)(
      "$kind: kubectl create sets uid, timestamps, resourceVersion, generation 1, served-by",
      async (kd) => {
        const ns = uniqueName("create");
        const name = uniqueName("r");
        const out = await kOk(ctx, ["create", "-f", "-", "-o", "json"], {
          stdin: yamlOf(makeReport(kd, { name, namespace: ns, pass: 7, fail: 3, labels: testLabel(ns) })),
        });
        const created = JSON.parse(out) as Obj;
        const m = meta(created);
        expect(created.apiVersion).toBe(kd.apiVersion);
        expect(created.kind).toBe(kd.kind);
        expect(m.name).toBe(name);
        if (kd.namespaced) expect(m.namespace).toBe(ns);
        else expect(m.namespace).toBeUndefined();
        expect(m.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(m.resourceVersion).toMatch(/^[1-9][0-9]*$/);
        expect(m.generation).toBe(1);
        expect(Date.now() - Date.parse(m.creationTimestamp)).toBeLessThan(60_000);
        expect(m.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        expect(m.annotations?.[SERVED_BY]).toBe("true");
        expect(summaryOf(kd, created)).toEqual({ error: 0, fail: 3, pass: 7, skip: 0, warn: 0 });

        // Every spelling kubectl accepts for the kind reaches the same object.
        const spellings = [kd.short, kd.singular, `${kd.plural}.${kd.group}`];
        const got = await Promise.all(spellings.map((s) => kJson(ctx, ["get", s, name, ...nsArgs(kd, ns)])));
        for (const g of got) expect(meta(g).uid).toBe(m.uid);
        const raw = await get(ctx.server(), resourcePath(kd, ns, name));
        expect(raw.status).toBe(200);
        // kubectl hides managedFields; the server records the create as a CRD does.
        const stored = raw.json() as Obj;
        expect(meta(stored).managedFields).toContainEqual(
          expect.objectContaining({ manager: "kubectl-create", operation: "Update", fieldsType: "FieldsV1" }),
        );
        delete stored.metadata.managedFields;
        expect(stored).toEqual(created);
      },
    );

    it.each(KINDS)(
      "$kind: kubectl get prints the CRD's printer columns, -o wide the priority ones",
      async (kd) => {
        const ns = uniqueName("cols");
        const name = uniqueName("r");
        await kOk(ctx, ["create", "-f", "-"], {
          stdin: yamlOf(
            makeReport(kd, {
              name,
              namespace: ns,
              pass: 12,
              fail: 4,
              labels: { ...testLabel(ns), tier: "gold" },
            }),
          ),
        });
        const sel = ["-l", `e2e.reports.test/id=${ns}`];
        const [plain, wide, labels] = await Promise.all([
          kOk(ctx, ["get", kd.short, ...nsArgs(kd, ns), ...sel]),
          kOk(ctx, ["get", kd.short, ...nsArgs(kd, ns), ...sel, "-o", "wide"]),
          kOk(ctx, ["get", kd.short, ...nsArgs(kd, ns), ...sel, "--show-labels"]),
        ]);
        expect(header(plain)).toEqual(kd.columns);
        expect(header(wide)).toEqual(kd.wideColumns);
        expect(header(labels)).toEqual([...kd.columns, "LABELS"]);
        const table = parseTable(plain);
        expect(table.rows).toHaveLength(1);
        const cell = (col: string) => table.rows[0][table.header.indexOf(col)];
        expect(cell("NAME")).toBe(name);
        expect([cell("PASS"), cell("FAIL"), cell("WARN"), cell("ERROR"), cell("SKIP")]).toEqual([
          "12",
          "4",
          "0",
          "0",
          "0",
        ]);
        // AGE is a human duration computed by the server, as for CRDs.
        expect(cell("AGE")).toMatch(/^\d+s$/);
        if (kd.summaryIn === "spec") {
          expect(cell("SOURCE")).toBe("admission");
          expect(cell("KIND")).toBe(kd.namespaced ? "Pod" : "Namespace");
          expect(cell("OWNER")).toBe(name);
        } else if (kd.columns.includes("KIND")) {
          expect(cell("KIND")).toBe(kd.namespaced ? "Pod" : "Namespace");
        }
        const wideTable = parseTable(wide);
        if (kd.wideColumns.includes("UID")) {
          expect(wideTable.rows[0][wideTable.header.indexOf("UID")]).toBe(
            "dcd32da4-8539-4636-bba5-fd2cc3a6aaff",
          );
        }
        expect(labels).toContain("tier=gold");
        expect(labels).toContain(`e2e.reports.test/id=${ns}`);
      },
    );

    it("namespaced kinds list across namespaces with -A and a NAMESPACE column", async () => {
      const a = uniqueName("nsa");
      const b = uniqueName("nsb");
      const name = uniqueName("r");
      await kOk(ctx, ["create", "-f", "-"], {
        stdin: yamlOf(
          makeReport(POLICY_REPORT, { name, namespace: a, labels: { run: a } }),
          makeReport(POLICY_REPORT, { name, namespace: b, labels: { run: a } }),
        ),
      });
      const out = await kOk(ctx, ["get", "polr", "-A", "-l", `run=${a}`]);
      expect(header(out)).toEqual(["NAMESPACE", ...POLICY_REPORT.columns]);
      expect(
        tableRows(out)
          .slice(1)
          .map((r) => [r[0], r[1]])
          .sort(),
      ).toEqual(
        [
          [a, name],
          [b, name],
        ].sort(),
      );
    });

    it("kubectl get -o yaml returns the object as stored", async () => {
      const ns = uniqueName("yaml");
      const name = uniqueName("r");
      const report = makeReport(POLICY_REPORT, { name, namespace: ns });
      await kOk(ctx, ["create", "-f", "-"], { stdin: yamlOf(report) });
      const obj = parse(await kOk(ctx, ["get", "polr", name, "-n", ns, "-o", "yaml"])) as Obj;
      expect(obj.results).toEqual(report.results);
      expect(obj.scope).toEqual(report.scope);
      expect(meta(obj).labels).toEqual(report.metadata.labels);
    });

    it("generateName gets five random characters; duplicates → 409 AlreadyExists; no name → 422", async () => {
      const ns = uniqueName("gen");
      const srv = ctx.server();
      const path = resourcePath(POLICY_REPORT, ns);
      const [a, b] = await Promise.all(
        [1, 2].map(() =>
          post(srv, path, makeReport(POLICY_REPORT, { generateName: "admission-", namespace: ns })),
        ),
      );
      expect(a.status).toBe(201);
      expect(b.status).toBe(201);
      const na = meta(a.json() as Obj).name;
      const nb = meta(b.json() as Obj).name;
      expect(na).toMatch(/^admission-[a-z0-9]{5}$/);
      expect(nb).toMatch(/^admission-[a-z0-9]{5}$/);
      expect(na).not.toBe(nb);
      expect(meta(a.json() as Obj).annotations?.[SERVED_BY]).toBe("true");

      const name = uniqueName("dup");
      await kOk(ctx, ["create", "-f", "-"], {
        stdin: yamlOf(makeReport(POLICY_REPORT, { name, namespace: ns })),
      });
      const dup = await k(ctx, ["create", "-f", "-"], {
        stdin: yamlOf(makeReport(POLICY_REPORT, { name, namespace: ns })),
      });
      expect(dup.code).toBe(1);
      expect(dup.stderr).toContain(
        `Error from server (AlreadyExists): error when creating "STDIN": policyreports.wgpolicyk8s.io "${name}" already exists`,
      );
      const rawDup = await post(srv, path, makeReport(POLICY_REPORT, { name, namespace: ns }));
      expect(rawDup.status).toBe(409);
      expect(rawDup.json()).toMatchObject({
        kind: "Status",
        reason: "AlreadyExists",
        details: { name, group: "wgpolicyk8s.io", kind: "policyreports" },
        code: 409,
      });

      const noName = await post(srv, path, makeReport(POLICY_REPORT, { namespace: ns }));
      expect(noName.status).toBe(422);
      expect(noName.json()).toMatchObject({ kind: "Status", reason: "Invalid", code: 422 });
    });

    it("resource versions are decimal and grow with every write; uid and creationTimestamp never change", async () => {
      const ns = uniqueName("rv");
      const srv = ctx.server();
      const path = resourcePath(POLICY_REPORT, ns);
      const first = (
        await post(srv, path, makeReport(POLICY_REPORT, { name: "a", namespace: ns }))
      ).json() as Obj;
      const second = (
        await post(srv, path, makeReport(POLICY_REPORT, { name: "b", namespace: ns }))
      ).json() as Obj;
      const rv1 = BigInt(meta(first).resourceVersion);
      const rv2 = BigInt(meta(second).resourceVersion);
      expect(rv2).toBeGreaterThan(rv1);
      await kOk(ctx, ["label", "polr", "a", "-n", ns, "x=y"]);
      const after = await kJson(ctx, ["get", "polr", "a", "-n", ns]);
      expect(BigInt(meta(after).resourceVersion)).toBeGreaterThan(rv2);
      expect(meta(after).uid).toBe(meta(first).uid);
      expect(meta(after).creationTimestamp).toBe(meta(first).creationTimestamp);
      const list = (await get(srv, path)).json<{ metadata: { resourceVersion: string } }>();
      expect(list.metadata.resourceVersion).toMatch(/^[1-9][0-9]*$/);
      expect(BigInt(list.metadata.resourceVersion)).toBeGreaterThanOrEqual(
        BigInt(meta(after).resourceVersion),
      );
    });
  });

  describe.concurrent("apply", () => {
    it.each(KINDS)(
      "$kind: client-side kubectl apply creates, then updates with a three-way merge",
      async (kd) => {
        const ns = uniqueName("apply");
        const name = uniqueName("r");
        const first = await kOk(ctx, ["apply", "-f", "-"], {
          stdin: yamlOf(makeReport(kd, { name, namespace: ns, pass: 1 })),
        });
        expect(first).toContain(`${kd.singular}.${kd.group}/${name} created`);
        const again = await kOk(ctx, ["apply", "-f", "-"], {
          stdin: yamlOf(makeReport(kd, { name, namespace: ns, pass: 1 })),
        });
        expect(again).toContain(`${kd.singular}.${kd.group}/${name} unchanged`);
        const changed = await kOk(ctx, ["apply", "-f", "-"], {
          stdin: yamlOf(makeReport(kd, { name, namespace: ns, pass: 5 })),
        });
        expect(changed).toContain(`${kd.singular}.${kd.group}/${name} configured`);
        const obj = await fetchObject(ctx, resourcePath(kd, ns, name));
        expect(summaryOf(kd, obj).pass).toBe(5);
        expect(meta(obj).generation).toBe(2);
        expect(meta(obj).annotations?.["kubectl.kubernetes.io/last-applied-configuration"]).toBeDefined();
        expect(meta(obj).annotations?.[SERVED_BY]).toBe("true");
      },
    );

    it("server-side apply creates, updates, keeps managedFields and reports conflicts (409)", async () => {
      const ns = uniqueName("ssa");
      const name = uniqueName("r");
      const report = (pass: number) => yamlOf(makeReport(POLICY_REPORT, { name, namespace: ns, pass }));
      const created = await kOk(ctx, ["apply", "--server-side", "-f", "-"], { stdin: report(1) });
      expect(created).toContain(`policyreport.wgpolicyk8s.io/${name} serverside-applied`);
      await kOk(ctx, ["apply", "--server-side", "-f", "-"], { stdin: report(2) });
      const obj = await kJson(ctx, ["get", "polr", name, "-n", ns, "--show-managed-fields"]);
      expect(summaryOf(POLICY_REPORT, obj).pass).toBe(2);
      const managers = meta(obj).managedFields ?? [];
      expect(managers).toContainEqual(
        expect.objectContaining({ manager: "kubectl", operation: "Apply", fieldsType: "FieldsV1" }),
      );

      const conflict = await k(ctx, ["apply", "--server-side", "--field-manager=other", "-f", "-"], {
        stdin: report(3),
      });
      expect(conflict.code).toBe(1);
      expect(conflict.stderr).toContain("conflict");
      expect(conflict.stderr).toContain(".summary.pass");
      await kOk(ctx, ["apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-"], {
        stdin: report(3),
      });
      const forced = await kJson(ctx, ["get", "polr", name, "-n", ns]);
      expect(summaryOf(POLICY_REPORT, forced).pass).toBe(3);

      // Dry run stores nothing; apply without a field manager → 422.
      await kOk(ctx, ["apply", "--server-side", "--dry-run=server", "--force-conflicts", "-f", "-"], {
        stdin: report(4),
      });
      expect(await kJson(ctx, ["get", "polr", name, "-n", ns])).toEqual(forced);
      const noManager = await patch(
        ctx.server(),
        resourcePath(POLICY_REPORT, ns, name),
        "application/apply-patch+yaml",
        report(5),
      );
      expect(noManager.status).toBe(422);
      // Apply on a missing object creates it.
      const fresh = await patch(
        ctx.server(),
        `${resourcePath(POLICY_REPORT, ns, "fresh")}?fieldManager=e2e`,
        "application/apply-patch+yaml",
        yamlOf(makeReport(POLICY_REPORT, { name: "fresh", namespace: ns })),
      );
      expect(fresh.status).toBe(201);
    });

    it("kubectl moves an object from client-side to server-side apply without conflicts, keeping the record", async () => {
      const ns = uniqueName("csa2ssa");
      const name = uniqueName("r");
      const report = (pass: number, fail = 1) =>
        yamlOf(makeReport(POLICY_REPORT, { name, namespace: ns, pass, fail }));
      const LAST = "kubectl.kubernetes.io/last-applied-configuration";
      await kOk(ctx, ["apply", "-f", "-"], { stdin: report(1) });
      // someone else changes a field client-side apply set: that one is no longer kubectl's
      await kOk(ctx, ["patch", "polr", name, "-n", ns, "--type=merge", "-p", '{"summary":{"fail":7}}']);

      const blocked = await k(ctx, ["apply", "--server-side", "-f", "-"], { stdin: report(2, 3) });
      expect(blocked.code).toBe(1);
      expect(blocked.stderr).toContain(".summary.fail");
      expect(blocked.stderr).not.toContain(".summary.pass");

      const moved = await kOk(ctx, ["apply", "--server-side", "-f", "-"], { stdin: report(2, 7) });
      expect(moved).toContain("serverside-applied");
      const obj = await kJson(ctx, ["get", "polr", name, "-n", ns]);
      expect(summaryOf(POLICY_REPORT, obj)).toMatchObject({ pass: 2, fail: 7 });
      const record = JSON.parse(meta(obj).annotations?.[LAST] ?? "{}") as Obj;
      expect(summaryOf(POLICY_REPORT, record)).toMatchObject({ pass: 2, fail: 7 });
      expect(meta(obj).annotations?.[LAST]).toMatch(
        /^\{"apiVersion":"wgpolicyk8s\.io\/v1alpha2","kind":"PolicyReport",.*\}\n$/s,
      );
      // and client-side apply goes on from that record
      await kOk(ctx, ["apply", "-f", "-"], { stdin: report(3, 7) });
      expect(summaryOf(POLICY_REPORT, await kJson(ctx, ["get", "polr", name, "-n", ns])).pass).toBe(3);
    });

    it("an apply that changes nothing is no write, even a second later (times of managed fields aside)", async () => {
      const ns = uniqueName("ssanoop");
      const name = uniqueName("r");
      const report = yamlOf(makeReport(POLICY_REPORT, { name, namespace: ns }));
      await kOk(ctx, ["apply", "--server-side", "-f", "-"], { stdin: report });
      const first = await kJson(ctx, ["get", "polr", name, "-n", ns, "--show-managed-fields"]);
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // managed field times have seconds
      await kOk(ctx, ["apply", "--server-side", "-f", "-"], { stdin: report });
      expect(await kJson(ctx, ["get", "polr", name, "-n", ns, "--show-managed-fields"])).toEqual(first);
    });

    it("managedFields: a client may set them or reset them with [{}]; an apply may not send them (400)", async () => {
      const ns = uniqueName("mf");
      const name = uniqueName("r");
      const srv = ctx.server();
      const path = resourcePath(POLICY_REPORT, ns, name);
      const body = makeReport(POLICY_REPORT, { name, namespace: ns });
      const created = (await post(srv, resourcePath(POLICY_REPORT, ns), body)).json() as Obj;
      expect(meta(created).managedFields).toHaveLength(1);

      // an update that sets them (and changes nothing else) stores them as sent
      const imported = [
        {
          manager: "importer",
          operation: "Update",
          apiVersion: "wgpolicyk8s.io/v1alpha2",
          time: "2024-01-01T00:00:00Z",
          fieldsType: "FieldsV1",
          fieldsV1: { "f:scope": {} },
        },
      ];
      const edited = structuredClone(created);
      edited.metadata.managedFields = imported;
      const put1 = await put(srv, path, edited);
      expect(put1.status, put1.body).toBe(200);
      expect(meta(put1.json() as Obj).managedFields).toEqual(imported);

      const reset = await patch(srv, path, "application/merge-patch+json", {
        metadata: { managedFields: [{}] },
      });
      expect(reset.status).toBe(200);
      expect(meta(reset.json() as Obj).managedFields).toBeUndefined();

      const applied = await patch(
        srv,
        `${path}?fieldManager=e2e`,
        "application/apply-patch+yaml",
        yamlOf({ ...body, metadata: { name, namespace: ns, managedFields: [] } }),
      );
      expect(applied.status).toBe(400);
      expect(applied.json()).toMatchObject({
        reason: "BadRequest",
        message: "metadata.managedFields must be nil",
      });
    });
  });
}
