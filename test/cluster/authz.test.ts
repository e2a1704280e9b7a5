import { describe, it, expect, beforeEach } from "vitest";
import type { AuthzAttributes } from "../../src/apimachinery/auth.js";
import { StatusError } from "../../src/apimachinery/status.js";
import { alwaysAllowPathMatcher, createAuthorizer, forbiddenError } from "../../src/cluster/authz.js";
import { useStandInClient } from "../support/stand-in-client.js";

const bob = {
  name: "bob",
  uid: "u-bob",
  groups: ["team-a", "system:authenticated"],
  extra: { scopes: ["x"] },
};

function attrs(over: Partial<AuthzAttributes> = {}): AuthzAttributes {
  return {
    user: bob,
    verb: "list",
    resourceRequest: true,
    path: "/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports",
    apiGroup: "wgpolicyk8s.io",
    apiVersion: "v1alpha2",
    resource: "policyreports",
    subresource: "",
    namespace: "team-a",
    name: "",
    ...over,
  };
}

describe("the 403 kubectl users know", () => {
  it("names user, verb, resource, group and namespace", () => {
    const s = forbiddenError(attrs()).toStatus();
    expect(s).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message:
        'policyreports.wgpolicyk8s.io is forbidden: User "bob" cannot list resource "policyreports" in API group "wgpolicyk8s.io" in the namespace "team-a"',
      reason: "Forbidden",
      details: { group: "wgpolicyk8s.io", kind: "policyreports" },
      code: 403,
    });
  });

  it("has the cluster-scope, named, subresource and reason variants", () => {
    const cluster = forbiddenError(
      attrs({ verb: "get", resource: "clusterpolicyreports", namespace: "", name: "cpol-1" }),
      "no RBAC policy matched",
    ).toStatus();
    expect(cluster.message).toBe(
      'clusterpolicyreports.wgpolicyk8s.io "cpol-1" is forbidden: User "bob" cannot get resource "clusterpolicyreports" in API group "wgpolicyk8s.io" at the cluster scope: no RBAC policy matched',
    );
    expect(cluster.details).toEqual({
      name: "cpol-1",
      group: "wgpolicyk8s.io",
      kind: "clusterpolicyreports",
    });
    const sub = forbiddenError(attrs({ verb: "update", subresource: "status", name: "r1" }));
    expect(sub.message).toBe(
      'policyreports.wgpolicyk8s.io "r1" is forbidden: User "bob" cannot update resource "policyreports/status" in API group "wgpolicyk8s.io" in the namespace "team-a"',
    );
  });

  it("has the non-resource variant", () => {
    const s = forbiddenError(
      attrs({ resourceRequest: false, verb: "get", path: "/metrics", apiGroup: "", resource: "" }),
    ).toStatus();
    expect(s.message).toBe('forbidden: User "bob" cannot get path "/metrics"');
    expect(s.details).toEqual({});
  });
});

describe("always-allowed paths", () => {
  it("matches exact paths and trailing-* prefixes, with or without the leading slash", () => {
    const m = alwaysAllowPathMatcher(["/healthz", "livez", "/debug/*"]);
    expect([m("/healthz"), m("/livez"), m("/debug/pprof/heap"), m("/healthz/etcd"), m("/metrics")]).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(() => alwaysAllowPathMatcher(["/a*/b"])).toThrow(/only trailing/);
  });
});

describe("authorization by SubjectAccessReview", () => {
  const sx = useStandInClient();
  beforeEach(() => {
    sx.fake.accessReviews.length = 0;
    sx.fake.failRequest = () => undefined;
    // bob may list policy reports in team-a, nothing else
    sx.fake.authorize = (spec) =>
      spec.user === "bob" &&
      spec.resourceAttributes?.verb === "list" &&
      spec.resourceAttributes.namespace === "team-a"
        ? { allowed: true }
        : { allowed: false, reason: "no RBAC policy matched" };
  });

  it("sends the request's attributes and the whole user, and allows", async () => {
    const authz = createAuthorizer({ client: sx.client });
    expect(await authz(attrs())).toEqual({ allowed: true });
    expect(sx.fake.accessReviews).toEqual([
      {
        user: "bob",
        groups: ["team-a", "system:authenticated"],
        uid: "u-bob",
        extra: { scopes: ["x"] },
        resourceAttributes: {
          namespace: "team-a",
          verb: "list",
          group: "wgpolicyk8s.io",
          version: "v1alpha2",
          resource: "policyreports",
          subresource: "",
          name: "",
        },
      },
    ]);
  });

  it("denies with the reviewer's reason, which makes the exact 403", async () => {
    const authz = createAuthorizer({ client: sx.client });
    const a = attrs({ namespace: "team-b" });
    const d = await authz(a);
    expect(d).toEqual({ allowed: false, reason: "no RBAC policy matched" });
    expect(forbiddenError(a, d.reason).message).toBe(
      'policyreports.wgpolicyk8s.io is forbidden: User "bob" cannot list resource "policyreports" in API group "wgpolicyk8s.io" in the namespace "team-b": no RBAC policy matched',
    );
  });

  it("retries a review the kube-apiserver could not answer for a moment, as the webhook authorizer does", async () => {
    const authz = createAuthorizer({ client: sx.client });
    const sars = () => sx.fake.requests.filter((r) => r.endsWith("/subjectaccessreviews")).length;
    const failWith = (code: number, times = Infinity) => {
      let left = times;
      sx.fake.failRequest = (_m, path) =>
        path.endsWith("/subjectaccessreviews") && left-- > 0 ? code : undefined;
    };
    failWith(500, 2);
    const before = sars();
    expect(await authz(attrs())).toEqual({ allowed: true });
    expect(sars() - before).toBe(3);

    // five tries, then the request fails
    failWith(500);
    const start = sars();
    await expect(authz(attrs({ namespace: "team-c" }))).rejects.toMatchObject({ code: 500 });
    expect(sars() - start).toBe(5);
    // what DefaultShouldRetry does not retry: a refusal, and a 503 that does not ask to be retried
    for (const [code, ns] of [
      [400, "team-d"],
      [503, "team-e"],
    ] as const) {
      failWith(code);
      const once = sars();
      await expect(authz(attrs({ namespace: ns }))).rejects.toMatchObject({ code: 500 });
      expect(sars() - once, String(code)).toBe(1);
    }
  }, 20_000);

  it("caches allow and deny for their own TTLs", async () => {
    const authz = createAuthorizer({ client: sx.client, allowTtlMs: 60_000, denyTtlMs: 100 });
    await authz(attrs());
    await authz(attrs());
    await authz(attrs({ namespace: "team-b" }));
    await authz(attrs({ namespace: "team-b" }));
    expect(sx.fake.accessReviews).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 150));
    await authz(attrs());
    await authz(attrs({ namespace: "team-b" }));
    expect(sx.fake.accessReviews.map((s) => s.resourceAttributes?.namespace)).toEqual([
      "team-a",
      "team-b",
      "team-b",
    ]);
  });

  it("does not keep decisions about huge client-chosen attributes (a cache a client could fill)", async () => {
    const authz = createAuthorizer({ client: sx.client, allowTtlMs: 60_000 });
    const huge = attrs({ name: "x".repeat(10_000) });
    await authz(huge);
    await authz(huge);
    expect(sx.fake.accessReviews).toHaveLength(2);
  });

  it("lets system:masters and always-allowed paths through without a review", async () => {
    const authz = createAuthorizer({ client: sx.client });
    const admin = { name: "system:kube-aggregator", groups: ["system:masters"] };
    expect(await authz(attrs({ user: admin, verb: "delete", namespace: "kube-system" }))).toEqual({
      allowed: true,
    });
    const probe = { resourceRequest: false, verb: "get", apiGroup: "", resource: "", namespace: "" };
    expect(await authz(attrs({ ...probe, path: "/readyz" }))).toEqual({ allowed: true });
    expect(sx.fake.accessReviews).toHaveLength(0);
    expect(await authz(attrs({ ...probe, path: "/metrics" }))).toMatchObject({ allowed: false });
    expect(sx.fake.accessReviews).toEqual([
      {
        user: "bob",
        groups: bob.groups,
        uid: "u-bob",
        extra: bob.extra,
        nonResourceAttributes: { path: "/metrics", verb: "get" },
      },
    ]);
  });

  it("fails with a 500, never an allow, when the review cannot be made; and does not cache that", async () => {
    const authz = createAuthorizer({ client: sx.client });
    sx.fake.failRequest = () => 503;
    const err = await authz(attrs()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).code).toBe(500);
    sx.fake.failRequest = () => undefined;
    expect(await authz(attrs())).toEqual({ allowed: true });
  });
});
