import { createPrivateKey, X509Certificate } from "node:crypto";
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

  it("replaces what it cannot use (a garbage CA, a key that is not the certificate's) instead of crashing", async () => {
    const opts = { namespace: "team", name: "broken", hosts };
    const good = await sharedServingCert(sx.client, opts);
    const put = (data: Record<string, string>) => {
      const cur = sx.fake.getObject(SECRETS, "team", "broken") as KubeObject & {
        data: Record<string, string>;
      };
      sx.fake.putObject(SECRETS, { ...cur, data: { ...cur.data, ...data } });
    };
    // the leaf's key swapped for another: a new leaf, the same CA
    const other = await sharedServingCert(sx.client, { ...opts, name: "other" });
    put({ "tls.key": Buffer.from(other.key).toString("base64") });
    const releaf = await sharedServingCert(sx.client, opts);
    expect(releaf.caCert).toBe(good.caCert);
    expect(releaf.cert).not.toBe(good.cert);
    expect(new X509Certificate(releaf.cert).checkPrivateKey(createPrivateKey(releaf.key))).toBe(true);
    // a CA that does not parse: a new CA, and a leaf it signed
    put({ "ca.crt": Buffer.from("garbage").toString("base64") });
    const fresh = await sharedServingCert(sx.client, opts);
    expect(fresh.caCert).not.toBe(good.caCert);
    expect(signedBy(fresh.cert, fresh.caCert)).toBe(true);
  });

  it("leaves a Secret of that name it did not write alone", async () => {
    sx.fake.putObject(SECRETS, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "foreign", namespace: "team" },
      data: { password: Buffer.from("hunter2").toString("base64") },
    });
    await expect(sharedServingCert(sx.client, { namespace: "team", name: "foreign", hosts })).rejects.toThrow(
      /not written by reports-server/,
    );
    expect((sx.fake.getObject(SECRETS, "team", "foreign") as KubeObject & { data?: object })?.data).toEqual({
      password: Buffer.from("hunter2").toString("base64"),
    });
  });
});
