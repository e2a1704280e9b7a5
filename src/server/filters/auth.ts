import type { X509Certificate } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { TLSSocket } from "node:tls";
import { X509Certificate as X509 } from "node:crypto";
import type { Authenticator, Authorizer, AuthzAttributes } from "../../apimachinery/auth.js";
import { authorizationFailure, forbiddenError } from "../../apimachinery/forbidden.js";
import { unauthorized } from "../../apimachinery/status.js";
import type { UserInfo } from "../../apimachinery/types.js";
import type { RequestContext } from "../../endpoints/context.js";
import type { RequestInfo } from "../../endpoints/requestinfo.js";
import type { Handler } from "./types.js";

/** Chains by connection: the HTTP/2 session, or the socket of an HTTP/1.1 connection. */
const chains = new WeakMap<object, readonly X509Certificate[]>();

/**
 * The client's certificate chain, leaf first, as presented in the TLS handshake; read once per
 * connection. Node builds it anew on every call and parsing each certificate costs more than
 * serving a GET; the aggregator sends every request with its client certificate over a few
 * long-lived connections, and the server refuses renegotiation, so a connection's chain never changes.
 */
export function peerCertificates(ctx: RequestContext): readonly X509Certificate[] {
  const connection = (ctx.req as { stream?: { session?: object } }).stream?.session ?? ctx.req.socket;
  if (typeof connection !== "object" || connection === null) return [];
  let chain = chains.get(connection);
  if (chain === undefined) {
    chain = readPeerCertificates(ctx.req.socket as TLSSocket);
    chains.set(connection, chain);
  }
  return chain;
}

/** The TLS peer's chain, leaf first. Node links it through `issuerCertificate`; a self-signed root points at itself. */
export function readPeerCertificates(socket: TLSSocket): X509Certificate[] {
  if (typeof socket.getPeerCertificate !== "function") return [];
  const out: X509Certificate[] = [];
  let c = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(new X509(c.raw));
    if (!c.issuerCertificate || c.issuerCertificate === c) break;
    c = c.issuerCertificate;
  }
  return out;
}

/**
 * The request's headers with repeated ones kept apart, as Go's http.Header keeps them: Node joins
 * them with ", ", which would split a front-proxy group such as `cn=admins, ou=x` in two.
 */
function distinctHeaders(raw: string[]): IncomingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const prev = out[name];
    if (prev === undefined) out[name] = raw[i + 1];
    else if (Array.isArray(prev)) prev.push(raw[i + 1]);
    else out[name] = [prev, raw[i + 1]];
  }
  return out;
}

export function withAuthentication(
  next: Handler,
  authenticate: Authenticator,
  skip: (path: string) => boolean,
): Handler {
  return async (ctx) => {
    if (skip(ctx.path)) return next(ctx);
    const headers = distinctHeaders(ctx.req.rawHeaders);
    const user = await authenticate({ headers, peerCertificates: peerCertificates(ctx) });
    // what authentication consumed (identity headers, credentials) leaves the request too
    for (const name of Object.keys(ctx.req.headers)) if (!(name in headers)) delete ctx.req.headers[name];
    if (!user) throw unauthorized();
    ctx.user = user;
    ctx.log.user = user.name;
    return next(ctx);
  };
}

/** GetAuthorizerAttributes (k8s.io/apiserver pkg/endpoints/filters/authorization.go). */
export function attributesOf(i: RequestInfo, user: UserInfo): AuthzAttributes {
  return {
    user,
    verb: i.verb,
    resourceRequest: i.isResourceRequest,
    path: i.path,
    apiGroup: i.apiGroup,
    apiVersion: i.apiVersion,
    resource: i.resource,
    subresource: i.subresource,
    namespace: i.namespace,
    name: i.authzName,
    fieldSelector: i.fieldSelector,
    labelSelector: i.labelSelector,
  };
}

export function withAuthorization(
  next: Handler,
  authorize: Authorizer,
  skip: (path: string) => boolean,
): Handler {
  return async (ctx) => {
    if (skip(ctx.path) || !ctx.user) return next(ctx);
    const attrs = attributesOf(ctx.info, ctx.user);
    const decision = await authorize(attrs).catch((err: unknown) => {
      throw authorizationFailure(ctx.req.url ?? ctx.path, err instanceof Error ? err.message : String(err));
    });
    if (!decision.allowed) {
      throw forbiddenError(attrs, decision.reason);
    }
    return next(ctx);
  };
}
