import { beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { kubectl } from "../../support/kubectl.js";
import type { SarSpec } from "../../support/fake-kube-apiserver.js";
import {
  call,
  useClusterServer,
  writeKubeconfig,
  type CallResult,
  type ClusterServer,
  type StandIn,
} from "./support.js";

const LIST_TEAM_A = "/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports";

/** What ops may impersonate, as RBAC's `impersonate` rules would say it. */
function mayImpersonate(spec: SarSpec): boolean {
  const ra = spec.resourceAttributes ?? {};
  const what = `${ra.group}/${ra.resource}/${ra.subresource ?? ""}/${ra.namespace ?? ""}/${ra.name}`;
  return [
    "/users///alice",
    "/groups///team-a",
    "authentication.k8s.io/userextras/scopes//view",
    "authentication.k8s.io/uids///u-alice",
    "/serviceaccounts//team-a/reporter",
  ].includes(what);
}

describe("cluster mode: impersonation (Impersonate-* headers, as kube-apiserver's WithImpersonation)", () => {
  let standIn: StandIn;
  let server: ClusterServer;
  // every request reviewed afresh, so each test sees all of its reviews
  const noCache = [
    "--authorization-webhook-cache-authorized-ttl=0s",
    "--authorization-webhook-cache-unauthorized-ttl=0s",
  ];
  const fx = useClusterServer((s) => {
    standIn = s;
    standIn.fake.tokens.set("ops-token", { name: "ops", groups: ["ops"] });
    standIn.fake.tokens.set("bob-token", { name: "bob", groups: ["team-b"] });
    standIn.fake.authorize = (spec) => {
      if (spec.nonResourceAttributes) return { allowed: true };
      if (spec.resourceAttributes?.verb === "impersonate") {
        return { allowed: spec.user === "ops" && mayImpersonate(spec) };
      }
      // alice and the reporter service account may list reports in team-a; ops itself may not
      const reader = spec.user === "alice" || spec.user === "system:serviceaccount:team-a:reporter";
      return { allowed: reader && spec.resourceAttributes?.namespace === "team-a" };
    };
  }, noCache);
  beforeAll(() => {
    server = fx.server();
  });
  const reviewsOf = async (run: () => Promise<CallResult>, status: number) => {
    const from = standIn.fake.accessReviews.length;
    const res = await run();
    expect(res.status, res.body).toBe(status);
    return { res, sars: standIn.fake.accessReviews.slice(from) };
  };
  const kubeconfigFor = (user: string) =>
    writeKubeconfig(join(standIn.dir, `${user}.kubeconfig`), {
      server: server.url,
      ca: server.ca,
      token: `${user}-token`,
    });
  const list = { verb: "list", group: "wgpolicyk8s.io", version: "v1alpha2", resource: "policyreports" };

  it("lets a user list as the user it may impersonate; the list is reviewed for the impersonated user", async () => {
    const { sars } = await reviewsOf(
      () => call(server, LIST_TEAM_A, { token: "ops-token", headers: { "Impersonate-User": "alice" } }),
      200,
    );
    expect(sars).toEqual([
      {
        user: "ops",
        groups: ["ops", "system:authenticated"],
        resourceAttributes: expect.objectContaining({
          verb: "impersonate",
          group: "",
          resource: "users",
          name: "alice",
        }),
      },
      // the list as alice: every namespace first (refused), then team-a
      {
        user: "alice",
        groups: ["system:authenticated"],
        resourceAttributes: expect.objectContaining({ ...list, namespace: "" }),
      },
      {
        user: "alice",
        groups: ["system:authenticated"],
        resourceAttributes: expect.objectContaining({ ...list, namespace: "team-a" }),
      },
    ]);

    const out = await kubectl(["get", "policyreports", "-n", "team-a", "--as", "alice"], {
      kubeconfig: kubeconfigFor("ops"),
    });
    expect(out.stderr.trim()).toBe("No resources found in team-a namespace.");
    expect(out.code).toBe(0);
  });

  it("checks each group, extra and UID asked for, and the request goes on with all of them", async () => {
    const headers = {
      "Impersonate-User": "alice",
      "Impersonate-Group": "team-a",
      "Impersonate-Extra-Scopes": "view",
      "Impersonate-Uid": "u-alice",
    };
    const { sars } = await reviewsOf(() => call(server, LIST_TEAM_A, { token: "ops-token", headers }), 200);
    expect(sars.map((s) => s.resourceAttributes)).toEqual([
      expect.objectContaining({ verb: "impersonate", group: "", resource: "users", name: "alice" }),
      expect.objectContaining({ verb: "impersonate", group: "", resource: "groups", name: "team-a" }),
      expect.objectContaining({
        verb: "impersonate",
        group: "authentication.k8s.io",
        version: "v1",
        resource: "userextras",
        subresource: "scopes",
        name: "view",
      }),
      expect.objectContaining({
        verb: "impersonate",
        group: "authentication.k8s.io",
        version: "v1",
        resource: "uids",
        name: "u-alice",
      }),
      expect.objectContaining({ ...list, namespace: "" }),
      expect.objectContaining({ ...list, namespace: "team-a" }),
    ]);
    expect(sars.at(-1)).toMatchObject({
      user: "alice",
      uid: "u-alice",
      groups: ["team-a", "system:authenticated"],
      extra: { scopes: ["view"] },
    });
  });

  it("impersonates a service account by namespace and name, with its groups", async () => {
    const { sars } = await reviewsOf(
      () =>
        call(server, LIST_TEAM_A, {
          token: "ops-token",
          headers: { "Impersonate-User": "system:serviceaccount:team-a:reporter" },
        }),
      200,
    );
    expect(sars[0]?.resourceAttributes).toMatchObject({
      verb: "impersonate",
      resource: "serviceaccounts",
      namespace: "team-a",
      name: "reporter",
    });
    expect(sars[1]).toMatchObject({
      user: "system:serviceaccount:team-a:reporter",
      groups: ["system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"],
    });
  });

  it("refuses an impersonation the user may not make with kube-apiserver's 403, before the request is reviewed", async () => {
    const { res, sars } = await reviewsOf(
      () => call(server, LIST_TEAM_A, { token: "bob-token", headers: { "Impersonate-User": "alice" } }),
      403,
    );
    expect(res.json()).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message:
        'users "alice" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope',
      reason: "Forbidden",
      details: { name: "alice", kind: "users" },
      code: 403,
    });
    expect(sars.map((s) => s.resourceAttributes?.verb)).toEqual(["impersonate"]);

    // a later thing asked for that is refused names itself
    const extra = await call(server, LIST_TEAM_A, {
      token: "ops-token",
      headers: { "Impersonate-User": "alice", "Impersonate-Extra-Scopes": "admin" },
    });
    expect(extra.status).toBe(403);
    expect(extra.json<{ message: string }>().message).toBe(
      'userextras.authentication.k8s.io "admin" is forbidden: User "ops" cannot impersonate resource "userextras/scopes" in API group "authentication.k8s.io" at the cluster scope',
    );

    // a review that cannot be made refuses the impersonation (403), where it fails a request (500)
    standIn.fake.failRequest = (_m, path) => (path.endsWith("/subjectaccessreviews") ? 400 : undefined);
    try {
      const failed = await call(server, LIST_TEAM_A, {
        token: "ops-token",
        headers: { "Impersonate-User": "alice" },
      });
      expect(failed.status).toBe(403);
      expect(failed.json<{ message: string }>().message).toBe(
        'users "alice" is forbidden: User "ops" cannot impersonate resource "users" in API group "" at the cluster scope',
      );
    } finally {
      standIn.fake.failRequest = () => undefined;
    }

    // kubectl's discovery cannot decode the Status of a refused discovery request and prints
    // "unknown", as it does against kube-apiserver; it fails all the same
    const out = await kubectl(["get", "policyreports", "-n", "team-a", "--as", "alice"], {
      kubeconfig: kubeconfigFor("bob"),
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("Error from server (Forbidden)");
  });

  it("answers 400 to groups, extras or a UID asked for without a user, in kube-apiserver's words", async () => {
    const { res, sars } = await reviewsOf(
      () => call(server, LIST_TEAM_A, { token: "ops-token", headers: { "Impersonate-Group": "team-a" } }),
      400,
    );
    expect(res.json()).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "requested [{Group  team-a    }] without impersonating a user",
      reason: "BadRequest",
      code: 400,
    });
    expect(sars).toEqual([]);
  });
});
