import { describe, it, expect, beforeAll } from "vitest";
import {
  verifyClientChain,
  verifyClientChainCached,
  subjectOf,
  subjectOfCached,
  parsePemBundle,
} from "../../src/cluster/x509-chain.js";
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

  describe("remembered per connection's chain", () => {
    const DAY = 86_400_000;

    it("gives verifyClientChain's answer, and a new one once a certificate expires or starts", async () => {
      const now = Date.now();
      const roots = [pki.clientCa.x509];
      const soon = await pki.clientCa.issue({
        cn: "soon",
        notBefore: new Date(now - DAY),
        notAfter: new Date(now + DAY),
      });
      const chain = [soon.x509];
      expect(verifyClientChainCached(chain, roots, now)).toEqual({ ok: true });
      expect(verifyClientChainCached(chain, roots, now + 1000)).toEqual({ ok: true });
      expect(verifyClientChainCached(chain, roots, now + 2 * DAY)).toEqual({
        ok: false,
        reason: "x509: certificate has expired or is not yet valid",
      });
      const later = await pki.clientCa.issue({
        cn: "later",
        notBefore: new Date(now + DAY),
        notAfter: new Date(now + 3 * DAY),
      });
      const waiting = [later.x509];
      expect(verifyClientChainCached(waiting, roots, now).ok).toBe(false);
      expect(verifyClientChainCached(waiting, roots, now + 2 * DAY)).toEqual({ ok: true });
      expect(verifyClientChainCached(waiting, roots, now).ok).toBe(false);
    });

    it("verifies again against other roots: a rotated CA, or the other trust", () => {
      const chain = [pki.proxyClient.x509];
      const proxyRoots = [pki.requestHeaderCa.x509];
      const clientRoots = [pki.clientCa.x509];
      const rotated = [pki.wrongCa.x509];
      for (let i = 0; i < 2; i++) {
        expect(verifyClientChainCached(chain, proxyRoots).ok).toBe(true);
        expect(verifyClientChainCached(chain, clientRoots).ok).toBe(false);
        expect(verifyClientChainCached(chain, rotated).ok).toBe(false);
      }
      expect(verifyClientChainCached([pki.proxyClientWrongCa.x509], rotated).ok).toBe(true);
    });

    it("reads a subject once and hands out copies", () => {
      const first = subjectOfCached(pki.userCert.x509);
      first.organizations.push("admins");
      expect(subjectOfCached(pki.userCert.x509)).toEqual(subjectOf(pki.userCert.x509));
    });
  });
});
