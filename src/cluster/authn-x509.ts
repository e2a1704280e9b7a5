import type { X509Certificate } from "node:crypto";
import type { AuthnRequest } from "../apimachinery/auth.js";
import type { UserInfo } from "../apimachinery/types.js";
import { subjectOfCached, verifyClientChainCached } from "./x509-chain.js";

/**
 * Client certificates signed by the cluster's client CA: CN is the user, O the groups
 * (k8s.io/apiserver x509.CommonNameUserConversion). A certificate that does not verify lets the chain
 * move on, so a bearer token on the same request can still authenticate it.
 */
export function clientCertAuthenticator(roots: () => X509Certificate[]) {
  return async (req: AuthnRequest): Promise<UserInfo | undefined> => {
    const trusted = roots();
    if (trusted.length === 0 || req.peerCertificates.length === 0) return undefined;
    if (!verifyClientChainCached(req.peerCertificates, trusted).ok) return undefined;
    const { commonName, organizations } = subjectOfCached(req.peerCertificates[0]);
    if (!commonName) return undefined;
    return { name: commonName, groups: organizations };
  };
}
