import { describe, it, expect, beforeEach } from "vitest";
import type { AuthzAttributes } from "../../src/apimachinery/auth.js";
import { alwaysAllowPathMatcher, createAuthorizer, forbiddenError } from "../../src/cluster/authz.js";
import { requestInfo } from "../../src/endpoints/requestinfo.js";
import { attributesOf } from "../../src/server/filters/auth.js";
import { useStandInClient } from "../support/stand-in-client.js";
import type { SarSpec } from "../support/fake-kube-apiserver.js";

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

  it("takes a review that says both allowed and denied as a denial, as the webhook authorizer does", async () => {
    sx.fake.authorize = () => ({ allowed: true, denied: true, reason: "explicitly denied" });
    const authz = createAuthorizer({ client: sx.client });
    expect(await authz(attrs())).toEqual({ allowed: false, reason: "explicitly denied" });
  });

  it("sends the request's attributes and the whole user, and allows", async () => {
    const authz = createAuthorizer({ client: sx.client });
    expect(await authz(attrs())).toEqual({ allowed: true });
    const review = (namespace: string) => ({
      user: "bob",
      groups: ["team-a", "system:authenticated"],
      uid: "u-bob",
      extra: { scopes: ["x"] },
      resourceAttributes: {
        namespace,
        verb: "list",
        group: "wgpolicyk8s.io",
        version: "v1alpha2",
        resource: "policyreports",
        subresource: "",
        name: "",
      },
    });
    // every namespace first (bob may not), then the request's own
    expect(sx.fake.accessReviews).toEqual([review(""), review("team-a")]);
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
    // the review of every namespace, tried three times (denied, and kept), then team-a's
    expect(sars() - before).toBe(4);

    // five tries, then the request fails
    failWith(500);
    const start = sars();
    await expect(authz(attrs({ namespace: "team-c" }))).rejects.toThrow(/500/);
    expect(sars() - start).toBe(5);
    // what DefaultShouldRetry does not retry: a refusal, and a 503 that does not ask to be retried
    for (const [code, ns] of [
      [400, "team-d"],
      [503, "team-e"],
    ] as const) {
      failWith(code);
      const once = sars();
      await expect(authz(attrs({ namespace: ns }))).rejects.toThrow(new RegExp(String(code)));
      expect(sars() - once, String(code)).toBe(1);
    }
  }, 20_000);

  it("caches allow and deny for their own TTLs", async () => {
    const authz = createAuthorizer({ client: sx.client, allowTtlMs: 60_000, denyTtlMs: 100 });
    await authz(attrs());
    await authz(attrs());
    await authz(attrs({ namespace: "team-b" }));
    await authz(attrs({ namespace: "team-b" }));
    // every namespace (denied), team-a (allowed), team-b (denied)
    expect(sx.fake.accessReviews).toHaveLength(3);
    await new Promise((r) => setTimeout(r, 150));
    await authz(attrs());
    await authz(attrs({ namespace: "team-b" }));
    expect(sx.fake.accessReviews.map((s) => s.resourceAttributes?.namespace)).toEqual([
      "",
      "team-a",
      "team-b",
      "",
      "team-b",
    ]);
  });

  it("reviews a request for one object once without its name: who may get every report needs no review per name", async () => {
    sx.fake.authorize = (spec) => ({ allowed: spec.resourceAttributes?.namespace === "team-a" });
    const authz = createAuthorizer({ client: sx.client });
    for (const verb of ["get", "update", "delete"])
      for (const name of ["r1", "r2", "r3"])
        expect(await authz(attrs({ verb, name }))).toEqual({ allowed: true });
    // per verb: every namespace (denied), then team-a's, which allows every name
    expect(
      sx.fake.accessReviews.map((r) => [
        r.resourceAttributes?.verb,
        r.resourceAttributes?.namespace,
        r.resourceAttributes?.name,
      ]),
    ).toEqual([
      ["get", "", ""],
      ["get", "team-a", ""],
      ["update", "", ""],
      ["update", "team-a", ""],
      ["delete", "", ""],
      ["delete", "team-a", ""],
    ]);
  });

  it("asks once for every namespace: a user bound cluster-wide (as Kyverno is) costs one review per verb", async () => {
    // RBAC answers a review with no namespace from ClusterRoleBindings alone
    sx.fake.authorize = (spec) => ({ allowed: spec.resourceAttributes?.namespace === "" });
    const authz = createAuthorizer({ client: sx.client });
    for (const namespace of ["team-a", "team-b", "team-c"]) {
      expect(await authz(attrs({ verb: "create", namespace }))).toEqual({ allowed: true });
      for (const name of ["r1", "r2"])
        for (const verb of ["get", "update"])
          expect(await authz(attrs({ verb, namespace, name }))).toEqual({ allowed: true });
    }
    expect(sx.fake.accessReviews.map((r) => r.resourceAttributes)).toEqual(
      ["create", "get", "update"].map((verb) => expect.objectContaining({ verb, namespace: "", name: "" })),
    );
  });

  it("asks about the named object when the whole collection is not allowed (RBAC resourceNames)", async () => {
    sx.fake.authorize = (spec) =>
      spec.resourceAttributes?.name === "mine"
        ? { allowed: true }
        : { allowed: false, reason: "no RBAC policy matched" };
    const authz = createAuthorizer({ client: sx.client });
    expect(await authz(attrs({ verb: "get", name: "mine" }))).toEqual({ allowed: true });
    const theirs = attrs({ verb: "get", name: "theirs" });
    const d = await authz(theirs);
    expect(d).toEqual({ allowed: false, reason: "no RBAC policy matched" });
    expect(forbiddenError(theirs, d.reason).message).toBe(
      'policyreports.wgpolicyk8s.io "theirs" is forbidden: User "bob" cannot get resource "policyreports" in API group "wgpolicyk8s.io" in the namespace "team-a": no RBAC policy matched',
    );
    // the whole collection's denials are cached: one review everywhere, one in team-a, one per name
    expect(
      sx.fake.accessReviews.map((r) => `${r.resourceAttributes?.namespace}/${r.resourceAttributes?.name}`),
    ).toEqual(["/", "team-a/", "team-a/mine", "team-a/theirs"]);
  });

  it("does not keep decisions about huge client-chosen attributes (a cache a client could fill)", async () => {
    const authz = createAuthorizer({ client: sx.client, allowTtlMs: 60_000 });
    // bob may not get every report, so each get is also reviewed with its name
    const huge = attrs({ verb: "get", name: "x".repeat(10_000) });
    await authz(huge);
    await authz(huge);
    expect(sx.fake.accessReviews.filter((r) => r.resourceAttributes?.name === huge.name)).toHaveLength(2);
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

  it("fails, never allows, when the review cannot be made; and does not cache that", async () => {
    const authz = createAuthorizer({ client: sx.client });
    sx.fake.failRequest = () => 503;
    const err = await authz(attrs()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/503/);
    sx.fake.failRequest = () => undefined;
    expect(await authz(attrs())).toEqual({ allowed: true });
  });
});

describe("field and label selectors in the review (AuthorizeWithSelectors, on by default since 1.32)", () => {
  const sx = useStandInClient();
  const LIST = "/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports";
  /** The attributes the authorization filter builds for a request. */
  const request = (method: string, path: string, query: Record<string, string>) =>
    attributesOf(requestInfo(method, path, new URLSearchParams(query)), bob);
  const user = { user: "bob", groups: bob.groups, uid: "u-bob", extra: bob.extra };
  const reports = {
    group: "wgpolicyk8s.io",
    version: "v1alpha2",
    resource: "policyreports",
    subresource: "",
  };
  /** A reviewer that allows only narrowed lists, so that the selectors' review is made. */
  const narrowedOnly = (spec: SarSpec) => ({
    allowed: Boolean(spec.resourceAttributes?.labelSelector || spec.resourceAttributes?.fieldSelector),
  });
  const whole = {
    ...user,
    resourceAttributes: { namespace: "team-a", verb: "list", ...reports, name: "" },
  };
  /** The review asked first: the whole collection in every namespace. */
  const everywhere = { ...whole, resourceAttributes: { ...whole.resourceAttributes, namespace: "" } };
  beforeEach(() => {
    sx.fake.accessReviews.length = 0;
    sx.fake.failRequest = () => undefined;
    sx.fake.authorize = narrowedOnly;
  });

  it("reviews a selected list once without its selectors: a user who may list everything needs no review per selector", async () => {
    sx.fake.authorize = () => ({ allowed: true });
    const authz = createAuthorizer({ client: sx.client });
    for (const uid of ["u1", "u2", "u3", "u4"]) {
      const labelSelector = `audit.kyverno.io/resource.uid=${uid}`;
      expect(await authz(request("GET", LIST, { labelSelector }))).toEqual({ allowed: true });
    }
    expect(sx.fake.accessReviews).toEqual([everywhere]);
  });

  it("still asks with the selectors when the review without them fails", async () => {
    let reviews = 0;
    // the first review (the one without selectors) fails; 400 is not retried
    sx.fake.failRequest = (_m, path) =>
      path.endsWith("/subjectaccessreviews") && reviews++ === 0 ? 400 : undefined;
    const authz = createAuthorizer({ client: sx.client });
    expect(await authz(request("GET", LIST, { labelSelector: "app=web" }))).toEqual({ allowed: true });
    expect(sx.fake.accessReviews.at(-1)?.resourceAttributes?.labelSelector).toBeDefined();
  });

  it("sends a label-selected list's requirements, as the webhook authorizer converts them", async () => {
    const authz = createAuthorizer({ client: sx.client });
    const labelSelector = "tier=front,app in (web,api),!legacy,env!=dev,n>3,team";
    expect(await authz(request("GET", LIST, { labelSelector }))).toEqual({ allowed: true });
    expect(sx.fake.accessReviews).toEqual([
      everywhere,
      whole,
      {
        ...user,
        resourceAttributes: {
          namespace: "team-a",
          verb: "list",
          ...reports,
          name: "",
          // sorted by key as labels.Parse leaves them; `>` has no operator here and is left out
          labelSelector: {
            requirements: [
              { key: "app", operator: "In", values: ["api", "web"] },
              { key: "env", operator: "NotIn", values: ["dev"] },
              { key: "legacy", operator: "DoesNotExist" },
              { key: "team", operator: "Exists" },
              { key: "tier", operator: "In", values: ["front"] },
            ],
          },
        },
      },
    ]);
  });

  it("sends a field-selected watch's requirements, and still names the object the selector requires", async () => {
    const authz = createAuthorizer({ client: sx.client });
    const fieldSelector = "metadata.namespace!=team-b,metadata.name==r1";
    await authz(request("GET", LIST, { watch: "true", fieldSelector }));
    expect(sx.fake.accessReviews).toEqual([
      { ...user, resourceAttributes: { namespace: "", verb: "watch", ...reports, name: "" } },
      { ...user, resourceAttributes: { namespace: "team-a", verb: "watch", ...reports, name: "" } },
      {
        ...user,
        resourceAttributes: {
          namespace: "team-a",
          verb: "watch",
          ...reports,
          name: "r1",
          fieldSelector: {
            requirements: [
              { key: "metadata.name", operator: "In", values: ["r1"] },
              { key: "metadata.namespace", operator: "NotIn", values: ["team-b"] },
            ],
          },
        },
      },
    ]);
  });

  it("sends no selectors for a get, for the deprecated /watch/ prefix, or for a selector that does not parse", async () => {
    const authz = createAuthorizer({ client: sx.client });
    const sel = { labelSelector: "app=web", fieldSelector: "metadata.name=r1" };
    await authz(request("GET", `${LIST}/r1`, sel));
    await authz(request("GET", "/apis/wgpolicyk8s.io/v1alpha2/watch/namespaces/team-a/policyreports", sel));
    await authz(request("GET", LIST, { labelSelector: "app in (web", fieldSelector: "metadata.name" }));
    expect(sx.fake.accessReviews.map((s) => s.resourceAttributes)).toEqual([
      { namespace: "", verb: "get", ...reports, name: "" },
      { namespace: "team-a", verb: "get", ...reports, name: "" },
      { namespace: "team-a", verb: "get", ...reports, name: "r1" },
      { namespace: "", verb: "watch", ...reports, name: "" },
      { namespace: "team-a", verb: "watch", ...reports, name: "" },
      { namespace: "", verb: "list", ...reports, name: "" },
      { namespace: "team-a", verb: "list", ...reports, name: "" },
    ]);
  });

  it("keeps decisions apart by selector, as the webhook's cache key is the whole spec", async () => {
    const authz = createAuthorizer({ client: sx.client, allowTtlMs: 60_000 });
    sx.fake.authorize = (spec) => ({
      allowed: spec.resourceAttributes?.labelSelector?.requirements?.[0]?.values?.[0] === "mine",
    });
    const mine = request("GET", LIST, { labelSelector: "owner=mine" });
    expect(await authz(mine)).toEqual({ allowed: true });
    expect(await authz(request("GET", LIST, { labelSelector: "owner=theirs" }))).toEqual({ allowed: false });
    expect(await authz(request("GET", LIST, {}))).toEqual({ allowed: false });
    expect(await authz(mine)).toEqual({ allowed: true });
    // everywhere and team-a without selectors (denied, kept), then one per selector
    expect(sx.fake.accessReviews).toHaveLength(4);
  });

  it("sends the selectors of a deletecollection", async () => {
    const authz = createAuthorizer({ client: sx.client });
    await authz(request("DELETE", LIST, { labelSelector: "app=web" }));
    expect(sx.fake.accessReviews.at(-1)?.resourceAttributes).toMatchObject({
      verb: "deletecollection",
      labelSelector: { requirements: [{ key: "app", operator: "In", values: ["web"] }] },
    });
  });
});
