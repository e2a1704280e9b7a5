import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { forbiddenError } from "../../src/cluster/authz.js";
import { setupCluster } from "../../src/cluster/setup.js";
import { makeTestPki, type TestPki } from "../support/certs.js";
import { CONFIGMAPS, FakeKubeApiServer } from "../support/fake-kube-apiserver.js";

describe("cluster setup from a kubeconfig", () => {
  let pki: TestPki;
  let fake: FakeKubeApiServer;
  let dir: string;

  beforeAll(async () => {
    pki = await makeTestPki();
    fake = await new FakeKubeApiServer({ serving: pki.serving, clientToken: "sa" }).start();
    dir = mkdtempSync(join(tmpdir(), "setup-"));
    fake.putObject(CONFIGMAPS, {
      metadata: { name: "extension-apiserver-authentication", namespace: "kube-system" },
      data: {
        "requestheader-client-ca-file": pki.requestHeaderCa.cert,
        "requestheader-allowed-names": '["front-proxy-client"]',
      },
    });
    fake.authorize = (spec) => ({ allowed: spec.groups?.includes("team-a") === true });
  });
  afterAll(async () => {
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("authenticates the aggregator's requests and authorizes them by SubjectAccessReview", async () => {
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(
      kubeconfig,
      stringify({
        "current-context": "c",
        contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
        clusters: [
          {
            name: "k",
            cluster: {
              server: fake.url,
              "certificate-authority-data": Buffer.from(pki.servingCa.cert).toString("base64"),
            },
          },
        ],
        users: [{ name: "u", user: { token: "sa" } }],
      }),
    );
    const setup = await setupCluster({ kubeconfig, inClusterEnv: {}, authn: {}, authz: {} });
    expect(setup).toBeDefined();
    try {
      const user = await setup!.authenticator.authenticate({
        headers: { "x-remote-user": "bob", "x-remote-group": "team-b" },
        peerCertificates: [pki.proxyClient.x509],
      });
      const attrs = {
        user,
        verb: "list",
        resourceRequest: true,
        path: "/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports",
        apiGroup: "wgpolicyk8s.io",
        apiVersion: "v1alpha2",
        resource: "policyreports",
        subresource: "",
        namespace: "team-a",
        name: "",
      };
      const decision = await setup!.authorize(attrs);
      expect(decision.allowed).toBe(false);
      expect(forbiddenError(attrs, decision.reason).message).toBe(
        'policyreports.wgpolicyk8s.io is forbidden: User "bob" cannot list resource "policyreports" in API group "wgpolicyk8s.io" in the namespace "team-a"',
      );
      expect(fake.accessReviews.at(-1)?.groups).toEqual(["team-b", "system:authenticated"]);
    } finally {
      setup!.close();
    }
  });

  it("is standalone (undefined) with neither a kubeconfig nor a pod", async () => {
    expect(
      await setupCluster({ inClusterEnv: {}, serviceAccountDir: join(dir, "none"), authn: {}, authz: {} }),
    ).toBeUndefined();
  });
});
