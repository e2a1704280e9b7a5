import { describe, it, expect, beforeAll } from "vitest";
import { StatusError } from "../../src/apimachinery/status.js";
import { startNamespaceLifecycle } from "../../src/cluster/namespaces.js";
import { NAMESPACES } from "../support/fake-kube-apiserver.js";
import { useStandInClient } from "../support/stand-in-client.js";

const REPORTS = { group: "wgpolicyk8s.io", resource: "policyreports" };

/** kube-apiserver's NamespaceLifecycle before its informer has listed namespaces once. */
describe("namespace admission before the first list", () => {
  const sx = useStandInClient();
  beforeAll(() => {
    sx.fake.putObject(NAMESPACES, { metadata: { name: "team-a" }, status: { phase: "Active" } });
  });

  it("a write waits 10 s for the list, then 403 not yet ready; once namespaces list, writes go on", async () => {
    let listing = false;
    sx.fake.failRequest = (method, path) => (path === "/api/v1/namespaces" && !listing ? 503 : undefined);
    const lifecycle = startNamespaceLifecycle(sx.client);
    try {
      const started = Date.now();
      const err = await lifecycle.admit("create", REPORTS, "r1", "team-a").catch((e: unknown) => e);
      const waited = Date.now() - started;
      expect(err).toBeInstanceOf(StatusError);
      expect((err as StatusError).toStatus()).toMatchObject({
        code: 403,
        reason: "Forbidden",
        message: 'policyreports.wgpolicyk8s.io "r1" is forbidden: not yet ready to handle request',
        details: { name: "r1", group: "wgpolicyk8s.io", kind: "policyreports" },
      });
      expect(waited).toBeGreaterThanOrEqual(9_900);

      listing = true;
      await expect(lifecycle.admit("create", REPORTS, "r1", "team-a")).resolves.toBeUndefined();
      await expect(lifecycle.admit("create", REPORTS, "r1", "nowhere")).rejects.toMatchObject({
        code: 404,
        message: 'namespaces "nowhere" not found',
      });
    } finally {
      lifecycle.stop();
      sx.fake.failRequest = () => undefined;
    }
  }, 30_000);
});
