import type { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { X509Certificate as X509 } from "node:crypto";
import type { Authenticator, Authorizer, AuthzAttributes } from "../../apimachinery/auth.js";
import { forbidden, unauthorized } from "../../apimachinery/status.js";
import type { UserInfo } from "../../apimachinery/types.js";
import type { RequestContext } from "../../endpoints/context.js";
import type { Handler } from "./types.js";

/** The client's certificate chain, leaf first, as presented in the TLS handshake. */
export function peerCertificates(ctx: RequestContext): X509Certificate[] {
  const socket = ctx.req.socket as TLSSocket;
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

export function withAuthentication(
  next: Handler,
  authenticate: Authenticator,
  skip: (path: string) => boolean,
): Handler {
  return async (ctx) => {
    if (skip(ctx.path)) return next(ctx);
    const user = await authenticate({ headers: ctx.req.headers, peerCertificates: peerCertificates(ctx) });
    if (!user) throw unauthorized();
    ctx.user = user;
    ctx.log.user = user.name;
    return next(ctx);
  };
}

export function attributesOf(ctx: RequestContext, user: UserInfo): AuthzAttributes {
  const i = ctx.info;
  return {
    user,
    verb: i.verb,
    resourceRequest: i.isResourceRequest,
    path: ctx.path,
    apiGroup: i.apiGroup,
    apiVersion: i.apiVersion,
    resource: i.resource,
    subresource: i.subresource,
    namespace: i.namespace,
    name: i.name,
  };
}

/**
 * The 403 kubectl users know (k8s.io/apiserver responsewriters.Forbidden + errors.NewForbidden):
 * `policyreports.wgpolicyk8s.io is forbidden: User "bob" cannot list resource "policyreports" in API group ...`.
 */
export function forbiddenMessage(a: AuthzAttributes, reason?: string): string {
  let msg: string;
  if (!a.resourceRequest) {
    msg = `User "${a.user.name}" cannot ${a.verb} path "${a.path}"`;
  } else {
    const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    msg = `User "${a.user.name}" cannot ${a.verb} resource "${res}" in API group "${a.apiGroup}"`;
    msg += a.namespace ? ` in the namespace "${a.namespace}"` : " at the cluster scope";
  }
  if (reason) msg += `: ${reason}`;
  const gr = a.resource ? (a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource) : "";
  if (!gr) return `forbidden: ${msg}`;
  return a.name ? `${gr} "${a.name}" is forbidden: ${msg}` : `${gr} is forbidden: ${msg}`;
}

export function withAuthorization(
  next: Handler,
  authorize: Authorizer,
  skip: (path: string) => boolean,
): Handler {
  return async (ctx) => {
    if (skip(ctx.path) || !ctx.user) return next(ctx);
    const attrs = attributesOf(ctx, ctx.user);
    const decision = await authorize(attrs);
    if (!decision.allowed) {
      throw forbidden(forbiddenMessage(attrs, decision.reason), {
        name: attrs.name || undefined,
        group: attrs.apiGroup || undefined,
        kind: attrs.resource || undefined,
      });
    }
    return next(ctx);
  };
}
