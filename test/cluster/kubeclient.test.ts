import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { KubeApiError, KubeClient } from "../../src/cluster/kubeclient.js";
import { inClusterNamespace, loadKubeconfig, resolveConnection } from "../../src/cluster/kubeconfig.js";
import { makeTestPki, type TestPki } from "../support/certs.js";
import { FakeKubeApiServer } from "../support/fake-kube-apiserver.js";

describe("kube-apiserver client", () => {
  let pki: TestPki;
  let fake: FakeKubeApiServer;
  let dir: string;

  beforeAll(async () => {
    pki = await makeTestPki();
    fake = await new FakeKubeApiServer({ serving: pki.serving, clientToken: "sa-token" }).start();
    dir = mkdtempSync(join(tmpdir(), "kubeclient-"));
  });
  afterAll(async () => {
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown>): string {
    const path = join(dir, `config-${Math.random().toString(36).slice(2)}`);
    writeFileSync(
      path,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        "current-context": "test",
        contexts: [
          { name: "other", context: { cluster: "nowhere", user: "nobody" } },
          { name: "test", context: { cluster: "fake", user: "me" } },
        ],
        clusters: [{ name: "fake", cluster: { server: fake.url, ...cluster } }],
        users: [{ name: "me", user }],
      }),
    );
    return path;
  }

  it("uses the current context of a kubeconfig: server, CA data, token", async () => {
    const path = kubeconfig(
      { token: "sa-token" },
      { "certificate-authority-data": Buffer.from(pki.servingCa.cert).toString("base64") },
    );
    const client = new KubeClient(loadKubeconfig(path));
    try {
      const cm = await client.create<{ metadata: { resourceVersion: string } }>(
        "/api/v1/namespaces/default/configmaps",
        {
          metadata: { name: "x" },
          data: { a: "1" },
        },
      );
      expect(cm.metadata.resourceVersion).toMatch(/^\d+$/);
      expect(
        await client.patch("/api/v1/namespaces/default/configmaps/x", { data: { b: "2" } }),
      ).toMatchObject({ data: { a: "1", b: "2" } });
    } finally {
      client.close();
    }
  });

  it("resolves relative certificate files and reads client certificates", () => {
    writeFileSync(join(dir, "ca.crt"), pki.servingCa.cert);
    writeFileSync(join(dir, "me.crt"), pki.userCert.cert);
    writeFileSync(join(dir, "me.key"), pki.userCert.key);
    const conn = loadKubeconfig(
      kubeconfig(
        { "client-certificate": "me.crt", "client-key": "me.key" },
        { "certificate-authority": "ca.crt" },
      ),
    );
    expect(conn).toEqual({
      server: fake.url,
      ca: pki.servingCa.cert,
      cert: pki.userCert.cert,
      key: pki.userCert.key,
    });
    expect(() => loadKubeconfig(kubeconfig({ exec: { command: "aws" } }, {}))).toThrow(/exec/);
  });

  it("falls back to the pod's service account, and to nothing outside a pod", async () => {
    const sa = join(dir, "sa");
    mkdirSync(sa);
    writeFileSync(join(sa, "token"), "sa-token\n");
    writeFileSync(join(sa, "ca.crt"), pki.servingCa.cert);
    writeFileSync(join(sa, "namespace"), "kyverno");
    const port = new URL(fake.url).port;
    const conn = resolveConnection(
      "",
      { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: port },
      sa,
    );
    expect(conn).toEqual({ server: fake.url, tokenFile: join(sa, "token"), ca: pki.servingCa.cert });
    expect(inClusterNamespace(sa)).toBe("kyverno");
    const client = new KubeClient(conn!);
    try {
      expect(await client.list("/apis/coordination.k8s.io/v1/namespaces/kyverno/leases")).toMatchObject({
        kind: "LeaseList",
        items: [],
      });
    } finally {
      client.close();
    }
    expect(resolveConnection(undefined, {}, sa)).toBeUndefined();
    expect(
      resolveConnection(
        undefined,
        { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" },
        join(dir, "none"),
      ),
    ).toBeUndefined();
  });

  it("turns Status responses into errors carrying code, reason and message", async () => {
    const client = new KubeClient({ server: fake.url, ca: pki.servingCa.cert, token: "sa-token" });
    const noToken = new KubeClient({ server: fake.url, ca: pki.servingCa.cert });
    try {
      const err = await client.get("/api/v1/namespaces/default/configmaps/missing").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubeApiError);
      expect(err).toMatchObject({ code: 404, reason: "NotFound", message: 'configmaps "missing" not found' });
      expect(
        await noToken.get("/api/v1/namespaces/default/configmaps/x").catch((e: unknown) => e),
      ).toMatchObject({ code: 401, reason: "Unauthorized" });
    } finally {
      client.close();
      noToken.close();
    }
  });

  it("refuses a server whose certificate the CA did not sign, and gives up on a silent server", async () => {
    const wrong = new KubeClient({ server: fake.url, ca: pki.clientCa.cert, token: "sa-token" });
    expect(await wrong.get("/api/v1/namespaces/default/configmaps/x").catch((e: unknown) => e)).toMatchObject(
      { code: 0, reason: "ConnectionError" },
    );
    wrong.close();

    const silent = createServer({ cert: pki.serving.cert, key: pki.serving.key }, () => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const client = new KubeClient(
      { server: `https://127.0.0.1:${(silent.address() as AddressInfo).port}`, ca: pki.servingCa.cert },
      { timeoutMs: 200 },
    );
    try {
      expect(await client.get("/api/v1/namespaces").catch((e: unknown) => e)).toMatchObject({
        code: 0,
        reason: "Timeout",
      });
    } finally {
      client.close();
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  });
});
