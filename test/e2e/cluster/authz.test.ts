import { beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { kubectl } from "../../support/kubectl.js";
import { call, useClusterServer, writeKubeconfig, type ClusterServer, type StandIn } from "./support.js";

const LIST_TEAM_A = "/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports";

describe("cluster mode: what a request may do (SubjectAccessReview through the real server)", () => {
  let standIn: StandIn;
  let server: ClusterServer;
  const fx = useClusterServer((s) => {
    standIn = s;
    const { fake } = standIn;
    fake.tokens.set("bob-token", { name: "bob", groups: ["team-b"] });
    fake.tokens.set("ann-token", { name: "ann", groups: ["team-a"] });
    fake.tokens.set("root-token", { name: "root", groups: ["system:masters"] });
    fake.tokens.set("cid-token", { name: "cid", groups: ["team-c"] });
    fake.tokens.set("dee-token", { name: "dee", groups: ["team-d"] });
    // RBAC of the cluster: everyone may discover; bob may not touch reports; ann may.
    fake.authorize = (spec) => {
      if (spec.nonResourceAttributes) return { allowed: true };
      if (spec.user === "bob") return { allowed: false, reason: "" };
      // RBAC with resourceNames: cid may read the one report r-cid
      if (spec.user === "cid") return { allowed: spec.resourceAttributes?.name === "r-cid" };
      // a reviewer that reads selectors: dee may list only reports labelled app=web or app=api
      if (spec.user === "dee") {
        const app = spec.resourceAttributes?.labelSelector?.requirements?.find((r) => r.key === "app");
        return { allowed: app?.operator === "In" && app.values!.every((v) => v === "web" || v === "api") };
      }
      // ann's are RoleBindings: a review of every namespace is refused, one of a namespace allowed
      if (spec.resourceAttributes?.namespace === "") return { allowed: false, reason: "" };
      return { allowed: true, reason: 'RBAC: allowed by RoleBinding "reports-view/team-a"' };
    };
  });
  beforeAll(() => {
    server = fx.server();
  });

  const kubeconfigFor = (user: string) =>
    writeKubeconfig(join(standIn.dir, `${user}.kubeconfig`), {
      server: server.url,
      ca: server.ca,
      token: `${user}-token`,
    });

  it("an allowed user gets 200, decided by a SubjectAccessReview with the request's attributes", async () => {
    const from = standIn.fake.accessReviews.length;
    const res = await call(server, `${LIST_TEAM_A}?limit=5`, { token: "ann-token" });
    expect(res.status, res.body).toBe(200);
    const sars = standIn.fake.accessReviews.slice(from);
    // every namespace first (refused: ann's are RoleBindings), then the request's own
    expect(sars.map((s) => s.resourceAttributes?.namespace)).toEqual(["", "team-a"]);
    expect(sars[1]).toMatchObject({
      user: "ann",
      groups: ["team-a", "system:authenticated"],
      resourceAttributes: {
        verb: "list",
        group: "wgpolicyk8s.io",
        version: "v1alpha2",
        resource: "policyreports",
        namespace: "team-a",
      },
    });
  });

  it("maps the other verbs as kube-apiserver does (get, watch, create, delete, deletecollection)", async () => {
    const from = standIn.fake.accessReviews.length;
    const report = {
      apiVersion: "wgpolicyk8s.io/v1alpha2",
      kind: "PolicyReport",
      metadata: { name: "r1", namespace: "team-a" },
      results: [],
    };
    expect(
      (await call(server, LIST_TEAM_A, { token: "ann-token", method: "POST", body: report })).status,
    ).toBe(201);
    expect((await call(server, `${LIST_TEAM_A}/r1`, { token: "ann-token" })).status).toBe(200);
    const watch = await call(server, `${LIST_TEAM_A}?watch=true&timeoutSeconds=1`, { token: "ann-token" });
    expect(watch.status).toBe(200);
    expect((await call(server, `${LIST_TEAM_A}/r1`, { token: "ann-token", method: "DELETE" })).status).toBe(
      200,
    );
    expect((await call(server, LIST_TEAM_A, { token: "ann-token", method: "DELETE" })).status).toBe(200);
    // each is asked for every namespace first (refused: ann's are RoleBindings), then for team-a
    const verbs = standIn.fake.accessReviews
      .slice(from)
      .filter((s) => s.resourceAttributes?.namespace === "team-a")
      .map((s) => `${s.resourceAttributes?.verb} ${s.resourceAttributes?.name ?? ""}`.trim());
    // ann may do anything in team-a: a request for one object is reviewed once without its name
    expect(verbs).toEqual(["create", "get", "watch", "delete", "deletecollection"]);
  });

  it("a denied user gets 403 with the message kubectl users know", async () => {
    const res = await call(server, LIST_TEAM_A, { token: "bob-token" });
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({
      kind: "Status",
      status: "Failure",
      reason: "Forbidden",
      code: 403,
      message:
        'policyreports.wgpolicyk8s.io is forbidden: User "bob" cannot list resource "policyreports" in API group "wgpolicyk8s.io" in the namespace "team-a"',
      details: { group: "wgpolicyk8s.io", kind: "policyreports" },
    });

    const out = await kubectl(["get", "policyreports", "-n", "team-a"], { kubeconfig: kubeconfigFor("bob") });
    expect(out.code).toBe(1);
    expect(out.stderr.trim()).toBe(
      'Error from server (Forbidden): policyreports.wgpolicyk8s.io is forbidden: User "bob" cannot list resource "policyreports" in API group "wgpolicyk8s.io" in the namespace "team-a"',
    );
  });

  it("kubectl as an allowed user lists the reports", async () => {
    const out = await kubectl(["get", "policyreports", "-n", "team-a"], { kubeconfig: kubeconfigFor("ann") });
    expect(out.stderr.trim()).toBe("No resources found in team-a namespace.");
    expect(out.code).toBe(0);
  });

  it("a list or watch whose field selector names one object is reviewed for that name (RBAC resourceNames)", async () => {
    const one = `${LIST_TEAM_A}?fieldSelector=${encodeURIComponent("metadata.name=r-cid")}`;
    expect((await call(server, `${one}&watch=true&timeoutSeconds=1`, { token: "cid-token" })).status).toBe(
      200,
    );
    expect((await call(server, one, { token: "cid-token" })).status).toBe(200);
    const sar = standIn.fake.accessReviews.filter((s) => s.user === "cid").at(-1);
    expect(sar?.resourceAttributes).toMatchObject({ verb: "list", name: "r-cid" });

    const other = await call(
      server,
      `${LIST_TEAM_A}?fieldSelector=${encodeURIComponent("metadata.name==r-x")}`,
      {
        token: "cid-token",
      },
    );
    expect(other.status).toBe(403);
    expect(JSON.parse(other.body)).toMatchObject({
      message:
        'policyreports.wgpolicyk8s.io "r-x" is forbidden: User "cid" cannot list resource "policyreports" in API group "wgpolicyk8s.io" in the namespace "team-a"',
      details: { name: "r-x", group: "wgpolicyk8s.io", kind: "policyreports" },
    });
    // a selector that excludes a name, or that does not parse, names nothing
    for (const sel of ["metadata.name!=r-cid", "metadata.name=r-cid,oops"]) {
      const res = await call(server, `${LIST_TEAM_A}?fieldSelector=${encodeURIComponent(sel)}`, {
        token: "cid-token",
      });
      expect(res.status, sel).toBe(403);
    }

    const out = await kubectl(
      ["get", "policyreports", "-n", "team-a", "--field-selector", "metadata.name=r-cid"],
      { kubeconfig: kubeconfigFor("cid") },
    );
    expect(out.stderr.trim()).toBe("No resources found in team-a namespace.");
    expect(out.code).toBe(0);
  });

  it("a label-selected list is reviewed with its selector's requirements (AuthorizeWithSelectors) when the whole list is not allowed", async () => {
    const from = standIn.fake.accessReviews.length;
    const out = await kubectl(["get", "policyreports", "-n", "team-a", "-l", "app in (web,api),!legacy"], {
      kubeconfig: kubeconfigFor("dee"),
    });
    expect(out.code, out.stderr).toBe(0);
    const denied = await kubectl(["get", "policyreports", "-n", "team-a", "-l", "app=db"], {
      kubeconfig: kubeconfigFor("dee"),
    });
    expect(denied.stderr).toContain("Forbidden");
    const lists = standIn.fake.accessReviews.slice(from).filter((s) => s.resourceAttributes?.verb === "list");
    // the whole list everywhere and in team-a first (denied, then cached), then each selection
    expect(lists.map((s) => s.resourceAttributes?.namespace)).toEqual(["", "team-a", "team-a", "team-a"]);
    expect(lists.map((s) => s.resourceAttributes)).toEqual([
      expect.not.objectContaining({ labelSelector: expect.anything() }),
      expect.not.objectContaining({ labelSelector: expect.anything() }),
      expect.objectContaining({
        verb: "list",
        labelSelector: {
          requirements: [
            { key: "app", operator: "In", values: ["api", "web"] },
            { key: "legacy", operator: "DoesNotExist" },
          ],
        },
      }),
      expect.objectContaining({
        labelSelector: { requirements: [{ key: "app", operator: "In", values: ["db"] }] },
      }),
    ]);
  });

  it("members of system:masters are not reviewed", async () => {
    const res = await call(server, LIST_TEAM_A, { token: "root-token" });
    expect(res.status, res.body).toBe(200);
    const metrics = await call(server, "/metrics", { token: "root-token" });
    expect(metrics.status).toBe(200);
    expect(standIn.fake.accessReviews.filter((s) => s.user === "root")).toEqual([]);
  });

  it("/healthz, /readyz and /livez answer without credentials and without a review", async () => {
    const from = standIn.fake.accessReviews.length;
    for (const path of ["/healthz", "/readyz", "/livez"]) {
      const res = await call(server, path);
      expect(res.status, path).toBe(200);
      expect(res.body).toBe("ok");
    }
    expect(standIn.fake.accessReviews.length).toBe(from);
  });

  it("a review that cannot be made is an error, never an allow, and is not cached", async () => {
    standIn.fake.tokens.set("gus-token", { name: "gus", groups: ["team-a"] });
    standIn.fake.failRequest = (_m, path) => (path.endsWith("/subjectaccessreviews") ? 503 : undefined);
    try {
      const res = await call(server, LIST_TEAM_A, { token: "gus-token" });
      // responsewriters.InternalError's words, in plain text as kube-apiserver writes them
      expect(res.status).toBe(500);
      expect(res.headers["content-type"]).toBe("text/plain; charset=utf-8");
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.body).toMatch(
        new RegExp(`^Internal Server Error: "${LIST_TEAM_A.replace(/[?]/g, "\\?")}": .*503.*\n$`),
      );
    } finally {
      standIn.fake.failRequest = () => undefined;
    }
    expect((await call(server, LIST_TEAM_A, { token: "gus-token" })).status).toBe(200);
  });

  it("/metrics needs an authorized user; without credentials that is system:anonymous", async () => {
    standIn.fake.authorize = (spec) => ({ allowed: spec.user !== "system:anonymous" });
    const anonymous = await call(server, "/metrics");
    expect(anonymous.status).toBe(403);
    expect(anonymous.json<{ message: string }>().message).toBe(
      'forbidden: User "system:anonymous" cannot get path "/metrics"',
    );
    const res = await call(server, "/metrics", { token: "ann-token" });
    expect(res.status).toBe(200);
    expect(res.body).toContain("# TYPE");
    expect(standIn.fake.accessReviews.filter((s) => s.user === "ann").at(-1)).toMatchObject({
      nonResourceAttributes: { path: "/metrics", verb: "get" },
    });

    standIn.fake.authorize = (spec) => ({ allowed: spec.user !== "bob" });
    const denied = await call(server, "/metrics", { token: "bob-token" });
    expect(denied.status).toBe(403);
    expect(denied.json<{ message: string }>().message).toBe(
      'forbidden: User "bob" cannot get path "/metrics"',
    );
  });
});

describe("cluster mode: --authorization-always-allow-paths", () => {
  const fx = useClusterServer(
    (standIn) => {
      // RBAC that allows the anonymous user nothing
      standIn.fake.authorize = (spec) => ({ allowed: spec.user !== "system:anonymous" });
    },
    ["--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics,/apis*"],
  );

  it("lets anyone, even without credentials, call the paths it lists: a tokenless scrape of /metrics", async () => {
    const metrics = await call(fx.server(), "/metrics");
    expect(metrics.status, metrics.body).toBe(200);
    expect(metrics.body).toContain("# TYPE");
    expect((await call(fx.server(), "/apis")).status).toBe(200);
  });

  it("never applies to resource requests, whatever it lists (a path authorizer has no opinion on them)", async () => {
    const before = fx.standIn().fake.accessReviews.length;
    const res = await call(fx.server(), LIST_TEAM_A);
    expect(res.status, res.body).toBe(403);
    // the list everywhere, then in team-a: both reviewed, neither skipped by the path list
    expect(fx.standIn().fake.accessReviews.slice(before)).toEqual([
      expect.objectContaining({
        user: "system:anonymous",
        resourceAttributes: expect.objectContaining({ namespace: "" }),
      }),
      expect.objectContaining({
        user: "system:anonymous",
        resourceAttributes: expect.objectContaining({ namespace: "team-a" }),
      }),
    ]);
  });
});
