import { describe, it, expect, beforeAll, afterAll, beforeEach } from "vitest";
import {
  AUTOMANAGED_LABEL,
  createAPIServiceReconciler,
  type APIService,
  type APIServiceReconcilerConfig,
} from "../../src/cluster/apiservice.js";
import { KubeClient } from "../../src/cluster/kubeclient.js";
import { makeTestPki, type TestPki } from "../support/certs.js";
import { APISERVICES, FakeKubeApiServer } from "../support/fake-kube-apiserver.js";

const groupVersions = [
  { group: "wgpolicyk8s.io", version: "v1alpha2" },
  { group: "reports.kyverno.io", version: "v1" },
  { group: "openreports.io", version: "v1alpha1" },
];
const service = { namespace: "kyverno", name: "reports-server", port: 443 };

describe("APIService reconciliation", () => {
  let pki: TestPki;
  let fake: FakeKubeApiServer;
  let client: KubeClient;
  let ca: string;

  beforeAll(async () => {
    pki = await makeTestPki();
    fake = await new FakeKubeApiServer({ serving: pki.serving }).start();
    client = new KubeClient(fake.connection(pki.servingCa.cert));
  });
  afterAll(async () => {
    client.close();
    await fake.stop();
  });
  beforeEach(() => {
    for (const a of fake.listObjects(APISERVICES)) fake.deleteObject(APISERVICES, "", a.metadata.name!);
    fake.failRequest = () => undefined;
    ca = pki.servingCa.cert;
  });

  const reconciler = (over: Partial<APIServiceReconcilerConfig> = {}) =>
    createAPIServiceReconciler({
      client,
      groupVersions,
      service,
      caBundle: () => ca,
      resyncMs: 60_000,
      ...over,
    });
  const get = (name: string) => fake.getObject(APISERVICES, "", name) as APIService | undefined;

  it("creates one APIService per group-version, trusting the serving CA", async () => {
    const r = reconciler();
    expect(await r.reconcileAll()).toEqual({
      "v1alpha2.wgpolicyk8s.io": "created",
      "v1.reports.kyverno.io": "created",
      "v1alpha1.openreports.io": "created",
    });
    const a = get("v1alpha2.wgpolicyk8s.io")!;
    expect(a.metadata.labels).toEqual({ [AUTOMANAGED_LABEL]: "false" });
    expect(a.spec).toEqual({
      group: "wgpolicyk8s.io",
      version: "v1alpha2",
      service,
      groupPriorityMinimum: 1000,
      versionPriority: 100,
      caBundle: Buffer.from(pki.servingCa.cert).toString("base64"),
    });
    expect(await r.reconcileAll()).toEqual({
      "v1alpha2.wgpolicyk8s.io": "unchanged",
      "v1.reports.kyverno.io": "unchanged",
      "v1alpha1.openreports.io": "unchanged",
    });
  });

  it("skips TLS verification only when asked", async () => {
    await reconciler({ insecureSkipTLSVerify: true }).reconcile(groupVersions[0]);
    const spec = get("v1alpha2.wgpolicyk8s.io")!.spec!;
    expect(spec.insecureSkipTLSVerify).toBe(true);
    expect(spec.caBundle).toBeUndefined();
  });

  it("puts back an APIService someone changed, keeping their annotations, and never deletes", async () => {
    const r = reconciler();
    await r.reconcileAll();
    r.start();
    try {
      const name = "v1.reports.kyverno.io";
      const tampered = get(name)!;
      tampered.metadata.labels = {};
      tampered.metadata.annotations = { "example.com/owner": "ops" };
      tampered.spec = {
        ...tampered.spec,
        service: { namespace: "kyverno", name: "kyverno-reports-controller", port: 443 },
        caBundle: undefined,
        insecureSkipTLSVerify: true,
      };
      await client.update(`/apis/apiregistration.k8s.io/v1/apiservices/${name}`, tampered);
      await expect.poll(() => get(name)?.spec?.service?.name, { timeout: 5_000 }).toBe("reports-server");
      const fixed = get(name)!;
      expect(fixed.spec?.insecureSkipTLSVerify).toBeUndefined();
      expect(fixed.spec?.caBundle).toBe(Buffer.from(ca).toString("base64"));
      expect(fixed.metadata.labels).toEqual({ [AUTOMANAGED_LABEL]: "false" });
      expect(fixed.metadata.annotations).toEqual({ "example.com/owner": "ops" });

      // deleted by someone: created again
      fake.deleteObject(APISERVICES, "", "v1alpha1.openreports.io");
      await expect
        .poll(() => get("v1alpha1.openreports.io")?.spec?.service?.name, { timeout: 5_000 })
        .toBe("reports-server");
    } finally {
      r.stop();
    }
    expect(
      fake
        .listObjects(APISERVICES)
        .map((a) => a.metadata.name)
        .sort(),
    ).toEqual(["v1.reports.kyverno.io", "v1alpha1.openreports.io", "v1alpha2.wgpolicyk8s.io"]);
  });

  it("retries when someone else writes between its read and its write (409 Conflict)", async () => {
    const r = reconciler();
    await r.reconcileAll();
    ca = pki.requestHeaderCa.cert; // the serving CA rotated
    let raced = false;
    fake.failRequest = (method, path) => {
      if (method === "PUT" && path.endsWith("/v1alpha2.wgpolicyk8s.io") && !raced) {
        raced = true;
        const other = get("v1alpha2.wgpolicyk8s.io")!;
        fake.putObject(APISERVICES, {
          ...other,
          metadata: { ...other.metadata, annotations: { touched: "yes" } },
        });
      }
      return undefined;
    };
    expect(await r.reconcile(groupVersions[0])).toBe("updated");
    expect(raced).toBe(true);
    const conflicts = fake.requests.filter((q) =>
      q.startsWith("PUT /apis/apiregistration.k8s.io/v1/apiservices/v1alpha2"),
    );
    expect(conflicts.length).toBeGreaterThanOrEqual(2);
    const a = get("v1alpha2.wgpolicyk8s.io")!;
    expect(a.spec?.caBundle).toBe(Buffer.from(pki.requestHeaderCa.cert).toString("base64"));
    expect(a.metadata.annotations).toEqual({ touched: "yes" });
  });
});
