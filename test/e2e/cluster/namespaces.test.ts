import { describe, expect, it } from "vitest";
import { NAMESPACES } from "../../support/fake-kube-apiserver.js";
import { makeReport, POLICY_REPORT, resourcePath } from "../../support/reports.js";
import { call, eventually, useClusterServer } from "./support.js";

/**
 * NamespaceLifecycle admission, as kube-apiserver runs it in front of aggregated servers: nothing is
 * written into a namespace that does not exist, nothing is created in one being deleted, and deletes
 * always go through (the namespace controller empties a terminating namespace with them).
 */
describe("cluster mode: writes into namespaces that are missing or being deleted", () => {
  const fx = useClusterServer((standIn) => {
    standIn.fake.tokens.set("ann-token", { name: "ann", groups: ["team-a"] });
    standIn.fake.authorize = () => ({ allowed: true });
  });
  const create = (ns: string, name: string) =>
    call(fx.server(), resourcePath(POLICY_REPORT, ns), {
      token: "ann-token",
      method: "POST",
      body: makeReport(POLICY_REPORT, { name, namespace: ns }),
    });

  it("a missing namespace: 404 namespaces not found, nothing stored", async () => {
    const res = await create("nowhere", "r1");
    expect(res.status, res.body).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({
      kind: "Status",
      reason: "NotFound",
      message: 'namespaces "nowhere" not found',
    });
    expect(JSON.parse(res.body).details).toEqual({ name: "nowhere", kind: "namespaces" });
    const get = await call(fx.server(), resourcePath(POLICY_REPORT, "nowhere", "r1"), { token: "ann-token" });
    expect(get.status).toBe(404);
    // an update finds the object missing first, as kube-apiserver admits inside the update
    const put = await call(fx.server(), resourcePath(POLICY_REPORT, "nowhere", "r1"), {
      token: "ann-token",
      method: "PUT",
      body: {
        ...makeReport(POLICY_REPORT, { name: "r1", namespace: "nowhere" }),
        metadata: { name: "r1", namespace: "nowhere", resourceVersion: "1" },
      },
    });
    expect(put.status).toBe(404);
    expect(JSON.parse(put.body).message).toBe('policyreports.wgpolicyk8s.io "r1" not found');
  });

  it("a namespace made just now is seen (the cache, else a lookup on the kube-apiserver)", async () => {
    fx.standIn().fake.putObject(NAMESPACES, { metadata: { name: "fresh" }, status: { phase: "Active" } });
    const res = await create("fresh", "r1");
    expect(res.status, res.body).toBe(201);
  });

  it("a terminating namespace: creates 403 NamespaceTerminating; updates and deletes go on", async () => {
    fx.standIn().fake.putObject(NAMESPACES, { metadata: { name: "ending" }, status: { phase: "Active" } });
    const created = await create("ending", "r1");
    expect(created.status, created.body).toBe(201);
    fx.standIn().fake.putObject(NAMESPACES, {
      metadata: { name: "ending", deletionTimestamp: "2026-01-01T00:00:00Z" },
      status: { phase: "Terminating" },
    });
    const refused = await eventually("the terminating phase seen", 10_000, async () => {
      const r = await create("ending", "r2");
      return r.status === 403 ? r : undefined;
    });
    expect(JSON.parse(refused.body)).toMatchObject({
      reason: "Forbidden",
      message:
        'policyreports.wgpolicyk8s.io "r2" is forbidden: unable to create new content in namespace ending because it is being terminated',
      details: {
        name: "r2",
        group: "wgpolicyk8s.io",
        kind: "policyreports",
        causes: [{ reason: "NamespaceTerminating", field: "metadata.namespace" }],
      },
    });
    // a generated name is named by its prefix; an apply that would create is a create too
    const generated = await call(fx.server(), resourcePath(POLICY_REPORT, "ending"), {
      token: "ann-token",
      method: "POST",
      body: makeReport(POLICY_REPORT, { generateName: "gen-", namespace: "ending" }),
    });
    expect(generated.status).toBe(403);
    expect(JSON.parse(generated.body).message).toMatch(
      /^policyreports\.wgpolicyk8s\.io "gen-" is forbidden: /,
    );
    const applied = await call(
      fx.server(),
      `${resourcePath(POLICY_REPORT, "ending", "r3")}?fieldManager=e2e`,
      {
        token: "ann-token",
        method: "PATCH",
        headers: { "Content-Type": "application/apply-patch+yaml" },
        body: makeReport(POLICY_REPORT, { name: "r3", namespace: "ending" }),
      },
    );
    expect(applied.status, applied.body).toBe(403);
    const path = resourcePath(POLICY_REPORT, "ending", "r1");
    const current = (await call(fx.server(), path, { token: "ann-token" })).json<{
      metadata: Record<string, unknown>;
    }>();
    current.metadata.labels = { last: "words" };
    const updated = await call(fx.server(), path, { token: "ann-token", method: "PUT", body: current });
    expect(updated.status, updated.body).toBe(200);
    expect((await call(fx.server(), path, { token: "ann-token", method: "DELETE" })).status).toBe(200);
  });
});
