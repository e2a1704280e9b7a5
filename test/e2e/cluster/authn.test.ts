import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { kubectl } from "../../support/kubectl.js";
import type { SarSpec } from "../../support/fake-kube-apiserver.js";
import { call, useClusterServer, writeKubeconfig, type ClusterServer, type StandIn } from "./support.js";

const LIST_TEAM_A = "/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports";

describe("cluster mode: who a request is (the real server behind the kube-apiserver stand-in)", () => {
  let standIn: StandIn;
  let server: ClusterServer;
  const fx = useClusterServer((s) => {
    standIn = s;
    const { fake } = standIn;
    fake.tokens.set("dave-token", { name: "dave", uid: "u-dave", groups: ["team-a"] });
    fake.tokens.set("erin-token", { name: "erin", groups: ["team-a"] });
    fake.tokens.set("frank-token", { name: "frank", groups: ["team-a"] });
    // everyone is bound per namespace (RoleBindings): a review of every namespace is refused
    fake.authorize = (spec) => ({ allowed: spec.resourceAttributes?.namespace !== "" });
  });
  beforeAll(() => {
    server = fx.server();
  });

  /** The SubjectAccessReviews made since `from`, for resource requests by `user`. */
  const reviewsOf = (user: string, from = 0): SarSpec[] =>
    standIn.fake.accessReviews.slice(from).filter((s) => s.user === user);

  describe("front proxy (the aggregation layer)", () => {
    it("a proxy certificate from the requestheader CA makes the request the user in X-Remote-User", async () => {
      const { pki } = standIn;
      const res = await call(server, LIST_TEAM_A, {
        cert: pki.proxyClient,
        headers: { "X-Remote-User": "carol", "X-Remote-Group": ["team-a", "auditors"] },
      });
      expect(res.status, res.body).toBe(200);
      expect(res.json<{ kind: string }>().kind).toBe("PolicyReportList");
      const sar = reviewsOf("carol").at(-1)!;
      expect(sar.groups).toEqual(["team-a", "auditors", "system:authenticated"]);
      expect(sar.resourceAttributes).toMatchObject({
        verb: "list",
        group: "wgpolicyk8s.io",
        resource: "policyreports",
        namespace: "team-a",
      });
    });

    it("keeps each X-Remote-Group apart, as Go's http.Header does, even one with a comma", async () => {
      const res = await call(server, LIST_TEAM_A, {
        cert: standIn.pki.proxyClient,
        headers: { "X-Remote-User": "cora", "X-Remote-Group": ["cn=admins, ou=people", "team-a"] },
      });
      expect(res.status, res.body).toBe(200);
      expect(reviewsOf("cora")[0].groups).toEqual(["cn=admins, ou=people", "team-a", "system:authenticated"]);
    });

    it("carries X-Remote-Extra-* into the review as extras", async () => {
      const res = await call(server, LIST_TEAM_A, {
        cert: standIn.pki.proxyClient,
        headers: { "X-Remote-User": "carla", "X-Remote-Extra-Scopes": "view" },
      });
      expect(res.status, res.body).toBe(200);
      expect(reviewsOf("carla")[0].extra).toEqual({ scopes: ["view"] });
    });

    it("a proxy certificate from another CA is refused with 401, headers or not", async () => {
      const before = standIn.fake.accessReviews.length;
      const res = await call(server, LIST_TEAM_A, {
        cert: standIn.pki.proxyClientWrongCa,
        headers: { "X-Remote-User": "system:admin", "X-Remote-Group": "system:masters" },
      });
      expect(res.status).toBe(401);
      expect(res.json()).toMatchObject({ kind: "Status", reason: "Unauthorized", code: 401 });
      expect(standIn.fake.accessReviews.length).toBe(before);
    });

    it("a proxy certificate without X-Remote-User names nobody: 401", async () => {
      const res = await call(server, LIST_TEAM_A, {
        cert: standIn.pki.proxyClient,
        headers: { "X-Remote-Group": "system:masters" },
      });
      expect(res.status).toBe(401);
    });

    it("a certificate from the requestheader CA whose CN is not an allowed name is refused with 401", async () => {
      const res = await call(server, LIST_TEAM_A, {
        cert: standIn.pki.proxyClientWrongCn,
        headers: { "X-Remote-User": "system:admin", "X-Remote-Group": "system:masters" },
      });
      expect(res.status).toBe(401);
      expect(reviewsOf("system:admin")).toEqual([]);
    });

    it("identity headers on a bearer-token request are ignored: the review sees the token's user", async () => {
      const from = standIn.fake.accessReviews.length;
      const res = await call(server, LIST_TEAM_A, {
        token: "dave-token",
        headers: { "X-Remote-User": "system:admin", "X-Remote-Group": "system:masters" },
      });
      expect(res.status, res.body).toBe(200);
      const sars = standIn.fake.accessReviews.slice(from);
      // every namespace first (refused), then team-a: both for dave
      expect(sars.map((s) => s.user)).toEqual(["dave", "dave"]);
      for (const sar of sars) {
        expect(sar.groups).toEqual(["team-a", "system:authenticated"]);
        expect(sar.uid).toBe("u-dave");
      }
    });
  });

  describe("client certificates", () => {
    it("a certificate chaining to the client CA is its CN, with its O as groups", async () => {
      const res = await call(server, LIST_TEAM_A, { cert: standIn.pki.userCert });
      expect(res.status, res.body).toBe(200);
      const [sar] = reviewsOf("alice");
      expect(sar.groups).toEqual(["team-a", "developers", "system:authenticated"]);
    });

    it("identity headers next to a user's client certificate are ignored", async () => {
      const from = standIn.fake.accessReviews.length;
      // Another namespace: a review of its own, not the cached decision of the test above.
      const res = await call(server, "/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-c/policyreports", {
        cert: standIn.pki.userCert,
        headers: { "X-Remote-User": "system:admin", "X-Remote-Group": "system:masters" },
      });
      expect(res.status, res.body).toBe(200);
      const who = standIn.fake.accessReviews.slice(from).map((s) => [s.user, s.groups]);
      expect(who).toContainEqual(["alice", ["team-a", "developers", "system:authenticated"]]);
      expect(new Set(who.map(([user]) => user))).toEqual(new Set(["alice"]));
    });

    it("kubectl with a client-certificate kubeconfig lists reports", async () => {
      const kc = writeKubeconfig(join(standIn.dir, "alice.kubeconfig"), {
        server: server.url,
        ca: server.ca,
        cert: standIn.pki.userCert,
      });
      const list = await kubectl(["get", "policyreports", "-n", "team-a"], { kubeconfig: kc });
      expect(list.stderr.trim()).toBe("No resources found in team-a namespace.");
      expect(list.code).toBe(0);
    });

    it("a certificate from a CA the server does not trust is 401", async () => {
      const stranger = await standIn.pki.wrongCa.issue({ cn: "mallory", organizations: ["system:masters"] });
      const res = await call(server, LIST_TEAM_A, { cert: stranger });
      expect(res.status).toBe(401);
      expect(reviewsOf("mallory")).toEqual([]);
    });
  });

  describe("bearer tokens (TokenReview)", () => {
    it("a token the cluster knows works, and its review is cached", async () => {
      const { fake } = standIn;
      const reviewed = () => fake.tokenReviews.filter((t) => t === "erin-token").length;
      for (let i = 0; i < 3; i++) {
        const res = await call(server, LIST_TEAM_A, { token: "erin-token" });
        expect(res.status, res.body).toBe(200);
      }
      expect(reviewed()).toBe(1);
    });

    it("kubectl with a good token lists; with a bad token it says the user must log in", async () => {
      // One discovery cache for both users, as on a workstation whose token expired: with discovery
      // cached, the list itself meets the 401 and kubectl prints the Status message.
      const cacheDir = mkdtempSync(join(standIn.dir, "kubectl-cache-"));
      const good = writeKubeconfig(join(standIn.dir, "frank.kubeconfig"), {
        server: server.url,
        ca: server.ca,
        token: "frank-token",
      });
      const ok = await kubectl(["get", "policyreports", "-n", "team-a", "--cache-dir", cacheDir], {
        kubeconfig: good,
      });
      expect(ok.stderr.trim()).toBe("No resources found in team-a namespace.");
      expect(ok.code).toBe(0);

      const bad = writeKubeconfig(join(standIn.dir, "bad.kubeconfig"), {
        server: server.url,
        ca: server.ca,
        token: "not-a-token",
      });
      const warm = await kubectl(["get", "policyreports", "-n", "team-a", "--cache-dir", cacheDir], {
        kubeconfig: bad,
      });
      expect(warm.code).toBe(1);
      expect(warm.stderr.trim()).toBe("error: You must be logged in to the server (Unauthorized)");
      expect(standIn.fake.tokenReviews).toContain("not-a-token");

      // A cold cache fails in discovery, where client-go reads the raw body and prints its own text.
      const cold = await kubectl(["get", "policyreports", "-n", "team-a"], { kubeconfig: bad });
      expect(cold.code).toBe(1);
      expect(cold.stderr).toContain(
        "error: You must be logged in to the server (the server has asked for the client to provide credentials)",
      );
    });

    it("no credentials at all is system:anonymous, and authorization decides (delegated authentication)", async () => {
      const from = standIn.fake.accessReviews.length;
      const allowed = await call(server, LIST_TEAM_A);
      expect(allowed.status, allowed.body).toBe(200);
      const reviews = standIn.fake.accessReviews.slice(from);
      expect(reviews).toContainEqual(
        expect.objectContaining({ user: "system:anonymous", groups: ["system:unauthenticated"] }),
      );
      expect(new Set(reviews.map((r) => r.user))).toEqual(new Set(["system:anonymous"]));

      const before = standIn.fake.authorize;
      standIn.fake.authorize = (spec) => ({ allowed: spec.user !== "system:anonymous" });
      try {
        // another namespace: the allowed list above is cached for 10 s
        const denied = await call(server, LIST_TEAM_A.replace("team-a", "team-z"));
        expect(denied.status).toBe(403);
        expect(denied.json()).toMatchObject({
          reason: "Forbidden",
          message:
            'policyreports.wgpolicyk8s.io is forbidden: User "system:anonymous" cannot list resource "policyreports" in API group "wgpolicyk8s.io" in the namespace "team-z"',
        });
        // the probes' paths are always allowed; a single check is not
        expect((await call(server, "/readyz")).status).toBe(200);
        expect((await call(server, "/livez")).status).toBe(200);
        const check = await call(server, "/readyz/storage");
        expect(check.status).toBe(403);
        expect(check.json<{ message: string }>().message).toBe(
          'forbidden: User "system:anonymous" cannot get path "/readyz/storage"',
        );
      } finally {
        standIn.fake.authorize = before;
      }
    });
  });
});

describe("cluster mode without read access to the authentication ConfigMap", () => {
  let standIn: StandIn;
  const fx = useClusterServer(
    (s) => {
      standIn = s;
      s.fake.tokens.set("gail-token", { name: "gail", groups: ["team-a"] });
      s.fake.authorize = () => ({ allowed: true });
      // the extension-apiserver-authentication-reader RoleBinding is missing
      s.fake.failRequest = (_m, path) => (path.includes("/configmaps") ? 403 : undefined);
    },
    ["--authentication-tolerate-lookup-failure"],
  );

  it("starts with --authentication-tolerate-lookup-failure and authenticates bearer tokens", async () => {
    const server = fx.server();
    const res = await call(server, LIST_TEAM_A, { token: "gail-token" });
    expect(res.status, res.body).toBe(200);
    expect(server.logs()).toContain("authentication ConfigMap not readable; continuing with flags only");
    expect(standIn.fake.accessReviews.at(-1)?.user).toBe("gail");
  });
});
