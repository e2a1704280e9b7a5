import type { IncomingHttpHeaders } from "node:http";
import type { X509Certificate } from "node:crypto";
import type { UserInfo } from "./types.js";

/** What an authenticator may look at: headers and the TLS client certificate chain (leaf first). */
export interface AuthnRequest {
  headers: IncomingHttpHeaders;
  peerCertificates: readonly X509Certificate[];
}

/**
 * One step of the authentication chain: a user, `undefined` when this method does not apply
 * (the chain moves on), or a thrown StatusError (401) when it applies and fails.
 */
export type Authenticator = (req: AuthnRequest) => Promise<UserInfo | undefined>;

/** The request as authorization sees it (k8s.io/apiserver authorizer.Attributes). */
export interface AuthzAttributes {
  user: UserInfo;
  /** get, list, watch, create, update, patch, delete, deletecollection; or the lower-case HTTP method for non-resource paths. */
  verb: string;
  resourceRequest: boolean;
  /** For non-resource requests. */
  path: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  /**
   * The raw field and label selectors of a list, watch or deletecollection (RequestInfo's), absent
   * otherwise. Kept unparsed: only a SubjectAccessReview reads them, so a request that needs none
   * (standalone mode, system:masters) does not parse its label selector one more time.
   */
  fieldSelector?: string;
  labelSelector?: string;
}

export interface AuthzDecision {
  allowed: boolean;
  /** Why, when denied (shown after the standard message). */
  reason?: string;
}

/** Rejects, with the cause's message, when no decision could be made (a review that failed). */
export type Authorizer = (attrs: AuthzAttributes) => Promise<AuthzDecision>;
