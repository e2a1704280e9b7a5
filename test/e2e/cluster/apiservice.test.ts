import { X509Certificate } from "node:crypto";
import { connect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/apimachinery/types.js";
import { APISERVICES, LEASES } from "../../support/fake-kube-apiserver.js";
import { eventually, startClusterServer, startStandIn, type ClusterServer, type StandIn } from "./support.js";

const NAMES = ["v1alpha2.wgpolicyk8s.io", "v1.reports.kyverno.io", "v1alpha1.openreports.io"];

interface APIService extends KubeObject {
  spec: {
    group?: string;
    version?: string;
    service?: { namespace?: string; name?: string; port?: number } | null;
    caBundle?: string;
    insecureSkipTLSVerify?: boolean;
    groupPriorityMinimum?: number;
    versionPriority?: number;
  };
}

describe("cluster mode: the APIServices of the served groups", () => {
  let standIn: StandIn;
  let server: ClusterServer;

  const apiService = (name: string) =>
    standIn.fake.getObject(APISERVICES, "", name) as APIService | undefined;

  /** The APIService as reports-server keeps it, or undefined while it is not (yet) so. */
  const ours = (name: string): APIService | undefined => {
    const a = apiService(name);
    const caBundle = Buffer.from(server.ca).toString("base64");
    return a?.spec.caBundle === caBundle &&
      a.spec.service?.name === "reports-server" &&
      a.metadata.labels?.["kube-aggregator.kubernetes.io/automanaged"] === "false"
      ? a
      : undefined;
  };

  beforeAll(async () => {
    standIn = await startStandIn();
    server = await startClusterServer({
      standIn,
      args: [
        "--service-port=8443",
        "--leader-elect-lease-duration=2s",
        "--leader-elect-renew-deadline=1500ms",
        "--leader-elect-retry-period=250ms",
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await standIn?.stop();
  }, 30_000);

  it("after start, one APIService per group points at the Service and trusts the serving CA", async () => {
    for (const name of NAMES) await eventually(`APIService ${name}`, 10_000, () => ours(name));
    for (const name of NAMES) {
      const a = apiService(name)!;
      const [version, ...group] = name.split(".");
      expect(a.spec).toEqual({
        group: group.join("."),
        version,
        service: { namespace: "reports-server", name: "reports-server", port: 8443 },
        caBundle: Buffer.from(server.ca).toString("base64"),
        groupPriorityMinimum: 1000,
        versionPriority: 100,
      });
      expect(a.spec.insecureSkipTLSVerify).toBeUndefined();
    }
    // The caBundle is the CA that really signed what the server presents.
    const caPem = Buffer.from(apiService(NAMES[0])!.spec.caBundle!, "base64").toString("utf8");
    const { peerCertificate } = await servingCertificate(server.url);
    expect(new X509Certificate(peerCertificate).verify(new X509Certificate(caPem).publicKey)).toBe(true);
  });

  it("an APIService someone changed is put back, keeping their own labels", async () => {
    const name = NAMES[1];
    const current = apiService(name)!;
    standIn.fake.putObject(APISERVICES, {
      ...current,
      metadata: { ...current.metadata, labels: { team: "platform" } },
      spec: { ...current.spec, caBundle: undefined, insecureSkipTLSVerify: true, versionPriority: 5 },
    });
    const back = await eventually("the tampered APIService is reconciled", 10_000, () => ours(name));
    expect(back.spec.insecureSkipTLSVerify).toBeUndefined();
    expect(back.spec.versionPriority).toBe(100);
    expect(back.metadata.labels).toEqual({
      team: "platform",
      "kube-aggregator.kubernetes.io/automanaged": "false",
    });
  });

  it("a deleted APIService is created again", async () => {
    standIn.fake.deleteObject(APISERVICES, "", NAMES[2]);
    await eventually("the deleted APIService is back", 10_000, () => ours(NAMES[2]));
  });

  it("SIGTERM leaves every APIService in place and frees the Lease for a successor", async () => {
    const before = NAMES.map((n) => apiService(n));
    expect(before.every(Boolean)).toBe(true);
    await server.stop();
    expect(server.logs()).toContain('"msg":"stopped"');
    expect(NAMES.map((n) => apiService(n))).toEqual(before);
    const lease = standIn.fake.getObject(LEASES, "reports-server", "reports-server") as
      (KubeObject & { spec: { holderIdentity?: string } }) | undefined;
    expect(lease).toBeDefined();
    expect(lease?.spec.holderIdentity ?? "").toBe("");
  });
});

async function servingCertificate(url: string): Promise<{ peerCertificate: Buffer }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false }, () => {
      const raw = sock.getPeerCertificate().raw;
      sock.end();
      resolve({ peerCertificate: raw });
    });
    sock.on("error", reject);
  });
}
