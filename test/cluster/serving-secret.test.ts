import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../src/apimachinery/types.js";
import { sharedServingCert } from "../../src/cluster/serving-secret.js";
import { SECRETS } from "../support/fake-kube-apiserver.js";
import { useStandInClient } from "../support/stand-in-client.js";

const hosts = { dns: ["reports-server.reports-server.svc"], ips: ["127.0.0.1"] };
const signedBy = (cert: string, ca: string) =>
  new X509Certificate(cert).verify(new X509Certificate(ca).publicKey);

describe("the serving certificate replicas share through a Secret", () => {
  const sx = useStandInClient();
  const rvOf = (name: string) =>
    (sx.fake.getObject(SECRETS, "team", name) as KubeObject | undefined)?.metadata.resourceVersion;

  it("replicas starting together all end up with the one the first created", async () => {
    const opts = { namespace: "team", name: "race", hosts };
    const got = await Promise.all([1, 2, 3, 4].map(() => sharedServingCert(sx.client, opts)));
    expect(new Set(got.map((g) => g.caCert)).size).toBe(1);
    expect(new Set(got.map((g) => g.cert)).size).toBe(1);
    expect(signedBy(got[0].cert, got[0].caCert)).toBe(true);
    expect(rvOf("race")).toBeDefined();
  });

  it("renews a certificate that expires within 30 days, with the same CA", async () => {
    const opts = { namespace: "team", name: "renew", hosts };
    const first = await sharedServingCert(sx.client, opts);
    const rv = rvOf("renew");
    // the leaf lives a year: 340 days on, it is due
    expect(
      await sharedServingCert(sx.client, { ...opts, now: () => new Date(Date.now() + 300 * 86_400_000) }),
    ).toEqual(first);
    const renewed = await sharedServingCert(sx.client, {
      ...opts,
      now: () => new Date(Date.now() + 340 * 86_400_000),
    });
    expect(renewed.caCert).toBe(first.caCert);
    expect(renewed.cert).not.toBe(first.cert);
    expect(signedBy(renewed.cert, first.caCert)).toBe(true);
    expect(rvOf("renew")).not.toBe(rv);
  });
});
