import { describe, expect, it } from "vitest";
import { get, post, request } from "../../support/http.js";
import { KINDS, POLICY_REPORT, makeReport, resourcePath, uniqueName } from "../../support/reports.js";
import { k, type SuiteContext } from "./context.js";

function expectStatus(body: Record<string, unknown>, code: number, reason: string) {
  expect(body).toMatchObject({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    reason,
    code,
  });
  expect(typeof body.message).toBe("string");
}

export function errorTests(ctx: SuiteContext) {
  describe.concurrent("errors are Status objects", () => {
    it("namespace in the body differs from the path → 400", async () => {
      const ns = uniqueName("nsm");
      const res = await post(
        ctx.server(),
        resourcePath(POLICY_REPORT, ns),
        makeReport(POLICY_REPORT, { name: "x", namespace: "elsewhere" }),
      );
      expect(res.status).toBe(400);
      expectStatus(res.json(), 400, "BadRequest");
      expect(res.json().message).toBe(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
      // No namespace in the body: the path's is used.
      const ok = await post(
        ctx.server(),
        resourcePath(POLICY_REPORT, ns),
        makeReport(POLICY_REPORT, { name: "y" }),
      );
      expect(ok.status).toBe(201);
      expect(ok.json<{ metadata: { namespace: string } }>().metadata.namespace).toBe(ns);
    });

    it("the kind of another resource in the body → 422 on field kind (as the CRD validator does)", async () => {
      const ns = uniqueName("kind");
      const body = makeReport(POLICY_REPORT, { name: "x", namespace: ns });
      body.kind = "ClusterPolicyReport";
      const res = await post(ctx.server(), resourcePath(POLICY_REPORT, ns), body);
      expect(res.status).toBe(422);
      expectStatus(res.json(), 422, "Invalid");
      expect(res.json<{ details: { causes: { field: string }[] } }>().details.causes).toContainEqual(
        expect.objectContaining({ field: "kind" }),
      );
    });

    it("bad write options → 422 naming the verb's options type, as ValidateCreateOptions and its kin do", async () => {
      const ns = uniqueName("opts");
      const srv = ctx.server();
      const coll = resourcePath(POLICY_REPORT, ns);
      const body = makeReport(POLICY_REPORT, { name: "o", namespace: ns });
      const long = await post(srv, `${coll}?fieldManager=${"m".repeat(129)}`, body);
      expectStatus(long.json(), 422, "Invalid");
      expect(long.json().message).toBe(
        'CreateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes',
      );
      const fv = await post(srv, `${coll}?fieldValidation=bogus`, body);
      expectStatus(fv.json(), 422, "Invalid");
      expect(fv.json().message).toBe(
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "bogus": supported values: "", "Ignore", "Strict", "Warn"',
      );
      expect((await post(srv, coll, body)).status).toBe(201);
      const obj = (await get(srv, `${coll}/o`)).json() as Record<string, unknown>;
      const dry = await request(srv, "PUT", `${coll}/o?dryRun=Bogus`, { body: obj });
      expectStatus(dry.json(), 422, "Invalid");
      expect(dry.json().message).toBe(
        'UpdateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Bogus"}: supported values: "All"',
      );
      const grace = await request(srv, "DELETE", `${coll}/o?gracePeriodSeconds=abc`);
      expectStatus(grace.json(), 400, "BadRequest");
      expect((await get(srv, `${coll}/o`)).status).toBe(200);
    });

    it("?includeObject is checked only when a Table is asked for", async () => {
      const ns = uniqueName("incl");
      const srv = ctx.server();
      const path = resourcePath(POLICY_REPORT, ns);
      expect((await get(srv, `${path}?includeObject=bogus`)).status).toBe(200);
      const table = await get(srv, `${path}?includeObject=bogus`, {
        headers: { Accept: "application/json;as=Table;v=v1;g=meta.k8s.io" },
      });
      expectStatus(table.json(), 400, "BadRequest");
      expect(table.json().message).toBe(
        `Unable to convert to Table as requested: includeObject: Invalid value: "bogus": must be 'Metadata', 'Object', 'None', or empty`,
      );
    });

    it("malformed JSON → 400", async () => {
      const res = await post(
        ctx.server(),
        resourcePath(POLICY_REPORT, uniqueName("bad")),
        '{"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": ',
      );
      expect(res.status).toBe(400);
      expectStatus(res.json(), 400, "BadRequest");
    });

    it("a body over 3 MiB → 413", async () => {
      const ns = uniqueName("big");
      const report = makeReport(POLICY_REPORT, { name: "big", namespace: ns });
      report.metadata.annotations = { filler: "x".repeat(3 * 1024 * 1024 + 16) };
      const res = await post(ctx.server(), resourcePath(POLICY_REPORT, ns), report);
      expect(res.status).toBe(413);
      expectStatus(res.json(), 413, "RequestEntityTooLarge");
      expect(res.json().message).toBe("Request entity too large: limit is 3145728");
    });

    it("unknown paths and resources → 404 Status; kubectl says NotFound", async () => {
      const srv = ctx.server();
      const paths = [
        "/apis/nothing.example.com/v1/things",
        "/apis/wgpolicyk8s.io/v1alpha2/nothings",
        "/apis/wgpolicyk8s.io/v9/policyreports",
        "/apis/wgpolicyk8s.io/v1alpha2/namespaces/x/clusterpolicyreports",
        "/nowhere",
      ];
      const res = await Promise.all(paths.map((p) => get(srv, p)));
      res.forEach((r, i) => {
        expect(r.status, paths[i]).toBe(404);
        expectStatus(r.json(), 404, "NotFound");
      });
      const missing = await get(srv, resourcePath(POLICY_REPORT, "default", "missing"));
      expect(missing.json()).toEqual({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: 'policyreports.wgpolicyk8s.io "missing" not found',
        reason: "NotFound",
        details: { name: "missing", group: "wgpolicyk8s.io", kind: "policyreports" },
        code: 404,
      });
      const r = await k(ctx, ["get", "polr", "missing", "-n", "default"]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(
        'Error from server (NotFound): policyreports.wgpolicyk8s.io "missing" not found',
      );
    });

    it.each(KINDS)("$kind: an unsupported verb on a path → 405", async (kd) => {
      const res = await request(ctx.server(), "POST", resourcePath(kd, "default", "x"), {
        body: makeReport(kd, { name: "x" }),
      });
      expect(res.status).toBe(405);
      expectStatus(res.json(), 405, "MethodNotAllowed");
    });
  });
}
