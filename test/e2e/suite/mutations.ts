import { describe, expect, it } from "vitest";
import { del, get, patch, post, put, request } from "../../support/http.js";
import {
  KINDS,
  POLICY_REPORT,
  SERVED_BY,
  makeReport,
  resourcePath,
  summaryOf,
  uniqueName,
  type Obj,
} from "../../support/reports.js";
import { meta, nsArgs, testLabel } from "./crud.js";
import { fetchObject, k, kJson, kOk, kStart, names, yamlOf, type SuiteContext } from "./context.js";

const CONFLICT_MSG =
  "the object has been modified; please apply your changes to the latest version and try again";

/** A PolicyReport created for one test, in a namespace of its own. */
async function storedReport(ctx: SuiteContext, prefix: string) {
  const ns = uniqueName(prefix);
  const name = uniqueName("r");
  const srv = ctx.server();
  const path = resourcePath(POLICY_REPORT, ns, name);
  const res = await post(
    srv,
    resourcePath(POLICY_REPORT, ns),
    makeReport(POLICY_REPORT, { name, namespace: ns }),
  );
  return { ns, name, srv, path, created: res.json() as Obj };
}

export function mutationTests(ctx: SuiteContext) {
  describe.concurrent("update and patch", () => {
    it.each(KINDS)("$kind: label/annotate keep generation; merge and JSON patches bump it", async (kd) => {
      const ns = uniqueName("patch");
      const name = uniqueName("r");
      const id = [kd.short, name, ...nsArgs(kd, ns)];
      const objPath = resourcePath(kd, ns, name);
      await kOk(ctx, ["create", "-f", "-"], {
        stdin: yamlOf(makeReport(kd, { name, namespace: ns, labels: testLabel(ns) })),
      });
      const before = await fetchObject(ctx, objPath);

      expect(await kOk(ctx, ["label", ...id, "team=blue"])).toContain(
        `${kd.singular}.${kd.group}/${name} labeled`,
      );
      expect(await kOk(ctx, ["annotate", ...id, "note=hello"])).toContain(
        `${kd.singular}.${kd.group}/${name} annotated`,
      );
      const labelled = await fetchObject(ctx, objPath);
      expect(meta(labelled).labels?.team).toBe("blue");
      expect(meta(labelled).annotations?.note).toBe("hello");
      expect(meta(labelled).annotations?.[SERVED_BY]).toBe("true");
      expect(meta(labelled).generation).toBe(1);
      expect(BigInt(meta(labelled).resourceVersion)).toBeGreaterThan(BigInt(meta(before).resourceVersion));

      const summaryPatch =
        kd.summaryIn === "spec" ? { spec: { summary: { pass: 9 } } } : { summary: { pass: 9 } };
      await kOk(ctx, ["patch", ...id, "--type=merge", "-p", JSON.stringify(summaryPatch)]);
      const merged = await fetchObject(ctx, objPath);
      expect(summaryOf(kd, merged)).toEqual({ error: 0, fail: 1, pass: 9, skip: 0, warn: 0 });
      expect(meta(merged).generation).toBe(2);

      const jsonPath = kd.summaryIn === "spec" ? "/spec/summary/fail" : "/summary/fail";
      await kOk(ctx, [
        "patch",
        ...id,
        "--type=json",
        "-p",
        JSON.stringify([{ op: "replace", path: jsonPath, value: 4 }]),
      ]);
      const jsonPatched = await fetchObject(ctx, objPath);
      expect(summaryOf(kd, jsonPatched).fail).toBe(4);
      expect(meta(jsonPatched).generation).toBe(3);

      // A patch that changes nothing outside metadata keeps the generation.
      await kOk(ctx, [
        "patch",
        ...id,
        "--type=json",
        "-p",
        JSON.stringify([{ op: "add", path: "/metadata/labels/x", value: "y" }]),
      ]);
      expect(meta(await fetchObject(ctx, objPath)).generation).toBe(3);
      // The served-by annotation cannot be patched away.
      await kOk(ctx, ["annotate", ...id, `${SERVED_BY}-`]);
      expect(meta(await fetchObject(ctx, objPath)).annotations?.[SERVED_BY]).toBe("true");
    });

    it("strategic merge patch → 415 UnsupportedMediaType (kubectl patch's default type)", async () => {
      const ns = uniqueName("smp");
      const name = uniqueName("r");
      await kOk(ctx, ["create", "-f", "-"], {
        stdin: yamlOf(makeReport(POLICY_REPORT, { name, namespace: ns })),
      });
      for (const type of [["--type=strategic"], []]) {
        const r = await k(ctx, ["patch", "polr", name, "-n", ns, ...type, "-p", '{"summary":{"pass":3}}']);
        expect(r.code).toBe(1);
        // kubectl's wording for a 415 answer, as with CRDs.
        expect(r.stderr).toContain(
          "error: application/strategic-merge-patch+json is not supported by wgpolicyk8s.io/v1alpha2, Kind=PolicyReport: the body of the request was in an unknown format",
        );
      }
      const raw = await patch(
        ctx.server(),
        resourcePath(POLICY_REPORT, ns, name),
        "application/strategic-merge-patch+json",
        { summary: { pass: 3 } },
      );
      expect(raw.status).toBe(415);
      expect(raw.json()).toMatchObject({ kind: "Status", reason: "UnsupportedMediaType", code: 415 });
    });

    it("kubectl replace with a stale resourceVersion → 409 Conflict with the exact message", async () => {
      const ns = uniqueName("put");
      const name = uniqueName("r");
      await kOk(ctx, ["create", "-f", "-"], {
        stdin: yamlOf(makeReport(POLICY_REPORT, { name, namespace: ns })),
      });
      const stale = await kJson(ctx, ["get", "polr", name, "-n", ns]);
      await kOk(ctx, ["label", "polr", name, "-n", ns, "moved=on"]);
      (stale.summary as Record<string, number>).pass = 42;
      const r = await k(ctx, ["replace", "-f", "-"], { stdin: JSON.stringify(stale) });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `Error from server (Conflict): error when replacing "STDIN": Operation cannot be fulfilled on policyreports.wgpolicyk8s.io "${name}": ${CONFLICT_MSG}`,
      );
      const fresh = await kJson(ctx, ["get", "polr", name, "-n", ns]);
      (fresh.summary as Record<string, number>).pass = 42;
      expect(await kOk(ctx, ["replace", "-f", "-"], { stdin: JSON.stringify(fresh) })).toContain(
        `policyreport.wgpolicyk8s.io/${name} replaced`,
      );
      const after = await kJson(ctx, ["get", "polr", name, "-n", ns]);
      expect(summaryOf(POLICY_REPORT, after).pass).toBe(42);
      expect(meta(after).generation).toBe(2);
      expect(meta(after).labels?.moved).toBe("on");

      const srv = ctx.server();
      const noRv = structuredClone(after) as Obj;
      delete noRv.metadata.resourceVersion;
      const missingRv = await put(srv, resourcePath(POLICY_REPORT, ns, name), noRv);
      expect(missingRv.status).toBe(422);
      expect(missingRv.json()).toMatchObject({ reason: "Invalid", code: 422 });
      const ghost = makeReport(POLICY_REPORT, { name: "ghost", namespace: ns });
      ghost.metadata.resourceVersion = "1";
      const missing = await put(srv, resourcePath(POLICY_REPORT, ns, "ghost"), ghost);
      expect(missing.status).toBe(404);
      expect(missing.json()).toMatchObject({
        reason: "NotFound",
        message: `policyreports.wgpolicyk8s.io "ghost" not found`,
      });

      // A resourceVersion inside a merge patch is a precondition.
      const stalePatch = await patch(
        srv,
        resourcePath(POLICY_REPORT, ns, name),
        "application/merge-patch+json",
        {
          metadata: { resourceVersion: meta(stale).resourceVersion },
          summary: { pass: 1 },
        },
      );
      expect(stalePatch.status).toBe(409);
      expect(stalePatch.json()).toMatchObject({
        reason: "Conflict",
        message: `Operation cannot be fulfilled on policyreports.wgpolicyk8s.io "${name}": ${CONFLICT_MSG}`,
      });
    });

    it("an update or patch that changes nothing writes nothing: same resourceVersion, kubectl says (no change)", async () => {
      const { ns, name, srv, path, created } = await storedReport(ctx, "noop");
      const same = await put(srv, path, created);
      expect(same.status).toBe(200);
      expect(meta(same.json() as Obj).resourceVersion).toBe(meta(created).resourceVersion);
      expect(meta(same.json() as Obj).generation).toBe(1);

      const id = [POLICY_REPORT.short, name, "-n", ns];
      const unchanged = await kOk(ctx, ["patch", ...id, "--type=merge", "-p", '{"summary":{"pass":1}}']);
      expect(unchanged).toContain(
        `${POLICY_REPORT.singular}.${POLICY_REPORT.group}/${name} patched (no change)`,
      );
      expect(meta(await fetchObject(ctx, path)).resourceVersion).toBe(meta(created).resourceVersion);

      // a change only inside a result is still a change of the spec: new version, next generation
      const changed = structuredClone(created);
      (changed.results as { message: string }[])[0].message = "changed";
      const written = (await put(srv, path, changed)).json() as Obj;
      expect(BigInt(meta(written).resourceVersion)).toBeGreaterThan(BigInt(meta(created).resourceVersion));
      expect(meta(written).generation).toBe(2);
    });

    it("PUT without a resourceVersion: 404 when the object is missing, else 422 naming the resource", async () => {
      const ns = uniqueName("norv");
      const name = uniqueName("r");
      const srv = ctx.server();
      const path = resourcePath(POLICY_REPORT, ns, name);
      const missing = await put(srv, path, makeReport(POLICY_REPORT, { name, namespace: ns }));
      expect(missing.status).toBe(404);
      expect(missing.json()).toMatchObject({
        reason: "NotFound",
        message: `policyreports.wgpolicyk8s.io "${name}" not found`,
      });
      await post(srv, resourcePath(POLICY_REPORT, ns), makeReport(POLICY_REPORT, { name, namespace: ns }));
      const unversioned = await put(srv, path, makeReport(POLICY_REPORT, { name, namespace: ns }));
      expect(unversioned.status).toBe(422);
      expect(unversioned.json()).toMatchObject({
        reason: "Invalid",
        message: `policyreports.wgpolicyk8s.io "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
        details: { name, group: "wgpolicyk8s.io", kind: "policyreports" },
      });
    });

    it("PUT and patch may not rename, move or re-uid an object", async () => {
      const ns = uniqueName("immut");
      const name = uniqueName("r");
      const srv = ctx.server();
      const created = (
        await post(srv, resourcePath(POLICY_REPORT, ns), makeReport(POLICY_REPORT, { name, namespace: ns }))
      ).json() as Obj;
      const renamed = structuredClone(created);
      renamed.metadata.name = "other";
      const r1 = await put(srv, resourcePath(POLICY_REPORT, ns, name), renamed);
      expect(r1.status).toBe(400);
      const moved = structuredClone(created);
      moved.metadata.namespace = "elsewhere";
      const r2 = await put(srv, resourcePath(POLICY_REPORT, ns, name), moved);
      expect(r2.status).toBe(400);
      expect(r2.json().message).toContain("does not match the namespace");
    });
  });

  describe.concurrent("delete", () => {
    it.each(KINDS)("$kind: kubectl delete, then NotFound", async (kd) => {
      const ns = uniqueName("del");
      const name = uniqueName("r");
      await kOk(ctx, ["create", "-f", "-"], { stdin: yamlOf(makeReport(kd, { name, namespace: ns })) });
      expect(await kOk(ctx, ["delete", kd.short, name, ...nsArgs(kd, ns)])).toContain(
        `${kd.singular}.${kd.group} "${name}" deleted`,
      );
      // (kubectl get would go on to look up the namespace, which a standalone server does not serve.)
      const r = await k(ctx, ["get", kd.short, name, ...nsArgs(kd, ns), "--ignore-not-found"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("");
      expect((await get(ctx.server(), resourcePath(kd, ns, name))).status).toBe(404);
      const again = await k(ctx, ["delete", kd.short, name, ...nsArgs(kd, ns)]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(
        `Error from server (NotFound): ${kd.plural}.${kd.group} "${name}" not found`,
      );
    });

    it("DELETE preconditions: wrong uid or resourceVersion → 409; right ones → 200 with a Status naming it", async () => {
      const { name, srv, path, created } = await storedReport(ctx, "precond");
      const badUid = await del(srv, path, { preconditions: { uid: "00000000-0000-0000-0000-000000000000" } });
      expect(badUid.status).toBe(409);
      // rest.BeforeDelete's words, naming the Kind where other conflicts name the resource
      expect(badUid.json()).toMatchObject({
        reason: "Conflict",
        message: `Operation cannot be fulfilled on PolicyReport.wgpolicyk8s.io "${name}": the UID in the precondition (00000000-0000-0000-0000-000000000000) does not match the UID in record (${meta(created).uid}). The object might have been deleted and then recreated`,
        details: { name, group: "wgpolicyk8s.io", kind: "PolicyReport" },
      });
      const badRv = await del(srv, path, { preconditions: { resourceVersion: "1" } });
      expect(badRv.status).toBe(409);
      expect(badRv.json().message).toBe(
        `Operation cannot be fulfilled on PolicyReport.wgpolicyk8s.io "${name}": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record (${meta(created).resourceVersion}). The object might have been modified`,
      );
      const ok = await del(srv, path, {
        propagationPolicy: "Background",
        preconditions: { uid: meta(created).uid, resourceVersion: meta(created).resourceVersion },
      });
      expect(ok.status).toBe(200);
      // a custom resource's DELETE answers a Status naming what it removed, not the object
      expect(ok.json()).toEqual({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Success",
        details: { name, group: "wgpolicyk8s.io", kind: "policyreports", uid: meta(created).uid },
      });
      expect((await get(srv, path)).status).toBe(404);
    });

    it("finalizers without a domain and path are accepted with a warning, once, when added", async () => {
      const ns = uniqueName("finw");
      const name = uniqueName("r");
      const report = makeReport(POLICY_REPORT, { name, namespace: ns });
      report.metadata.finalizers = ["cleanup", "orphan", "example.com/keep"];
      const created = await k(ctx, ["create", "-f", "-"], { stdin: yamlOf(report) });
      expect(created.code, created.stderr).toBe(0);
      expect(created.stderr.trim().split("\n")).toEqual([
        'Warning: metadata.finalizers: "cleanup": prefer a domain-qualified finalizer name including a path (/) to avoid accidental conflicts with other finalizer writers',
      ]);
      const labelled = await k(ctx, ["label", "polr", name, "-n", ns, "x=y"]);
      expect(labelled.stderr).toBe("");
      await kOk(ctx, [
        "patch",
        "polr",
        name,
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"metadata":{"finalizers":null}}',
      ]);
    });

    it("finalizers: delete sets deletionTimestamp and waits; removing the finalizer removes the object", async () => {
      const ns = uniqueName("fin");
      const srv = ctx.server();
      const report = (name: string) => {
        const r = makeReport(POLICY_REPORT, { name, namespace: ns });
        r.metadata.finalizers = ["e2e.reports.test/hold"];
        return r;
      };
      await kOk(ctx, ["create", "-f", "-"], { stdin: yamlOf(report("a"), report("b")) });
      expect(await kOk(ctx, ["delete", "polr", "a", "-n", ns, "--wait=false"])).toContain(`"a" deleted`);
      const held = await kJson(ctx, ["get", "polr", "a", "-n", ns]);
      expect(meta(held).deletionTimestamp).toBeDefined();
      expect(held.metadata.finalizers).toEqual(["e2e.reports.test/hold"]);
      // Updates that only remove finalizers go through on a terminating object.
      await kOk(ctx, [
        "patch",
        "polr",
        "a",
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"metadata":{"finalizers":null}}',
      ]);
      expect((await get(srv, resourcePath(POLICY_REPORT, ns, "a"))).status).toBe(404);

      // kubectl delete (waiting) watches the object with a client-go informer until it is gone.
      const waiting = kStart(ctx, ["delete", "polr", "b", "-n", ns, "--timeout=40s"]);
      await waiting.waitForLine(/"b" deleted/);
      const gone = await get(srv, resourcePath(POLICY_REPORT, ns, "b"));
      expect(meta(gone.json() as Obj).deletionTimestamp).toBeDefined();
      await kOk(ctx, [
        "patch",
        "polr",
        "b",
        "-n",
        ns,
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/metadata/finalizers"}]',
      ]);
      const res = await waiting.done;
      expect(res.code, res.stderr).toBe(0);
    });

    it("kubectl delete --all removes one namespace's reports only", async () => {
      const a = uniqueName("all");
      const b = uniqueName("keep");
      await kOk(ctx, ["create", "-f", "-"], {
        stdin: yamlOf(
          ...["x", "y", "z"].map((n) => makeReport(POLICY_REPORT, { name: n, namespace: a })),
          makeReport(POLICY_REPORT, { name: "x", namespace: b }),
        ),
      });
      await kOk(ctx, ["delete", "polr", "--all", "-n", a]);
      const [left, kept] = await Promise.all([
        kOk(ctx, ["get", "polr", "-n", a]),
        kOk(ctx, ["get", "polr", "-n", b]),
      ]);
      expect(left.trim()).toBe("");
      expect(names(kept)).toEqual(["x"]);
    });

    it.each(KINDS)("$kind: deletecollection by label selector via raw HTTP", async (kd) => {
      const ns = uniqueName("dc");
      const srv = ctx.server();
      await kOk(ctx, ["create", "-f", "-"], {
        stdin: yamlOf(
          makeReport(kd, { name: `${ns}-1`, namespace: ns, labels: { ...testLabel(ns), drop: "yes" } }),
          makeReport(kd, { name: `${ns}-2`, namespace: ns, labels: { ...testLabel(ns), drop: "yes" } }),
          makeReport(kd, { name: `${ns}-3`, namespace: ns, labels: { ...testLabel(ns), drop: "no" } }),
        ),
      });
      const sel = encodeURIComponent(`e2e.reports.test/id=${ns},drop=yes`);
      const res = await del(srv, `${resourcePath(kd, ns)}?labelSelector=${sel}`);
      expect(res.status).toBe(200);
      const deleted = res.json<{ kind: string; items: Obj[] }>();
      expect(deleted.kind).toBe(`${kd.kind}List`);
      expect(deleted.items.map((i) => meta(i).name).sort()).toEqual([`${ns}-1`, `${ns}-2`]);
      const left = await kOk(ctx, [
        "get",
        kd.short,
        ...nsArgs(kd, ns),
        "-l",
        `e2e.reports.test/id=${ns}`,
        "-o",
        "name",
      ]);
      expect(left.trim().split("\n")).toEqual([`${kd.singular}.${kd.group}/${ns}-3`]);
    });
  });

  it("deletecollection answers in the shape asked for: a metadata client gets PartialObjectMetadataList", async () => {
    const ns = uniqueName("dcm");
    const srv = ctx.server();
    for (const name of ["m1", "m2"]) {
      await post(srv, resourcePath(POLICY_REPORT, ns), makeReport(POLICY_REPORT, { name, namespace: ns }));
    }
    const res = await request(srv, "DELETE", resourcePath(POLICY_REPORT, ns), {
      headers: {
        Accept: "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
      },
    });
    expect(res.status).toBe(200);
    const list = res.json<{ kind: string; items: { kind: string; metadata: { name: string } }[] }>();
    expect(list.kind).toBe("PartialObjectMetadataList");
    expect(list.items.map((i) => [i.kind, i.metadata.name])).toEqual([
      ["PartialObjectMetadata", "m1"],
      ["PartialObjectMetadata", "m2"],
    ]);
  });

  describe.concurrent("dry run", () => {
    it("--dry-run=server on create, label, patch, replace and delete stores nothing", async () => {
      const ns = uniqueName("dry");
      const srv = ctx.server();
      const created = await kJson(ctx, ["create", "--dry-run=server", "-f", "-"], {
        stdin: yamlOf(makeReport(POLICY_REPORT, { name: "ghost", namespace: ns })),
      });
      expect(meta(created).name).toBe("ghost");
      expect(meta(created).annotations?.[SERVED_BY]).toBe("true");
      expect((await get(srv, resourcePath(POLICY_REPORT, ns, "ghost"))).status).toBe(404);

      await kOk(ctx, ["create", "-f", "-"], {
        stdin: yamlOf(makeReport(POLICY_REPORT, { name: "real", namespace: ns })),
      });
      const before = await kJson(ctx, ["get", "polr", "real", "-n", ns]);
      const id = ["polr", "real", "-n", ns, "--dry-run=server"];
      const labelled = await kJson(ctx, ["label", ...id, "dry=run"]);
      expect(meta(labelled).labels?.dry).toBe("run");
      await kOk(ctx, ["patch", ...id, "--type=merge", "-p", '{"summary":{"pass":99}}']);
      await kOk(ctx, [
        "patch",
        ...id,
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/summary/pass","value":98}]',
      ]);
      const changed = structuredClone(before);
      (changed.summary as Record<string, number>).pass = 97;
      await kOk(ctx, ["replace", "--dry-run=server", "-f", "-"], { stdin: JSON.stringify(changed) });
      expect(await kOk(ctx, ["delete", ...id])).toContain("(server dry run)");
      const again = await k(ctx, ["create", "--dry-run=server", "-f", "-"], {
        stdin: yamlOf(makeReport(POLICY_REPORT, { name: "real", namespace: ns })),
      });
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(
        `Error from server (AlreadyExists): error when creating "STDIN": policyreports.wgpolicyk8s.io "real" already exists`,
      );
      const rawDelete = await del(srv, resourcePath(POLICY_REPORT, ns, "real"), { dryRun: ["All"] });
      expect(rawDelete.status).toBe(200);
      expect(rawDelete.json()).toMatchObject({
        kind: "Status",
        status: "Success",
        details: { name: "real" },
      });
      const rawCollection = await del(srv, `${resourcePath(POLICY_REPORT, ns)}?dryRun=All`);
      expect(rawCollection.status).toBe(200);

      const after = await kJson(ctx, ["get", "polr", "real", "-n", ns]);
      expect(after).toEqual(before);
    });
  });

  describe.concurrent("validation", () => {
    it("a patch whose result does not decode → 422 on field patch, as jsonPatcher answers", async () => {
      const ns = uniqueName("pbad");
      const name = uniqueName("r");
      const srv = ctx.server();
      await post(srv, resourcePath(POLICY_REPORT, ns), makeReport(POLICY_REPORT, { name, namespace: ns }));
      const path = resourcePath(POLICY_REPORT, ns, name);
      const res = await patch(srv, `${path}?fieldValidation=Strict`, "application/merge-patch+json", {
        bogus: 1,
      });
      expect(res.status).toBe(422);
      expect(res.json()).toMatchObject({ reason: "Invalid", details: { causes: [{ field: "patch" }] } });
      expect(res.json().message).toMatch(
        /^ "" is invalid: patch: Invalid value: ".*\\"bogus\\":1.*": strict decoding error: unknown field "bogus"$/,
      );
      // a key the merge patch repeats is a problem of the result too (Strict: the same 422; Warn: a warning)
      const twice = '{"summary":{"pass":3,"pass":4}}';
      const dup = await patch(srv, `${path}?fieldValidation=Strict`, "application/merge-patch+json", twice);
      expect(dup.status).toBe(422);
      expect(dup.json().message).toMatch(/: strict decoding error: duplicate field "summary\.pass"$/);
      const warned = await patch(srv, path, "application/merge-patch+json", twice);
      expect(warned.status).toBe(200);
      expect(String(warned.headers.warning)).toContain('duplicate field \\"summary.pass\\"');
      const typed = await patch(srv, path, "application/merge-patch+json", { metadata: { labels: "x" } });
      expect(typed.status).toBe(422);
      expect(typed.json<{ details: { causes: { field: string }[] } }>().details.causes[0].field).toBe(
        "patch",
      );

      // client-side apply patches with fieldValidation=Strict
      const withBogus = { ...makeReport(POLICY_REPORT, { name, namespace: ns }), bogus: 1 };
      const kubectl = await k(ctx, ["apply", "-f", "-"], { stdin: yamlOf(withBogus) });
      expect(kubectl.code).toBe(1);
      expect(kubectl.stderr).toContain("The request is invalid: patch: Invalid value:");
      expect(kubectl.stderr).toContain('strict decoding error: unknown field "bogus"');
    });

    it("fieldValidation: --validate=strict rejects, warn warns, ignore prunes silently", async () => {
      const ns = uniqueName("fv");
      const withBogus = (name: string) => {
        const r = makeReport(POLICY_REPORT, { name, namespace: ns });
        r.bogus = "x";
        (r.summary as Record<string, unknown>).extra = 1;
        return yamlOf(r);
      };
      const [strict, warn, ignore] = await Promise.all([
        k(ctx, ["create", "--validate=strict", "-f", "-"], { stdin: withBogus("strict") }),
        k(ctx, ["create", "--validate=warn", "-f", "-"], { stdin: withBogus("warn") }),
        k(ctx, ["create", "--validate=ignore", "-f", "-"], { stdin: withBogus("ignore") }),
      ]);
      expect(strict.code).toBe(1);
      expect(strict.stderr).toContain("strict decoding error: ");
      expect(strict.stderr).toContain('unknown field "bogus"');
      expect(strict.stderr).toContain('unknown field "summary.extra"');
      expect(warn.code, warn.stderr).toBe(0);
      expect(warn.stderr).toContain('Warning: unknown field "bogus"');
      expect(warn.stderr).toContain('Warning: unknown field "summary.extra"');
      expect(ignore.code, ignore.stderr).toBe(0);
      expect(ignore.stderr).not.toContain("unknown field");
      for (const n of ["warn", "ignore"]) {
        const obj = await kJson(ctx, ["get", "polr", n, "-n", ns]);
        expect(obj.bogus).toBeUndefined();
        expect((obj.summary as Record<string, unknown>).extra).toBeUndefined();
      }
      expect((await get(ctx.server(), resourcePath(POLICY_REPORT, ns, "strict"))).status).toBe(404);

      const raw = await post(ctx.server(), `${resourcePath(POLICY_REPORT, ns)}?fieldValidation=Warn`, {
        ...makeReport(POLICY_REPORT, { name: "rawwarn", namespace: ns }),
        bogus: 1,
      });
      expect(raw.status).toBe(201);
      expect(raw.headers["warning"]).toContain('299 - "unknown field \\"bogus\\""');
    });

    it("schema errors → 422 Invalid with field paths (types, enums, required)", async () => {
      const ns = uniqueName("schema");
      const srv = ctx.server();
      const bad = makeReport(POLICY_REPORT, { name: "bad", namespace: ns });
      (bad.summary as Record<string, unknown>).pass = "many";
      (bad.results as Record<string, unknown>[])[1] = {
        ...(bad.results as Record<string, unknown>[])[1],
        result: "maybe",
      };
      const res = await post(srv, resourcePath(POLICY_REPORT, ns), bad);
      expect(res.status).toBe(422);
      const status = res.json<{
        reason: string;
        message: string;
        details: { kind: string; name: string; group: string; causes: { field: string; reason: string }[] };
      }>();
      expect(status.reason).toBe("Invalid");
      expect(status.details).toMatchObject({ kind: "PolicyReport", name: "bad", group: "wgpolicyk8s.io" });
      expect(status.details.causes.map((c) => c.field).sort()).toEqual(["results[1].result", "summary.pass"]);
      expect(status.message).toContain('PolicyReport.wgpolicyk8s.io "bad" is invalid');
      expect(status.message).toContain('results[1].result: Unsupported value: "maybe"');

      const r = await k(ctx, ["create", "-f", "-"], { stdin: yamlOf(bad) });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('The PolicyReport "bad" is invalid');
      expect(r.stderr).toContain("summary.pass");

      const noSpec = makeReport(KINDS[2], { name: "nospec", namespace: ns });
      delete noSpec.spec;
      const missing = await post(srv, resourcePath(KINDS[2], ns), noSpec);
      expect(missing.status).toBe(422);
      expect(
        missing.json<{ details: { causes: { field: string; reason: string }[] } }>().details.causes,
      ).toContainEqual(expect.objectContaining({ field: "spec", reason: "FieldValueRequired" }));
    });
  });
}
