import { describe, it, expect, beforeAll, afterAll } from "vitest";
import type { KubeObject } from "../../src/apimachinery/types.js";
import { servedGroupVersions, type APIService } from "../../src/cluster/apiservice.js";
import { startClusterControllers, type ClusterControllers } from "../../src/cluster/controllers.js";
import { KubeClient } from "../../src/cluster/kubeclient.js";
import type { KindMigration } from "../../src/cluster/migrate.js";
import { loadResources, type ResourceDef } from "../../src/resources/index.js";
import { makeTestPki, type TestPki } from "../support/certs.js";
import { APISERVICES, FakeKubeApiServer, LEASES } from "../support/fake-kube-apiserver.js";

const service = { namespace: "kyverno", name: "reports-server", port: 443 };

describe("the leader's controllers across two replicas", () => {
  let pki: TestPki;
  let fake: FakeKubeApiServer;
  let client: KubeClient;
  const defs = loadResources();
  const polr = defs.find((d) => d.kind === "PolicyReport")!;
  const running: ClusterControllers[] = [];

  beforeAll(async () => {
    pki = await makeTestPki();
    fake = await new FakeKubeApiServer({ serving: pki.serving }).start();
    client = new KubeClient(fake.connection(pki.servingCa.cert));
    const res = {
      group: polr.group,
      version: polr.version,
      resource: polr.plural,
      kind: polr.kind,
      namespaced: true,
    };
    fake.addResource(res);
    fake.putObject(res, { metadata: { name: "pol-1", namespace: "team-a" }, summary: { pass: 1 } });
  });
  afterAll(async () => {
    await Promise.all(running.map((c) => c.stop()));
    client.close();
    await fake.stop();
  });

  it("selects the group-versions to serve", () => {
    expect(servedGroupVersions(defs)).toEqual(
      expect.arrayContaining([
        { group: "wgpolicyk8s.io", version: "v1alpha2" },
        { group: "reports.kyverno.io", version: "v1" },
        { group: "openreports.io", version: "v1alpha1" },
      ]),
    );
    expect(servedGroupVersions(defs)).toHaveLength(3);
    expect(servedGroupVersions(defs, ["openreports.io"])).toEqual([
      { group: "openreports.io", version: "v1alpha1" },
    ]);
  });

  it("only the leader registers; a replica shutting down hands over the lease, never the groups", async () => {
    const store = new Map<string, KubeObject>();
    const reports: KindMigration[][] = [];
    const write = async (def: ResourceDef, obj: KubeObject) => {
      const key = `${def.plural}/${obj.metadata.namespace}/${obj.metadata.name}`;
      if (store.has(key)) return "exists" as const;
      store.set(key, obj);
      return "created" as const;
    };
    const replica = (identity: string) => {
      const c = startClusterControllers({
        client,
        namespace: "kyverno",
        identity,
        service,
        groupVersions: servedGroupVersions(defs),
        caBundle: () => pki.servingCa.cert,
        migration: { defs, write, onReport: (r) => reports.push(r) },
        // long enough that a stall of the test process does not hand the lease to b early
        leaseDurationMs: 3_000,
        renewDeadlineMs: 2_500,
        retryPeriodMs: 200,
      });
      running.push(c);
      return c;
    };
    const a = replica("replica-a");
    await expect.poll(() => a.isLeader()).toBe(true);
    const b = replica("replica-b");
    await expect.poll(() => fake.listObjects(APISERVICES).length, { timeout: 5_000 }).toBe(3);
    expect(b.isLeader()).toBe(false);
    expect(store.has("policyreports/team-a/pol-1")).toBe(true);
    expect(reports.flat().find((r) => r.kind === "PolicyReport")).toMatchObject({ listed: 1, created: 1 });

    await a.stop();
    // The groups stay with the server while b takes over.
    expect(fake.listObjects(APISERVICES).map((x) => (x as APIService).spec?.service?.name)).toEqual([
      "reports-server",
      "reports-server",
      "reports-server",
    ]);
    await expect.poll(() => b.isLeader(), { timeout: 3_000 }).toBe(true);
    expect(fake.getObject(LEASES, "kyverno", "reports-server")?.spec).toMatchObject({
      holderIdentity: "replica-b",
    });

    // The new leader keeps the APIServices as they should be.
    const x = fake.getObject(APISERVICES, "", "v1.reports.kyverno.io") as APIService;
    fake.putObject(APISERVICES, { ...x, spec: { ...x.spec, versionPriority: 1 } });
    await expect
      .poll(
        () => (fake.getObject(APISERVICES, "", "v1.reports.kyverno.io") as APIService).spec?.versionPriority,
        { timeout: 5_000 },
      )
      .toBe(100);
    await b.stop();
    expect(fake.listObjects(APISERVICES)).toHaveLength(3);
  });
});
