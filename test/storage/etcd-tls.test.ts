import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../src/apimachinery/types.js";
import { createEtcdStorage } from "../../src/storage/etcd/index.js";
import { isStorageError } from "../../src/storage/interface.js";
import type { StorageResource } from "../../src/storage/interface.js";
import { makeCa } from "../support/certs.js";
import { startEtcd } from "../support/etcd.js";
import type { PrivateEtcd } from "../support/etcd.js";
import { POLICY_REPORT, makeReport } from "../support/reports.js";

/** etcd with TLS and client-certificate authentication, as the etcd overlay deploys it. */

let etcd: PrivateEtcd;
let dir: string;
const file = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "etcd-tls-"));
  const ca = await makeCa("etcd-ca");
  const server = await ca.issue({ cn: "etcd", usages: ["server", "client"], ips: ["127.0.0.1"] });
  const client = await ca.issue({ cn: "reports-server", usages: ["client"] });
  const stranger = await (await makeCa("someone-else")).issue({ cn: "reports-server", usages: ["client"] });
  for (const [name, pem] of Object.entries({
    "ca.crt": ca.cert,
    "server.crt": server.cert,
    "server.key": server.key,
    "client.crt": client.cert,
    "client.key": client.key,
    "stranger.crt": stranger.cert,
    "stranger.key": stranger.key,
  }))
    writeFileSync(file(name), pem);
  etcd = await startEtcd({
    tls: { certFile: file("server.crt"), keyFile: file("server.key"), trustedCaFile: file("ca.crt") },
  });
});

afterAll(async () => {
  await etcd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const reports: StorageResource = { group: "wgpolicyk8s.io", resource: "policyreports", namespaced: true };

describe("etcd storage over TLS", () => {
  it("stores and reads with the CA and a client certificate", async () => {
    expect(etcd.endpoints[0]).toMatch(/^https:/);
    const store = await createEtcdStorage({
      endpoints: etcd.endpoints,
      clusterName: "tls",
      caFile: file("ca.crt"),
      certFile: file("client.crt"),
      keyFile: file("client.key"),
    });
    try {
      await store.ready();
      const report = makeReport(POLICY_REPORT, { name: "a", namespace: "apps" }) as KubeObject;
      const created = await store.create(reports, { namespace: "apps", name: "a" }, report);
      expect(await store.get(reports, { namespace: "apps", name: "a" })).toEqual(created);
    } finally {
      await store.close();
    }
  });

  it("is not ready with a client certificate etcd does not trust", async () => {
    const store = await createEtcdStorage({
      endpoints: etcd.endpoints,
      clusterName: "tls",
      caFile: file("ca.crt"),
      certFile: file("stranger.crt"),
      keyFile: file("stranger.key"),
    });
    try {
      const err = await store.ready().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isStorageError(err, "Unavailable")).toBe(true);
    } finally {
      await store.close();
    }
  });
});
