import { describe, it, expect, beforeAll, afterAll } from "vitest";
import type { KubeObject } from "../../src/apimachinery/types.js";
import { createAPIServiceReconciler, type APIService } from "../../src/cluster/apiservice.js";
import { KubeClient } from "../../src/cluster/kubeclient.js";
import { migrateReports, migrationBeforeTakeover, type KindMigration } from "../../src/cluster/migrate.js";
import { loadResources, type ResourceDef } from "../../src/resources/index.js";
import { makeTestPki, type TestPki } from "../support/certs.js";
import { APISERVICES, FakeKubeApiServer, type FakeResource } from "../support/fake-kube-apiserver.js";

const service = { namespace: "kyverno", name: "reports-server", port: 443 };
const wg = { group: "wgpolicyk8s.io", version: "v1alpha2" };

function fakeResource(d: ResourceDef): FakeResource {
  return { group: d.group, version: d.version, resource: d.plural, kind: d.kind, namespaced: d.namespaced };
}

describe("migration of CRD-stored reports", () => {
  let pki: TestPki;
  let fake: FakeKubeApiServer;
  let client: KubeClient;
  const defs = loadResources();
  const polr = defs.find((d) => d.kind === "PolicyReport")!;
  const cpolr = defs.find((d) => d.kind === "ClusterPolicyReport")!;
  /** Our store, as the integrator's write callback would fill it. */
  const store = new Map<string, KubeObject>();
  const writtenWhile: (string | undefined)[] = [];

  const write = async (def: ResourceDef, obj: KubeObject) => {
    const key = `${def.plural}/${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
    const a = fake.getObject(APISERVICES, "", "v1alpha2.wgpolicyk8s.io") as APIService | undefined;
    writtenWhile.push(a?.spec?.service?.name);
    if (store.has(key)) return "exists" as const;
    store.set(key, obj);
    return "created" as const;
  };

  beforeAll(async () => {
    pki = await makeTestPki();
    fake = await new FakeKubeApiServer({ serving: pki.serving }).start();
    client = new KubeClient(fake.connection(pki.servingCa.cert));
    fake.addResource(fakeResource(polr));
    fake.addResource(fakeResource(cpolr));
    for (const ns of ["team-a", "team-b", "team-c"]) {
      for (let i = 0; i < (ns === "team-b" ? 3 : 2); i++) {
        fake.putObject(fakeResource(polr), {
          apiVersion: polr.groupVersion,
          kind: "PolicyReport",
          metadata: {
            name: `pol-${i}`,
            namespace: ns,
            labels: { "app.kubernetes.io/managed-by": "kyverno" },
          },
          summary: { pass: i, fail: 0, warn: 0, error: 0, skip: 0 },
          results: [{ policy: "require-labels", result: "pass" }],
        });
      }
    }
    for (const n of ["cpol-1", "cpol-2"]) {
      fake.putObject(fakeResource(cpolr), { metadata: { name: n }, summary: { pass: 1 } });
    }
    // What kube-aggregator registers for a CRD-served group: a Local APIService (no service).
    fake.putObject(APISERVICES, {
      metadata: {
        name: "v1alpha2.wgpolicyk8s.io",
        labels: { [`kube-aggregator.kubernetes.io/automanaged`]: "true" },
      },
      spec: {
        group: "wgpolicyk8s.io",
        version: "v1alpha2",
        groupPriorityMinimum: 1000,
        versionPriority: 100,
        service: null,
      },
    });
  });
  afterAll(async () => {
    client.close();
    await fake.stop();
  });

  it("copies every report, page by page, before the APIService switches; again on re-run, skipping all", async () => {
    const reports: KindMigration[][] = [];
    const r = createAPIServiceReconciler({
      client,
      groupVersions: [wg],
      service,
      caBundle: () => pki.servingCa.cert,
      beforeTakeover: migrationBeforeTakeover({
        client,
        defs,
        write,
        pageSize: 3,
        concurrency: 2,
        onReport: (x) => reports.push(x),
      }),
    });
    expect(await r.reconcile(wg)).toBe("updated");
    expect(
      reports[0].map(({ kind, listed, created, existed, failed }) => ({
        kind,
        listed,
        created,
        existed,
        failed,
      })),
    ).toEqual([
      { kind: "ClusterPolicyReport", listed: 2, created: 2, existed: 0, failed: 0 },
      { kind: "PolicyReport", listed: 7, created: 7, existed: 0, failed: 0 },
    ]);
    expect(writtenWhile.every((s) => s === undefined)).toBe(true);
    expect(fake.requests.filter((q) => q.includes("/policyreports?") && q.includes("limit=3"))).toHaveLength(
      3,
    );
    expect(fake.requests.some((q) => q.includes("/policyreports?") && q.includes("continue="))).toBe(true);

    const copied = store.get("policyreports/team-b/pol-2")!;
    expect(copied).toMatchObject({
      apiVersion: "wgpolicyk8s.io/v1alpha2",
      kind: "PolicyReport",
      metadata: { name: "pol-2", namespace: "team-b", labels: { "app.kubernetes.io/managed-by": "kyverno" } },
      summary: { pass: 2 },
    });
    expect(copied.metadata.resourceVersion).toBeUndefined();
    expect(copied.metadata.uid).toBeTypeOf("string");
    expect((fake.getObject(APISERVICES, "", "v1alpha2.wgpolicyk8s.io") as APIService).spec?.service).toEqual(
      service,
    );

    // Handed back to the CRDs (uninstall), then taken over again: the copy runs again and finds everything.
    const a = fake.getObject(APISERVICES, "", "v1alpha2.wgpolicyk8s.io") as APIService;
    fake.putObject(APISERVICES, { ...a, spec: { ...a.spec, service: null, caBundle: undefined } });
    writtenWhile.length = 0;
    expect(await r.reconcile(wg)).toBe("updated");
    expect(reports[1].map((k) => [k.kind, k.created, k.existed])).toEqual([
      ["ClusterPolicyReport", 0, 2],
      ["PolicyReport", 0, 7],
    ]);
    expect(store.size).toBe(9);
    expect(writtenWhile.every((s) => s === undefined)).toBe(true);

    // Already pointing at us: nothing to copy.
    expect(await r.reconcile(wg)).toBe("unchanged");
    expect(reports).toHaveLength(2);
  });

  it("does not switch a group while some reports could not be copied, and resumes later", async () => {
    const a = fake.getObject(APISERVICES, "", "v1alpha2.wgpolicyk8s.io") as APIService;
    fake.putObject(APISERVICES, { ...a, spec: { ...a.spec, service: null, caBundle: undefined } });
    const partial = new Map<string, KubeObject>();
    let broken = true;
    const flaky = async (def: ResourceDef, obj: KubeObject) => {
      if (broken && obj.metadata.namespace === "team-c") throw new Error("store unavailable");
      const key = `${def.plural}/${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
      if (partial.has(key)) return "exists" as const;
      partial.set(key, obj);
      return "created" as const;
    };
    const r = createAPIServiceReconciler({
      client,
      groupVersions: [wg],
      service,
      caBundle: () => pki.servingCa.cert,
      beforeTakeover: migrationBeforeTakeover({ client, defs, write: flaky, attempts: 2, retryMs: 10 }),
    });
    expect(await r.reconcile(wg)).toBe("failed");
    expect(
      (fake.getObject(APISERVICES, "", "v1alpha2.wgpolicyk8s.io") as APIService).spec?.service,
    ).toBeNull();
    expect(partial.size).toBe(7);
    broken = false;
    expect(await r.reconcile(wg)).toBe("updated");
    expect(partial.size).toBe(9);
  });

  it("reports kinds the cluster does not serve, and counts per kind", async () => {
    const kyverno = defs.filter((d) => d.group === "reports.kyverno.io");
    const res = await migrateReports({ client, defs: kyverno, write });
    expect(res.map((k) => [k.kind, k.listed, k.notServed])).toEqual(kyverno.map((d) => [d.kind, 0, true]));
  });
});
