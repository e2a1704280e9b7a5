import { X509Certificate } from "node:crypto";
import { connect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/apimachinery/types.js";
import { APISERVICES, SECRETS } from "../../support/fake-kube-apiserver.js";
import { eventually, startClusterServer, startStandIn, type ClusterServer, type StandIn } from "./support.js";

const SECRET = "reports-server-self-signed-cert";
const SHARED = [`--serving-cert-secret=${SECRET}`];

/** The leaf certificate a server presents on its port. */
function presented(url: string): Promise<X509Certificate> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      resolve(new X509Certificate(s.getPeerCertificate().raw));
      s.end();
    });
    s.on("error", reject);
  });
}

type Secret = KubeObject & { type?: string; data?: Record<string, string> };

describe("cluster mode without --tls-cert-file: replicas share one serving certificate through a Secret", () => {
  let standIn: StandIn;
  const servers: ClusterServer[] = [];
  const secret = () => standIn.fake.getObject(SECRETS, "reports-server", SECRET) as Secret | undefined;

  beforeAll(async () => {
    standIn = await startStandIn();
    // each with a cert dir of its own, as pods with an emptyDir each
    servers.push(await startClusterServer({ standIn, args: SHARED }));
    servers.push(await startClusterServer({ standIn, args: SHARED }));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await standIn?.stop();
  }, 30_000);

  it("the first replica creates the Secret; every replica presents a certificate the APIServices' caBundle trusts", async () => {
    const s = secret();
    expect(s?.type).toBe("kubernetes.io/tls");
    expect(Object.keys(s?.data ?? {}).sort()).toEqual(["ca.crt", "ca.key", "tls.crt", "tls.key"]);
    const caPem = Buffer.from(s!.data!["ca.crt"], "base64").toString("utf8");
    const ca = new X509Certificate(caPem);
    for (const server of servers) {
      expect(server.ca).toBe(caPem);
      expect((await presented(server.url)).verify(ca.publicKey)).toBe(true);
    }
    const api = await eventually("the APIService", 10_000, () =>
      standIn.fake.getObject(APISERVICES, "", "v1alpha2.wgpolicyk8s.io"),
    );
    expect((api as KubeObject & { spec?: { caBundle?: string } }).spec?.caBundle).toBe(s!.data!["ca.crt"]);
  });

  it("a replica started later, or restarted, keeps the same certificate", async () => {
    const before = secret()!;
    const third = await startClusterServer({ standIn, args: SHARED });
    servers.push(third);
    expect(secret()!.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    const stored = new X509Certificate(Buffer.from(before.data!["tls.crt"], "base64").toString("utf8"));
    expect((await presented(third.url)).raw.equals(stored.raw)).toBe(true);
    expect((await presented(servers[0].url)).raw.equals(stored.raw)).toBe(true);
  });

  it("a certificate for other hosts is replaced, signed by the same CA", async () => {
    const before = secret()!;
    const moved = await startClusterServer({
      standIn,
      args: [...SHARED, "--service-name=reports-server-2"],
    });
    servers.push(moved);
    const after = secret()!;
    expect(after.metadata.resourceVersion).not.toBe(before.metadata.resourceVersion);
    expect(after.data!["ca.crt"]).toBe(before.data!["ca.crt"]);
    const leaf = await presented(moved.url);
    expect(leaf.subjectAltName).toContain("reports-server-2.reports-server.svc");
    expect(
      leaf.verify(new X509Certificate(Buffer.from(after.data!["ca.crt"], "base64").toString()).publicKey),
    ).toBe(true);
  });
});

describe("cluster mode when the Secret cannot be used", () => {
  it("a replica without the Role logs why and serves a certificate of its own", async () => {
    const standIn = await startStandIn();
    standIn.fake.failRequest = (_m, path) => (path.includes("/secrets") ? 403 : undefined);
    try {
      const server = await startClusterServer({ standIn, args: SHARED });
      try {
        expect(
          server.logRecords(
            "cannot share the serving certificate through the Secret (RBAC: Role reports-server:serving-cert); using this replica's own",
          ),
        ).toHaveLength(1);
        expect(standIn.fake.getObject(SECRETS, "reports-server", SECRET)).toBeUndefined();
        expect((await presented(server.url)).verify(new X509Certificate(server.ca).publicKey)).toBe(true);
      } finally {
        await server.stop();
      }
    } finally {
      await standIn.stop();
    }
  }, 60_000);
});
