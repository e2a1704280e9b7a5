import type { IncomingHttpHeaders } from "node:http";
import type { X509Certificate } from "node:crypto";
import type { AuthnRequest } from "../apimachinery/auth.js";
import type { UserInfo } from "../apimachinery/types.js";
import { firstHeader, headerValues } from "./headers.js";
import { subjectOfCached, verifyClientChainCached } from "./x509-chain.js";
import { appendExtra, unescapeExtraKey } from "../apimachinery/user-extra.js";

/**
 * The front-proxy authenticator (k8s.io/apiserver headerrequest + x509 "dynamic CA verifier"):
 * identity headers count only on a connection whose client certificate chains to the requestheader CA
 * and whose CN is an allowed name (any CN when the list is empty).
 */

export interface RequestHeaderNames {
  usernameHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
  uidHeaders: string[];
}

export interface RequestHeaderSettings extends RequestHeaderNames {
  /** PEM bundle of the requestheader client CA. */
  caPem: string;
  allowedNames: string[];
}

export const DEFAULT_HEADER_NAMES: RequestHeaderNames = {
  usernameHeaders: ["X-Remote-User"],
  groupHeaders: ["X-Remote-Group"],
  extraHeaderPrefixes: ["X-Remote-Extra-"],
  uidHeaders: [],
};

/** Headers stripped from every request even when not configured: the aggregator's standard names. */
const ALWAYS_STRIPPED: RequestHeaderNames = { ...DEFAULT_HEADER_NAMES, uidHeaders: ["X-Remote-Uid"] };

/** The user the identity headers name, or undefined when there is no user header. Pure. */
export function userFromHeaders(
  headers: IncomingHttpHeaders,
  names: RequestHeaderNames,
): UserInfo | undefined {
  const name = firstHeader(headers, names.usernameHeaders);
  if (!name) return undefined;
  const groups = names.groupHeaders.flatMap((h) => headerValues(headers, h, true));
  const extra: Record<string, string[]> = {};
  for (const prefix of names.extraHeaderPrefixes) {
    const p = prefix.toLowerCase();
    for (const h of Object.keys(headers)) {
      const lower = h.toLowerCase();
      if (!lower.startsWith(p) || lower.length === p.length) continue;
      // lower-cased, then URL-unescaped, as kube's unescapeExtraKey reads them
      appendExtra(extra, unescapeExtraKey(lower.slice(p.length)), headerValues(headers, h, true));
    }
  }
  const user: UserInfo = { name, groups };
  const uid = firstHeader(headers, names.uidHeaders);
  if (uid) user.uid = uid;
  if (Object.keys(extra).length > 0) user.extra = extra;
  return user;
}

/**
 * Remove identity headers so nothing downstream can mistake them for authenticated facts; the server
 * calls this on every request after authentication, whichever method succeeded.
 */
export function stripIdentityHeaders(
  headers: IncomingHttpHeaders,
  names: RequestHeaderNames = DEFAULT_HEADER_NAMES,
): void {
  const { exact, prefixes } = strippedNames(names);
  for (const h of Object.keys(headers)) {
    const lower = h.toLowerCase();
    if (exact.has(lower) || prefixes.some((p) => lower.startsWith(p))) delete headers[h];
  }
}

/** What stripIdentityHeaders removes for a set of names, worked out once per set (per trust change). */
const stripped = new WeakMap<RequestHeaderNames, { exact: Set<string>; prefixes: string[] }>();

function strippedNames(names: RequestHeaderNames): { exact: Set<string>; prefixes: string[] } {
  let s = stripped.get(names);
  if (s === undefined) {
    const exact = new Set(
      [
        ...names.usernameHeaders,
        ...names.groupHeaders,
        ...names.uidHeaders,
        ...ALWAYS_STRIPPED.usernameHeaders,
        ...ALWAYS_STRIPPED.groupHeaders,
        ...ALWAYS_STRIPPED.uidHeaders,
      ].map((h) => h.toLowerCase()),
    );
    const prefixes = [...names.extraHeaderPrefixes, ...ALWAYS_STRIPPED.extraHeaderPrefixes].map((p) =>
      p.toLowerCase(),
    );
    s = { exact, prefixes };
    stripped.set(names, s);
  }
  return s;
}

export interface CompiledRequestHeader extends RequestHeaderSettings {
  roots: X509Certificate[];
}

export type ProxyCheck = { ok: true } | { ok: false; reason: string };

/** Is this connection the trusted front proxy? Pure. */
export function checkFrontProxy(
  chain: readonly X509Certificate[],
  cfg: CompiledRequestHeader,
  now = Date.now(),
): ProxyCheck {
  const verified = verifyClientChainCached(chain, cfg.roots, now);
  if (!verified.ok) return verified;
  if (cfg.allowedNames.length === 0) return { ok: true };
  const cn = subjectOfCached(chain[0]).commonName;
  return cfg.allowedNames.includes(cn)
    ? { ok: true }
    : { ok: false, reason: `x509: subject with cn=${cn} is not in the allowed list` };
}

/** The first step of the chain; `current` is read on every request so CA rotation applies at once. */
export function frontProxyAuthenticator(current: () => CompiledRequestHeader | undefined) {
  return async (req: AuthnRequest): Promise<UserInfo | undefined> => {
    const cfg = current();
    if (!cfg || req.peerCertificates.length === 0) return undefined;
    if (!checkFrontProxy(req.peerCertificates, cfg).ok) return undefined;
    return userFromHeaders(req.headers, cfg);
  };
}
