import { X509Certificate } from "node:crypto";

/**
 * Client certificate verification for the authentication chain, as Go's x509.Verify does it for
 * k8s.io/apiserver's x509 authenticator: the leaf must chain, through the intermediates the client
 * sent, to one of the trusted roots; every certificate must be within its validity period, every
 * issuer must be a CA, and a leaf that names extended key usages must allow client authentication.
 */

const EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const EKU_ANY = "2.5.29.37.0";
const MAX_DEPTH = 10;

/** Split a PEM bundle into certificates; anything that is not a certificate is ignored. */
export function parsePemBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

/** A certificate's validity in milliseconds; X509Certificate gives it as text, parsed once here. */
const validities = new WeakMap<X509Certificate, { from: number; to: number }>();

function validity(c: X509Certificate): { from: number; to: number } {
  let v = validities.get(c);
  if (v === undefined) {
    v = { from: Date.parse(c.validFrom), to: Date.parse(c.validTo) };
    validities.set(c, v);
  }
  return v;
}

function withinValidity(c: X509Certificate, now: number): boolean {
  const v = validity(c);
  return v.from <= now && now <= v.to;
}

function signedBy(child: X509Certificate, issuer: X509Certificate, now: number): boolean {
  return (
    issuer.ca && withinValidity(issuer, now) && child.checkIssued(issuer) && child.verify(issuer.publicKey)
  );
}

export type ChainResult = { ok: true } | { ok: false; reason: string };

/**
 * Verify `chain` (leaf first, as the TLS peer sent it) against `roots`. The peer's extra certificates
 * are only candidate intermediates: a self-signed certificate the client sent is never trusted by itself.
 */
export function verifyClientChain(
  chain: readonly X509Certificate[],
  roots: readonly X509Certificate[],
  now: number = Date.now(),
): ChainResult {
  const leaf = chain[0];
  if (!leaf) return { ok: false, reason: "no client certificate" };
  if (roots.length === 0) return { ok: false, reason: "no trusted certificate authority" };
  if (!withinValidity(leaf, now))
    return { ok: false, reason: "x509: certificate has expired or is not yet valid" };
  const eku = leaf.keyUsage;
  if (eku && eku.length > 0 && !eku.includes(EKU_CLIENT_AUTH) && !eku.includes(EKU_ANY)) {
    return { ok: false, reason: "x509: certificate specifies an incompatible key usage" };
  }
  const intermediates = chain.slice(1);
  const reaches = (cert: X509Certificate, depth: number, used: Set<X509Certificate>): boolean => {
    if (depth > MAX_DEPTH) return false;
    if (roots.some((r) => signedBy(cert, r, now))) return true;
    for (const i of intermediates) {
      if (used.has(i) || !signedBy(cert, i, now)) continue;
      used.add(i);
      if (reaches(i, depth + 1, used)) return true;
      used.delete(i);
    }
    return false;
  };
  return reaches(leaf, 0, new Set())
    ? { ok: true }
    : { ok: false, reason: "x509: certificate signed by unknown authority" };
}

interface Remembered {
  roots: readonly X509Certificate[];
  /** The answer holds from `from` (inclusive) to `until` (exclusive), in milliseconds. */
  from: number;
  until: number;
  result: ChainResult;
}

const verified = new WeakMap<readonly X509Certificate[], Remembered[]>();

/**
 * verifyClientChain, remembered for the chain (the same array) and the same roots. A connection
 * presents one chain for its whole life (the server refuses renegotiation) and the aggregator sends
 * every request over a few connections, so each request would otherwise check signatures again.
 * Time enters verification only through validity periods: the answer is kept for as long as none of
 * the certificates involved starts or stops being valid, and new roots (a rotated CA) are verified
 * afresh.
 */
export function verifyClientChainCached(
  chain: readonly X509Certificate[],
  roots: readonly X509Certificate[],
  now: number = Date.now(),
): ChainResult {
  const kept = verified.get(chain);
  const hit = kept?.find((r) => r.roots === roots && r.from <= now && now < r.until);
  if (hit) return hit.result;
  const result = verifyClientChain(chain, roots, now);
  // Valid means from <= now <= to, so in whole milliseconds each certificate changes state at
  // `from` and at `to + 1`.
  let from = -Infinity;
  let until = Infinity;
  for (const c of [...chain, ...roots]) {
    const v = validity(c);
    for (const edge of [v.from, v.to + 1]) {
      if (edge <= now) from = Math.max(from, edge);
      else until = Math.min(until, edge);
    }
  }
  // two trusts ask about a chain (the front proxy's CA, the client CA): keep one answer for each
  const others = (kept ?? []).filter((r) => r.roots !== roots).slice(-1);
  verified.set(chain, [...others, { roots, from, until, result }]);
  return result;
}

const subjects = new WeakMap<X509Certificate, { commonName: string; organizations: string[] }>();

/** subjectOf, parsed once per certificate (a connection's certificate is asked on every request). */
export function subjectOfCached(cert: X509Certificate): { commonName: string; organizations: string[] } {
  let s = subjects.get(cert);
  if (s === undefined) {
    s = subjectOf(cert);
    subjects.set(cert, s);
  }
  return { commonName: s.commonName, organizations: [...s.organizations] };
}

/**
 * The subject's common name and organizations. Node prints one attribute per line and escapes control
 * characters (so a value cannot forge a line); the attributes of a multi-valued RDN are joined by " + ".
 */
export function subjectOf(cert: X509Certificate): { commonName: string; organizations: string[] } {
  let commonName = "";
  const organizations: string[] = [];
  for (const line of cert.subject.split("\n")) {
    for (const attr of line.split(" + ")) {
      const eq = attr.indexOf("=");
      if (eq < 0) continue;
      const key = attr.slice(0, eq);
      const value = attr.slice(eq + 1);
      if (key === "CN" && !commonName) commonName = value;
      else if (key === "O") organizations.push(value);
    }
  }
  return { commonName, organizations };
}
