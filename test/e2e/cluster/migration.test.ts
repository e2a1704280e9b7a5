import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/apimachinery/types.js";
import { APISERVICES } from "../../support/fake-kube-apiserver.js";
import {
  CLUSTER_POLICY_REPORT,
  EPHEMERAL_REPORT,
  KINDS,
  POLICY_REPORT,
  REPORT,
  SERVED_BY,
  makeReport,
  type KindInfo,
} from "../../support/reports.js";
import { startBackend, type BackendHandle } from "../../support/server.js";
import {
  call,
  eventually,
  startClusterServer,
  startStandIn,
  type ClusterServer,
  type StandIn,
} from "./support.js";

const GROUP_VERSIONS = ["v1alpha2.wgpolicyk8s.io", "v1.reports.kyverno.io", "v1alpha1.openreports.io"];
const ROOT = "root-token";

interface ListJson {
  items: KubeObject[];
}

describe("cluster mode: reports stored in the CRDs are taken over", () => {
  let standIn: StandIn;
  let etcd: BackendHandle;
  let server: ClusterServer | undefined;
  /** What the cluster held in its CRDs before the takeover, by kind. */
  const crdStored = new Map<KindInfo, KubeObject[]>();

  /** The APIServices as kube-aggregator registers them for CRDs: local, automanaged. */
  const handBackToCrds = () => {
    for (const name of GROUP_VERSIONS) {
      const [version, ...group] = name.split(".");
      standIn.fake.putObject(APISERVICES, {
        metadata: { name, labels: { "kube-aggregator.kubernetes.io/automanaged": "true" } },
        spec: { group: group.join("."), version, groupPriorityMinimum: 1000, versionPriority: 100 },
      });
    }
  };
  const allPointAtUs = () =>
    GROUP_VERSIONS.every(
      (n) =>
        (standIn.fake.getObject(APISERVICES, "", n)?.spec as { service?: { name?: string } } | undefined)
          ?.service?.name === "reports-server",
    )
      ? true
      : undefined;
  const storeCrdReport = (k: KindInfo, name: string, namespace: string | undefined, age: string) => {
    const obj = makeReport(k, { name, namespace }) as unknown as KubeObject;
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = age;
    const stored = standIn.fake.putObject(
      { group: k.group, version: k.version, resource: k.plural, kind: k.kind, namespaced: k.namespaced },
      obj,
    );
    crdStored.set(k, [...(crdStored.get(k) ?? []), stored]);
  };
  const listThroughServer = async (s: ClusterServer, k: KindInfo): Promise<KubeObject[]> => {
    const res = await call(s, `/apis/${k.apiVersion}/${k.plural}`, { token: ROOT });
    expect(res.status, res.body).toBe(200);
    return res.json<ListJson>().items;
  };
  /** `GET <path>` requests the stand-in received for a kind's CRD listing, from index `from`. */
  const crdListings = (from = 0) =>
    standIn.fake.requests
      .slice(from)
      .filter((r) => KINDS.some((k) => r.split("?")[0] === `GET /apis/${k.apiVersion}/${k.plural}`));

  /** The server's log line reporting what the migration copied of one kind. */
  const migrationReport = (s: ClusterServer, kind: string) =>
    eventually(`the migration report of ${kind}`, 5_000, () =>
      s.logRecords("migration: kind copied").find((r) => r.kind === kind),
    );

  beforeAll(async () => {
    standIn = await startStandIn();
    standIn.fake.tokens.set(ROOT, { name: "root", groups: ["system:masters"] });
    for (const k of KINDS) {
      standIn.fake.addResource({
        group: k.group,
        version: k.version,
        resource: k.plural,
        kind: k.kind,
        namespaced: k.namespaced,
      });
    }
    handBackToCrds();
    storeCrdReport(POLICY_REPORT, "pod-a", "team-a", "2024-01-02T03:04:05Z");
    storeCrdReport(POLICY_REPORT, "pod-b", "team-a", "2024-01-02T03:04:06Z");
    storeCrdReport(POLICY_REPORT, "pod-c", "team-b", "2024-02-03T04:05:06Z");
    storeCrdReport(CLUSTER_POLICY_REPORT, "ns-team-a", undefined, "2023-12-24T00:00:00Z");
    storeCrdReport(EPHEMERAL_REPORT, "eph-1", "team-a", "2024-03-01T10:00:00Z");
    storeCrdReport(REPORT, "openreport-1", "team-b", "2024-04-01T10:00:00Z");
    etcd = await startBackend("etcd");
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await etcd?.stop();
    await standIn?.stop();
  }, 60_000);

  const start = (args: string[] = [], backend: "etcd" | "memory" = "etcd") =>
    startClusterServer({ standIn, backend, args: [...(backend === "etcd" ? etcd.args : []), ...args] });

  it("copies every CRD-stored report before its APIService is switched, keeping uid and creationTimestamp", async () => {
    server = await start();
    await eventually("all APIServices point at reports-server", 15_000, allPointAtUs);

    // Each group's reports were listed from the CRDs before its APIService was written.
    const reqs = standIn.fake.requests;
    for (const name of GROUP_VERSIONS) {
      const [version, ...rest] = name.split(".");
      const group = rest.join(".");
      const switched = reqs.findIndex((r) => r === `PUT /apis/apiregistration.k8s.io/v1/apiservices/${name}`);
      const listed = reqs
        .map((r, i) => [r, i] as const)
        .filter(([r]) => r.startsWith(`GET /apis/${group}/${version}/`));
      expect(switched, name).toBeGreaterThan(0);
      expect(listed.length, name).toBeGreaterThan(0);
      expect(Math.max(...listed.map(([, i]) => i)), name).toBeLessThan(switched);
    }

    for (const [k, objs] of crdStored) {
      const served = await listThroughServer(server, k);
      expect(served.map((o) => o.metadata.name).sort(), k.kind).toEqual(
        objs.map((o) => o.metadata.name).sort(),
      );
      for (const want of objs) {
        const got = served.find((o) => o.metadata.name === want.metadata.name)!;
        expect(got.metadata.uid).toBe(want.metadata.uid);
        expect(got.metadata.creationTimestamp).toBe(want.metadata.creationTimestamp);
        expect(got.metadata.namespace).toBe(want.metadata.namespace);
        expect(got.metadata.labels).toEqual(want.metadata.labels);
        expect(got.metadata.annotations?.[SERVED_BY]).toBe("true");
        const { metadata: _m1, ...gotBody } = got;
        const { metadata: _m2, ...wantBody } = want;
        expect(gotBody).toEqual(wantBody);
      }
    }
    const policyReports = await migrationReport(server, "PolicyReport");
    expect(policyReports).toMatchObject({ listed: 3, created: 3, existed: 0, failed: 0 });
  });

  it("a second start copies nothing new: nothing when the groups are already ours, only what is missing otherwise", async () => {
    const before = await listThroughServer(server!, POLICY_REPORT);
    await server!.stop();

    // Restart with the APIServices already pointing here: the CRDs are not even read.
    const mark = standIn.fake.requests.length;
    server = await start();
    await eventually("the leader has checked the APIServices", 10_000, () =>
      server!.logRecords("became leader").length > 0 &&
      standIn.fake.requests
        .slice(mark)
        .filter((r) => r.startsWith("GET /apis/apiregistration.k8s.io/v1/apiservices/")).length >= 3
        ? true
        : undefined,
    );
    expect(crdListings(mark)).toEqual([]);
    expect(await listThroughServer(server, POLICY_REPORT)).toEqual(before);
    await server.stop();

    // A takeover that has to run again (the groups were handed back, or a first run was cut short):
    // what is already in the store stays as it is, only the new report is copied.
    handBackToCrds();
    storeCrdReport(POLICY_REPORT, "pod-d", "team-b", "2024-05-05T05:05:05Z");
    server = await start();
    await eventually("all APIServices point at reports-server again", 15_000, allPointAtUs);
    expect(await migrationReport(server, "PolicyReport")).toMatchObject({
      listed: 4,
      created: 1,
      existed: 3,
      failed: 0,
    });
    expect(await migrationReport(server, "ClusterPolicyReport")).toMatchObject({ created: 0, existed: 1 });
    const after = await listThroughServer(server, POLICY_REPORT);
    for (const b of before) {
      expect(after.find((o) => o.metadata.name === b.metadata.name)).toEqual(b);
    }
    expect(after.map((o) => o.metadata.name).sort()).toEqual(["pod-a", "pod-b", "pod-c", "pod-d"]);
    await server.stop();
    server = undefined;
  });

  it("--skip-migration switches the APIServices without copying anything", async () => {
    handBackToCrds();
    const mark = standIn.fake.requests.length;
    server = await start(["--skip-migration"], "memory");
    await eventually("all APIServices point at reports-server", 15_000, allPointAtUs);
    expect(crdListings(mark)).toEqual([]);
    expect(server.logRecords("migration: kind copied")).toEqual([]);
    for (const k of crdStored.keys()) expect(await listThroughServer(server, k), k.kind).toEqual([]);
  });
});
