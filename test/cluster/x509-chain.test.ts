import { describe, it, expect, beforeAll } from "vitest";
import { verifyClientChain, subjectOf, parsePemBundle } from "../../src/cluster/x509-chain.js";
import { makeCa, makeTestPki, type TestPki } from "../support/certs.js";

describe("client certificate chains", () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await makeTestPki();
  });

  it("accepts a leaf signed by a trusted root and reads CN and O", () => {
    expect(verifyClientChain([pki.userCert.x509], [pki.clientCa.x509])).toEqual({ ok: true });
    expect(subjectOf(pki.userCert.x509)).toEqual({
      commonName: "alice",
      organizations: ["team-a", "developers"],
    });
  });

  it("rejects a leaf signed by another CA with the same name", () => {
    const r = verifyClientChain([pki.proxyClientWrongCa.x509], [pki.requestHeaderCa.x509]);
    expect(r).toEqual({ ok: false, reason: "x509: certificate signed by unknown authority" });
  });

  it("follows intermediates the client sends, but never trusts a root the client sends", async () => {
    const inter = await pki.clientCa.issue({ cn: "team-intermediate", ca: true });
    const leaf = await inter.issue({ cn: "bob" });
    expect(verifyClientChain([leaf.x509, inter.x509], [pki.clientCa.x509]).ok).toBe(true);
    expect(verifyClientChain([leaf.x509], [pki.clientCa.x509]).ok).toBe(false);
    const rogue = await makeCa("kubernetes-client-ca");
    const rogueLeaf = await rogue.issue({ cn: "admin" });
    expect(verifyClientChain([rogueLeaf.x509, rogue.x509], [pki.clientCa.x509]).ok).toBe(false);
  });

  it("rejects expired leaves, non-CA issuers and server-only certificates", async () => {
    const old = await pki.clientCa.issue({
      cn: "old",
      notBefore: new Date(Date.now() - 3 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    expect(verifyClientChain([old.x509], [pki.clientCa.x509]).ok).toBe(false);
    const notCa = await pki.clientCa.issue({ cn: "leaf-as-issuer" });
    expect(verifyClientChain([pki.userCert.x509], [notCa.x509]).ok).toBe(false);
    const server = await pki.clientCa.issue({ cn: "srv", usages: ["server"] });
    expect(verifyClientChain([server.x509], [pki.clientCa.x509]).ok).toBe(false);
  });

  it("parses PEM bundles with several certificates", () => {
    expect(parsePemBundle(pki.clientCa.cert + "\n" + pki.requestHeaderCa.cert)).toHaveLength(2);
    expect(parsePemBundle("junk")).toHaveLength(0);
  });
});
